"""Sparse spectral clustering against scikit-learn and dense linear algebra, and bad input."""

import warnings
from importlib import import_module

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import SpectralClustering
from sklearn.datasets import make_blobs, make_circles
from sklearn.metrics import adjusted_rand_score

from dtc.cluster import (
    affinity_matrix,
    eigengap,
    kmeans,
    knn_graph,
    spectral_clustering,
    spectral_embedding,
)

spectral_module = import_module("dtc.cluster.spectral")


@pytest.fixture(scope="module")
def rings():
    X, y = make_circles(600, factor=0.4, noise=0.04, random_state=0)
    return X, y


# scikit-learn's own (unsymmetrised) kNN graph may warn; its labels are still compared.
@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def test_rings_where_kmeans_fails(rings):
    X, y = rings
    ours = spectral_clustering(X, 2, n_neighbors=10, seed=0)
    ref = SpectralClustering(
        2, affinity="nearest_neighbors", n_neighbors=10, random_state=0
    ).fit_predict(X)
    assert adjusted_rand_score(y, ours) == 1.0
    assert adjusted_rand_score(y, ref) == 1.0
    assert adjusted_rand_score(y, kmeans(X, 2, seed=0)[0]) < 0.1
    conn = spectral_clustering(X, 2, affinity="connectivity", seed=0)
    assert adjusted_rand_score(y, conn) == 1.0


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def test_blobs_agree_with_sklearn():
    X, y = make_blobs(900, n_features=8, centers=5, cluster_std=1.5, random_state=2)
    ours = spectral_clustering(X, 5, seed=0)
    ref = SpectralClustering(5, affinity="nearest_neighbors", random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, ours) == 1.0
    assert adjusted_rand_score(ref, ours) == 1.0


