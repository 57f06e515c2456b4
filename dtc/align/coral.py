"""Correlation alignment: match second-order statistics of the two domains.

* :func:`coral` / :class:`CORALLoss` — Deep CORAL (Sun & Saenko, "Deep CORAL:
  Correlation Alignment for Deep Domain Adaptation", ECCV Workshops 2016):
  ``||C_s - C_t||_F^2 / (4 d^2)``.
* :func:`log_coral` / :class:`LogCORALLoss` — the same with the log-Euclidean
  distance between covariances (Arsigny, Fillard, Pennec & Ayache, SIAM J. Matrix
  Anal. Appl. 2007), as used for CORAL by Wang, Li, Dai & Van Gool ("Deep Domain
  Adaptation by Geodesic Distance Minimization", arXiv:1707.09842, 2017):
  ``||log(C_s + eps I) - log(C_t + eps I)||_F^2 / (4 d^2)``.

``C_s``, ``C_t`` are the unbiased (``1 / (n - 1)``) feature covariances.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch.autograd.function import once_differentiable

from dtc.align.base import AlignmentLoss, _all_finite, check_pair_inputs
from dtc.align.kernels import _widened

__all__ = ["CORALLoss", "LogCORALLoss", "coral", "covariance", "log_coral", "sym_logm"]


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance of the rows of ``x``.

    ``x`` ``(n, d)`` with ``n >= 2`` -> ``(d, d)``: ``(x - mean)^T (x - mean) / (n - 1)``.
    """
    if x.ndim != 2 or x.shape[0] < 2:  # one row divided 0 by 0: a NaN matrix
        raise ValueError(f"covariance: x must have shape (n, d) with n >= 2, got {tuple(x.shape)}")
    centred = x - x.mean(dim=0, keepdim=True)
    return centred.T @ centred / (x.shape[0] - 1)


def _finite_covariance(x: torch.Tensor, role: str, name: str) -> torch.Tensor:
    """:func:`covariance` of ``x``; ``ValueError`` naming ``role`` when it is not finite:
    features finite but so large that their products overflow the dtype (|x| ~ 1e20 in
    float32), which would make the loss Inf / NaN or ``eigh`` fail to converge."""
    cov = covariance(x)
    if not _all_finite(cov):
        raise ValueError(
            f"{name}: the covariance of {role} is not finite: its features (largest "
            f"|value| {float(x.detach().abs().max()):.3g}) overflow {x.dtype} when "
            "multiplied; standardise or rescale them"
        )
    return cov


def _log_divided_differences(eigvals: torch.Tensor, log_eigvals: torch.Tensor) -> torch.Tensor:
    """``K_ij = (log l_i - log l_j) / (l_i - l_j)``, and ``1 / l_i`` where ``l_i = l_j``.

    ``eigvals`` ``(d,)`` positive, ``log_eigvals`` their logarithms -> ``(d, d)``.

    With ``lo <= hi`` the pair, two forms, each where it is accurate:

    * ``hi <= 2 lo``: ``log1p((hi - lo) / lo) / (hi - lo)``. The gap is exact there
      (Sterbenz's lemma) and ``log1p`` keeps its digits, whereas the difference of the
      logarithms cancels: two float32 eigenvalues that agree to 4 digits leave it none.
    * farther apart: ``(log hi - log lo) / (hi - lo)``; the logarithms differ by at least
      ``log 2``, so nothing cancels, and ``(hi - lo) / lo`` could overflow.

    Only exact ties take the limit ``1 / l``. A tolerance relative to the largest
    eigenvalue would also take it for eigenvalues that are distinct but close in absolute
    terms, e.g. ``0.02`` and ``0.001`` next to ``100`` (the null directions of a
    rank-deficient covariance next to a dominant one), and put ``1 / 0.0105`` where the
    divided difference is ``158``.
    """
    lo = torch.minimum(eigvals[:, None], eigvals[None, :])
    gap = torch.maximum(eigvals[:, None], eigvals[None, :]) - lo
    tie = gap == 0
    safe_gap = torch.where(tie, torch.ones_like(gap), gap)
    near = torch.log1p(gap / lo) / safe_gap
    log_gap = (log_eigvals[:, None] - log_eigvals[None, :]).abs()
    far = log_gap / safe_gap
    return torch.where(tie, 1.0 / lo, torch.where(gap <= lo, near, far))


