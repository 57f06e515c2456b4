"""MMD estimators, kernels and the DAN loss, against independent references: NumPy
formulas written here, a Gaussian closed form, pytorch-adapt's MMDLoss and SciPy.
pytorch-adapt through the ``pa_layers`` fixture: it is optional, and a module-level import
stopped the collection of every other test here without it."""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist, pdist

import dtc.align as align
from dtc.align import LinearTimeMMDLoss, MMDLoss, mmd2, mmd2_biased, mmd2_linear, mmd2_unbiased
from dtc.align.kernels import (
    MultiKernel,
    _subsample,
    auto_block_size,
    dan_scales,
    kernel_sums,
    linear_time_sums,
    median_sq_dist,
    pairwise_sq_dists,
    step_bytes,
)

SIGMAS = (0.5, 1.0, 2.0)


def _pair(n=20, m=13, d=3, shift=0.5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randn(m, d, generator=g, dtype=dtype) + shift
    return x, y


# -- NumPy references -------------------------------------------------------------
def _np_kernel(a, b, sigmas):
    d2 = cdist(a, b, "sqeuclidean")
    return np.mean([np.exp(-d2 / (2 * s**2)) for s in sigmas], axis=0)


def _np_mmd2(x, y, sigmas, estimator):
    x, y = np.asarray(x), np.asarray(y)
    n, m = len(x), len(y)
    if estimator == "linear":
        p = min(n, m) // 2
        total = 0.0
        for i in range(p):
            x1, x2, y1, y2 = x[2 * i], x[2 * i + 1], y[2 * i], y[2 * i + 1]
            k = lambda a, b: _np_kernel(a[None], b[None], sigmas)[0, 0]  # noqa: E731
            total += k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)
        return total / p
    kxx, kyy, kxy = _np_kernel(x, x, sigmas), _np_kernel(y, y, sigmas), _np_kernel(x, y, sigmas)
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    off = lambda k: (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))  # noqa: E731
    return off(kxx) + off(kyy) - 2 * kxy.mean()


def _gaussian_mmd2_closed_form(delta_sq, sigma, d):
    # P = N(mu1, I), Q = N(mu2, I), k = exp(-|x-y|^2 / (2 s^2)): E k over z ~ N(mu, 2I).
    c = (sigma**2 / (sigma**2 + 2)) ** (d / 2)
    return 2 * c * (1 - math.exp(-delta_sq / (2 * (sigma**2 + 2))))


# -- kernels --------------------------------------------------------------------
def test_pairwise_sq_dists_matches_scipy():
    x, y = _pair()
    np.testing.assert_allclose(pairwise_sq_dists(x, y), cdist(x, y, "sqeuclidean"), atol=1e-12)
    dxx = pairwise_sq_dists(x)
    assert torch.all(dxx.diagonal() == 0)
    np.testing.assert_allclose(dxx, cdist(x, x, "sqeuclidean"), atol=1e-12)