def test_knn_exact_against_numpy():
    X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    dist, idx = knn_graph(X, 5, method="exact")
    D = np.sqrt(((X[:, None].astype(np.float64) - X[None]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    ref = np.argsort(D, axis=1)[:, :5]
    np.testing.assert_array_equal(idx, ref)
    np.testing.assert_allclose(dist, np.take_along_axis(D, ref, 1), rtol=1e-5)


def test_knn_ivf_recall_against_exact():
    X, _ = make_blobs(4000, n_features=16, centers=6, random_state=0)
    d_ex, i_ex = knn_graph(X, 10, method="exact")
    d_ivf, i_ivf = knn_graph(X, 10, method="ivf", n_probe=8, seed=0)
    assert i_ivf.shape == (4000, 10)
    assert not (i_ivf == np.arange(4000)[:, None]).any()  # itself never a neighbour
    recall = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(i_ex, i_ivf)])
    assert recall > 0.9
    # Found distances are true distances, ascending, never below the exact ones.
    true = np.linalg.norm(X[i_ivf] - X[:, None, :], axis=-1)
    np.testing.assert_allclose(d_ivf, true, rtol=1e-3, atol=1e-3)
    assert (np.diff(d_ivf, axis=1) >= 0).all() and (d_ivf >= d_ex - 1e-3).all()
    # Probing every cell is exact search.
    _, i_all = knn_graph(X[:900], 5, method="ivf", n_probe=10_000)
    _, i_ref = knn_graph(X[:900], 5, method="exact")
    np.testing.assert_array_equal(np.sort(i_all, 1), np.sort(i_ref, 1))


def test_knn_ivf_rows_with_too_few_candidates_fall_back_to_exact_search():
    # One probed cell of ~10 points cannot supply 10 other neighbours: before, such rows
    # kept inf distances with the point itself (or row 0) as a "neighbour", and the
    # self-tuning affinity then held NaN (inf / inf).
    X = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    dist, idx = knn_graph(X, 10, method="ivf", n_probe=1, seed=0)
    assert np.isfinite(dist).all()
    assert not (idx == np.arange(100)[:, None]).any()
    assert (np.diff(dist, axis=1) >= 0).all()
    true = np.linalg.norm(X[idx] - X[:, None, :], axis=-1)
    np.testing.assert_allclose(dist, true, rtol=1e-4, atol=1e-4)
    d_ex, _ = knn_graph(X, 10, method="exact")
    assert (dist >= d_ex - 1e-4).all()
    assert np.isfinite(affinity_matrix(dist, idx).data).all()


def test_knn_ivf_finds_exact_copies_at_distance_zero():
    # The expansion's cancellation put copies at ~sqrt(eps)|x|: the many-copies rule of the
    # self-tuning scales never fired there, and the graph fell apart (34 components, not 26)
    X = np.repeat(np.random.default_rng(0).normal(0, 1, (100, 2)) + 5, 8, axis=0)
    exact = knn_graph(X, 15, method="exact")
    ivf = knn_graph(X, 15, method="ivf", seed=0)
    assert ivf[0][:, :7].max() == 0.0
    np.testing.assert_allclose(ivf[0], exact[0], rtol=1e-6)
    np.testing.assert_array_equal(
        affinity_matrix(*ivf).toarray() > 0, affinity_matrix(*exact).toarray() > 0
    )


@pytest.mark.parametrize(("offset", "scale"), [(1e4, 1.0), (0.0, 1e-35), (0.0, 1e20)])
def test_knn_ivf_exact_under_offset_and_extreme_scale(offset, scale):
    # Probing every cell is exact search whatever the offset or scale of the features.
    # Before, the float32 expansion |a|^2 - 2 a.b + |b|^2 lost the distances to
    # cancellation (offset 1e4: recall 0.004), underflow (1e-35: all distances 0) or
    # overflow (1e20: NaN distances, refused by affinity_matrix).
    X = np.random.default_rng(0).normal(size=(900, 8)) * scale + offset
    d_all, i_all = knn_graph(X, 5, method="ivf", n_probe=10_000)
    d_ref, i_ref = knn_graph(X, 5, method="exact")
    assert np.mean(np.sort(i_all, 1) == np.sort(i_ref, 1)) > 0.99
    np.testing.assert_allclose(d_all, d_ref, rtol=1e-3)
    assert np.isfinite(affinity_matrix(d_all, i_all).data).all()


def test_spectral_clustering_more_clusters_than_retained_points_is_a_clear_error():
    # 12 tight points and 20 far ones, each of whose self-tuning weights underflow to 0
    # (isolated, set aside): 13 clusters cannot be cut from the 12 retained points. Before,
    # spectral_embedding refused "n_components=13", which the caller never passed.
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(12, 20)) * 1e-3, 10 * np.eye(20)]
    with pytest.raises(ValueError, match=r"n_clusters=13: only 12 of the 32 points"):
        spectral_clustering(X, 13)
    assert np.unique(spectral_clustering(X, 5)).size == 5


