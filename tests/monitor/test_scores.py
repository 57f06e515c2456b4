"""Label-free scores against scikit-learn and hand-computed cases."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_blobs

from dtc.monitor import scores


@pytest.fixture
def blobs():
    X, y = make_blobs(300, centers=3, cluster_std=0.5, random_state=0)
    return X, y


def test_feature_scores_match_sklearn_without_subsampling(blobs):
    X, y = blobs
    assert scores.silhouette(X, y) == pytest.approx(skm.silhouette_score(X, y))
    assert scores.calinski_harabasz(X, y) == pytest.approx(skm.calinski_harabasz_score(X, y))
    assert scores.davies_bouldin(X, y) == pytest.approx(-skm.davies_bouldin_score(X, y))


def test_subsample_is_fixed_and_seeded(blobs):
    X, y = blobs
    a = scores.silhouette(X, y, max_samples=100, seed=3)
    assert a == scores.silhouette(X, y, max_samples=100, seed=3)
    idx = scores.subsample_index(300, 100, seed=3)
    assert a == pytest.approx(skm.silhouette_score(X[idx], y[idx]))


def test_true_clustering_scores_higher_than_random(blobs):
    X, y = blobs
    rand = np.random.default_rng(0).integers(0, 3, X.shape[0])
    for fn in scores.LABEL_SCORES.values():
        assert fn(X, y) > fn(X, rand)


def test_information_maximization_closed_forms():
    k = 4
    confident_balanced = np.eye(k)[np.arange(40) % k]
    assert scores.information_maximization(confident_balanced) == pytest.approx(np.log(k))
    all_same = np.tile([0.7, 0.1, 0.1, 0.1], (40, 1))
    assert scores.information_maximization(all_same) == pytest.approx(0.0, abs=1e-9)


def test_snd_hand_computed():
    # Two samples: each one's only neighbour is the other, so every neighbourhood
    # distribution is a point mass and its entropy is 0.
    assert scores.soft_neighborhood_density(np.array([[0.9, 0.1], [0.2, 0.8]])) == pytest.approx(
        0.0
    )
    # Three identical rows: each sees two equally similar neighbours -> entropy log 2.
    P = np.tile([0.6, 0.4], (3, 1))
    assert scores.soft_neighborhood_density(P) == pytest.approx(np.log(2))


def test_snd_prefers_clustered_assignments():
    rng = np.random.default_rng(0)
    clustered = np.eye(3)[rng.integers(0, 3, 90)] * 0.9 + 0.1 / 3
    diffuse = rng.dirichlet(np.ones(3), 90)
    assert scores.soft_neighborhood_density(clustered) > scores.soft_neighborhood_density(diffuse)


def test_stability_separates_structure_from_noise(blobs):
    X, _ = blobs
    noise = np.random.default_rng(0).uniform(size=(300, 2))
    stable = scores.clustering_stability(X, 3, seed=0)
    assert stable == pytest.approx(1.0, abs=1e-6)
    assert scores.clustering_stability(noise, 6, seed=0) < 0.9


def test_score_dispatch_and_errors(blobs):
    X, y = blobs
    assert scores.score("silhouette", X=X, labels=y) == pytest.approx(skm.silhouette_score(X, y))
    with pytest.raises(ValueError, match="needs soft assignments"):
        scores.score("information_maximization", X=X, labels=y)
    with pytest.raises(ValueError, match="unknown score 'x'"):
        scores.score("x")
    with pytest.raises(ValueError, match="more samples than clusters"):
        scores.silhouette(X[:3], np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="cannot hold 5 clusters"):
        scores.clustering_stability(X[:5], 5)
    with pytest.raises(ValueError, match="summing to 1"):
        scores.information_maximization(np.array([[0.5, 0.6], [0.5, 0.5]]))
