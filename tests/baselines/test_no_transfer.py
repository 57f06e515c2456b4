"""Target-only baselines (GMM, agglomerative) against independent implementations, and
the clustering ensemble."""

import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy.cluster.hierarchy import cut_tree, fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from baselines.agglomerative import TargetAgglomerative
from baselines.ensemble import (
    ClusterEnsemble,
    average_linkage,
    co_association,
    consensus,
    indicator_matrix,
)
from baselines.gmm import TargetGMM
from baselines.kmeans import TargetKMeans
from baselines.spectral import TargetSpectral
from dtc import methods
from dtc.data import Domain, DomainPair
from dtc.methods import TransferClusterer
from dtc.metrics import cluster_acc


def blobs_pair(n=150, k=3, std=1.0, seed=0):
    X, y = make_blobs(n, n_features=4, centers=k, cluster_std=std, random_state=seed)
    Xs, ys = make_blobs(60, n_features=4, centers=k, cluster_std=std, random_state=seed + 1)
    return DomainPair(Domain(Xs, ys), Domain(X, y), n_clusters=k)


# -- no-transfer baselines ----------------------------------------------------------


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gmm_matches_sklearn(covariance_type):
    pair = blobs_pair(std=2.5)
    ours = TargetGMM(covariance_type=covariance_type, n_init=2, seed=3).fit(pair)
    ref = GaussianMixture(
        3, covariance_type=covariance_type, reg_covar=1e-4, n_init=2, max_iter=200, random_state=3
    ).fit(pair.target.X.astype(np.float64))
    np.testing.assert_array_equal(ours.labels_, ref.predict(pair.target.X.astype(np.float64)))
    np.testing.assert_allclose(ours.proba_.sum(axis=1), 1.0)
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_)


def test_gmm_defaults_are_the_documented_ones():
    # Defaults: diagonal covariances, reg_covar 1e-4, 3 restarts, 200 EM iterations, seed
    # 0. Correlated features and one of std 0.01 (reg_covar matters next to its variance).
    X, _ = make_blobs(120, n_features=3, centers=3, cluster_std=1.5, random_state=2)
    X = X @ np.array([[1.0, 0.8, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.01]])
    pair = DomainPair(Domain(X[:10]), Domain(X), n_clusters=3)
    ours = TargetGMM().fit(pair)
    Xt = pair.target.X.astype(np.float64)
    ref = GaussianMixture(
        3, covariance_type="diag", reg_covar=1e-4, n_init=3, max_iter=200, random_state=0
    ).fit(Xt)
    np.testing.assert_allclose(ours.proba_, ref.predict_proba(Xt), atol=1e-10)
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-10)


def test_agglomerative_ward_matches_scipy():
    pair = blobs_pair(std=2.5)
    ours = TargetAgglomerative().fit(pair)
    Z = linkage(pair.target.X.astype(np.float64), method="ward")
    ref = fcluster(Z, t=3, criterion="maxclust")
    assert adjusted_rand_score(ref, ours.labels_) == 1.0


@pytest.mark.parametrize("linkage_name", ["average", "complete", "single"])
def test_agglomerative_other_linkages_match_scipy(linkage_name):
    pair = blobs_pair(n=60, std=1.5)
    ours = TargetAgglomerative(linkage=linkage_name).fit(pair)
    ref = fcluster(linkage(pair.target.X.astype(np.float64), method=linkage_name), 3, "maxclust")
    assert adjusted_rand_score(ref, ours.labels_) == 1.0


def test_target_only_baselines_ignore_the_source():
    pair = blobs_pair()
    rng = np.random.default_rng(0)
    other = DomainPair(
        Domain(rng.normal(size=(10, 7))), pair.target, heterogeneous=True, n_clusters=3
    )
    for cls in (TargetGMM, TargetAgglomerative):
        assert not cls.uses_source
        np.testing.assert_array_equal(cls().fit(pair).labels_, cls().fit(other).labels_)


def test_no_transfer_bad_parameters():
    pair = blobs_pair()
    with pytest.raises(ValueError, match="TargetGMM: covariance_type"):
        TargetGMM(covariance_type="banded").fit(pair)
    with pytest.raises(ValueError, match="TargetAgglomerative: Ward linkage requires"):
        TargetAgglomerative(metric="cosine").fit(pair)
    with pytest.raises(ValueError, match="TargetAgglomerative: linkage"):
        TargetAgglomerative(linkage="centroid").fit(pair)


