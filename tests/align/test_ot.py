"""Sliced Wasserstein and Sinkhorn losses against POT's NumPy backend and closed forms."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import ot
import pytest
import scipy.stats
import torch

import dtc.align
from dtc.align.ot import (
    SinkhornLoss,
    SlicedWassersteinLoss,
    random_projections,
    sinkhorn_cost,
    sliced_wasserstein,
)


def _pair(n_s=10, n_t=8, d=3, shift=1.0):
    g = torch.Generator().manual_seed(0)
    source = torch.randn(n_s, d, generator=g, dtype=torch.float64)
    target = torch.randn(n_t, d, generator=g, dtype=torch.float64) + shift
    return source, target


def _uniform(n):
    return np.full(n, 1.0 / n)


# --- sliced Wasserstein ------------------------------------------------------------------


def test_random_projections_are_unit_and_seeded():
    proj = random_projections(4, 30, seed_or_rng := 3)
    assert proj.shape == (4, 30)
    np.testing.assert_allclose(np.linalg.norm(proj, axis=0), 1.0)
    np.testing.assert_array_equal(proj, random_projections(4, 30, seed_or_rng))
    assert not np.allclose(proj, random_projections(4, 30, 4))


def test_random_projections_are_uniform_on_the_sphere():
    # Unit length and seeding say nothing of the law: normalised uniform [0.1, 1.1) draws
    # pass them but all lie in one octant. For u uniform on S^{d-1}: E[u] = 0, E[u u^T] =
    # I / d, and (Archimedes) in d = 3 each coordinate is uniform on [-1, 1]. Tolerances
    # are 5 standard errors of the n-sample means, from the sphere's moments
    # E[u_i^2] = 1/d, E[u_i^4] = 3 / (d (d + 2)), E[u_i^2 u_j^2] = 1 / (d (d + 2)).
    d, n = 3, 20000
    u = random_projections(d, n, 0).T  # (n, d)
    se_mean = np.sqrt(1 / d / n)  # 0.0041
    np.testing.assert_allclose(u.mean(axis=0), 0.0, rtol=0, atol=5 * se_mean)
    second = u.T @ u / n
    se_diag = np.sqrt((3 / (d * (d + 2)) - 1 / d**2) / n)  # 0.0021
    se_off = np.sqrt(1 / (d * (d + 2)) / n)  # 0.0018
    np.testing.assert_allclose(np.diag(second), 1 / d, rtol=0, atol=5 * se_diag)
    off = second[~np.eye(d, dtype=bool)]
    np.testing.assert_allclose(off, 0.0, rtol=0, atol=5 * se_off)
    # The moments miss a centred law that is not spherical (normalised uniform [-0.5, 0.5)^3
    # draws have E[u] = 0 and E[u u^T] = I / 3 by symmetry): the whole law of each
    # coordinate, KS against U(-1, 1), does not (p ~ 1e-24 for that cube, ~0.9 here).
    for i in range(d):
        assert scipy.stats.kstest(u[:, i], "uniform", args=(-1, 2)).pvalue > 1e-3


@pytest.mark.parametrize("p", [1, 2])
def test_sliced_wasserstein_matches_pot_numpy_with_the_same_projections(p):
    source, target = _pair()
    proj = random_projections(3, 25, 1)
    expected = ot.sliced_wasserstein_distance(source.numpy(), target.numpy(), projections=proj, p=p)
    value = sliced_wasserstein(source, target, projections=proj, p=p)
    assert value.item() == pytest.approx(expected, rel=1e-12)
    unrooted = sliced_wasserstein(source, target, projections=proj, p=p, root=False)
    assert unrooted.item() == pytest.approx(expected**p, rel=1e-12)
    # The seeded default draws the same directions as random_projections(d, n, seed).
    seeded = sliced_wasserstein(source, target, n_projections=25, seed=1, p=p)
    assert seeded.item() == pytest.approx(expected, rel=1e-12)


def test_sliced_wasserstein_of_a_translation_closed_form():
    # Projected, a translated copy is the same 1-D sample shifted by theta . delta, so
    # SW_2^2 = mean_theta (theta . delta)^2 and SW_1 = mean_theta |theta . delta|.
    source, _ = _pair(n_s=20)
    delta = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    proj = random_projections(3, 40, 0)
    along = proj.T @ delta.numpy()
    sw2 = sliced_wasserstein(source, source + delta, projections=proj, root=False)
    assert sw2.item() == pytest.approx(np.mean(along**2), rel=1e-10)
    sw1 = sliced_wasserstein(source, source + delta, projections=proj, p=1)
    assert sw1.item() == pytest.approx(np.mean(np.abs(along)), rel=1e-10)


def test_sliced_wasserstein_floor_growth_symmetry_order():
    source, target = _pair()
    proj = random_projections(3, 30, 0)
    sw = lambda s, t: sliced_wasserstein(s, t, projections=proj).item()  # noqa: E731
    assert sw(source, source.clone()) == pytest.approx(0.0, abs=1e-12)
    values = [sw(source, source + shift) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert sw(source, target) == pytest.approx(sw(target, source), rel=1e-12)
    assert sw(source[torch.randperm(10)], target[torch.randperm(8)]) == pytest.approx(
        sw(source, target), rel=1e-12
    )


@pytest.mark.parametrize("root", [True, False], ids=["root", "no_root"])
def test_sliced_wasserstein_gradcheck_and_zero_gradient_at_zero(root):
    source, target = _pair(n_s=6, n_t=5)
    proj = random_projections(3, 8, 0)
    inputs = (source.requires_grad_(True), target.requires_grad_(True))
    sw = lambda s, t: sliced_wasserstein(s, t, projections=proj, root=root)  # noqa: E731
    assert torch.autograd.gradcheck(sw, inputs)
    # Coinciding domains (the same sample, or a permutation of it): the distance is at its
    # minimum 0, where 0 is a subgradient; x^(1/p) alone would give inf * 0 = NaN.
    for other in (source.detach(), source.detach()[torch.tensor([3, 1, 5, 0, 4, 2])]):
        x = source.detach().clone().requires_grad_(True)
        value = sw(x, other)
        value.backward()
        assert value.item() == 0.0
        assert torch.equal(x.grad, torch.zeros_like(x))
    loss = SlicedWassersteinLoss(n_projections=8, root=root)
    x = source.detach().clone().requires_grad_(True)
    loss(x, source.detach()).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_sliced_wasserstein_module_resampling():
    source, target = _pair()
    fixed = SlicedWassersteinLoss(n_projections=10, seed=5, resample=False)
    assert fixed(source, target).item() == fixed(source, target).item()
    assert fixed(source, target).item() == pytest.approx(
        sliced_wasserstein(source, target, n_projections=10, seed=5).item(), rel=1e-12
    )
    moving = SlicedWassersteinLoss(n_projections=10, seed=5)
    first, second = moving(source, target).item(), moving(source, target).item()
    assert first == pytest.approx(fixed(source, target).item(), rel=1e-12)
    assert second != first
    # The sequence is reproducible from the seed.
    again = SlicedWassersteinLoss(n_projections=10, seed=5)
    assert [again(source, target).item() for _ in range(2)] == [first, second]


@pytest.mark.parametrize("seed", [None, 0, 5])
def test_sliced_wasserstein_without_resampling_keeps_its_directions(seed):
    # resample=False promises the same directions on every call: seed=None drew new ones
    # at each call; they are now drawn once per feature dimension and kept.
    source, target = _pair()
    fixed = SlicedWassersteinLoss(n_projections=10, seed=seed, resample=False)
    first = fixed(source, target).item()
    narrow = fixed(source[:, :2], target[:, :2]).item()  # another d: its own directions
    assert [fixed(source, target).item() for _ in range(3)] == [first] * 3
    assert fixed(source[:, :2], target[:, :2]).item() == narrow
    if seed is not None:  # a seed gives what it gave before: random_projections(d, n, seed)
        for x, y, value in ((source, target, first), (source[:, :2], target[:, :2], narrow)):
            assert value == sliced_wasserstein(x, y, n_projections=10, seed=seed).item()


def test_sliced_wasserstein_draws_call_i_from_seed_and_i():
    # resample=True: call i uses random_projections(d, 50, default_rng([seed, i])), so the
    # sequence depends on the seed and the call count alone.
    source, target = _pair()
    expected = [
        sliced_wasserstein(source, target, projections=random_projections(3, 50, rng))
        for rng in (np.random.default_rng([0, 0]), np.random.default_rng([0, 1]))
    ]
    loss = SlicedWassersteinLoss()
    assert [loss(source, target).item() for _ in range(2)] == [v.item() for v in expected]
    assert int(loss.state_dict()["_calls"]) == 2


def test_a_sliced_wasserstein_call_that_raised_draws_no_directions():
    # The count moved before the value was computed: one rejected batch shifted every
    # later call's directions against a loss that never saw it.
    source, target = _pair()
    # root=False: SW_p^p of features of 1e200 is past float64 (SW_p itself is computed at
    # unit scale and scaled back, tests/align/test_ot_extreme_units.py)
    fresh, used = (
        SlicedWassersteinLoss(seed=0, root=False),
        SlicedWassersteinLoss(seed=0, root=False),
    )
    with pytest.raises(ValueError, match="SW_p\\^p is not finite"):
        used(source * 1e200, target)
    assert int(used._calls) == 0
    assert used(source, target).item() == fresh(source, target).item()


def test_sliced_wasserstein_resumes_its_sequence_from_a_state_dict():
    """A checkpoint (state_dict) holds the call count: a loss loaded from it draws what the
    uninterrupted loss draws next, as a resumed DTC fit needs."""
    source, target = _pair()
    running = SlicedWassersteinLoss(seed=3)
    for _ in range(3):
        running(source, target)
    resumed = SlicedWassersteinLoss(seed=3)
    resumed.load_state_dict(running.state_dict())
    assert resumed(source, target).item() == running(source, target).item()
    assert SlicedWassersteinLoss(seed=3)(source, target).item() != resumed(source, target).item()


# --- Sinkhorn -----------------------------------------------------------------------------


@pytest.mark.parametrize("normalize", ["mean", "max", "none"])
@pytest.mark.parametrize("method", ["sinkhorn_log", "sinkhorn"])
def test_sinkhorn_matches_pot_numpy(normalize, method):
    source, target = _pair()
    cost = ot.dist(source.numpy(), target.numpy())
    scale = {"mean": cost.mean(), "max": cost.max(), "none": 1.0}[normalize]
    reg = 0.1 if normalize != "none" else 1.0
    expected = ot.sinkhorn2(_uniform(10), _uniform(8), cost / scale, reg, method=method)
    value = sinkhorn_cost(source, target, reg=reg, normalize=normalize, method=method)
    assert value.item() == pytest.approx(expected, rel=1e-8)
    module = SinkhornLoss(reg=reg, normalize=normalize, method=method, tol=1e-9)
    assert module(source, target).item() == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("method", ["sinkhorn_log", "sinkhorn"])
def test_sinkhorn_marginals_are_each_domains_uniform_histogram(method):
    # n_s != n_t: the target histogram is 1 / n_t. A histogram of the wrong mass (1 / n_s
    # for every target row) gives the same plan after the last row update, but its
    # column marginals can never be met, so the iterations run to max_iter and POT warns
    # that they did not converge; with the right histograms they converge at tol.
    source, target = _pair(n_s=10, n_t=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = sinkhorn_cost(source, target, reg=0.1, method=method)
    cost = ot.dist(source.numpy(), target.numpy())
    expected = ot.sinkhorn2(_uniform(10), _uniform(8), cost / cost.mean(), 0.1, method=method)
    assert value.item() == pytest.approx(expected, rel=1e-8)


def test_debiased_sinkhorn_matches_pot_empirical_divergence():
    # At tol=1e-12 the self terms stop at max_iter (1000) in both, so the two run the same
    # iterations; each says it stopped short.
    source, target = _pair()
    with pytest.warns(UserWarning, match="Sinkhorn did not converge"):
        expected = ot.bregman.empirical_sinkhorn_divergence(
            source.numpy(), target.numpy(), 0.5, stopThr=1e-12
        )
    with pytest.warns(UserWarning, match="stopped at max_iter=1000 .* above tol=1e-12"):
        value = sinkhorn_cost(source, target, reg=0.5, normalize="none", debias=True, tol=1e-12)
    assert value.item() == pytest.approx(float(expected), rel=1e-7)


@pytest.mark.filterwarnings("ignore:sinkhorn_cost. Sinkhorn stopped at max_iter")
def test_sinkhorn_floor_and_small_reg_limit():
    # The self terms of a debiased cost (a domain against itself) and a small reg stop
    # short of tol=1e-9 within max_iter, which is warned; what is checked holds anyway.
    source, _ = _pair(n_s=12)
    assert sinkhorn_cost(source, source.clone(), debias=True).item() == pytest.approx(
        0.0, abs=1e-12
    )
    # Without debiasing the entropic plan on identical inputs spreads mass, costing > 0,
    # less as reg shrinks.
    biased = [sinkhorn_cost(source, source.clone(), reg=r).item() for r in (0.5, 0.1, 0.02)]
    assert biased[0] > biased[1] > biased[2] > 0
    # A translated copy: the exact W_2^2 is |delta|^2; small reg approaches it.
    delta = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    value = sinkhorn_cost(source, source + delta, reg=0.01, normalize="none")
    assert value.item() == pytest.approx(delta.square().sum().item(), rel=0.05)


@pytest.mark.parametrize("normalize", ["mean", "max"])
@pytest.mark.parametrize("debias", [False, True], ids=["plain", "debiased"])
def test_normalised_sinkhorn_of_domains_collapsed_to_one_point_is_zero(normalize, debias):
    # Every row of both domains at one point (a collapsed embedding): the cost matrix is 0,
    # and so is its mean or maximum, the scale it is divided by. The loss is at its floor,
    # 0 with a zero gradient; an unfloored scale gave 0 / 0 and a refused NaN plan.
    source = torch.full((3, 2), 0.7, dtype=torch.float64, requires_grad=True)
    target = torch.full((4, 2), 0.7, dtype=torch.float64)
    value = sinkhorn_cost(source, target, normalize=normalize, debias=debias)
    value.backward()
    assert value.item() == 0.0
    assert torch.equal(source.grad, torch.zeros_like(source))


@pytest.mark.filterwarnings("ignore:sinkhorn_cost. Sinkhorn stopped at max_iter")
def test_sinkhorn_growth_symmetry_order_and_scale_invariance():
    # The self terms of a debiased cost stop short of tol=1e-9 within max_iter, which is
    # warned; growth, symmetry and invariance hold at any number of iterations.
    source, target = _pair()
    values = [sinkhorn_cost(source, source + s, debias=True).item() for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in itertools.pairwise(values))
    value = sinkhorn_cost(source, target, tol=1e-12).item()
    assert sinkhorn_cost(target, source, tol=1e-12).item() == pytest.approx(value, rel=1e-8)
    permuted = sinkhorn_cost(source[torch.randperm(10)], target[torch.randperm(8)], tol=1e-12)
    assert permuted.item() == pytest.approx(value, rel=1e-8)
    # "mean" normalisation: rescaling both domains leaves the loss unchanged.
    assert sinkhorn_cost(3 * source, 3 * target, tol=1e-12).item() == pytest.approx(value, rel=1e-8)


@pytest.mark.parametrize("debias", [False, True], ids=["plain", "debiased"])
def test_sinkhorn_gradcheck(debias):
    source, target = _pair(n_s=5, n_t=4)
    inputs = (source.requires_grad_(True), target.requires_grad_(True))
    assert torch.autograd.gradcheck(
        lambda s, t: sinkhorn_cost(s, t, reg=0.2, debias=debias, tol=1e-13, max_iter=5000),
        inputs,
    )


# --- registry and bad input ---------------------------------------------------------------


def test_registered_ot_names():
    assert isinstance(dtc.align.get("swd", n_projections=7), SlicedWassersteinLoss)
    assert isinstance(dtc.align.get("sinkhorn", reg=0.3), SinkhornLoss)


@pytest.mark.parametrize(
    "fn", [sliced_wasserstein, sinkhorn_cost, SlicedWassersteinLoss(), SinkhornLoss()]
)
def test_bad_inputs(fn):
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="expected the same feature dimension"):
        fn(x, torch.randn(5, 4))
    bad = x.clone()
    bad[2, 1] = float("inf")
    with pytest.raises(ValueError, match="source contains NaN or Inf"):
        fn(bad, x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reg": 0.0}, "reg must be a number > 0"),
        ({"reg": -1.0}, "reg must be a number >= 0"),
        ({"normalize": "median"}, "normalize must be one of"),
        ({"method": "greenkhorn"}, "method must be one of"),
        ({"max_iter": 0}, "max_iter must be a positive int"),
        ({"tol": -1e-3}, "tol must be a number >= 0"),
    ],
)
def test_sinkhorn_bad_params(kwargs, match):
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match=match):
        sinkhorn_cost(x, x, **kwargs)
    with pytest.raises(ValueError, match=match):
        SinkhornLoss(**kwargs)


def test_sliced_wasserstein_bad_params():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="n_projections must be a positive int"):
        SlicedWassersteinLoss(n_projections=0)
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        SlicedWassersteinLoss(p=0.5)
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        sliced_wasserstein(x, x, p=0)
    with pytest.raises(ValueError, match=r"projections must have shape \(d=3, n_projections\)"):
        sliced_wasserstein(x, x, projections=np.ones((4, 2)))
    # directions, not arbitrary vectors: a longer column would weigh its direction up
    with pytest.raises(ValueError, match=r"projections must have unit-norm columns .* 1 to 2"):
        sliced_wasserstein(x, x, projections=np.array([[1.0, 2.0], [0, 0], [0, 0]]))
    with pytest.raises(ValueError, match="projections must have unit-norm columns"):
        sliced_wasserstein(x, x, projections=np.full((3, 1), np.nan))
    unit32 = torch.tensor(random_projections(3, 4, 0), dtype=torch.float32)  # rounding passes
    assert torch.isfinite(sliced_wasserstein(x, x + 1, projections=unit32))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sliced_wasserstein_accepts_half_precision_features(dtype):
    # The unit directions were cast to the features' dtype before their norms were checked:
    # rounded to float16 / bfloat16 they are 1 +- 1e-3 long, and every half-precision batch
    # was refused ("projections must have unit-norm columns").
    source, target = _pair()
    want = SlicedWassersteinLoss()(source.float(), target.float())
    half_s, half_t = source.to(dtype).requires_grad_(True), target.to(dtype)
    got = SlicedWassersteinLoss()(half_s, half_t)
    assert got.dtype == dtype
    assert got.item() == pytest.approx(want.item(), rel=2e-2)
    (grad,) = torch.autograd.grad(got, half_s)
    assert grad.dtype == dtype and bool(torch.isfinite(grad).all())
    proj = random_projections(3, 5, 0)
    assert torch.isfinite(sliced_wasserstein(half_s, half_t, projections=proj))
    # projections given in half precision pass with their own rounding, not arbitrary lengths
    assert torch.isfinite(sliced_wasserstein(half_s, half_t, projections=torch.tensor(proj).half()))
    with pytest.raises(ValueError, match="unit-norm columns"):
        sliced_wasserstein(half_s, half_t, projections=1.01 * proj)


def test_envelope_gradient_is_the_fixed_plan_gradient():
    # grad="envelope": same value as autodiff; gradient wrt source_i equals
    # sum_j P_ij * 2 (x_i - y_j) with P the Sinkhorn plan from POT's NumPy backend.
    rng = np.random.default_rng(3)
    xs, xt = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5
    source = torch.tensor(xs, requires_grad=True)
    target = torch.tensor(xt)
    reg = 0.5
    value = sinkhorn_cost(source, target, reg=reg, normalize="none", grad="envelope", tol=1e-12)
    exact = sinkhorn_cost(source, target, reg=reg, normalize="none", tol=1e-12)
    assert value.item() == pytest.approx(exact.item(), rel=1e-10)
    value.backward()
    plan = ot.sinkhorn(_uniform(7), _uniform(5), ot.dist(xs, xt), reg, stopThr=1e-12)
    expected = 2 * (plan.sum(1)[:, None] * xs - plan @ xt)
    np.testing.assert_allclose(source.grad.numpy(), expected, rtol=1e-6, atol=1e-10)


def test_sinkhorn_loss_trains_with_envelope_by_default():
    loss = SinkhornLoss()
    assert loss.grad == "envelope"
    with pytest.raises(ValueError, match="grad must be one of"):
        SinkhornLoss(grad="implicit")


@pytest.mark.parametrize("reg", [0.1, 1.0])
def test_the_envelope_gradient_is_that_of_the_entropic_objective_not_of_the_cost(reg):
    """grad="envelope" gives <P*, dM/c>: by the envelope theorem the gradient of
    <P, M/c> + reg KL(P | ab) at its optimum (finite differences of that objective agree),
    not of the returned linear cost, whose autodiff gradient differs by 29 % / 47 % here."""
    torch.manual_seed(0)
    xs = torch.randn(10, 4, dtype=torch.float64)
    xt = 1.5 * torch.randn(7, 4, dtype=torch.float64) + 0.3
    grads = {}
    for mode in ("envelope", "autodiff"):
        x = xs.clone().requires_grad_(True)
        sinkhorn_cost(x, xt, reg=reg, grad=mode, tol=1e-13).backward()
        grads[mode] = x.grad

    def entropic(X):
        M = ot.dist(X, xt)
        M = M / M.mean()
        a, b = torch.full((10,), 0.1, dtype=X.dtype), torch.full((7,), 1 / 7, dtype=X.dtype)
        P = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=1e-13, numItermax=100000)
        return float((P * M).sum() + reg * (P * torch.log(P / torch.outer(a, b))).sum())

    fd = torch.zeros_like(xs)
    for i in range(10):
        for j in range(4):
            step = torch.zeros_like(xs)
            step[i, j] = 1e-6
            fd[i, j] = (entropic(xs + step) - entropic(xs - step)) / 2e-6
    assert float((grads["envelope"] - fd).norm() / fd.norm()) < 1e-6
    gap = float((grads["envelope"] - grads["autodiff"]).norm() / grads["autodiff"].norm())
    assert gap == pytest.approx({0.1: 0.29, 1.0: 0.47}[reg], abs=0.01)


def test_sliced_wasserstein_refuses_an_overflowed_power():
    """|x|^p overflowing float32 gave NaN, which the root's guard turned into 0.0: "aligned"."""
    torch.manual_seed(0)
    source = 1e4 * torch.randn(8, 3)
    with pytest.raises(ValueError, match=r"SW_p\^p is not finite \(p=10.0, dtype torch.float32\)"):
        sliced_wasserstein(source, source + 1e4, p=10)
    assert sliced_wasserstein(source.double(), source.double() + 1e4, p=10) > 0