def test_median_modes_match_numpy():
    # 7 points: 21 distinct pairs and 49 ordered pairs, odd counts so the median is unique.
    x, y = _pair(n=7, m=6)
    d2 = pdist(x.numpy(), "sqeuclidean")
    assert median_sq_dist(x).item() == pytest.approx(np.median(d2), rel=1e-12)
    full = cdist(x.numpy(), x.numpy(), "sqeuclidean")
    assert median_sq_dist(x, mode="source_with_diagonal").item() == pytest.approx(
        np.median(full), rel=1e-12
    )
    pooled = pdist(np.vstack([x.numpy(), y.numpy()]), "sqeuclidean")  # 78 pairs: lower median
    assert median_sq_dist(x, y, mode="pooled").item() == pytest.approx(
        np.sort(pooled)[(len(pooled) - 1) // 2], rel=1e-12
    )
    # Subsampling above max_samples: evenly spaced points, deterministic.
    big = torch.randn(101, 3, dtype=torch.float64)
    sub = big[torch.linspace(0, 100, 11).round().long()]
    assert median_sq_dist(big, max_samples=11) == median_sq_dist(sub)
    # the same rows whatever the default dtype (a float64 default picked others)
    many = torch.randn(50_000, 2, generator=torch.Generator().manual_seed(0))
    expected = median_sq_dist(many)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert median_sq_dist(many) == expected
    finally:
        torch.set_default_dtype(default)


def test_dan_scales_equal_pytorch_adapt_family(pa_layers):
    from pytorch_adapt.layers.utils import get_kernel_scales

    np.testing.assert_allclose(dan_scales(), get_kernel_scales().numpy(), rtol=1e-14)
    assert len(dan_scales()) == 33


@pytest.mark.parametrize("num", [0, 2.5, "3", True])
def test_dan_scales_refuses_a_number_of_scales_that_is_no_positive_int(num):
    # 2.5 and "3" failed inside range() or a comparison, naming nothing; True gave 1 scale
    with pytest.raises(ValueError, match="dan_scales: num must be an int >= 1"):
        dan_scales(num=num)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        # 0 divided by zero, -2 gave complex numbers, 1 the same scale 33 times
        ({"base": 0.0}, r"^dan_scales: base must be a number > 0"),
        ({"base": -2.0}, r"^dan_scales: base must be a number > 0"),
        ({"base": 1.0}, r"^dan_scales: base must be a number > 0 other than 1"),
        ({"low": float("nan")}, r"^dan_scales: low must be a number"),
        ({"high": -9.0}, r"^dan_scales: high must be a number >= -8.0"),
    ],
)
def test_dan_scales_refuses_a_family_that_is_no_family(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dan_scales(**kwargs)


def test_multikernel_squaring_chain_matches_direct_exp():
    gammas = [1.0 / s for s in dan_scales()]
    kern = MultiKernel(gammas)
    assert sum(src < 0 for src in kern.plan) == 9  # 24 of 33 exps replaced by squarings
    d2 = torch.linspace(0, 40, 1001, dtype=torch.float64)
    e = torch.exp(-d2[:, None] * torch.tensor(kern.gammas, dtype=torch.float64))
    for dtype, rtol in ((torch.float64, 1e-13), (torch.float32, 2e-6)):
        k, w = kern.values_and_slopes(d2.to(dtype))
        np.testing.assert_allclose(k, e.mean(1), rtol=rtol, atol=1e-30)
        slopes = (e * torch.tensor(kern.gammas, dtype=torch.float64)).mean(1)
        np.testing.assert_allclose(w, slopes, rtol=rtol, atol=1e-30)


def test_multikernel_repeated_rates_and_extreme_distances():
    # Repeated rates make two squarings share a source (the gathered, non-slice path).
    gammas = [1.0, 2.0, 2.0, 4.0, 0.3]
    kern = MultiKernel(gammas)
    d2 = torch.tensor([0.0, 1e-3, 0.7, 3.0, 50.0], dtype=torch.float64)
    e = torch.exp(-d2[:, None] * torch.tensor(sorted(gammas), dtype=torch.float64))
    k, w = kern.values_and_slopes(d2)
    np.testing.assert_allclose(k, e.mean(1), rtol=1e-13)
    rates = torch.tensor(sorted(gammas), dtype=torch.float64)
    np.testing.assert_allclose(w, (e * rates).mean(1), rtol=1e-13)
    # Underflowing exponents are clamped just above the smallest normal number, and a
    # slightly negative rounding artefact never gives a kernel value above 1.
    for dtype in (torch.float32, torch.float64):
        k, w = MultiKernel([1.0, 2.0]).values_and_slopes(
            torch.tensor([-1e-6, 0.0, 1e6], dtype=dtype)
        )
        assert k[0] == 1 and k[1] == 1
        assert 0 <= k[2] < 4 * torch.finfo(dtype).tiny and 0 <= w[2] < 8 * torch.finfo(dtype).tiny


def test_auto_block_size_fits_the_step_budget(monkeypatch):
    for threads in (1, 2):
        monkeypatch.setattr(torch, "get_num_threads", lambda t=threads: t)
        for n, s in ((4096, 33), (16384, 33), (300, 1), (5, 34)):
            b = auto_block_size(n, s, 4)
            tiles = -(-n // b)
            assert b * b * (s + 8) * 4 <= step_bytes() or b <= 64
            assert tiles * b - n < tiles  # evened out: the tiles differ by at most one
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert auto_block_size(4096, 33, 4) == 1024


def test_kernel_sums_blockwise_equals_dense():
    x, y = _pair(n=23, m=17)
    kern = MultiKernel([1 / (2 * s**2) for s in SIGMAS])
    kxx, kyy, kxy = (_np_kernel(a, b, SIGMAS) for a, b in ((x, x), (y, y), (x, y)))
    for block in (1, 5, 256):
        full = kernel_sums([x], [y], [kern], exclude_diagonal=False, block_size=block)
        np.testing.assert_allclose(full, [kxx.sum(), kyy.sum(), kxy.sum()], rtol=1e-13)
        off = kernel_sums([x], [y], [kern], exclude_diagonal=True, block_size=block)
        np.testing.assert_allclose(off, [kxx.sum() - 23, kyy.sum() - 17, kxy.sum()], rtol=1e-13)


def test_kernel_and_linear_time_sums_need_one_kernel_per_layer():
    # zip dropped the layers past the shortest list: a JMMD over two layers with one kernel
    # returned the one-layer sums
    x, y = _pair(n=8, m=8)
    kern = MultiKernel([1.0])
    for call in (
        lambda: kernel_sums([x, x], [y, y], [kern], exclude_diagonal=False),
        lambda: linear_time_sums([x, x], [y, y], [kern]),
        lambda: linear_time_sums([x, x], [y], [kern, kern]),
    ):
        with pytest.raises(ValueError, match=r"_sums: expected one layer of xs and ys per kernel"):
            call()


# -- estimators against NumPy -------------------------------------------------------
@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
@pytest.mark.parametrize("block_size", [4, 256])
def test_mmd2_matches_numpy(estimator, block_size):
    x, y = _pair(n=21, m=13)
    kwargs = {} if estimator == "linear" else {"block_size": block_size}
    got = mmd2(x, y, estimator=estimator, sigmas=SIGMAS, **kwargs)
    assert got.item() == pytest.approx(_np_mmd2(x, y, SIGMAS, estimator), rel=1e-11)
    named = {"biased": mmd2_biased, "unbiased": mmd2_unbiased, "linear": mmd2_linear}[estimator]
    assert named(x, y, sigmas=SIGMAS, **kwargs).item() == got.item()


def test_linear_estimator_drops_unpaired_samples():
    x, y = _pair(n=21, m=13)
    # 6 pairs: only the first 12 samples of each domain count.
    assert (
        mmd2_linear(x, y, sigmas=SIGMAS).item() == mmd2_linear(x[:12], y[:12], sigmas=SIGMAS).item()
    )


def test_linear_kernel_closed_forms():
    x, y = _pair(n=15, m=9, d=4)
    mean_gap = ((x.mean(0) - y.mean(0)) ** 2).sum()
    assert mmd2_biased(x, y, kernel="linear").item() == pytest.approx(mean_gap.item(), rel=1e-12)
    gx, gy, gxy = (x @ x.T).numpy(), (y @ y.T).numpy(), (x @ y.T).numpy()
    unb = (
        (gx.sum() - np.trace(gx)) / (15 * 14) + (gy.sum() - np.trace(gy)) / (9 * 8) - 2 * gxy.mean()
    )
    assert mmd2_unbiased(x, y, kernel="linear").item() == pytest.approx(unb, rel=1e-12)
    lin = np.mean(
        [
            x[2 * i] @ x[2 * i + 1]
            + y[2 * i] @ y[2 * i + 1]
            - x[2 * i] @ y[2 * i + 1]
            - x[2 * i + 1] @ y[2 * i]
            for i in range(4)
        ]
    )
    assert mmd2_linear(x, y, kernel="linear").item() == pytest.approx(lin, rel=1e-12)
    loss = MMDLoss(kernel="linear", estimator="biased")
    assert loss(x, y).item() == pytest.approx(mean_gap.item(), rel=1e-12)


# -- against pytorch-adapt ----------------------------------------------------------
@pytest.mark.parametrize("scales", [[1.0, 2.0, 4.0], None])
def test_quadratic_matches_pytorch_adapt(pa_layers, scales):
    from pytorch_adapt.layers.utils import get_kernel_scales

    x, y = _pair(n=40, m=31, d=5)
    pa_scales = get_kernel_scales() if scales is None else torch.tensor(scales, dtype=torch.float64)
    ref = pa_layers.MMDLoss(kernel_scales=pa_scales, mmd_type="quadratic")(x, y)
    # pytorch-adapt multiplies the kernel *rate* by its scales: dtc's scales are 1/s.
    ours = MMDLoss(scales=(1.0 / pa_scales).tolist(), median="source_with_diagonal", block_size=16)(
        x, y
    )
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)


def test_linear_time_matches_pytorch_adapt(pa_layers):
    from pytorch_adapt.layers.utils import get_kernel_scales

    x, y = _pair(n=40, m=40, d=5)
    ref = pa_layers.MMDLoss(kernel_scales=get_kernel_scales(), mmd_type="linear")(x, y)
    ours = LinearTimeMMDLoss(median="source_with_diagonal")(x, y)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)


