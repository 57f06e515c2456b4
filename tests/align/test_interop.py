"""pytorch-adapt loss layers as dtc losses, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import dtc.align
from dtc.align.interop import INSTALL_HINT, PACORALLoss, PAMMDLoss, PytorchAdaptLoss


@pytest.fixture
def layers(pa_layers):
    return pa_layers


def _pair(n_s=8, n_t=8, d=3, shift=0.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(n_s, d, generator=g, dtype=dtype),
        1.5 * torch.randn(n_t, d, generator=g, dtype=dtype) + shift,
    )


def test_import_dtc_align_does_not_import_pytorch_adapt():
    code = (
        "import sys, dtc.align; "
        "assert {'pa_mmd', 'pa_coral', 'pytorch_adapt'} <= set(dtc.align.available()); "
        "assert 'pytorch_adapt' not in sys.modules, 'imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_pa_coral_equals_dtc_coral(layers):
    source, target = _pair()
    loss = dtc.align.get("pa_coral")
    assert isinstance(loss, PACORALLoss)
    assert loss(source, target).item() == pytest.approx(
        dtc.align.coral(source, target).item(), rel=1e-12
    )
    assert loss(source, source.clone()).item() == pytest.approx(0.0, abs=1e-12)


def test_pa_mmd_quadratic_matches_a_numpy_u_statistic(layers):
    # pytorch-adapt: exp(-D / h) with h the lower median (torch.median) of all n_s^2
    # squared source distances, zeros included (its default bandwidth); U-statistic
    # within domains.
    source, target = _pair(shift=0.5)
    x, y = source.numpy(), target.numpy()
    sq = lambda a, b: ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)  # noqa: E731
    flat = np.sort(sq(x, x).ravel())
    h = flat[(flat.size - 1) // 2]
    kxx, kyy, kxy = np.exp(-sq(x, x) / h), np.exp(-sq(y, y) / h), np.exp(-sq(x, y) / h)
    n, m = len(x), len(y)
    expected = (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )
    loss = dtc.align.get("pa_mmd", mmd_type="quadratic")
    assert isinstance(loss, PAMMDLoss)
    assert loss(source, target).item() == pytest.approx(expected, rel=1e-6)


def test_wrapper_passes_the_layer_output_and_gradients_through(layers):
    source, target = _pair(n_s=6, n_t=6)
    for spec in ("MeanDistLoss", layers.MeanDistLoss, layers.MeanDistLoss()):
        wrapped = PytorchAdaptLoss(spec)
        torch.testing.assert_close(wrapped(source, target), layers.MeanDistLoss()(source, target))
    generic = dtc.align.get("pytorch_adapt", layer="MMDLoss", mmd_type="linear")
    torch.testing.assert_close(
        generic(source, target), layers.MMDLoss(mmd_type="linear")(source, target)
    )
    inputs = (source.requires_grad_(True), target.requires_grad_(True))
    assert torch.autograd.gradcheck(PACORALLoss(), inputs)


def test_missing_extra_names_the_install_command(monkeypatch):
    # A None entry in sys.modules makes `import` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "pytorch_adapt", None)
    monkeypatch.setitem(sys.modules, "pytorch_adapt.layers", None)
    assert "pip install --no-deps pytorch-adapt==0.0.83" in INSTALL_HINT
    with pytest.raises(ImportError, match=r"pip install --no-deps pytorch-adapt==0\.0\.83"):
        dtc.align.get("pa_coral")


def test_bad_layer_and_params(layers):
    with pytest.raises(ValueError, match="has no 'NoSuchLoss'; its losses: .*CORALLoss"):
        PytorchAdaptLoss("NoSuchLoss")
    with pytest.raises(ValueError, match="layer must be a pytorch_adapt.layers name"):
        PytorchAdaptLoss(42)
    with pytest.raises(ValueError, match="already built; got extra parameters"):
        PytorchAdaptLoss(layers.CORALLoss(), mmd_type="linear")
    with pytest.raises(ValueError, match="expected a scalar tensor"):
        PytorchAdaptLoss(torch.nn.Bilinear(3, 3, 1))(*_pair(dtype=torch.float32))


def test_bad_inputs(layers):
    x = torch.randn(5, 3)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="source contains NaN"):
        PACORALLoss()(bad, x)
    with pytest.raises(ValueError, match="expected the same feature dimension"):
        PAMMDLoss(mmd_type="quadratic")(x, torch.randn(5, 4))
    with pytest.raises(ValueError, match="expected at least 2"):
        PACORALLoss()(x[:1], x)
    # pytorch-adapt's own MMD gives NaN (linear) or ZeroDivisionError (quadratic) here.
    for mmd_type in ("linear", "quadratic"):
        with pytest.raises(
            ValueError, match="PAMMDLoss: source has 1 samples, expected at least 2"
        ):
            PAMMDLoss(mmd_type=mmd_type)(x[:1], x[:1])
        # identical source rows: the median bandwidth is 0 and pytorch-adapt returns NaN
        with pytest.raises(
            ValueError,
            match=r"^PAMMDLoss: MMDLoss returned nan on finite inputs \(identical source rows "
            r"make its median bandwidth 0\? pass bandwidth=",
        ):
            PAMMDLoss(mmd_type=mmd_type)(torch.ones(5, 3), x)
    # a subclass of MMDLoss is advised its bandwidth too (pytorch-adapt's MMDBatchedLoss)
    with pytest.raises(ValueError, match=r"MMDBatchedLoss returned nan .*pass bandwidth="):
        PytorchAdaptLoss("MMDBatchedLoss", mmd_type="quadratic")(torch.ones(5, 3), x)
    # another layer is not advised a bandwidth it does not take (a TypeError)
    with pytest.raises(
        ValueError, match=r"PytorchAdaptLoss: CORALLoss returned .* \(an overflow\? standardise"
    ):
        PytorchAdaptLoss("CORALLoss")(x, x.flip(0) * 1e12)
    # the linear estimate pairs rows: unequal batches are named as dtc's loss's error
    with pytest.raises(ValueError, match="PAMMDLoss: mmd_type='linear' pairs source and target"):
        PAMMDLoss()(x, torch.randn(6, 3))
    assert torch.isfinite(PAMMDLoss(mmd_type="quadratic")(x, torch.randn(6, 3)))
    # the generic wrapper has no such check: pytorch-adapt's own error is passed on, naming
    # the dtc loss and the layer it wraps
    with pytest.raises(ValueError, match=r"^PytorchAdaptLoss \(MMDLoss\): For mmd_type 'linear'"):
        PytorchAdaptLoss("MMDLoss")(x, torch.randn(6, 3))


def test_batches_too_small_for_the_layer_are_refused(layers):
    # pytorch-adapt's median bandwidth is over all n_s^2 source pairs, zero self-distances
    # included: with 2 rows it is 0, and the value read 0 (domains 10 apart) with a NaN
    # gradient, which nothing refused. CORALLoss on 1 row raised ZeroDivisionError.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 3, generator=g, dtype=torch.float64)
    y = torch.randn(3, 3, generator=g, dtype=torch.float64) + 10
    two = x[:2].clone().requires_grad_(True)
    raw = layers.MMDLoss()(two, y[:2])  # the layer itself, unwrapped
    assert raw.item() == 0.0 and torch.isnan(torch.autograd.grad(raw, two)[0]).all()
    for loss in (
        dtc.align.get("pa_mmd"),
        dtc.align.get("pa_mmd", mmd_type="quadratic"),
        dtc.align.get("pytorch_adapt"),
    ):
        name = type(loss).__name__
        with pytest.raises(ValueError, match=rf"^{name} \(MMDLoss\): needs at least 3 source"):
            loss(two, y[:2])
        # three rows are enough, and match the layer
        torch.testing.assert_close(loss(x, y), layers.MMDLoss(mmd_type=loss.layer.mmd_type)(x, y))
    # a given bandwidth needs no median: two rows pass, one does not
    fixed = dtc.align.get("pytorch_adapt", bandwidth=2.0)
    value = fixed(two, y[:2])
    torch.testing.assert_close(value, layers.MMDLoss(bandwidth=2.0)(two, y[:2]))
    assert value > 0 and torch.isfinite(torch.autograd.grad(value, two)[0]).all()
    with pytest.raises(ValueError, match=r"\(MMDLoss\): needs at least 2 rows per domain"):
        fixed(x[:1], y[:1])
    coral = dtc.align.get("pytorch_adapt", layer="CORALLoss")
    with pytest.raises(ValueError, match=r"^PytorchAdaptLoss \(CORALLoss\): needs at least 2"):
        coral(x[:1], torch.randn(4, 3, dtype=torch.float64))
    torch.testing.assert_close(coral(x[:2], y), layers.CORALLoss()(x[:2], y))


def test_pa_coral_far_from_the_origin_is_dtc_coral(layers):
    # pytorch-adapt's expanded covariance (X'X - s s' / n) cancels in float32 when the mean
    # is large beside the spread: 9 % off at 1e3, 10,000 times at 1e4, without a word
    gen = torch.Generator().manual_seed(0)
    for offset in (1e3, 1e4):
        source = torch.randn(64, 8, generator=gen) + offset
        target = torch.randn(64, 8, generator=gen) * 1.2 + offset
        s, t = source.requires_grad_(), target.requires_grad_()
        value = PACORALLoss()(s, t)
        (grad,) = torch.autograd.grad(value, s)
        s64, t64 = source.detach().double().requires_grad_(), target.detach().double()
        exact = dtc.align.coral(s64, t64)  # float64: no cancellation left to speak of
        (exact_grad,) = torch.autograd.grad(exact, s64)
        assert value.item() == pytest.approx(exact.item(), rel=1e-4)
        torch.testing.assert_close(grad.double(), exact_grad, rtol=1e-3, atol=1e-8)
    # centred after half precision is widened: x - mean (90000) overflowed float16
    half = torch.tensor([[-6e4, 1.0], [6e4, 2.0], [6e4, 1.0], [6e4, 3.0]], dtype=torch.float16)
    assert PACORALLoss()(half, half.clone()).item() == 0.0
    # and an overflow names the features as given (it read "largest |value| inf")
    huge = torch.tensor([[-3e38, 1.0], [3e38, 2.0], [3e38, 1.0]])
    with pytest.raises(ValueError, match=r"largest \|value\| 3e\+38\)"):
        PACORALLoss()(huge, huge * 0.5)


def test_pa_coral_names_a_covariance_that_overflows(layers):
    # finite float32 features whose covariance overflows: pytorch-adapt returns NaN
    x = torch.randn(6, 3)
    with pytest.raises(ValueError, match="PACORALLoss: the covariance of target is not finite"):
        PACORALLoss()(x, x * 1e30)


def test_pa_coral_names_a_loss_that_overflows_from_finite_covariances(layers):
    # covariances of 1e24 are finite in float32, their squared difference is not: the error
    # named MMDLoss's median bandwidth ("identical source rows"), which CORAL does not have
    x = torch.randn(6, 3)
    with pytest.raises(ValueError, match="PACORALLoss: the loss overflows torch.float32"):
        PACORALLoss()(x, x.flip(0) * 1e12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_computed_in_float32(layers, dtype):
    # pytorch-adapt summed its (n, n) kernel matrices in float16: from about 500 rows the
    # sum overflowed (max 65504) and the value was refused as if the bandwidth were at
    # fault (0.0605 in float32 on these rows). As dtc's own losses: computed in float32,
    # returned in the inputs' dtype, with the gradient in it.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g)
    y = 1.3 * torch.randn(500, 6, generator=g) + 0.4
    xh, yh = x.to(dtype).requires_grad_(True), y.to(dtype)
    for loss in (PAMMDLoss(mmd_type="quadratic"), PACORALLoss()):
        value = loss(xh, yh)
        want = loss(xh.detach().float(), yh.float())  # the same rounded rows
        assert value.dtype == dtype
        assert value.item() == pytest.approx(want.item(), rel=torch.finfo(dtype).eps)
        value.backward()
        assert xh.grad.dtype == dtype and torch.isfinite(xh.grad).all()
        xh.grad = None


def test_a_value_past_the_inputs_half_precision_is_refused(layers):
    # computed in float32 (369946 here), the value overflowed float16 when cast back, and
    # inf reached training where the old code, and dtc's own CORAL, refuse it
    torch.manual_seed(0)
    s, t = (torch.randn(64, 8) * 30).half(), (torch.randn(64, 8) * 60).half()
    with pytest.raises(ValueError, match=r"PACORALLoss: CORALLoss's value 369\d+ overflows"):
        PACORALLoss()(s, t)


def test_kernel_scales_from_a_config_list_match_the_layer_given_a_tensor(layers):
    """YAML and --set give a list; pytorch-adapt's MMDLoss takes a float or a tensor, and a
    list failed at the first batch (list repetition: a bare TypeError)."""
    source, target = _pair(n_s=9, n_t=7, shift=1.0)
    scales = [0.5, 1.0, 2.0]
    reference = layers.MMDLoss(kernel_scales=torch.tensor(scales), mmd_type="quadratic")
    expected = reference(source, target).item()
    for loss in (
        dtc.align.get("pa_mmd", kernel_scales=scales, mmd_type="quadratic"),
        dtc.align.get("pytorch_adapt", layer="MMDLoss", kernel_scales=scales, mmd_type="quadratic"),
    ):
        assert loss(source, target).item() == pytest.approx(expected, rel=1e-12)
    for bad in ([], [1.0, -2.0], [1.0, float("nan")], "1", True, 0):
        with pytest.raises(ValueError, match="kernel_scales must be a positive number"):
            dtc.align.get("pa_mmd", kernel_scales=bad)


def test_a_typo_in_pytorch_adapt_loss_params_is_refused_before_any_run(layers):
    """PAMMDLoss and PytorchAdaptLoss took **params: a config's typo passed DTC's check,
    then failed each run."""
    from dtc import DTC

    cases = [
        ("pa_mmd", {"kernel_scale": 2.0}, "loss_params do not fit loss 'pa_mmd'.*kernel_scale"),
        ("pytorch_adapt", {"layer": "MMDLoss", "kernel_scale": 2.0}, "do not fit MMDLoss"),
        ("pytorch_adapt", {"layer": "NoSuchLoss"}, "has no 'NoSuchLoss'"),
        ("pytorch_adapt", {"kernel_scales": [1, 0]}, "kernel_scales must be a positive"),
    ]
    for loss, params, error in cases:
        with pytest.raises(ValueError, match=error):
            DTC(loss=loss, loss_params=params).check_params()
    for loss, params in [
        ("pa_mmd", {"kernel_scales": [1, 2], "mmd_type": "quadratic"}),
        ("pytorch_adapt", {"layer": "CORALLoss"}),
        ("pytorch_adapt", {"kernel_scales": 2.0}),
        ("pa_coral", {}),
    ]:
        DTC(loss=loss, loss_params=params).check_params()


class _ScaledMMD(PytorchAdaptLoss):
    """A user's subclass with parameters of its own, building its layer as it chooses."""

    def __init__(self, width=1.0):
        super().__init__("MMDLoss", kernel_scales=width, mmd_type="quadratic")


