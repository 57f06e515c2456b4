"""Gradient reversal, the domain discriminator, DANN, CDAN and CDAN+E."""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

import dtc.align
from dtc.align.cdan import (
    CDANELoss,
    CDANLoss,
    RandomizedMultilinearMap,
    entropy_weights,
    multilinear_map,
)
from dtc.align.dann import DANNLoss
from dtc.align.discriminator import DomainDiscriminator, domain_bce
from dtc.align.grl import GradientReversal, dann_schedule, grad_reverse

LOG2 = math.log(2.0)


def _zero_last_layer(loss):
    # A discriminator whose last layer is zero outputs logit 0 (probability 1/2) everywhere.
    last = loss.discriminator.net[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    return loss


def _onehotish(labels, k, confidence=0.9):
    probs = torch.full((labels.shape[0], k), (1 - confidence) / (k - 1), dtype=torch.float64)
    probs[torch.arange(labels.shape[0]), labels] = confidence
    return probs


# --- gradient reversal -------------------------------------------------------------------


def test_grad_reverse_is_identity_forward_and_negates_backward():
    x = torch.randn(5, 3, requires_grad=True)
    upstream = torch.randn(5, 3)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    y.backward(upstream)
    torch.testing.assert_close(x.grad, -0.7 * upstream)
    # the default coefficient is 1: the gradient is negated, unscaled
    x.grad = None
    grad_reverse(x).backward(upstream)
    torch.testing.assert_close(x.grad, -upstream)


def test_gradient_reversal_matches_pytorch_adapt(pa_layers):
    layers = pa_layers
    x = torch.randn(4, 3, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    upstream = torch.randn(4, 3)
    GradientReversal(0.3, schedule="constant")(x).backward(upstream)
    layers.GradientReversal(weight=0.3)(x_ref).backward(upstream)
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_dann_schedule_closed_form():
    assert dann_schedule(0.0) == 0.0
    assert dann_schedule(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_schedule(0.25, gamma=4.0, max_coeff=2.0) == pytest.approx(
        2.0 * (2 / (1 + math.exp(-1.0)) - 1)
    )
    values = [dann_schedule(p) for p in np.linspace(0, 1, 11)]
    assert all(a < b for a, b in itertools.pairwise(values))
    layer = GradientReversal(schedule="dann")
    assert layer.coefficient(torch.tensor(0.5)) == pytest.approx(dann_schedule(0.5))
    x = torch.ones(2, requires_grad=True)
    layer(x, progress=0.5).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((2,), -dann_schedule(0.5)))


def test_gradient_reversal_bad_params():
    with pytest.raises(ValueError, match="schedule must be one of"):
        GradientReversal(schedule="linear")
    with pytest.raises(ValueError, match="max_coeff must be a number >= 0"):
        GradientReversal(-1.0)
    with pytest.raises(ValueError, match="coeff must be a number >= 0"):
        grad_reverse(torch.ones(1), float("nan"))
    # infinite settings gave inf or NaN (inf * 0) gradients
    for make in (
        lambda: GradientReversal(gamma=float("inf")),
        lambda: GradientReversal(max_coeff=float("inf")),
        lambda: grad_reverse(torch.ones(1), float("inf")),
    ):
        with pytest.raises(ValueError, match=r"(gamma|coeff) must be a number >=? 0.0 and finite"):
            make()
    # gamma = 0 held the DANN coefficient at 0: the encoder never saw a reversed gradient
    with pytest.raises(ValueError, match=r"gamma must be a number > 0.0 and finite, got 0"):
        GradientReversal(gamma=0)
    with pytest.raises(ValueError, match=r"progress must be a number in \[0.0, 1.0\]"):
        dann_schedule(1.5)
    with pytest.raises(ValueError, match="progress .* is required by schedule='dann'"):
        GradientReversal()(torch.ones(1))


# --- discriminator and its loss --------------------------------------------------------


def test_domain_bce_hand_computed():
    ls = torch.tensor([0.0, 2.0, -1.0])
    lt = torch.tensor([1.0, -3.0])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    expected = 0.5 * (
        np.mean(-np.log(sig(np.array([0.0, 2.0, -1.0]))))
        + np.mean(-np.log(1 - sig(np.array([1.0, -3.0]))))
    )
    assert domain_bce(ls, lt).item() == pytest.approx(expected, rel=1e-6)
    ws, wt = torch.tensor([1.0, 2.0, 1.0]), torch.tensor([3.0, 1.0])
    expected_w = 0.5 * (
        np.average(-np.log(sig(np.array([0.0, 2.0, -1.0]))), weights=[1, 2, 1])
        + np.average(-np.log(1 - sig(np.array([1.0, -3.0]))), weights=[3, 1])
    )
    assert domain_bce(ls, lt, ws, wt).item() == pytest.approx(expected_w, rel=1e-6)


def test_domain_bce_equal_batches_is_concatenated_bce():
    ls, lt = torch.randn(6), torch.randn(6)
    labels = torch.cat([torch.ones(6), torch.zeros(6)])
    reference = torch.nn.BCEWithLogitsLoss()(torch.cat([ls, lt]), labels)
    torch.testing.assert_close(domain_bce(ls, lt), reference)


def test_discriminator_lazy_and_explicit():
    x = torch.randn(7, 5)
    lazy, explicit = DomainDiscriminator(None, (8,)), DomainDiscriminator(5, (8,))
    assert lazy(x).shape == explicit(x).shape == (7,)
    assert sum(p.numel() for p in lazy.parameters()) == (5 * 8 + 8) + (8 + 1)
    with_dropout = DomainDiscriminator(5, (8, 4), dropout=0.5)
    assert any(isinstance(m, torch.nn.Dropout) for m in with_dropout.modules())
    # another width than the first call's, another dtype than its weights': named, not
    # torch's "mat1 and mat2" (a lazy one included, through DANN and CDAN alike)
    with pytest.raises(ValueError, match="features have 4 columns, but it was built for 5"):
        lazy(torch.randn(7, 4))
    with pytest.raises(ValueError, match=r"features are torch.float64 but its weights are"):
        DomainDiscriminator(None, (8,))(x.double())
    for name, extra in (("dann", {}), ("cdan", {"source_probs": 1, "target_probs": 1})):
        probs = {k: torch.full((7, 3), 1 / 3, dtype=torch.float64) for k in extra}
        with pytest.raises(ValueError, match=r"loss.to\(torch.float64\)"):
            dtc.align.get(name)(x.double(), x.double(), progress=0.5, **probs)
    assert dtc.align.get("dann").to(torch.float64)(x.double(), x.double(), progress=0.5).isfinite()


def test_discriminator_layers_and_defaults():
    # documented: hidden widths each followed by a ReLU (and a Dropout only when dropout > 0),
    # then one logit; default hidden (256, 256)
    lin, relu, drop = torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout
    default = DomainDiscriminator(5)
    assert [type(m) for m in default.net] == [lin, relu, lin, relu, lin]
    assert [(m.in_features, m.out_features) for m in default.net if isinstance(m, lin)] == [
        (5, 256),
        (256, 256),
        (256, 1),
    ]
    with_dropout = DomainDiscriminator(5, (8,), dropout=0.25)
    assert [type(m) for m in with_dropout.net] == [lin, relu, drop, lin]
    assert with_dropout.net[2].p == 0.25
    # one logit per row, one row included: (n,)
    assert default(torch.randn(1, 5)).shape == (1,)
    # the adversarial losses build the same default discriminator
    for loss in (DANNLoss(5), CDANLoss(5, 1)):
        widths = [m.out_features for m in loss.discriminator.net if isinstance(m, lin)]
        assert widths == [256, 256, 1]
        assert loss.discriminator.net[0].in_features == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_features": 0}, "in_features must be a positive int or None"),
        ({"in_features": 2.5}, "in_features must be a positive int or None"),
        ({"hidden": (8, 0)}, "hidden must be a sequence of positive ints"),
        ({"hidden": 8}, "hidden must be a sequence of positive ints"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0.0, 1.0\)"),
        ({"dropout": -0.1}, r"dropout must be a number in \[0.0, 1.0\)"),
    ],
)
def test_discriminator_bad_params(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DomainDiscriminator(**kwargs)
    with pytest.raises(ValueError, match=match):
        DANNLoss(**kwargs)


# --- DANN --------------------------------------------------------------------------------


def test_dann_neutral_discriminator_scores_log2():
    loss = _zero_last_layer(DANNLoss(4, hidden=(8,), schedule="constant"))
    assert loss(torch.randn(5, 4), torch.randn(9, 4) + 10).item() == pytest.approx(LOG2)


def test_dann_gradients_reverse_for_features_only():
    loss = DANNLoss(3, hidden=(8,), schedule="constant", max_coeff=0.5)
    source = torch.randn(6, 3, requires_grad=True)
    target = torch.randn(4, 3, requires_grad=True)
    loss(source, target).backward()
    disc_grads = [p.grad.clone() for p in loss.parameters()]

    # The same objective without the reversal layer, by hand.
    plain_s = source.detach().clone().requires_grad_(True)
    plain_t = target.detach().clone().requires_grad_(True)
    loss.zero_grad()
    domain_bce(loss.discriminator(plain_s), loss.discriminator(plain_t)).backward()
    torch.testing.assert_close(source.grad, -0.5 * plain_s.grad)
    torch.testing.assert_close(target.grad, -0.5 * plain_t.grad)
    for reversed_grad, p in zip(disc_grads, loss.parameters()):
        torch.testing.assert_close(reversed_grad, p.grad)


def test_dann_invariant_to_sample_order_and_uses_progress():
    loss = DANNLoss(3, hidden=(8,))
    s, t = torch.randn(6, 3), torch.randn(5, 3)
    value = loss(s, t, progress=0.3)
    torch.testing.assert_close(
        loss(s[torch.randperm(6)], t[torch.randperm(5)], progress=0.3), value
    )
    with pytest.raises(ValueError, match="progress"):
        loss(s, t)
    # and the features' gradient is reversed by DANN's coefficient at that progress,
    # 2 / (1 + exp(-10 p)) - 1 (Ganin et al., JMLR 2016), by hand: 0.905 at p = 0.3
    for progress in (0.05, 0.3):
        x = s.clone().requires_grad_(True)
        loss(x, t, progress=progress).backward()
        plain = s.clone().requires_grad_(True)
        domain_bce(loss.discriminator(plain), loss.discriminator(t)).backward()
        coeff = 2 / (1 + math.exp(-10 * progress)) - 1
        torch.testing.assert_close(x.grad, -coeff * plain.grad)


def test_dann_gradcheck_discriminator_parameters():
    loss = DANNLoss(3, hidden=(4,), schedule="constant").double()
    s, t = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    names = [n for n, _ in loss.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in loss.parameters())

    def as_function(*values):
        return functional_call(loss, dict(zip(names, values)), (s, t))

    assert torch.autograd.gradcheck(as_function, params)


def _train_discriminator(loss, make_pair, steps=80, lr=0.05, **context):
    """Train only the discriminator on fixed features; return the loss on a fresh pair."""
    opt = torch.optim.Adam(loss.parameters(), lr=lr)
    s, t = make_pair(0)
    for _ in range(steps):
        opt.zero_grad()
        loss(s, t, **context).backward()
        opt.step()
    with torch.no_grad():
        return loss(*make_pair(1), **context).item()


@pytest.mark.parametrize("shift", [0.0, 3.0])
def test_dann_trained_discriminator_detects_a_mean_shift(shift):
    def make_pair(seed):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g) + shift

    value = _train_discriminator(DANNLoss(2, hidden=(16,), schedule="constant"), make_pair)
    # Held-out pair: no shift -> the discriminator is still at chance (log 2);
    # a shift of 3 standard deviations -> it separates the domains.
    if shift == 0.0:
        assert value > LOG2 - 0.1
    else:
        assert value < 0.25


