"""Model transfer on shifted blobs, Hungarian matching by brute force, choosing k."""

import warnings
from itertools import permutations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from dtc.cluster import (
    class_means,
    cluster_and_match,
    match_clusters,
    select_k_eigengap,
    select_k_silhouette,
    transfer_kmeans,
)

CENTERS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


@pytest.fixture(scope="module")
def shifted():
    Xs, ys = make_blobs(400, centers=CENTERS, cluster_std=1.0, random_state=0)
    # The target is the source moved by (3, 2.5) and rotated slightly: a domain shift
    # smaller than the distance between classes.
    Xt, yt = make_blobs(500, centers=CENTERS, cluster_std=1.0, random_state=1)
    th = 0.1
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    return Xs, ys, Xt @ R.T + [3.0, 2.5], yt


def test_class_means_against_loop(shifted):
    Xs, ys, _, _ = shifted
    means = class_means(Xs, ys, 4)
    for c in range(4):
        np.testing.assert_allclose(means[c], Xs[ys == c].mean(0), rtol=1e-5)
    assert means.dtype == np.float32


def test_class_means_of_unequal_classes_by_hand():
    """Each class's mean over its own rows: the blobs above have 100 rows a class, so a
    mean divided by another class's count (or by n / k) passed them unnoticed."""
    Z = np.array([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0], [9.0, -3.0], [1.0, 1.0]])
    y = np.array([0, 0, 0, 1, 2])  # 3 rows, 1 row, 1 row
    expected = [[2.0, 4.0], [9.0, -3.0], [1.0, 1.0]]
    np.testing.assert_array_equal(class_means(Z, y, 3), np.array(expected, dtype=np.float32))


def test_transfer_from_class_means_names_clusters_by_class(shifted):
    Xs, ys, Xt, yt = shifted
    res = transfer_kmeans(Xt, class_means(Xs, ys, 4))
    np.testing.assert_array_equal(res.source_to_target, np.arange(4))
    np.testing.assert_array_equal(res.cluster_classes, np.arange(4))
    # Without any matching, target cluster c is class c.
    assert np.mean(res.cluster_classes[res.labels] == yt) == 1.0
    # The centres moved from the source means to the shifted target means.
    target_means = np.stack([Xt[yt == c].mean(0) for c in range(4)])
    np.testing.assert_allclose(res.centers, target_means, atol=1e-3)