def test_readme_recipe_for_pytorch_adapt_mmd_matches_its_default(pa_layers):
    # The README's recipe left out estimator="linear": pytorch-adapt's MMDLoss defaults to
    # mmd_type="linear", dtc's to "unbiased", so the recipe gave another number.
    from pytorch_adapt.layers.utils import get_kernel_scales

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(
        r"To reproduce pytorch-adapt's `MMDLoss\(kernel_scales=s\)`, use\s+`(MMDLoss\(.*?\))`",
        readme,
        flags=re.S,
    )
    assert found, "the README's recipe for pytorch-adapt's MMDLoss is gone"
    x, y = _pair(n=40, m=40, d=5)
    for s in (get_kernel_scales(), torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)):
        recipe = eval(found.group(1), {"MMDLoss": MMDLoss, "s": s})
        ref = pa_layers.MMDLoss(kernel_scales=s)(x, y)
        assert recipe(x, y).item() == pytest.approx(ref.item(), rel=1e-10)


def test_loss_with_sigmas_and_bandwidth_matches_function():
    x, y = _pair()
    assert MMDLoss(sigmas=SIGMAS)(x, y).item() == mmd2_unbiased(x, y, sigmas=SIGMAS).item()
    # exp(-D / (scale h)) = exp(-D / (2 sigma^2)) with sigma = sqrt(scale h / 2).
    h, scales = 3.0, (0.5, 2.0)
    sig = [math.sqrt(s * h / 2) for s in scales]
    got = MMDLoss(scales=scales, bandwidth=h, estimator="biased")(x, y)
    assert got.item() == pytest.approx(mmd2_biased(x, y, sigmas=sig).item(), rel=1e-12)


# -- properties -------------------------------------------------------------------
def test_floor_on_identical_samples():
    x, _ = _pair(n=30)
    for block in (7, 256):
        b = mmd2_biased(x, x.clone(), sigmas=SIGMAS, block_size=block).item()
        assert abs(b) < 1e-14
    assert mmd2_biased(x, x, kernel="linear").item() == 0.0


def test_unbiased_averages_zero_and_goes_negative_under_the_null():
    g = torch.Generator().manual_seed(1)
    unb, bia = [], []
    for _ in range(120):
        x, y = torch.randn(20, 2, generator=g), torch.randn(20, 2, generator=g)
        unb.append(mmd2_unbiased(x, y, sigmas=[1.0]).item())
        bia.append(mmd2_biased(x, y, sigmas=[1.0]).item())
    unb, bia = np.array(unb), np.array(bia)
    se = unb.std() / math.sqrt(len(unb))
    assert abs(unb.mean()) < 3 * se  # the U-statistic is unbiased: mean 0 under P = Q
    assert (unb < 0).mean() > 0.2  # ... so it is often negative
    assert bia.mean() > 10 * se and (bia >= 0).all()  # the V-statistic is biased upwards


def test_estimators_average_to_closed_form():
    # P = N(0, I_2), Q = N((0.8, 0), I_2): MMD^2 has a closed form for a Gaussian kernel.
    sigma, d = 1.0, 2
    truth = _gaussian_mmd2_closed_form(0.64, sigma, d)
    g = torch.Generator().manual_seed(2)
    shift = torch.tensor([0.8, 0.0], dtype=torch.float64)
    lin, quad = [], []
    for _ in range(120):
        x = torch.randn(40, d, generator=g, dtype=torch.float64)
        y = torch.randn(40, d, generator=g, dtype=torch.float64) + shift
        lin.append(mmd2_linear(x, y, sigmas=[sigma]).item())
        quad.append(mmd2_unbiased(x, y, sigmas=[sigma]).item())
    lin, quad = np.array(lin), np.array(quad)
    se_lin, se_quad = lin.std() / math.sqrt(120), quad.std() / math.sqrt(120)
    assert abs(quad.mean() - truth) < 4 * se_quad
    assert abs(lin.mean() - truth) < 4 * se_lin
    assert abs(lin.mean() - quad.mean()) < 4 * math.hypot(se_lin, se_quad)
    assert lin.std() > 2 * quad.std()  # the price of linear time


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_grows_with_mean_shift(estimator):
    x, y0 = _pair(n=200, m=200, shift=0.0, seed=3)
    vals = [mmd2(x, y0 + s, estimator=estimator, sigmas=SIGMAS).item() for s in (0.5, 1.0, 2.0)]
    assert vals[0] < vals[1] < vals[2]


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_symmetric(estimator):
    x, y = _pair(n=20, m=20)
    a = mmd2(x, y, estimator=estimator, sigmas=SIGMAS)
    b = mmd2(y, x, estimator=estimator, sigmas=SIGMAS)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_invariant_to_sample_order(estimator):
    x, y = _pair(n=21, m=13)
    a = mmd2(x, y, estimator=estimator, sigmas=SIGMAS, block_size=4)
    b = mmd2(
        x[torch.randperm(21)],
        y[torch.randperm(13)],
        estimator=estimator,
        sigmas=SIGMAS,
        block_size=4,
    )
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
@pytest.mark.parametrize("kernel", ["gaussian", "linear"])
def test_gradcheck(estimator, kernel):
    x, y = _pair(n=9, m=7, d=3)
    x.requires_grad_(True)
    y.requires_grad_(True)
    sig = SIGMAS if kernel == "gaussian" else None
    kw = {} if estimator == "linear" else {"block_size": 4}  # blocks smaller than n

    def f(a, b):
        return mmd2(a, b, estimator=estimator, sigmas=sig, kernel=kernel, **kw)

    assert torch.autograd.gradcheck(f, (x, y))