class _OwnCheck(torch.nn.Module):
    """A user's loss with a method of the instance that happens to bear the hook's name."""

    def check_loss_params(self, params):
        return True

    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).pow(2).sum()


def test_the_loss_params_check_fits_each_layer_and_leaves_other_losses_alone(layers):
    """Reviewed: the layer check refused a subclass's own parameters and a user's method
    named like the hook; CORALLoss (nn.Module's (*args, **kwargs)) and MMDBatchedLoss
    (**kwargs on to MMDLoss) took any typo; numpy kernel_scales were refused."""
    from dtc import DTC

    DTC(loss=f"{__name__}:_ScaledMMD", loss_params={"width": 2.0}).check_params()
    DTC(loss=f"{__name__}:_OwnCheck").check_params()
    DTC(
        loss="pytorch_adapt",
        loss_params={"layer": "MMDBatchedLoss", "batch_size": 8, "kernel_scales": [1, 2]},
    ).check_params()
    for params, error in [
        (
            {"layer": "CORALLoss", "kernel_scales": 1},
            r"do not fit CORALLoss: .*\['kernel_scales'\]",
        ),
        (
            {"layer": "MMDBatchedLoss", "kernal_scales": 1},
            r"do not fit MMDBatchedLoss: .*kernal_scales",
        ),
    ]:
        with pytest.raises(ValueError, match=error):
            DTC(loss="pytorch_adapt", loss_params=params).check_params()
    source, target = _pair(shift=1.0)
    expected = dtc.align.get("pa_mmd", kernel_scales=[0.5, 1.0], mmd_type="quadratic")(
        source, target
    )
    for scales in (np.array([0.5, 1.0]), (np.float32(0.5), np.int64(1))):
        loss = dtc.align.get("pa_mmd", kernel_scales=scales, mmd_type="quadratic")
        assert loss(source, target).item() == pytest.approx(expected.item(), rel=1e-6)
    assert dtc.align.get("pa_mmd", kernel_scales=np.float32(2.0))(source, target).isfinite()


