"""Paths of dtc.align no other test reached: the reprs of the log-CORAL, sliced-Wasserstein,
Sinkhorn losses and the randomized map, argument messages (a non-tensor input, a 0-d
projection, a non-number bandwidth, a bad chunk, jmmd2's layers), one DAN scale, bandwidths
given as a 2-d array, unseeded projections (in one dimension), and a float32 cost mean past
float32's range."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dtc import align
from dtc.align import check_pair_inputs
from dtc.align.cdan import RandomizedMultilinearMap
from dtc.align.jmmd import jmmd2
from dtc.align.kernels import dan_scales, linear_time_sums
from dtc.align.mmd import MMDLoss
from dtc.align.ot import _cost_scale, sliced_wasserstein


def _message(fn) -> str:
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


def test_reprs():
    assert repr(align.get("log_coral")) == "LogCORALLoss(eps=0.001)"
    assert repr(align.get("swd")) == (
        "SlicedWassersteinLoss(n_projections=50, p=2.0, seed=0, resample=True)"
    )
    assert repr(align.get("sinkhorn")) == (
        "SinkhornLoss(reg=0.1, normalize='mean', debias=False, grad='envelope')"
    )
    assert repr(RandomizedMultilinearMap(out_dim=8, seed=3)) == (
        "RandomizedMultilinearMap(out_dim=8, seed=3)"
    )


def test_argument_messages():
    z = torch.zeros(3, 2)
    assert _message(lambda: check_pair_inputs(np.zeros((3, 2)), z, name="L")) == (
        "L: source must be a torch.Tensor, got <class 'numpy.ndarray'>"
    )
    assert _message(lambda: sliced_wasserstein(z, z, projections=np.float64(1.0))) == (
        "projections must have shape (d=2, n_projections), got ()"
    )
    assert _message(lambda: MMDLoss(sigmas=[1.0, "a"])) == (
        "MMDLoss: sigmas must be a sequence of positive numbers, got [1.0, 'a']"
    )
    assert _message(lambda: linear_time_sums([z], [z], [None], chunk=0)) == (
        "chunk must be a positive int or None, got 0"
    )
    assert _message(lambda: jmmd2(z, z, estimator="biased", sigmas=1.0)) == (
        "jmmd2 (biased): sources and targets must be lists of (n, d_l) tensors"
    )


def test_one_dan_scale_is_base_to_the_low():
    assert dan_scales(num=1, base=2.0, low=-3.0, high=5.0) == (0.125,)


def test_bandwidths_as_a_two_dimensional_array_are_read_flat():
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 3, generator=gen), torch.randn(5, 3, generator=gen) + 1
    by_array = MMDLoss(sigmas=np.array([[1.0], [2.0]]))(s, t)
    assert by_array == MMDLoss(sigmas=(1.0, 2.0))(s, t)


def test_unseeded_projections_on_one_feature_give_the_shift():
    # in one dimension every unit projection is +1 or -1: SW_2 is the shift, whatever draws
    s, t = torch.zeros(4, 1), torch.full((4, 1), 2.0)
    for _ in range(3):
        assert float(sliced_wasserstein(s, t, seed=None)) == pytest.approx(2.0, rel=1e-6)


def test_a_cost_mean_past_float32_is_summed_in_float64():
    cost = torch.full((2, 2), 3e38)  # float32, each finite; their float32 sum is inf
    assert torch.isinf(cost.sum())
    scale = _cost_scale(cost, "mean")
    assert scale.dtype == torch.float32 and float(scale) == pytest.approx(3e38, rel=1e-6)
