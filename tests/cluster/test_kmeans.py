"""K-means and GMM back ends against scikit-learn on the same input, and bad input."""

import os
import warnings
from importlib import import_module

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted

from dtc.cluster import KMeans, assign_nearest, gmm, kmeans

# The function dtc.cluster.kmeans shadows the submodule of the same name.
kmeans_module = import_module("dtc.cluster.kmeans")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(600, n_features=5, centers=4, cluster_std=1.0, random_state=0)
    return X.astype(np.float32), y


def test_kmeans_matches_sklearn_on_same_input(blobs):
    X, y = blobs
    labels, centers, inertia = kmeans(X, 4, n_init=5, seed=3)
    ref = SkKMeans(4, n_init=5, random_state=3, algorithm="lloyd").fit(X)
    assert labels.shape == (600,) and labels.dtype == np.int64
    assert centers.shape == (4, 5) and centers.dtype == np.float32
    np.testing.assert_array_equal(labels, ref.labels_)
    np.testing.assert_allclose(inertia, ref.inertia_, rtol=1e-5)
    assert adjusted_rand_score(y, labels) == 1.0


def test_inertia_and_labels_are_consistent_with_centers(blobs):
    X, _ = blobs
    labels, centers, inertia = kmeans(X, 4, seed=0)
    # Independent recomputation: nearest centre by brute force in float64.
    d2 = ((X[:, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, d2.argmin(1))
    np.testing.assert_allclose(inertia, d2.min(1).sum(), rtol=1e-4)
    lab2, sq = assign_nearest(X, centers)
    np.testing.assert_array_equal(lab2, labels)
    np.testing.assert_allclose(sq, d2.min(1), rtol=1e-3, atol=1e-3)


def test_given_init_keeps_centre_index(blobs):
    X, y = blobs
    means = np.stack([X[y == c].mean(0) for c in range(4)])
    perm = np.array([2, 0, 3, 1])
    labels, centers, _ = kmeans(X, 4, init=means[perm], seed=0)
    # Centre c started at class perm[c]'s mean and still stands for that class.
    np.testing.assert_array_equal(perm[labels], y)
    np.testing.assert_allclose(centers, means[perm], atol=1e-4)


def test_seeded_and_deterministic(blobs):
    X, _ = blobs
    a = kmeans(X, 4, init="random", n_init=2, seed=7)
    b = kmeans(X, 4, init="random", n_init=2, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_restarts_on_subsample_above_threshold(monkeypatch):
    # Shrink the thresholds so the subsampled-restart path runs on a small problem.
    monkeypatch.setattr(kmeans_module, "SUBSAMPLE_RESTARTS_ABOVE", 500)
    monkeypatch.setattr(kmeans_module, "RESTART_SUBSAMPLE", 300)
    X, _y = make_blobs(2000, n_features=3, centers=5, random_state=1)
    labels, _centers, inertia = kmeans(X, 5, n_init=4, seed=0)
    ref = SkKMeans(5, n_init=4, random_state=0).fit(X.astype(np.float32))
    # Same optimum as full-data restarts: identical partition and inertia.
    assert adjusted_rand_score(ref.labels_, labels) == 1.0
    np.testing.assert_allclose(inertia, ref.inertia_, rtol=1e-4)


def test_restarts_subsample_keeps_rows_for_every_cluster(monkeypatch):
    # a subsample of fewer rows than clusters: scikit-learn's "n_samples=300 should be >=
    # n_clusters=400", of a sample size the caller never gave
    monkeypatch.setattr(kmeans_module, "SUBSAMPLE_RESTARTS_ABOVE", 500)
    monkeypatch.setattr(kmeans_module, "RESTART_SUBSAMPLE", 300)
    X = np.random.default_rng(0).normal(size=(5000, 2))
    labels, centers, _ = kmeans(X, 400, n_init=2, max_iter=5, seed=0)
    assert centers.shape == (400, 2) and np.unique(labels).size == 400


def test_estimator_fit_predict(blobs):
    X, _y = blobs
    est = KMeans(4, n_init=3, seed=0)
    assert est.get_params()["n_clusters"] == 4
    labels = est.fit_predict(X)
    np.testing.assert_array_equal(est.predict(X), labels)
    assert est.cluster_centers_.shape == (4, 5) and est.inertia_ > 0
    with pytest.raises(ValueError, match="call fit first"):
        KMeans(2).predict(X)


def test_estimator_follows_the_scikit_learn_contract(blobs):
    X, _ = blobs
    with pytest.raises(NotFittedError, match="call fit first"):
        KMeans(2).predict(X)
    est = KMeans(4, n_init=1, seed=0).fit(X)
    assert est.n_features_in_ == 5
    # New rows of the wrong width: X is named, not the fitted centres.
    with pytest.raises(ValueError, match=r"X: expected 5 features \(as in fit\), got 3"):
        est.predict(X[:, :3])
    assert check_is_fitted(est) is None
    # clone: the same parameters, unfitted; fit returns self, and fit_predict is its labels_
    twin = clone(est)
    assert (
        twin.get_params()
        == est.get_params()
        == KMeans().set_params(**est.get_params()).get_params()
    )
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
    assert twin.fit(X) is twin
    np.testing.assert_array_equal(clone(est).fit_predict(X), est.labels_)
    # a refused refit is no fit: the previous labels and centres looked fitted
    with pytest.raises(ValueError):
        est.set_params(n_clusters=len(X) + 1).fit(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.fixture(scope="module")
def faiss_or_skip():
    """Skips a faiss test where faiss is not installed (it is optional), but fails it under CI
    (``CI`` set, where ``make venv`` installs faiss): CI never passes by skipping the faiss
    path."""
    if not kmeans_module.faiss_available():
        if os.environ.get("CI"):
            pytest.fail("CI is set but faiss cannot be imported; run `make venv`")
        pytest.skip("faiss is not installed (optional; `make venv` installs faiss-cpu)")


def test_faiss_backend_missing_is_a_clear_error(blobs, monkeypatch):
    monkeypatch.setattr(kmeans_module, "faiss_available", lambda: False)
    with pytest.raises(ImportError, match="faiss"):
        kmeans(blobs[0], 4, backend="faiss")


def test_faiss_takes_every_seed_check_seed_takes(blobs, faiss_or_skip):
    # faiss's seed is a C int: 2**31 and up raised OverflowError (a large target's final
    # clustering under backend="auto", after DTC had trained); below, the draws are as before
    X = blobs[0]
    low = kmeans(X, 4, backend="faiss", seed=2**31 - 1)
    for seed in (2**31, 2**32 - 1):
        labels, _, inertia = kmeans(X, 4, backend="faiss", seed=seed)
        assert adjusted_rand_score(low[0], labels) == 1.0 and inertia == pytest.approx(low[2])


def test_faiss_backend_finds_the_blobs(blobs, faiss_or_skip):
    X, y = blobs
    labels, centers, inertia = kmeans(X, 4, backend="faiss", n_init=3, seed=0)
    assert adjusted_rand_score(y, labels) == 1.0
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(-1)
    np.testing.assert_allclose(inertia, d2.min(1).sum(), rtol=1e-3)


def test_faiss_and_sklearn_reach_the_same_fixed_point_from_one_init(faiss_or_skip):
    """Both back ends run Lloyd's iterations on all points from the same centres: on
    overlapping clusters (where the fixed point depends on the start) they end at the same
    partition, with row ``c`` of the centres the one that started at ``init[c]``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8)).astype(np.float32)
    X[:1000] += 1.5
    X[1000:2000, 0] -= 2.0
    init = X[[5, 1500, 2500, 10]]
    ref = kmeans(X, 4, init=init, backend="sklearn", max_iter=300, tol=0.0)
    got = kmeans(X, 4, init=init, backend="faiss", max_iter=300, tol=0.0)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1], atol=1e-4)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-5)
    # The start decides the fixed point here: another init ends elsewhere.
    other = kmeans(X, 4, init=X[[0, 1, 2, 3]], backend="sklearn", max_iter=300, tol=0.0)
    assert not np.array_equal(other[0], ref[0])


def test_faiss_matches_sklearn_on_features_with_an_offset(faiss_or_skip):
    """K-means is translation-equivariant; faiss, run on the raw float32 data, was not:
    three blobs of N(0, 0.2) 1 apart, shifted by 1e5 (0.008 resolution in float32), had
    faiss centres 0.66 off and an inertia 2.3 times scikit-learn's, from the same init."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 3000)
    X = (rng.normal(size=(3000, 8)) * 0.2 + np.eye(8)[y] + 1e5).astype(np.float32)
    init = X[[np.flatnonzero(y == c)[0] for c in range(3)]]
    ref = kmeans(X, 3, init=init, backend="sklearn")
    got = kmeans(X, 3, init=init, backend="faiss")
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1], atol=0.02)  # float32 resolution is 0.008
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_clusters": 601}, "n_clusters=601"),
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": 2.5}, "n_clusters"),
        ({"init": "kmeans"}, "init"),
        ({"init": np.zeros((3, 5))}, r"init: expected an array of shape"),
        ({"n_init": 0}, "n_init"),
        ({"max_iter": -1}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"seed": -3}, "seed"),
        ({"backend": "gpu"}, "backend"),
    ],
)
def test_kmeans_bad_arguments(blobs, kwargs, match):
    X, _ = blobs
    args = {"n_clusters": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        kmeans(X, args.pop("n_clusters"), **args)


def test_kmeans_bad_X():
    X = np.ones((10, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X: expected finite"):
        kmeans(X, 2)
    with pytest.raises(ValueError, match="X: expected a 2-d"):
        kmeans(np.ones(10), 2)
    with pytest.raises(ValueError, match="centers: expected 2 columns"):
        assign_nearest(np.ones((4, 2)), np.ones((2, 3)))


@pytest.mark.parametrize("exponent", [-100, 70])
def test_kmeans_is_exact_at_scales_where_float32_squared_distances_fail(blobs, exponent):
    # Features ~1e-30: float32 squared distances underflow to 0 and every point was put
    # in one cluster; ~1e21: they overflow. Scaled by a power of two (exact), the result
    # is the unscaled one, scaled.
    X, _ = blobs
    labels, centers, inertia = kmeans(X, 4, n_init=3, seed=1)
    Xs = np.ldexp(X, exponent)
    got_labels, got_centers, got_inertia = kmeans(Xs, 4, n_init=3, seed=1)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(got_centers, np.ldexp(centers, exponent))
    assert got_inertia == pytest.approx(np.ldexp(inertia, 2 * exponent), rel=1e-6)
    got_init = kmeans(Xs, 4, init=np.ldexp(centers, exponent))
    np.testing.assert_array_equal(got_init[0], labels)
    near, sq = assign_nearest(Xs, got_centers)
    np.testing.assert_array_equal(near, labels)
    np.testing.assert_allclose(sq, np.ldexp(assign_nearest(X, centers)[1], 2 * exponent))


def test_gmm_matches_sklearn(blobs):
    X, y = blobs
    labels, resp = gmm(X, 4, covariance_type="diag", seed=0)
    ref = GaussianMixture(4, covariance_type="diag", random_state=0).fit(X.astype(np.float64))
    np.testing.assert_allclose(resp, ref.predict_proba(X.astype(np.float64)), atol=1e-8)
    np.testing.assert_allclose(resp.sum(1), 1.0)
    np.testing.assert_array_equal(labels, ref.predict(X.astype(np.float64)))
    assert adjusted_rand_score(y, labels) == 1.0


def test_gmm_means_init_keeps_component_index(blobs):
    X, y = blobs
    means = np.stack([X[y == c].mean(0) for c in range(4)])
    labels, _, model = gmm(X, 4, means_init=means[::-1], return_model=True)
    np.testing.assert_array_equal(3 - labels, y)
    assert model.converged_


def _anisotropic(seed=16, n=150):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 0.5], [0.5, 4.0], [4.0, 4.0]])
    shapes = [np.array([[2.5, 0.0], [0.0, 0.2]]), np.array([[0.2, 0.0], [0.0, 2.5]])]
    X = np.vstack([rng.normal(size=(n, 2)) @ shapes[c % 2] + centres[c] for c in range(4)])
    return X, np.repeat(np.arange(4), n), centres