@pytest.mark.parametrize("debias", [False, True], ids=["plain", "debiased"])
def test_sinkhorn_far_from_the_origin_matches_pot_on_the_direct_cost(debias):
    """ot.dist's expansion ||x||^2 + ||y||^2 - 2 x y^T lost the distances of float32
    features at 1000 +- 0.1 to rounding (the cost came out ~4e-6 instead of 0.61). The
    reference: POT's sinkhorn2 on the cost from direct differences of the same float32
    values, in float64, with the same scale (the mean cross cost) for every term."""
    g = torch.Generator().manual_seed(0)
    source = (0.1 * torch.randn(16, 8, generator=g, dtype=torch.float64) + 1000).float()
    target = (0.1 * torch.randn(12, 8, generator=g, dtype=torch.float64) + 1000.05).float()
    s, t = source.double(), target.double()

    def direct(x, y):
        return ((x[:, None] - y[None]) ** 2).sum(-1)

    scale = direct(s, t).mean()

    def ot_cost(x, y):
        a = torch.full((x.shape[0],), 1 / x.shape[0], dtype=torch.float64)
        b = torch.full((y.shape[0],), 1 / y.shape[0], dtype=torch.float64)
        cost = direct(x, y) / scale
        return ot.sinkhorn2(a, b, cost, 0.1, method="sinkhorn_log", stopThr=1e-12, numItermax=10000)

    expected = ot_cost(s, t)
    if debias:
        expected = expected - 0.5 * (ot_cost(s, s) + ot_cost(t, t))
    for grad in ("autodiff", "envelope"):
        value = sinkhorn_cost(source, target, debias=debias, tol=1e-6, grad=grad)
        assert value.item() == pytest.approx(float(expected), rel=1e-4)