def test_self_tuning_affinity_hand_example():
    # Points on a line at 0, 1, 3; two neighbours each, local scale = 2nd neighbour.
    dist = np.array([[1.0, 3.0], [1.0, 2.0], [2.0, 3.0]])
    idx = np.array([[1, 2], [0, 2], [1, 0]])
    W = affinity_matrix(dist, idx).toarray()
    sigma = np.array([3.0, 2.0, 3.0])
    D = np.abs(np.subtract.outer([0.0, 1.0, 3.0], [0.0, 1.0, 3.0]))
    ref = np.exp(-(D**2) / np.outer(sigma, sigma))
    np.fill_diagonal(ref, 0.0)
    np.testing.assert_allclose(W, ref, rtol=1e-12)
    C = affinity_matrix(dist[:, :1], idx[:, :1], affinity="connectivity").toarray()
    # 0<->1 mutual, 2->1 one-way: symmetrised as an edge.
    np.testing.assert_array_equal(C, [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    # no neighbour: an IndexError (self-tuning) or an empty graph (connectivity) before
    for affinity in ("self-tuning", "connectivity"):
        with pytest.raises(ValueError, match="expected at least one neighbour per row"):
            affinity_matrix(dist[:, :0], idx[:, :0], affinity=affinity)


def test_the_ivf_search_does_not_warn_of_its_own_cells():
    # Four distinct rows repeated: scikit-learn warned that the 20 cells of the search
    # found 4 distinct clusters, a k the user never asked for (they asked for 4)
    X = np.repeat(np.eye(4, dtype=np.float32), 100, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = spectral_clustering(X, 4, knn="ivf")
    assert sorted(np.bincount(labels)) == [100] * 4


def test_local_scale_of_a_point_with_many_copies_keeps_its_copies_connected():
    X, y = make_blobs(300, centers=3, cluster_std=0.5, random_state=0)
    assert adjusted_rand_score(y, spectral_clustering(X, 3, seed=0)) == 1.0
    # Thirteen copies of one point: its 7th (and 10th) neighbour is at distance 0.
    Xd = np.vstack([X, np.repeat(X[:1], 12, axis=0)])
    dist, idx = knn_graph(Xd, 10)
    W = affinity_matrix(dist, idx)
    from scipy.sparse.csgraph import connected_components

    # Every other point's scale is its 7th neighbour's distance, as before, and the
    # copies do not split off as a component (which then took a cluster of its own).
    n_clean = connected_components(affinity_matrix(*knn_graph(X, 10)))[0]
    assert connected_components(W)[0] == n_clean
    sigma = spectral_module._local_scales(dist.astype(np.float64))
    copies = np.flatnonzero((Xd == X[0]).all(1))
    others = np.setdiff1d(np.arange(len(Xd)), copies)
    np.testing.assert_array_equal(sigma[others], dist[others, 6])
    positive = dist[others, 6].astype(np.float64)
    np.testing.assert_allclose(sigma[copies], np.median(positive))
    # and the blobs are found as without the copies (before: the copies took a cluster)
    labels = spectral_clustering(Xd, 3, seed=0)
    assert adjusted_rand_score(np.r_[y, np.repeat(y[:1], 12)], labels) == 1.0


def test_local_scale_of_eight_copies_is_their_farthest_neighbour():
    # 8 copies at 0 (7th neighbour at 0) and points at 1, 2, 3: 10 neighbours each.
    X = np.r_[np.zeros(8), 1.0, 2.0, 3.0][:, None]
    dist, _ = knn_graph(X, 10)
    sigma = spectral_module._local_scales(dist.astype(np.float64))
    np.testing.assert_array_equal(sigma[:8], 3.0)  # 7 copies, then 1, 2, 3
    np.testing.assert_array_equal(sigma[8:], dist[8:, 6])
    np.testing.assert_array_equal(spectral_module._local_scales(np.zeros((4, 3))), 1.0)


def test_eigensolver_against_dense_eigh(monkeypatch):
    # Force ARPACK on a small graph and compare with numpy's dense eigh.
    monkeypatch.setattr(spectral_module, "DENSE_EIGEN_MAX", 10)
    X, _ = make_blobs(300, n_features=3, centers=3, cluster_std=3.0, random_state=0)
    W = affinity_matrix(*knn_graph(X, 8))
    emb, vals = spectral_embedding(W, 4, seed=0)
    deg = np.asarray(W.sum(1)).ravel()
    M = W.toarray() / np.sqrt(np.outer(deg, deg))
    ref_vals, ref_vecs = np.linalg.eigh(M)
    np.testing.assert_allclose(vals, ref_vals[::-1][:4], atol=1e-8)
    np.testing.assert_allclose(vals[0], 1.0, atol=1e-10)
    # Same invariant subspace: equal orthogonal projectors.
    ref = ref_vecs[:, ::-1][:, :4]
    np.testing.assert_allclose(emb @ emb.T, ref @ ref.T, atol=1e-6)


def test_disconnected_graph_small_component_joins_nearest_cluster():
    X, y = make_blobs(600, n_features=2, centers=[[0, 0], [20, 0], [0, 20]], random_state=0)
    outliers = np.random.default_rng(0).normal(size=(12, 2)) * 0.1 + [60.0, 0.0]
    Xa = np.vstack([X, outliers])
    W = affinity_matrix(*knn_graph(Xa, 10))
    from scipy.sparse.csgraph import connected_components

    assert connected_components(W)[0] == 4  # the three blobs and the outliers
    labels = spectral_clustering(Xa, 3, seed=0)
    assert adjusted_rand_score(y, labels[:600]) == 1.0
    # The outliers lie nearest the blob at (20, 0).
    assert (labels[600:] == labels[np.flatnonzero(y == 1)[0]]).all()


def test_more_components_than_clusters_groups_components():
    centers = [[0, 0], [0, 8], [100, 0], [100, 8]]
    X, y = make_blobs(400, n_features=2, centers=centers, cluster_std=0.3, random_state=0)
    with pytest.warns(RuntimeWarning, match="4 large connected components"):
        labels = spectral_clustering(X, 2, n_neighbors=5, seed=0)
    assert adjusted_rand_score(y // 2, labels) == 1.0


def test_embedding_of_disconnected_graph_has_one_vector_per_component():
    W = sp.block_diag([np.ones((4, 4)) - np.eye(4), np.ones((3, 3)) - np.eye(3)]).tocsr()
    emb, vals = spectral_embedding(W, 2)
    np.testing.assert_allclose(vals, [1.0, 1.0], atol=1e-12)
    assert (np.linalg.norm(emb, axis=1) > 0).all()
    assert (np.count_nonzero(emb, axis=1) == 1).all()


def test_eigengap_hand_values():
    assert eigengap([1.0, 0.99, 0.98, 0.5, 0.45]) == 3
    assert eigengap([1.0, 0.2, 0.1]) == 1
    assert eigengap([1.0, 0.99, 0.98, 0.5, 0.0], k_max=3) == 3
    assert eigengap([1.0, 0.9, 0.1, 0.05, 0.0], k_max=1) == 1


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda X: spectral_clustering(X, 51), "n_clusters=51"),
        (lambda X: spectral_clustering(X, 2, n_neighbors=50), "n_neighbors=50"),
        (lambda X: spectral_clustering(X, 2, affinity="rbf"), "affinity"),
        (lambda X: spectral_clustering(X, 2, knn="annoy"), "knn"),
        (lambda X: spectral_clustering(X, 2, min_component_size=0), "min_component_size"),
        (lambda X: spectral_clustering(np.full((50, 2), np.nan), 2), "X: expected finite"),
        (lambda X: knn_graph(X, 3, n_probe=0), "n_probe"),
        (lambda X: affinity_matrix(np.ones((3, 2)), np.ones((3, 3))), "distances, indices"),
        (lambda X: affinity_matrix(np.full((3, 2), np.nan), np.zeros((3, 2), int)), "distances"),
        (lambda X: affinity_matrix(-np.ones((3, 2)), np.zeros((3, 2), int)), "distances"),
        (lambda X: affinity_matrix(np.ones((3, 2)), np.full((3, 2), 3)), r"indices.*\[0, 3\)"),
        (lambda X: affinity_matrix(np.ones((3, 2)), np.zeros((3, 2))), "indices.*integer"),
        (lambda X: spectral_embedding(sp.csr_matrix((3, 3)), 2), "W: expected positive"),
        (lambda X: spectral_embedding(sp.csr_matrix(np.ones((3, 4))), 2), "W: expected a square"),
        (lambda X: spectral_embedding(-sp.eye(3, format="csr"), 2), "W: expected finite non-neg"),
        (lambda X: eigengap([1.0]), "at least 2"),
        (lambda X: eigengap([0.5, 1.0]), "descending"),
        (lambda X: eigengap([1.0, 0.5], k_max=2), "k_max=2"),
        (lambda X: eigengap([1.0, np.nan]), "finite"),
    ],
)
def test_bad_input(call, match):
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match=match):
        call(X)


