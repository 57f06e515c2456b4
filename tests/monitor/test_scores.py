"""Label-free scores against scikit-learn and hand-computed cases."""

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_blobs
from sklearn.neighbors import NearestNeighbors

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


@pytest.mark.parametrize("n", [-3, 2.5, True])
def test_subsample_index_refuses_a_bad_n(n):
    # a negative n gave an empty index
    with pytest.raises(ValueError, match=f"n: expected an int >= 0, got {n!r}"):
        scores.subsample_index(n, 5)


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


def test_information_maximization_mixed_rows_by_hand():
    # Rows of different entropies, so the mean of H(p_i) is not any single row's.
    # P = [[1, 0], [1/2, 1/2]]: mean row (3/4, 1/4),
    # H(mean) = -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.5623351446; row entropies 0 and ln 2,
    # mean H = ln(2) / 2 = 0.3465735903; IM = H(mean) - mean H = 0.2157615543.
    P = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert scores.information_maximization(P) == pytest.approx(0.2157615543, abs=1e-9)
    # A three-class case against scipy's entropy, row by row.
    from scipy.stats import entropy

    Q = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3], [0.05, 0.05, 0.9]])
    expected = entropy(Q.mean(0)) - np.mean([entropy(row) for row in Q])
    assert scores.information_maximization(Q) == pytest.approx(expected, abs=1e-12)


def test_snd_hand_computed():
    # Two samples: each one's only neighbour is the other, so every neighbourhood
    # distribution is a point mass and its entropy is 0.
    assert scores.soft_neighborhood_density(np.array([[0.9, 0.1], [0.2, 0.8]])) == pytest.approx(
        0.0
    )
    # Three identical rows: each sees two equally similar neighbours -> entropy log 2.
    P = np.tile([0.6, 0.4], (3, 1))
    assert scores.soft_neighborhood_density(P) == pytest.approx(np.log(2))


def saito_snd(P, temperature):
    """SND as Saito et al. (ICCV 2021) define it, row by row: L2-normalised rows, each
    row's cosine similarities to the *other* rows divided by the temperature, a softmax
    over them, the entropy of that distribution, the mean over rows."""
    Z = P / np.sqrt((P**2).sum(1, keepdims=True))
    entropies = []
    for i in range(len(Z)):
        sims = np.array([Z[i] @ Z[j] for j in range(len(Z)) if j != i]) / temperature
        w = np.exp(sims - sims.max())
        w /= w.sum()
        entropies.append(-(w * np.log(w)).sum())
    return float(np.mean(entropies))


def test_snd_matches_saitos_definition_where_the_temperature_matters():
    P = np.random.default_rng(2).dirichlet(np.full(4, 0.5), 40)
    values = {t: scores.soft_neighborhood_density(P, temperature=t) for t in (0.05, 0.5)}
    for t, value in values.items():
        assert value == pytest.approx(saito_snd(P, t), rel=1e-10)
    # a softer softmax spreads each neighbourhood: the entropy rises towards log(n - 1)
    assert values[0.05] < values[0.5] < np.log(39)
    assert values[0.5] - values[0.05] > 0.5
    # on a subsample, the definition on the subsample's rows
    idx = scores.subsample_index(40, 25, seed=3)
    assert scores.soft_neighborhood_density(
        P, temperature=0.05, max_samples=25, seed=3
    ) == pytest.approx(saito_snd(P[idx], 0.05), rel=1e-10)


def test_snd_refuses_a_temperature_whose_inverse_overflows():
    # a subnormal temperature passed the positivity check and returned NaN (inf - inf)
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]])
    with pytest.raises(ValueError, match=r"^soft_neighborhood_density: temperature must be"):
        scores.soft_neighborhood_density(P, temperature=1e-310)
    assert np.isfinite(scores.soft_neighborhood_density(P, temperature=1e-300))


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


