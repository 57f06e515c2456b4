"""Feature-correspondence test of a source against a target (``dtc.monitor.relatedness``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from dtc.data import make_digits_pair
from dtc.monitor.relatedness import feature_correspondence


def correlated(n, d, seed, mix=None):
    """``(n, d)`` rows whose features co-vary through the fixed mixing matrix ``mix``."""
    rng = np.random.default_rng(seed)
    if mix is None:
        mix = np.random.default_rng(0).normal(0, 1, (4, d))
    return rng.normal(0, 1, (n, 4)) @ mix + 0.5 * rng.normal(0, 1, (n, d))


def test_statistic_by_hand_with_scipy():
    Xs, Xt = correlated(60, 6, seed=1), correlated(50, 6, seed=2)
    Xt[:, 2] *= 100.0  # the statistic only sees correlations, not scales
    iu = np.triu_indices(6, 1)
    cs = [np.corrcoef(Xs[:, i], Xs[:, j])[0, 1] for i, j in zip(*iu)]
    ct = [np.corrcoef(Xt[:, i], Xt[:, j])[0, 1] for i, j in zip(*iu)]
    out = feature_correspondence(Xs, Xt, n_permutations=9)
    assert out["statistic"] == pytest.approx(pearsonr(cs, ct).statistic, abs=1e-12)
    assert out["n_features"] == 6


def test_identical_domains_agree_perfectly_and_beat_every_permutation():
    X = correlated(200, 20, seed=3)
    out = feature_correspondence(X, X, n_permutations=99)
    assert out["statistic"] == pytest.approx(1.0)
    assert out["p_value"] == pytest.approx(0.01)  # (1 + 0) / (1 + 99)


def test_p_value_is_uniform_for_unrelated_features():
    # Independent mixings: under the null the p-value is uniform, so about a tenth of the
    # unrelated pairs fall at or below 0.1 (binomial, 60 draws: 95 % within 2..11).
    Xt = correlated(200, 20, seed=5)
    pvals = [
        feature_correspondence(
            correlated(200, 20, seed=100 + i, mix=np.random.default_rng(i).normal(0, 1, (4, 20))),
            Xt,
            n_permutations=99,
            seed=i,
        )["p_value"]
        for i in range(60)
    ]
    assert 2 <= sum(p <= 0.1 for p in pvals) <= 11
    assert 0.35 < np.mean(pvals) < 0.65


def test_constant_features_are_left_out():
    X = correlated(100, 10, seed=6)
    Xs, Xt = np.c_[X, np.ones(100)], np.c_[correlated(100, 10, seed=7), np.arange(100.0)]
    assert feature_correspondence(Xs, Xt, n_permutations=9)["n_features"] == 10


def test_digits_source_corresponds_and_its_permuted_pixels_do_not():
    pair = make_digits_pair()
    s, t = pair.source.X, pair.target.X
    related = feature_correspondence(s, t)
    assert related["p_value"] == pytest.approx(0.01) and related["statistic"] > 0.4
    permuted = feature_correspondence(s[:, np.random.default_rng(0).permutation(64)], t)
    assert permuted["p_value"] > 0.05 and abs(permuted["statistic"]) < 0.1


@pytest.mark.parametrize(
    ("Xs", "Xt", "match"),
    [
        (np.zeros((10, 5)), np.zeros((10, 6)), "same number of features, got 5 and 6"),
        (np.zeros((2, 5)), np.zeros((10, 5)), "Xs needs at least 3 rows"),
        (np.zeros(5), np.zeros((10, 5)), r"Xs must have shape \(n, d\)"),
        (np.full((10, 5), np.nan), np.zeros((10, 5)), "Xs contains NaN"),
        (np.ones((10, 5)), np.ones((10, 5)), "at least 3 features that vary"),
    ],
)
def test_bad_input_is_refused(Xs, Xt, match):
    with pytest.raises(ValueError, match=match):
        feature_correspondence(Xs, Xt)


def test_bad_permutation_count_is_refused():
    X = correlated(20, 5, seed=0)
    with pytest.raises(ValueError, match="n_permutations must be >= 1"):
        feature_correspondence(X, X, n_permutations=0)