def test_a_source_centre_no_target_point_is_near_is_warned_about():
    """The reviewer's case: the target holds two of three source classes; K-means moves the
    third centre onto class 1's points, which then carry source name 2."""
    rng = np.random.default_rng(0)
    Zt = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(10, 1, (50, 2))])
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [100.0, -100.0]])
    with pytest.warns(UserWarning, match=r"source centres \[2\] are nearest to no target"):
        result = transfer_kmeans(Zt, centres)
    assert (result.cluster_classes == [0, 1, 2]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every centre has points: no warning
        transfer_kmeans(Zt, centres[:2])
        # a caller that repeats the step and warns once itself (JDA's pseudo-labels)
        assert (transfer_kmeans(Zt, centres, warn_empty=False).labels == result.labels).all()
    # named by the caller's classes where given: baselines pass centres indexed 0..k-1 for
    # source classes {0, 5, 9}, and the message named "centres [2]" for class 9
    with pytest.warns(UserWarning, match=r"source centres of classes \[9\] are nearest"):
        transfer_kmeans(Zt, centres, classes=np.array([0, 5, 9]))
    with pytest.raises(ValueError, match=r"classes: expected one class per source centre"):
        transfer_kmeans(Zt, centres, classes=[0, 5])
    with pytest.raises(ValueError, match="transfer_kmeans: warn_empty must be True or False"):
        transfer_kmeans(Zt, centres, warn_empty="no")


def test_nearest_class_mean_assignment(shifted):
    Xs, ys, Xt, yt = shifted
    means = class_means(Xs, ys, 4)
    res = transfer_kmeans(Xt, means, assign="nearest")
    d2 = ((Xt[:, None, :] - means[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(res.labels, d2.argmin(1))
    np.testing.assert_array_equal(res.centers, means)
    # float32 means were handed back as the result's own: editing one edited the other
    means32 = np.ascontiguousarray(means, dtype=np.float32)
    out = transfer_kmeans(Xt, means32, assign="nearest").centers
    out[0] = 99.0
    assert not np.shares_memory(out, means32) and (means32[0] != 99.0).all()
    # The shift costs the unadapted rule some points that K-means recovers.
    assert 0.8 < np.mean(res.labels == yt) < 1.0


def test_match_clusters_against_brute_force():
    rng = np.random.default_rng(0)
    S, T = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    cost = ((S[:, None] - T[None]) ** 2).sum(-1)
    best = min(permutations(range(4)), key=lambda p: cost[np.arange(4), list(p)].sum())
    np.testing.assert_array_equal(match_clusters(S, T), best)
    # More source clusters than target ones: the extra one is unmatched.
    out = match_clusters(np.vstack([T, [[100.0, 100.0, 100.0]]]), T)
    np.testing.assert_array_equal(out, [0, 1, 2, 3, -1])


def test_cluster_and_match_names_the_domain_with_too_few_rows():
    rng = np.random.default_rng(0)
    for small, name in ((0, "Z_source"), (1, "Z_target")):
        Z = [rng.normal(size=(10, 2)), rng.normal(size=(10, 2))]
        Z[small] = Z[small][:3]
        with pytest.raises(ValueError, match=f"n_clusters=5 but {name} has only 3 rows"):
            cluster_and_match(*Z, 5)


def test_cluster_and_match_recovers_correspondence(shifted):
    Xs, ys, Xt, yt = shifted
    res = cluster_and_match(Xs, Xt, 4, seed=0)
    assert adjusted_rand_score(yt, res.labels) == 1.0
    # Source cluster s was matched to the target cluster holding the same class.
    from dtc.cluster import kmeans

    src_labels = kmeans(Xs, 4, seed=0)[0]
    for s in range(4):
        cls = np.bincount(ys[src_labels == s]).argmax()
        assert np.bincount(yt[res.labels == res.source_to_target[s]]).argmax() == cls
    np.testing.assert_array_equal(res.cluster_classes[res.source_to_target], np.arange(4))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: class_means(np.ones((3, 2)), [0, 1, 3], 3), r"labels in \[0, 3\)"),
        (lambda: class_means(np.ones((3, 2)), [0, 0, 2], 3), r"classes \[1\] have no sample"),
        (lambda: class_means(np.ones((3, 2)), [0, 1], 2), "one label per row"),
        (lambda: class_means(np.ones((2, 2)), [0.0, 1.0], 2), "integer labels"),
        (lambda: transfer_kmeans(np.ones((5, 2)), np.ones((2, 3))), "source_centers"),
        (lambda: transfer_kmeans(np.ones((5, 2)), np.ones((2, 2)), assign="soft"), "assign"),
        (lambda: transfer_kmeans(np.ones((1, 2)), np.eye(2)), "source_centers: 2 centres"),
        (lambda: match_clusters(np.ones((2, 2)), np.ones((2, 3))), "same dimension"),
        (lambda: cluster_and_match(np.ones((5, 2)), np.ones((5, 3)), 2), "same dimension"),
    ],
)
def test_transfer_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.fixture(scope="module")
def five_blobs():
    X, y = make_blobs(1500, n_features=6, centers=5, cluster_std=1.0, random_state=3)
    return X, y


def test_select_k_silhouette(five_blobs):
    X, _ = five_blobs
    k, scores = select_k_silhouette(X, range(2, 9), sample_size=600, seed=0)
    assert k == 5 and scores.shape == (7,)
    # Score of k=5 equals scikit-learn's silhouette on the same subsample and labels.
    from sklearn.metrics import silhouette_score

    from dtc.cluster import kmeans

    sub = np.sort(np.random.default_rng(0).choice(1500, 600, replace=False))
    labels = kmeans(X, 5, n_init=4, seed=0)[0]
    assert scores[3] == pytest.approx(silhouette_score(X[sub], labels[sub]))


def test_select_k_silhouette_breaks_ties_towards_the_first_k():
    # identical rows: every k gives one cluster, scored -1; the first k of k_range is chosen
    X = np.ones((30, 3))
    for k_range in ([4, 2, 3], [3, 2, 4]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn: fewer distinct clusters than k
            k, scores = select_k_silhouette(X, k_range)
        assert k == k_range[0]
        np.testing.assert_array_equal(scores, [-1.0, -1.0, -1.0])


@pytest.mark.parametrize("scale", [1e-25, 1e20])
def test_select_k_silhouette_is_scale_invariant(five_blobs, scale):
    # The silhouette and K-means are scale-invariant. Before, scikit-learn's float32
    # distances underflowed (every score 0, k=2 chosen) or overflowed (NaN scores).
    X, _ = five_blobs
    k, scores = select_k_silhouette(X * scale, range(2, 9), sample_size=600, seed=0)
    _, ref = select_k_silhouette(X, range(2, 9), sample_size=600, seed=0)
    assert k == 5
    np.testing.assert_allclose(scores, ref, rtol=1e-4)


@pytest.mark.parametrize("n_blobs", [11, 12, 20])
def test_select_k_eigengap_with_more_components_than_k_max_says_so(n_blobs):
    # every component adds an eigenvalue of 1: the gaps between them are rounding noise,
    # whose argmax gave 6 for 12 blobs and 9 for 20 (k_max 10), without a word
    rng = np.random.default_rng(0)
    centres = rng.uniform(-1000, 1000, size=(n_blobs, 2))
    X = np.repeat(centres, 20, axis=0) + rng.normal(size=(20 * n_blobs, 2))
    with pytest.warns(RuntimeWarning, match=f"{n_blobs} components of its own, more than k_max=10"):
        k, _ = select_k_eigengap(X, k_max=10, seed=0)
    assert k == 10
    k, _ = select_k_eigengap(X, k_max=25, seed=0)  # enough room: the components are read
    assert k == n_blobs


def test_select_k_eigengap(five_blobs):
    X, _ = five_blobs
    k, vals = select_k_eigengap(X, k_max=10, seed=0)
    assert k == 5 and vals.shape == (11,)
    assert (np.diff(vals) <= 1e-10).all() and vals[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda X: select_k_silhouette(X, [1, 2]), "k_range"),
        (lambda X: select_k_silhouette(X, []), "at least one candidate"),
        (lambda X: select_k_silhouette(X, [2, 50]), "every k < n"),
        (lambda X: select_k_silhouette(X, [2], sample_size=1), "sample_size"),
        # k = sample_size: scikit-learn's silhouette refused it without naming the argument
        (lambda X: select_k_silhouette(X, [2, 3], sample_size=3), r"sample_size=3: .* \(3\)"),
        (lambda X: select_k_eigengap(X, k_max=49), "k_max=49"),
        (lambda X: select_k_eigengap(X, k_max=0), "k_max"),
    ],
)
def test_select_k_bad_input(call, match):
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match=match):
        call(X)