def test_stability_is_the_mean_ari_of_a_known_cluster_fn_on_shared_rows():
    # A deterministic cluster_fn whose partition of a resample is known from the rows'
    # ids (column 0) and the seed it is given: the expected score is then the mean
    # sklearn ARI over the pairs, on the rows both resamples hold, compared by row id.
    n, k, seed, n_pairs, fraction = 40, 3, 5, 4, 0.6
    X = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    calls = []

    def cluster_fn(Xs, n_clusters, s):
        calls.append(s)
        return ((Xs[:, 0].astype(int) + 3 * s) // 14) % n_clusters

    got = scores.clustering_stability(
        X, k, cluster_fn=cluster_fn, n_pairs=n_pairs, fraction=fraction, seed=seed
    )
    # The resampling of clustering_stability: a generator seeded with `seed` draws two
    # subsamples of round(fraction * n) = 24 rows per pair, clustered with seeds
    # seed + 2p and seed + 2p + 1.
    rng = np.random.default_rng(seed)
    aris = []
    for p in range(n_pairs):
        a = rng.choice(n, 24, replace=False)
        b = rng.choice(n, 24, replace=False)
        label_a = {int(i): ((int(i) + 3 * (seed + 2 * p)) // 14) % k for i in a}
        label_b = {int(i): ((int(i) + 3 * (seed + 2 * p + 1)) // 14) % k for i in b}
        shared = sorted(set(label_a) & set(label_b))
        aris.append(
            skm.adjusted_rand_score([label_a[i] for i in shared], [label_b[i] for i in shared])
        )
    assert calls == list(range(seed, seed + 2 * n_pairs))
    assert 0.05 < np.mean(aris) < 0.95 and np.ptp(aris) > 0.05  # neither trivial nor constant
    assert got == pytest.approx(np.mean(aris), abs=1e-12)


def test_score_dispatch_and_errors(blobs):
    X, y = blobs
    assert scores.score("silhouette", X=X, labels=y) == pytest.approx(skm.silhouette_score(X, y))
    for name in scores.PROB_SCORES:  # a method without soft assignments asked for a score of them
        with pytest.raises(ValueError, match=f"score '{name}' needs soft assignments"):
            scores.score(name, X=X, labels=y)
    with pytest.raises(ValueError, match="unknown score 'x'"):
        scores.score("x")
    with pytest.raises(ValueError, match="scores a clustering algorithm, not a partition"):
        scores.score("clustering_stability", X=X, labels=y)
    with pytest.raises(ValueError, match="more samples than clusters"):
        scores.silhouette(X[:3], np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="cannot hold 5 clusters"):
        scores.clustering_stability(X[:5], 5)
    with pytest.raises(ValueError, match="summing to 1"):
        scores.information_maximization(np.array([[0.5, 0.6], [0.5, 0.5]]))


def test_score_passes_a_score_its_own_options_and_refuses_others():
    P = np.random.default_rng(0).dirichlet(np.ones(3), 30)
    assert scores.score("soft_neighborhood_density", probs=P, temperature=0.5) == (
        scores.soft_neighborhood_density(P, temperature=0.5)
    )
    with pytest.raises(
        ValueError,
        match="'information_maximization' takes no option 'max_samples'; its options: none",
    ):
        scores.score("information_maximization", probs=P, max_samples=100)
    with pytest.raises(
        ValueError, match="takes no option 'temperature'; its options: max_samples, seed"
    ):
        scores.score("silhouette", X=P, labels=np.arange(30) % 3, temperature=0.5)


def test_a_subsample_too_small_for_its_clusters_names_max_samples():
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(100, 2)), np.arange(100) % 3
    # the full set holds enough rows; the 3-row subsample of seed 1 holds all 3 clusters
    assert np.unique(labels[scores.subsample_index(100, 3, seed=1)]).size == 3
    for fn in scores.LABEL_SCORES.values():
        with pytest.raises(ValueError, match=r"max_samples=3 rows holds 3 cluster.*raise max"):
            fn(X, labels, max_samples=3, seed=1)
    with pytest.raises(ValueError, match="max_samples=1 rows holds 1 cluster"):
        scores.silhouette(X, labels, max_samples=1)
    P = rng.dirichlet(np.ones(3), 10)
    with pytest.raises(ValueError, match="at least 2 rows, got max_samples=1"):
        scores.soft_neighborhood_density(P, max_samples=1)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.zeros((30, 2)), {"n_clusters": 1}, "n_clusters must be an int >= 2, got 1"),
        (np.zeros((30, 2)), {"n_clusters": True}, "n_clusters must be an int >= 2, got True"),
        (np.zeros((30, 2)), {"n_clusters": 3, "n_pairs": 0}, "n_pairs must be an int >= 1"),
        (np.zeros(30), {"n_clusters": 3}, r"X must have shape \(n, d\), got \(30,\)"),
        # was "'int' object is not callable"
        (
            np.zeros((30, 2)),
            {"n_clusters": 3, "cluster_fn": 3},
            "cluster_fn must be None or a callable",
        ),
    ],
)
def test_stability_refuses_arguments_it_cannot_score(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        scores.clustering_stability(X, **kwargs)


@pytest.mark.parametrize(
    ("n", "kwargs", "match"),
    [
        # max_samples is the limit, not the size of X: the message says so
        (
            1000,
            {"n_clusters": 3, "max_samples": 3},
            r"at least 5 rows .*max_samples=3 is too small",
        ),
        (4, {"n_clusters": 3}, r"at least 5 rows to draw from.*X has 4 samples"),
        # round() is half to even: round(0.05 * 50) = 2, so 51 rows are needed, not 41
        (50, {"n_clusters": 2, "fraction": 0.05}, r"at least 51 rows .*X has 50 samples"),
        # round(0.8 * 7) = 6 > 5: 7 rows are enough, not the 8 of ceil(5 / 0.8) + 1
        (6, {"n_clusters": 5}, r"at least 7 rows to draw from.*X has 6 samples"),
    ],
)
def test_stability_states_the_rows_it_needs_and_what_limits_them(n, kwargs, match):
    X = np.random.default_rng(0).normal(size=(n, 2))
    with pytest.raises(ValueError, match=match):
        scores.clustering_stability(X, **kwargs)


def test_stability_runs_on_the_stated_minimum_of_rows():
    # the minimum the message states is enough: 7 rows for 5 clusters at fraction 0.8
    X = np.random.default_rng(0).normal(size=(7, 2))
    assert np.isfinite(scores.clustering_stability(X, 5, n_pairs=1))


@pytest.mark.parametrize("n_neighbors", [0, -1, True, 2.0, None])
def test_knn_agreement_refuses_a_neighbour_count_that_is_not_a_positive_int(n_neighbors):
    X, labels = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3
    with pytest.raises(ValueError, match=r"^knn_agreement: n_neighbors: expected an int >= 1"):
        scores.knn_agreement(X, labels, n_neighbors=n_neighbors)


def brute_force_knn_agreement(X, labels, k):
    d = ((X[:, None] - X[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    neigh = np.argsort(d, 1)[:, :k]
    agree = (labels[neigh] == labels[:, None]).mean()
    chance = ((np.bincount(labels) / len(X)) ** 2).sum()
    return (agree - chance) / (1 - chance)


@pytest.mark.parametrize(
    "name", ["davies_bouldin", "calinski_harabasz", "silhouette", "knn_agreement"]
)
def test_distance_ratio_scores_do_not_change_with_the_units(name):
    # Davies-Bouldin was 0, its best, for every partition at 1e-8 (scikit-learn's absolute
    # allclose), CH refused data at 1e-16 as "no spread"; silhouette, scale-free already,
    # is checked beside them. 1e-310 is subnormal (the power of two overflowed there). At
    # 1e170 squared distances overflowed (silhouette 0, the others NaN), and knn_agreement
    # was never brought to unit scale (-0.018 for 0.552 at 1e-170: distances underflowed
    # to ties).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)) + 3 * np.eye(5)[np.arange(120) % 3]
    labels = rng.integers(0, 3, 120)
    at_one = scores.score(name, X=X, labels=labels)
    for factor in (1e-8, 1e-16, 1e-170, 1e-310, 1e8, 1e170):
        assert scores.score(name, X=factor * X, labels=labels) == pytest.approx(at_one, rel=1e-9)
    # a power of two below 1 changes no bit (the scale is brought back exactly)
    assert scores.score(name, X=X / 2**40, labels=labels) == at_one


@pytest.mark.parametrize("sizes", [[10, 10, 10, 10], [25, 5, 5, 5]])
def test_knn_agreement_of_random_partitions_averages_minus_one_over_n_minus_1(sizes):
    # The documented floor: c = sum p_j^2 is the chance of a neighbour drawn with
    # replacement, but a neighbour is another point, so random labels agree with
    # probability sum n_j (n_j - 1) / (n (n - 1)) and kappa averages -1 / (n - 1).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    base = np.repeat(np.arange(len(sizes)), sizes)
    values = [scores.knn_agreement(X, rng.permutation(base), n_neighbors=5) for _ in range(2000)]
    mean, se = np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))
    assert abs(mean + 1 / 39) < 4 * se
    assert mean < -10 * se  # the floor is visible, not chance noise around 0


def test_knn_agreement_against_a_brute_force_count():
    rng = np.random.default_rng(4)
    X, labels = rng.normal(size=(25, 3)), rng.integers(0, 3, 25)
    expected = brute_force_knn_agreement(X, labels, 4)
    assert scores.knn_agreement(X, labels, n_neighbors=4) == pytest.approx(expected)
    # the k-NN graph is cached by content: other labels on the same rows reuse it, and
    # rows changed in place get their own graph
    other = rng.integers(0, 3, 25)
    assert scores.knn_agreement(X, other, n_neighbors=4) == pytest.approx(
        brute_force_knn_agreement(X, other, 4)
    )
    X[:5] = rng.normal(size=(5, 3)) * 10
    assert scores.knn_agreement(X, labels, n_neighbors=4) == pytest.approx(
        brute_force_knn_agreement(X, labels, 4)
    )
    # a seeded subsample, as the other label scores take it
    X, labels = rng.normal(size=(60, 3)), rng.integers(0, 3, 60)
    idx = scores.subsample_index(60, 30, seed=2)
    assert scores.score("knn_agreement", X=X, labels=labels, max_samples=30, seed=2) == (
        pytest.approx(brute_force_knn_agreement(X[idx], labels[idx], scores.KNN_NEIGHBORS))
    )
    # Duplicated rows: the query row is then one of several at distance 0 and need not come
    # first among its neighbours, so dropping column 0 would keep it and drop a copy. Six
    # points on a line, four copies each, labels alternating by point but for copy 0 of
    # point 0: with k = 3 each row's neighbours are exactly its 3 other copies. By hand:
    # point 0's rows agree 0 + 2 + 2 + 2 of 12, the others 12 of 12, a = 66/72; the
    # clusters hold 11 and 13 rows, c = (11^2 + 13^2) / 24^2; kappa = 238/286 = 119/143.
    X = np.c_[np.repeat(np.arange(6.0), 4), np.zeros(24)]
    labels = np.repeat(np.arange(6) % 2, 4)
    labels[0] = 1
    assert brute_force_knn_agreement(X, labels, 3) == pytest.approx(119 / 143, abs=1e-12)
    assert scores.knn_agreement(X, labels, n_neighbors=3) == pytest.approx(119 / 143, abs=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: scores.silhouette(np.zeros(6), np.zeros(6)), r"X must have shape \(n, d\)"),
        (
            lambda: scores.silhouette(np.zeros((6, 2)), np.zeros(5)),
            r"labels must have shape \(6,\), got \(5,\)",
        ),
        (
            lambda: scores.information_maximization(np.ones((4, 1))),
            r"soft assignments must have shape \(n, k\) with k >= 2, got \(4, 1\)",
        ),
        (
            lambda: scores.information_maximization(np.full((1, 2), 0.5)),
            "needs at least 2 samples, got 1",
        ),
        (
            lambda: scores.soft_neighborhood_density(np.full((4, 2), 0.5), temperature=0),
            "temperature must be a number > 0.0 and finite, got 0",
        ),
        (
            lambda: scores.clustering_stability(np.zeros((30, 2)), 2, fraction=1.5),
            r"fraction must be in \(0, 1\], got 1.5",
        ),
        # a string or None failed in a bare comparison naming nothing; True read as 1
        (
            lambda: scores.soft_neighborhood_density(np.full((4, 2), 0.5), temperature="0.05"),
            r"^soft_neighborhood_density: temperature must be a number > 0.0",
        ),
        (
            lambda: scores.soft_neighborhood_density(np.full((4, 2), 0.5), temperature=True),
            r"^soft_neighborhood_density: temperature must be a number > 0.0",
        ),
        (
            lambda: scores.clustering_stability(np.zeros((30, 2)), 2, fraction=None),
            r"^clustering_stability: fraction must be a number > 0.0",
        ),
        (
            lambda: scores.clustering_stability(np.zeros((30, 2)), 2, fraction=True),
            r"^clustering_stability: fraction must be a number > 0.0",
        ),
        (lambda: scores.score("silhouette", X=np.zeros((6, 2))), "needs features X and cluster"),
    ],
)
def test_score_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_collapsed_space_is_refused_by_every_label_score():
    # silhouette gave 0.0 (scikit-learn's 0 / 0), the k-NN agreement a number its rows'
    # order chose (0.0, and -0.035 for the same rows permuted), and select_model and
    # rank_sources chose by them; Calinski-Harabasz and Davies-Bouldin refused already
    X = np.ones((40, 3))
    labels = np.repeat([0, 1], 20)
    for name in ("silhouette", "knn_agreement", "calinski_harabasz", "davies_bouldin"):
        with pytest.raises(ValueError, match=rf"^{name}: .*(same point|same centroid|spread)"):
            getattr(scores, name)(X, labels)
    # no features: the same error as any other shape, not numpy's "zero-size array"
    for name in ("silhouette", "knn_agreement"):
        with pytest.raises(ValueError, match=rf"^{name}: X must have shape \(n, d\) with d >= 1"):
            getattr(scores, name)(np.zeros((20, 0)), np.repeat([0, 1], 10))
    # a spread space is scored as before (silhouette against scikit-learn)
    X = make_blobs(40, centers=2, random_state=0)[0]
    labels = np.repeat([0, 1], 20)
    assert scores.silhouette(X, labels) == pytest.approx(skm.silhouette_score(X, labels))


def test_degenerate_inputs_are_refused_not_scored_best_or_worst():
    """scikit-learn's special cases: Calinski-Harabasz 1.0 (its worst) for clusters without
    spread, Davies-Bouldin 0.0 (its best) for coinciding centroids; SND's NaN temperature;
    stability of data with no structure or of subsamples sharing one row."""
    from dtc.monitor import scores as S

    tight = np.r_[np.zeros((5, 2)), np.ones((5, 2))]
    halves = np.r_[np.zeros(5), np.ones(5)]
    with pytest.raises(ValueError, match="calinski_harabasz: X has no spread within any"):
        S.calinski_harabasz(tight, halves)
    noisy = tight + np.random.default_rng(0).normal(0, 0.01, tight.shape)
    assert S.calinski_harabasz(noisy, halves) > 1000
    with pytest.raises(ValueError, match="davies_bouldin: every cluster of X has the same"):
        S.davies_bouldin(np.zeros((100, 2)), np.repeat([0, 1], 50))
    # The same cases up to the rounding of a mean: (0.1 + 0.1 + 0.1) / 3 is not 0.1 in
    # floats, and the exact tests let them through as 1.1e32 (CH's best) and -6.7e7 (DB's
    # worst).
    inexact = np.repeat([[0.1, 0.7], [0.3, 0.2], [0.9, 0.6]], 3, axis=0)
    with pytest.raises(ValueError, match="calinski_harabasz: X has no spread within any"):
        S.calinski_harabasz(inexact, np.repeat([0, 1, 2], 3))
    X = np.array([[0.1], [0.2], [0.3], [0.0], [0.4], [5.0], [5.1]])
    shared = np.array([0, 0, 0, 1, 1, 2, 2])  # clusters 0 and 1: centroid 0.2 both
    for scale in (10.0, 1.0):
        with pytest.raises(ValueError, match="clusters 0 and 1 of X have the same centroid"):
            S.davies_bouldin(X * scale, shared)
    # a real spread a million times below the data's scale is still a spread
    fine = np.r_[np.zeros((5, 2)), np.ones((5, 2))] + 1e-9 * np.arange(10)[:, None]
    assert S.calinski_harabasz(fine, halves) > 1e12
    probs = np.full((10, 2), 0.5)
    with pytest.raises(ValueError, match="temperature must be a number > 0.0 and finite, got nan"):
        S.soft_neighborhood_density(probs, temperature=float("nan"))
    # inf made every neighbourhood uniform: the best score whatever the assignments
    with pytest.raises(ValueError, match="temperature must be a number > 0.0 and finite, got inf"):
        S.soft_neighborhood_density(probs, temperature=float("inf"))
    with pytest.raises(ValueError, match="X has 1 distinct row"):
        S.clustering_stability(np.zeros((50, 2)), 3)
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(c, 1, (100, 2)) for c in ((0, 0), (8, 8), (8, -8))])
    assert S.clustering_stability(blobs, 3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"share [01] row\(s\); raise fraction"):
        S.clustering_stability(blobs, 3, fraction=0.02)
    for bad in (-5, 2.5, True):
        with pytest.raises(ValueError, match="^silhouette: max_samples: expected None or an int"):
            S.silhouette(blobs, np.repeat([0, 1, 2], 100), max_samples=bad)
        with pytest.raises(ValueError, match="^soft_neighborhood_density: max_samples: expected"):
            S.soft_neighborhood_density(np.full((10, 2), 0.5), max_samples=bad)
    # a subsample too small for the neighbours was reported as the data's size
    with pytest.raises(
        ValueError,
        match=r"got 8 samples .*max_samples=8 rows is too small \(X has 300 samples\)",
    ):
        S.knn_agreement(blobs, np.repeat([0, 1, 2], 100), max_samples=8)