def test_gradcheck_loss_with_dan_family_and_float32_gradient():
    x, y = _pair(n=7, m=6, d=2)
    x.requires_grad_(True)
    y.requires_grad_(True)
    loss = MMDLoss(block_size=3, bandwidth=2.0)
    assert torch.autograd.gradcheck(loss, (x, y))
    # float32 blockwise gradient against float64 autograd of a dense NumPy-style formula.
    kern_rates = torch.tensor([1 / (s * 2.0) for s in dan_scales()], dtype=torch.float64)

    def dense(a, b):
        k = lambda p, q: torch.exp(-torch.cdist(p, q).pow(2)[..., None] * kern_rates).mean(-1)  # noqa: E731
        kxx, kyy = k(a, a), k(b, b)
        n, m = len(a), len(b)
        return (
            (kxx.sum() - n) / (n * (n - 1)) + (kyy.sum() - m) / (m * (m - 1)) - 2 * k(a, b).mean()
        )

    ref = torch.autograd.grad(dense(x, y), (x, y))
    x32, y32 = (t.detach().float().requires_grad_(True) for t in (x, y))
    got = torch.autograd.grad(loss(x32, y32), (x32, y32))
    for r, g_ in zip(ref, got):
        np.testing.assert_allclose(g_.double(), r, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_float32_samples_far_from_the_origin_keep_their_distances(estimator):
    # Features at 100 +- 0.1: the squared norms are 1e6 times the squared distances, and
    # float32's expansion ||x||^2 + ||y||^2 - 2 x.y put the MMD off by 4 % before centring.
    x, y = _pair(n=60, m=50, d=16, shift=0.02, seed=3)
    x, y = 0.1 * x + 100, 0.1 * y + 100
    ref = _np_mmd2(x.numpy(), y.numpy(), (0.3,), estimator)
    x32, y32 = (t.float().requires_grad_(True) for t in (x, y))
    got = mmd2(x32, y32, estimator=estimator, sigmas=(0.3,), block_size=16)
    assert got.item() == pytest.approx(ref, abs=1e-6)  # float32 kernels: 1e-7 a term
    # the gradient is the centred samples' (the shift is constant), against float64 autograd
    x64, y64 = ((t - 100).requires_grad_(True) for t in (x, y))
    want = torch.autograd.grad(mmd2(x64, y64, estimator=estimator, sigmas=(0.3,)), (x64, y64))
    for g_, r in zip(torch.autograd.grad(got, (x32, y32)), want):
        np.testing.assert_allclose(g_.double(), r, rtol=1e-3, atol=1e-6)
    # the median heuristic's distances too
    d2 = pairwise_sq_dists(x32.detach(), y32.detach()).double()
    np.testing.assert_allclose(d2, cdist(x, y, "sqeuclidean"), rtol=1e-3, atol=1e-5)
    loss = MMDLoss()
    assert loss(x32, y32).item() == pytest.approx(loss(x, y).item(), rel=1e-4)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_float32_domains_far_from_each_other_keep_their_distances(estimator):
    # Domains at -1000 and +1000 (spread 0.1): their pooled mean is near 0, so centring on
    # it alone left each domain 1000 from the origin, and float32 put the MMD 9x too high.
    x, y = _pair(n=64, m=64, d=8, shift=0.0, seed=0)
    x, y = 0.1 * x - 1000, 0.1 * y + 1000
    x32, y32 = (t.float().requires_grad_(True) for t in (x, y))
    x64, y64 = (t.detach().double().requires_grad_(True) for t in (x32, y32))
    for sigmas in ((0.14,), (0.14, 0.5)):
        ref = _np_mmd2(x64.detach().numpy(), y64.detach().numpy(), sigmas, estimator)
        got = mmd2(x32, y32, estimator=estimator, sigmas=sigmas)
        assert got.item() == pytest.approx(ref, rel=1e-4)
        want = torch.autograd.grad(mmd2(x64, y64, estimator=estimator, sigmas=sigmas), (x64, y64))
        for g_, r in zip(torch.autograd.grad(got, (x32, y32)), want):
            np.testing.assert_allclose(g_.double(), r, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_linear_kernel_float32_samples_far_from_the_origin(estimator):
    # Features at 100 +- 0.1: ||sum x||^2 + ||sum y||^2 - 2 sum x . sum y in float32 put
    # the biased estimate at 0.031 for 0.013 and the unbiased one at exactly 0.
    x, y = _pair(n=60, m=50, d=16, shift=0.2, seed=3)
    x32, y32 = ((0.1 * t + 100).float().requires_grad_(True) for t in (x, y))
    x64, y64 = (t.detach().double() for t in (x32, y32))  # the same (rounded) samples
    gx, gy, gxy = (x64 @ x64.T).numpy(), (y64 @ y64.T).numpy(), (x64 @ y64.T).numpy()
    n, m = 60, 50
    if estimator == "biased":
        ref = gx.mean() + gy.mean() - 2 * gxy.mean()
    elif estimator == "unbiased":
        ref = (gx.sum() - np.trace(gx)) / (n * (n - 1)) + (gy.sum() - np.trace(gy)) / (m * (m - 1))
        ref -= 2 * gxy.mean()
    else:
        ref = np.mean(
            [
                gx[2 * i, 2 * i + 1]
                + gy[2 * i, 2 * i + 1]
                - gxy[2 * i, 2 * i + 1]
                - gxy[2 * i + 1, 2 * i]
                for i in range(25)
            ]
        )
    got = mmd2(x32, y32, estimator=estimator, kernel="linear")
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(ref, rel=1e-3)
    # gradient against float64 autograd of the same samples
    x64.requires_grad_(True), y64.requires_grad_(True)
    want = torch.autograd.grad(mmd2(x64, y64, estimator=estimator, kernel="linear"), (x64, y64))
    for g_, r in zip(torch.autograd.grad(got, (x32, y32)), want):
        np.testing.assert_allclose(g_.double(), r, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_half_precision_features_past_float16_norms(dtype, estimator):
    # 256 features of std 20: a row's squared norm (~1e5) overflows float16 (max 65504);
    # computed in float16 the MMD came out 0 (fixed bandwidth) or NaN (median heuristic).
    x, y = _pair(n=32, m=32, d=256, shift=0.25, seed=5)
    x, y = 20 * x, 20 * y
    xh, yh = x.to(dtype), y.to(dtype)  # the rounded samples are the reference's too
    ref = _np_mmd2(xh.double().numpy(), yh.double().numpy(), (400.0,), estimator)
    xg = xh.clone().requires_grad_(True)
    got = mmd2(xg, yh, estimator=estimator, sigmas=(400.0,))
    assert got.dtype == dtype
    assert got.item() == pytest.approx(ref, rel=2e-2)
    (grad,) = torch.autograd.grad(got, xg)
    assert grad.dtype == dtype and torch.isfinite(grad).all() and grad.abs().sum() > 0
    # the median heuristic's distances are taken in float32 too
    want = np.median(pdist(xh.double().numpy(), "sqeuclidean"))
    assert median_sq_dist(xh).item() == pytest.approx(want, rel=1e-3)
    assert MMDLoss(estimator="biased" if estimator == "linear" else estimator)(xh, yh).isfinite()


@pytest.mark.parametrize("loss", [MMDLoss(), align.JMMDLoss()])
def test_kernel_sums_inside_the_callers_autocast(loss):
    # A training loop under torch.autocast feeds bfloat16 features: the tiles' products
    # were recast to bfloat16 beside float32 accumulators ("mat1 and mat2 must have the
    # same dtype"). The loss is now that of the same bfloat16 features outside autocast.
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 8)
    zs, zt = torch.randn(24, 8), torch.randn(20, 8) + 0.5
    probs = {"source_probs": torch.full((24, 3), 1 / 3), "target_probs": torch.full((20, 3), 1 / 3)}
    kwargs = {} if isinstance(loss, MMDLoss) else probs  # JMMD: features and predictions
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fs, ft = lin(zs), lin(zt)
        assert fs.dtype == torch.bfloat16
        got = loss(fs, ft, **kwargs)
    got.backward()
    assert lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all()
    want = loss(fs.detach(), ft.detach(), **kwargs)
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def _np_linear_kernel_mmd2(x, y, estimator):
    # x . y Gram matrices in float64, the definitions term by term
    gx, gy, gxy = x @ x.T, y @ y.T, x @ y.T
    n, m = len(x), len(y)
    if estimator == "biased":
        return gx.mean() + gy.mean() - 2 * gxy.mean()
    if estimator == "unbiased":
        off = lambda g, k: (g.sum() - np.trace(g)) / (k * (k - 1))  # noqa: E731
        return off(gx, n) + off(gy, m) - 2 * gxy.mean()
    i = 2 * np.arange(min(n, m) // 2)
    return np.mean(gx[i, i + 1] + gy[i, i + 1] - gxy[i, i + 1] - gxy[i + 1, i])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_linear_kernel_half_precision_features(dtype, estimator):
    # 256 features of std 20: the linear kernel's sums of squares overflow float16, and
    # mmd2 / MMDLoss(kernel="linear") returned -inf (unbiased) for ~6649.
    x, y = _pair(n=32, m=32, d=256, shift=0.25, seed=5)
    xh, yh = (20 * x).to(dtype), (20 * y).to(dtype)
    ref = _np_linear_kernel_mmd2(xh.double().numpy(), yh.double().numpy(), estimator)
    xg = xh.clone().requires_grad_(True)
    got = mmd2(xg, yh, estimator=estimator, kernel="linear")
    assert got.dtype == dtype
    assert got.item() == pytest.approx(ref, rel=1e-2)
    (grad,) = torch.autograd.grad(got, xg)
    assert grad.dtype == dtype and torch.isfinite(grad).all() and grad.abs().sum() > 0
    if estimator == "biased":  # the only estimator MMDLoss takes with the linear kernel
        loss = MMDLoss(estimator=estimator, kernel="linear")(xh, yh)
        assert loss.dtype == dtype and loss.item() == pytest.approx(ref, rel=1e-2)


def test_the_linear_kernel_loss_takes_the_biased_estimator_only():
    # The unbiased estimate is ||mean gap||^2 - tr(C_s) / (n - 1) - tr(C_t) / (m - 1): with
    # equal means, spreading the source lowers it without limit (a loss a network minimised
    # by widening its features), where the biased one stays 0.
    x, y = _pair(n=40, m=40, d=4, shift=0.0, seed=3)
    x = x - x.mean(0) + y.mean(0)
    centre = y.mean(0)
    values = [
        mmd2(centre + s * (x - centre), y, estimator="unbiased", kernel="linear").item()
        for s in (1, 10, 100)
    ]
    assert values[0] > values[1] > values[2] and values[2] < -100 * abs(values[0])
    assert mmd2(
        centre + 100 * (x - centre), y, estimator="biased", kernel="linear"
    ).item() == pytest.approx(0, abs=1e-9)
    for estimator in ("unbiased", "linear"):
        with pytest.raises(
            ValueError,
            match=f"MMDLoss: kernel='linear' needs estimator='biased' as a loss \\(got '{estimator}'\\)",
        ):
            MMDLoss(kernel="linear", estimator=estimator)


@pytest.mark.parametrize("chunk", [1, 2, None])
def test_linear_time_sums_match_numpy_and_gradcheck(chunk):
    # Odd n, n_s != n_t (the tail is unused) and chunks that do not divide the 4 pairs.
    x, y = _pair(n=9, m=10, d=3)
    kern = MultiKernel([1 / (2 * s**2) for s in SIGMAS])
    got = linear_time_sums([x], [y], [kern], chunk=chunk)
    pairs = [(x[0::2][:4], x[1::2][:4]), (y[0::2][:4], y[1::2][:4])]
    pairs += [(x[0::2][:4], y[1::2][:4]), (x[1::2][:4], y[0::2][:4])]
    ref = [np.diag(_np_kernel(a, b, SIGMAS)).sum() for a, b in pairs]
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    x.requires_grad_(True)
    y.requires_grad_(True)
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)  # each sum's gradient

    def f(a, b):
        return linear_time_sums([a, b[:, :2]], [b, a[:, :2]], [kern, kern], chunk=chunk) @ weights

    assert torch.autograd.gradcheck(f, (x[:9], y[:9]))
    assert torch.autograd.gradcheck(
        lambda a, b: linear_time_sums([a], [b], [kern], chunk=chunk) @ weights, (x, y)
    )


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_higher_order_gradients_are_refused(estimator):
    # The custom backward passes build the gradient from tensors saved without a graph,
    # so a derivative of that gradient would be wrong (quadratic) or fail obscurely
    # (linear-time); create_graph=True raises instead.
    x, y = _pair(n=8, m=6)
    x.requires_grad_(True)
    value = mmd2(x, y, estimator=estimator, sigmas=SIGMAS)
    with pytest.raises(RuntimeError, match=r"_sums: higher-order gradients \(create_graph"):
        torch.autograd.grad(value, x, create_graph=True)
    (grad,) = torch.autograd.grad(mmd2(x, y, estimator=estimator, sigmas=SIGMAS), x)
    assert torch.isfinite(grad).all() and not grad.requires_grad


def test_no_grad_inputs_and_registry():
    x, y = _pair()
    assert align.get("mmd").estimator == "unbiased"
    assert align.get("mmd_linear").estimator == "linear"
    out = align.get("mmd", sigmas=SIGMAS)(x, y)
    assert out.shape == () and not out.requires_grad
    assert "33 scales, bandwidth=median" in repr(align.get("mmd"))


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimator": "quadratic", "sigmas": SIGMAS}, "estimator must be one of"),
        ({"estimator": "biased"}, "needs sigmas"),
        ({"estimator": "biased", "sigmas": [1.0, 0.0]}, "finite and positive"),
        ({"estimator": "biased", "sigmas": [-1.0]}, "finite and positive"),
        ({"estimator": "biased", "sigmas": []}, "at least one"),
        ({"estimator": "biased", "sigmas": [1.0], "kernel": "linear"}, "must be None"),
        ({"estimator": "biased", "sigmas": [1.0], "kernel": "rbf"}, "kernel must be one of"),
        ({"estimator": "biased", "sigmas": [1.0], "block_size": 0}, "block_size"),
    ],
)
def test_bad_arguments(kwargs, match):
    x, y = _pair()
    with pytest.raises(ValueError, match=match):
        mmd2(x, y, **kwargs)


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_bad_tensors(estimator):
    x, y = _pair(n=5, m=5, d=3)
    with pytest.raises(ValueError, match="same feature dimension"):
        mmd2(x, y[:, :2], estimator=estimator, sigmas=SIGMAS)
    bad = x.clone()
    bad[1, 1] = float("nan")
    with pytest.raises(ValueError, match="source contains NaN"):
        mmd2(bad, y, estimator=estimator, sigmas=SIGMAS)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        mmd2(x[0], y, estimator=estimator, sigmas=SIGMAS)
    with pytest.raises(ValueError, match="NaN"):
        MMDLoss(estimator=estimator)(x, bad)
    with pytest.raises(ValueError, match=f"^mmd2_{estimator}: target has dtype torch.float32"):
        mmd2(x, y.float(), estimator=estimator, sigmas=SIGMAS)


