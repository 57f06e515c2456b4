"""Maximum mean discrepancy (MMD): estimators, plain functions and the DAN loss.

The squared MMD between distributions ``P`` (source) and ``Q`` (target) under a
kernel ``k`` is ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)`` with ``x, x' ~ P`` and
``y, y' ~ Q`` independent (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012).
Libraries compute different things under the same name; dtc names the estimator:

``mmd2_biased``    the V-statistic ``1/n^2 sum_ij k(x_i, x_j) + 1/m^2 sum_ij k(y_i, y_j)
                   - 2/(n m) sum_ij k(x_i, y_j)`` = squared RKHS distance of the empirical
                   mean embeddings. Always >= 0 (up to rounding) and 0 for identical
                   samples, but biased upwards: when ``P = Q`` its expectation is
                   ``(1/n + 1/m)(1 - E k(x, x'))`` for a kernel with ``k(x, x) = 1``
                   (Gaussian), at most ``1/n + 1/m``. ``O((n + m)^2 d)`` time.
``mmd2_unbiased``  the U-statistic: the within-domain sums leave out ``i = j`` and are
                   divided by ``n (n - 1)`` and ``m (m - 1)``. Its expectation is exactly
                   ``MMD^2``, which is 0 when ``P = Q``; an estimate of 0 that is unbiased
                   must scatter on both sides, so **negative values are normal**, mean
                   "no detectable difference", and are no bug. Needs ``n, m >= 2``.
                   ``O((n + m)^2 d)`` time. (pytorch-adapt's ``MMDLoss(mmd_type=
                   "quadratic")``. Transfer-Learning-Library's ``linear=False`` is
                   another number: it sums the kernels rather than averaging them, adds
                   ``2 / (n - 1)`` and needs ``n = m``.)
``mmd2_linear``    the linear-time estimate (Gretton et al., JMLR 2012, Lemma 14): the
                   average over pairs ``p = 1..floor(min(n, m) / 2)`` of
                   ``k(x_{2p-1}, x_{2p}) + k(y_{2p-1}, y_{2p}) - k(x_{2p-1}, y_{2p})
                   - k(x_{2p}, y_{2p-1})``. Unbiased, ``O(n d)`` time and memory, much
                   noisier. With an odd count (or ``n != m``) the samples after the first
                   ``2 floor(min(n, m) / 2)`` of each domain are **ignored**, and the value
                   depends on the order of the samples (it pairs neighbours). (pytorch-
                   adapt's ``mmd_type="linear"``, which requires ``n = m``.)

Kernels (``kernel=``):

``"gaussian"``  the average of Gaussian kernels ``k(x, y) = 1/S sum_s exp(-||x - y||^2 /
                (2 sigma_s^2))`` (uniform weights, ``k(x, x) = 1``);
``"linear"``    ``k(x, y) = x . y``; ``mmd2_biased`` is then ``||mean(x) - mean(y)||^2``
                (all three estimators cost ``O(n d)`` with it).

Bandwidths. The plain functions take explicit ``sigmas``. The losses follow DAN
(Long et al., "Learning Transferable Features with Deep Adaptation Networks", ICML
2015): kernel ``s`` is ``exp(-||x - y||^2 / (scale_s * h))``, i.e.
``sigma_s = sqrt(scale_s * h / 2)``, where ``h`` is a *squared*-distance scale, by
default the median heuristic (median of squared pairwise source distances, see
:func:`dtc.align.kernels.median_sq_dist`) and ``scales`` default to DAN's 33 values
``2^-8, 2^-7.5, ..., 2^8`` (:func:`dtc.align.kernels.dan_scales`). The bandwidth is
computed without gradient (a constant of each batch).

Reproducing pytorch-adapt's ``MMDLoss(kernel_scales=s, bandwidth=None)``: it uses
``exp(-D * s / h)`` (its scales multiply the *rate*, although its docstring says
bandwidth) with ``h`` the median over all ``n_s^2`` source pairs, zero self-distances
included; so pass ``scales=1/s``, ``median="source_with_diagonal"`` and the estimator of
its ``mmd_type``: ``estimator="linear"`` for its default ``"linear"``, ``"unbiased"``
(dtc's default) for ``"quadratic"``. For DAN's 33 scales, ``s`` and ``1/s`` are the same
set.

Blockwise evaluation. The quadratic estimators never hold an ``(n, n)`` matrix:
:func:`dtc.align.kernels.kernel_sums` walks ``block_size`` tiles in forward and
accumulates the gradient in the same pass (a custom ``torch.autograd.Function``), so
memory is ``O(block_size^2 S + (n + m) d)`` for any ``n``; ``block_size=None`` (the
default) picks the tile from ``n``, ``S`` and the thread count
(:func:`dtc.align.kernels.auto_block_size`). The linear-time estimate is another custom
Function (:func:`dtc.align.kernels.linear_time_sums`), ``O((n + m) d)`` memory. Only
first derivatives are available: a backward pass with ``create_graph=True`` raises
``RuntimeError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from dtc._validation import is_int_at_least, pow2_exponent, times_pow2
from dtc.align.base import AlignmentLoss, check_pair_inputs
from dtc.align.kernels import (
    DEFAULT_BLOCK_SIZE,
    MEDIAN_MODES,
    MultiKernel,
    _centred,
    _positive_float,
    _positive_floats,
    _widened,
    dan_scales,
    kernel_sums,
    linear_time_sums,
    median_min_points,
    median_sq_dist,
    overflow_error,
    sigmas_to_gammas,
)

__all__ = [
    "ESTIMATORS",
    "KERNELS",
    "GaussianFamily",
    "LinearTimeMMDLoss",
    "MMDLoss",
    "mmd2",
    "mmd2_biased",
    "mmd2_linear",
    "mmd2_unbiased",
]

ESTIMATORS = ("biased", "unbiased", "linear")
KERNELS = ("gaussian", "linear")
DEFAULT_MEDIAN = "source"
_MIN_SAMPLES = {"biased": 1, "unbiased": 2, "linear": 2}


def _check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _linear_pairs(source, target):
    # Gretton et al. (2012), Lemma 14: disjoint pairs (2p, 2p+1) of both samples. The
    # estimate assumes i.i.d. rows: in class-sorted order the pairs are within a class.
    m = min(source.shape[0], target.shape[0]) // 2
    return (
        source[0 : 2 * m : 2],
        source[1 : 2 * m : 2],
        target[0 : 2 * m : 2],
        target[1 : 2 * m : 2],
    )


def _sq_norm_rows(a):
    return (a * a).sum(1)


def _gaussian_mmd2(xs, ys, *, estimator, gammas, block_size, owner):
    """Squared MMD of the product kernel ``prod_l k_l`` over layers ``xs[l]`` ``(n, d_l)``,
    ``ys[l]`` ``(m, d_l)``, ``k_l`` the Gaussian multi-kernel of rates ``gammas[l]``
    (one layer: MMD; several: JMMD). Inputs already validated; ``owner`` names the
    caller in the error of features whose distances overflow."""
    n, m = xs[0].shape[0], ys[0].shape[0]
    kernels = [MultiKernel(gam) for gam in gammas]
    if estimator == "linear":
        t = linear_time_sums(xs, ys, kernels, owner=owner)
        return ((t[0] + t[1] - t[2] - t[3]) / (min(n, m) // 2)).to(xs[0].dtype)
    unbiased = estimator == "unbiased"
    s_xx, s_yy, s_xy = kernel_sums(
        xs, ys, kernels, exclude_diagonal=unbiased, block_size=block_size, owner=owner
    )
    return _combine(s_xx, s_yy, s_xy, n, m, unbiased).to(xs[0].dtype)


def _combine(s_xx, s_yy, s_xy, n, m, unbiased):
    if unbiased:
        return s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2 * s_xy / (n * m)
    return s_xx / (n * n) + s_yy / (m * m) - 2 * s_xy / (n * m)


def _mmd2_from_gammas(source, target, *, estimator, gammas, block_size, owner):
    """The estimator ``estimator`` for the kernel given by ``gammas`` (Gaussian rates
    ``1 / (2 sigma^2)``) or ``None`` (linear kernel). Inputs already validated."""
    if gammas is not None:
        return _gaussian_mmd2(
            [source],
            [target],
            estimator=estimator,
            gammas=[gammas],
            block_size=block_size,
            owner=owner,
        )
    # Half precision in float32, cast back at the end (as the Gaussian path does): the
    # sums of squares overflow float16, and the unbiased value was -inf for ~6649
    # (256 features of std 20).
    dtype = source.dtype
    source, target = _widened(source), _widened(target)
    if estimator == "linear":
        x1, x2, y1, y2 = _linear_pairs(source, target)
        # x1.x2 + y1.y2 - x1.y2 - x2.y1 = (x1 - y1).(x2 - y2)
        return ((x1 - y1) * (x2 - y2)).sum(1).mean().to(dtype)
    # Expanded into ||sum x||^2 + ||sum y||^2 - 2 sum x . sum y, the value is a difference
    # of terms of the size of the squared norms: float32 features at 100 +- 0.1 lost it
    # entirely. In closed form only the spread and the mean gap enter, and the samples are
    # centred on their pooled (detached) mean first, as for the Gaussian kernel.
    source, target = _centred(source, target)
    mx, my = source.mean(0), target.mean(0)
    gap = mx - my
    value = gap @ gap  # biased: ||mean x - mean y||^2
    if estimator == "unbiased":
        # sum_{i != j} x_i.x_j / (n (n - 1)) = ||mean x||^2 - sum ||x_i - mean x||^2 / (n (n - 1))
        n, m = source.shape[0], target.shape[0]
        value = value - _sq_norm_rows(source - mx).sum() / (n * (n - 1))
        value = value - _sq_norm_rows(target - my).sum() / (m * (m - 1))
    return value.to(dtype)


class GaussianFamily:
    """A validated Gaussian multi-kernel specification of one feature set: fixed
    ``sigmas``, or ``scales`` times a squared-distance scale ``h`` (fixed ``bandwidth``
    or the median heuristic), kernel ``s`` being ``exp(-D / (scales[s] h))``. ``prefix``:
    what the owner's parameters put before these names (JMMD's ``feature_`` and ``prob_``),
    so that a message names the argument the user can pass."""

    def __init__(self, owner: str, sigmas=None, scales=None, bandwidth=None, prefix: str = ""):
        self.owner, self.prefix = owner, prefix
        self.sigmas = self.scales = self.bandwidth = None
        p = prefix
        if sigmas is not None:
            if scales is not None or bandwidth is not None:
                raise ValueError(
                    f"{owner}: give either {p}sigmas or {p}scales/{p}bandwidth, not both"
                )
            self.sigmas = _positive_floats(sigmas, f"{owner}: {p}sigmas")
            return
        scales = dan_scales() if scales is None else scales
        self.scales = _positive_floats(scales, f"{owner}: {p}scales")
        if bandwidth is not None:
            self.bandwidth = _positive_float(bandwidth, f"{owner}: {p}bandwidth", p)

    @property
    def uses_median(self) -> bool:
        """Whether the bandwidth comes from the median heuristic (no sigmas, no bandwidth)."""
        return self.sigmas is None and self.bandwidth is None

    def gammas(self, source, target, *, median: str, max_samples: int) -> tuple[float, ...]:
        """Rates ``1 / (2 sigma^2)`` for this batch, ``source`` ``(n_s, d)``, ``target``
        ``(n_t, d)``; the median heuristic looks at ``source`` (and ``target`` for
        ``median="pooled"``), without gradient."""
        if self.sigmas is not None:
            return sigmas_to_gammas(self.sigmas, name=f"{self.owner}: {self.prefix}sigmas")
        h = self.bandwidth
        if h is None:
            # One source sample has no pair ("source"); "pooled" always has two points;
            # "source_with_diagonal" needs 3 (it said "source samples coincide?" of two
            # rows 5 apart).
            n = source.shape[0] + (target.shape[0] if median == "pooled" else 0)
            least = median_min_points(median)
            if n < least:
                raise ValueError(
                    f"{self.owner}: the median heuristic (median={median!r}) needs at least "
                    f"{least} source samples, got {n}; pass {self.prefix}bandwidth= or "
                    f"{self.prefix}sigmas="
                )
            h = float(
                median_sq_dist(
                    source.detach(), target.detach(), mode=median, max_samples=max_samples
                )
            )
            if math.isinf(h) or math.isnan(h):  # finite features whose squares overflow
                raise overflow_error(_widened(source[:1]).dtype, self.owner)
            if not h > 0:
                # the points it looked at coincide: the batch's, or only the evenly spaced
                # median_max_samples of them, which can pick the few equal rows
                n = source.shape[0] + (target.shape[0] if median == "pooled" else 0)
                which = (
                    "source samples coincide?"
                    if n <= max_samples
                    else f"the {max_samples} evenly spaced points of median_max_samples "
                    "coincide? raise it"
                )
                raise ValueError(
                    f"{self.owner}: the median heuristic gave bandwidth {h} ({which}); pass "
                    f"{self.prefix}bandwidth= or {self.prefix}sigmas="
                )
        gammas = tuple(1.0 / (s * h) for s in self.scales)
        if not all(0.0 < g < math.inf for g in gammas):
            # a scale so small (or large) that its rate under- or overflows float64
            raise ValueError(
                f"{self.owner}: {self.prefix}scales {list(self.scales)} times the bandwidth "
                f"{h:g} give rates outside float64 (1 / (scale * bandwidth)); pass larger "
                f"{self.prefix}scales or another {self.prefix}bandwidth"
            )
        return gammas

    def __repr__(self) -> str:
        if self.sigmas is not None:
            return f"sigmas={self.sigmas}"
        return f"{len(self.scales)} scales, bandwidth={self.bandwidth or 'median'}"


def unit_scaled_for_median(family, source: torch.Tensor, target: torch.Tensor):
    """``source`` ``(n_s, d)`` and ``target`` ``(n_t, d)`` times a power of two that brings
    their largest |value| into ``[0.5, 1)``, when ``family`` (a :class:`GaussianFamily` or
    ``None``) takes its bandwidth from the median heuristic and that value lies outside
    ``2**+-SAFE_LOG2`` (``dtc._validation``); else as given (the same tensors, bit for bit).

    Why: with the median heuristic the kernel, and so the MMD, does not change when both
    samples are scaled, and a power of two scales exactly (and differentiably: the gradient
    reaching the inputs is the same). Beyond that range the squared distances underflowed
    (float32 features of 1e-30: "the median heuristic gave bandwidth 0.0 (source samples
    coincide?)" of distinct rows) or overflowed (float64 at 1e170)."""
    if family is None or not family.uses_median:
        return source, target
    e = pow2_exponent(source, target)
    source, target = times_pow2(source, e), times_pow2(target, e)
    return source, target