def test_common_space_score_names_missing_spaces_and_rows_apart():
    from dtc.monitor.partition_score import common_space_score

    labels = np.repeat([0, 1], 5)
    with pytest.raises(ValueError, match="spaces: expected at least one feature matrix"):
        common_space_score("silhouette", labels, [])
    with pytest.raises(ValueError, match=r"labels \(10,\) and a space of shape \(9, 2\)"):
        common_space_score("information_maximization", labels, [np.zeros((9, 2))])


def test_nan_or_inf_inputs_are_refused_naming_the_argument():
    """A NaN label was scored by knn_agreement as a cluster whose members never agree (a
    number, no error); non-finite features reached scikit-learn's message, which names no
    score; a cluster_fn of the wrong length was indexed as if it held the subsample."""
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(40, 3)), np.arange(40) % 2
    nan_labels = labels.astype(float)
    nan_labels[:10] = np.nan
    for name in scores.LABEL_SCORES:
        with pytest.raises(ValueError, match=rf"^{name}: labels must be finite.*10 NaN or Inf"):
            scores.score(name, X=X, labels=nan_labels)
        for bad in (np.nan, np.inf):
            Xb = X.copy()
            Xb[3, 1] = bad
            with pytest.raises(ValueError, match=rf"^{name}: X must be finite.* in 1 row"):
                scores.score(name, X=Xb, labels=labels)
    Xb = X.copy()
    Xb[[0, 5], 0] = np.nan
    with pytest.raises(ValueError, match=r"^clustering_stability: X must be finite.* in 2 row"):
        scores.clustering_stability(Xb, 2, cluster_fn=lambda Xs, k, s: np.arange(len(Xs)) % k)
    with pytest.raises(ValueError, match=r"cluster_fn must return labels of shape \(32,\)"):
        scores.clustering_stability(X, 2, cluster_fn=lambda Xs, k, s: np.arange(40) % k)
    P = rng.dirichlet(np.ones(3), 10)
    P[2] = np.nan
    for name in scores.PROB_SCORES:
        with pytest.raises(ValueError, match=rf"^{name}: probs \(soft assignments\) must be fin"):
            scores.score(name, probs=P)
    with pytest.raises(ValueError, match=r"probs .*summing to 1, got .*row sums in \[1, 2\]"):
        scores.information_maximization(np.array([[0.5, 0.5], [1.0, 1.0]]))