@pytest.mark.parametrize("estimator", ["unbiased", "linear"])
def test_too_few_samples(estimator):
    x, y = _pair(n=5, m=5)
    with pytest.raises(ValueError, match="target has 1 samples, expected at least 2"):
        mmd2(x, y[:1], estimator=estimator, sigmas=SIGMAS)
    with pytest.raises(ValueError, match="source has 1 samples, expected at least 2"):
        MMDLoss(estimator=estimator)(x[:1], y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimator": "mystery"}, "estimator must be one of"),
        ({"kernel": "rbf"}, "kernel must be one of"),
        ({"median": "target"}, "median must be one of"),
        ({"scales": [1.0, -2.0]}, "scales must all be finite and positive"),
        ({"bandwidth": 0.0}, "bandwidth must all be finite and positive"),
        ({"sigmas": [0.0]}, "sigmas must all be finite and positive"),
        ({"sigmas": [1.0], "scales": [1.0]}, "either sigmas or scales"),
        ({"kernel": "linear", "sigmas": [1.0]}, "takes no sigmas"),
        ({"block_size": 0}, "block_size must be a positive int"),
        ({"median_max_samples": 1}, "median_max_samples"),
        # The median heuristic is not used, so a median mode would be ignored.
        ({"sigmas": [1.0], "median": "pooled"}, "median='pooled' has no effect"),
        ({"bandwidth": 2.0, "median": "source_with_diagonal"}, "has no effect"),
        ({"kernel": "linear", "estimator": "biased", "median": "pooled"}, "has no effect"),
        # One bandwidth is documented: several are an error, not cut to the first.
        ({"bandwidth": [2.0, 100.0]}, r"bandwidth must be one positive number, got 2 values"),
        ({"bandwidth": torch.tensor([2.0, 3.0])}, "bandwidth must be one positive number"),
        # A string is not read character by character ("25" as 2.0, "12" as (1.0, 2.0)).
        ({"bandwidth": "25"}, "bandwidth must be given as numbers, not as a string"),
        ({"sigmas": "12"}, "sigmas must be given as numbers, not as a string"),
        ({"scales": b"12"}, "scales must be given as numbers, not as a string"),
    ],
)
def test_loss_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=f"^MMDLoss: .*{match}"):
        MMDLoss(**kwargs)


