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
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "MultiKernel",
    "dan_scales",
    "gaussian_multi_kernel",
    "kernel_sums",
    "median_sq_dist",
    "pairwise_sq_dists",
    "sigmas_to_gammas",
]

# 256 x 256 float32 tiles and their 33 exponentials (8.6 MB) stay in a 2 MB L2 per
# core far better than 1024-tiles; measured fastest on the reference machine.
DEFAULT_BLOCK_SIZE = 256

MEDIAN_MODES = ("source", "pooled", "source_with_diagonal")


def dan_scales(low: float = -8.0, high: float = 8.0, num: int = 33, base: float = 2.0):
    """The multi-kernel family of DAN (Long et al., "Learning Transferable Features with
    Deep Adaptation Networks", ICML 2015): ``num`` scales ``base**t`` for ``t`` evenly
    spaced in ``[low, high]`` (default ``2^-8 .. 2^8`` in steps of ``2^0.5``, 33 scales,
    identical to ``pytorch_adapt.layers.utils.get_kernel_scales()``).

    Returns a tuple of ``num`` floats; each multiplies the median-heuristic bandwidth.
    """
    if num < 1:
        raise ValueError(f"dan_scales: num must be >= 1, got {num}")
    if num == 1:
        return (float(base**low),)
    step = (high - low) / (num - 1)
    return tuple(float(base ** (low + i * step)) for i in range(num))