def test_select_k_eigengap_spectrum_is_the_dense_normalised_adjacency_spectrum():
    # Reference: the connectivity graph built by scikit-learn (k-NN, symmetrised by max),
    # its components by scipy, and the spectrum of D^-1/2 W D^-1/2 on the retained nodes
    # by a dense eigensolver; the k is the largest gap of that spectrum.
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import kneighbors_graph

    # Three blobs and seven far-off points that form a component below the retention
    # threshold (ceil(0.1 * n / k_max) = 11 nodes), so the dropping is exercised too.
    X, _ = make_blobs(300, n_features=3, centers=3, cluster_std=0.6, random_state=7)
    far = 60.0 + np.random.default_rng(0).normal(size=(7, 3))
    X = np.vstack([X, far])
    k_max, n_neighbors = 3, 6
    k, vals = select_k_eigengap(
        X, k_max=k_max, n_neighbors=n_neighbors, affinity="connectivity", seed=0
    )
    A = kneighbors_graph(X, n_neighbors, mode="connectivity", include_self=False)
    W = A.maximum(A.T).toarray()
    _, comp = connected_components(sp.csr_matrix(W), directed=False)
    sizes = np.bincount(comp)
    keep = sizes[comp] >= 11
    assert keep.sum() == 300  # the pair of far-off points is left out
    Wk = W[np.ix_(keep, keep)]
    s = 1.0 / np.sqrt(Wk.sum(1))
    ref = np.linalg.eigvalsh(s[:, None] * Wk * s[None, :])[::-1][: k_max + 1]
    np.testing.assert_allclose(vals, ref, atol=1e-8)
    assert k == int(np.argmax(ref[:-1] - ref[1:])) + 1


def test_transfer_kmeans_max_iter_bounds_the_lloyd_steps():
    # Points 0, 1, 2, 10, 11, 12 on a line, centres started at 0 and 3. One Lloyd step by
    # hand: {0, 1} go to 0 and {2, 10, 11, 12} to 3, so the centres become 0.5 and 8.75
    # (then 2 is nearer 0.5); run to convergence they are 1 and 11.
    Z = np.c_[[0.0, 1.0, 2.0, 10.0, 11.0, 12.0], np.zeros(6)]
    init = np.array([[0.0, 0.0], [3.0, 0.0]])
    one = transfer_kmeans(Z, init, max_iter=1)
    np.testing.assert_allclose(one.centers, [[0.5, 0.0], [8.75, 0.0]])
    np.testing.assert_array_equal(one.labels, [0, 0, 0, 1, 1, 1])
    full = transfer_kmeans(Z, init)
    np.testing.assert_allclose(full.centers, [[1.0, 0.0], [11.0, 0.0]])