def test_dann_aligns_a_learnable_translation():
    # Minimising DANN jointly over the encoder (a translation of the target) and the
    # discriminator moves the target onto the source: the GRL makes it a minimax game.
    g = torch.Generator().manual_seed(0)
    source = torch.randn(128, 2, generator=g)
    target = torch.randn(128, 2, generator=g) + torch.tensor([3.0, -2.0])
    shift = torch.zeros(2, requires_grad=True)
    loss = DANNLoss(2, hidden=(16,), schedule="constant")
    opt = torch.optim.Adam([shift, *loss.parameters()], lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        loss(source, target + shift).backward()
        opt.step()
    gap = (source.mean(0) - (target + shift).mean(0)).norm().item()
    assert gap < 0.5 < (source.mean(0) - target.mean(0)).norm().item()


@pytest.mark.parametrize("name", ["dann", "cdan", "cdan_e"])
def test_adversarial_losses_inside_the_callers_autocast(name):
    # Under torch.autocast a Linear gives bfloat16 features and the discriminator's float32
    # weights are cast by torch itself: the dtype guard refused this valid use.
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 8)
    loss = dtc.align.get(name, schedule="constant")
    zs, zt = torch.randn(24, 8), torch.randn(20, 8) + 0.5
    probs = {"source_probs": torch.full((24, 3), 1 / 3), "target_probs": torch.full((20, 3), 1 / 3)}
    context = {} if name == "dann" else probs
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fs, ft = lin(zs), lin(zt)
        assert fs.dtype == torch.bfloat16
        got = loss(fs, ft, **context)
    got.backward()
    assert torch.isfinite(got) and torch.isfinite(lin.weight.grad).all()
    # the same loss of the same (rounded) features in float32, to bfloat16's precision
    want = loss(fs.detach().float(), ft.detach().float(), **context)
    assert got.item() == pytest.approx(want.item(), rel=2e-2)
    with pytest.raises(ValueError, match="features are torch.bfloat16 but its weights"):
        loss(fs.detach(), ft.detach(), **context)  # outside autocast: refused by name