def test_errors_name_the_subclass_built():
    # LinearTimeMMDLoss, or a user's variant of MMDLoss (the README's OneKernelMMD), is named
    # in its own messages, not as the MMDLoss it derives from.
    class OneKernelMMD(MMDLoss):
        pass

    with pytest.raises(ValueError, match="^OneKernelMMD: estimator must be one of"):
        OneKernelMMD(estimator="quadratic")
    with pytest.raises(ValueError, match="^OneKernelMMD: scales"):
        OneKernelMMD(scales=[-1.0])
    same = torch.ones(6, 3)
    with pytest.raises(
        ValueError, match="^LinearTimeMMDLoss: the median heuristic gave bandwidth 0"
    ):
        LinearTimeMMDLoss()(same, same + 1)


@pytest.mark.parametrize("cls", [MMDLoss, LinearTimeMMDLoss])
@pytest.mark.parametrize("bandwidth", [2.0, 2, [2.0], torch.tensor(2.0), np.float32(2.0)])
def test_one_bandwidth_in_any_numeric_form_is_the_same_loss(cls, bandwidth):
    x, y = _pair()
    expected = cls(bandwidth=2.0)(x, y).item()
    assert cls(bandwidth=bandwidth).family.bandwidth == 2.0
    assert cls(bandwidth=bandwidth)(x, y).item() == expected


def test_mmd2_sigmas_as_a_string_are_refused():
    x, y = _pair()
    with pytest.raises(ValueError, match="^mmd2_biased: sigmas must be given as numbers, not as"):
        mmd2_biased(x, y, sigmas="12")