def test_gmm_from_means_does_not_depend_on_their_order():
    # scikit-learn's means_init kept the weights and covariances of its own K-means run,
    # whose cluster c is any of them: the partition changed with the order of the means.
    import itertools

    X, y, centres = _anisotropic()
    found = set()
    for perm in itertools.permutations(range(4)):
        labels, _ = gmm(X, 4, means_init=centres[list(perm)], seed=0)
        found.add(tuple(np.asarray(perm)[labels]))  # back to the order of `centres`
    assert len(found) == 1
    assert np.mean(np.array(found.pop()) == y) > 0.8


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_start_from_means_is_em_m_step_of_the_nearest_mean_assignment(covariance_type):
    # The M-step on the one-hot nearest-mean responsibilities with the means held at the
    # given ones: "full" by scikit-learn's own (its loop centres on the means it is given),
    # the others by hand (scikit-learn's formulas for them assume the rows' own means)
    from sklearn.mixture import _gaussian_mixture as sk

    from dtc.cluster.gmm import start_from_means

    X, _, centres = _anisotropic(n=40)
    resp = np.eye(4)[((X[:, None] - centres[None]) ** 2).sum(-1).argmin(1)]
    nk = resp.sum(0)
    if covariance_type == "full":
        covariances = sk._estimate_gaussian_covariances_full(resp, X, nk, centres, 1e-6)
    elif covariance_type == "tied":
        scatter = sum((X - m).T @ ((X - m) * r[:, None]) for m, r in zip(centres, resp.T))
        covariances = scatter / len(X) + 1e-6 * np.eye(X.shape[1])
    else:
        diag = np.stack([r @ (X - m) ** 2 / n for m, r, n in zip(centres, resp.T, nk)]) + 1e-6
        covariances = diag if covariance_type == "diag" else diag.mean(1)
    chol = sk._compute_precision_cholesky(covariances, covariance_type)
    if covariance_type == "full":
        expected = np.einsum("kij,klj->kil", chol, chol)
    elif covariance_type == "tied":
        expected = chol @ chol.T
    else:
        expected = chol**2
    weights, precisions = start_from_means(X, centres, covariance_type, 1e-6)
    np.testing.assert_allclose(weights, nk / nk.sum())
    np.testing.assert_allclose(precisions, expected, rtol=1e-8)


