"""``start_from_means`` (public, as ``gmm`` uses it) refuses what ``gmm`` refuses, naming
it: an unknown ``covariance_type`` was taken as "full", a negative ``reg_covar`` gave
negative precisions ("diag"), and means of the wrong shape failed as "not enough values
to unpack"."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.cluster.gmm import start_from_means


def data():
    y = np.repeat([0, 1, 2], 20)
    X = np.random.default_rng(0).normal(size=(60, 4)) + 3.0 * y[:, None]
    return X, np.stack([X[y == c].mean(0) for c in range(3)])


@pytest.mark.parametrize("covariance_type", ["ful", "Full", None])
def test_an_unknown_covariance_type_is_named(covariance_type):
    X, means = data()
    with pytest.raises(ValueError, match=r"^covariance_type: expected one of"):
        start_from_means(X, means, covariance_type)


@pytest.mark.parametrize("reg_covar", [-1.0, float("nan"), float("inf"), "1e-6", None, True])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_a_bad_reg_covar_is_named(covariance_type, reg_covar):
    X, means = data()
    with pytest.raises(ValueError, match=r"^reg_covar: expected a non-negative float"):
        start_from_means(X, means, covariance_type, reg_covar)


@pytest.mark.parametrize("bad", ["1-d", "empty", "width"])
def test_means_of_another_shape_are_named(bad):
    X, means = data()
    means = {"1-d": means[0], "empty": means[:0], "width": means[:, :3]}[bad]
    with pytest.raises(ValueError, match=r"^start_from_means: expected X of shape \(n, d\)"):
        start_from_means(X, means)


def test_a_zero_reg_covar_and_numpy_numbers_are_taken():
    X, means = data()
    weights, precisions = start_from_means(X, means, "diag", np.float64(0.0))
    assert weights.shape == (3,) and (precisions > 0).all()