def test_returned_embedding_is_the_njw_row_normalised_eigenvectors():
    # Ng, Jordan & Weiss: the top eigenvectors V of D^-1/2 W D^-1/2, each row scaled to unit
    # length. The eigensolver returns V up to a rotation Q, and ||(V Q)_i|| = ||V_i||, so the
    # embedding must be (V / ||V_i||) Q for an orthogonal Q; V itself (rows not normalised)
    # is not of that form, since its row norms differ from point to point.
    X, _ = make_blobs(300, n_features=3, centers=3, cluster_std=3.0, random_state=0)
    _, emb, retained = spectral_clustering(
        X, 3, n_neighbors=8, knn="exact", seed=0, return_embedding=True
    )
    W = affinity_matrix(*knn_graph(X, 8, method="exact"))
    np.testing.assert_array_equal(retained, np.arange(300))  # one connected component
    deg = np.asarray(W.sum(1)).ravel()
    _, vecs = np.linalg.eigh(W.toarray() / np.sqrt(np.outer(deg, deg)))
    V = vecs[:, ::-1][:, :3]
    norms = np.linalg.norm(V, axis=1)
    assert norms.max() / norms.min() > 1.5  # the normalisation changes the embedding
    ref = V / norms[:, None]
    Q = np.linalg.lstsq(ref, emb, rcond=None)[0]
    np.testing.assert_allclose(Q @ Q.T, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(ref @ Q, emb, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-10)


def test_fewer_distinct_points_than_clusters_warns():
    # Copies cannot be told apart by the graph; K-means says the same of duplicates.
    rng = np.random.default_rng(0)
    two = np.repeat(rng.normal(size=(2, 4)), 15, axis=0)
    with pytest.warns(RuntimeWarning, match="X has 2 distinct rows for n_clusters=3"):
        spectral_clustering(two, 3, n_neighbors=5, seed=0)
    with pytest.warns(RuntimeWarning, match="X has 1 distinct rows for n_clusters=2"):
        spectral_clustering(np.ones((20, 3)), 2, n_neighbors=5, seed=0)
    three = np.repeat(rng.normal(size=(3, 4)), 10, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = spectral_clustering(three, 3, n_neighbors=5, seed=0)
    assert adjusted_rand_score(np.repeat(np.arange(3), 10), labels) == 1.0
    assert spectral_module._n_distinct_rows(np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])) == 2