def test_a_layer_of_ones_own_takes_its_kwargs_and_needs_its_arguments(layers):
    """Reviewed: the check followed any **kwargs to the base class, and refused a layer
    handing them to an inner one; and it let a missing required argument pass."""

    class Weighted(torch.nn.Module):
        def __init__(self, weight=1.0, **mmd_kwargs):
            super().__init__()
            self.weight, self.mmd = weight, layers.MMDLoss(**mmd_kwargs)

        def forward(self, source, target):
            return self.weight * self.mmd(source, target)

    class Sized(layers.MMDLoss):
        def __init__(self, n, **kwargs):
            super().__init__(**kwargs)
            self.n = n

    source, target = _pair(shift=1.0)
    loss = PytorchAdaptLoss(Weighted, weight=2.0, kernel_scales=2.0, mmd_type="quadratic")
    direct = 2.0 * layers.MMDLoss(kernel_scales=2.0, mmd_type="quadratic")(source, target)
    assert loss(source, target).item() == pytest.approx(direct.item(), rel=1e-12)
    with pytest.raises(ValueError, match="do not fit Sized: missing a required argument: 'n'"):
        PytorchAdaptLoss(Sized, mmd_type="quadratic")
    assert PytorchAdaptLoss(Sized, n=3, mmd_type="quadratic").layer.n == 3