@pytest.mark.parametrize(
    "name, kwargs",
    [("dann", {}), ("cdan", {"randomized": True}), ("cdan_e", {"randomized": True})],
)
def test_a_lazy_loss_first_called_under_inference_mode_still_trains(name, kwargs):
    # Measuring the gap under inference_mode() before training made the lazily built
    # discriminator's weights (and CDAN's random matrices) inference tensors: every later
    # training call failed ("Inference tensors cannot be saved for backward").
    zs, zt = torch.randn(16, 8, requires_grad=True), torch.randn(12, 8) + 0.5
    probs = {"source_probs": torch.full((16, 3), 1 / 3), "target_probs": torch.full((12, 3), 1 / 3)}
    context = {} if name == "dann" else probs
    values = []
    for measure_first in (False, True):
        torch.manual_seed(0)
        loss = dtc.align.get(name, schedule="constant", **kwargs)
        if measure_first:
            with torch.inference_mode():
                before = loss(zs, zt, **context)
            assert before.item() == pytest.approx(values[0][0])
        value = loss(zs, zt, **context)
        value.backward()
        values.append((value.item(), zs.grad.clone()))
        zs.grad = None
    # the same weights and matrices either way (drawn from the same RNG, at the same point)
    assert values[0][0] == values[1][0]
    torch.testing.assert_close(values[0][1], values[1][1], rtol=0, atol=0)


@pytest.mark.parametrize("cls", [DANNLoss, CDANLoss])
def test_adversarial_losses_pass_their_settings_to_the_reversal_and_discriminator(cls):
    loss = cls(hidden=[8], dropout=0.25, max_coeff=2.0, schedule="dann", gamma=4.0)
    assert loss.grl.coefficient(0.25) == pytest.approx(
        dann_schedule(0.25, gamma=4.0, max_coeff=2.0)
    )
    assert [m.p for m in loss.discriminator.modules() if isinstance(m, torch.nn.Dropout)] == [0.25]
    assert cls(max_coeff=0.5, schedule="constant").grl.coefficient() == 0.5
    # the defaults: DANN's schedule with gamma = 10 up to max_coeff = 1 (Ganin et al. 2016)
    default = cls().grl
    assert (default.schedule, default.gamma, default.max_coeff) == ("dann", 10.0, 1.0)


def test_dann_feature_width_checked():
    with pytest.raises(ValueError, match="expected in_features=4"):
        DANNLoss(4, schedule="constant")(torch.randn(3, 5), torch.randn(3, 5))
    with pytest.raises(ValueError, match="expected the same feature dimension"):
        DANNLoss(schedule="constant")(torch.randn(3, 5), torch.randn(3, 4))
    bad = torch.randn(3, 5)
    bad[1, 1] = float("nan")
    with pytest.raises(ValueError, match="source contains NaN"):
        DANNLoss(schedule="constant")(bad, torch.randn(3, 5))


# --- CDAN ----------------------------------------------------------------------------------


