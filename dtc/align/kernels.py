"""Kernel helpers shared by the MMD family: pairwise squared distances, Gaussian
multi-kernels, the median heuristic and blockwise (memory-bounded) kernel sums.

Conventions (the same in every function here and in :mod:`dtc.align.mmd`):

* ``D(x, y) = ||x - y||^2`` is the *squared* Euclidean distance.
* A Gaussian kernel of bandwidth ``sigma`` is ``k(x, y) = exp(-D(x, y) / (2 sigma^2))``;
  internally it is parametrised by its rate ``gamma = 1 / (2 sigma^2)``.
* A multi-kernel is the average ``sum_s w_s exp(-gamma_s D)`` with weights ``w_s``
  summing to one (uniform everywhere in dtc), so ``k(x, x) = 1``.

The blockwise evaluation (:func:`kernel_sums`) never holds an ``(n, n)`` matrix: it
walks ``block_size x block_size`` tiles, and because every quantity the gradient
needs is a sum over pairs, it accumulates the gradient in the same pass (an
``(n, d)`` array per input), so no tile is stored or recomputed for ``backward``.
The tile side adapts to ``n``, the number of kernels and the thread count
(:func:`auto_block_size`). The linear-time estimate (:func:`linear_time_sums`) is a
custom autograd Function too: chunks of pairs, closed-form gradient, ``O(n d)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

from dtc._validation import check_number, is_int_at_least

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "MultiKernel",
    "auto_block_size",
    "check_distances_fit",
    "dan_scales",
    "kernel_sums",
    "linear_time_sums",
    "median_min_points",
    "median_sq_dist",
    "overflow_error",
    "pairwise_sq_dists",
    "sigmas_to_gammas",
    "step_bytes",
]

MEDIAN_MODES = ("source", "pooled", "source_with_diagonal")


def dan_scales(low: float = -8.0, high: float = 8.0, num: int = 33, base: float = 2.0):
    """The multi-kernel family of DAN (Long et al., "Learning Transferable Features with
    Deep Adaptation Networks", ICML 2015): ``num`` scales ``base**t`` for ``t`` evenly
    spaced in ``[low, high]`` (default ``2^-8 .. 2^8`` in steps of ``2^0.5``, 33 scales,
    identical to ``pytorch_adapt.layers.utils.get_kernel_scales()``).

    Returns a tuple of ``num`` floats; each multiplies the median-heuristic bandwidth.
    """
    if not is_int_at_least(num, 1):  # 2.5 and "3" failed inside range(), True gave 1 scale
        raise ValueError(f"dan_scales: num must be an int >= 1, got {num!r}")
    # base 0 divided by zero, -2 gave complex scales, 1 the same scale num times
    base = check_number(base, "dan_scales: base", low=0.0, strict=True)
    if base == 1:
        raise ValueError("dan_scales: base must be a number > 0 other than 1, got 1")
    low = check_number(low, "dan_scales: low", low=-math.inf)
    high = check_number(high, "dan_scales: high", low=low)
    if num == 1:
        return (float(base**low),)
    step = (high - low) / (num - 1)
    return tuple(float(base ** (low + i * step)) for i in range(num))


def pairwise_sq_dists(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances ``||x_i - y_j||^2``.

    ``x`` ``(n, d)``, ``y`` ``(m, d)`` (``None``: ``y = x``, and the diagonal is exactly 0).
    Returns ``(n, m)`` in the dtype of ``x``. One matmul, ``||x||^2 + ||y||^2 - 2 x y^T``,
    clamped at 0 because rounding can make it slightly negative; half-precision inputs are
    computed in float32 (their norms overflow) and the result cast back.
    """
    dtype = x.dtype
    same = y is None
    x, y = _centred(_widened(x), None if same else _widened(y))
    y = x if same else y
    xn = (x * x).sum(1)
    yn = xn if same else (y * y).sum(1)
    # autocast off: in the caller's torch.autocast the product ran in bfloat16 (the median
    # heuristic's bandwidth moved with it)
    with torch.autocast(x.device.type, enabled=False):
        d2 = torch.addmm(xn[:, None] + yn[None, :], x, y.T, alpha=-2.0).clamp_min_(0)
    if same:
        d2.fill_diagonal_(0)
    return d2.to(dtype)


def _widened(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 when it is of a half-precision dtype (float16, bfloat16), else as is.

    Why: the kernels' squared norms and distances overflow float16 (max 65504) once a row's
    squared norm passes it, e.g. 256 features of std 20, and the MMD then came out 0 or NaN
    silently. The cast is differentiable, so gradients reach ``x`` in its own dtype.
    """
    return x.float() if x.is_floating_point() and x.element_size() < 4 else x


def _centred(x: torch.Tensor, y: torch.Tensor | None = None):
    """``x`` and ``y`` less the mean of their rows pooled (detached; ``y`` may be None).

    Why: a distance does not change under a shift, but its expansion ``||x||^2 + ||y||^2 -
    2 x y^T`` subtracts terms of the size of the squared norms, so samples far from the
    origin lose the distance to rounding (float32 features at 100 +- 0.1: the MMD off by
    4 %). Centred, the terms are of the size of the spread. The mean is detached because
    the distances do not depend on it.
    """
    pooled = x if y is None else torch.cat([x, y])
    centre = pooled.detach().mean(0)
    return x - centre, (None if y is None else y - centre)


def _subsample(x: torch.Tensor, max_samples: int) -> torch.Tensor:
    # Evenly spaced rows: deterministic, and cheap for n in the millions. On rows sorted
    # by class this is a class-stratified sample (of the bandwidth only); training batches
    # are shuffled and far below the limit.
    if x.shape[0] <= max_samples:
        return x
    # float32 whatever the default dtype: the rows picked moved with it. Above 2**24 rows
    # float32 rounds n - 1 up to n: clamped to the last row (an IndexError before), which
    # keeps every pick of a smaller n.
    grid = torch.linspace(0, x.shape[0] - 1, max_samples, dtype=torch.float32, device=x.device)
    idx = grid.round().long().clamp_(max=x.shape[0] - 1)
    return x[idx]


def median_min_points(mode: str) -> int:
    """The fewest points the median heuristic of ``mode`` gives a bandwidth from: 2, and 3
    for ``"source_with_diagonal"``, whose pairs of 2 points are [0, h, h, 0] (lower median
    0 however far apart they lie)."""
    return 3 if mode == "source_with_diagonal" else 2


@torch.no_grad()
def median_sq_dist(
    source: torch.Tensor,
    target: torch.Tensor | None = None,
    *,
    mode: str = "source",
    max_samples: int = 4096,
) -> torch.Tensor:
    """Median heuristic: the median of squared pairwise distances, a 0-d tensor.

    ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)`` (needed for ``mode="pooled"``).
    ``mode``:

    ``"source"``                distinct source pairs ``i < j``;
    ``"pooled"``                distinct pairs of the pooled sample (Gretton et al., JMLR 2012);
    ``"source_with_diagonal"``  all ``n_s^2`` ordered source pairs, the ``n_s`` zero
                                self-distances included (pytorch-adapt's convention).

    The lower median of an even count is taken (as ``torch.median``). Above
    ``max_samples`` points, ``max_samples`` evenly spaced ones are used, so the cost is
    bounded; it is computed without gradient (the bandwidth is a constant), in float32 for
    half-precision inputs (a 0-d float32 tensor then: their distances overflow float16).
    """
    if mode not in MEDIAN_MODES:
        raise ValueError(f"median_sq_dist: mode must be one of {MEDIAN_MODES}, got {mode!r}")
    least = median_min_points(mode)
    if max_samples < least:
        raise ValueError(
            f"median_sq_dist: max_samples must be >= {least} (mode={mode!r}), got {max_samples}"
        )
    if mode == "pooled":
        if target is None:
            raise ValueError("median_sq_dist: mode='pooled' needs target")
        pts = _subsample(torch.cat([source, target]), max_samples)
    else:
        pts = _subsample(source, max_samples)
    pts = _widened(pts)
    if pts.shape[0] < least:  # "source_with_diagonal" of 2 points gave 0 however far apart
        raise ValueError(
            f"median_sq_dist: mode={mode!r} needs at least {least} samples, got {pts.shape[0]}"
        )
    d2 = pairwise_sq_dists(pts)
    if mode == "source_with_diagonal":
        values = d2.reshape(-1)
    else:
        iu = torch.triu_indices(pts.shape[0], pts.shape[0], offset=1, device=pts.device)
        values = d2[iu[0], iu[1]]
    median = values.median()
    # The expansion resolves a squared distance only to about eps * ||x||^2 (of the centred
    # rows): equal rows off the diagonal came out as rounding noise (6e-8 for unit-scale
    # float32), and a majority of coinciding pairs gave a "bandwidth" of noise or 0 by
    # chance. Where the median falls that low it is taken again from the differences
    # themselves, exact 0 for equal rows; elsewhere it stands, unchanged.
    centred, _ = _centred(pts)
    resolution = 64 * torch.finfo(centred.dtype).eps * (centred * centred).sum(1).max()
    if median <= resolution:
        exact = torch.cdist(centred, centred, compute_mode="donot_use_mm_for_euclid_dist")
        exact = exact.square()
        if mode == "source_with_diagonal":
            return exact.reshape(-1).median()
        return exact[iu[0], iu[1]].median()
    return median


def sigmas_to_gammas(sigmas: Sequence[float], *, name: str = "sigmas") -> tuple[float, ...]:
    """``gamma = 1 / (2 sigma^2)`` for each bandwidth; ``ValueError`` unless all are finite
    and positive and there is at least one."""
    sig = _positive_floats(sigmas, name)
    with np.errstate(over="ignore", divide="ignore"):
        gammas = tuple(float(1.0 / np.float64(2.0 * s * s)) for s in sig)
    bad = [s for s, g in zip(sig, gammas) if not (0.0 < g < math.inf)]
    if bad:  # s * s under- or overflows float64: gamma would be inf or 0
        raise ValueError(
            f"{name}: bandwidths {bad} are too small or too large for float64 "
            "(1 / (2 sigma^2) must be finite and positive)"
        )
    return gammas


def _positive_floats(values, name: str) -> tuple[float, ...]:
    """``values`` (a real number, a sequence of them, a tensor or an array) as a tuple of
    floats; ``ValueError`` naming ``name`` unless there is at least one and all are finite
    and positive."""
    if isinstance(values, (str, bytes)):
        # A string is a sequence too: "25" would be read digit by digit as (2.0, 5.0).
        raise ValueError(f"{name} must be given as numbers, not as a string, got {values!r}")
    if isinstance(values, torch.Tensor):
        values = values.detach().reshape(-1).tolist()
    elif isinstance(values, np.ndarray):
        values = values.reshape(-1).tolist()
    elif isinstance(values, numbers.Real):
        values = [values]
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of positive numbers, got {values!r}") from exc
    if not out:
        raise ValueError(f"{name} must contain at least one value")
    if not all(math.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"{name} must all be finite and positive, got {out}")
    return out


def _positive_float(value, name: str, prefix: str = "") -> float:
    """One finite positive number: a real number, or a sequence, tensor or array of one;
    ``ValueError`` naming ``name`` for anything else (a list of several is not cut to its
    first value). ``prefix``: of the owner's parameter names the advice gives (JMMD's
    ``feature_``)."""
    out = _positive_floats(value, name)
    if len(out) != 1:
        raise ValueError(
            f"{name} must be one positive number, got {len(out)} values {out}; "
            f"several bandwidths are given through {prefix}scales= or {prefix}sigmas="
        )
    return out[0]


class MultiKernel:
    """An average of Gaussian kernels ``sum_s w_s exp(-gamma_s D)``, uniform ``w_s``.

    Evaluating it on a tile of squared distances takes one ``exp`` per rate, except
    that a rate which is exactly twice an earlier one reuses it by squaring
    (``exp(-2 g D) = exp(-g D)^2``), as in DAN's power-of-two families. A chain of
    squarings multiplies the relative rounding error by 2 per step, so chains are cut
    after ``max_square_depth`` steps (3: at most 8 ulp) and restart from a fresh ``exp``.

    The exponentials of a tile are laid out in a ``(len(self), N)`` buffer level by
    level (fresh ``exp`` first, then squaring depth 1, 2, ...), ordered so that each
    level squares a leading slice of the previous one: filling the buffer takes a
    handful of large tensor operations whatever the number of kernels (33 DAN
    kernels: one multiply, one ``exp`` and three squarings).
    """

    def __init__(self, gammas: Sequence[float], *, max_square_depth: int = 3):
        gam = sorted(_positive_floats(gammas, "gammas"))
        self.gammas = tuple(gam)
        self.weight = 1.0 / len(gam)
        # plan[k] = index of the rate to square, or -1 for a fresh exp.
        self.plan: list[int] = []
        depth: list[int] = []
        for k, g in enumerate(gam):
            src = -1
            for i in range(k - 1, -1, -1):
                if abs(g / gam[i] - 2.0) < 1e-9 and depth[i] < max_square_depth:
                    src = i
                    break
            self.plan.append(src)
            depth.append(0 if src < 0 else depth[src] + 1)
        # Buffer layout: levels[l] lists the kernels of squaring depth l in row order;
        # the sources of level l + 1 come first in level l, in the same order.
        levels = [[k for k in range(len(gam)) if depth[k] == lv] for lv in range(max(depth) + 1)]
        for lv in range(len(levels) - 2, -1, -1):
            srcs = list(dict.fromkeys(self.plan[k] for k in levels[lv + 1]))
            levels[lv] = srcs + [k for k in levels[lv] if k not in srcs]
        self.order = [k for level in levels for k in level]
        self.n_fresh = len(levels[0])
        # steps: (dst_start, dst_stop, src rows); src rows a (start, stop) slice when
        # they are contiguous, else a list of rows (repeated rates).
        self._steps = []
        start = self.n_fresh
        prev_start = 0
        for lv in range(1, len(levels)):
            rows = [prev_start + levels[lv - 1].index(self.plan[k]) for k in levels[lv]]
            contiguous = rows == list(range(rows[0], rows[0] + len(rows)))
            src = (rows[0], rows[0] + len(rows)) if contiguous else rows
            self._steps.append((start, start + len(levels[lv]), src))
            prev_start, start = start, start + len(levels[lv])
        self._rates_cache: dict = {}

    def __len__(self) -> int:
        return len(self.gammas)

    def _rates(self, like: torch.Tensor):
        """(minus the fresh rates as a column, the slope weights ``w_s g_s`` in row order)."""
        key = (like.dtype, like.device)
        if key not in self._rates_cache:
            g = [self.gammas[k] for k in self.order]
            fresh = torch.tensor([-v for v in g[: self.n_fresh]], dtype=like.dtype)
            slope = torch.tensor([v * self.weight for v in g], dtype=like.dtype)
            self._rates_cache[key] = (fresh[:, None].to(like.device), slope.to(like.device))
        return self._rates_cache[key]

    def fill(self, flat: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
        """Write ``exp(-gamma_s D)`` for the 1-D squared distances ``flat`` ``(N,)`` into
        ``buf`` ``(len(self), N)`` (rows in :attr:`order`); returns ``buf``."""
        fresh, _ = self._rates(flat)
        head = buf[: self.n_fresh]
        # Exponents are clamped to [log(tiny) + 1, 0]: exp then never underflows to a
        # subnormal, where it runs 10-30x slower (most of DAN's narrow kernels would),
        # and never exceeds 1 (rounding can make a squared distance slightly negative).
        # The absolute error, below 3 x the smallest normal number, is far below rounding.
        floor = math.log(torch.finfo(flat.dtype).tiny) + 1.0
        torch.mul(fresh, flat[None, :], out=head).clamp_(floor, 0.0).exp_()
        for dst0, dst1, src in self._steps:
            s = buf[src[0] : src[1]] if isinstance(src, tuple) else buf[src]
            torch.mul(s, s, out=buf[dst0:dst1])
        return buf

    def slopes(self, buf: torch.Tensor) -> torch.Tensor:
        """``W = sum_s w_s g_s e^{-g_s D}`` (``dK/dD = -W``) from a filled buffer; ``(N,)``."""
        return self._rates(buf)[1] @ buf

    def values_and_slopes(self, d2: torch.Tensor):
        """Kernel values ``K = sum_s w_s e^{-g_s D}`` and slopes ``W = sum_s w_s g_s e^{-g_s D}``
        (``dK/dD = -W``) on a tile ``d2`` of any shape; both shaped like ``d2``. Not
        differentiable: :meth:`fill` and :meth:`slopes` on one tile (the estimators call
        them on scratch space of their own)."""
        flat = d2.reshape(-1)
        buf = flat.new_empty((len(self), flat.numel()))
        self.fill(flat, buf)
        return buf.sum(0).mul_(self.weight).view_as(d2), self.slopes(buf).view_as(d2)


# Scratch memory one step (a tile of pairs, or a chunk of the linear-time estimate) may
# use; the adaptive sizes are the largest that fit. On one thread the work is memory-
# bound, so steps stay cache-sized (16 MB: 316 x 316 float32 tiles for 33 kernels).
# With several threads every tensor operation is a parallel region whose threads meet at
# a barrier, which is costly on a busy machine, so steps are large and few (256 MB:
# 1024 x 1024 tiles for n = 4096, 33 kernels, and about a dozen operations per tile).
STEP_BYTES_ONE_THREAD = 16 * 2**20
STEP_BYTES_THREADED = 256 * 2**20
DEFAULT_BLOCK_SIZE = None  # adaptive: see :func:`auto_block_size`


def step_bytes() -> int:
    """The scratch budget of one step at the current ``torch.get_num_threads()``."""
    return STEP_BYTES_ONE_THREAD if torch.get_num_threads() == 1 else STEP_BYTES_THREADED


def auto_block_size(n: int, n_kernels: int, itemsize: int = 4) -> int:
    """Tile side for ``n`` samples and ``n_kernels`` exponentials per pair (summed over
    layers): the largest ``b`` with ``b^2 (n_kernels + 8) itemsize <= step_bytes()``, then
    evened out so that the ``ceil(n / b)`` tiles have equal size."""
    cap = max(64, math.isqrt(step_bytes() // (itemsize * (n_kernels + 8))))
    tiles = -(-n // cap)
    return max(1, -(-n // tiles))


def _scratch(bufs: dict, key, like: torch.Tensor, shape) -> torch.Tensor:
    # One reusable buffer per key and shape (a tile loop would otherwise allocate, and
    # fault in, the same large block at every step).
    shape = tuple(shape)
    buf = bufs.get(key)
    if buf is None or buf.shape != shape:
        buf = bufs[key] = like.new_empty(shape)
    return buf


def _tiles(n: int, block: int):
    return [(a, min(a + block, n)) for a in range(0, n, block)]


def _augment(x: torch.Tensor):
    """``[x, ||x||^2, 1]`` and ``[-2 x, 1, ||x||^2]``: one product of a row of each is the
    squared distance, and ``w @ left`` gives ``w @ x`` and the row sums of ``w`` at once."""
    xn = (x * x).sum(1, keepdim=True)
    one = torch.ones_like(xn)
    return torch.cat([x, xn, one], 1), torch.cat([-2.0 * x, one, xn], 1)


def _accumulate_pair(
    xs, ys, kernels, *, symmetric, exclude_diagonal, block, need_grad, raw_xs, raw_ys
):
    """Sum of the (product) kernel over all pairs of ``xs`` x ``ys`` tiles, and its
    gradients w.r.t. every layer of ``xs`` and ``ys``.

    ``symmetric``: ``ys is xs``; only tiles ``I <= J`` are evaluated and off-diagonal
    tiles count twice. Returns ``(total, grads_x, grads_y)`` with ``total`` float64 and
    ``grads_y is grads_x`` when symmetric. ``raw_xs``, ``raw_ys``: the rows before
    centring, for the tiles taken from differences (:func:`_coarse_tiles`): centred on a
    far-off centre, each row had already lost the small differences to rounding.

    Gradient: with ``W_ij = -dk/dD_ij``, ``d/dx_i sum_j k = 2 (sum_j W_ij y_j - x_i sum_j
    W_ij)``; both sums come from one product ``W @ [y, ||y||^2, 1]`` accumulated per tile,
    or, in a tile taken from differences, as ``2 sum_j W_ij (y_j - x_i)`` from the
    differences themselves (the expanded form cancels them away there too).
    """
    n, m = xs[0].shape[0], ys[0].shape[0]
    n_exp = sum(len(k) for k in kernels)
    itemsize = xs[0].element_size()
    bn = block or auto_block_size(max(n, m), n_exp, itemsize)
    bm = bn if symmetric else (block or auto_block_size(max(n, m), n_exp, itemsize))
    left_x, right_x = zip(*(_augment(x) for x in xs))
    left_y, right_y = (left_x, right_x) if symmetric else zip(*(_augment(y) for y in ys))
    acc_x = [torch.zeros_like(t) for t in left_x] if need_grad else None
    acc_y = acc_x if symmetric else ([torch.zeros_like(t) for t in left_y] if need_grad else None)
    weight = math.prod(k.weight for k in kernels)
    bufs: dict = {}
    total = torch.zeros((), dtype=torch.float64, device=xs[0].device)
    tiles_x, tiles_y = _tiles(n, bn), _tiles(m, bm)
    coarse = _coarse_tiles(left_x, left_y, kernels, tiles_x, tiles_y)
    # gradients of the tiles taken from differences, kept apart (allocated only where there
    # are any): the other tiles' sums stay as they were, bit for bit
    direct_x = [
        torch.zeros_like(x) if need_grad and any(map(any, c)) else None for x, c in zip(xs, coarse)
    ]
    direct_y = (
        direct_x
        if symmetric
        else [None if d is None else torch.zeros_like(y) for d, y in zip(direct_x, ys)]
    )
    for ti, (i0, i1) in enumerate(tiles_x):
        for tj, (j0, j1) in enumerate(tiles_y):
            if symmetric and tj < ti:
                continue
            diagonal = symmetric and ti == tj
            mult = 2.0 if symmetric and not diagonal else 1.0
            vals, slopes = [], []
            for layer, kern in enumerate(kernels):
                # Squared distances; slightly negative ones are handled by MultiKernel.fill.
                if coarse[layer][ti][tj]:  # from the differences themselves (see below)
                    d2 = torch.cdist(
                        raw_xs[layer][i0:i1],
                        raw_ys[layer][j0:j1],
                        compute_mode="donot_use_mm_for_euclid_dist",
                    ).square_()
                else:
                    d2 = torch.mm(left_x[layer][i0:i1], right_y[layer][j0:j1].T)
                if diagonal:
                    d2.fill_diagonal_(0)  # exact self-distance, so k(x, x) = 1 exactly
                buf = kern.fill(d2.view(-1), _scratch(bufs, layer, d2, (len(kern), d2.numel())))
                # Unscaled values (sum of exponentials); the weights are applied once.
                vals.append(buf.sum(0).view_as(d2))
                if need_grad:
                    slopes.append(kern.slopes(buf).view_as(d2))
            kprod = vals[0]
            for v in vals[1:]:
                kprod = kprod * v
            if diagonal and exclude_diagonal:
                kprod.fill_diagonal_(0)
            total += (weight * mult) * kprod.sum(dtype=torch.float64)
            for layer in range(len(kernels) if need_grad else 0):
                # d/dD_l prod_l k_l = -W_l prod_{l' != l} k_l'.
                w, scale = slopes[layer], mult
                for other in range(len(kernels)):
                    if other != layer:
                        w, scale = w * vals[other], scale * kernels[other].weight
                if coarse[layer][ti][tj]:
                    # the row term twice on a diagonal tile, as below
                    _add_direct_grads(
                        raw_xs[layer][i0:i1],
                        raw_ys[layer][j0:j1],
                        w,
                        (4.0 if diagonal else 2.0) * scale,
                        direct_x[layer][i0:i1],
                        None if diagonal else direct_y[layer][j0:j1],
                    )
                    continue
                if diagonal:
                    # Rows and columns are the same samples and W is symmetric: the
                    # column term equals the row term.
                    acc_x[layer][i0:i1].addmm_(w, left_x[layer][i0:i1], alpha=2.0 * scale)
                    continue
                acc_x[layer][i0:i1].addmm_(w, left_y[layer][j0:j1], alpha=scale)
                acc_y[layer][j0:j1].addmm_(w.T, left_x[layer][i0:i1], alpha=scale)
    if not need_grad:
        return total, None, None
    gx = [_grad_from_acc(a, x, g) for a, x, g in zip(acc_x, xs, direct_x)]
    gy = gx if symmetric else [_grad_from_acc(a, y, g) for a, y, g in zip(acc_y, ys, direct_y)]
    return total, gx, gy


def _add_direct_grads(x, y, w, alpha, gx, gy) -> None:
    """``gx[i] += alpha sum_j w_ij (y_j - x_i)`` and (``gy`` not None) ``gy[j] -= alpha
    sum_i w_ij (y_j - x_i)``, from the differences, in chunks of rows and features of at
    most :func:`step_bytes` of differences (wide features: a few columns at a time)."""
    m, d, size = y.shape[0], y.shape[1], y.element_size()
    cols = min(d, max(1, step_bytes() // (m * size)))
    rows = max(1, step_bytes() // (m * cols * size))
    for r0 in range(0, x.shape[0], rows):
        r1 = min(r0 + rows, x.shape[0])
        for c0 in range(0, d, cols):
            c1 = min(c0 + cols, d)
            diff = y[None, :, c0:c1] - x[r0:r1, None, c0:c1]  # (rows, m, cols)
            gx[r0:r1, c0:c1].add_(torch.einsum("ij,ijd->id", w[r0:r1], diff), alpha=alpha)
            if gy is not None:
                gy[:, c0:c1].sub_(torch.einsum("ij,ijd->jd", w[r0:r1], diff), alpha=alpha)


def _coarse_tiles(left_x, left_y, kernels, tiles_x, tiles_y) -> list[list[list[bool]]]:
    """``out[layer][ti][tj]``: whether the expansion ``||x||^2 + ||y||^2 - 2 x y^T`` of that
    tile resolves squared distances (to about ``64 eps (max ||x_i||^2 + max ||y_j||^2)``)
    no finer than the layer's narrowest bandwidth ``1 / max(gammas)``.

    Why: the expansion's error grows with the squared norms of the centred rows, the
    kernel's scale is its bandwidth. One far-off row moves the mean (float32 features with
    a row 1e5 away: the MMD 14 % off, its gradient 26 %), and a batch collapsing onto a
    point gets a bandwidth of its tiny spread (the MMD 41 % off); such tiles are taken from
    the differences. Ordinary batches are 100 times or more inside the limit (DTC on the
    digits pair: at most 0.01 of it), so their tiles, and figures, are unchanged."""
    out = []
    for lx, ly, kern in zip(left_x, left_y, kernels):
        d, eps = lx.shape[1] - 2, torch.finfo(lx.dtype).eps
        # one transfer of each sample's tile maxima, not one per tile
        nx = torch.stack([lx[a:b, d].max() for a, b in tiles_x]).tolist()
        ny = nx if ly is lx else torch.stack([ly[a:b, d].max() for a, b in tiles_y]).tolist()
        limit = 1.0 / (64 * eps * max(kern.gammas))
        out.append([[sx + sy > limit for sy in ny] for sx in nx])
    return out


def overflow_error(dtype: torch.dtype, owner: str = "") -> ValueError:
    """The error of features whose squared distances overflow ``dtype`` (the dtype they
    are computed in); ``owner`` prefixes it."""
    wider = " or pass float64" if torch.finfo(dtype).bits < 64 else ""
    prefix = f"{owner}: " if owner else ""
    return ValueError(
        f"{prefix}the squared distances of the features overflow {dtype}; rescale them{wider}"
    )


def check_distances_fit(xs, ys, owner: str = "") -> None:
    """``ValueError`` (:func:`overflow_error`) when a squared distance between rows of the
    layers ``xs[l]`` ``(n, d_l)``, ``ys[l]`` ``(m, d_l)`` may overflow their dtype.

    Why: a squared distance is at most ``2 (||x - c||^2 + ||y - c||^2)`` for any centre
    ``c``; past the dtype's range it is inf, its kernel 0, and the MMD a wrong number
    without a word (float32 features of 7e18: 0.089 for float64's 0.029), or NaN."""
    for x, y in zip(xs, ys):
        if x.numel() == 0 or y.numel() == 0:  # no pair (linear_time_sums of no rows: 0)
            continue
        x, y = x.detach(), y.detach()
        centre = (x.sum(0) + y.sum(0)) / (x.shape[0] + y.shape[0])
        largest = max(((x - centre) ** 2).sum(1).max(), ((y - centre) ** 2).sum(1).max())
        if largest > torch.finfo(x.dtype).max / 4:  # (NaN rows are their caller's to refuse)
            raise overflow_error(x.dtype, owner)


def _grad_from_acc(acc, x, direct=None):
    d = x.shape[1]
    grad = 2.0 * (acc[:, :d] - x * acc[:, d + 1 :])
    return grad if direct is None else grad.add_(direct)


def _refuse_higher_order(owner: str) -> None:
    """Raise if ``backward`` runs with grad mode on (``create_graph=True``).

    The backward passes below build the gradient from tensors saved in forward, which carry
    no graph, so a derivative of that gradient would be silently wrong (or, for the
    linear-time sums, fail inside an ``out=`` operation without saying why).
    """
    if torch.is_grad_enabled():
        raise RuntimeError(
            f"{owner}: higher-order gradients (create_graph=True) are not supported by the "
            "MMD/JMMD kernel sums; only first derivatives are available"
        )


class _KernelSums(torch.autograd.Function):
    """``[S_xx, S_yy, S_xy]`` with ``S_ab = sum_ij prod_l k_l(a^l_i, b^l_j)``.

    The forward pass accumulates the gradient of each sum w.r.t. each input (the
    gradient of a sum over pairs is a sum over pairs), so backward is a weighted sum
    of stored ``(n, d)`` arrays: the exponentials are computed once, and no ``(n, n)``
    tile outlives its loop iteration. First-order gradients only: backward raises
    ``RuntimeError`` under ``create_graph=True``.
    """

    @staticmethod
    def forward(ctx, kernels, exclude_diagonal, block, *tensors):
        n_layers = len(kernels)
        xs, ys = tensors[:n_layers], tensors[n_layers:]
        need_grad = any(ctx.needs_input_grad[3:])
        opts = dict(block=block, need_grad=need_grad)
        # Each sum on its own centre (see _centred): the pooled mean for the cross sum, each
        # domain's own mean for the sums within it. The pooled mean alone leaves two domains
        # far from each other far from the origin, and float32 then lost their small
        # within-domain distances to cancellation (domains at -1000 and +1000: the MMD 9x
        # too large). Centred from the inputs themselves: re-centring the pooled-centred
        # tensors would keep their rounding. Neither the distances nor the gradient, which
        # depends on differences x_i - y_j only, change under a shift.
        pooled = [_centred(x, y) for x, y in zip(xs, ys)]
        own_x, own_y = [_centred(x)[0] for x in xs], [_centred(y)[0] for y in ys]
        within = dict(symmetric=True, exclude_diagonal=exclude_diagonal, **opts)
        s_xx, g_xx, _ = _accumulate_pair(own_x, own_x, kernels, raw_xs=xs, raw_ys=xs, **within)
        s_yy, g_yy, _ = _accumulate_pair(own_y, own_y, kernels, raw_xs=ys, raw_ys=ys, **within)
        s_xy, g_xy_x, g_xy_y = _accumulate_pair(
            [x for x, _ in pooled],
            [y for _, y in pooled],
            kernels,
            symmetric=False,
            exclude_diagonal=False,
            raw_xs=xs,
            raw_ys=ys,
            **opts,
        )
        ctx.n_layers = n_layers
        if need_grad:
            ctx.save_for_backward(*g_xx, *g_yy, *g_xy_x, *g_xy_y)
        # float64 so that estimators can take differences of the sums without
        # cancellation (the MMD is often 1e-4 of each term).
        return torch.stack([s_xx, s_yy, s_xy])

    @staticmethod
    def backward(ctx, grad):
        _refuse_higher_order("kernel_sums")
        n_layers = ctx.n_layers
        saved = ctx.saved_tensors
        g_xx, g_yy = saved[:n_layers], saved[n_layers : 2 * n_layers]
        g_xy_x, g_xy_y = saved[2 * n_layers : 3 * n_layers], saved[3 * n_layers :]
        g = [grad[i].to(saved[0].dtype) for i in range(3)]
        gx = [g[0] * a + g[2] * b for a, b in zip(g_xx, g_xy_x)]
        gy = [g[1] * a + g[2] * b for a, b in zip(g_yy, g_xy_y)]
        return (None, None, None, *gx, *gy)


def _check_layer_counts(xs, ys, kernels, name: str) -> None:
    """One kernel per layer: ``zip`` would drop the extra layers without a word."""
    if not len(xs) == len(ys) == len(kernels):
        raise ValueError(
            f"{name}: expected one layer of xs and ys per kernel, got {len(xs)} layers of "
            f"xs, {len(ys)} of ys and {len(kernels)} kernels"
        )


def kernel_sums(
    xs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    kernels: Sequence[MultiKernel],
    *,
    exclude_diagonal: bool,
    block_size: int | None = DEFAULT_BLOCK_SIZE,
    owner: str = "kernel_sums",
) -> torch.Tensor:
    """Blockwise sums of a product of multi-kernels over all pairs, differentiable.

    ``xs[l]`` ``(n, d_l)`` and ``ys[l]`` ``(m, d_l)`` are layer ``l`` of the two samples,
    ``kernels[l]`` its :class:`MultiKernel`; the joint kernel is ``prod_l k_l`` (one
    layer: plain MMD; several: JMMD). Returns ``(3,)`` float64: ``[S_xx, S_yy, S_xy]``, each
    ``S_ab = sum_{i,j} prod_l k_l(a^l_i, b^l_j)``; with ``exclude_diagonal`` the ``i = j``
    terms of ``S_xx`` and ``S_yy`` are left out. ``block_size``: tile side, ``None`` for
    :func:`auto_block_size` (tiles of at most :func:`step_bytes` scratch memory).
    Time ``O((n + m)^2 sum_l d_l)``, memory ``O(block_size^2 * sum_l len(kernels[l]) +
    (n + m) d)`` in forward and backward. ``owner``: who the error of features whose squared
    distances overflow (:func:`check_distances_fit`) names.
    """
    if block_size is not None and not is_int_at_least(block_size, 1):
        raise ValueError(f"block_size must be a positive int or None, got {block_size!r}")
    _check_layer_counts(xs, ys, kernels, "kernel_sums")
    # half precision in float32 (see _widened); the centring is forward's
    xs, ys = [_widened(x) for x in xs], [_widened(y) for y in ys]
    check_distances_fit(xs, ys, owner)
    # Autocast off inside: in the caller's `torch.autocast` it recast the tiles' products to
    # bfloat16 while the accumulators stay float32 ("mat1 and mat2 must have the same
    # dtype"); the inputs are widened already, so the sums are those of the widened inputs.
    with torch.autocast(xs[0].device.type, enabled=False):
        return _KernelSums.apply(tuple(kernels), bool(exclude_diagonal), block_size, *xs, *ys)


def _pair_diffs(x, y, a, b, out):
    """Differences of the linear-time estimate's pairs ``a..b-1`` into ``out`` ``(4, b - a, d)``:
    ``x_{2p} - x_{2p+1}``, ``y_{2p} - y_{2p+1}``, ``y_{2p+1} - x_{2p}``, ``x_{2p+1} - y_{2p}``
    (0-based; the third is reversed so that backward needs no negation), read through
    ``(pairs, 2, d)`` views (no gather, no autograd)."""
    d = x.shape[1]
    xv = x[2 * a : 2 * b].reshape(b - a, 2, d)
    yv = y[2 * a : 2 * b].reshape(b - a, 2, d)
    torch.sub(xv[:, 0], xv[:, 1], out=out[0])
    torch.sub(yv[:, 0], yv[:, 1], out=out[1])
    torch.sub(yv[:, 1], xv[:, 0], out=out[2])
    torch.sub(xv[:, 1], yv[:, 0], out=out[3])
    return out


def _linear_chunk(xs, kernels, chunk):
    if chunk is not None:
        return chunk
    per_pair = 4 * xs[0].element_size() * (sum(x.shape[1] for x in xs) + sum(map(len, kernels)) + 4)
    return max(1, step_bytes() // per_pair)


class _LinearTimeSums(torch.autograd.Function):
    """``T_t = sum_p prod_l k_l(D^l_{t,p})`` for the four pair kinds ``t`` of the
    linear-time estimate, in chunks of pairs. Forward keeps only ``dK/dD`` per pair and
    layer (``4 * pairs`` values); backward recomputes the differences chunkwise and
    applies ``d/da k(||a - b||^2) = 2 k'(D) (a - b)``. First derivatives only: backward
    raises ``RuntimeError`` under ``create_graph=True``."""

    @staticmethod
    def forward(ctx, kernels, chunk, *tensors):
        n_layers = len(kernels)
        xs, ys = tensors[:n_layers], tensors[n_layers:]
        pairs = min(xs[0].shape[0], ys[0].shape[0]) // 2
        chunk = _linear_chunk(xs, kernels, chunk)
        need_grad = any(ctx.needs_input_grad[2:])
        weight = math.prod(k.weight for k in kernels)
        sums = torch.zeros(4, dtype=torch.float64, device=xs[0].device)
        slopes = [xs[0].new_empty((4, pairs)) for _ in kernels] if need_grad else []
        bufs: dict = {}
        for a in range(0, pairs, chunk):
            b = min(a + chunk, pairs)
            vals, ws = [], []
            for layer, kern in enumerate(kernels):
                x = xs[layer]
                diff = _scratch(bufs, ("diff", layer), x, (4, b - a, x.shape[1]))
                diff = _pair_diffs(x, ys[layer], a, b, diff)
                d2 = torch.linalg.vector_norm(diff, dim=-1).square_().view(-1)
                buf = kern.fill(d2, _scratch(bufs, layer, x, (len(kern), d2.numel())))
                vals.append(buf.sum(0).view(4, b - a))  # unscaled
                if need_grad:
                    ws.append(kern.slopes(buf).view(4, b - a))
            kprod = vals[0]
            for v in vals[1:]:
                kprod = kprod * v
            sums += weight * kprod.sum(1, dtype=torch.float64)
            for layer in range(len(ws)):
                # -d/dD_l prod_l k_l = W_l prod_{l' != l} k_l'
                w = ws[layer]
                for other in range(n_layers):
                    if other != layer:
                        w = w * (vals[other] * kernels[other].weight)
                slopes[layer][:, a:b] = w
        ctx.kernels, ctx.chunk, ctx.pairs = kernels, chunk, pairs
        if need_grad:
            ctx.save_for_backward(*tensors, *slopes)
        return sums

    @staticmethod
    def backward(ctx, grad):
        _refuse_higher_order("linear_time_sums")
        n_layers, chunk, pairs = len(ctx.kernels), ctx.chunk, ctx.pairs
        saved = ctx.saved_tensors
        xs, ys = saved[:n_layers], saved[n_layers : 2 * n_layers]
        slopes = saved[2 * n_layers :]
        grads, bufs = [], {}
        for layer in range(n_layers):
            x, y = xs[layer], ys[layer]
            d = x.shape[1]
            gx, gy = torch.empty_like(x), torch.empty_like(y)
            gx[2 * pairs :].zero_()
            gy[2 * pairs :].zero_()
            gxv = gx[: 2 * pairs].view(pairs, 2, d)
            gyv = gy[: 2 * pairs].view(pairs, 2, d)
            # coefficient of (a - b) for each pair kind: 2 dT/dD = -2 grad_t W
            g4 = (grad.to(x.dtype) * -2.0)[:, None]
            for a in range(0, pairs, chunk):
                b = min(a + chunk, pairs)
                gd = _pair_diffs(x, y, a, b, _scratch(bufs, layer, x, (4, b - a, d)))
                gd.mul_((slopes[layer][:, a:b] * g4)[:, :, None])
                # gd: coefficient times x1 - x2, y1 - y2, y2 - x1, x2 - y1 (pair p: x1 = x_{2p},
                # x2 = x_{2p+1}); each difference a - b adds to a's gradient, subtracts from b's.
                torch.sub(gd[0], gd[2], out=gxv[a:b, 0])
                torch.sub(gd[3], gd[0], out=gxv[a:b, 1])
                torch.sub(gd[1], gd[3], out=gyv[a:b, 0])
                torch.sub(gd[2], gd[1], out=gyv[a:b, 1])
            grads.append((gx, gy))
        return (None, None, *(g[0] for g in grads), *(g[1] for g in grads))


def linear_time_sums(
    xs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    kernels: Sequence[MultiKernel],
    *,
    chunk: int | None = None,
    owner: str = "linear_time_sums",
) -> torch.Tensor:
    """The four sums of the linear-time MMD estimate (Gretton et al., JMLR 2012, Lemma 14),
    differentiable, in ``O((n + m) d)`` time and memory.

    With ``P = floor(min(n, m) / 2)`` pairs and ``k = prod_l k_l`` (``kernels[l]`` on layer
    ``l`` of ``xs`` / ``ys``), returns ``(4,)`` float64 ``[sum_p k(x_{2p}, x_{2p+1}),
    sum_p k(y_{2p}, y_{2p+1}), sum_p k(x_{2p}, y_{2p+1}), sum_p k(x_{2p+1}, y_{2p})]``
    (0-based ``p < P``); samples after the first ``2P`` are not used. ``chunk``: pairs per
    step, ``None`` for the largest that keeps the scratch space under :func:`step_bytes`.
    ``owner``: as in :func:`kernel_sums`.
    """
    if chunk is not None and not is_int_at_least(chunk, 1):
        raise ValueError(f"chunk must be a positive int or None, got {chunk!r}")
    _check_layer_counts(xs, ys, kernels, "linear_time_sums")
    xs, ys = [_widened(x) for x in xs], [_widened(y) for y in ys]
    check_distances_fit(xs, ys, owner)
    # Autocast off inside, as kernel_sums: in the caller's torch.autocast the gradient's
    # products ran in bfloat16
    with torch.autocast(xs[0].device.type, enabled=False):
        return _LinearTimeSums.apply(tuple(kernels), chunk, *xs, *ys)