class _ProjectedGap(torch.nn.Module):
    """A layer with weights of its own: the mean gap of a linear projection."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3, 2).to(torch.bfloat16)

    def forward(self, source, target):
        assert source.dtype == torch.bfloat16  # given as they are: its weights fix its dtype
        return (self.proj(source).mean(0) - self.proj(target).mean(0)).pow(2).sum()


def test_a_layer_with_parameters_is_a_loss_with_parameters_given_its_inputs_as_they_are():
    # documented: the layer's parameters are the loss's (has_parameters: the pipeline trains
    # them); only a layer without parameters computes half precision in float32
    loss = PytorchAdaptLoss(_ProjectedGap())
    assert loss.has_parameters
    assert [p for p in loss.parameters()] == list(loss.layer.proj.parameters())
    source, target = (x.to(torch.bfloat16) for x in _pair())
    assert loss(source, target).dtype == torch.bfloat16
    assert not PytorchAdaptLoss(torch.nn.L1Loss()).has_parameters


def test_pa_mmd_checks_its_kernel_scales_when_a_config_loads(layers):
    # PAMMDLoss's own check_loss_params: a negative or empty kernel_scales is refused before
    # any run, as the constructor refuses it
    PAMMDLoss.check_loss_params({"kernel_scales": [0.5, 2.0]})
    for bad in (-1.0, [], [1.0, 0.0]):
        with pytest.raises(ValueError, match="kernel_scales must be a positive number"):
            PAMMDLoss.check_loss_params({"kernel_scales": bad})
        with pytest.raises(ValueError, match="kernel_scales must be a positive number"):
            PAMMDLoss(kernel_scales=bad)