def pairwise_sq_dists(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances ``||x_i - y_j||^2``.

    ``x`` ``(n, d)``, ``y`` ``(m, d)`` (``None``: ``y = x``, and the diagonal is exactly 0).
    Returns ``(n, m)``. One matmul, ``||x||^2 + ||y||^2 - 2 x y^T``, clamped at 0
    because rounding can make it slightly negative.
    """
    same = y is None
    y = x if same else y
    xn = (x * x).sum(1)
    yn = xn if same else (y * y).sum(1)
    d2 = torch.addmm(xn[:, None] + yn[None, :], x, y.T, alpha=-2.0).clamp_min_(0)
    if same:
        d2.fill_diagonal_(0)
    return d2


def _subsample(x: torch.Tensor, max_samples: int) -> torch.Tensor:
    # Evenly spaced rows: deterministic, and cheap for n in the millions.
    if x.shape[0] <= max_samples:
        return x
    idx = torch.linspace(0, x.shape[0] - 1, max_samples, device=x.device).round().long()
    return x[idx]


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
    bounded; it is computed without gradient (the bandwidth is a constant).
    """
    if mode not in MEDIAN_MODES:
        raise ValueError(f"median_sq_dist: mode must be one of {MEDIAN_MODES}, got {mode!r}")
    if max_samples < 2:
        raise ValueError(f"median_sq_dist: max_samples must be >= 2, got {max_samples}")
    if mode == "pooled":
        if target is None:
            raise ValueError("median_sq_dist: mode='pooled' needs target")
        pts = _subsample(torch.cat([source, target]), max_samples)
    else:
        pts = _subsample(source, max_samples)
    d2 = pairwise_sq_dists(pts)
    if mode == "source_with_diagonal":
        values = d2.reshape(-1)
    else:
        if pts.shape[0] < 2:
            raise ValueError(
                f"median_sq_dist: mode={mode!r} needs at least 2 samples, got {pts.shape[0]}"
            )
        iu = torch.triu_indices(pts.shape[0], pts.shape[0], offset=1, device=pts.device)
        values = d2[iu[0], iu[1]]
    return values.median()


def sigmas_to_gammas(sigmas: Sequence[float], *, name: str = "sigmas") -> tuple[float, ...]:
    """``gamma = 1 / (2 sigma^2)`` for each bandwidth; ``ValueError`` unless all are finite
    and positive and there is at least one."""
    sig = _positive_floats(sigmas, name)
    return tuple(1.0 / (2.0 * s * s) for s in sig)


def _positive_floats(values, name: str) -> tuple[float, ...]:
    if isinstance(values, torch.Tensor):
        values = values.detach().reshape(-1).tolist()
    elif isinstance(values, (int, float)):
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


class MultiKernel:
    """An average of Gaussian kernels ``sum_s w_s exp(-gamma_s D)``, uniform ``w_s``.

    Evaluating it on a tile of squared distances takes one ``exp`` per rate, except
    that a rate which is exactly twice an earlier one reuses it by squaring
    (``exp(-2 g D) = exp(-g D)^2``), as in DAN's power-of-two families. A chain of
    squarings multiplies the relative rounding error by 2 per step, so chains are cut
    after ``max_square_depth`` steps (3: at most 8 ulp) and restart from a fresh ``exp``.
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
        self._rates_cache: dict = {}

    def __len__(self) -> int:
        return len(self.gammas)

    def _rates(self, like: torch.Tensor) -> torch.Tensor:
        key = (like.dtype, like.device)
        if key not in self._rates_cache:
            self._rates_cache[key] = torch.tensor(self.gammas, dtype=like.dtype, device=like.device)
        return self._rates_cache[key]

    def values_and_slopes(self, d2: torch.Tensor, buf: torch.Tensor | None = None):
        """Kernel values ``K = sum_s w_s e^{-g_s D}`` and slopes ``W = sum_s w_s g_s e^{-g_s D}``
        (``dK/dD = -W``) on a tile ``d2`` of any shape; both shaped like ``d2``.

        ``buf`` optional ``(len(self), d2.numel())`` scratch space. Not differentiable.
        """
        flat = d2.reshape(-1)
        if buf is None or buf.shape != (len(self), flat.numel()):
            buf = flat.new_empty((len(self), flat.numel()))
        for k, src in enumerate(self.plan):
            if src < 0:
                torch.mul(flat, -self.gammas[k], out=buf[k]).exp_()
            else:
                torch.mul(buf[src], buf[src], out=buf[k])
        # Uniform weights: K is a column sum; W one matrix-vector product. (A (2, S) @ (S, N)
        # matmul is equivalent but MKL runs that shape very slowly on a busy machine.)
        k = buf.sum(0).mul_(self.weight)
        w = (self._rates(flat) @ buf).mul_(self.weight)
        return k.view_as(d2), w.view_as(d2)


class _MultiKernelOfDistances(torch.autograd.Function):
    # K(D) elementwise in chunks (the scratch space stays small); dK/dD = -W is kept
    # for backward, so the exponentials are computed once.
    @staticmethod
    def forward(ctx, kern, d2, chunk):
        flat = d2.reshape(-1)
        k, w = torch.empty_like(flat), torch.empty_like(flat)
        buf = None
        for a in range(0, flat.numel(), chunk):
            b = min(a + chunk, flat.numel())
            if buf is None or buf.shape[1] != b - a:
                buf = flat.new_empty((len(kern), b - a))
            k[a:b], w[a:b] = kern.values_and_slopes(flat[a:b], buf)
        ctx.save_for_backward(w)
        return k.view_as(d2)

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return None, -grad * w.view_as(grad), None


def gaussian_multi_kernel(
    d2: torch.Tensor, gammas: Sequence[float], *, chunk: int = 1 << 16
) -> torch.Tensor:
    """Differentiable ``sum_s w_s exp(-gamma_s d2)`` (uniform ``w_s``) for squared
    distances ``d2`` of any shape; returns the same shape.

    Evaluated in chunks of ``chunk`` elements with :class:`MultiKernel`, so memory is
    ``O(d2.numel())`` whatever the number of kernels (the linear-time estimate); for
    all pairs of two samples use :func:`kernel_sums`. First derivatives only.
    """
    return _MultiKernelOfDistances.apply(MultiKernel(gammas), d2, chunk)


def _tiles(n: int, block: int):
    return [(a, min(a + block, n)) for a in range(0, n, block)]


def _sq_dist_tile(a, b, an, bn, diagonal: bool):
    d2 = torch.addmm(an[:, None] + bn[None, :], a, b.T, alpha=-2.0).clamp_min_(0)
    if diagonal:
        d2.fill_diagonal_(0)  # exact self-distance, so k(x, x) = 1 exactly
    return d2


def _accumulate_pair(xs, ys, kernels, *, symmetric, exclude_diagonal, block, need_grad, bufs):
    """Sum of the (product) kernel over all pairs of ``xs`` x ``ys`` tiles, and its
    unscaled gradients w.r.t. every layer of ``xs`` and ``ys``.

    ``symmetric``: ``ys is xs``; only tiles ``I <= J`` are evaluated and off-diagonal
    tiles count twice. Returns ``(total, grads_x, grads_y)``; ``grads_y is grads_x``
    when symmetric.
    """
    n, m = xs[0].shape[0], ys[0].shape[0]
    xn = [(x * x).sum(1) for x in xs]
    yn = xn if symmetric else [(y * y).sum(1) for y in ys]
    gx = [torch.zeros_like(x) for x in xs] if need_grad else None
    gy = gx if symmetric else ([torch.zeros_like(y) for y in ys] if need_grad else None)
    total = torch.zeros((), dtype=torch.float64, device=xs[0].device)
    for ti, (i0, i1) in enumerate(_tiles(n, block)):
        for tj, (j0, j1) in enumerate(_tiles(m, block)):
            if symmetric and tj < ti:
                continue
            diagonal = symmetric and ti == tj
            mult = 2.0 if symmetric and not diagonal else 1.0
            vals, slopes = [], []
            for layer, kern in enumerate(kernels):
                d2 = _sq_dist_tile(
                    xs[layer][i0:i1], ys[layer][j0:j1], xn[layer][i0:i1], yn[layer][j0:j1], diagonal
                )
                buf = bufs.get((layer, d2.numel()))
                if buf is None:
                    buf = bufs[(layer, d2.numel())] = d2.new_empty((len(kern), d2.numel()))
                k, w = kern.values_and_slopes(d2, buf)
                vals.append(k)
                slopes.append(w)
            kprod = vals[0] if len(vals) == 1 else torch.stack(vals).prod(0)
            if diagonal and exclude_diagonal:
                # kprod is a fresh tensor (a column sum, or a product), never a slope.
                kprod.fill_diagonal_(0)
            total += mult * kprod.sum(dtype=torch.float64)
            if not need_grad:
                continue
            for layer in range(len(kernels)):
                # d/dx_i of prod_l k_l = (prod_{l' != l} k_l') * dk_l/dD * 2 (x_i - y_j).
                w = slopes[layer]
                for other in range(len(kernels)):
                    if other != layer:
                        w = w * vals[other]
                xa, yb = xs[layer][i0:i1], ys[layer][j0:j1]
                c = -2.0 * mult
                gx[layer][i0:i1] += c * (w.sum(1, keepdim=True) * xa - w @ yb)
                gy[layer][j0:j1] += c * (w.sum(0)[:, None] * yb - w.T @ xa)
    return total, gx, gy


class _KernelSums(torch.autograd.Function):
    """``[S_xx, S_yy, S_xy]`` with ``S_ab = sum_ij prod_l k_l(a^l_i, b^l_j)``.

    The forward pass accumulates the gradient of each sum w.r.t. each input (the
    gradient of a sum over pairs is a sum over pairs), so backward is a weighted sum
    of stored ``(n, d)`` arrays: the exponentials are computed once, and no ``(n, n)``
    tile outlives its loop iteration. First-order gradients only (no double backward).
    """

    @staticmethod
    def forward(ctx, kernels, exclude_diagonal, block, *tensors):
        n_layers = len(kernels)
        xs, ys = tensors[:n_layers], tensors[n_layers:]
        need_grad = any(ctx.needs_input_grad[3:])
        bufs: dict = {}
        opts = dict(block=block, need_grad=need_grad, bufs=bufs)
        s_xx, g_xx, _ = _accumulate_pair(
            xs, xs, kernels, symmetric=True, exclude_diagonal=exclude_diagonal, **opts
        )
        s_yy, g_yy, _ = _accumulate_pair(
            ys, ys, kernels, symmetric=True, exclude_diagonal=exclude_diagonal, **opts
        )
        s_xy, g_xy_x, g_xy_y = _accumulate_pair(
            xs, ys, kernels, symmetric=False, exclude_diagonal=False, **opts
        )
        ctx.n_layers = n_layers
        if need_grad:
            ctx.save_for_backward(*g_xx, *g_yy, *g_xy_x, *g_xy_y)
        # float64 so that estimators can take differences of the sums without
        # cancellation (the MMD is often 1e-4 of each term).
        return torch.stack([s_xx, s_yy, s_xy])

    @staticmethod
    def backward(ctx, grad):
        n_layers = ctx.n_layers
        saved = ctx.saved_tensors
        g_xx, g_yy = saved[:n_layers], saved[n_layers : 2 * n_layers]
        g_xy_x, g_xy_y = saved[2 * n_layers : 3 * n_layers], saved[3 * n_layers :]
        g = [grad[i].to(saved[0].dtype) for i in range(3)]
        gx = [g[0] * a + g[2] * b for a, b in zip(g_xx, g_xy_x)]
        gy = [g[1] * a + g[2] * b for a, b in zip(g_yy, g_xy_y)]
        return (None, None, None, *gx, *gy)


def kernel_sums(
    xs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    kernels: Sequence[MultiKernel],
    *,
    exclude_diagonal: bool,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> torch.Tensor:
    """Blockwise sums of a product of multi-kernels over all pairs, differentiable.

    ``xs[l]`` ``(n, d_l)`` and ``ys[l]`` ``(m, d_l)`` are layer ``l`` of the two samples,
    ``kernels[l]`` its :class:`MultiKernel`; the joint kernel is ``prod_l k_l`` (one
    layer: plain MMD; several: JMMD). Returns ``(3,)`` float64: ``[S_xx, S_yy, S_xy]``, each
    ``S_ab = sum_{i,j} prod_l k_l(a^l_i, b^l_j)``; with ``exclude_diagonal`` the ``i = j``
    terms of ``S_xx`` and ``S_yy`` are left out. Time ``O((n + m)^2 sum_l d_l)``, memory
    ``O(block_size^2 * len(kernel) + (n + m) d)`` in forward and backward.
    """
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    return _KernelSums.apply(tuple(kernels), bool(exclude_diagonal), block_size, *xs, *ys)