def test_nan_or_none_labels_of_an_object_array_are_refused_as_float_ones_are():
    # np.isfinite fails on an object array, so the check passed it: np.unique then made
    # every NaN a cluster of its own, unsorted among the others (knn_agreement gave a
    # number, its chance term from 8 "clusters"), and a None a bare TypeError
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(20, 2)), (np.arange(20) % 2).astype(object)
    for missing in (np.nan, float("inf"), None):
        bad = labels.copy()
        bad[[1, 3, 6]] = missing
        for name in scores.LABEL_SCORES:
            with pytest.raises(ValueError, match=rf"^{name}: labels must be finite.*found 3 NaN"):
                scores.score(name, X=X, labels=bad, max_samples=None)
    named = np.array(["a", "b"] * 10, dtype=object)  # names are ids: scored as 0 / 1
    assert scores.silhouette(X, named, max_samples=None) == scores.silhouette(
        X, np.arange(20) % 2, max_samples=None
    )


def test_common_space_score_checks_the_labels_of_a_soft_assignment_score():
    # the Student-t assignments are built from the labels: a NaN label made a NaN centre,
    # and the error blamed "probs (soft assignments)", which the caller never gave
    from dtc.monitor.partition_score import common_space_score

    X = np.random.default_rng(0).normal(size=(20, 2))
    labels = (np.arange(20) % 2).astype(float)
    labels[4] = np.nan
    name = "information_maximization"
    with pytest.raises(ValueError, match=rf"common_space_score \({name}\): labels must be fin"):
        common_space_score(name, labels, [X])
    with pytest.raises(ValueError, match=rf"\({name}\): needs at least 2 clusters.*1 cluster"):
        common_space_score(name, np.zeros(20), [X])