def check_median_used(owner, median, families) -> None:
    """``ValueError`` if ``median`` is not the default but no kernel of ``families``
    (:class:`GaussianFamily` objects) uses the median heuristic, so it would be ignored."""
    if median != DEFAULT_MEDIAN and not any(f.uses_median for f in families):
        # named as the owner's parameters are (JMMD's feature_ / prob_ ones), and the linear
        # kernel only where there is one (MMD's kernel='linear')
        fixed = " / ".join(f"{f.prefix}sigmas= or {f.prefix}bandwidth=" for f in families)
        scales = " or ".join(f"{f.prefix}scales=" for f in families) or "scales="
        linear = "" if any(f.prefix for f in families) else ", and kernel='linear' has none"
        raise ValueError(
            f"{owner}: median={median!r} has no effect: no kernel uses the median heuristic "
            f"({fixed or 'sigmas= or bandwidth='} fixes the bandwidths{linear}); leave "
            f"median at {DEFAULT_MEDIAN!r} or pass {scales} without them"
        )


def check_loss_options(owner, estimator, median, median_max_samples, block_size):
    """Shared ``ValueError`` checks of the MMD-family losses' options."""
    _check_choice(estimator, ESTIMATORS, f"{owner}: estimator")
    _check_choice(median, MEDIAN_MODES, f"{owner}: median")
    if block_size is not None and not is_int_at_least(block_size, 1):
        raise ValueError(f"{owner}: block_size must be a positive int or None, got {block_size!r}")
    least = median_min_points(median)
    if not is_int_at_least(median_max_samples, least):
        raise ValueError(
            f"{owner}: median_max_samples must be an int >= {least} (median={median!r}), got "
            f"{median_max_samples!r}"
        )


