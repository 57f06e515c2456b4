"""The shared input check of alignment losses."""

import pytest
import torch

from dtc.align.base import _all_finite, check_pair_inputs


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
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.zeros(2, 2), "NaN or Inf"),
        (torch.zeros(1, 2), torch.zeros(1, 2), "at least 2"),
    ],
)
def test_check_pair_inputs(source, target, match):
    with pytest.raises(ValueError, match=match):
        check_pair_inputs(source, target, min_samples=2)
