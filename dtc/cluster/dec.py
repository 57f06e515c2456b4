"""The DEC clustering head (Xie, Girshick & Farhadi, "Unsupervised Deep Embedding for
Clustering Analysis", ICML 2016), also used by IDEC (Guo, Gao, Liu & Yin, IJCAI 2017).

* soft assignment (Student's t kernel)
  ``q_ij = (1 + |z_i - mu_j|^2 / alpha)^(-(alpha+1)/2) / sum_j' (...)``;
* target distribution ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')`` with cluster
  frequencies ``f_j = sum_i q_ij``;
* clustering loss ``KL(P || Q) = (1/n) sum_ij p_ij log(p_ij / q_ij)``;
* stop when the fraction of labels that changed since the last target update is below
  ``tol`` (both papers use ``tol = 0.1%``).

This is the only module of :mod:`dtc.cluster` that imports torch.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

from dtc._validation import check_probability_rows, host_array
from dtc.cluster import _DEC_NAMES

# One list of names, shared with dtc.cluster's lazy loader.
__all__ = list(_DEC_NAMES)


def _check_alpha(alpha) -> float:
    # numbers.Real: numpy scalars (a config grid's np.float32) are numbers too
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < math.inf:
        raise ValueError(f"alpha: expected a positive float (degrees of freedom), got {alpha!r}")
    return float(alpha)


def _check_tensor(x, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():  # torch's own error named no argument
        raise ValueError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def soft_assignment(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Student-t soft assignment of embeddings to centres.

    Parameters
    ----------
    z : tensor of shape (n, d)
    centers : tensor of shape (k, d)
    alpha : float > 0, degrees of freedom (DEC uses 1)

    Returns
    -------
    q : tensor of shape (n, k), rows sum to one
    """
    alpha = _check_alpha(alpha)
    _check_tensor(z, "z")
    _check_tensor(centers, "centers")
    if centers.dtype != z.dtype:
        raise ValueError(
            f"centers: expected the dtype of z ({z.dtype}), got {centers.dtype}; convert one"
        )
    if z.ndim != 2 or centers.ndim != 2 or z.shape[1] != centers.shape[1]:
        raise ValueError(
            f"z, centers: expected shapes (n, d) and (k, d) with the same d, got "
            f"{tuple(z.shape)} and {tuple(centers.shape)}"
        )
    if len(centers) == 0:  # rows of q summing to 0, blamed on q by target_distribution
        raise ValueError("centers: expected at least one centre, got shape (0, d)")
    # Half precision computed in float32 (and returned in its own dtype): torch has no CPU
    # cdist for float16 / bfloat16, and their squared distances overflow past 256.
    wide = torch.promote_types(z.dtype, torch.float32)
    if alpha >= torch.finfo(wide).max / 2:  # (alpha + 1) / 2 and sq / alpha: inf * 0, NaN
        raise ValueError(f"alpha: expected a value {wide} can hold with alpha + 1, got {alpha!r}")
    # |z - mu|^2 pair by pair, in O(n k) memory (not the O(n k d) of broadcasting) and
    # without the expansion |z|^2 - 2 z.mu + |mu|^2, which subtracts terms of the size of the
    # squared norms: float32 embeddings near 1,000 gave q off by 0.1, and shifting both
    # sides by the centres' mean still left 0.03 with one centre far from the others.
    for name, x in (("z", z), ("centers", centers)):
        if not bool(x.isfinite().all()):  # a NaN row gave a NaN row of q without a word
            raise ValueError(f"{name}: expected finite values, found NaN or Inf")

    def scaled(wide):  # |z - mu|^2 / alpha, the kernel's argument
        sq = torch.cdist(z.to(wide), centers.to(wide), compute_mode="donot_use_mm_for_euclid_dist")
        return sq.square() / alpha

    t = scaled(wide)
    if not bool(t.isfinite().all()) and wide != torch.float64:
        # |z - mu|^2 / alpha past float32's range (embeddings ~1e19 apart, or ~1e18 with
        # alpha = 0.01) made q NaN or one-hot; float64 holds it
        wide = torch.float64
        t = scaled(wide)
    if not bool(t.isfinite().all()):
        raise ValueError(
            f"z, centers: squared distances overflow {wide} (values of about "
            f"{float(z.abs().max()):.3g} and {float(centers.abs().max()):.3g}); rescale them"
        )
    # Normalising in log space: the kernel underflows for far points, its log does not.
    return torch.softmax(-(alpha + 1.0) / 2.0 * torch.log1p(t), dim=1).to(z.dtype)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target ``p_ij ∝ q_ij^2 / f_j``, ``f_j = sum_i q_ij``.

    Squaring sharpens confident assignments; dividing by ``f_j`` keeps large clusters
    from absorbing the others. Returned detached: DEC treats P as a fixed target.

    Parameters
    ----------
    q : tensor of shape (n, k)

    Returns
    -------
    p : tensor of shape (n, k), rows sum to one, no gradient
    """
    _check_tensor(q, "q")
    if q.ndim != 2:
        raise ValueError(f"q: expected a tensor of shape (n, k), got {tuple(q.shape)}")
    q = q.detach()
    # A negative entry gives a p that is not a distribution; a row without a positive
    # entry gives 0 / 0.
    if not bool(((q >= 0) & (q < torch.inf)).all()):
        raise ValueError(
            "q: expected finite non-negative soft assignments, found a negative, NaN or Inf entry"
        )
    if not bool((q.sum(1) > 0).all()):
        raise ValueError("q: expected every row to have a positive entry, got an all-zero row")
    # Rows of soft assignments: f_j sums them, so unnormalised rows weigh the clusters
    # otherwise, and q * 1e-45 squared to 0 (a NaN p)
    check_probability_rows(q, "q")
    # A cluster whose q column underflowed to 0 everywhere (a centre far from every point,
    # for a large alpha) has f_j = 0: its p column is 0 (the limit of q^2 / f), not 0/0.
    f = q.sum(0, keepdim=True).clamp_min(torch.finfo(q.dtype).tiny)
    weight = q * q / f
    return weight / weight.sum(1, keepdim=True)


def dec_loss(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``KL(P || Q)`` averaged over the ``n`` rows (0 log 0 = 0).

    Parameters
    ----------
    q, p : tensors of shape (n, k)

    Returns
    -------
    loss : scalar tensor
    """
    _check_tensor(q, "q")
    _check_tensor(p, "p")
    if q.shape != p.shape or q.ndim != 2 or q.shape[0] == 0:
        raise ValueError(
            f"q, p: expected two tensors of the same shape (n, k) with n >= 1, got "
            f"{tuple(q.shape)} and {tuple(p.shape)}"
        )
    if not bool(((p >= 0) & (p < torch.inf)).all()):  # KL of a p that is no distribution: NaN
        raise ValueError("p: expected finite non-negative target probabilities")
    # KL of rows that are no distributions: 3 q gave a negative "KL", q - 0.6 a NaN
    check_probability_rows(p, "p")
    check_probability_rows(q.detach(), "q")
    # Where p_ij = 0 the term is 0 whatever q_ij, even q_ij = 0 (an underflowed kernel):
    # log is taken of 1 there, so neither the value nor the gradient becomes 0 * inf = NaN.
    log_q = torch.log(torch.where(p > 0, q, torch.ones_like(q)))
    return (torch.special.xlogy(p, p) - p * log_q).sum() / q.shape[0]