def test_class_means_refuses_negative_labels():
    # np.bincount would refuse -1 too, but with a message naming neither y nor the range.
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 2\) .* range \[-1, 1\]"):
        class_means(np.ones((3, 2)), [0, 1, -1], 2)


def test_match_clusters_of_many_centres_holds_no_pairwise_differences():
    # (k_s, k_t, d) differences at once: 328 MB at 800 centres of 64 dimensions
    import tracemalloc

    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    S = rng.normal(size=(800, 64))
    T = S[rng.permutation(800)] + rng.normal(0, 0.01, (800, 64))
    tracemalloc.start()
    try:
        got = match_clusters(S, T)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows, cols = linear_sum_assignment(cdist(S, T, "sqeuclidean"))
    np.testing.assert_array_equal(got[rows], cols)
    assert peak < 100e6, peak


def test_match_clusters_minimises_squared_not_absolute_distance():
    # Hand-computed: keeping the order costs 5 + 2 = 7 in squared distance (swapping, 9 + 0),
    # but 3 + 2 = 5 in L1 distance (swapping, 3 + 0): the two criteria disagree here.
    S = np.array([[4.0, 3.0], [2.0, 2.0]])
    T = np.array([[2.0, 2.0], [1.0, 3.0]])
    np.testing.assert_array_equal(match_clusters(S, T), [0, 1])


def test_cluster_and_match_cluster_classes_invert_a_cyclic_matching():
    # Here K-means numbers the source and target clusters so that the matching is the
    # 3-cycle s -> [2, 0, 1][s], which is not its own inverse: cluster_classes must be
    # the inverse map, target cluster c standing for the source cluster matched to it.
    C = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    Xs, _ = make_blobs(150, centers=C, cluster_std=0.7, random_state=2)
    Xt, _ = make_blobs(120, centers=C, cluster_std=0.7, random_state=102)
    res = cluster_and_match(Xs, Xt + 1.0, 3, seed=0)
    np.testing.assert_array_equal(res.source_to_target, [2, 0, 1])  # the premise
    np.testing.assert_array_equal(res.cluster_classes, [1, 2, 0])
    np.testing.assert_array_equal(res.source_to_target[res.cluster_classes], np.arange(3))


def test_select_k_silhouette_scores_a_single_cluster_subsample_minus_one():
    # 200 points near the origin and 2 far off: K-means with k = 2 puts the far pair in a
    # cluster of its own, and the seeded 3-point subsample (rows 103, 128, 170) holds
    # points of the other cluster only. The silhouette is undefined there; the documented
    # score is -1, the worst possible silhouette, so such a k is never preferred.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 2)), [[1000.0, 1000.0], [1000.0, 1001.0]]])
    k, scores = select_k_silhouette(X, [2], sample_size=3, seed=0)
    assert k == 2
    np.testing.assert_array_equal(scores, [-1.0])


def test_select_k_silhouette_default_restarts_match_sklearn_kmeans():
    # On structureless data the K-means optimum depends on the restarts (one restart of
    # scikit-learn's K-means moves the scores by ~1e-2 here), so the scores pin the
    # documented default n_init=4: scikit-learn's K-means with 4 restarts and the same
    # seed, scored by its silhouette on the same seeded subsample.
    from sklearn.cluster import KMeans as SkKMeans
    from sklearn.metrics import silhouette_score

    X = np.random.default_rng(1).uniform(size=(300, 2))
    _, scores = select_k_silhouette(X, range(2, 7), sample_size=200, seed=0)
    sub = np.sort(np.random.default_rng(0).choice(300, 200, replace=False))
    ref = [
        silhouette_score(X[sub], SkKMeans(k, n_init=4, random_state=0).fit(X).labels_[sub])
        for k in range(2, 7)
    ]
    np.testing.assert_allclose(scores, ref, rtol=1e-5)


def test_transfer_kmeans_names_its_own_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^source_centers: 5 centres for 3 target rows"):
        transfer_kmeans(rng.normal(size=(3, 2)), rng.normal(size=(5, 2)))
    for assign in ("kmeans", "nearest"):
        with pytest.raises(ValueError, match=r"^seed: expected an int >= 0"):
            transfer_kmeans(
                rng.normal(size=(9, 2)), rng.normal(size=(3, 2)), assign=assign, seed=-1
            )
        with pytest.raises(ValueError, match=r"^max_iter: expected an int >= 1"):
            transfer_kmeans(
                rng.normal(size=(9, 2)), rng.normal(size=(3, 2)), assign=assign, max_iter=0
            )
    with pytest.raises(ValueError, match=r"^knn: expected one of"):
        select_k_eigengap(rng.normal(size=(30, 2)), knn="brute")