def test_start_from_means_assigns_many_rows_in_blocks_as_at_once():
    """The nearest mean of 6,000 rows of 100 features to 10 means spans two blocks of rows
    (the (n, k, d) differences at once were 1.9 GiB at 32,000 x 800): the same assignment,
    so the same start, as the one-shot formula's M-step (around the given means)."""
    from dtc.cluster.gmm import start_from_means

    rng = np.random.default_rng(0)
    X, means = rng.normal(size=(6000, 100)), rng.normal(size=(10, 100))
    resp = np.eye(10)[((X[:, None] - means[None]) ** 2).sum(-1).argmin(1)]
    nk = resp.sum(0)
    variances = np.stack([r @ (X - m) ** 2 / n for m, r, n in zip(means, resp.T, nk)]) + 1e-6
    weights, precisions = start_from_means(X, means, "diag", 1e-6)
    np.testing.assert_allclose(weights, nk / nk.sum())
    np.testing.assert_allclose(precisions, 1 / variances, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_start_from_means_of_wide_data_holds_no_covariance_per_component(covariance_type):
    # k (d, d) covariances were built for every type: 1.4 GiB at k = 10, d = 3,000 for a
    # start that keeps (k, d) variances ("diag"). Here k copies would be 28.8 MB, one 2.9 MB.
    import tracemalloc

    from dtc.cluster.gmm import start_from_means

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 600))
    means = X[:10].copy()
    means[9] += 100.0  # no row is nearest: the component takes the covariance of all rows
    tracemalloc.start()
    try:
        weights, precisions = start_from_means(X, means, covariance_type, 1e-3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # one (d, d) matrix is 2.9 MB: "tied" keeps a few (scatter, sum, inverse), never k
    # (old code: 55 MB for every type; now 14 MB tied, 2 MB diag / spherical)
    assert peak < (24e6 if covariance_type == "tied" else 4e6), peak
    labels = ((X[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    counts = np.maximum(np.bincount(labels, minlength=10), 1)  # an empty one counts as a row
    assert counts[9] == 1
    # each component's rows around its given mean; the empty one all rows around theirs
    own = [(X[labels == c], means[c]) if counts[c] > 1 else (X, X.mean(0)) for c in range(10)]
    if covariance_type == "tied":
        # EM's within-component scatter pooled over the rows
        scatter = sum(
            n * (r - m).T @ (r - m) / len(r) for n, (r, m) in zip(counts, own, strict=True)
        )
        expected = np.linalg.inv(scatter / counts.sum() + 1e-3 * np.eye(600))
        np.testing.assert_allclose(precisions, expected, rtol=1e-7, atol=1e-9)
    else:
        variances = np.stack([((r - m) ** 2).mean(0) for r, m in own]) + 1e-3
        expected = 1 / variances if covariance_type == "diag" else 1 / variances.mean(1)
        np.testing.assert_allclose(precisions, expected, rtol=1e-12)
    np.testing.assert_allclose(weights, counts / counts.sum())


def test_gmm_from_means_of_clusters_with_fewer_rows_than_dimensions():
    # 40 rows of 64 dimensions a cluster: the rank-deficient scatter plus reg_covar has an
    # inverse of entries ~1e6 whose rounding left it asymmetric by 1e-10 (relative), and
    # scikit-learn refused the start ("'full precision' should be symmetric, positive-
    # definite") although its smallest eigenvalue was 0.18; its own K-means start fit.
    from sklearn.datasets import make_blobs

    from dtc.cluster.gmm import start_from_means

    X, y = make_blobs(2000, centers=50, n_features=64, random_state=0)
    means = np.stack([X[y == c].mean(0) for c in range(50)])
    _, precisions = start_from_means(X, means, "full", 1e-6)
    np.testing.assert_array_equal(precisions, np.swapaxes(precisions, 1, 2))
    labels, _ = gmm(X, 50, means_init=means, seed=0)
    assert adjusted_rand_score(y, labels) == 1.0


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_gmm_from_means_does_not_depend_on_the_features_units(covariance_type):
    # reg_covar is absolute: at features of 1e5 a component of 10 rows in 8 dimensions has
    # a scatter of ~1e10 that swallows it, the start's precision was numerically singular,
    # and scikit-learn refused it ("should be symmetric, positive-definite"; "leading
    # minor not positive definite") while the same data in units of 1e5 fit.
    from dtc.cluster.gmm import _precisions

    X = np.random.default_rng(0).normal(size=(40, 8))
    small, _ = gmm(X, 4, means_init=X[:4], covariance_type=covariance_type)
    large, _ = gmm(X * 1e5, 4, means_init=X[:4] * 1e5, covariance_type=covariance_type)
    np.testing.assert_array_equal(large, small)
    # a singular covariance: inverted through its eigenvalues floored at d eps times the
    # largest (a closed form); a regular one exactly as numpy's inverse, as before
    A = np.random.default_rng(1).normal(size=(3, 8)) * 1e5
    C = A.T @ A / 3 + 1e-6 * np.eye(8)
    vals, vecs = np.linalg.eigh(C)
    floored = np.maximum(vals, vals[-1] * 8 * np.finfo(np.float64).eps)
    want = (vecs / floored) @ vecs.T
    got = _precisions(np.stack([C, np.eye(8) * 2.0]))
    np.testing.assert_allclose(got[0], (want + want.T) / 2, rtol=1e-12)
    np.testing.assert_array_equal(got[1], np.eye(8) / 2.0)
    np.testing.assert_allclose(_precisions(C), got[0], rtol=1e-12)
    # an exactly singular one (two rows in two dimensions at 1e6: the ridge lost in
    # rounding) failed in numpy's inv ("Singular matrix") before the floor was reached
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(40, 2)), rng.normal(size=(2, 2)) * 0.3 + 6])
    small, _ = gmm(X, 2, means_init=X[[0, 40]], covariance_type=covariance_type)
    large, _ = gmm(X * 1e6, 2, means_init=X[[0, 40]] * 1e6, covariance_type=covariance_type)
    np.testing.assert_array_equal(large, small)


def test_squared_differences_in_blocks_are_the_one_shot_formulas_bit_for_bit():
    from dtc.cluster.kmeans import squared_differences

    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(300, 64)), rng.normal(size=(1000, 64))  # blocks of 65 rows
    np.testing.assert_array_equal(squared_differences(A, B), ((A[:, None] - B[None]) ** 2).sum(-1))
    np.testing.assert_allclose(squared_differences(A, B), cdist(A, B, "sqeuclidean"), rtol=1e-12)
    assert squared_differences(A[:0], B).shape == (0, 1000)