def test_target_spectral_refuses_as_many_clusters_as_samples():
    # k eigenvectors of an n x n graph: k = n raised scipy's TypeError ("Cannot use
    # scipy.linalg.eigh for sparse A with k >= N"), naming neither the estimator nor the
    # argument, and it escaped ClusterEnsemble unnamed as well.
    small = blobs_pair(n=12)
    with pytest.raises(
        ValueError,
        match=r"^TargetSpectral: n_clusters must be below the target's 12 samples .*"
        r"got n_clusters=12$",
    ):
        TargetSpectral(n_clusters=12, n_neighbors=5).fit(small)
    with pytest.raises(
        ValueError,
        match=r"^ClusterEnsemble: member spectral\[seed=0\]: TargetSpectral: n_clusters must be",
    ):
        ClusterEnsemble(n_clusters=12, members=("spectral",), seeds=(0,)).fit(small)
    # one fewer is an embedding scipy can compute
    labels = TargetSpectral(n_clusters=11, n_neighbors=5).fit(small).labels_
    assert labels.shape == (12,) and labels.dtype == np.int64


def test_an_ensemble_of_target_only_members_takes_a_heterogeneous_pair():
    # refused as if its members needed one feature space; a member that does still says so
    pair = blobs_pair(n=60)
    het = DomainPair(
        Domain(pair.source.X[:, :2], pair.source.y), pair.target, heterogeneous=True, n_clusters=3
    )
    ensemble = ClusterEnsemble(members=("kmeans", "gmm"), seeds=(0,)).fit(het)
    assert ensemble.labels_.shape == (60,)
    with pytest.raises(ValueError, match=r"member tca\[seed=0\]: TCA: the pair is heterogeneous"):
        ClusterEnsemble(members=("kmeans", "tca"), seeds=(0,)).fit(het)


def test_target_spectral_labels_are_int64():
    # scikit-learn's SpectralClustering gives int32; every other baseline int64. (std 2:
    # blobs close enough for one connected kNN graph.)
    pair = blobs_pair(std=2.0)
    labels = TargetSpectral().fit(pair).labels_
    assert labels.dtype == np.int64
    assert adjusted_rand_score(pair.target.y, labels) > 0.9


def test_target_kmeans_is_scikit_learn_kmeans_at_ordinary_scales():
    # The rescaling applies only outside 2**+-40: here nothing changes, bit for bit.
    pair = blobs_pair()
    est = TargetKMeans(n_init=4, max_iter=50, seed=3).fit(pair)
    km = KMeans(3, n_init=4, max_iter=50, random_state=3).fit(pair.target.X)
    np.testing.assert_array_equal(est.labels_, km.labels_)
    np.testing.assert_array_equal(est.cluster_centers_, km.cluster_centers_)
    assert est.labels_.dtype == np.int64 and est.cluster_centers_.dtype == np.float32


@pytest.mark.parametrize("exponent", [-83, 73])  # 2**-83 ~ 1.0e-25, 2**73 ~ 9.4e21
def test_target_kmeans_clusters_tiny_and_huge_features_as_ordinary_ones(exponent):
    # scikit-learn's float32 squared distances underflow (every point at distance 0) or
    # overflow at these scales: KMeans put everything in one cluster (ARI 0). Scaled by a
    # power of two the features are the same numbers with another exponent, and K-means is
    # equivariant to it: the same labels, centres scaled by the same power.
    pair = blobs_pair()
    ref = TargetKMeans().fit(pair)
    assert adjusted_rand_score(pair.target.y, ref.labels_) > 0.9
    scaled = DomainPair(
        pair.source, Domain(np.ldexp(pair.target.X, exponent), pair.target.y), n_clusters=3
    )
    est = TargetKMeans().fit(scaled)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    np.testing.assert_array_equal(est.cluster_centers_, np.ldexp(ref.cluster_centers_, exponent))
    # Not a power of two (the float32 features round otherwise): the same partition.
    factor = 1e-25 if exponent < 0 else 1e22
    other = DomainPair(pair.source, Domain(pair.target.X * factor), n_clusters=3)
    assert adjusted_rand_score(ref.labels_, TargetKMeans().fit(other).labels_) == 1.0


# -- ensemble ----------------------------------------------------------------------