def test_multilinear_map_is_rowwise_kron():
    f, p = torch.randn(4, 3, dtype=torch.float64), torch.softmax(torch.randn(4, 2), 1).double()
    expected = np.stack([np.kron(p[i].numpy(), f[i].numpy()) for i in range(4)])
    np.testing.assert_allclose(multilinear_map(f, p).numpy(), expected, atol=1e-14)


def test_randomized_map_matches_pytorch_adapt_with_the_same_matrices(pa_layers):
    layers = pa_layers
    ours = RandomizedMultilinearMap(5, 3, out_dim=16, seed=1)
    theirs = layers.RandomizedDotProduct([5, 3], out_dim=16)
    theirs.rand_mat0 = ours.features_matrix.clone()
    theirs.rand_mat1 = ours.probs_matrix.clone()
    f, p = torch.randn(4, 5), torch.softmax(torch.randn(4, 3), 1)
    torch.testing.assert_close(ours(f, p), theirs(f, p))


def test_randomized_map_preserves_inner_products_in_expectation():
    # E ||T(f, g)||^2 = ||f||^2 ||g||^2 (Long et al. 2018); relative sd sqrt(8 / m) per row.
    f, p = torch.randn(16, 6, dtype=torch.float64), torch.rand(16, 4, dtype=torch.float64)
    mapped = RandomizedMultilinearMap(out_dim=4096, seed=0)(f, p)
    ratio = mapped.square().sum(1) / (f.square().sum(1) * p.square().sum(1))
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.05)
    lazy_drawn = RandomizedMultilinearMap(out_dim=4096, seed=0)
    lazy_drawn(f, p)
    torch.testing.assert_close(
        lazy_drawn.features_matrix, RandomizedMultilinearMap(6, 4, 4096).features_matrix
    )
    # drawn from the seed alone: a float64 default drew other matrices
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        under_float64 = RandomizedMultilinearMap(6, 4, 4096)
    finally:
        torch.set_default_dtype(default)
    torch.testing.assert_close(under_float64.features_matrix, lazy_drawn.features_matrix)


def test_randomized_cdan_draws_its_map_from_its_seed_with_randomized_dim_outputs():
    # documented: "randomized_dim outputs drawn from seed"; the discriminator reads them
    loss = CDANLoss(6, 4, randomized=True, randomized_dim=32, seed=3)
    same = RandomizedMultilinearMap(6, 4, 32, seed=3)
    torch.testing.assert_close(loss.randomized_map.features_matrix, same.features_matrix)
    torch.testing.assert_close(loss.randomized_map.probs_matrix, same.probs_matrix)
    other = CDANLoss(6, 4, randomized=True, randomized_dim=32, seed=4).randomized_map
    assert not torch.equal(other.features_matrix, same.features_matrix)
    assert loss.discriminator.net[0].in_features == 32
    assert RandomizedMultilinearMap(6, 4).out_dim == 1024  # the default out_dim


def test_randomized_map_keeps_its_matrices_on_the_inputs_device():
    """Drawn on the CPU (lazily, or before the inputs moved), the matrices move to the
    inputs' device once and stay there (they were copied at every call). The "meta" device
    stands in for a GPU; the drawn values are the CPU draw's."""
    cpu = RandomizedMultilinearMap(6, 4, out_dim=16, seed=0)
    for mapping in (RandomizedMultilinearMap(out_dim=16, seed=0), cpu):
        f, p = torch.empty(3, 6, device="meta"), torch.empty(3, 4, device="meta")
        assert mapping(f, p).device.type == "meta"
        assert mapping.features_matrix.device.type == "meta"
        assert mapping.probs_matrix.device.type == "meta"
    again = RandomizedMultilinearMap(6, 4, out_dim=16, seed=0)
    f, p = torch.randn(3, 6, dtype=torch.float64), torch.rand(3, 4, dtype=torch.float64)
    expected = (f @ again.features_matrix.double()) * (p @ again.probs_matrix.double()) / 4
    torch.testing.assert_close(again(f, p), expected)
    assert again.features_matrix.dtype == torch.float32  # the float32 draw is kept


def test_lazy_randomized_cdan_round_trips_through_state_dict():
    s, t = torch.randn(5, 3), torch.randn(4, 3)
    ctx = {"source_probs": torch.full((5, 2), 0.5), "target_probs": torch.full((4, 2), 0.5)}
    trained = CDANLoss(randomized=True, randomized_dim=8, seed=1, schedule="constant")
    value = trained(s, t, **ctx)
    fresh = CDANLoss(randomized=True, randomized_dim=8, seed=2, schedule="constant")
    fresh.load_state_dict(trained.state_dict())
    torch.testing.assert_close(fresh(s, t, **ctx), value)


def test_entropy_weights_closed_form_and_pytorch_adapt(request):
    uniform = torch.full((2, 4), 0.25)
    torch.testing.assert_close(entropy_weights(uniform), torch.full((2,), 1.25))
    torch.testing.assert_close(entropy_weights(torch.eye(3)), torch.full((3,), 2.0))
    layers = request.getfixturevalue("pa_layers")
    p = torch.softmax(torch.randn(6, 3), 1)
    w = entropy_weights(p)
    torch.testing.assert_close(w / w.sum(), layers.EntropyWeights(after_softmax=True)(p))


def test_cdan_with_one_cluster_is_dann():
    # With k = 1 and g = 1 the multilinear map is f itself.
    dann = DANNLoss(3, hidden=(8,), schedule="constant")
    cdan = CDANLoss(3, 1, hidden=(8,), schedule="constant")
    cdan.discriminator.load_state_dict(dann.discriminator.state_dict())
    s, t = torch.randn(5, 3), torch.randn(7, 3)
    ones_s, ones_t = torch.ones(5, 1), torch.ones(7, 1)
    torch.testing.assert_close(cdan(s, t, source_probs=ones_s, target_probs=ones_t), dann(s, t))