# scikit-learn's reference, on the graph with the pair as its own component
@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
@pytest.mark.parametrize("seed", [0, 1, 5])
def test_a_far_pair_of_outliers_neither_joins_nor_empties_a_blob(seed):
    # Two outliers 1 apart, far from three blobs: their self-tuning weights to the blobs
    # (~1e-84) joined two blobs and themselves into one "component" whose eigenvalue 1 came
    # back three times, and the vector taken as its leading one lay on the outliers alone:
    # a zero row per point of one blob, then "X: expected finite values" (seeds 1 and 5).
    # scikit-learn's SpectralClustering recovers the blobs.
    rng = np.random.default_rng(seed)
    blobs = [c + rng.normal(size=(40, 2)) for c in ([0, 0], [20, 0], [0, 20])]
    X = np.concatenate([*blobs, [[300, 300], [300, 301]]])
    W = affinity_matrix(*knn_graph(X, 10))
    # the pair is its own component: no edge lighter than float64's eps of its ends' degrees
    deg = np.asarray(W.sum(axis=1)).ravel()
    Wc = W.tocoo()
    assert (Wc.data >= np.finfo(np.float64).eps * np.minimum(deg[Wc.row], deg[Wc.col])).all()
    assert W[120:, :120].nnz == 0
    emb, _ = spectral_embedding(W[:120][:, :120], 3)
    assert (np.linalg.norm(emb, axis=1) > 0).all()
    truth = np.repeat(np.arange(3), 40)
    labels = spectral_clustering(X, 3)
    assert adjusted_rand_score(truth, labels[:120]) == 1.0
    ref = SpectralClustering(3, affinity="nearest_neighbors", random_state=0).fit_predict(X)
    assert adjusted_rand_score(truth, ref[:120]) == 1.0


