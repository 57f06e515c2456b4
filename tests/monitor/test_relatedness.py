"""Feature-correspondence test and structural similarity of a source against a target
(``dtc.monitor.relatedness``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from dtc.data import make_digits_pair
from dtc.monitor import relatedness, scores
from dtc.monitor.relatedness import (
    BENCHMARK_FAMILY,
    MIN_FEATURES,
    check_source,
    feature_correspondence,
    resolve_min_similarity,
    structural_similarity,
)


def correlated(n, d, seed, mix=None):
    """``(n, d)`` rows whose features co-vary through the fixed mixing matrix ``mix``."""
    rng = np.random.default_rng(seed)
    if mix is None:
        mix = np.random.default_rng(0).normal(0, 1, (4, d))
    return rng.normal(0, 1, (n, 4)) @ mix + 0.5 * rng.normal(0, 1, (n, d))


def test_statistic_by_hand_with_scipy():
    Xs, Xt = correlated(60, 6, seed=1), correlated(50, 6, seed=2)
    Xt[:, 2] *= 100.0  # the statistic only sees correlations, not scales
    iu = np.triu_indices(6, 1)
    cs = [np.corrcoef(Xs[:, i], Xs[:, j])[0, 1] for i, j in zip(*iu)]
    ct = [np.corrcoef(Xt[:, i], Xt[:, j])[0, 1] for i, j in zip(*iu)]
    out = feature_correspondence(Xs, Xt, n_permutations=9)
    assert out["statistic"] == pytest.approx(pearsonr(cs, ct).statistic, abs=1e-12)
    assert out["n_features"] == 6


def test_identical_domains_agree_perfectly_and_beat_every_permutation():
    X = correlated(200, 20, seed=3)
    out = feature_correspondence(X, X, n_permutations=99)
    assert out["statistic"] == pytest.approx(1.0)
    assert out["p_value"] == pytest.approx(0.01)  # (1 + 0) / (1 + 99)


def test_null_mean_and_std_recomputed_from_the_seeded_relabellings():
    Xs, Xt = correlated(40, 6, seed=4), correlated(30, 6, seed=5)
    Xs[:, 1] = Xt[:, 1] = 2.0  # constant: left out before relabelling, m = 5
    out = feature_correspondence(Xs, Xt, n_permutations=7, seed=11)
    keep = [0, 2, 3, 4, 5]
    Cs = np.corrcoef(Xs[:, keep], rowvar=False)
    ct = np.corrcoef(Xt[:, keep], rowvar=False)[np.triu_indices(5, 1)]
    rng = np.random.default_rng(11)
    null = []
    for _ in range(7):
        p = rng.permutation(5)  # rows and columns of the source's matrix together
        null.append(pearsonr(Cs[p][:, p][np.triu_indices(5, 1)], ct).statistic)
    assert out["n_features"] == 5
    assert out["null_mean"] == pytest.approx(np.mean(null), abs=1e-12)
    assert out["null_std"] == pytest.approx(np.std(null, ddof=1), abs=1e-12)
    assert out["p_value"] == pytest.approx((1 + np.sum(np.array(null) >= out["statistic"])) / 8)


def test_a_relabelling_that_ties_the_statistic_counts_against_correspondence():
    # Three features: the identity is one of the 3! = 6 relabellings, and it gives the
    # statistic back exactly (a tie), as no other does when the three correlations differ.
    # The p-value counts ties, (1 + #{null >= statistic}) / (1 + n): here 1 + the number of
    # identity permutations among the seeded draws (about a sixth of them).
    X = correlated(200, 3, seed=8)
    out = feature_correspondence(X, X, n_permutations=59, seed=3)
    rng = np.random.default_rng(3)
    ties = sum(np.array_equal(rng.permutation(3), np.arange(3)) for _ in range(59))
    assert 4 <= ties <= 16  # Binomial(59, 1/6): about 10
    assert out["p_value"] == pytest.approx((1 + ties) / 60)


def test_p_value_is_uniform_for_unrelated_features():
    # Independent mixings: under the null the p-value is uniform, so about a tenth of the
    # unrelated pairs fall at or below 0.1 (binomial, 60 draws: 95 % within 2..11).
    Xt = correlated(200, 20, seed=5)
    pvals = [
        feature_correspondence(
            correlated(200, 20, seed=100 + i, mix=np.random.default_rng(i).normal(0, 1, (4, 20))),
            Xt,
            n_permutations=99,
            seed=i,
        )["p_value"]
        for i in range(60)
    ]
    assert 2 <= sum(p <= 0.1 for p in pvals) <= 11
    assert 0.35 < np.mean(pvals) < 0.65


def test_constant_features_are_left_out():
    X = correlated(100, 10, seed=6)
    Xs, Xt = np.c_[X, np.ones(100)], np.c_[correlated(100, 10, seed=7), np.arange(100.0)]
    assert feature_correspondence(Xs, Xt, n_permutations=9)["n_features"] == 10


def test_digits_source_corresponds_and_its_permuted_pixels_do_not():
    pair = make_digits_pair()
    s, t = pair.source.X, pair.target.X
    related = feature_correspondence(s, t)
    assert related["p_value"] == pytest.approx(0.01) and related["statistic"] > 0.4
    permuted = feature_correspondence(s[:, np.random.default_rng(0).permutation(64)], t)
    assert permuted["p_value"] > 0.05 and abs(permuted["statistic"]) < 0.1


@pytest.mark.parametrize(
    ("Xs", "Xt", "match"),
    [
        (np.zeros((10, 5)), np.zeros((10, 6)), "same number of features, got 5 and 6"),
        (np.zeros((2, 5)), np.zeros((10, 5)), "Xs needs at least 3 rows"),
        (np.zeros(5), np.zeros((10, 5)), r"Xs must have shape \(n, d\)"),
        (np.full((10, 5), np.nan), np.zeros((10, 5)), "Xs contains NaN"),
        (np.ones((10, 5)), np.ones((10, 5)), "at least 3 features that vary"),
    ],
)
def test_bad_input_is_refused(Xs, Xt, match):
    with pytest.raises(ValueError, match=match):
        feature_correspondence(Xs, Xt)


def test_bad_permutation_count_is_refused():
    X = correlated(20, 5, seed=0)
    with pytest.raises(ValueError, match="n_permutations must be >= 1"):
        feature_correspondence(X, X, n_permutations=0)


# -- structural similarity ---------------------------------------------------------------
def factor_rows(n, loadings, noise, seed):
    """``(n, d)`` rows of the factor model ``f @ loadings + noise * e``, ``f``, ``e`` standard
    normal: population covariance ``loadings.T @ loadings + noise**2 I``."""
    rng = np.random.default_rng(seed)
    d = loadings.shape[1]
    return rng.normal(0, 1, (n, len(loadings))) @ loadings + noise * rng.normal(0, 1, (n, d))


def population_statistic(L1, L2, noise):
    """The statistic of two domains' *population* correlation matrices (closed form)."""

    def entries(L):
        S = L.T @ L + noise**2 * np.eye(L.shape[1])
        sd = np.sqrt(np.diag(S))
        return (S / np.outer(sd, sd))[np.triu_indices(len(S), 1)]

    return pearsonr(entries(L1), entries(L2)).statistic