def test_cdan_e_weights_by_hand():
    loss = CDANELoss(in_features=3, n_clusters=2, hidden=(8,), schedule="constant")
    s, t = torch.randn(5, 3), torch.randn(4, 3)
    ps, pt = torch.softmax(torch.randn(5, 2), 1), torch.softmax(torch.randn(4, 2), 1)
    disc = loss.discriminator
    ls, lt = disc(multilinear_map(s, ps)), disc(multilinear_map(t, pt))
    ws, wt = entropy_weights(ps), entropy_weights(pt)
    expected = 0.5 * (
        (ws * F.softplus(-ls)).sum() / ws.sum() + (wt * F.softplus(lt)).sum() / wt.sum()
    )
    torch.testing.assert_close(loss(s, t, source_probs=ps, target_probs=pt), expected)
    # Equal confidence everywhere: the weights cancel and CDAN+E is CDAN.
    plain = CDANLoss(in_features=3, n_clusters=2, hidden=(8,), schedule="constant")
    plain.load_state_dict(loss.state_dict())
    flat_s, flat_t = torch.full((5, 2), 0.5), torch.full((4, 2), 0.5)
    torch.testing.assert_close(
        loss(s, t, source_probs=flat_s, target_probs=flat_t),
        plain(s, t, source_probs=flat_s, target_probs=flat_t),
    )
    # CDAN itself weights no sample: the plain means of the domain BCE, by hand
    plain_expected = 0.5 * (F.softplus(-ls).mean() + F.softplus(lt).mean())
    torch.testing.assert_close(plain(s, t, source_probs=ps, target_probs=pt), plain_expected)


@pytest.mark.parametrize("cls", [CDANLoss, CDANELoss], ids=["cdan", "cdan_e"])
def test_cdan_probs_get_no_gradient_and_features_get_reversed_one(cls):
    # The map's g is detached as in the authors' code; for CDAN+E the weights are too by
    # default, which is dtc's choice (the authors attach a reversed gradient to the
    # entropy: entropy_gradient=True, tested below).
    loss = cls(schedule="constant", hidden=(8,))
    s = torch.randn(5, 3, requires_grad=True)
    ps = torch.softmax(torch.randn(5, 2), 1).requires_grad_(True)
    loss(s, torch.randn(4, 3), source_probs=ps, target_probs=torch.full((4, 2), 0.5)).backward()
    assert ps.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0


@pytest.mark.parametrize("schedule", ["constant", "dann"])
def test_cdan_e_entropy_gradient_is_the_authors_reversed_gradient_by_hand(schedule):
    """``entropy_gradient=True`` (thuml/CDAN's ``entropy.register_hook(grl_hook(coeff))``):
    with the loss ``L = (sum_s w_i b_i / S_s + sum_t w_j b_j / S_t) / 2``, ``S`` detached, and
    ``w = 1 + exp(-H)``, the assignments receive ``-coeff * dL/dH * dH/dp``: per row
    ``coeff * b_i exp(-H_i) / (2 S) * -(log p_ij + 1)``. The value and the features' gradient
    are those of the default, whose assignments receive nothing.

    ``schedule="dann"``: the entropy's coefficient follows the GRL's schedule at the call's
    ``progress`` (the authors' ``calc_coeff(iter_num)``), not the final ``max_coeff``; with
    the constant schedule alone the two cannot be told apart."""
    torch.manual_seed(0)
    max_coeff, progress = 0.7, 0.3
    coeff = max_coeff if schedule == "constant" else dann_schedule(progress, max_coeff=max_coeff)
    # dann at 0.3: 0.7 * (2 / (1 + e^-3) - 1) = 0.634, not the final 0.7
    assert schedule == "constant" or coeff < 0.65
    authors = CDANELoss(hidden=(8,), schedule=schedule, max_coeff=max_coeff, entropy_gradient=True)
    s = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    t = torch.randn(4, 3, dtype=torch.float64)
    logits = torch.randn(5, 2, dtype=torch.float64)
    ps = torch.softmax(logits, 1).requires_grad_(True)
    pt = torch.softmax(torch.randn(4, 2, dtype=torch.float64), 1).requires_grad_(True)
    authors.double()
    value = authors(s, t, source_probs=ps, target_probs=pt, progress=progress)
    value.backward()
    with torch.no_grad():
        disc = authors.discriminator
        b_s = F.softplus(-disc(multilinear_map(s, ps)))  # BCE(l, 1)
        b_t = F.softplus(disc(multilinear_map(t, pt)))  # BCE(l, 0)
        for p, b, grad in ((ps, b_s, ps.grad), (pt, b_t, pt.grad)):
            h = -(p * p.log()).sum(1)
            w = 1 + torch.exp(-h)
            expected = (coeff * b * torch.exp(-h) / (2 * w.sum()))[:, None] * -(p.log() + 1)
            torch.testing.assert_close(grad, expected)
    default = CDANELoss(hidden=(8,), schedule=schedule, max_coeff=max_coeff).double()
    default.load_state_dict(authors.state_dict())
    s2 = s.detach().clone().requires_grad_(True)
    ps2 = ps.detach().clone().requires_grad_(True)
    value2 = default(s2, t, source_probs=ps2, target_probs=pt.detach(), progress=progress)
    value2.backward()
    torch.testing.assert_close(value2, value)
    torch.testing.assert_close(s2.grad, s.grad)
    assert ps2.grad is None