class ClusteringLayer(nn.Module):
    """Cluster centres as a parameter; ``forward(z)`` is :func:`soft_assignment`:
    ``z`` ``(n, dim)`` -> ``(n, n_clusters)``.

    Parameters
    ----------
    n_clusters : int
    dim : int, embedding dimension
    alpha : float > 0

    Attributes
    ----------
    centers : Parameter of shape (n_clusters, dim); set it from K-means with
        :meth:`init_centers`.
    """

    def __init__(self, n_clusters: int, dim: int, alpha: float = 1.0):
        super().__init__()
        for name, value in (("n_clusters", n_clusters), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.n_clusters = int(n_clusters)
        self.dim = int(dim)
        self.alpha = _check_alpha(alpha)
        self.centers = nn.Parameter(torch.empty(self.n_clusters, self.dim))
        nn.init.xavier_uniform_(self.centers)

    @torch.no_grad()
    def init_centers(self, centers) -> None:
        """Copy ``centers`` of shape ``(n_clusters, dim)`` (array or tensor) into the layer."""
        # A tensor is copied as a tensor: through numpy, one on a GPU would raise.
        if isinstance(centers, torch.Tensor):
            c = centers.detach().to(dtype=self.centers.dtype)
        else:
            # a contiguous copy: torch refuses a view with a negative stride (``C[::-1]``),
            # and warns of a read-only array it would share
            c = torch.as_tensor(np.array(centers, order="C"), dtype=self.centers.dtype)
        if tuple(c.shape) != (self.n_clusters, self.dim):
            raise ValueError(
                f"centers: expected shape ({self.n_clusters}, {self.dim}), got {tuple(c.shape)}"
            )
        if not torch.isfinite(c).all():
            raise ValueError("centers: expected finite values, found NaN or Inf")
        self.centers.copy_(c)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Student-t soft assignment (:func:`soft_assignment`) of ``z`` ``(n, dim)`` to the
        centres: ``(n, n_clusters)``, rows sum to one."""
        return soft_assignment(z, self.centers, self.alpha)

    def extra_repr(self) -> str:
        return f"n_clusters={self.n_clusters}, dim={self.dim}, alpha={self.alpha}"


def label_change_fraction(previous, current) -> float:
    """Fraction of samples whose label differs between two label vectors of shape ``(n,)``."""
    # host_array detaches too: a float tensor that requires grad was torch's error
    a = np.asarray(host_array(previous, "previous"))
    b = np.asarray(host_array(current, "current"))
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"previous, current: expected two label vectors of the same shape (n,), got "
            f"{a.shape} and {b.shape}"
        )
    if a.size == 0:
        raise ValueError("previous, current: expected at least one label, got empty vectors")
    return float(np.mean(a != b))


def has_converged(previous, current, tol: float = 1e-3) -> bool:
    """DEC / IDEC stopping rule: ``label_change_fraction(previous, current) < tol``.

    ``previous`` and ``current`` are label vectors ``(n,)``; ``previous`` is ``None``
    before the first target update (never converged).
    """
    if isinstance(tol, bool) or not (isinstance(tol, numbers.Real) and 0 <= tol <= 1):
        raise ValueError(f"tol: expected a fraction in [0, 1], got {tol!r}")
    if previous is None:
        return False
    return label_change_fraction(previous, current) < tol