@pytest.mark.parametrize("shared", [4, 3])
def test_similarity_recovers_the_population_statistic_that_sampling_noise_attenuates(shared):
    # Four factors in the source; the target shares `shared` of them. With 100 noisy rows
    # per domain the raw statistic is well below its population value; Spearman's
    # correction recovers it (mean over 20 draws, closed-form population value).
    rng = np.random.default_rng(0)
    A, B = rng.normal(0, 1, (4, 20)), rng.normal(0, 1, (4, 20))
    L2 = np.vstack([A[:shared], B[shared:]])
    truth = population_statistic(A, L2, noise=2.0)
    out = [
        structural_similarity(
            factor_rows(100, A, 2.0, 100 + s),
            factor_rows(100, L2, 2.0, 200 + s),
            n_splits=10,
            seed=s,
        )
        for s in range(20)
    ]
    raw = np.mean([o["statistic"] for o in out])
    sim = np.mean([o["similarity"] for o in out])
    assert truth - raw > 0.1  # attenuated
    assert sim == pytest.approx(truth, abs=0.03)


def test_reliability_is_the_spearman_brown_step_up_of_the_split_half_statistic():
    X, Xt = correlated(80, 8, seed=1), correlated(90, 8, seed=2)
    out = structural_similarity(X, Xt, n_splits=1, seed=7)
    p = np.random.default_rng(7).permutation(80)  # the first split drawn with seed 7
    iu = np.triu_indices(8, 1)
    r = pearsonr(
        np.corrcoef(X[p[:40]], rowvar=False)[iu], np.corrcoef(X[p[40:80]], rowvar=False)[iu]
    ).statistic
    assert out["reliability_source"] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert out["statistic"] == pytest.approx(
        feature_correspondence(X, Xt, n_permutations=1)["statistic"]
    )
    rel = out["reliability_source"] * out["reliability_target"]
    assert out["similarity"] == pytest.approx(out["statistic"] / np.sqrt(rel))