def textbook_scores(X, labels):
    """Silhouette (Rousseeuw 1987), Calinski-Harabasz (1974) and Davies-Bouldin (1979) from
    their definitions, pair by pair, independent of scikit-learn."""
    names = np.unique(labels)
    n, k = len(X), len(names)
    d = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    sil = []
    for i in range(n):
        own = (labels == labels[i]) & (np.arange(n) != i)
        if not own.any():
            sil.append(0.0)
            continue
        a = d[i, own].mean()
        b = min(d[i, labels == c].mean() for c in names if c != labels[i])
        sil.append((b - a) / max(a, b))
    centres = [X[labels == c].mean(0) for c in names]
    mean = X.mean(0)
    between = sum((labels == c).sum() * ((m - mean) ** 2).sum() for c, m in zip(names, centres))
    within = sum(((X[labels == c] - m) ** 2).sum() for c, m in zip(names, centres))
    ch = (between / (k - 1)) / (within / (n - k))
    spread = [np.sqrt(((X[labels == c] - m) ** 2).sum(1)).mean() for c, m in zip(names, centres)]
    db = np.mean(
        [
            max(
                (spread[i] + spread[j]) / np.sqrt(((centres[i] - centres[j]) ** 2).sum())
                for j in range(k)
                if j != i
            )
            for i in range(k)
        ]
    )
    return float(np.mean(sil)), float(ch), float(db)