def test_gmm_under_the_callers_floating_point_errors_setting(blobs):
    # np.seterr(all="raise") (a debugging habit) made scikit-learn's EM raise
    # FloatingPointError on the harmless underflow of exp of very negative log-densities.
    X, _ = blobs
    far = X + np.where(np.arange(len(X)) % 2, 50.0, 0.0)[:, None]
    want = gmm(far, 4, seed=0)
    with np.errstate(all="raise"):
        got = gmm(far, 4, seed=0)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_gmm_says_when_components_hold_no_row():
    # Two means far from every row: EM leaves their components empty, and 5 clusters asked
    # came back as 3 with no word (DTC(clusterer="gmm") at k near n / 3 gave 7 of 20).
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(30, 2)) * 0.1 + c for c in ([0, 0], [3, 0], [0, 3])])
    means = np.array([[0, 0], [3, 0], [0, 3], [100, 100], [-100, 100.0]])
    with pytest.warns(UserWarning, match="gmm: the rows fall in 3 of the 5 clusters"):
        labels, _ = gmm(X, 5, means_init=means, seed=0)
    np.testing.assert_array_equal(np.bincount(labels, minlength=5), [30, 30, 30, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gmm(X, 3, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 1000}, "n_components=1000"),
        ({"covariance_type": "banded"}, "covariance_type"),
        # dtc's own message: scikit-learn's parameter check would name reg_covar too
        ({"reg_covar": -1.0}, "reg_covar: expected a non-negative float, got -1.0"),
        ({"means_init": np.zeros((2, 5))}, "means_init"),
    ],
)
def test_gmm_bad_arguments(blobs, kwargs, match):
    X, _ = blobs
    args = {"n_components": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        gmm(X, args.pop("n_components"), **args)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", ["spherical", "tied"])
def test_gmm_passes_every_em_setting_to_sklearn(covariance_type):
    # Structureless data and 3 EM steps: the restarts, the seed, the iteration cap and the
    # covariance regulariser all change the result here (unlike on separated blobs), so
    # each must reach scikit-learn as given.
    X = np.random.default_rng(0).uniform(size=(200, 3))
    settings = {"n_init": 3, "max_iter": 3, "reg_covar": 0.05}
    labels, resp = gmm(X, 4, covariance_type=covariance_type, seed=7, **settings)
    ref = GaussianMixture(4, covariance_type=covariance_type, random_state=7, **settings).fit(X)
    np.testing.assert_allclose(resp, ref.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(labels, ref.predict(X))


def test_gmm_takes_a_numpy_reg_covar(blobs):
    X, _ = blobs
    a = gmm(X, 4, covariance_type="diag", reg_covar=np.float32(1e-6), seed=0)[0]
    np.testing.assert_array_equal(a, gmm(X, 4, covariance_type="diag", reg_covar=1e-6, seed=0)[0])
    with pytest.raises(ValueError, match="reg_covar: expected a non-negative float"):
        gmm(X, 4, reg_covar=float("nan"), seed=0)


def test_one_thread_limit_at_a_time_so_two_threads_restore_the_callers():
    # threadpoolctl's limits are the process's: a second thread entering while the first
    # held its limit saved "1" as the limit to restore, and the session kept one BLAS
    # thread for good. The second now waits for the first.
    import threading

    from threadpoolctl import threadpool_info

    from dtc.cluster.kmeans import limit_threads

    def counts():
        return [lib["num_threads"] for lib in threadpool_info()]

    def first():
        with limit_threads(True):
            inside.set()
            leave.wait(10)

    def second():
        with limit_threads(True):
            pass

    before = counts()
    inside, leave = threading.Event(), threading.Event()
    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    inside.wait(10)
    b.start()
    b.join(timeout=0.3)
    assert b.is_alive()  # waiting for the first thread's limit to end
    leave.set()
    a.join(10)
    b.join(10)
    assert not b.is_alive() and counts() == before


def test_as_many_clusters_as_samples_is_allowed():
    # the documented range is 1 <= n_clusters <= n: each row its own cluster
    X = np.arange(10, dtype=np.float32).reshape(5, 2) ** 2
    labels, centers, inertia = kmeans(X, 5, n_init=1, seed=0)
    assert sorted(labels.tolist()) == [0, 1, 2, 3, 4] and inertia == 0.0
    np.testing.assert_array_equal(centers[labels], X)


def test_a_seed_past_the_documented_range_is_refused_by_name(blobs):
    X, _ = blobs
    kmeans(X[:50], 2, n_init=1, seed=2**32 - 1)  # the largest seed is taken
    with pytest.raises(ValueError, match=r"seed: expected an int in \[0, 2\*\*32 - 1\]"):
        kmeans(X[:50], 2, n_init=1, seed=2**32)


def test_auto_backend_uses_faiss_from_faiss_min_samples_on(monkeypatch):
    # "auto" is faiss from FAISS_MIN_SAMPLES samples on: at exactly that many, not after
    calls = []

    def fake_faiss(X, k, init, max_iter, seed):
        calls.append(X.shape[0])
        return np.zeros(X.shape[0], np.int64), np.asarray(init, np.float32), 0.0

    monkeypatch.setattr(kmeans_module, "FAISS_MIN_SAMPLES", 40)
    monkeypatch.setattr(kmeans_module, "faiss_available", lambda: True)
    monkeypatch.setattr(kmeans_module, "_faiss_kmeans", fake_faiss)
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    kmeans(X[:39], 2, n_init=1, seed=0)
    assert calls == []
    kmeans(X, 2, n_init=1, seed=0)
    assert calls == [40]


def test_restarts_run_on_a_subsample_only_above_subsample_restarts_above(monkeypatch):
    # "more than SUBSAMPLE_RESTARTS_ABOVE samples": at exactly that many, all rows
    sizes = []
    run = kmeans_module._run

    def spy(X, *args, **kwargs):
        sizes.append(X.shape[0])
        return run(X, *args, **kwargs)

    monkeypatch.setattr(kmeans_module, "SUBSAMPLE_RESTARTS_ABOVE", 60)
    monkeypatch.setattr(kmeans_module, "RESTART_SUBSAMPLE", 30)
    monkeypatch.setattr(kmeans_module, "_run", spy)
    X = np.random.default_rng(0).normal(size=(61, 3)).astype(np.float32)
    kmeans(X[:60], 2, n_init=3, seed=0)
    assert sizes == [60]
    sizes.clear()
    kmeans(X, 2, n_init=3, seed=0)
    assert sizes == [30, 61]


def test_an_init_array_ignores_n_init_without_a_warning(blobs):
    # one run from the given centres, n_init ignored (scikit-learn warns when given both)
    X, y = blobs
    means = np.stack([X[y == c].mean(0) for c in range(4)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels, _, _ = kmeans(X, 4, init=means, n_init=10, seed=0)
    assert labels.shape == (600,)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_start_from_means_gives_a_one_row_component_the_covariance_of_all_rows(covariance_type):
    # "A component with fewer than two rows takes the covariance of all of X": one row's
    # own scatter is 0, a spike of reg_covar
    from dtc.cluster.gmm import start_from_means

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(30, 2)) * [1.0, 3.0], [[50.0, 50.0]]])
    means = np.array([[0.0, 0.0], [50.0, 50.0]])
    weights, precisions = start_from_means(X, means, covariance_type, 1e-6)
    np.testing.assert_allclose(weights, [30 / 31, 1 / 31])
    overall = np.cov(X.T, bias=True) + 1e-6 * np.eye(2)
    if covariance_type == "full":
        np.testing.assert_allclose(precisions[1], np.linalg.inv(overall), rtol=1e-8)
    elif covariance_type == "diag":
        np.testing.assert_allclose(precisions[1], 1 / np.diag(overall), rtol=1e-8)
    elif covariance_type == "spherical":
        np.testing.assert_allclose(precisions[1], 1 / np.diag(overall).mean(), rtol=1e-8)
    else:  # tied: the pooled scatter, the one-row component weighing in as all of X
        first = X[:30] - means[0]  # around the component's given mean
        pooled = (first.T @ first + np.cov(X.T, bias=True)) / 31 + 1e-6 * np.eye(2)
        np.testing.assert_allclose(precisions, np.linalg.inv(pooled), rtol=1e-8)
