"""Bad arguments of the source checks (``dtc.monitor.relatedness``) are refused naming the
function and the argument: numpy's words ("SeedSequence expects int ..."), a bare
comparison's TypeError, or an answer (``seed=None``: a p-value that changed from call to
call; ``eps=-1``: constant features marked as varying)."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.monitor.relatedness import (
    check_source,
    feature_correspondence,
    structural_similarity,
    varying_features,
)


def rows(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, 4)) @ np.random.default_rng(0).normal(0, 1, (4, d)) + 0.5 * (
        rng.normal(0, 1, (n, d))
    )


BAD_SEEDS = [1.5, -1, None, True, "3", 2**32]


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize(
    "fn", [feature_correspondence, structural_similarity, check_source], ids=lambda f: f.__name__
)
def test_a_bad_seed_is_named(fn, seed):
    Xs, Xt = rows(40, 20, 1), rows(30, 20, 2)
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: seed must be an int"):
        fn(Xs, Xt, seed=seed)


def test_check_source_names_a_bad_seed_where_the_checks_do_not_apply():
    # too few features: check_source returns None, and still refuses the seed
    assert check_source(rows(40, 5, 1), rows(30, 5, 2)) is None
    with pytest.raises(ValueError, match=r"^check_source: seed must be an int >= 0, got 1\.5"):
        check_source(rows(40, 5, 1), rows(30, 5, 2), seed=1.5)


def test_numpy_seeds_are_taken():
    Xs, Xt = rows(40, 20, 1), rows(30, 20, 2)
    a = feature_correspondence(Xs, Xt, n_permutations=9, seed=np.int64(3))
    assert a == feature_correspondence(Xs, Xt, n_permutations=9, seed=3)


@pytest.mark.parametrize("alpha", [None, "0.05", [0.05]])
def test_check_source_names_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"^check_source: alpha must be in \(0, 1\)"):
        check_source(rows(40, 20, 1), rows(30, 20, 2), alpha=alpha)


@pytest.mark.parametrize("eps", [-1.0, float("nan"), float("inf"), "3", None, True])
def test_varying_features_names_a_bad_eps(eps):
    X = np.c_[rows(40, 5, 1), np.ones(40)]
    with pytest.raises(ValueError, match=r"^varying_features: eps must be a finite number >= 0"):
        varying_features(X, X, eps)


def test_varying_features_leaves_out_a_constant_feature():
    X = np.c_[rows(40, 5, 1), np.ones(40)]
    assert varying_features(X, X).tolist() == [True] * 5 + [False]


def test_varying_features_names_a_1d_input():
    with pytest.raises(ValueError, match=r"^varying_features: Xs must have shape \(n, d\)"):
        varying_features(np.ones(5), np.ones((4, 5)))