def test_co_association_by_hand():
    partitions = [[0, 0, 1, 1], [0, 1, 1, 1], [2, 2, 2, 0]]
    expected = (
        np.array(
            [
                [3, 2, 1, 0],
                [2, 3, 2, 1],
                [1, 2, 3, 2],
                [0, 1, 2, 3],
            ]
        )
        / 3
    )
    np.testing.assert_allclose(co_association(partitions), expected)
    assert indicator_matrix(partitions).shape == (4, 6)


@pytest.mark.parametrize("method", ["average", "spectral"])
def test_consensus_of_identical_partitions_is_that_partition(method):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=50)
    # The same partition under different cluster names.
    members = [truth, (truth + 1) % 4, np.array([3, 0, 2, 1])[truth]]
    labels = consensus(members, 4, method=method)
    assert adjusted_rand_score(truth, labels) == 1.0


@pytest.mark.parametrize("method", ["average", "spectral"])
def test_consensus_beats_noisy_members(method):
    _, truth = make_blobs(300, centers=4, random_state=0)
    rng = np.random.default_rng(1)
    members = []
    for _ in range(9):
        noisy = truth.copy()
        flip = rng.random(truth.size) < 0.3
        noisy[flip] = rng.integers(0, 4, size=flip.sum())
        members.append(noisy)
    labels = consensus(members, 4, method=method)
    best_member = max(cluster_acc(truth, m) for m in members)
    assert best_member < 0.85
    assert cluster_acc(truth, labels) > best_member + 0.1


def _dense_spectral_embedding(members, k, *, normalised=True):
    """Rows of the top-k eigenvectors of D^-1/2 S D^-1/2 (of S itself when not
    normalised), S[i, j] = share of members putting i and j together, rows unit length."""
    P = np.asarray(members)
    S = (P[:, :, None] == P[:, None, :]).mean(0)
    M = S
    if normalised:
        d = S.sum(1)  # D = diag(S 1)
        M = S / np.sqrt(np.outer(d, d))
    lam, V = np.linalg.eigh(M)  # ascending
    assert lam[-k] - lam[-k - 1] > 1e-3  # an eigengap: the subspace is unique
    U = V[:, -k:]
    return U / np.linalg.norm(U, axis=1, keepdims=True)


def test_spectral_consensus_embeds_with_the_dense_normalised_affinity(monkeypatch):
    # The rows the function gives K-means, against numpy's eigh of the dense
    # D^-1/2 S D^-1/2: equal up to an orthogonal rotation/sign flip R of the columns
    # (Y_fn = Y_ref R), which unit-length rows keep, so Y Y' is compared.
    import baselines.ensemble as ensemble

    seen = []
    real = ensemble.kmeans

    def spy(U, *args, **kwargs):
        seen.append(np.array(U))
        return real(U, *args, **kwargs)

    monkeypatch.setattr(ensemble, "kmeans", spy)
    # Unequal groups (20, 8, 4), members with different k_r and noise: degrees differ,
    # so the normalised and the plain affinity give different embeddings.
    truth = np.repeat([0, 1, 2], [20, 8, 4])
    rng = np.random.default_rng(3)
    members = [truth, np.where(truth == 2, 1, truth), np.where(np.arange(32) < 10, 3, truth)]
    for _ in range(3):
        noisy = truth.copy()
        flip = rng.random(truth.size) < 0.15
        noisy[flip] = rng.integers(0, 3, size=flip.sum())
        members.append(noisy)
    labels = consensus(members, 3, method="spectral", seed=0)
    (Y,) = seen
    ref = _dense_spectral_embedding(members, 3)
    np.testing.assert_allclose(Y @ Y.T, ref @ ref.T, atol=1e-8)
    plain = _dense_spectral_embedding(members, 3, normalised=False)
    assert np.abs(plain @ plain.T - ref @ ref.T).max() > 1e-2  # Hn = H would be caught
    # Labels: K-means of the reference rows (scikit-learn) partitions them the same way.
    from sklearn.cluster import KMeans

    ref_labels = KMeans(3, n_init=10, random_state=0).fit_predict(ref)
    assert adjusted_rand_score(ref_labels, labels) == 1.0
    assert adjusted_rand_score(truth, labels) == 1.0