@pytest.mark.parametrize("scale", [1e-25, 1e20])
def test_knn_exact_is_scale_equivariant(scale):
    # sklearn's brute force (d >= 16) squares float32 distances: at 1e-25 they underflowed
    # to 0 (self-tuning silently became connectivity), at 1e20 they overflowed.
    X = make_blobs(200, centers=3, n_features=20, random_state=0)[0]
    d_ref, i_ref = knn_graph(X, 10, method="exact")
    d, i = knn_graph(X * scale, 10, method="exact")
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d / scale, d_ref, rtol=1e-5)
    np.testing.assert_array_equal(spectral_clustering(X * scale, 3), spectral_clustering(X, 3))


def test_knn_and_seed_are_named():
    X = make_blobs(30, centers=3, random_state=0)[0]
    with pytest.raises(ValueError, match=r"^knn: expected one of"):
        spectral_clustering(X, 3, knn="brute")
    with pytest.raises(ValueError, match=r"^seed: expected an int in \[0, 2\*\*32 - 1\]"):
        spectral_clustering(X, 3, seed=2**32)
    with pytest.raises(ValueError, match=r"^seed: expected an int in \[0, 2\*\*32 - 1\]"):
        kmeans(X, 3, seed=2**32)


def test_knn_ivf_cells_of_copies_are_searched_in_blocks(monkeypatch):
    """Copies share one IVF cell (K-means cannot split them): half of 4,000 rows equal made
    one 2,000 x 2,000 distance block, quadratic in the copies (1.9 GB at 16,000 rows; a
    MemoryError at 32,000). The cell's queries go in blocks; tiny blocks give the same graph
    as whole cells, and the copies' neighbours are copies at distance 0.

    Which copies is not part of the contract: they tie, and the float32 product that ranks
    them rounds by the block's shape on some BLAS builds (an AMD EPYC's OpenBLAS picked other
    copies for a quarter of the slots, and for a row whose tied neighbours are copies), so
    the graphs must agree with every copy read as one name."""
    import dtc.cluster.spectral as spectral

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 16), dtype=np.float32)
    X[:2000] = X[0]
    d_whole, i_whole = knn_graph(X, 10, method="ivf", seed=0)
    monkeypatch.setattr(spectral, "_CELL_BLOCK", 1000)
    d_blocks, i_blocks = knn_graph(X, 10, method="ivf", seed=0)
    np.testing.assert_array_equal(d_blocks, d_whole)

    def named(idx):  # every copy one name; tied slots in any order
        return np.sort(np.where(idx < 2000, -1, idx), axis=1)

    np.testing.assert_array_equal(named(i_blocks), named(i_whole))
    for idx in (i_whole, i_blocks):
        copies = idx[:2000]
        assert (copies < 2000).all() and (copies != np.arange(2000)[:, None]).all()
        assert all(np.unique(row).size == row.size for row in copies)  # k distinct copies
    assert (d_whole[:2000] == 0).all()


def test_tightly_clustered_eigenvalues_still_give_every_eigenpair():
    # LAPACK's subset solver returned no eigenpair for the complete graph of 21 nodes
    # (eigenvalues 1 and -1/20, twenty times): eigenvalues [], an all-zero embedding,
    # and spectral_clustering then failed on NaN rows; for 22 nodes, "Internal Error."
    for n, m in ((21, 2), (22, 10)):
        W = sp.csr_matrix(np.ones((n, n)) - np.eye(n))
        emb, vals = spectral_embedding(W, m)
        want = np.sort(np.linalg.eigvalsh(W.toarray() / (n - 1)))[::-1][:m]
        np.testing.assert_allclose(vals, want, atol=1e-12)
        # the top eigenvector of D^-1/2 W D^-1/2 is D^1/2 1: constant on a regular graph
        np.testing.assert_allclose(np.abs(emb[:, 0]), 1 / np.sqrt(n), atol=1e-12)
    X = np.random.default_rng(5).normal(size=(21, 2))
    labels = spectral_clustering(X, 2, n_neighbors=20, affinity="connectivity", seed=0)
    assert np.unique(labels).size == 2