def test_median_mode_with_fixed_bandwidths_only_at_its_default():
    x, y = _pair()
    fixed = MMDLoss(sigmas=SIGMAS, median="source")(x, y)
    assert fixed.item() == mmd2_unbiased(x, y, sigmas=SIGMAS).item()


@pytest.mark.parametrize("median", ["source", "source_with_diagonal"])
def test_median_heuristic_needs_two_source_samples(median):
    # One source sample has no pair (or only its zero self-distance): no bandwidth. With the
    # diagonal, two rows give pairs [0, h, h, 0], whose lower median is 0 however far apart
    # they lie: refused as too few (it said "source samples coincide?" of distinct rows).
    x, y = _pair(n=5, m=5)
    least = 3 if median == "source_with_diagonal" else 2
    with pytest.raises(
        ValueError,
        match=rf"^MMDLoss: the median heuristic \(median='{median}'\) needs at least {least} "
        f"source samples, got {least - 1}; pass bandwidth= or sigmas=",
    ):
        MMDLoss(estimator="biased", median=median)(x[: least - 1], y)
    assert torch.isfinite(MMDLoss(estimator="biased", median=median)(x[:least], y))
    # Fixed bandwidths, or the pooled sample's pairs, need no second source sample.
    assert torch.isfinite(MMDLoss(estimator="biased", sigmas=SIGMAS)(x[:1], y))
    assert torch.isfinite(MMDLoss(estimator="biased", median="pooled")(x[:1], y))


