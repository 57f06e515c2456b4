"""Bad seeds of the monitor's calibrations (``dtc.monitor.calibration``) are refused
naming the function and the argument: ``score_slope`` passed its seed to numpy
("SeedSequence expects int ...", and ``None`` gave another slope at each call);
``source_bias`` read ``kmeans_seeds`` with ``int()`` (1.5 as 1, "3" as 3), and scikit-learn
named ``random_state`` for a negative one."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.monitor.calibration import score_slope, source_bias


def labelled(seed=0):
    y = np.repeat([0, 1, 2], 20)
    return np.random.default_rng(seed).normal(size=(60, 4)) + 2.0 * y[:, None], y


@pytest.mark.parametrize("seed", [1.5, -1, None, True, "3", 2**32])
def test_score_slope_names_a_bad_seed(seed):
    X, y = labelled()
    with pytest.raises(ValueError, match=r"^score_slope: seed must be an int"):
        score_slope(X, y, seed=seed)


def test_score_slope_takes_a_numpy_seed():
    X, y = labelled()
    assert score_slope(X, y, seed=np.int64(2)) == score_slope(X, y, seed=2)


@pytest.mark.parametrize("seeds", [[1.5], [-1], ["3"], [None], [True], [2**32]])
def test_source_bias_names_a_bad_kmeans_seed(seeds):
    X, y = labelled()
    with pytest.raises(ValueError, match=r"^source_bias: kmeans_seeds must be an int"):
        source_bias(X, y, kmeans_seeds=seeds)


def test_source_bias_names_kmeans_seeds_that_are_no_sequence():
    X, y = labelled()
    with pytest.raises(ValueError, match=r"^source_bias: kmeans_seeds must be a sequence of ints"):
        source_bias(X, y, kmeans_seeds=5)


def test_source_bias_takes_a_range_and_numpy_seeds():
    X, y = labelled()
    assert source_bias(X, y, kmeans_seeds=range(1, 3)) == source_bias(
        X, y, kmeans_seeds=[np.int64(1), 2]
    )