def test_signal_per_row_of_each_domain_by_hand_with_scipy():
    # Odd row counts: halves of h = n // 2 rows, the last row of each split unused. The
    # source's n_splits permutations are drawn first, then the target's, from one stream.
    Xs, Xt = correlated(13, 5, seed=6), correlated(15, 5, seed=7)
    out = structural_similarity(Xs, Xt, n_splits=2, seed=3)
    rng = np.random.default_rng(3)
    iu = np.triu_indices(5, 1)

    def signal(X):
        h = X.shape[0] // 2
        r = np.mean(
            [
                pearsonr(
                    np.corrcoef(X[p[:h]], rowvar=False)[iu],
                    np.corrcoef(X[p[h : 2 * h]], rowvar=False)[iu],
                ).statistic
                for p in (rng.permutation(X.shape[0]) for _ in range(2))
            ]
        )
        assert 0 < r < 1
        return r / (h * (1 - r))  # reliability(h rows) = h s / (1 + h s) = r

    assert out["signal_source"] == pytest.approx(signal(Xs), rel=1e-10)
    assert out["signal_target"] == pytest.approx(signal(Xt), rel=1e-10)


def test_signal_per_row_does_not_depend_on_the_sample_size_and_sees_feature_noise():
    A = np.random.default_rng(0).normal(0, 1, (4, 20))
    target = factor_rows(400, A, 1.0, 1)
    small = structural_similarity(factor_rows(100, A, 1.0, 2), target, n_splits=10)
    large = structural_similarity(factor_rows(800, A, 1.0, 3), target, n_splits=10)
    # Spearman-Brown: the reliability rises with the rows, the signal per row does not.
    assert small["reliability_source"] < large["reliability_source"] - 0.02
    assert small["signal_source"] == pytest.approx(large["signal_source"], rel=0.25)
    assert small["signal_source"] == pytest.approx(small["signal_target"], rel=0.25)
    # The same source drowned in noise of twice its spread: the similarity is corrected
    # for the noise, the signal per row shows it.
    clean = factor_rows(400, A, 1.0, 4)
    noisy = clean + np.random.default_rng(5).normal(0, 2 * clean.std(), clean.shape)
    out = structural_similarity(noisy, target, n_splits=10)
    assert out["similarity"] == pytest.approx(1.0, abs=0.1)
    assert out["signal_source"] < 0.1 * out["signal_target"]


def test_a_domain_without_reproducible_structure_has_no_similarity():
    # Independent features: the split halves' correlations do not agree (reliability
    # -0.10 with these seeds), so there is no structure to compare: nan, not a number
    # divided by the square root of a negative one.
    noise = np.random.default_rng(0).normal(0, 1, (40, 10))
    out = structural_similarity(noise, correlated(40, 10, seed=1), n_splits=3)
    assert out["reliability_source"] < 0 and np.isnan(out["similarity"])


def test_digits_classes_disjoint_from_the_targets_are_dissimilar():
    # The monitor's development case (shift seed 1, not in the harness): the true source
    # measured 0.61, the source restricted to classes 0-4 against target classes 5-9 0.34.
    pair = make_digits_pair(0.5, 1)
    s, t = pair.source, pair.target
    ts = scores.subsample_index(t.n_samples, 1000, 0)
    true = structural_similarity(s.X, t.X[ts])
    disjoint = structural_similarity(s.X[s.y < 5], t.X[ts][t.y[ts] >= 5])
    assert true["similarity"] > 0.55 and disjoint["similarity"] < 0.45
    assert true["statistic"] < true["similarity"]