def test_feature_scores_match_their_textbook_definitions():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(45, 3)) + np.repeat(np.eye(3) * 3, 15, axis=0)
    labels = rng.permutation(np.repeat([0, 1, 2], 15))
    labels[:15] = np.repeat([0, 1, 2], 15)[:15]  # not a random partition only
    labels[-1] = 3  # a singleton cluster: silhouette 0 by definition
    sil, ch, db = textbook_scores(X, labels)
    assert scores.silhouette(X, labels) == pytest.approx(sil, rel=1e-10)
    assert scores.calinski_harabasz(X, labels) == pytest.approx(ch, rel=1e-10)
    assert scores.davies_bouldin(X, labels) == pytest.approx(-db, rel=1e-7)  # higher is better


def test_davies_bouldin_refuses_two_clusters_with_one_centroid():
    """Davies & Bouldin's ratio of two clusters on one centroid is infinite (0 / 0 without
    spread); scikit-learn counts it 0, so a point split into two clusters scored as well as
    the point kept whole."""
    rng = np.random.default_rng(0)
    X = np.r_[np.zeros((20, 2)), np.full((20, 2), 5.0) + rng.normal(0, 0.1, (20, 2))]
    split = np.r_[np.arange(20) % 2, np.full(20, 2)]
    with pytest.raises(ValueError, match="davies_bouldin: clusters 0 and 1 of X have the same"):
        scores.davies_bouldin(X, split)
    assert np.isfinite(scores.davies_bouldin(X, np.repeat([0, 1], 20)))


