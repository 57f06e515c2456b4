"""Discrepancy measures: MMD permutation test, CORAL distance, proxy A-distance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist, pdist

from dtc.align.discrepancy import coral_distance, mmd_permutation_test, proxy_a_distance


def _gauss(n, d=3, shift=0.0, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


def _numpy_mmd2_biased(x, y, sigma):
    k = lambda a, b: np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma**2))  # noqa: E731
    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


# --- MMD permutation test -----------------------------------------------------------------


def test_mmd_statistic_and_median_bandwidth_match_numpy():
    x, y = _gauss(15), _gauss(12, shift=0.5, seed=1)
    result = mmd_permutation_test(x, y, estimator="biased", n_permutations=5)
    pooled_sq = pdist(np.vstack([x, y]), "sqeuclidean")
    # torch.median takes the lower median of an even count.
    expected_sigma = np.sqrt(np.sort(pooled_sq)[(len(pooled_sq) - 1) // 2] / 2)
    assert result.sigma == pytest.approx(expected_sigma, rel=1e-12)
    assert result.statistic == pytest.approx(_numpy_mmd2_biased(x, y, expected_sigma), rel=1e-9)


def test_mmd_p_value_matches_exact_enumeration():
    # 4 + 4 points: all 70 splits enumerated give the exact permutation p-value, which
    # the Monte Carlo estimate must approach (its sd here is below 0.025).
    x, y = _gauss(4, seed=2), _gauss(4, shift=0.8, seed=3)
    result = mmd_permutation_test(x, y, estimator="biased", n_permutations=400, sigma=1.0)
    pooled = np.vstack([x, y])
    observed = _numpy_mmd2_biased(x, y, 1.0)
    splits = [
        _numpy_mmd2_biased(pooled[list(c)], np.delete(pooled, list(c), axis=0), 1.0)
        for c in itertools.combinations(range(8), 4)
    ]
    exact = np.mean(np.array(splits) >= observed - 1e-12)
    assert 0.05 < exact < 0.95  # an informative case, not a floor or ceiling
    assert result.p_value == pytest.approx(exact, abs=0.075)


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_p_value_is_the_count_over_the_seeded_permutations_by_numpy(estimator):
    # The same splits replayed from the documented stream (no subsampling below
    # max_samples: the permutations are the generator's first draws), each statistic
    # recomputed by NumPy: the p-value is (1 + #{permuted >= observed}) / (1 + B) exactly.
    def mmd2_numpy(a, b, sigma):
        k = lambda u, v: np.exp(-cdist(u, v, "sqeuclidean") / (2 * sigma**2))  # noqa: E731
        if estimator == "biased":
            return _numpy_mmd2_biased(a, b, sigma)
        kaa, kbb = k(a, a), k(b, b)
        m, n = len(a), len(b)
        return (
            (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
            + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
            - 2 * k(a, b).mean()
        )

    x, y = _gauss(6, seed=4), _gauss(5, shift=0.6, seed=5)
    n_perm, seed = 60, 3
    result = mmd_permutation_test(
        x, y, estimator=estimator, n_permutations=n_perm, sigma=1.3, seed=seed
    )
    observed = mmd2_numpy(x, y, 1.3)
    assert result.statistic == pytest.approx(observed, rel=1e-10)
    rng = np.random.default_rng(seed)
    pooled = np.vstack([x, y])
    permuted = []
    for _ in range(n_perm):
        idx = rng.permutation(len(pooled))
        permuted.append(mmd2_numpy(pooled[idx[:6]], pooled[idx[6:]], 1.3))
    permuted = np.array(permuted)
    # No permuted statistic within rounding of the observed one: the count is unambiguous.
    assert np.abs(permuted - observed).min() > 1e-9
    exceed = int((permuted >= observed).sum())
    assert 0 < exceed < n_perm  # an informative case
    assert result.p_value == (1 + exceed) / (1 + n_perm)


def test_mmd_p_value_counts_the_splits_that_tie_with_the_observed_one():
    # 2 + 2 points. The 6 splits of the pooled sample come in mirrored pairs with the same
    # (symmetric) statistic, so the observed split ties with itself and with its mirror; a
    # permutation landing on either must count as "at least as extreme", though rows
    # reordered within a group can round the statistic below the observed one (by 2e-16
    # for one of the 8 orders here). Which splits qualify is decided by the enumeration
    # (other values about 0.25 away, ties by symmetry), not by a float comparison; the seeded
    # permutations are then replayed from the documented stream and counted.
    x, y = np.array([[0.13, -0.13], [0.64, 0.1]]), np.array([[-0.54, 0.36], [1.3, 0.95]])
    pooled = np.vstack([x, y])
    observed = _numpy_mmd2_biased(x, y, 1.0)
    at_least = set()
    for c in itertools.combinations(range(4), 2):
        rest = [i for i in range(4) if i not in c]
        value = _numpy_mmd2_biased(pooled[list(c)], pooled[rest], 1.0)
        if frozenset(c) in ({0, 1}, {2, 3}):  # the observed split and its mirror
            assert value == pytest.approx(observed, rel=1e-14)
            at_least.add(frozenset(c))
        else:
            assert abs(value - observed) > 0.1
            if value > observed:
                at_least.add(frozenset(c))
    assert len(at_least) == 4  # with {0, 2} | {1, 3}: exact enumeration p = 4/6
    n_perm, seed = 100, 0
    rng = np.random.default_rng(seed)
    hits = [frozenset(rng.permutation(4)[:2].tolist()) for _ in range(n_perm)]
    exceed = sum(h in at_least for h in hits)
    ties = sum(h in ({0, 1}, {2, 3}) for h in hits)
    assert ties > 0 and exceed > ties  # both the tolerance and the strict count matter
    result = mmd_permutation_test(x, y, estimator="biased", n_permutations=n_perm, sigma=1.0)
    assert result.statistic == pytest.approx(observed, rel=1e-12)
    assert result.p_value == pytest.approx((1 + exceed) / (1 + n_perm), abs=1e-12)


def test_mmd_p_value_extremes_and_seeding():
    x = _gauss(30)
    shifted = mmd_permutation_test(x, _gauss(30, shift=3.0, seed=1), n_permutations=50)
    assert shifted.p_value == pytest.approx(1 / 51)
    assert shifted.statistic > 0.1
    same = mmd_permutation_test(x, _gauss(30, seed=1), n_permutations=50)
    assert same.p_value > 0.1
    assert mmd_permutation_test(x, _gauss(30, seed=1), n_permutations=50) == same
    # Identical samples: the biased statistic is 0, its minimum, so every split reaches it.
    identical = mmd_permutation_test(x, x.copy(), estimator="biased", n_permutations=20)
    assert identical.statistic == pytest.approx(0.0, abs=1e-12)
    assert identical.p_value == 1.0


def test_mmd_accepts_torch_and_subsamples():
    x, y = _gauss(40), _gauss(30, shift=1.0, seed=1)
    from_numpy = mmd_permutation_test(x, y, n_permutations=10)
    from_torch = mmd_permutation_test(
        torch.from_numpy(x).float(), torch.from_numpy(y), n_permutations=10
    )
    assert from_torch.statistic == pytest.approx(from_numpy.statistic, rel=1e-6)
    capped = mmd_permutation_test(x, y, n_permutations=10, max_samples=10)
    assert capped.statistic != from_numpy.statistic


# --- CORAL distance --------------------------------------------------------------------


def test_coral_distance_matches_numpy_and_scipy():
    x, y = _gauss(20, d=4), 2 * _gauss(25, d=4, seed=1)
    cs, ct = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert coral_distance(x, y) == pytest.approx(np.sum((cs - ct) ** 2) / 64, rel=1e-10)
    logs = scipy.linalg.logm(cs + 0.01 * np.eye(4)) - scipy.linalg.logm(ct + 0.01 * np.eye(4))
    expected = np.sum(np.real(logs) ** 2) / 64
    assert coral_distance(x, y, log=True, eps=0.01) == pytest.approx(expected, rel=1e-8)
    assert coral_distance(torch.from_numpy(x), torch.from_numpy(x)) == 0.0


# --- proxy A-distance --------------------------------------------------------------------


@pytest.mark.parametrize("classifier", ["logistic", "svm"])
def test_proxy_a_distance_near_0_for_one_distribution_and_2_for_disjoint(classifier):
    x = _gauss(150)
    same = proxy_a_distance(x, _gauss(150, seed=1), classifier=classifier)
    disjoint = proxy_a_distance(x, _gauss(150, shift=8.0, seed=1), classifier=classifier)
    middle = proxy_a_distance(x, _gauss(150, shift=1.0, seed=1), classifier=classifier)
    assert abs(same) < 0.3
    assert disjoint == pytest.approx(2.0, abs=1e-9)
    assert same < middle < disjoint


@pytest.mark.parametrize("classifier", ["logistic", "svm"])
def test_proxy_a_distance_is_2_1_minus_2_err_of_sklearn_cross_validation(classifier):
    # err from scikit-learn's cross_val_score on the same input, drawn as the function
    # draws it: a generator seeded with `seed` subsamples the larger domain (the source,
    # 50 of 80 rows) to the smaller one's size, then gives the fold/classifier seed.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    x, y = _gauss(80, d=10, seed=4), _gauss(50, d=10, shift=0.3, seed=5)
    seed, C, n_splits = 7, 0.01, 4
    got = proxy_a_distance(x, y, classifier=classifier, C=C, n_splits=n_splits, seed=seed)

    rng = np.random.default_rng(seed)
    xs = x[rng.choice(80, 50, replace=False)]
    features = np.vstack([xs, y])
    domain = np.r_[np.ones(50), np.zeros(50)]
    fold_seed = int(rng.integers(2**31 - 1))
    model = (
        LogisticRegression(C=C, max_iter=1000)
        if classifier == "logistic"
        else LinearSVC(C=C, max_iter=10_000, random_state=fold_seed)
    )
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=fold_seed)
    accuracy = cross_val_score(
        make_pipeline(StandardScaler(), model), features, domain, cv=folds
    ).mean()
    err = 1.0 - accuracy
    assert 0.05 < err < 0.45  # neither separable nor chance: the value is informative
    assert got == pytest.approx(2.0 * (1.0 - 2.0 * err), abs=1e-12)


def test_proxy_a_distance_seeded_balanced_and_subsampled():
    x, y = _gauss(200), _gauss(60, shift=1.0, seed=1)
    value = proxy_a_distance(x, y, seed=3)
    assert proxy_a_distance(x, y, seed=3) == value
    # Unequal sizes are balanced (60 + 60), so a shift-free pair stays near chance even
    # though always answering "source" would score 200 / 260.
    assert abs(proxy_a_distance(x, _gauss(60, seed=1))) < 0.4
    assert proxy_a_distance(torch.from_numpy(x), torch.from_numpy(y), seed=3) == value
    assert -2.0 <= proxy_a_distance(x, y, max_samples=20) <= 2.0


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda s, t: mmd_permutation_test(s, t, n_permutations=2),
        coral_distance,
        proxy_a_distance,
    ],
    ids=["mmd", "coral", "pad"],
)
def test_bad_inputs(fn):
    x = _gauss(10)
    with pytest.raises(ValueError, match="expected the same feature dimension"):
        fn(x, _gauss(10, d=4))
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="target contains NaN"):
        fn(x, bad)
    with pytest.raises(ValueError, match="must be a NumPy array or a torch.Tensor"):
        fn(x.tolist(), x)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        fn(x[:, 0], x)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda x: mmd_permutation_test(x, x, n_permutations=0),
            "mmd_permutation_test: n_permutations must be an int >= 1",
        ),
        (
            lambda x: mmd_permutation_test(x, x, max_samples=1),
            "mmd_permutation_test: max_samples must be an int >= 2",
        ),
        (lambda x: mmd_permutation_test(x, x, sigma=-1.0), "sigma must be a positive number"),
        (lambda x: mmd_permutation_test(x, x, estimator="quadratic"), "estimator must be one of"),
        (lambda x: coral_distance(x, x, log=True, eps=0), "eps must be a positive number"),
        # checked without log too: eps=-1 was accepted there
        (lambda x: coral_distance(x, x, eps=-1.0), "eps must be a positive number"),
        (lambda x: proxy_a_distance(x, x, classifier="tree"), "classifier must be one of"),
        (
            lambda x: proxy_a_distance(x, x, n_splits=1),
            "proxy_a_distance: n_splits must be an int >= 2",
        ),
        (
            lambda x: proxy_a_distance(x, x, max_samples=3),
            "proxy_a_distance: max_samples must be an int >= 5",
        ),
        (lambda x: proxy_a_distance(x, x, C=0.0), "C must be a positive number"),
        (lambda x: proxy_a_distance(x[:3], x), "expected at least 5"),
        # Infinite (or bool) values failed later under another name: an infinite sigma in
        # mmd2 as "mmd2_unbiased: sigmas", an infinite C as "All the 5 fits failed".
        (
            lambda x: mmd_permutation_test(x, x, sigma=float("inf")),
            r"mmd_permutation_test: sigma must be a positive number \(finite\)",
        ),
        (
            lambda x: mmd_permutation_test(x, x, sigma=True),
            r"mmd_permutation_test: sigma must be a positive number \(finite\)",
        ),
        (
            lambda x: proxy_a_distance(x, x, C=float("inf"), classifier="svm"),
            r"proxy_a_distance: C must be a positive number \(finite\)",
        ),
    ],
)
def test_bad_params(call, match):
    with pytest.raises(ValueError, match=match):
        call(_gauss(10))


def test_mmd_linear_estimator_ignores_the_row_order():
    # Two samples of one distribution of ten well-separated classes, each sorted by class
    # (as the shared benchmarks' rows are). The linear-time estimate pairs rows (2p, 2p+1)
    # of each sample and across them: taken in the given order, the within-sample pairs
    # share a class and the cross pairs, where the two samples' class blocks do not line up,
    # mostly do not, so the test rejected equal distributions every time (p = 1 / (1 + B)).
    # With the rows shuffled first its p-values are those of shuffled input.
    rng = np.random.default_rng(0)
    means = 8.0 * rng.standard_normal((10, 3))
    pvals = []
    for seed in range(10):
        ys, yt = np.sort(rng.integers(0, 10, 80)), np.sort(rng.integers(0, 10, 80))
        xs = _gauss(80, seed=2 * seed) + means[ys]
        xt = _gauss(80, seed=2 * seed + 1) + means[yt]
        result = mmd_permutation_test(xs, xt, estimator="linear", n_permutations=49, seed=seed)
        pvals.append(result.p_value)
    assert np.mean(np.array(pvals) < 0.05) <= 0.3


def test_bad_seeds_flags_complex_values_and_overflow_are_named():
    g = np.random.default_rng(0)
    s, t = g.normal(size=(20, 3)), g.normal(size=(20, 3)) + 1
    for call, match in [
        (lambda: mmd_permutation_test(s, t, seed=-1), "mmd_permutation_test: seed must be"),
        (lambda: proxy_a_distance(s, t, seed=1.5), "proxy_a_distance: seed must be an int"),
        (lambda: coral_distance(s, t, log="False"), "coral_distance: log must be True or"),
        # the casts kept the real parts only
        (lambda: coral_distance(s + 1j, t), "coral_distance: source must be real numbers"),
        (
            lambda: coral_distance(torch.from_numpy(s), torch.from_numpy(t + 1j)),
            "coral_distance: target must be real numbers",
        ),
        # (squared distances past float64, s * 1e160: no longer an error, the features are
        # scaled by a power of two first; tests/align/test_discrepancy_extreme_units.py)
    ]:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_the_kernel_matrix_path_gives_the_row_by_row_test(monkeypatch, estimator, offset):
    # The kernel matrix of the pooled sample is built once (each permutation then costs
    # O(N^2), not O(N^2 d)); the row-by-row path recomputes mmd2 per split.
    from dtc.align import discrepancy
    from dtc.align.mmd import mmd2

    x, y = _gauss(40, seed=0) + offset, _gauss(30, shift=0.4, seed=1) + offset
    fast = mmd_permutation_test(x, y, estimator=estimator, n_permutations=60, sigma=1.5)
    ref = mmd2(torch.from_numpy(x), torch.from_numpy(y), estimator=estimator, sigmas=1.5)
    assert fast.statistic == pytest.approx(float(ref), rel=1e-9, abs=1e-12)
    monkeypatch.setattr(discrepancy, "_GRAM_MAX", 0)
    slow = mmd_permutation_test(x, y, estimator=estimator, n_permutations=60, sigma=1.5)
    assert fast.p_value == slow.p_value
    assert fast.statistic == pytest.approx(slow.statistic, rel=1e-9, abs=1e-12)


def test_discrepancy_inputs_follow_one_rule_for_arrays_and_tensors():
    """Through ``host_array``: a meta tensor is named, a sparse one read densely, and a bool
    array taken as a bool tensor was (the array was refused as "not real numbers")."""
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="^coral_distance: source: got a tensor on the 'meta'"):
        coral_distance(torch.empty(20, 3, device="meta"), t)
    sparse = torch.from_numpy(s).to_sparse()
    assert coral_distance(sparse, t) == coral_distance(s, t)
    b = rng.random((20, 3)) > 0.5
    assert coral_distance(b, t) == coral_distance(torch.from_numpy(b), t)
    assert coral_distance(b, t) == coral_distance(b.astype(np.float64), t)


def _peak_bytes(call):
    """``call()`` and the most memory it held at once beyond what was resident before,
    numpy's and torch's alike (tracemalloc sees no torch allocation): by the process's
    high-water mark, reset first (Linux)."""
    from dtc._memory import peak_rss_mib, reset_peak

    if not reset_peak():
        pytest.skip("the resident high-water mark cannot be reset here (Linux only)")
    before = peak_rss_mib()
    value = call()
    return value, (peak_rss_mib() - before) * 2**20


def test_subsampled_discrepancies_widen_only_the_rows_they_draw():
    # Each domain was copied whole to float64 before its max_samples rows were drawn (255
    # MiB more at 256,000 float32 rows of 64 features, for 200 drawn). The same rows are
    # drawn, so the values are those of float64 inputs.
    # A float32 domain beside a float64 one was still copied whole (both promoted first).
    rng = np.random.default_rng(0)
    s = rng.normal(size=(80_000, 64)).astype(np.float32)
    t = (rng.normal(size=(20_000, 64)) + 0.5).astype(np.float32)
    s.flags.writeable = False
    reference = {}
    for fn, kw in (
        (mmd_permutation_test, {"max_samples": 200, "n_permutations": 5}),
        (proxy_a_distance, {"max_samples": 200}),
    ):
        reference[fn] = fn(s.astype(np.float64), t.astype(np.float64), **kw)
    t64 = t.astype(np.float64)
    for target in (t, t64):
        for fn, kw in (
            (mmd_permutation_test, {"max_samples": 200, "n_permutations": 5}),
            (proxy_a_distance, {"max_samples": 200}),
        ):
            got, peak = _peak_bytes(lambda fn=fn, kw=kw, t=target: fn(s, t, **kw))
            assert got == reference[fn]
            # a float64 copy of s alone is 2 * s.nbytes (40 MiB)
            assert peak < s.nbytes / 2, (fn.__name__, target.dtype, peak)


def test_a_read_only_array_is_read_without_torchs_warning():
    # np.load(mmap_mode="r") gives one; shared, not copied, it made torch warn that writing
    # to it is undefined (the tensor is only read). torch warns once a process: a fresh one.
    import subprocess
    import sys

    code = (
        "import warnings, numpy as np\n"
        "from dtc.align.discrepancy import mmd_permutation_test\n"
        "x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)\n"
        "x.flags.writeable = False\n"
        "warnings.simplefilter('error')\n"
        "mmd_permutation_test(x, x + 1, n_permutations=5)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_long_double_features_are_measured_in_float64():
    # torch has no long double: the unwidened path failed in torch's words
    s, t = _gauss(30, seed=0), _gauss(30, shift=1.0, seed=1)
    for fn in (mmd_permutation_test, proxy_a_distance):
        got = fn(s.astype(np.longdouble), t.astype(np.longdouble), max_samples=20)
        assert got == fn(s, t, max_samples=20)