def test_flags_alpha_k_range_and_tol_are_checked_by_kind():
    # "no" was a truthy return_embedding / return_model (three values for two), alpha None
    # a bare TypeError and "0.5" taken, k_range=5 "'int' object is not iterable", tol=True 1
    from dtc.cluster import KMeans, gmm, label_spreading, spectral_clustering

    X = make_blobs(60, centers=3, random_state=0)[0]
    with pytest.raises(ValueError, match=r"return_embedding must be"):
        spectral_clustering(X, 3, return_embedding="no")
    with pytest.raises(ValueError, match=r"return_model must be"):
        gmm(X, 3, return_model=[])
    # before EM, not after a whole fit
    import sys

    gmm_module = sys.modules["dtc.cluster.gmm"]  # dtc.cluster.gmm is the function

    class NoFit(gmm_module.GaussianMixture):
        def fit(self, X, y=None):
            raise AssertionError("EM ran before return_model was checked")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gmm_module, "GaussianMixture", NoFit)
        with pytest.raises(ValueError, match=r"return_model must be"):
            gmm(X, 3, return_model="no")
    Y0 = np.full((60, 3), 1 / 3)
    for alpha in (None, "0.5", True, float("nan")):
        with pytest.raises(ValueError, match=r"^alpha: expected a float in \[0, 1\)"):
            label_spreading(X, Y0, alpha=alpha)
    with pytest.raises(ValueError, match=r"^k_range: expected an iterable of ints"):
        select_k_silhouette(X, 5)
    with pytest.raises(ValueError, match=r"^tol: expected a non-negative float"):
        KMeans(3, tol=True).fit(X)


def test_gmm_names_reg_covar_when_it_swamps_features_in_small_units():
    # an absolute reg_covar of 1e-6 on features of variance 3e-7 merged three separated
    # blobs into one component; the warning blamed EM alone
    from dtc.cluster import gmm

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.5, (100, 2)) for c in ((0, 0), (4, 0), (0, 4))])
    with pytest.warns(UserWarning, match=r"reg_covar=1e-06 is not small against the features'"):
        labels, _ = gmm(3e-4 * X, 3)
    # any real number is a reg_covar: a Fraction failed in the warning's format
    from fractions import Fraction

    with pytest.warns(UserWarning, match=r"reg_covar=1e-06 is not small"):
        gmm(3e-4 * X, 3, reg_covar=Fraction(1, 10**6))
    assert np.unique(labels).size < 3
    # standardised, or with a reg_covar to their scale, the same rows are three clusters
    assert np.unique(gmm(3e-4 * X, 3, reg_covar=1e-14)[0]).size == 3


def test_cluster_and_match_seeds_the_source_run_too(shifted):
    # "seed: Seed of both K-means runs": source cluster s is K-means's cluster s on Z_source
    # with that seed (its numbering changes with the seed)
    from dtc.cluster import kmeans

    Xs, _, Xt, _ = shifted
    numberings = set()
    for seed in (0, 1, 2, 3):
        res = cluster_and_match(Xs, Xt, 4, n_init=1, seed=seed)
        cs = kmeans(Xs, 4, n_init=1, seed=seed)[1]
        ct = kmeans(Xt, 4, n_init=1, seed=seed)[1]
        np.testing.assert_array_equal(res.source_to_target, match_clusters(cs, ct))
        numberings.add(tuple(match_clusters(cs, ct)))
    assert len(numberings) > 1  # the seeds number the clusters apart: the check can fail


def test_select_k_silhouette_seeds_its_kmeans_runs():
    # the seed fixes the K-means runs as well as the subsample: each score is the
    # silhouette of kmeans(X, k, n_init, seed) on the rows the seed draws
    from sklearn.metrics import silhouette_score

    from dtc.cluster import kmeans

    X = np.random.default_rng(0).uniform(size=(300, 2)).astype(np.float32)
    for seed in (1, 2):
        _, scores = select_k_silhouette(X, [3, 4, 5], sample_size=500, n_init=1, seed=seed)
        expected = [silhouette_score(X, kmeans(X, k, n_init=1, seed=seed)[0]) for k in (3, 4, 5)]
        np.testing.assert_allclose(scores, expected, rtol=1e-6)