@pytest.mark.parametrize("tol", ["x", float("nan"), 10.0, -1e-6])
def test_spectral_embedding_tol_is_named(tol):
    # ARPACK's: "x" failed as a SystemError, NaN ran 30,001 iterations before failing, and
    # 10 returned inaccurate eigenvectors without a word
    from dtc.cluster import spectral_embedding

    X = make_blobs(60, centers=3, random_state=0)[0]
    W = affinity_matrix(*knn_graph(X, 10))
    with pytest.raises(ValueError, match=r"^spectral_embedding: tol must be a number in"):
        spectral_embedding(W, 3, tol=tol)


def test_eigengap_names_text():
    with pytest.raises(ValueError, match=r"^eigengap: eigenvalues must be a numeric array"):
        eigengap("abc")


def test_default_minimum_component_keeps_a_small_class():
    # min_component_size defaults to 10% of n / k: a class of 20 rows among 320 (k = 3)
    # is kept; 10% of n (32) set it aside as an outlier component (ARI 0.66)
    X, y = make_blobs(
        [150, 150, 20],
        n_features=2,
        centers=[[0, 0], [30, 0], [0, 30]],
        cluster_std=1.0,
        random_state=0,
    )
    labels, _, retained = spectral_clustering(X, 3, seed=0, return_embedding=True)
    assert retained.size == 320 and adjusted_rand_score(y, labels) == 1.0


def test_components_are_grouped_by_their_size_weighted_means():
    # More large components than clusters: they are grouped by K-means of their means,
    # weighted by their sizes (the module docstring), so the grouping is that of K-means of
    # the rows; unweighted, the small component at 0 took a cluster alone (ARI 0.0006)
    X, _ = make_blobs(
        [40, 300, 300],
        n_features=2,
        centers=[[0, 0], [55, 0], [100, 0]],
        cluster_std=0.5,
        random_state=0,
    )
    with pytest.warns(RuntimeWarning, match="3 large connected components"):
        labels = spectral_clustering(X, 2, n_neighbors=5, seed=0)
    rows = SkKMeans(2, n_init=10, random_state=0).fit_predict(X)
    assert adjusted_rand_score(rows, labels) == 1.0


def test_self_tuning_affinity_at_k_of_seven_or_more_is_zelnik_manor_perona():
    # End to end with k = 9 >= 7 neighbours (the hand example uses k = 2): W_ij =
    # exp(-d_ij^2 / (sigma_i sigma_j)), sigma_i the distance to the 7th neighbour, on the
    # symmetrised (max) kNN graph, brute-forced with scipy's cdist. The reference takes the
    # kNN indices by argsort and the distances knn_graph returns (documented float32).
    from scipy.spatial.distance import cdist

    from dtc.cluster.spectral import affinity_matrix, knn_graph

    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 3))
    k = 9
    dist, idx = knn_graph(X, k, method="exact")
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1)[:, :k]
    np.testing.assert_array_equal(idx, order)
    d = dist.astype(np.float64)
    sigma = d[:, 6]
    W = np.zeros((30, 30))
    for i in range(30):
        for a, j in enumerate(order[i]):
            W[i, j] = np.exp(-(d[i, a] ** 2) / (sigma[i] * sigma[j]))
    W = np.maximum(W, W.T)
    np.testing.assert_allclose(affinity_matrix(dist, idx).toarray(), W, rtol=1e-12, atol=0)


def test_components_smaller_than_a_tenth_of_n_over_k_are_left_out():
    # threshold 0.1 * 35 / 1 = 3.5: a component of 3 nodes is below it (not floor(3.5) = 3)
    from dtc.cluster.spectral import _retained_mask

    def chain(m):  # m nodes joined in a path
        return sp.diags([np.ones(m - 1), np.ones(m - 1)], [-1, 1], shape=(m, m))

    W = sp.block_diag([chain(32), chain(3)], format="csr")
    keep = _retained_mask(W, 1, None)
    assert keep[:32].all() and not keep[32:].any()
    W = sp.block_diag([chain(32), chain(4)], format="csr")  # 4 >= 3.6: kept
    assert _retained_mask(W, 1, None).all()