def _kernel_gammas(kernel, sigmas, name):
    _check_choice(kernel, KERNELS, f"{name}: kernel")
    if kernel == "linear":
        if sigmas is not None:
            raise ValueError(f"{name}: sigmas must be None for kernel='linear', got {sigmas!r}")
        return None
    if sigmas is None:
        raise ValueError(f"{name}: kernel='gaussian' needs sigmas (one or more bandwidths)")
    return sigmas_to_gammas(sigmas, name=f"{name}: sigmas")


def mmd2(
    source: torch.Tensor,
    target: torch.Tensor,
    *,
    estimator: str,
    sigmas: Sequence[float] | float | None = None,
    kernel: str = "gaussian",
    block_size: int | None = DEFAULT_BLOCK_SIZE,
) -> torch.Tensor:
    """Squared MMD between ``source`` ``(n, d)`` and ``target`` ``(m, d)``; a 0-d tensor.

    ``estimator``  ``"biased"`` (V-statistic), ``"unbiased"`` (U-statistic, can be
                   negative) or ``"linear"`` (linear-time; see the module docstring);
    ``sigmas``     Gaussian bandwidths; the kernel is the uniform average of
                   ``exp(-||x - y||^2 / (2 sigma^2))`` over them;
    ``kernel``     ``"gaussian"`` or ``"linear"`` (``x . y``; ``sigmas`` must be ``None``);
    ``block_size`` tile size of the blockwise quadratic estimators (``None``: adaptive).

    Differentiable w.r.t. ``source`` and ``target``. Gretton et al., JMLR 2012.

    Examples
    --------
    With the linear kernel the biased estimate is the squared distance between the two
    means, here ``(1 - 4)^2``; one Gaussian-kernel sample per domain, 1 apart, gives
    ``2 - 2 exp(-1/2)``:

    >>> import torch
    >>> source, target = torch.tensor([[0.0], [2.0]]), torch.tensor([[3.0], [5.0]])
    >>> mmd2(source, target, estimator="biased", kernel="linear").item()
    9.0
    >>> x, y = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    >>> round(mmd2(x, y, estimator="biased", sigmas=1.0).item(), 4)
    0.7869
    """
    _check_choice(estimator, ESTIMATORS, "mmd2: estimator")
    name = f"mmd2_{estimator}"
    gammas = _kernel_gammas(kernel, sigmas, name)
    check_pair_inputs(source, target, min_samples=_MIN_SAMPLES[estimator], name=name)
    return _mmd2_from_gammas(
        source, target, estimator=estimator, gammas=gammas, block_size=block_size, owner=name
    )