def test_cdan_e_entropy_gradient_is_finite_where_an_assignment_is_zero():
    # Student-t assignments underflow to exactly 0 in float32; xlogy's gradient there is -inf,
    # and DTC's encoder turned to NaN within a few epochs on the digits default.
    loss = CDANELoss(hidden=(8,), schedule="constant", entropy_gradient=True)
    ps = torch.tensor([[1.0, 0.0], [0.3, 0.7]], requires_grad=True)
    pt = torch.tensor([[0.0, 1.0], [0.5, 0.5]], requires_grad=True)
    loss(torch.randn(2, 3), torch.randn(2, 3), source_probs=ps, target_probs=pt).backward()
    assert torch.isfinite(ps.grad).all() and torch.isfinite(pt.grad).all()
    assert ps.grad[1].abs().sum() > 0


def test_entropy_gradient_needs_entropy_conditioning():
    with pytest.raises(ValueError, match="entropy_gradient=True needs entropy_conditioning"):
        CDANLoss(entropy_gradient=True)
    assert dtc.align.get("cdan_e", entropy_gradient=True).entropy_gradient


@pytest.mark.parametrize("cls", [CDANLoss, CDANELoss], ids=["cdan", "cdan_e"])
def test_cdan_converts_assignments_to_the_features_dtype(cls):
    # A float64 softmax next to float32 features is converted, not rejected.
    loss = cls(schedule="constant", hidden=(8,))
    s, t = torch.randn(5, 3), torch.randn(4, 3)
    ps = torch.softmax(torch.randn(5, 2, dtype=torch.float64), 1)
    pt = torch.softmax(torch.randn(4, 2, dtype=torch.float64), 1)
    mixed = loss(s, t, source_probs=ps, target_probs=pt)
    same = loss(s, t, source_probs=ps.float(), target_probs=pt.float())
    assert mixed.dtype == torch.float32 and mixed.item() == same.item()


@pytest.mark.parametrize("cls", [CDANLoss, CDANELoss])
def test_cdan_accepts_a_bfloat16_softmax(cls):
    # bfloat16 rows of a softmax sum to 1 only within ~4e-3 (this one: 0.0039 off), which
    # the float32 tolerance 1e-4 refused as "rows must sum to 1".
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(64, 10, generator=g), 1).bfloat16()
    assert (probs.double().sum(1) - 1).abs().max() > 1e-3
    s, t = torch.randn(64, 3, generator=g), torch.randn(64, 3, generator=g)
    loss = cls(schedule="constant")
    value = loss(s, t, source_probs=probs, target_probs=probs)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    # a bfloat16 row that is not a probability vector is still refused
    with pytest.raises(ValueError, match="source_probs rows must sum to 1"):
        loss(s, t, source_probs=probs * 1.1, target_probs=probs)


@pytest.mark.parametrize("randomized", [False, True], ids=["multilinear", "randomized"])
def test_cdan_e_gradcheck_discriminator_parameters(randomized):
    loss = CDANELoss(
        in_features=3,
        n_clusters=2,
        hidden=(4,),
        randomized=randomized,
        randomized_dim=6,
        schedule="constant",
    ).double()
    s, t = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    ctx = {
        "source_probs": torch.softmax(torch.randn(5, 2, dtype=torch.float64), 1),
        "target_probs": torch.softmax(torch.randn(4, 2, dtype=torch.float64), 1),
    }
    names = [n for n, _ in loss.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in loss.parameters())
    assert torch.autograd.gradcheck(
        lambda *v: functional_call(loss, dict(zip(names, v)), (s, t), ctx), params
    )


@pytest.mark.parametrize("cls", [DANNLoss, CDANLoss])
def test_conditioning_separates_swapped_clusters_that_dann_cannot(cls):
    # Same feature marginal in both domains, but cluster 0 sits at -2 in the source and at
    # +2 in the target: only a discriminator that sees the assignments can tell them apart.
    def make_pair(seed):
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(64) % 2
        centres = torch.tensor([[-2.0], [2.0]])
        s = centres[labels] + 0.3 * torch.randn(64, 1, generator=g)
        t = centres[1 - labels] + 0.3 * torch.randn(64, 1, generator=g)
        return s, t

    labels = torch.arange(64) % 2
    ctx = {
        "source_probs": _onehotish(labels, 2).float(),
        "target_probs": _onehotish(labels, 2).float(),
    }
    value = _train_discriminator(cls(1, hidden=(16,), schedule="constant"), make_pair, **ctx)
    if cls is DANNLoss:
        assert value > LOG2 - 0.1
    else:
        assert value < 0.25


@pytest.mark.parametrize(
    ("context", "match"),
    [
        ({"target_probs": torch.full((4, 2), 0.5)}, "needs source_probs"),
        ({"source_probs": torch.full((5, 2), 0.5)}, "needs target_probs"),
        (
            {"source_probs": torch.full((4, 2), 0.5), "target_probs": torch.full((4, 2), 0.5)},
            r"source_probs must be a \(5, k\) tensor",
        ),
        (
            {"source_probs": torch.full((5, 2), 0.4), "target_probs": torch.full((4, 2), 0.5)},
            "rows must sum to 1",
        ),
        (
            {
                "source_probs": torch.full((5, 2), float("nan")),
                "target_probs": torch.full((4, 2), 0.5),
            },
            "finite and non-negative",
        ),
        (
            {"source_probs": torch.full((5, 2), 0.5), "target_probs": torch.full((4, 4), 0.25)},
            "expected the same number",
        ),
        (
            {"source_probs": torch.full((5, 4), 0.25), "target_probs": torch.full((4, 4), 0.25)},
            "expected n_clusters=2",
        ),
    ],
)
def test_cdan_bad_context(context, match):
    loss = CDANLoss(in_features=3, n_clusters=2, schedule="constant")
    with pytest.raises(ValueError, match=match):
        loss(torch.randn(5, 3), torch.randn(4, 3), **context)