@pytest.mark.parametrize(
    ("Xs", "Xt", "kwargs", "match"),
    [
        (np.zeros((10, 4)), np.zeros((10, 5)), {}, "same number of features"),
        (np.ones((5, 4)), np.ones((10, 4)), {}, "Xs needs at least 6 rows"),
        (np.full((10, 4), np.nan), np.ones((10, 4)), {}, "Xs contains NaN"),
        (np.zeros(10), np.ones((10, 4)), {}, r"Xs must have shape \(n, d\)"),
        (None, None, {"n_splits": 0}, "n_splits must be an int >= 1"),
    ],
)
def test_structural_similarity_refuses_bad_input(Xs, Xt, kwargs, match):
    if Xs is None:
        Xs, Xt = correlated(20, 5, seed=1), correlated(20, 5, seed=2)
    with pytest.raises(ValueError, match=match):
        structural_similarity(Xs, Xt, **kwargs)


# -- the checks together -------------------------------------------------------------------
def test_check_source_names_the_first_check_that_fails():
    rng = np.random.default_rng(0)
    A, B = rng.normal(0, 1, (4, 20)), rng.normal(0, 1, (4, 20))
    target = factor_rows(400, A, 1.0, 1)
    same = factor_rows(400, A, 1.0, 2)
    three_of_four = factor_rows(400, np.vstack([A[:3], B[3:]]), 1.0, 3)  # similarity ~0.7
    noisy = same + np.random.default_rng(4).normal(0, 2 * same.std(), same.shape)
    permuted = same[:, np.random.default_rng(5).permutation(20)]
    sources = {"same": same, "3/4": three_of_four, "noisy": noisy, "permuted": permuted}
    verdicts = {
        name: check_source(X, target, min_similarity=0.8)["verdict"] for name, X in sources.items()
    }
    assert verdicts == {
        "same": None,
        "3/4": "dissimilar_source",
        "noisy": "noisy_source",
        "permuted": "unrelated_source",
    }
    # a check whose threshold is None is not judged
    off = check_source(noisy, target, min_similarity=None, min_signal_ratio=None)
    assert off["verdict"] is None and "similarity" not in off
    only_similarity = check_source(noisy, target, min_similarity=0.8, min_signal_ratio=None)
    assert only_similarity["verdict"] is None and "clean" not in only_similarity
    # the defaults (rules #10, #13): the signal ratio is judged; the similarity is only
    # reported for data of no known benchmark family, judged by the family's threshold else
    default = check_source(three_of_four, target)
    assert default["verdict"] is None and "similar" not in default and default["clean"]
    assert default["similarity"] < 0.8 and default["min_similarity"] is None
    assert check_source(noisy, target)["verdict"] == "noisy_source"
    surf = check_source(three_of_four, target, benchmark="office_caltech10_surf")
    assert surf["min_similarity"] == 0.50 and surf["similar"] and surf["verdict"] is None


def _stub_similarity(similarity, signal_source, signal_target=1.0):
    def fake(Xs, Xt, *, n_splits=5, seed=0, eps=1e-8):
        return {
            "statistic": 0.5,
            "reliability_source": 0.5,
            "reliability_target": 0.5,
            "signal_source": signal_source,
            "signal_target": signal_target,
            "similarity": similarity,
            "n_features": Xs.shape[1],
        }

    return fake


@pytest.mark.parametrize(
    ("similarity", "signal_source", "verdict"),
    [
        (0.9, 1.0, None),
        (0.5, 1.0, "dissimilar_source"),
        (0.9, 0.05, "noisy_source"),
        (0.5, 0.05, "noisy_source"),  # both fail: the noisy check comes first
        (float("nan"), 1.0, None),  # no reproducible structure: no evidence either way
        (0.8, 0.1, None),  # at the thresholds: "at least" passes
    ],
)
def test_check_source_verdicts_by_hand(monkeypatch, similarity, signal_source, verdict):
    # A related source (it is the target), its similarity and signals set by hand.
    X = correlated(200, 20, seed=1)
    monkeypatch.setattr(
        relatedness, "structural_similarity", _stub_similarity(similarity, signal_source)
    )
    out = check_source(X, X, min_similarity=0.8, min_signal_ratio=0.1)
    assert out["related"]
    assert out["verdict"] == verdict


def test_a_target_without_reproducible_structure_passes_the_noise_check(monkeypatch):
    X = correlated(200, 20, seed=1)
    monkeypatch.setattr(relatedness, "structural_similarity", _stub_similarity(0.9, 0.01, -0.5))
    out = check_source(X, X, min_similarity=0.8, min_signal_ratio=0.1)
    assert out["signal_ratio"] is None and "clean" not in out and out["verdict"] is None