def _pot_direct_sinkhorn(s, t, reg=0.1):
    # POT's NumPy sinkhorn2 on the float64 cost from direct differences, over its mean
    cost = ((s[:, None] - t[None]) ** 2).sum(-1)
    return ot.sinkhorn2(
        _uniform(len(s)),
        _uniform(len(t)),
        cost / cost.mean(),
        reg,
        method="sinkhorn_log",
        stopThr=1e-12,
        numItermax=10000,
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("grad", ["autodiff", "envelope"])
def test_sinkhorn_of_half_precision_features_matches_pot_in_float64(dtype, grad):
    """64 features of std 20: their squared distances (~5e4 and up) overflow float16, and
    every reg failed with "cost / reg passed the dtype's range ...; use a larger reg"."""
    g = torch.Generator().manual_seed(0)
    source = (20 * torch.randn(32, 64, generator=g)).to(dtype)
    target = (20 * torch.randn(24, 64, generator=g) + 10).to(dtype)
    expected = _pot_direct_sinkhorn(source.double().numpy(), target.double().numpy())
    s = source.clone().requires_grad_(True)
    for value in (
        sinkhorn_cost(s, target, grad=grad, tol=1e-6),
        SinkhornLoss(grad=grad)(s, target),
    ):
        assert value.dtype == dtype
        assert value.item() == pytest.approx(float(expected), rel=1e-2)
        (gs,) = torch.autograd.grad(value, s)
        assert gs.dtype == dtype and torch.isfinite(gs).all() and gs.abs().sum() > 0
    if dtype == torch.float16:
        # unnormalised, the cost itself (~2e5) is past float16's range: refused, not inf
        with pytest.raises(ValueError, match="the cost .* overflows torch.float16"):
            sinkhorn_cost(2 * source, 2 * target, normalize="none", reg=1e4, tol=1e-6)


def test_mean_normalised_sinkhorn_of_finite_costs_that_sum_past_float32():
    """Features ~1e18: each float32 cost (~1e37) is finite but their sum is not, so the
    mean was inf, cost / inf = 0 and the loss read 0.0 ("aligned") for 0.66."""
    g = torch.Generator().manual_seed(0)
    source, target = torch.randn(16, 8, generator=g), torch.randn(12, 8, generator=g) + 0.5
    small = sinkhorn_cost(source, target, tol=1e-6)
    s, t = 1e18 * source, 1e18 * target
    expected = _pot_direct_sinkhorn(s.double().numpy(), t.double().numpy())
    s.requires_grad_(True)
    value = sinkhorn_cost(s, t, tol=1e-6)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(float(expected), rel=1e-4)
    assert value.item() == pytest.approx(small.item(), rel=1e-4)  # scale invariance
    (gs,) = torch.autograd.grad(value, s)
    assert torch.isfinite(gs).all() and gs.abs().sum() > 0


@pytest.mark.parametrize("method", ["sinkhorn", "sinkhorn_stabilized"])
@pytest.mark.parametrize("grad", ["autodiff", "envelope"])
def test_sinkhorn_refuses_an_underflowed_plan(method, grad):
    """Outside the log domain exp(-cost / reg) underflows float32 at a small reg: POT only
    warned, and the cost came out 0 (method "sinkhorn": "aligned") or NaN."""
    torch.manual_seed(0)
    source, target = torch.randn(64, 16), torch.randn(64, 16) + 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # POT's own "numerical errors"
        with pytest.raises(ValueError, match=rf"plan has mass .* \(method '{method}', reg=0.001"):
            sinkhorn_cost(source, target, reg=1e-3, method=method, grad=grad, tol=1e-6)
        # The log-domain iterations handle the same input (slowly: they may stop at
        # max_iter, which is warned).
        value = sinkhorn_cost(source, target, reg=1e-3, grad=grad, tol=1e-6)
    assert 0.5 < value.item() < 1.5


def test_mean_normalised_sinkhorn_refuses_a_single_row():
    # one row: the only coupling is the product one, so <P, M> / mean(M) == 1 for any
    # features (checked with normalize="none", whose value is then the mean cost)
    gen = torch.Generator().manual_seed(0)
    one = torch.randn(1, 3, generator=gen, dtype=torch.float64)
    many = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    raw = sinkhorn_cost(one, many, normalize="none")
    assert float(raw) == pytest.approx(float(((many - one) ** 2).sum(1).mean()), rel=1e-6)
    for source, target in ((one, many), (many, one)):
        with pytest.raises(
            ValueError, match=r"normalize='mean' needs >= 2 rows.*got 1 and 5|got 5 and 1"
        ):
            sinkhorn_cost(source, target)
        with pytest.raises(ValueError, match="needs >= 2 rows"):
            SinkhornLoss()(source, target)
    assert float(sinkhorn_cost(many[:2], many[2:])) > 0  # two rows are enough
    # max-normalised, one row in each: a 1 x 1 cost over its own maximum, 1 at any distance
    with pytest.raises(ValueError, match=r"normalize='max' needs >= 2 rows in source or target"):
        sinkhorn_cost(one, many[:1], normalize="max")
    assert float(sinkhorn_cost(one, many, normalize="max")) < 1  # mean / max of 5 costs


def test_a_log_domain_overflow_is_not_told_to_use_the_log_domain():
    # The advice was "use method='sinkhorn_log'" to a user of sinkhorn_log.
    gen = torch.Generator().manual_seed(0)
    source, target = torch.randn(16, 4, generator=gen), torch.randn(12, 4, generator=gen)
    with pytest.raises(ValueError, match="too large for the dtype's precision in the log") as info:
        sinkhorn_cost(source, target, reg=1e-10, method="sinkhorn_log")
    assert "use method='sinkhorn_log'" not in str(info.value)
    # only the advice that applies: the default normalisation is in use already
    assert str(info.value).endswith("use float64 features or a larger reg")
    with pytest.raises(ValueError, match=r"; use a larger reg$"):
        sinkhorn_cost(source.double(), target.double(), reg=1e-300, method="sinkhorn_log")
    # far inside float32's range (3.4e38): the cause is its precision, not its range
    far = (source * 1e4, (target + 0.5) * 1e4)
    with pytest.raises(ValueError, match=r"\(up to \d.*e\+10\); use normalize='mean'"):
        sinkhorn_cost(*far, normalize="none")


def test_flags_and_seeds_are_checked_not_coerced():
    # bool("no") is True: the string silently meant the opposite
    source, target = _pair()
    for make, match in [
        (lambda: SinkhornLoss(debias="no"), "SinkhornLoss: debias must be True or False"),
        (lambda: SlicedWassersteinLoss(root="no"), "SlicedWassersteinLoss: root must be True"),
        (lambda: SlicedWassersteinLoss(resample=0), "SlicedWassersteinLoss: resample must be"),
        (lambda: sinkhorn_cost(source, target, debias="False"), "sinkhorn_cost: debias must"),
        (lambda: sliced_wasserstein(source, target, root="False"), "sliced_wasserstein: root"),
        # numpy's SeedSequence refused them naming nothing
        (lambda: SlicedWassersteinLoss(seed=-1), "SlicedWassersteinLoss: seed must be an int"),
        (lambda: SlicedWassersteinLoss(seed=1.5), "SlicedWassersteinLoss: seed must be an int"),
        (lambda: sliced_wasserstein(source, target, seed=-1), "sliced_wasserstein: seed must"),
    ]:
        with pytest.raises(ValueError, match=match):
            make()
    assert SlicedWassersteinLoss(seed=None).seed is None  # fresh entropy stays allowed


def test_sinkhorn_cost_default_tolerance_follows_the_dtype():
    """``tol=1e-9`` by default: float32 marginals never reach it, so every float32 call ran
    all ``max_iter`` iterations and POT warned "Sinkhorn did not converge". The default is
    1e-9 for float64 (as before) and 1e-6 otherwise, which float32 reaches."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g) + 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = sinkhorn_cost(x, y)
    assert value.item() == sinkhorn_cost(x, y, tol=1e-6).item()
    assert value.item() == pytest.approx(sinkhorn_cost(x.double(), y.double()).item(), rel=1e-6)
    xd, yd = x.double(), y.double()
    assert sinkhorn_cost(xd, yd).item() == sinkhorn_cost(xd, yd, tol=1e-9).item()


@pytest.mark.parametrize("normalize", ["mean", "max"])
@pytest.mark.parametrize("scale", [1e-25, 1e-20, 1e25])
def test_normalised_sinkhorn_is_scale_free_past_float32s_squared_range(normalize, scale):
    # The normalised cost is invariant to rescaling both domains (its docstring). In float32
    # the squared distances underflowed at 1e-20 (0.07 for 0.61) and 1e-25 (0.0, "aligned").
    # Reference: the same batch in float64 at scale 1, where nothing under- or overflows.
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g) + 1
    ref = sinkhorn_cost(s.double(), t.double(), normalize=normalize)
    src = (s * scale).requires_grad_(True)
    value = sinkhorn_cost(src, t * scale, normalize=normalize)
    assert value.item() == pytest.approx(ref.item(), rel=1e-4)
    # the gradient is the scale-1 gradient divided by the scale (the loss is scale-free)
    value.backward()
    s64 = s.double().requires_grad_(True)
    sinkhorn_cost(s64, t.double(), normalize=normalize).backward()
    np.testing.assert_allclose(src.grad.double() * scale, s64.grad, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("dtype", "scale"), [(torch.float32, 1e-40), (torch.float64, 1e-310), (torch.float32, 1e37)]
)
def test_normalised_sinkhorn_is_scale_free_for_subnormal_and_huge_features(dtype, scale):
    # Below the dtype's normal range the power-of-two factor itself overflowed: float32 at
    # 1e-40 gave a NaN plan (blamed on reg), float64 at 1e-310 an OverflowError. Subnormal
    # features keep fewer bits (float32 at 1e-40: about 16), hence the looser tolerance.
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g) + 1
    ref = sinkhorn_cost(s.double(), t.double())
    value = sinkhorn_cost(s.to(dtype) * scale, t.to(dtype) * scale)
    assert value.dtype == dtype and value.item() == pytest.approx(ref.item(), rel=1e-3)