def test_cdan_bad_params():
    with pytest.raises(ValueError, match="n_clusters must be a positive int or None"):
        CDANLoss(n_clusters=0)
    with pytest.raises(ValueError, match="randomized_dim must be a positive int"):
        CDANLoss(randomized=True, randomized_dim=-3)
    # the map's own argument is out_dim: it named CDANLoss's randomized_dim, and no owner
    with pytest.raises(ValueError, match="RandomizedMultilinearMap: out_dim must be a pos"):
        RandomizedMultilinearMap(4, 3, out_dim=0)
    with pytest.raises(ValueError, match="always uses entropy conditioning"):
        CDANELoss(entropy_conditioning=False)


def _cdan_call(loss, d: int, k: int):
    return loss(
        torch.randn(5, d),
        torch.randn(4, d),
        source_probs=torch.full((5, k), 1 / k),
        target_probs=torch.full((4, k), 1 / k),
    )


@pytest.mark.parametrize(
    "d, k, match",
    [
        (4, 2, "features have 4 columns.*in_features=3"),
        (3, 4, "assignments have 4 columns, expected n_clusters=2 .inferred at its first"),
    ],
)
def test_lazy_randomized_cdan_names_a_later_change_of_width(d, k, match):
    # The map is drawn for the first call's widths; another width was torch's unnamed
    # "mat1 and mat2 shapes cannot be multiplied".
    loss = CDANLoss(randomized=True, randomized_dim=8, schedule="constant")
    _cdan_call(loss, 3, 2)
    with pytest.raises(ValueError, match=match):
        _cdan_call(loss, d, k)


def test_a_lazy_cdan_refuses_later_sizes_of_the_same_product():
    # Only the discriminator's width k * d was checked: (d, k) = (5, 3), then (3, 5), trained
    # one discriminator on columns of other meanings; a wrong d was named by k * d.
    loss = CDANLoss(schedule="constant", hidden=(4,))
    _cdan_call(loss, 5, 3)
    with pytest.raises(ValueError, match="assignments have 5 columns, expected n_clusters=3"):
        _cdan_call(loss, 3, 5)
    with pytest.raises(ValueError, match="CDANLoss: features have 3 columns, expected in_fea"):
        _cdan_call(loss, 3, 3)
    with pytest.raises(ValueError, match="assignments have 2 columns, expected n_clusters=3"):
        _cdan_call(loss, 5, 2)
    assert (loss.in_features, loss.n_clusters) == (None, None)  # its parameters as given
    _cdan_call(loss, 5, 3)
    # the sizes travel with the state dict, as the discriminator's weights do
    loaded = CDANLoss(schedule="constant", hidden=(4,))
    loaded.load_state_dict(loss.state_dict())
    with pytest.raises(ValueError, match="assignments have 5 columns, expected n_clusters=3"):
        _cdan_call(loaded, 3, 5)
    _cdan_call(loaded, 5, 3)


def test_saved_cdan_sizes_are_checked_against_those_given_and_may_be_absent():
    # (3, 5) weights loaded into a loss built for (5, 3): the widths agree, the sizes not,
    # and the loss then refused its own n_clusters=3
    lazy = CDANLoss(schedule="constant", hidden=(4,))
    _cdan_call(lazy, 3, 5)
    declared = CDANLoss(in_features=5, n_clusters=3, schedule="constant", hidden=(4,))
    with pytest.raises(ValueError, match="saved with in_features=3, this loss has in_features=5"):
        declared.load_state_dict(lazy.state_dict())
    # a state saved before the sizes were kept (no extra state) still loads, strictly
    old = {k: v for k, v in lazy.state_dict().items() if not k.endswith("_extra_state")}
    fresh = CDANLoss(schedule="constant", hidden=(4,))
    fresh.load_state_dict(old)
    _cdan_call(fresh, 3, 5)
    # ... also into a loss called before: its own sizes were kept, and the loaded weights
    # taken in its old layout
    used = CDANLoss(schedule="constant", hidden=(4,))
    _cdan_call(used, 5, 3)
    used.load_state_dict(old)
    _cdan_call(used, 3, 5)
    # a saved size is two positive ints: None skipped the width check
    for sizes in ([None, 5], ["3", 5], [3]):
        state = {**lazy.state_dict(), "_extra_state": {"sizes": sizes}}
        with pytest.raises(ValueError, match=r"CDANLoss: the saved sizes must be two positive"):
            CDANLoss(schedule="constant", hidden=(4,)).load_state_dict(state)


def test_a_refused_cdan_call_leaves_its_sizes_to_the_next():
    # the refused first call's k was kept: the valid (4, 10) was refused after it
    loss = CDANLoss(in_features=4, schedule="constant", hidden=(4,))
    with pytest.raises(ValueError, match="features have 6 columns, expected in_features=4"):
        _cdan_call(loss, 6, 3)
    _cdan_call(loss, 4, 10)


@pytest.mark.parametrize("given", [{"in_features": 7}, {"n_clusters": 4}])
def test_a_randomized_map_checks_the_size_given_while_the_other_is_lazy(given):
    # The first call's sizes were drawn whatever was declared: in_features=7 took 8 columns.
    mapping = RandomizedMultilinearMap(**given, out_dim=16)
    size = next(iter(given))
    with pytest.raises(ValueError, match=f"columns, but the map was drawn for {size}="):
        mapping(torch.randn(5, 8), torch.softmax(torch.randn(5, 3), 1))
    fits = torch.randn(5, given.get("in_features", 8))
    out = mapping(fits, torch.softmax(torch.randn(5, given.get("n_clusters", 3)), 1))
    assert out.shape == (5, 16)