def test_the_family_threshold_of_each_shared_benchmark():
    from dtc.data.benchmarks import list_benchmarks

    assert set(BENCHMARK_FAMILY) == set(list_benchmarks())  # every shipped one has a family
    assert resolve_min_similarity("family", "digits") == 0.40
    assert resolve_min_similarity("family", "mnist_usps") == 0.40
    assert resolve_min_similarity("family", "office_caltech10_surf") == 0.50
    # rule #19: COIL20 is one corpus, judged on its own scale
    assert resolve_min_similarity("family", "coil20") == 0.75
    assert resolve_min_similarity("family", "my_own_benchmark") is None
    assert resolve_min_similarity("family", None) is None
    assert resolve_min_similarity(0.3, "office_caltech10_surf") == 0.3  # a number is kept
    assert resolve_min_similarity(None, "digits") is None


def test_check_source_does_not_run_on_too_few_features():
    X = correlated(100, 10, seed=1)
    assert check_source(X, correlated(100, 10, seed=2)) is None
    with pytest.raises(ValueError, match="same number of features"):
        check_source(X, correlated(100, 12, seed=2))


def test_check_source_with_fewer_rows_than_the_similarity_needs_returns_the_test():
    # A related 5-row source passed the test, then failed in structural_similarity (6 rows)
    # with an error about an Xs the caller never passed: in the monitor, after the
    # reference had been trained.
    rng = np.random.default_rng(0)
    F = rng.standard_normal((3, 20))
    Xt = rng.standard_normal((120, 3)) @ F + 0.1 * rng.standard_normal((120, 20))
    Xs = rng.standard_normal((5, 3)) @ F + 0.1 * rng.standard_normal((5, 20))
    result = check_source(Xs, Xt, min_similarity=0.5)
    assert relatedness.SIMILARITY_MIN_ROWS == 6
    assert result["related"] and result["verdict"] is None
    assert "similar" not in result and "similarity" not in result
    assert check_source(np.vstack([Xs, Xs[:1] + 0.01]), Xt, min_similarity=0.5)["similar"]


def test_check_source_runs_from_exactly_min_features_varying_features():
    assert MIN_FEATURES == 16
    X, Xt = correlated(100, 16, seed=1), correlated(100, 16, seed=2)
    assert check_source(X, Xt) is not None
    # a 17th feature constant in one domain does not count; 15 varying ones are too few
    assert check_source(np.c_[X, np.ones(100)], np.c_[Xt, np.arange(100.0)]) is not None
    assert check_source(X[:, :15], Xt[:, :15]) is None
    # ... and does not make 15 enough: counted, the check ran below its power floor
    assert check_source(np.c_[X[:, :15], np.ones(100)], np.c_[Xt[:, :15], np.arange(100.0)]) is None
    # the mirror: constant in the target only
    assert check_source(np.c_[X[:, :15], np.arange(100.0)], np.c_[Xt[:, :15], np.ones(100)]) is None


def test_a_feature_constant_in_either_domain_is_left_out_of_the_correspondence():
    # the mask is both domains' (numpy's std of each): a feature constant in the target
    # only has no correlation there (NaN), and kept, it would blur the statistic
    from dtc.monitor.relatedness import varying_features

    Xs, Xt = correlated(200, 8, seed=1), correlated(200, 8, seed=2)
    Xt[:, 0], Xs[:, 5] = 3.0, -1.0
    keep = (np.std(Xs, 0) > 1e-8) & (np.std(Xt, 0) > 1e-8)
    assert keep.tolist() == [False, True, True, True, True, False, True, True]
    np.testing.assert_array_equal(varying_features(Xs, Xt), keep)
    full = feature_correspondence(Xs, Xt, n_permutations=19, seed=0)
    kept = feature_correspondence(Xs[:, keep], Xt[:, keep], n_permutations=19, seed=0)
    assert full == kept and full["n_features"] == 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_similarity": 1.5}, r"min_similarity must be None, 'family' or in \[0, 1\]"),
        ({"min_similarity": "0.5"}, r"min_similarity must be None, 'family' or in \[0, 1\]"),
        ({"min_signal_ratio": float("inf")}, "min_signal_ratio must be None or a finite"),
        ({"alpha": 0}, r"alpha must be in \(0, 1\)"),
    ],
)
def test_check_source_refuses_bad_thresholds(kwargs, match):
    X = correlated(40, 20, seed=1)
    with pytest.raises(ValueError, match=match):
        check_source(X, X, **kwargs)