def test_davies_bouldin_of_many_clusters_holds_no_pairwise_differences():
    # The equal-centroid check built (k^2 / 2, d) differences: 318 MiB at 800 clusters of
    # 64 features, where scikit-learn's score itself takes 15 MiB. The value is sklearn's.
    import tracemalloc

    X, y = make_blobs(2400, centers=800, n_features=64, random_state=0)
    tracemalloc.start()
    try:
        got = scores.davies_bouldin(X, y, max_samples=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == pytest.approx(-skm.davies_bouldin_score(X, y), rel=1e-12)
    assert peak < 60e6, peak


def test_features_that_are_not_real_numbers_are_named(blobs):
    torch = pytest.importorskip("torch")
    X, y = blobs
    # complex features lost their imaginary parts silently; strings failed in numpy's words
    with pytest.raises(ValueError, match="^silhouette: X must be real numbers, got complex"):
        scores.silhouette(X + 1j, y)
    with pytest.raises(ValueError, match="^knn_agreement: X must be a numeric array"):
        scores.knn_agreement(np.array([["a", "b"]] * len(y)), y)
    with pytest.raises(ValueError, match="^clustering_stability: X must be real numbers"):
        scores.clustering_stability(X + 1j, 3)
    with pytest.raises(
        ValueError, match=r"^information_maximization: probs \(soft assignments\) must be a numeric"
    ):
        scores.information_maximization([["a", "b"]] * 3)
    Xt = torch.tensor(X, requires_grad=True)
    assert scores.silhouette(Xt, torch.tensor(y)) == pytest.approx(scores.silhouette(X, y))
    with pytest.raises(ValueError, match="^davies_bouldin: X: got a tensor on the 'meta' device"):
        scores.davies_bouldin(torch.zeros(len(y), 2, device="meta"), y)


def test_seeds_and_a_collapsed_clusterer_are_refused():
    X, _ = make_blobs(60, centers=3, random_state=0)
    labels = np.arange(60) % 3
    for call, match in [
        # numpy's errors named nothing
        (lambda: scores.silhouette(X, labels, max_samples=30, seed=-1), "silhouette: seed must"),
        (lambda: scores.knn_agreement(X, labels, seed=1.5), "knn_agreement: seed must be"),
        # the default K-means of pair p takes seed + 2p + 1, in scikit-learn's 32 bits
        (
            lambda: scores.clustering_stability(X, 3, n_pairs=2, seed=2**32 - 3),
            r"seed must be an int in \[0, 2\*\*32 - 1 - 3\]",
        ),
        # two one-cluster partitions agree perfectly: it read as 1.0, "perfectly stable"
        (
            lambda: scores.clustering_stability(X, 3, cluster_fn=lambda a, k, s: np.zeros(len(a))),
            "put all 48 rows of a subsample in one cluster",
        ),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_soft_scores_take_half_precision_softmaxes(dtype):
    """A softmax in float16 / bfloat16 sums to 1 within its dtype's rounding (3e-4 and 2e-3
    here), past the 1e-4 float32 meets: it was refused. The rows are renormalised, so the
    score is that of the same rounded probabilities normalised in float64."""
    import torch

    g = torch.Generator().manual_seed(0)
    P = torch.softmax(3 * torch.randn(200, 5, generator=g), 1).to(getattr(torch, dtype))
    sums = P.double().sum(1)
    assert (sums - 1).abs().max() > 1e-4  # the case: past float32's tolerance
    renormalised = (P.double() / sums[:, None]).numpy()
    for score in (scores.information_maximization, scores.soft_neighborhood_density):
        assert score(P) == pytest.approx(score(renormalised), rel=1e-12)
    with pytest.raises(ValueError, match="summing to 1"):  # still a tolerance, not none
        scores.information_maximization((P.double() * 1.05).to(getattr(torch, dtype)))


def _searches(monkeypatch, call) -> int:
    """How many k-NN searches (scikit-learn ``NearestNeighbors.fit``) ``call()`` made."""
    fits, fit = [], NearestNeighbors.fit

    def counted(self, *args, **kwargs):
        fits.append(1)
        return fit(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(NearestNeighbors, "fit", counted)
        call()
    return len(fits)


def test_the_neighbour_cache_is_bounded_in_bytes(monkeypatch):
    """Eight entries whatever their size: full-data calls kept n x 10 int64 each for the
    life of the process. Past the byte budget the oldest go; a graph larger than the budget
    is computed and not kept; the scores are the same either way."""
    monkeypatch.setattr(scores, "_NEIGHBOUR_CACHE", {})
    monkeypatch.setattr(scores, "_NEIGHBOUR_CACHE_BYTES", 3 * 100 * 10 * 8)  # 3 graphs of 100
    X, y = make_blobs(n_samples=100, centers=3, random_state=0)
    values = [scores.knn_agreement(X + shift, y) for shift in range(5)]
    assert len(scores._NEIGHBOUR_CACHE) == 3
    assert sum(v.nbytes for v in scores._NEIGHBOUR_CACHE.values()) <= 3 * 100 * 10 * 8
    # the oldest went: the graphs of shifts 2, 3 and 4 are kept (scored again without a
    # k-NN search), those of shifts 0 and 1 are searched again
    kept = (4, 3, 2)
    assert _searches(monkeypatch, lambda: [scores.knn_agreement(X + s, y) for s in kept]) == 0
    assert _searches(monkeypatch, lambda: scores.knn_agreement(X + 0, y)) == 1
    assert values == [scores.knn_agreement(X + shift, y) for shift in range(5)]
    big, big_y = make_blobs(n_samples=400, centers=3, random_state=0)
    scores.knn_agreement(big, big_y)
    assert all(v.shape[0] == 100 for v in scores._NEIGHBOUR_CACHE.values())
    # eight entries at most, however small: of ten graphs of 30 rows the last eight stay
    monkeypatch.setattr(scores, "_NEIGHBOUR_CACHE", {})
    monkeypatch.setattr(scores, "_NEIGHBOUR_CACHE_BYTES", 2**30)
    for shift in range(10):
        scores.knn_agreement(X[:30] + shift, y[:30])
    assert len(scores._NEIGHBOUR_CACHE) == 8
    last = range(9, 1, -1)
    assert (
        _searches(monkeypatch, lambda: [scores.knn_agreement(X[:30] + s, y[:30]) for s in last])
        == 0
    )


def test_clustering_stability_advises_max_samples_only_where_it_cut_the_rows():
    """ "raise fraction or max_samples" of 10 rows: max_samples (2000) already took them all,
    and raising it changed nothing."""
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"share 1 row\(s\); raise fraction \(got 0.3\)$"):
        scores.clustering_stability(X, 2, fraction=0.3, n_pairs=10)


def test_scores_widen_only_the_subsample_of_float32_features():
    """A float64 copy of all of X preceded a score of a subsample (220 MiB for 400,000 x 64
    float32 rows scored on 2,000). The features are checked in their own dtype and only the
    subsample widened: the same scores as on float64 input."""
    from dtc._validation import real_array

    X, y = make_blobs(n_samples=600, centers=3, n_features=4, random_state=0)
    X32 = X.astype(np.float32)
    assert np.shares_memory(real_array(X32, "s"), X32)
    for score in (scores.silhouette, scores.knn_agreement, scores.davies_bouldin):
        assert score(X32, y, max_samples=200) == score(X32.astype(np.float64), y, max_samples=200)
    with pytest.raises(ValueError, match="X must be finite"):
        bad = X32.copy()
        bad[599, 0] = np.nan  # outside most subsamples: every row is still checked
        scores.silhouette(bad, y, max_samples=200)


def test_clustering_stability_widens_only_the_rows_it_draws():
    # All rows were copied to float64 before max_samples of them were drawn (140 MiB more
    # at 256,000 rows of 64 features, for 500 drawn); the values are those of float64 input
    import tracemalloc

    X, _ = make_blobs(40_000, centers=3, n_features=32, random_state=0)
    X = X.astype(np.float32)
    tracemalloc.start()
    try:
        got = scores.clustering_stability(X, 3, max_samples=300, n_pairs=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes, peak  # a float64 copy is 2 * X.nbytes
    assert got == scores.clustering_stability(X.astype(np.float64), 3, max_samples=300, n_pairs=2)


@pytest.mark.parametrize("name", ["silhouette", "davies_bouldin", "calinski_harabasz"])
def test_partition_scores_do_not_move_with_an_offset_of_the_data(blobs, name):
    # scikit-learn's squared distances (||x||^2 + ||y||^2 - 2 x.y) lost the spread to
    # rounding far from the origin: at 1e8, silhouette 0.163 for 0.150, Davies-Bouldin
    # -0.65 for -6.89; exact silhouette from cdist's distances as the reference
    from scipy.spatial.distance import cdist

    X, y = blobs
    score = getattr(scores, name)
    at_origin = score(X, y, max_samples=None)
    if name == "silhouette":
        exact = skm.silhouette_score(cdist(X, X), y, metric="precomputed")
        assert at_origin == pytest.approx(exact, rel=1e-12)
    for offset in (1e6, 1e8):
        assert score(X + offset, y, max_samples=None) == pytest.approx(at_origin, rel=1e-6)


def test_knn_agreement_does_not_move_with_an_offset_of_the_data():
    # above 15 features scikit-learn's neighbours are brute force, from expanded squared
    # distances: at an offset of 1e8, 0.0255 for 0.786
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 100)
    X = rng.normal(size=(300, 20)) + 0.7 * rng.normal(size=(3, 20))[y]
    at_origin = scores.knn_agreement(X, y, max_samples=None)
    assert scores.knn_agreement(X + 1e8, y, max_samples=None) == pytest.approx(at_origin)


@pytest.mark.parametrize(
    "name", ["davies_bouldin", "calinski_harabasz", "silhouette", "knn_agreement"]
)
@pytest.mark.parametrize("factor, offset", [(1e-9, 1.0), (1e160, 1e168)])
def test_scores_do_not_move_with_units_and_offset_together(name, factor, offset):
    # Small spread far from the origin, centred, was back in small units: Davies-Bouldin's
    # best, -0.0, for the true and a random partition alike (-0.66 and -33.5 at the origin).
    # Large units with an offset overflowed the spread, so they were not centred: k-NN
    # agreement 0.90 for 1.0 (40 features: brute-force neighbours), with an overflow warning.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40))
    X[:100] += 3
    X[100:200] -= 3
    labels = np.repeat([0, 1, 2], 100)
    for y in (labels, rng.permutation(labels)):
        at_origin = scores.score(name, X=X, labels=y)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            moved = scores.score(name, X=factor * X + offset, labels=y)
        assert moved == pytest.approx(at_origin, rel=1e-6)


def test_knn_agreement_refuses_rows_that_coincide_up_to_rounding_far_off():
    # its collapse check took the rounding of the centred data: jitter 1e-8 at 1e8 (below
    # the spacing of floats there) was scored as neighbourhoods (0.057), where the other
    # scores refuse it
    rng = np.random.default_rng(0)
    X = 1e8 + 1e-8 * rng.normal(size=(300, 3))
    with pytest.raises(ValueError, match="knn_agreement: every scored row of X is the same"):
        scores.knn_agreement(X, np.repeat([0, 1, 2], 100))


def test_clusters_that_coincide_up_to_rounding_far_off_are_still_refused():
    # Centred first, the far-off rounding residue (jitter 1e-8 at 1e8) read as real
    # spread, and coinciding clusters scored Calinski-Harabasz 7.6e18, the best there is
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    X = 1e8 + 10.0 * y[:, None] + 1e-8 * rng.normal(size=(40, 2))
    with pytest.raises(ValueError, match="calinski_harabasz: X has no spread within any cluster"):
        scores.calinski_harabasz(X, y, max_samples=None)


@pytest.mark.parametrize("max_samples", [0, -1])
def test_subsample_index_refuses_a_max_samples_below_one(max_samples):
    # documented: None or an int >= 1; 0 drew an empty subsample
    with pytest.raises(ValueError, match=r"^silhouette: max_samples: expected None or an int >= 1"):
        scores.subsample_index(5, max_samples, name="silhouette")


def test_soft_scores_refuse_negative_probabilities_whose_rows_sum_to_one():
    # rows summing to 1 are not enough: (1.5, -0.5) is no distribution
    P = np.array([[1.5, -0.5], [0.5, 0.5], [0.2, 0.8]])
    assert np.allclose(P.sum(1), 1.0)
    for name in scores.PROB_SCORES:
        with pytest.raises(ValueError, match=f"^{name}: .*must be non-negative rows summing to 1"):
            scores.score(name, probs=P)


def test_stability_refuses_as_many_distinct_rows_as_clusters():
    # 3 distinct points, each repeated: K-means into 3 clusters finds them every time (ARI 1)
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 10, axis=0)
    with pytest.raises(ValueError, match=r"X has 3 distinct row\(s\), not more than n_clusters=3"):
        scores.clustering_stability(X, 3)
    # one distinct row more is something to be stable about
    X4 = np.vstack([X, [[5.0, 5.0]] * 10])
    assert scores.clustering_stability(X4, 3, n_pairs=1) <= 1.0


def test_stability_draws_its_rows_from_the_seeded_subsample():
    # the subsample of max_samples rows is drawn with `seed` (the docstring's "seeded
    # subsample"), not one fixed draw for every seed
    n, max_samples, seed = 200, 20, 3
    X = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    seen = set()

    def cluster_fn(Xs, k, s):
        seen.update(Xs[:, 0].astype(int).tolist())
        return (Xs[:, 0] > np.median(Xs[:, 0])).astype(int)

    scores.clustering_stability(
        X, 2, cluster_fn=cluster_fn, max_samples=max_samples, seed=seed, n_pairs=3
    )
    expected = set(scores.subsample_index(n, max_samples, seed).tolist())
    assert expected != set(scores.subsample_index(n, max_samples, 0).tolist())
    assert seen <= expected and len(seen) > max_samples // 2


def test_stability_default_k_means_takes_the_seeds_of_each_pair(monkeypatch):
    # the default K-means of pair p is seeded seed + 2p and seed + 2p + 1, as a cluster_fn is
    seeds = []

    real = scores.KMeans

    def recording_kmeans(n_clusters, **kwargs):
        seeds.append(kwargs["random_state"])
        return real(n_clusters, **kwargs)

    monkeypatch.setattr(scores, "KMeans", recording_kmeans)
    X = np.random.default_rng(0).normal(size=(60, 2))
    scores.clustering_stability(X, 3, n_pairs=2, seed=7)
    assert seeds == [7, 8, 9, 10]


def test_every_score_names_its_paper_and_davies_bouldin_its_sign(blobs):
    # help() of the three feature scores showed only "silhouette of labels (n,) on
    # features X (n, d) (higher is better)": no paper, and for Davies-Bouldin, whose index
    # is better lower, not that the value is its negation
    import re

    named = {**scores.LABEL_SCORES, **scores.PROB_SCORES, "stability": scores.clustering_stability}
    for name, fn in named.items():
        assert re.search(r"\b(19|20)\d\d\b", fn.__doc__), name
    assert scores.davies_bouldin.__doc__.startswith("Minus the Davies-Bouldin index")
    X, y = blobs
    assert scores.davies_bouldin(X, y, max_samples=None) == pytest.approx(
        -skm.davies_bouldin_score(X, y)
    )