def mmd2_biased(source, target, *, sigmas=None, kernel="gaussian", block_size=DEFAULT_BLOCK_SIZE):
    """Biased (V-statistic) squared MMD (Gretton et al., JMLR 2012); ``source`` ``(n, d)``,
    ``target`` ``(m, d)``; ``mmd2(..., estimator="biased")``."""
    return mmd2(
        source, target, estimator="biased", sigmas=sigmas, kernel=kernel, block_size=block_size
    )


def mmd2_unbiased(source, target, *, sigmas=None, kernel="gaussian", block_size=DEFAULT_BLOCK_SIZE):
    """Unbiased (U-statistic) squared MMD (Gretton et al., JMLR 2012), can be negative;
    ``source`` ``(n, d)``, ``target`` ``(m, d)``; ``mmd2(..., estimator="unbiased")``."""
    return mmd2(
        source, target, estimator="unbiased", sigmas=sigmas, kernel=kernel, block_size=block_size
    )


def mmd2_linear(source, target, *, sigmas=None, kernel="gaussian"):
    """Linear-time squared MMD estimate (Gretton et al., JMLR 2012, Lemma 14), ``O(n d)``;
    ``source`` ``(n, d)``, ``target`` ``(m, d)``; ``mmd2(..., estimator="linear")``.

    It pairs rows ``(2p, 2p + 1)`` in the order given, so the rows must be in random order
    (shuffled mini-batches are; a benchmark domain as loaded, sorted by class, is not:
    shuffle it first, or its within-class pairs bias the estimate)."""
    return mmd2(source, target, estimator="linear", sigmas=sigmas, kernel=kernel)


