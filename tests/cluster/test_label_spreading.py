"""Label spreading (Zhou et al., NIPS 2003) against its closed form and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.semi_supervised import LabelSpreading

from dtc.cluster.label_spreading import label_spreading, spread_scores
from dtc.cluster.spectral import affinity_matrix, knn_graph, normalized_adjacency


def _graph(X, k=5):
    W = affinity_matrix(*knn_graph(X, k))
    return W, normalized_adjacency(W)


def test_spread_scores_equal_the_closed_form_on_a_small_graph():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    Y0 = rng.dirichlet(np.ones(4), size=30)
    _, S = _graph(X)
    dense = S.toarray()
    expected = 0.8 * np.linalg.solve(np.eye(30) - 0.2 * dense, Y0)
    # (1 - alpha) (I - alpha S)^-1 Y0 with alpha = 0.2 ...
    np.testing.assert_allclose(spread_scores(S, Y0, alpha=0.2), expected, atol=1e-6)
    expected = 0.1 * np.linalg.solve(np.eye(30) - 0.9 * dense, Y0)  # ... and alpha = 0.9
    np.testing.assert_allclose(spread_scores(S, Y0, alpha=0.9), expected, atol=1e-6)
    np.testing.assert_allclose(spread_scores(S, Y0, alpha=0.0), Y0)  # no graph: unchanged


def test_label_spreading_matches_scikit_learn_on_the_same_graph():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, size=60)
    W, _ = _graph(X, 6)
    # scikit-learn iterates F <- alpha S F + (1 - alpha) Y on the graph its kernel returns
    sk = LabelSpreading(kernel=lambda A, B: W.toarray(), alpha=0.7, max_iter=10_000, tol=1e-12)
    sk.fit(X, y)
    F = label_spreading(X, np.eye(3)[y], n_neighbors=6, alpha=0.7)
    np.testing.assert_allclose(F / F.sum(1, keepdims=True), sk.label_distributions_, atol=1e-6)


def test_label_spreading_corrects_scattered_wrong_labels_along_the_clusters():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 0.3, size=(50, 2)), rng.normal(5, 0.3, size=(50, 2))])
    truth = np.repeat([0, 1], 50)
    noisy = truth.copy()
    flipped = rng.choice(100, 15, replace=False)
    noisy[flipped] = 1 - noisy[flipped]
    F = label_spreading(X, np.eye(2)[noisy], n_neighbors=8, alpha=0.99)
    assert (noisy != truth).sum() == 15
    np.testing.assert_array_equal(F.argmax(1), truth)


def test_an_isolated_point_keeps_its_initial_scores():
    # One point between two tight clusters: its self-tuning weights underflow to 0 (its
    # distance is ~4000 of the clusters' local scales), so no edge reaches it.
    rng = np.random.default_rng(0)
    A = rng.normal(0, 1e-3, (30, 4))
    X = np.vstack([A, A[::-1] + 5.0, np.full((1, 4), 2.0)])
    Y0 = np.zeros((61, 2))
    Y0[:30, 0] = Y0[30:60, 1] = 1.0
    Y0[60] = [0.4, 0.6]
    W = affinity_matrix(*knn_graph(X, 10))
    assert W[60].nnz == 0
    with pytest.raises(ValueError, match="1 node\\(s\\) isolated"):
        normalized_adjacency(W)
    F = label_spreading(X, Y0, alpha=0.9)
    np.testing.assert_allclose(F[60], 0.1 * Y0[60])
    np.testing.assert_array_equal(F.argmax(1), np.r_[np.zeros(30), np.ones(31)])


def test_bad_input_is_named():
    X = np.random.default_rng(3).normal(size=(20, 2))
    Y0 = np.ones((20, 2)) / 2
    with pytest.raises(ValueError, match="alpha: expected a float in"):
        label_spreading(X, Y0, alpha=1.0)
    with pytest.raises(ValueError, match="Y0: expected shape"):
        label_spreading(X, Y0[:10])
    with pytest.raises(ValueError, match="Y0: contains NaN"):
        label_spreading(X, np.full((20, 2), np.nan))
    with pytest.raises(ValueError, match="Y0: expected non-negative class scores .* minimum of -1"):
        label_spreading(X, Y0 - 1.5)
    with pytest.raises(ValueError, match="n_neighbors"):
        label_spreading(X, Y0, n_neighbors=20)


def test_spread_scores_bad_input_and_non_convergence_are_named():
    _, S = _graph(np.random.default_rng(4).normal(size=(12, 2)))
    Y0 = np.eye(12)[:, :3]
    with pytest.raises(ValueError, match=r"Y0: expected an array of shape \(n, c\)"):
        spread_scores(S, Y0[:, 0])
    with pytest.raises(ValueError, match=r"S: expected shape \(11, 11\)"):
        spread_scores(S, Y0[:11])
    with pytest.raises(RuntimeError, match="did not converge for class 0 in 1 iterations"):
        spread_scores(S, Y0, alpha=0.99, tol=1e-14, max_iter=1)
    # no class: an (n, 0) result, whose argmax failed in the caller
    with pytest.raises(ValueError, match="c >= 1 classes"):
        spread_scores(S, Y0[:, :0])
    with pytest.raises(ValueError, match="c >= 1 classes"):
        label_spreading(np.random.default_rng(4).normal(size=(12, 2)), Y0[:, :0], n_neighbors=3)
    # a NaN weight was "did not converge", which blamed tol and max_iter
    bad = S.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="S: contains NaN"):
        spread_scores(bad, Y0)
    # a dense list is read as the array it holds (it was an AttributeError on .shape)
    np.testing.assert_allclose(spread_scores(S.toarray().tolist(), Y0), spread_scores(S, Y0))


def test_label_spreading_defaults_on_a_connectivity_graph_equal_the_dense_closed_form():
    # Independent reference: scikit-learn's 10-NN connectivity graph symmetrised by max,
    # D^-1/2 W D^-1/2 and the closed form with the documented default alpha = 0.9.
    from sklearn.neighbors import kneighbors_graph

    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    Y0 = rng.dirichlet(np.ones(3), size=40)
    A = kneighbors_graph(X, 10, mode="connectivity", include_self=False)
    W = A.maximum(A.T).toarray()
    s = 1.0 / np.sqrt(W.sum(1))
    S = s[:, None] * W * s[None, :]
    expected = 0.1 * np.linalg.solve(np.eye(40) - 0.9 * S, Y0)
    F = label_spreading(X, Y0, affinity="connectivity")
    np.testing.assert_allclose(F, expected, atol=1e-6)


def test_initial_scores_are_checked_by_name():
    """``Y0`` went through a bare ``np.asarray``: complex scores lost their imaginary parts
    with a mere warning, and a head's softmax that requires grad raised torch's error."""
    import torch

    rng = np.random.default_rng(0)
    X, Y0 = rng.normal(size=(30, 3)), rng.random((30, 2))
    with pytest.raises(ValueError, match="^label_spreading: Y0 must be real numbers"):
        label_spreading(X, Y0 + 1j)
    with_grad = torch.tensor(Y0, requires_grad=True)
    np.testing.assert_array_equal(label_spreading(X, with_grad), label_spreading(X, Y0))
    S = normalized_adjacency(affinity_matrix(*knn_graph(X, 5, seed=0)))
    with pytest.raises(ValueError, match="^spread_scores: Y0 must be real numbers"):
        spread_scores(S, Y0 + 1j)