def test_arguments_that_could_only_give_one_answer_are_refused():
    from dtc.monitor.calibration import random_relabel, score_slope
    from dtc.monitor.partition_score import student_t_assignments

    X, Xt = correlated(100, 16, seed=1), correlated(100, 16, seed=2)
    # 1/51 > 0.01: every source was "unrelated", however well its features matched
    with pytest.raises(ValueError, match="n_permutations=50 cannot reach alpha=0.01"):
        check_source(X, Xt, n_permutations=50)
    # a negative eps kept constant features, whose NaN correlations zeroed the statistic
    with pytest.raises(ValueError, match="feature_correspondence: eps must be a finite"):
        relatedness.feature_correspondence(X, Xt, eps=-1)
    y = np.arange(20) % 2
    # no row moved: 0 / 0, a NaN slope that read as a blind score
    with pytest.raises(ValueError, match="no fraction of .* moves a row of n=20"):
        score_slope(X[:20], y, fractions=(0.01,))
    with pytest.raises(ValueError, match="score_slope: draws must be an int >= 1"):
        score_slope(X[:20], y, draws=0)
    # numpy's "low >= high"; an IndexError naming no argument
    with pytest.raises(
        ValueError, match="random_relabel: y must be \\(n,\\) integer classes, at least two"
    ):
        random_relabel(np.zeros(6, dtype=int), 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="student_t_assignments: X must have shape"):
        student_t_assignments(X[:6], y[:5])


def test_a_target_whose_features_are_all_uncorrelated_gives_no_evidence_of_correspondence():
    # Orthogonal, centred columns (a Hadamard matrix's): every target correlation is 0, so
    # the entries have no spread to agree with; the statistic is 0 (no evidence), not 1.
    Xt = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    Xs = correlated(40, 3, seed=1)
    out = feature_correspondence(Xs, Xt, n_permutations=9)
    assert out["statistic"] == 0.0
    assert out["null_mean"] == 0.0 and out["p_value"] == 1.0


def test_eps_zero_still_leaves_out_a_feature_constant_in_a_domain():
    # "whose standard deviation exceeds eps": at eps=0 a constant column (std 0) is out
    Xs = correlated(30, 5, seed=1)
    Xt = correlated(30, 5, seed=2)
    Xt[:, 1] = 3.0
    assert relatedness.varying_features(Xs, Xt, eps=0).tolist() == [True, False, True, True, True]
    assert feature_correspondence(Xs, Xt, n_permutations=9, eps=0)["n_features"] == 4


def test_two_varying_features_are_too_few_to_correlate_entries():
    # 2 features give one correlation entry per domain: nothing to correlate
    Xs, Xt = correlated(30, 4, seed=1), correlated(30, 4, seed=2)
    Xs[:, 2:] = 0.0
    with pytest.raises(
        ValueError, match="needs at least 3 features that vary in both domains, got 2"
    ):
        feature_correspondence(Xs, Xt)
    with pytest.raises(
        ValueError, match="needs at least 3 features that vary in both domains, got 2"
    ):
        structural_similarity(Xs, Xt)


def test_a_threshold_of_zero_is_in_range():
    # [0, 1] and >= 0: zero is a threshold, not a bad value
    relatedness.check_thresholds(0, 0)
    relatedness.check_thresholds(0.0, 0.0)


def test_check_source_runs_both_checks_with_its_seed():
    Xs, Xt = correlated(120, 20, seed=1), correlated(100, 20, seed=2)
    got = check_source(Xs, Xt, min_similarity=0.1, seed=3)
    test = feature_correspondence(Xs, Xt, n_permutations=99, seed=3)
    sim = structural_similarity(Xs, Xt, seed=3)
    assert got["null_mean"] == test["null_mean"] != feature_correspondence(Xs, Xt)["null_mean"]
    assert got["similarity"] == sim["similarity"] != structural_similarity(Xs, Xt)["similarity"]


def test_check_source_refuses_an_alpha_of_one():
    X = correlated(20, 20, seed=1)
    with pytest.raises(ValueError, match=r"^check_source: alpha must be in \(0, 1\), got 1.0$"):
        check_source(X, X, alpha=1.0)