class _SymLog(torch.autograd.Function):
    """Matrix logarithm of a symmetric positive-definite matrix via ``eigh``.

    ``torch.linalg.eigh``'s own backward divides by eigenvalue gaps and returns
    Inf/NaN for repeated eigenvalues, which every rank-deficient batch covariance
    (``n < d``, all the null directions at ``eps``) has. The Daleckii-Krein formula
    ``dlog(A)[E] = V (K o (V^T E V)) V^T`` with divided differences
    ``K_ij = (log l_i - log l_j) / (l_i - l_j)`` (``1 / l_i`` on ties) is finite there;
    :func:`_log_divided_differences` evaluates ``K`` without cancellation, so the float32
    gradient is as accurate as float32 ``eigh`` allows. First derivatives only: the backward
    pass is built from eigenvectors saved outside the graph, so differentiating it again
    (``create_graph=True``) raises ``RuntimeError`` rather than giving a wrong value.
    """

    @staticmethod
    def forward(ctx, a, floor):
        eigvals, eigvecs = torch.linalg.eigh(a)
        # eigh's backward error is ~ d eps |A|: an eigenvalue below minus a hundred times
        # that is the matrix's own, and its log does not exist (-I gave -708 I).
        if bool(eigvals[0] < -100 * a.shape[0] * torch.finfo(a.dtype).eps * eigvals.abs().max()):
            raise ValueError(
                f"sym_logm: a must be positive definite, got an eigenvalue {float(eigvals[0]):.3g}"
            )
        # Round-off can push the eigenvalues of a PSD + eps I matrix just below eps.
        eigvals = eigvals.clamp_min(max(floor, torch.finfo(a.dtype).tiny))
        log_eigvals = eigvals.log()
        ctx.save_for_backward(eigvals, log_eigvals, eigvecs)
        return (eigvecs * log_eigvals) @ eigvecs.T

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        eigvals, log_eigvals, eigvecs = ctx.saved_tensors
        divided = _log_divided_differences(eigvals, log_eigvals)
        inner = eigvecs.T @ grad_output @ eigvecs
        return eigvecs @ (divided * inner) @ eigvecs.T, None


