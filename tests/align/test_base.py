"""The shared input check of alignment losses."""

import pytest
import torch

from dtc.align.base import AlignmentLoss, _all_finite, check_loss_value, check_pair_inputs


def test_all_finite_agrees_with_the_elementwise_test():
    x = torch.randn(50, 4)
    assert _all_finite(x)
    for bad in (float("nan"), float("inf"), -float("inf")):
        y = x.clone()
        y[17, 2] = bad
        assert not _all_finite(y)


def test_all_finite_when_the_sum_overflows():
    # Finite values whose sum overflows to inf must still count as finite.
    x = torch.full((4, 3), 3e38)
    assert not torch.isfinite(x.sum())
    assert _all_finite(x)


@pytest.mark.parametrize(
    ("source", "target", "match"),
    [
        (torch.zeros(3, 2), torch.zeros(3, 4), "same feature dimension"),
        (torch.zeros(3), torch.zeros(3, 2), r"shape \(n, d\)"),
        # more than two dimensions: (n, d, 1) rows would compare as d features of one column
        (torch.zeros(3, 2, 1), torch.zeros(3, 2, 1), r"source must have shape \(n, d\)"),
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.zeros(2, 2), "NaN or Inf"),
        (torch.zeros(1, 2), torch.zeros(1, 2), "at least 2"),
        (
            torch.zeros(3, 2, dtype=torch.long),
            torch.zeros(3, 2),
            "source has dtype torch.int64, expected a floating-point dtype",
        ),
        (
            torch.zeros(3, 2),
            torch.zeros(3, 2, dtype=torch.complex64),
            "target has dtype torch.complex64, expected a floating-point dtype",
        ),
        (torch.zeros(3, 0), torch.zeros(3, 0), r"source has shape \(3, 0\), expected d >= 1"),
        (
            torch.zeros(3, 2),
            torch.zeros(3, 2, dtype=torch.float64),
            "target has dtype torch.float64, expected source's torch.float32",
        ),
        # A meta tensor holds no data: the device check must come before any data is read.
        (
            torch.zeros(3, 2),
            torch.zeros(3, 2, device="meta"),
            "target is on device meta, expected source's cpu",
        ),
    ],
)
def test_check_pair_inputs(source, target, match):
    with pytest.raises(ValueError, match=match):
        check_pair_inputs(source, target, min_samples=2, name="myloss")
    with pytest.raises(ValueError, match="^myloss: "):
        check_pair_inputs(source, target, min_samples=2, name="myloss")


def test_check_pair_inputs_accepts_every_floating_dtype():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        check_pair_inputs(torch.zeros(3, 2, dtype=dtype), torch.ones(4, 2, dtype=dtype))


def test_check_pair_inputs_refuses_meta_tensors_by_name():
    # both on 'meta': the finiteness test used to fail in torch's words (Tensor.item())
    meta = torch.zeros(3, 2, device="meta")
    with pytest.raises(ValueError, match="^myloss: source and target are tensors on the 'meta'"):
        check_pair_inputs(meta, meta, name="myloss")


def test_check_pair_inputs_same_dtype_false_takes_two_floating_dtypes():
    # documented: not same_dtype is for a caller that widens the rows it uses itself
    source, target = torch.zeros(3, 2), torch.ones(4, 2, dtype=torch.float64)
    check_pair_inputs(source, target, same_dtype=False)
    with pytest.raises(ValueError, match="target has dtype torch.float64"):
        check_pair_inputs(source, target)


def test_check_loss_value_takes_one_real_floating_value_of_any_shape():
    # "a real floating-point tensor of one value": () and (1,) alike
    for ok in (torch.tensor(0.5), torch.ones(1), torch.ones(1, 1, dtype=torch.float64)):
        check_loss_value(ok, "DTC: loss Mine")
    with pytest.raises(ValueError, match=r"^DTC: loss Mine must return a scalar .*shape \(2,\)"):
        check_loss_value(torch.ones(2), "DTC: loss Mine")
    for bad in (torch.tensor(1), torch.tensor(1 + 0j), torch.tensor(True)):
        with pytest.raises(ValueError, match="^DTC: loss Mine must return a real floating-point"):
            check_loss_value(bad, "DTC: loss Mine")


def test_an_alignment_loss_takes_one_row_per_domain_unless_it_says_otherwise():
    # min_samples defaults to 1: a subclass that sets nothing takes one-row batches
    class MeanGap(AlignmentLoss):
        def compute(self, source, target, **context):
            return (source.mean(0) - target.mean(0)).pow(2).sum()

    assert MeanGap()(torch.zeros(1, 2), torch.ones(1, 2)).item() == 2.0

    class Two(MeanGap):
        min_samples = 2

    with pytest.raises(ValueError, match="^Two: source has 1 samples, expected at least 2"):
        Two()(torch.zeros(1, 2), torch.ones(3, 2))