def test_zero_median_bandwidth_is_reported():
    x = torch.ones(6, 3)
    with pytest.raises(ValueError, match="median heuristic gave bandwidth 0"):
        MMDLoss()(x, torch.randn(6, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        median_sq_dist(x, mode="both")
    with pytest.raises(ValueError, match="needs target"):
        median_sq_dist(x, mode="pooled")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["source", "source_with_diagonal"])
def test_a_median_of_coinciding_rows_is_exactly_zero(seed, mode):
    """24 of 30 float32 rows equal: the median pair is two equal rows, distance 0 (closed
    form). The expansion gave rounding noise (6e-8, 1e-7) for some draws, a bandwidth of
    noise that made the MMD blind to the data; now every draw says the rows coincide."""
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(30, 8, generator=g)
    xs[:24] = xs[0]
    assert median_sq_dist(xs, mode=mode).item() == 0.0
    with pytest.raises(ValueError, match="median heuristic gave bandwidth 0"):
        MMDLoss(estimator="biased")(xs, torch.randn(20, 8, generator=g))


def test_a_median_above_the_expansions_resolution_is_the_expansions():
    """The exact recomputation is for medians at rounding level only: elsewhere the median is
    the expansion's, bit for bit (no trained result moves)."""
    g = torch.Generator().manual_seed(0)
    for x in (torch.randn(40, 5, generator=g), 1e3 + torch.rand(40, 300, generator=g)):
        d2 = pairwise_sq_dists(x)
        iu = torch.triu_indices(40, 40, offset=1)
        assert torch.equal(median_sq_dist(x), d2[iu[0], iu[1]].median())


def test_bandwidths_beyond_float64_are_named():
    """sigma = 1e-200 gave a bare ZeroDivisionError (s * s underflows), 1e200 a gamma of 0
    that a later check blamed on ``gammas``."""
    from dtc.align.kernels import sigmas_to_gammas

    assert sigmas_to_gammas([1.0, 2.0]) == (0.5, 0.125)
    for sigma in (1e-200, 1e200):
        with pytest.raises(
            ValueError, match=r"sigmas: bandwidths \[.*\] are too small or too large"
        ):
            sigmas_to_gammas([sigma])


def test_source_with_diagonal_needs_three_median_points_too():
    """The three rows are counted after the median's subsample: ``median_max_samples=2``
    took the lower median of [0, h, h, 0] of 50 distinct rows, 0 ("coincide?")."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 4, generator=g), torch.randn(50, 4, generator=g)
    with pytest.raises(ValueError, match=r"median_max_samples must be an int >= 3 \(median="):
        MMDLoss(median="source_with_diagonal", median_max_samples=2)
    with pytest.raises(ValueError, match=r"max_samples must be >= 3 \(mode='source_with_"):
        median_sq_dist(x, mode="source_with_diagonal", max_samples=2)
    assert median_sq_dist(x, mode="source_with_diagonal", max_samples=3) > 0
    assert torch.isfinite(MMDLoss(median="source", median_max_samples=2)(x, y))
    # and a source of fewer rows than that: two points 5 apart gave 0
    with pytest.raises(ValueError, match="mode='source_with_diagonal' needs at least 3 sam"):
        median_sq_dist(torch.tensor([[0.0], [5.0]]), mode="source_with_diagonal")


def test_the_evenly_spaced_subsample_of_more_than_2_to_the_24_rows():
    # float32's grid rounded n - 1 up to n: an IndexError for about 1 n in 3 above 2**24
    n = 2**24 + 4
    x = torch.arange(n, dtype=torch.float64)[:, None]
    picked = _subsample(x, 4096)
    assert picked.shape == (4096, 1) and picked[0, 0] == 0 and picked[-1, 0] == n - 1
    assert torch.isfinite(LinearTimeMMDLoss()(x.float(), x.float() + 1))


def test_the_linear_time_gradient_and_the_bandwidth_inside_the_callers_autocast():
    # kernel_sums turned autocast off, the linear-time sums and the median's product did
    # not: their gradient and the bandwidth were bfloat16's (0.2 % and 13.31 for 13.36)
    torch.manual_seed(0)
    zs, zt = torch.randn(24, 8).bfloat16(), (torch.randn(20, 8) + 0.5).bfloat16()
    for loss in (MMDLoss(), LinearTimeMMDLoss()):
        grads = []
        for inside in (True, False):
            a = zs.clone().requires_grad_()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=inside):
                loss(a, zt).backward()
            grads.append(a.grad)
        torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = median_sq_dist(zs)
    assert inside.item() == median_sq_dist(zs).item()


def test_features_whose_squares_overflow_are_named_so():
    # finite float32 features of 1e19: "bandwidth nan (source samples coincide?)", and
    # mmd2 with a given bandwidth returned NaN
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 4, generator=g) * 1e19, torch.randn(8, 4, generator=g) * 1e19
    # (with the median heuristic such features are scaled by a power of two first, and the
    # loss is its value at unit scale: tests/align/test_mmd_extreme_units.py)
    assert float(MMDLoss()(x, y)) == pytest.approx(float(MMDLoss()(x / 1e19, y / 1e19)), rel=1e-5)
    with pytest.raises(ValueError, match="overflow torch.float32; rescale them or pass float64"):
        mmd2(x, y, estimator="unbiased", sigmas=[1e19])
    assert torch.isfinite(mmd2(x.double(), y.double(), estimator="unbiased", sigmas=[1e19]))
    # distances past float32 but finite sums (kernels of 0): 0.089 for float64's 0.029, and
    # the linear-time estimate alike
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(6, 4, generator=g) * 7e18, torch.randn(6, 4, generator=g) * 7e18
    for estimator in ("unbiased", "linear"):
        with pytest.raises(ValueError, match=f"mmd2_{estimator}: the squared distances of the"):
            mmd2(x, y, estimator=estimator, sigmas=[7e18])
    with pytest.raises(ValueError, match="JMMDLoss: the squared distances of the features"):
        probs = {"source_probs": torch.full((6, 2), 0.5), "target_probs": torch.full((6, 2), 0.5)}
        align.JMMDLoss(feature_sigmas=[7e18])(x, y, **probs)
    # no pair, no distance: the linear-time sums of an empty side are 0 (not a max() error)
    kernel = [MultiKernel([1.0])]
    assert linear_time_sums([torch.zeros(0, 2)], [torch.ones(3, 2)], kernel).tolist() == [0.0] * 4
    # float64 features are not told to pass float64
    with pytest.raises(ValueError, match=r"overflow torch.float64; rescale them$"):
        mmd2(x.double() * 1e141, y.double() * 1e141, estimator="unbiased", sigmas=[1.0])


def test_a_zero_median_of_the_subsample_names_median_max_samples():
    """2 of 5 source rows equal, and the 2 evenly spaced points of median_max_samples=2 are
    those two: "source samples coincide?" blamed the data for the parameter."""
    s = torch.tensor([[0.0], [1.0], [2.0], [3.0], [0.0]])
    t = torch.tensor([[0.5], [1.5], [2.5]])
    with pytest.raises(ValueError, match=r"the 2 evenly spaced points of median_max_samples"):
        MMDLoss(median_max_samples=2)(s, t)
    assert torch.isfinite(MMDLoss(median_max_samples=3)(s, t))  # the advice acts
    with pytest.raises(ValueError, match=r"\(source samples coincide\?\)"):
        MMDLoss()(torch.zeros(5, 1), t)


def _far_row_and_collapsed_batches():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 16, generator=g, dtype=torch.float64)
    y = torch.randn(64, 16, generator=g, dtype=torch.float64) * 1.1 + 0.2
    x[0] += 1e5  # one far-off row moves the mean the expansion is centred on

    def collapsed():  # 52 of 64 rows within 1e-5 of one point
        c = torch.randn(1, 8, generator=g, dtype=torch.float64)
        near = c + 1e-5 * torch.randn(52, 8, generator=g, dtype=torch.float64)
        return torch.cat([near, torch.randn(12, 8, generator=g, dtype=torch.float64)])

    return (x, y), (collapsed(), collapsed())


def _value_and_grad(loss, x, y):
    a = x.detach().requires_grad_()
    value = loss(a, y)
    value.backward()
    return value.item(), a.grad.double()


@pytest.mark.parametrize("far", [1e5, 1e7])
def test_float32_tiles_the_expansion_cannot_resolve_are_taken_from_differences(far):
    # float32 MMD of a batch with one row 1e5 away: 0.01349 for float64's 0.01577 (its
    # gradient 26 % off); of a batch collapsing onto a point: 0.896 for 0.635 (gradient
    # 140 times off); the differences are of the rows before centring (on a centre 1e7 away
    # the rows had lost them: 2.4e-3 off) and so is the gradient (2 % off from the expansion)
    (x, y), (cx, cy) = _far_row_and_collapsed_batches()
    x[0] += far - 1e5
    given = functools.partial(mmd2, estimator="unbiased", sigmas=[4.0])
    for loss, (a, b) in ((given, (x, y)), (MMDLoss(), (cx, cy))):
        a, b = a.float().double(), b.float().double()  # the same rounded inputs
        want, want_grad = _value_and_grad(loss, a, b)
        got, grad = _value_and_grad(loss, a.float(), b.float())
        assert got == pytest.approx(want, rel=1e-5)
        assert ((grad - want_grad).norm() / want_grad.norm()).item() < 1e-5


def test_ordinary_batches_keep_the_expansion():
    # the differences are for the tiles the expansion cannot resolve only: ordinary
    # batches (and the figures trained on them) keep the one-matmul tiles
    from dtc.align.kernels import _augment, _coarse_tiles

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 32, generator=g), torch.randn(200, 32, generator=g) + 0.5
    h = median_sq_dist(x).item()
    kernel = MultiKernel([1.0 / (s * h) for s in dan_scales()])  # DAN's narrowest: 2^-8 h
    left = [_augment(x - x.mean(0))[0]], [_augment(y - y.mean(0))[0]]
    tiles = [(0, 150), (150, 300)], [(0, 200)]
    assert _coarse_tiles(*left, [kernel], *tiles) == [[[False], [False]]]
    far = x.clone()
    far[0] += 1e4
    left = [_augment(far - far.mean(0))[0]], left[1]
    assert _coarse_tiles(*left, [kernel], *tiles) == [[[True], [True]]]


def test_the_gradient_of_tiles_from_differences_is_chunked_over_rows_and_features(monkeypatch):
    # one row of differences of wide features exceeded the step budget (80 MB steps for a
    # 16 MiB budget at d = 1e5): chunks of a few columns give the same gradient
    import dtc.align.kernels as kernels

    (x, y), _ = _far_row_and_collapsed_batches()
    x, y = x.float(), y.float()
    loss = functools.partial(mmd2, estimator="unbiased", sigmas=[4.0])
    want = _value_and_grad(loss, x, y)
    monkeypatch.setattr(kernels, "step_bytes", lambda: 4 * 64 * 3)  # 3 columns of 64 rows
    got = _value_and_grad(loss, x, y)
    assert got[0] == want[0]
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-9)