def sym_logm(a: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """Matrix logarithm of a symmetric positive-definite ``a`` ``(d, d)`` -> ``(d, d)``;
    differentiable (first derivatives only), with a gradient that stays finite for repeated
    eigenvalues. Eigenvalues that round-off puts below ``floor`` (a known lower bound, e.g.
    ``eps`` for ``C + eps I`` with ``C`` positive semi-definite) are raised to it, and to the
    dtype's smallest normal number at least."""
    if (
        not isinstance(a, torch.Tensor)
        or not a.is_floating_point()
        or a.ndim != 2
        or a.shape[0] != a.shape[1]
    ):
        got = f"{tuple(a.shape)} {a.dtype}" if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(f"sym_logm: a must be a floating tensor of shape (d, d), got {got}")
    if not bool(a.isfinite().all()):
        raise ValueError("sym_logm: a contains NaN or infinite values")
    # eigh reads one triangle only: [[1, 2], [0, 1]] had the log of the identity. Round-off
    # of a product X^T X can leave the triangles a few ulps apart: that is symmetric.
    tol = 100 * a.shape[0] * torch.finfo(a.dtype).eps * float(a.detach().abs().max())
    if bool(((a - a.T).abs() > tol).any()):
        raise ValueError("sym_logm: a must be symmetric, its triangles differ")
    return _SymLog.apply(a, float(floor))


def _check_eps(eps: float) -> float:
    # numpy scalars are numbers too; an infinite eps would fail inside eigh
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < math.inf:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    return float(eps)


def _coral(source: torch.Tensor, target: torch.Tensor, name: str) -> torch.Tensor:
    d = source.shape[1]
    # Half precision in float32, cast back: ||C_s - C_t||_F^2 is summed before the division
    # by 4 d^2 and overflowed float16 on losses it can hold (d = 64, std 5: ~11.5 refused).
    dtype = source.dtype
    source, target = _widened(source), _widened(target)
    value = ((covariance(source) - covariance(target)).square().sum() / (4 * d * d)).to(dtype)
    if not _all_finite(value):
        _finite_covariance(source, "source", name)
        _finite_covariance(target, "target", name)
        raise ValueError(
            f"{name}: the loss overflows {value.dtype} (finite covariances whose difference "
            "squares past its range); standardise or rescale the features"
        )
    return value


def _log_coral(source: torch.Tensor, target: torch.Tensor, eps: float, name: str) -> torch.Tensor:
    d = source.shape[1]
    # In float64 whatever the features' dtype, differentiably, and cast back: the d x d
    # covariance and its eigh are cheap next to the encoder. In float32 their round-off,
    # about 1e-7 |C|, exceeds eps once the features' standard deviation reaches ~30, and a
    # batch with n <= d then had its null directions come out of eigh below eps or below 0:
    # the loss was 13.3 for 0.42 and the gradient 2e31 for 2e-5 (n = 16, d = 64, std 100).
    # eigh has no float16 / bfloat16 kernel at all.
    dtype = source.dtype
    source, target = source.double(), target.double()
    ridge = eps * torch.eye(d, dtype=source.dtype, device=source.device)
    # Checked before eigh, which fails on a non-finite matrix with an unexplained error.
    log_s = sym_logm(_finite_covariance(source, "source", name) + ridge, floor=eps)
    log_t = sym_logm(_finite_covariance(target, "target", name) + ridge, floor=eps)
    return ((log_s - log_t).square().sum() / (4 * d * d)).to(dtype)


def coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL loss (Sun & Saenko, ECCV-W 2016).

    ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)``, ``n_s, n_t >= 2`` -> scalar
    ``||C_s - C_t||_F^2 / (4 d^2)`` with unbiased covariances.

    Examples
    --------
    One feature, variances 2 and 8: ``(2 - 8)^2 / 4``.

    >>> import torch
    >>> coral(torch.tensor([[0.0], [2.0]]), torch.tensor([[0.0], [4.0]])).item()
    9.0
    """
    check_pair_inputs(source, target, min_samples=2, name="coral")
    return _coral(source, target, "coral")


def log_coral(source: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-3) -> torch.Tensor:
    """Log-Euclidean CORAL (Wang et al., arXiv:1707.09842, 2017).

    ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)``, ``n_s, n_t >= 2`` -> scalar
    ``||log(C_s + eps I) - log(C_t + eps I)||_F^2 / (4 d^2)``. ``eps > 0`` keeps the
    logarithm finite (batch covariances are singular when ``n < d``) and bounds how far
    a null direction can pull the loss: ``|log eps|`` per eigenvalue.
    """
    eps = _check_eps(eps)
    check_pair_inputs(source, target, min_samples=2, name="log_coral")
    return _log_coral(source, target, eps, "log_coral")


class CORALLoss(AlignmentLoss):
    """Deep CORAL (Sun & Saenko, ECCV-W 2016) as a loss module; see :func:`coral`. Ignores
    ``context``."""

    min_samples = 2

    def compute(self, source, target, **context):
        return _coral(source, target, type(self).__name__)


class LogCORALLoss(AlignmentLoss):
    """Log-Euclidean CORAL (Wang et al., arXiv:1707.09842, 2017) as a loss module; see
    :func:`log_coral`. Ignores ``context``."""

    min_samples = 2

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = _check_eps(eps)

    def compute(self, source, target, **context):
        return _log_coral(source, target, self.eps, type(self).__name__)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