def test_spectral_consensus_never_splits_samples_every_member_puts_together():
    # rank(H) = 3 < k = 4: the fourth singular vector was an arbitrary null-space vector,
    # and K-means split group 3 while merging groups 0 and 1 (Ng et al. embed with the top
    # eigenvectors of S, not those of eigenvalue 0)
    P = np.array(
        [
            [1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0],
        ]
    )
    groups = np.unique(P.T, axis=0, return_inverse=True)[1].reshape(-1)
    for method in ("average", "spectral"):
        assert adjusted_rand_score(groups, consensus(P, 4, method=method)) == 1.0


def test_average_consensus_gives_exactly_k_clusters_when_merges_tie():
    # Three groups of 4; each member joins two of them, a different two each time, so
    # every pair of groups is together in 1 of 3 members: the three cross-group merges
    # tie at distance 2/3, and a cut at a height gives 1 cluster or 3, never 2.
    g = np.repeat([0, 1, 2], 4)
    members = [np.where(g == 2, 1, 0), np.where(g == 0, 0, 1), np.where(g == 1, 1, 0)]
    labels = consensus(members, 2, method="average")
    assert np.unique(labels).size == 2
    # Groups are never split: each group's rows share a label.
    assert all(np.unique(labels[g == i]).size == 1 for i in range(3))


def test_average_linkage_merges_the_hand_computed_upgma_tree():
    # Five points on a line at 0, 1, 3, 7, 12, UPGMA by hand: {0, 1} at 1; {0, 1} + {2}
    # at (3 + 2) / 2 = 2.5; {3} + {4} at 5 (below {0, 1, 2}-{3} at 17 / 3); the last
    # merge at (7 + 12 + 6 + 11 + 4 + 9) / 6 = 49 / 6. scipy's heights are the same.
    x = np.array([0, 1, 3, 7, 12])
    D = np.abs(x[:, None] - x[None])
    owner, merges = average_linkage(D, np.ones(5, dtype=np.int64), 1)
    np.testing.assert_array_equal(merges, [[0, 1], [0, 2], [3, 4], [0, 3]])
    np.testing.assert_array_equal(owner, 0)
    Z = linkage(squareform(D.astype(np.float64)), method="average")
    np.testing.assert_allclose(Z[:, 2], [1, 2.5, 5, 49 / 6])
    owner, _ = average_linkage(D, np.ones(5, dtype=np.int64), 2)
    np.testing.assert_array_equal(owner, [0, 0, 0, 3, 3])
    # Weighted groups: samples at 0, 0, 1, 3, 5.6 as groups at 0 (2 samples), 1, 3, 5.6
    # (distances in tenths, integers). By hand: {0, 0} + {1} at 1; then {3} + {5.6} at
    # 2.6, below {0, 0, 1}-{3} at (3 + 3 + 2) / 3 = 8 / 3; unweighted, that pair would
    # be at (3 + 2) / 2 = 2.5 and merge first.
    x, sizes = np.array([0, 1, 3, 5.6]), np.array([2, 1, 1, 1])
    D = np.rint(np.abs(x[:, None] - x[None]) * 10).astype(np.int64)
    _, merges = average_linkage(D * np.outer(sizes, sizes), sizes, 1)
    np.testing.assert_array_equal(merges, [[0, 1], [2, 3], [0, 2]])
    samples = np.repeat(x, sizes)
    Z = linkage(samples[:, None], method="average")
    np.testing.assert_allclose(Z[1:, 2], [1, 2.6, (3 + 3 + 2 + 5.6 + 5.6 + 4.6) / 6])


