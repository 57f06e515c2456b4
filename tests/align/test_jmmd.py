"""Joint MMD against a NumPy product-kernel formula and pytorch-adapt's list-input MMDLoss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import dtc.align as align
from dtc.align import JMMDLoss, MMDLoss, jmmd2, mmd2

SIG = ([0.7, 1.5], [0.5])


def _layers(n=17, m=11, d=3, k=4, shift=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    fx = torch.randn(n, d, generator=g, dtype=torch.float64)
    fy = torch.randn(m, d, generator=g, dtype=torch.float64) + shift
    px = torch.softmax(torch.randn(n, k, generator=g, dtype=torch.float64), 1)
    py = torch.softmax(torch.randn(m, k, generator=g, dtype=torch.float64) + shift, 1)
    return [fx, px], [fy, py]


def _np_joint_kernel(a_layers, b_layers, sigmas):
    k = 1.0
    for a, b, sig in zip(a_layers, b_layers, sigmas):
        d2 = cdist(np.asarray(a), np.asarray(b), "sqeuclidean")
        k = k * np.mean([np.exp(-d2 / (2 * s**2)) for s in sig], axis=0)
    return k


def _np_jmmd2(xs, ys, sigmas, estimator):
    n, m = len(xs[0]), len(ys[0])
    if estimator == "linear":
        p = min(n, m) // 2
        pick = lambda layers, idx: [layer[idx] for layer in layers]  # noqa: E731
        x1, x2 = pick(xs, slice(0, 2 * p, 2)), pick(xs, slice(1, 2 * p, 2))
        y1, y2 = pick(ys, slice(0, 2 * p, 2)), pick(ys, slice(1, 2 * p, 2))
        pair = lambda a, b: np.diag(_np_joint_kernel(a, b, sigmas))  # noqa: E731
        return np.mean(pair(x1, x2) + pair(y1, y2) - pair(x1, y2) - pair(x2, y1))
    kxx, kyy = _np_joint_kernel(xs, xs, sigmas), _np_joint_kernel(ys, ys, sigmas)
    kxy = _np_joint_kernel(xs, ys, sigmas)
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    off = lambda k: (k.sum() - np.trace(k)) / (len(k) * (len(k) - 1))  # noqa: E731
    return off(kxx) + off(kyy) - 2 * kxy.mean()


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_jmmd2_matches_numpy_product_kernel(estimator):
    xs, ys = _layers()
    got = jmmd2(xs, ys, estimator=estimator, sigmas=SIG, block_size=5)
    assert got.item() == pytest.approx(_np_jmmd2(xs, ys, SIG, estimator), rel=1e-11)


def test_one_layer_jmmd_is_mmd():
    xs, ys = _layers()
    for est in ("biased", "unbiased", "linear"):
        a = jmmd2(xs[:1], ys[:1], estimator=est, sigmas=SIG[:1])
        assert a.item() == pytest.approx(mmd2(xs[0], ys[0], estimator=est, sigmas=SIG[0]).item())


@pytest.mark.parametrize("mmd_type", ["quadratic", "linear"])
def test_matches_pytorch_adapt_jmmd(pa_layers, mmd_type):
    from pytorch_adapt.layers.utils import get_kernel_scales

    xs, ys = _layers(n=24, m=24 if mmd_type == "linear" else 19)
    scales = get_kernel_scales()
    ref = pa_layers.MMDLoss(kernel_scales=scales, mmd_type=mmd_type)(xs, ys)
    loss = JMMDLoss(
        estimator="unbiased" if mmd_type == "quadratic" else "linear",
        feature_scales=(1 / scales).tolist(),
        prob_scales=(1 / scales).tolist(),
        median="source_with_diagonal",
        block_size=8,
    )
    got = loss(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1])
    assert got.item() == pytest.approx(ref.item(), rel=1e-10)


def test_properties_floor_symmetry_order():
    xs, ys = _layers()
    same = jmmd2(xs, [t.clone() for t in xs], estimator="biased", sigmas=SIG, block_size=4)
    assert abs(same.item()) < 1e-14
    a = jmmd2(xs, ys, estimator="unbiased", sigmas=SIG, block_size=4)
    assert a.item() == pytest.approx(jmmd2(ys, xs, estimator="unbiased", sigmas=SIG).item())
    pi, pj = torch.randperm(17), torch.randperm(11)
    b = jmmd2([t[pi] for t in xs], [t[pj] for t in ys], estimator="unbiased", sigmas=SIG)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    # A shift of the assignments alone is detected (the joint, not the marginal, differs).
    zs = [xs[0].clone(), torch.softmax(torch.randn(17, 4, dtype=torch.float64) * 3, 1)]
    assert jmmd2(xs, zs, estimator="biased", sigmas=SIG) > jmmd2(
        xs, [xs[0], xs[1]], estimator="biased", sigmas=SIG
    )


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_gradcheck_blockwise(estimator):
    xs, ys = _layers(n=7, m=6, d=2, k=3)
    inputs = [t.requires_grad_(True) for t in (*xs, *ys)]

    def f(a, b, c, d):
        return jmmd2([a, b], [c, d], estimator=estimator, sigmas=SIG, block_size=3)

    assert torch.autograd.gradcheck(f, tuple(inputs))


def test_loss_defaults_and_registry():
    xs, ys = _layers()
    loss = align.get("jmmd")
    assert isinstance(loss, JMMDLoss) and loss.conditional
    assert "probs: sigmas=(0.92,)" in repr(loss)
    got = loss(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1], progress=0.5)
    fam = JMMDLoss(feature_bandwidth=2.0, feature_scales=[1.0, 4.0])
    ref = jmmd2(xs, ys, estimator="unbiased", sigmas=[[1.0, 2.0], [0.92]])
    assert fam(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1]).item() == pytest.approx(
        ref.item(), rel=1e-12
    )
    assert torch.isfinite(got)


def _np_pooled_median(a, b, max_samples):
    """The pooled median heuristic as median_sq_dist documents it, in NumPy: the lower
    median of the squared distances of the distinct pairs of ``[a; b]`` (source rows
    first), ``max_samples`` evenly spaced rows of it when longer."""
    pts = np.concatenate([np.asarray(a), np.asarray(b)])
    if len(pts) > max_samples:
        pts = pts[np.round(np.linspace(0, len(pts) - 1, max_samples)).astype(int)]
    d2 = cdist(pts, pts, "sqeuclidean")[np.triu_indices(len(pts), k=1)]
    return np.sort(d2)[(d2.size - 1) // 2]


@pytest.mark.parametrize("max_samples", [4096, 10], ids=["all", "subsampled"])
def test_loss_with_the_pooled_median_matches_numpy(max_samples):
    # median="pooled" gives each layer its own bandwidth h_l, the median over both domains
    # pooled; kernel s of layer l is exp(-D / (scales[s] h_l)), i.e. sigma^2 = scales[s]
    # h_l / 2. Subsampled (10 of 28 rows: every third of source-then-target), the
    # order of the domains matters: a loss that pooled target first would pick other rows.
    xs, ys = _layers()
    scales = ([0.5, 2.0], [1.0])
    loss = JMMDLoss(
        feature_scales=scales[0],
        prob_scales=scales[1],
        median="pooled",
        median_max_samples=max_samples,
    )
    got = loss(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1])
    h = [_np_pooled_median(x, y, max_samples) for x, y in zip(xs, ys)]
    sigmas = [[np.sqrt(c * h_l / 2) for c in sc] for sc, h_l in zip(scales, h)]
    assert got.item() == pytest.approx(_np_jmmd2(xs, ys, sigmas, "unbiased"), rel=1e-11)
    # Not the default source-only median: the pooled one is another bandwidth here.
    source_only = JMMDLoss(feature_scales=scales[0], prob_scales=scales[1])
    other = source_only(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1])
    assert abs(other.item() - got.item()) > 1e-3 * abs(got.item())


def test_errors_name_the_subclass_built():
    class MyJMMD(JMMDLoss):
        pass

    xs, ys = _layers()
    with pytest.raises(ValueError, match="^MyJMMD: needs source_probs"):
        MyJMMD()(xs[0], ys[0])
    with pytest.raises(
        ValueError,
        match="^MyJMMD features: feature_bandwidth must be one positive.*through feature_scales=",
    ):
        MyJMMD(feature_bandwidth=(3.0, 7.0))
    with pytest.raises(ValueError, match="^MyJMMD source_probs / target_probs: target contains"):
        nan = ys[1].clone()
        nan[0, 0] = float("nan")
        MyJMMD()(xs[0], ys[0], source_probs=xs[1], target_probs=nan)


def test_bad_input():
    xs, ys = _layers()
    loss = JMMDLoss()
    with pytest.raises(ValueError, match="needs source_probs"):
        loss(xs[0], ys[0])
    # named by its argument: "target layer 1 has 10 samples but layer 0 has 11"
    with pytest.raises(
        ValueError, match="JMMDLoss: target_probs has 10 samples but target features has 11"
    ):
        loss(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1][:10])
    with pytest.raises(
        ValueError, match="source_probs / target_probs: source has 4 features and target has 3"
    ):
        loss(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1][:, :3])
    bad = xs[1].clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="source_probs / target_probs: source contains NaN"):
        loss(xs[0], ys[0], source_probs=bad, target_probs=ys[1])
    with pytest.raises(ValueError, match="at least 2"):
        loss(xs[0][:1], ys[0], source_probs=xs[1][:1], target_probs=ys[1])
    with pytest.raises(ValueError, match="as many source as target layers"):
        jmmd2(xs, ys[:1], estimator="biased", sigmas=SIG)
    with pytest.raises(ValueError, match="one sequence of bandwidths per layer"):
        jmmd2(xs, ys, estimator="biased", sigmas=SIG[:1])
    with pytest.raises(ValueError, match=r"sigmas\[1\] must all be finite and positive"):
        jmmd2(xs, ys, estimator="biased", sigmas=[[1.0], [-1.0]])
    with pytest.raises(ValueError, match="estimator must be one of"):
        jmmd2(xs, ys, estimator="quadratic", sigmas=SIG)
    with pytest.raises(ValueError, match="either prob_sigmas or prob_scales"):
        JMMDLoss(prob_sigmas=[1.0], prob_scales=[1.0])
    with pytest.raises(
        ValueError, match="features: feature_scales must all be finite and positive"
    ):
        JMMDLoss(feature_scales=[0.0])
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        JMMDLoss(block_size=-1)
    # One bandwidth per kernel family: several are refused, not cut to the first.
    # (named as JMMD's parameters are: its messages advised bandwidth= and sigmas=, which it
    # does not take, a TypeError)
    with pytest.raises(
        ValueError, match="^JMMDLoss features: feature_bandwidth must be one positive"
    ):
        JMMDLoss(feature_bandwidth=(3.0, 7.0))
    with pytest.raises(
        ValueError, match="^JMMDLoss probs: prob_bandwidth must be given as numbers"
    ):
        JMMDLoss(prob_scales=[1.0], prob_bandwidth="0.5")
    # The assignment kernel has fixed sigmas by default: fixed feature sigmas leave the
    # median mode nothing to apply to.
    with pytest.raises(
        ValueError,
        match=r"^JMMDLoss: median='pooled' has no effect: .*\(feature_sigmas= or "
        r"feature_bandwidth= / prob_sigmas= or prob_bandwidth= fixes the bandwidths\); "
        r"leave median at 'source' or pass feature_scales= or prob_scales= without them",
    ):
        JMMDLoss(feature_sigmas=[1.0], median="pooled")
    assert JMMDLoss(feature_sigmas=[1.0], prob_scales=[1.0], median="pooled").median == "pooled"
    with pytest.raises(
        ValueError,
        match=r"^JMMDLoss features: the median heuristic \(median='source'\) needs at least 2.*"
        r"pass feature_bandwidth= or feature_sigmas=$",
    ):
        JMMDLoss(estimator="biased")(xs[0][:1], ys[0], source_probs=xs[1][:1], target_probs=ys[1])
    # the soft assignments are named as the caller passed them, not as "layer 1"
    with pytest.raises(
        ValueError, match="JMMDLoss source_probs / target_probs: source has dtype torch.int64"
    ):
        loss(xs[0], ys[0], source_probs=xs[1].long(), target_probs=ys[1].long())
    nan = ys[1].clone()
    nan[0, 0] = float("nan")
    with pytest.raises(
        ValueError, match="JMMDLoss source_probs / target_probs: target contains NaN"
    ):
        loss(xs[0], ys[0], source_probs=xs[1], target_probs=nan)
    with pytest.raises(
        ValueError,
        match=r"layer 1 has dtype torch.float32 on cpu, expected layer 0's torch.float64 on cpu",
    ):
        jmmd2([xs[0], xs[1].float()], [ys[0], ys[1].float()], estimator="biased", sigmas=SIG)
    with pytest.raises(ValueError, match=r"layer 1: target has dtype torch.float32, expected"):
        jmmd2(xs, [ys[0], ys[1].float()], estimator="biased", sigmas=SIG)


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "linear"])
def test_loss_converts_assignments_to_the_features_dtype(estimator):
    # float32 features next to a float64 source softmax and a float32 target one: the
    # assignments are converted, so the value is that of float32 assignments, and their
    # gradient comes back in their own dtype.
    xs, ys = _layers()
    feats = [xs[0].float().requires_grad_(True), ys[0].float()]
    loss = JMMDLoss(estimator=estimator)
    ps = xs[1].clone().requires_grad_(True)
    mixed = loss(*feats, source_probs=ps, target_probs=ys[1].float())
    mixed.backward()
    assert ps.grad.dtype == torch.float64 and torch.isfinite(ps.grad).all()
    same = loss(*feats, source_probs=xs[1].float(), target_probs=ys[1].float())
    assert mixed.dtype == torch.float32 and mixed.item() == same.item()


def test_loss_accepts_a_bfloat16_softmax_next_to_float32_features():
    # The assignments were converted to float32 first and then held to float32's row-sum
    # tolerance (1e-4): a bfloat16 softmax (rows off by a few 1e-3) was refused, where
    # CDAN takes it. Its value is close to that of the same assignments renormalised in
    # float32 (which float32's tolerance accepts).
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(64, 10, generator=g), 1).bfloat16()
    assert (probs.double().sum(1) - 1).abs().max() > 1e-3
    s, t = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g) + 0.5
    loss = JMMDLoss()
    value = loss(s, t, source_probs=probs, target_probs=probs.flip(0))
    ps, pt = (p.float() / p.float().sum(1, keepdim=True) for p in (probs, probs.flip(0)))
    want = loss(s, t, source_probs=ps, target_probs=pt)
    assert value.dtype == torch.float32 and value.item() == pytest.approx(want.item(), rel=1e-2)
    with pytest.raises(ValueError, match="JMMDLoss: source_probs rows must sum to 1"):
        loss(s, t, source_probs=probs * 1.1, target_probs=probs)


def test_probs_that_are_not_soft_assignments_are_refused():
    # logits in place of a softmax used to give a number all the same
    xs, ys = _layers()
    loss = JMMDLoss()
    with pytest.raises(ValueError, match="JMMDLoss: source_probs must be finite and non-negative"):
        loss(xs[0], ys[0], source_probs=torch.log(xs[1]), target_probs=ys[1])
    with pytest.raises(ValueError, match="JMMDLoss: target_probs rows must sum to 1"):
        loss(xs[0], ys[0], source_probs=xs[1], target_probs=ys[1] * 3)


def test_bandwidths_outside_float64_name_the_parameter_to_change():
    # they named "sigmas" / "gammas", which JMMD does not take, and no loss
    x = torch.randn(20, 4)
    p = torch.softmax(torch.randn(20, 3), 1)
    with pytest.raises(ValueError, match=r"^JMMDLoss features: feature_sigmas: bandwidths"):
        JMMDLoss(feature_sigmas=[1e-200])(x, x, source_probs=p, target_probs=p)
    with pytest.raises(
        ValueError, match=r"^JMMDLoss features: feature_scales \[1e-320\] times the bandwidth"
    ):
        JMMDLoss(feature_scales=[1e-320])(x, x + 1, source_probs=p, target_probs=p)
    with pytest.raises(ValueError, match=r"^MMDLoss: sigmas: bandwidths"):
        MMDLoss(sigmas=[1e-200])(x, x)