def test_domain_bce_refuses_weights_that_are_no_weighted_mean():
    # (n, 1) weights of (n,) logits broadcast to (n, n): 3.66 where ones gave 0.77
    ls, lt = torch.randn(4), torch.randn(6)
    torch.testing.assert_close(domain_bce(ls, lt, torch.ones(4), torch.ones(6)), domain_bce(ls, lt))
    for ws, wt, match in [
        (
            torch.ones(4, 1),
            torch.ones(6, 1),
            r"source_weights must be a tensor of the logits' "
            r"shape \(4,\), got \(4, 1\)",
        ),
        (torch.ones(4), [1.0] * 6, "target_weights must be a tensor .* got list"),
        (torch.zeros(4), torch.ones(6), "source_weights must be finite and non-negative with a"),
        (-torch.ones(4), torch.ones(6), "source_weights must be finite and non-negative"),
        # one negative weight among positive ones, a positive sum: still no weighted mean
        (
            torch.tensor([2.0, -1.0, 1.0, 1.0]),
            torch.ones(6),
            "source_weights must be finite and non",
        ),
        (torch.ones(4), torch.full((6,), float("nan")), "target_weights must be finite"),
        (torch.tensor([1.0, float("inf"), 1.0, 1.0]), torch.ones(6), "source_weights must be fin"),
    ]:
        with pytest.raises(ValueError, match=match):
            domain_bce(ls, lt, ws, wt)


def test_registered_adversarial_names():
    assert isinstance(dtc.align.get("dann", in_features=3), DANNLoss)
    assert isinstance(dtc.align.get("cdan"), CDANLoss)
    cdan_e = dtc.align.get("cdan_e", randomized=True)
    assert isinstance(cdan_e, CDANELoss) and cdan_e.entropy_conditioning
    assert cdan_e.conditional and cdan_e.has_parameters


def test_cdan_e_takes_arguments_as_its_signature_reads_them():
    # its signature is CDANLoss's without entropy_conditioning, positional-or-keyword: the
    # call refused what the signature bound ("takes 1 positional argument but 3 were given")
    assert inspect.signature(CDANELoss).bind(3, 2)
    loss = CDANELoss(3, 2, [8], randomized=False)
    assert (loss.in_features, loss.n_clusters, loss.entropy_conditioning) == (3, 2, True)
    assert [m.out_features for m in loss.discriminator.net if isinstance(m, torch.nn.Linear)] == [
        8,
        1,
    ]
    with pytest.raises(TypeError):
        CDANELoss(bogus=1)
    with pytest.raises(ValueError, match="always uses entropy conditioning"):
        CDANELoss(entropy_conditioning=False)


@pytest.mark.parametrize("flag", ["randomized", "entropy_conditioning", "entropy_gradient"])
def test_cdan_flags_must_be_bools(flag):
    # bool("no") is True: CDANLoss(randomized="no") built the randomized map
    with pytest.raises(ValueError, match=f"CDANLoss: {flag} must be True or False, got 'no'"):
        CDANLoss(**{flag: "no"})


def test_cdan_seed_and_randomized_dim_and_the_schedule_arguments_are_checked():
    # torch's "manual_seed expected a long" at the first call; -5 accepted while unused;
    # dann_schedule(max_coeff=nan) gave nan, gamma=inf 1.0 from the start
    for kwargs, match in [
        ({"randomized": True, "seed": None}, "CDANLoss: seed must be an int"),
        ({"randomized": True, "seed": 1.5}, "CDANLoss: seed must be an int"),
        ({"randomized_dim": -5}, "CDANLoss: randomized_dim must be a positive int, got -5"),
    ]:
        with pytest.raises(ValueError, match=match):
            CDANLoss(**kwargs)
    for kwargs, match in [
        ({"max_coeff": float("nan")}, "max_coeff must be a number >= 0.0 and finite, got nan"),
        ({"gamma": float("inf")}, "gamma must be a number > 0.0 and finite, got inf"),
        ({"gamma": 0.0}, "gamma must be a number > 0.0 and finite, got 0.0"),
    ]:
        with pytest.raises(ValueError, match=match):
            dann_schedule(0.5, **kwargs)


def test_numpy_ints_and_seeds_are_taken_as_python_ones():
    # isinstance(v, int) refused numpy ints; CDAN's seed went unchecked (and unkept)
    # unless randomized
    import numpy as np

    from dtc import align

    assert align.get("dann", in_features=np.int64(8), hidden=[np.int64(16)]) is not None
    assert align.get("cdan", randomized=True, randomized_dim=np.int64(64)) is not None
    assert align.get("mmd", block_size=np.int64(64), median_max_samples=np.int64(512))
    for bad in ("bogus", -1, None, 1.5):
        with pytest.raises(ValueError, match=r"^CDANLoss: seed must be"):
            align.get("cdan", seed=bad)
    assert align.get("cdan", seed=3).seed == 3
    for hidden in (None, np.int64(16), ""):
        with pytest.raises(ValueError, match=r"hidden must be a sequence of positive ints"):
            align.get("dann", hidden=hidden)


def test_cdan_e_names_itself_for_arguments_it_does_not_take():
    # inspect's binding words name no class ("got an unexpected keyword argument 'bogus'",
    # "too many positional arguments"), where a call named CDANLoss.__init__
    with pytest.raises(TypeError, match=r"^CDANELoss: got an unexpected keyword argument 'bogus'"):
        CDANELoss(bogus=1)
    with pytest.raises(TypeError, match=r"^CDANELoss: too many positional arguments"):
        CDANELoss(*range(12))