@pytest.mark.parametrize("sizes", [(1,) * 40, (3, 1, 5, 2, 1, 4, 1, 2) * 3])
def test_average_linkage_matches_scipy_on_distances_without_ties(sizes):
    # Groups of identical samples (distance 0 inside a group) and random integer
    # distances between groups, large enough that no two averages tie: scipy's average
    # linkage of the samples, cut at every k, groups them as the weighted groups do.
    rng = np.random.default_rng(0)
    sizes = np.array(sizes)
    m = sizes.size
    between = np.triu(rng.integers(1, 10**9, size=(m, m)), 1)
    between = between + between.T
    group = np.repeat(np.arange(m), sizes)
    D = between[np.ix_(group, group)].astype(np.float64)
    Z = linkage(squareform(D, checks=False), method="average")
    for k in (1, 2, 5, m // 2, m):
        owner, merges = average_linkage(between * np.outer(sizes, sizes), sizes, k)
        assert merges.shape == (m - k, 2)
        expected = cut_tree(Z, n_clusters=k).ravel()
        assert adjusted_rand_score(expected, owner[group]) == 1.0


# Three members of a 123-sample slice of a USPS->MNIST target (cluster labels of DTC at
# three seeds), in their saved order: 13 distinct label triples, tied co-association
# distances. scipy 1.17's nn-chain linkage of 1 - S returned a tree merging one
# cluster twice on it (is_valid_linkage False), which cut_tree refused.
TIED_TRIPLES = [(2, 2, 2), (3, 2, 2), (4, 2, 2), (4, 5, 2), (4, 5, 4), (5, 5, 2), (5, 5, 4)]
TIED_TRIPLES += [(5, 5, 8), (6, 2, 5), (6, 5, 6), (6, 6, 6), (9, 5, 4), (9, 5, 7)]
TIED_ORDER = (
    "863020446444044a644494646646646466466446466644466644646446666646666466646666"
    "c6ccc46bc666c5744444644646646644644466144464646"
)


def tied_members() -> np.ndarray:
    return np.array([TIED_TRIPLES[int(c, 16)] for c in TIED_ORDER]).T


def closest_pair_distance(clusters, members) -> Fraction:
    """The smallest average disagreement between two clusters, in exact arithmetic."""
    apart = (members[:, :, None] != members[:, None, :]).sum(0)
    return min(
        Fraction(int(apart[np.ix_(a, b)].sum()), len(a) * len(b))
        for i, a in enumerate(clusters)
        for b in clusters[i + 1 :]
    )


def test_average_consensus_merges_a_closest_pair_at_every_step():
    members = tied_members()
    n = members.shape[1]
    rows, group, counts = np.unique(members.T, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    apart = (rows.T[:, :, None] != rows.T[:, None, :]).sum(0)
    owner, merges = average_linkage(apart * np.outer(counts, counts), counts, 1)
    # Replay the merges on the samples: each one joins two clusters at the smallest
    # average disagreement of all pairs then (sample level, exact fractions).
    clusters = {int(g): list(np.flatnonzero(group == g)) for g in range(rows.shape[0])}
    for a, b in merges:
        a_b = Fraction(int(apart[np.ix_(group[clusters[a]], group[clusters[b]])].sum()))
        a_b /= len(clusters[a]) * len(clusters[b])
        assert a_b == closest_pair_distance(list(clusters.values()), members)
        clusters[int(a)] += clusters.pop(int(b))
    assert list(clusters) == [0] and sorted(clusters[0]) == list(range(n))
    np.testing.assert_array_equal(owner, 0)
    for k in (2, 10, 13):
        labels = consensus(members, k)
        assert np.unique(labels).size == k
        # samples every member puts together are never split
        assert all(np.unique(labels[group == g]).size == 1 for g in range(rows.shape[0]))


@pytest.mark.parametrize("method", ["average", "spectral"])
def test_consensus_warns_when_members_separate_fewer_than_k_groups(method):
    # Spectral's K-means split a group that every member keeps together (its equal SVD
    # rows differ by rounding) to reach n_clusters: 4 clusters, one of them arbitrary.
    members = np.array([[0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 2, 2]])
    with pytest.warns(
        UserWarning, match="separate only 3 groups of samples, fewer than n_clusters=4"
    ):
        labels = consensus(members, 4, method=method)
    assert adjusted_rand_score(members[0], labels) == 1.0
    # members of different k (2 and 3 clusters, the 2 merging two of the 3's)
    members = np.array([[0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0, 1, 1, 1]])
    with pytest.warns(UserWarning, match="separate only 3 groups"):
        labels = consensus(members, 5, method=method)
    assert adjusted_rand_score(members[0], labels) == 1.0


@pytest.mark.parametrize("method", ["average", "spectral"])
def test_consensus_of_members_with_different_k(method):
    # Member A: {0..3} {4..7}; member B: {0, 1} {2, 3} {4..7}; member C: {0..5} {6, 7}.
    # Co-association (by hand): pairs inside {0, 1}, {2, 3}, {4, 5} or {6, 7} are together
    # in all 3 members; {0, 1}-{2, 3} and {4, 5}-{6, 7} in 2; {0..3}-{4, 5} in 1; {0..3}-{6, 7}
    # in 0. Average linkage at k=2 merges the two closest pairs of groups: {0..3} {4..7}.
    members = np.array(
        [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 2, 2, 2, 2], [0, 0, 0, 0, 0, 0, 1, 1]]
    )
    S = co_association(members)
    assert S[0, 1] == S[4, 5] == 1.0
    assert S[0, 2] == S[4, 6] == pytest.approx(2 / 3)
    assert S[0, 4] == pytest.approx(1 / 3) and S[0, 6] == 0.0
    labels = consensus(members, 2, method=method)
    assert adjusted_rand_score(members[0], labels) == 1.0
    labels = consensus(members, 4, method=method)
    assert adjusted_rand_score([0, 0, 1, 1, 2, 2, 3, 3], labels) == 1.0


def test_average_linkage_bad_input_is_named():
    with pytest.raises(ValueError, match=r"totals must have shape \(2, 2\), got \(3, 3\)"):
        average_linkage(np.zeros((3, 3), dtype=int), [1, 1], 1)
    with pytest.raises(ValueError, match=r"n_clusters must be in 1..2, got 3"):
        average_linkage(np.zeros((2, 2), dtype=int), [1, 1], 3)


class NoisyKMeans(TransferClusterer):
    """K-means whose labels are corrupted at random: a weak, seed-dependent member."""

    uses_source = False

    def __init__(self, n_clusters=None, noise=0.35, seed=0):
        self.n_clusters = n_clusters
        self.noise = noise
        self.seed = seed

    def _fit(self, pair):
        k = self._n_clusters(pair)
        labels = methods.get("kmeans", n_clusters=k, seed=0).fit(pair).labels_.copy()
        rng = np.random.default_rng(self.seed)
        flip = rng.random(labels.size) < self.noise
        labels[flip] = rng.integers(0, k, size=flip.sum())
        self.labels_ = labels


def test_ensemble_beats_a_noisy_member_on_blobs():
    pair = blobs_pair(n=200, k=4, std=1.0)
    ens = ClusterEnsemble(members=[NoisyKMeans()], seeds=range(7)).fit(pair)
    accs = [cluster_acc(pair.target.y, m) for m in ens.member_labels_]
    assert ens.member_labels_.shape == (7, 200)
    assert ens.member_names_[0] == "NoisyKMeans[seed=0]"
    assert cluster_acc(pair.target.y, ens.labels_) > max(accs) + 0.1


def test_ensemble_members_follow_the_run_seed():
    # A spread over run seeds needs different members per seed: seed s fits the member
    # seeds 5s..5s+4 (seed 0: 0..4), unless ``seeds`` fixes them.
    pair = blobs_pair(n=200, k=4, std=1.0)
    runs = {s: ClusterEnsemble(members=[NoisyKMeans()], seed=s).fit(pair) for s in (0, 1)}
    assert runs[0].member_names_ == [f"NoisyKMeans[seed={s}]" for s in range(5)]
    assert runs[1].member_names_ == [f"NoisyKMeans[seed={s}]" for s in range(5, 10)]
    assert not np.array_equal(runs[0].member_labels_, runs[1].member_labels_)
    three = ClusterEnsemble(members=[NoisyKMeans()], n_member_seeds=3, seed=2).fit(pair)
    assert three.member_names_ == [f"NoisyKMeans[seed={s}]" for s in (6, 7, 8)]
    fixed = ClusterEnsemble(members=[NoisyKMeans()], seeds=(0, 1), seed=1).fit(pair)
    assert fixed.member_names_ == ["NoisyKMeans[seed=0]", "NoisyKMeans[seed=1]"]


def test_spectral_consensus_is_seeded_by_the_run_seed(monkeypatch):
    # ``seed`` is the seed "of the members (unless seeds is given) and of the consensus
    # step": with the member seeds fixed, the spectral consensus's K-means gets the run's.
    import baselines.ensemble as ensemble

    seen = []
    real = ensemble.kmeans
    monkeypatch.setattr(
        ensemble, "kmeans", lambda *a, **kw: (seen.append(kw["seed"]), real(*a, **kw))[1]
    )
    pair = blobs_pair(n=60, std=1.0)
    for seed in (0, 7):
        ClusterEnsemble(members=("kmeans",), seeds=(0, 1), consensus="spectral", seed=seed).fit(
            pair
        )
    assert seen == [0, 7]


def test_ensemble_of_registered_members():
    pair = blobs_pair(n=120, std=1.0)
    ens = ClusterEnsemble(members=("kmeans", "agglomerative"), seeds=(0, 1)).fit(pair)
    # kmeans runs once per seed, agglomerative (no seed) once.
    assert ens.member_names_ == ["kmeans[seed=0]", "kmeans[seed=1]", "agglomerative"]
    # All three agree on well-separated blobs, so the consensus is their partition.
    assert adjusted_rand_score(ens.member_labels_[2], ens.labels_) == 1.0
    assert cluster_acc(pair.target.y, ens.labels_) == 1.0


def test_ensemble_refuses_dense_consensus_above_the_limit():
    pair = blobs_pair(n=120)
    with pytest.raises(ValueError, match="ClusterEnsemble: consensus='average' needs the dense"):
        ClusterEnsemble(members=("kmeans",), seeds=(0,), max_dense=100).fit(pair)
    # The spectral consensus never forms the n x n matrix, so the limit does not apply.
    ens = ClusterEnsemble(members=("kmeans",), seeds=(0,), consensus="spectral", max_dense=100)
    assert ens.fit(pair).labels_.shape == (120,)


def test_ensemble_dense_consensus_takes_a_target_of_exactly_max_dense():
    # max_dense is the "largest target for consensus='average'": n == max_dense is allowed.
    pair = blobs_pair(n=120)
    ens = ClusterEnsemble(members=("kmeans",), seeds=(0,), max_dense=120).fit(pair)
    assert ens.labels_.shape == (120,)


def test_ensemble_bad_members():
    pair = blobs_pair(n=60)
    with pytest.raises(ValueError, match="ClusterEnsemble: members must be"):
        ClusterEnsemble(members="kmeans").fit(pair)
    for members in (3, None, ()):
        with pytest.raises(ValueError, match="ClusterEnsemble: members must be"):
            ClusterEnsemble(members=members).fit(pair)
    # a generator was used up by the first fit (or check_params), and the next refused it
    generators = ({"members": (m for m in ["kmeans"])}, {"seeds": (s for s in [1, 2])})
    zero_d = ({"members": np.array("kmeans")}, {"seeds": np.array(3)})  # a TypeError
    for params in (*generators, *zero_d):
        with pytest.raises(ValueError, match=r"ClusterEnsemble: (members|seeds) must be"):
            ClusterEnsemble(**params).fit(pair)
    # an unknown name is named as the ensemble's parameter, in fit and in check_params
    # (the registry's bare "unknown method 'nope'" named neither)
    for check in (lambda e: e.fit(pair), lambda e: e.check_params()):
        with pytest.raises(ValueError, match=r"^ClusterEnsemble: members: unknown method 'nope'"):
            check(ClusterEnsemble(members=("kmeans", "nope")))
    with pytest.raises(ValueError, match="ClusterEnsemble: consensus must be"):
        ClusterEnsemble(consensus="vote").fit(pair)
    with pytest.raises(ValueError, match="ClusterEnsemble: an ensemble cannot be its own member"):
        ClusterEnsemble(members=("kmeans", "ensemble")).fit(pair)
    with pytest.raises(ValueError, match="a member must be a method name or a TransferClusterer"):
        ClusterEnsemble(members=("kmeans", 3)).fit(pair)
    # A member's own error (spectral's graph needs more than 10 samples) says which member.
    small = blobs_pair(n=9)
    with pytest.raises(
        ValueError,
        match=r"^ClusterEnsemble: member spectral\[seed=0\]: TargetSpectral: "
        "n_neighbors must be",
    ):
        ClusterEnsemble(members=("kmeans", "spectral"), seeds=(0,)).fit(small)


@pytest.mark.parametrize(
    ("partitions", "k", "match"),
    [
        (
            np.zeros(6, dtype=int),
            2,
            r"partitions of shape \(n_members, n_samples\), got shape \(6,\)",
        ),
        (np.array([[0, 1, -1]]), 2, "non-negative integer cluster labels"),
        (np.array([[0.0, 1.0, 1.0]]), 2, "non-negative integer cluster labels"),
        (np.array([[0, 1, 1]]), 4, "n_clusters=4 exceeds the 3 samples"),
    ],
)
def test_consensus_bad_input_is_named(partitions, k, match):
    with pytest.raises(ValueError, match=match):
        consensus(partitions, k)


def test_average_consensus_of_one_sample_is_one_cluster():
    np.testing.assert_array_equal(consensus(np.array([[2], [0]]), 1), [0])


@pytest.mark.parametrize(
    ("name", "cls"),
    [("gmm", TargetGMM), ("agglomerative", TargetAgglomerative), ("ensemble", ClusterEnsemble)],
)
def test_registered_and_clonable(name, cls):
    assert methods.get_class(name) is cls
    est = methods.get(name, n_clusters=4)
    assert clone(est).get_params() == est.get_params()


@pytest.mark.parametrize("method", ["average", "spectral"])
def test_consensus_does_not_depend_on_cluster_names_or_member_order(method):
    # Co-association distances tie (multiples of 1/R) and the spectrum of S is often
    # degenerate; the ties were broken by the members' arbitrary cluster ids and order,
    # so renaming a member's clusters changed the consensus partition, not only its names.
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(60):
        P = rng.integers(0, 3, size=(int(rng.integers(1, 4)), int(rng.integers(5, 12))))
        k = int(rng.integers(2, 4))
        renamed = np.stack([rng.permutation(3)[p] for p in P])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fewer distinct groups than k
            labels = consensus(P, k, method=method)
            for other in (renamed, P[::-1], renamed[rng.permutation(len(P))]):
                same = consensus(other, k, method=method)
                changed += adjusted_rand_score(labels, same) < 1.0
    assert changed == 0
    # A case by hand: one member of three equidistant clusters, cut to two. Which two
    # merge is a tie; it used to follow the cluster ids.
    member = np.array([1, 0, 1, 2, 1, 1, 2, 2, 2])
    first = consensus([member], 2, method=method)
    second = consensus([np.array([2, 1, 0])[member]], 2, method=method)
    assert adjusted_rand_score(first, second) == 1.0


def test_average_linkage_refuses_what_it_would_round_or_misread():
    # int64 truncated 1.9 and 1.2 to 1: every distance tied, and 0 merged with 1, not 2
    near = [[0, 1.9, 1.2], [1.9, 0, 1.5], [1.2, 1.5, 0]]
    with pytest.raises(ValueError, match="totals must hold integers, got dtype float64"):
        average_linkage(near, [1, 1, 1], 2)
    owner, _ = average_linkage(np.multiply(near, 10), [1, 1, 1], 2)  # integer-valued floats
    np.testing.assert_array_equal(owner, [0, 1, 0])
    with pytest.raises(ValueError, match="totals must be >= 0"):
        average_linkage([[0, -1], [-1, 0]], [1, 1], 1)
    with pytest.raises(ValueError, match="totals must be symmetric"):
        average_linkage([[0, 1], [2, 0]], [1, 1], 1)
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        average_linkage([[0, 1], [1, 0]], [1, 0], 1)


def test_indicator_matrix_columns_by_hand():
    # One 0/1 column per cluster of each member, members side by side, a member's columns
    # in the order of its sorted cluster names (co_association only pins H H').
    from baselines.ensemble import indicator_matrix

    H = indicator_matrix([[0, 0, 1, 1], [7, 3, 3, 7]]).toarray()
    expected = np.array(
        [
            [1, 0, 0, 1],
            [1, 0, 1, 0],
            [0, 1, 1, 0],
            [0, 1, 0, 1],
        ]
    )
    np.testing.assert_array_equal(H, expected)


def test_target_agglomerative_and_spectral_pass_metric_and_n_neighbors_on():
    from sklearn.cluster import AgglomerativeClustering, SpectralClustering

    pair = blobs_pair(n=90, k=3, std=3.0, seed=2)
    X = pair.target.X.astype(np.float64)
    est = TargetAgglomerative(linkage="average", metric="cosine").fit(pair)
    ref = AgglomerativeClustering(3, linkage="average", metric="cosine").fit_predict(X)
    np.testing.assert_array_equal(est.labels_, ref)
    euclid = AgglomerativeClustering(3, linkage="average").fit_predict(X)
    assert adjusted_rand_score(ref, euclid) < 1.0  # the metric matters here
    labels = {}
    for nn in (3, 30):
        labels[nn] = TargetSpectral(n_neighbors=nn, seed=0).fit(pair).labels_
        ref = SpectralClustering(
            3, affinity="nearest_neighbors", n_neighbors=nn, assign_labels="kmeans", random_state=0
        ).fit_predict(pair.target.X)
        np.testing.assert_array_equal(labels[nn], ref)
    assert adjusted_rand_score(labels[3], labels[30]) < 1.0  # n_neighbors matters here
