"""Paths of dtc.cluster.spectral no other test reached: one cluster, every component below
min_component_size, and a one-node component (a self-loop) of spectral_embedding."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from dtc.cluster.spectral import spectral_clustering, spectral_embedding

# three tight pairs far apart: with one neighbour each, three components of two points
PAIRS = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0], [20.0, 0.0], [20.1, 0.0]])


def test_one_cluster_labels_every_row_zero_without_an_embedding():
    labels, embedding, retained = spectral_clustering(
        PAIRS, 1, n_neighbors=1, return_embedding=True
    )
    np.testing.assert_array_equal(labels, np.zeros(6, dtype=np.int64))
    assert embedding is None  # as documented: no eigenvectors for n_clusters=1
    np.testing.assert_array_equal(retained, np.arange(6))


def test_components_all_below_min_component_size_are_kept():
    # each component has 2 points, below 5: all are kept (none is isolated), else fewer
    # retained points than clusters
    labels = spectral_clustering(PAIRS, 3, n_neighbors=1, min_component_size=5)
    assert adjusted_rand_score([0, 0, 1, 1, 2, 2], labels) == 1.0


def test_a_one_node_component_is_its_own_leading_eigenvector():
    W = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    embedding, eigenvalues = spectral_embedding(W, 2)
    np.testing.assert_allclose(eigenvalues, [1.0, 1.0])
    # by hand: node 0's indicator, and the pair's leading vector (1, 1) / sqrt(2)
    expected = np.array([[1.0, 0.0], [0.0, 2**-0.5], [0.0, 2**-0.5]])
    np.testing.assert_allclose(np.abs(embedding), expected, atol=1e-12)
