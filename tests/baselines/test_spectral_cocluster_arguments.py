"""``spectral_cocluster`` names a bad ``seed`` or ``n_init`` itself: scikit-learn named
its own ``random_state`` for ``seed=-1``, and took ``seed=None`` (another partition at
each call) and ``n_init=True`` (one start) without a word."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.coclustering import spectral_cocluster


def counts():
    return np.abs(np.random.default_rng(0).normal(size=(40, 12)))


@pytest.mark.parametrize("seed", [-1, 1.5, None, True, "3", 2**32])
def test_a_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match=r"^spectral_cocluster: seed must be an int"):
        spectral_cocluster(counts(), 3, seed=seed)


@pytest.mark.parametrize("n_init", [0, -1, 1.5, None, True, "3"])
def test_a_bad_n_init_is_named(n_init):
    with pytest.raises(ValueError, match=r"^spectral_cocluster: n_init must be"):
        spectral_cocluster(counts(), 3, n_init=n_init)


def test_the_caller_is_named():
    with pytest.raises(ValueError, match=r"^SpectralCoclustering: seed must be an int"):
        spectral_cocluster(counts(), 3, seed=-1, caller="SpectralCoclustering")


def test_numpy_ints_are_taken():
    a = spectral_cocluster(counts(), 3, n_init=np.int64(2), seed=np.int64(1))
    b = spectral_cocluster(counts(), 3, n_init=2, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