class MMDLoss(AlignmentLoss):
    """Multi-kernel MMD loss (DAN: Long et al., "Learning Transferable Features with Deep
    Adaptation Networks", ICML 2015); returns the squared MMD of ``estimator``.

    ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)`` -> 0-d tensor. Context is ignored.

    ``estimator``   ``"unbiased"`` (default), ``"biased"`` or ``"linear"`` (linear-time);
    ``kernel``      ``"gaussian"`` (default) or ``"linear"`` (with ``estimator="biased"``
                    only: the other estimates, unbounded below, fall as features widen);
    ``scales``      multiples of the squared-distance scale ``h``: kernel ``s`` is
                    ``exp(-D / (scales[s] * h))``; default DAN's 33 (``dan_scales()``);
    ``sigmas``      fixed Gaussian bandwidths instead (``exp(-D / (2 sigma^2))``);
                    excludes ``scales``, ``bandwidth`` and ``median``;
    ``bandwidth``   fixed ``h`` (squared-distance units), one positive number; default:
                    median heuristic;
    ``median``      pairs of the median heuristic: ``"source"`` (distinct source pairs,
                    default), ``"pooled"``, ``"source_with_diagonal"`` (pytorch-adapt);
                    a mode other than the default is an error with ``sigmas``,
                    ``bandwidth`` or ``kernel="linear"`` (no heuristic to apply it to);
                    the heuristic needs 2 source samples (``"pooled"``: 2 in all;
                    ``"source_with_diagonal"``: 3, as its self-distances are half
                    the pairs of 2);
    ``median_max_samples``  points used for the median (evenly spaced above this);
    ``block_size``  tile size of the blockwise quadratic estimators (``None``: adaptive).
    """

    def __init__(
        self,
        estimator: str = "unbiased",
        kernel: str = "gaussian",
        scales: Sequence[float] | None = None,
        sigmas: Sequence[float] | None = None,
        bandwidth: float | None = None,
        median: str = DEFAULT_MEDIAN,
        median_max_samples: int = 4096,
        block_size: int | None = DEFAULT_BLOCK_SIZE,
    ):
        super().__init__()
        # Messages name the class the user built (LinearTimeMMDLoss, a subclass of theirs).
        name = type(self).__name__
        check_loss_options(name, estimator, median, median_max_samples, block_size)
        _check_choice(kernel, KERNELS, f"{name}: kernel")
        self.estimator, self.kernel, self.median = estimator, kernel, median
        self.median_max_samples, self.block_size = median_max_samples, block_size
        self.min_samples = _MIN_SAMPLES[estimator]
        self.family = None
        if kernel == "linear":
            if sigmas is not None or scales is not None or bandwidth is not None:
                raise ValueError(f"{name}: kernel='linear' takes no sigmas, scales or bandwidth")
            if estimator != "biased":
                # The estimate is ||mean gap||^2 less the domains' spreads over the batch
                # sizes: the Gaussian kernel is bounded, the linear one is not, and a network
                # trained on it widened its features without limit (embedding norm 3 -> 95,
                # loss -1 -> -197), the term falling while nothing aligned.
                raise ValueError(
                    f"{name}: kernel='linear' needs estimator='biased' as a loss (got "
                    f"{estimator!r}): the {estimator} estimate subtracts the domains' spreads, "
                    "so widening the features lowers it without limit; the biased one is "
                    "||mean(source) - mean(target)||^2 >= 0 (dtc.align.mmd.mmd2 computes the "
                    "others)"
                )
        else:
            self.family = GaussianFamily(name, sigmas, scales, bandwidth)
        check_median_used(name, median, [self.family] if self.family else [])

    def gammas(self, source: torch.Tensor, target: torch.Tensor) -> tuple[float, ...] | None:
        """The Gaussian rates ``1 / (2 sigma^2)`` used for the batch ``source`` ``(n_s, d)``,
        ``target`` ``(n_t, d)`` (``None``: linear kernel)."""
        if self.family is None:
            return None
        return self.family.gammas(
            source, target, median=self.median, max_samples=self.median_max_samples
        )

    def compute(self, source, target, **context):
        source, target = unit_scaled_for_median(self.family, source, target)
        return _mmd2_from_gammas(
            source,
            target,
            estimator=self.estimator,
            gammas=self.gammas(source, target),
            block_size=self.block_size,
            owner=type(self).__name__,
        )

    def extra_repr(self) -> str:
        return f"estimator={self.estimator!r}, kernel={self.family or 'linear'}"


class LinearTimeMMDLoss(MMDLoss):
    """:class:`MMDLoss` with the linear-time estimator by default (Gretton et al., JMLR
    2012; the estimate DAN trains with). ``O(n d)`` time and memory; the median
    heuristic looks at most ``median_max_samples`` points (default 1024, evenly spaced)."""

    def __init__(self, estimator: str = "linear", median_max_samples: int = 1024, **kwargs):
        # 1024 points (5e5 pairs) keep the median heuristic cheap next to O(n d) work.
        super().__init__(estimator=estimator, median_max_samples=median_max_samples, **kwargs)
