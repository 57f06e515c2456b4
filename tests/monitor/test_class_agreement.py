"""Tests of :mod:`dtc.monitor.class_agreement` against closed-form cases: classes the target's
clusters follow exactly (AMI 1), classes along directions the target's clusters do not vary in
(AMI about 0), and invariance to per-feature affine scaling of either domain."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score
from sklearn.preprocessing import StandardScaler

from dtc.monitor.class_agreement import class_agreement


def three_blobs(axes, n_per=60, d=6, sep=12.0, seed=0):
    """``(3 n_per, d)`` rows of three blobs placed ``sep`` apart along the feature ``axes``
    (one axis per blob; the other features unit noise), and their labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per)
    X = rng.normal(0, 1, (len(y), d))
    for c, axis in enumerate(axes):
        X[y == c, axis] += sep
    return X, y


def test_clusters_that_are_the_source_classes_agree_fully():
    Xs, ys = three_blobs((0, 1, 2), seed=0)
    Xt, _ = three_blobs((0, 1, 2), seed=1)
    out = class_agreement(Xs, ys, Xt, 3)
    assert out["agreement"] == pytest.approx(1.0)
    assert out["n_named"] == out["n_clusters"] == out["n_classes"] == 3


def test_clusters_along_directions_the_classes_do_not_use_agree_by_chance_only():
    # The source's classes differ in features 0-2, the target's clusters in features 3-5:
    # the classifier's names of target rows depend on noise, not on their cluster.
    Xs, ys = three_blobs((0, 1, 2), seed=0)
    Xt, _ = three_blobs((3, 4, 5), n_per=200, seed=1)
    assert abs(class_agreement(Xs, ys, Xt, 3)["agreement"]) < 0.05


def test_the_agreement_ignores_per_feature_affine_scaling():
    Xs, ys = three_blobs((0, 1, 2), sep=2.0, seed=0)
    Xt, _ = three_blobs((0, 1, 3), sep=2.0, seed=1)
    rng = np.random.default_rng(2)
    scale, shift = rng.uniform(0.5, 3.0, 6), rng.normal(0, 5, 6)
    a = class_agreement(Xs, ys, Xt, 3)["agreement"]
    b = class_agreement(Xs * scale + shift, ys, Xt / scale - shift, 3)["agreement"]
    assert 0.0 < a < 1.0 and b == pytest.approx(a, abs=1e-9)


def test_a_constant_feature_is_no_error():
    Xs, ys = three_blobs((0, 1, 2), seed=0)
    Xt, _ = three_blobs((0, 1, 2), seed=1)
    Xs[:, 5] = 7.0
    Xt[:, 4] = -1.0
    assert class_agreement(Xs, ys, Xt, 3)["agreement"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda Xs, ys, Xt: (Xs[:, :5], ys, Xt, 3), "same number of features, got 5 and 6"),
        (lambda Xs, ys, Xt: (Xs, ys[:-1], Xt, 3), r"ys must have shape \(180,\)"),
        (lambda Xs, ys, Xt: (Xs, np.zeros_like(ys), Xt, 3), "at least 2 classes, got 1"),
        (lambda Xs, ys, Xt: (Xs, ys, Xt[:3], 3), r"n_clusters must be in \[2, n_t\)"),
        (lambda Xs, ys, Xt: (Xs, ys, Xt, 1), r"n_clusters must be in \[2, n_t\)"),
        (lambda Xs, ys, Xt: (Xs, ys, Xt, 3.0), "n_clusters must be an int"),
        (lambda Xs, ys, Xt: (Xs, ys, np.where(Xt > 3, np.nan, Xt), 3), "Xt contains NaN"),
        (lambda Xs, ys, Xt: (Xs[0], ys, Xt, 3), r"Xs must have shape \(n, d\)"),
    ],
)
def test_bad_input_is_refused(change, match):
    Xs, ys = three_blobs((0, 1, 2), seed=0)
    Xt, _ = three_blobs((0, 1, 2), seed=1)
    with pytest.raises(ValueError, match=match):
        class_agreement(*change(Xs, ys, Xt))
    for C in (0.0, "a", float("nan")):
        with pytest.raises(ValueError, match="class_agreement: C must be a number > 0"):
            class_agreement(Xs, ys, Xt, 3, C=C)
    with pytest.raises(ValueError, match="class_agreement: n_init must be an int >= 1"):
        class_agreement(Xs, ys, Xt, 3, n_init=0)
    with pytest.raises(ValueError, match="class_agreement: seed must be an int >= 0"):
        class_agreement(Xs, ys, Xt, 3, seed=-1)


@pytest.mark.filterwarnings("error")  # scikit-learn's ConvergenceWarning came first
def test_a_target_of_identical_rows_has_no_clusters_to_agree_with():
    # one K-means cluster and one name: scikit-learn's AMI of two constant labellings is
    # 1 by convention (0 / 0), and it was read as perfect agreement
    Xs, ys = three_blobs((0, 1, 2), seed=0)
    with pytest.raises(ValueError, match="Xt: its rows are identical once standardised, so "):
        class_agreement(Xs, ys, np.ones((30, 6)), 3)
    # a column of one extreme value and zeros is no constant (its squares underflowed at
    # 1e-200, overflowed at 1e200: standardised to zeros, one cluster, AMI 1); it clusters
    # as a column of one 1 and zeros does
    for extreme in (1e-200, 1e200):
        Xt = np.zeros((30, 6))
        Xt[0, 0] = extreme
        with pytest.warns(ConvergenceWarning, match="distinct clusters"):
            result = class_agreement(Xs, ys, Xt, 3)
        Xt[0, 0] = 1.0
        with pytest.warns(ConvergenceWarning, match="distinct clusters"):
            assert result == class_agreement(Xs, ys, Xt, 3)
        assert result["n_clusters"] == 2
    # two distinct rows are two clusters, however few the second's copies (and fewer
    # than asked, as scikit-learn warns)
    Xt = np.ones((30, 6))
    Xt[0] = 2.0
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        assert class_agreement(Xs, ys, Xt, 3)["n_clusters"] == 2


def test_source_names_are_a_logistic_regression_of_the_standardised_domains():
    from sklearn.linear_model import LogisticRegression

    from dtc.monitor.class_agreement import source_names

    rng = np.random.default_rng(4)
    ys = np.repeat([3, 7], 50)
    Xs = rng.normal(size=(100, 5)) + 2.0 * ys[:, None]
    Xt = 5.0 * rng.normal(size=(80, 5)) + 1.0  # standardised on its own, like the source

    def z(X):
        return (X - X.mean(axis=0)) / X.std(axis=0)

    expected = LogisticRegression(C=0.1, max_iter=500).fit(z(Xs), ys).predict(z(Xt))
    np.testing.assert_array_equal(source_names(Xs, ys, Xt), expected)
    assert set(np.unique(source_names(Xs, ys, Xs))) == {3, 7}
    np.testing.assert_array_equal(source_names(Xs, ys, Xs), ys)


def test_the_agreement_is_scikit_learns_adjusted_mutual_information():
    # Overlapping blobs and more clusters than classes, so that AMI, corrected for chance,
    # lies below the unadjusted NMI of the same two labelings; each domain standardised on
    # its own (StandardScaler), the classifier's C and K-means' n_init as documented.
    Xs, ys = three_blobs((0, 1, 2), n_per=30, sep=2.0, seed=0)
    Xt, _ = three_blobs((0, 1, 2), n_per=30, sep=2.0, seed=1)
    out = class_agreement(Xs, ys, Xt, 6, seed=2)
    zs, zt = StandardScaler().fit_transform(Xs), StandardScaler().fit_transform(Xt)
    names = LogisticRegression(C=0.1, max_iter=500).fit(zs, ys).predict(zt)
    clusters = KMeans(6, n_init=4, random_state=2).fit_predict(zt)
    assert out["agreement"] == pytest.approx(adjusted_mutual_info_score(clusters, names), abs=1e-12)
    assert normalized_mutual_info_score(clusters, names) - out["agreement"] > 0.01
    assert out["n_named"] == np.unique(names).size


def test_n_named_counts_the_source_classes_that_name_a_target_row():
    # Two source classes, apart along feature 0; three target clusters, one of them along
    # feature 0: the classifier names that cluster class 1 and the other two class 0, so
    # two classes name the target's rows, fewer than its three clusters.
    rng = np.random.default_rng(0)
    ys = np.repeat([0, 1], 60)
    Xs = rng.normal(0, 1, (120, 6))
    Xs[ys == 1, 0] += 12.0
    Xt, _ = three_blobs((0, 1, 2), seed=1)
    out = class_agreement(Xs, ys, Xt, 3)
    assert out["n_named"] == 2 and out["n_clusters"] == 3 and out["n_classes"] == 2


def test_complex_rows_are_refused_not_cut_to_their_real_part():
    from dtc.monitor.relatedness import feature_correspondence

    g = np.random.default_rng(0)
    Xs, Xt = g.normal(size=(30, 4)), g.normal(size=(30, 4))
    ys = np.arange(30) % 3
    with pytest.raises(ValueError, match="class_agreement: .*must be real numbers"):
        class_agreement(Xs + 0j, ys, Xt, 3)
    with pytest.raises(ValueError, match="feature_correspondence: Xt must be real numbers"):
        feature_correspondence(Xs, Xt + 1j)


def test_n_named_counts_only_the_source_classes_that_name_a_target_row():
    # three source classes along feature 0; the target's rows sit at its two ends, so the
    # middle class names none of them
    rng = np.random.default_rng(0)
    Xs = np.column_stack([np.repeat([-2.0, 0.0, 2.0], 30), rng.normal(size=90)])
    Xs[:, 0] += 0.1 * rng.normal(size=90)
    ys = np.repeat([0, 1, 2], 30)
    Xt = np.column_stack([np.repeat([-1.0, 1.0], 20), rng.normal(size=40)])
    out = class_agreement(Xs, ys, Xt, 2)
    assert out["n_classes"] == 3 and out["n_named"] == 2
