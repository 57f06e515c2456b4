"""Metrics on hand-computed cases and against scikit-learn."""

import itertools
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from dtc import metrics


def test_cluster_acc_is_invariant_to_cluster_names():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert metrics.cluster_acc(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0


def test_cluster_acc_hand_computed():
    # Classes 0,0,0,1,1,1; clusters 1,1,0,0,0,0: best map 1->0, 0->1 matches 2 + 3 = 5 of 6.
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([1, 1, 0, 0, 0, 0])
    assert metrics.cluster_acc(y, p) == pytest.approx(5 / 6)
    assert metrics.hungarian_map(y, p) == {1: 0, 0: 1}


def test_cluster_acc_more_clusters_than_classes():
    # Three clusters for two classes: one cluster stays unmatched and counts as errors.
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0, 0, 2, 1, 1, 1])
    assert metrics.cluster_acc(y, p) == pytest.approx(5 / 6)
    assert metrics.match_labels(y, p).tolist() == [0, 0, -1, 1, 1, 1]


def test_cluster_acc_fewer_clusters_than_classes():
    y = np.array([0, 1, 2, 2])
    p = np.array([0, 0, 1, 1])
    assert metrics.cluster_acc(y, p) == pytest.approx(3 / 4)


def test_cluster_acc_equals_accuracy_when_names_match():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    p = np.where(rng.random(200) < 0.8, y, rng.integers(0, 5, 200))
    # With 80% agreement the identity is the best map, so Hungarian ACC = plain accuracy.
    assert metrics.cluster_acc(y, p) == pytest.approx(skm.accuracy_score(y, p))


def test_nmi_ari_match_sklearn():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 4, 100), rng.integers(0, 6, 100)
    assert metrics.nmi(y, p) == pytest.approx(skm.normalized_mutual_info_score(y, p))
    assert metrics.ari(y, p) == pytest.approx(skm.adjusted_rand_score(y, p))


def test_purity_hand_computed():
    y = np.array([0, 0, 1, 1, 1, 2])
    p = np.array([0, 0, 0, 1, 1, 1])
    # cluster 0: {0,0,1} -> 2; cluster 1: {1,1,2} -> 2; purity 4/6.
    assert metrics.purity(y, p) == pytest.approx(4 / 6)


def test_imbalance_metrics_show_the_minority_class():
    # Majority class 0 (8 samples) right, minority class 1 (2 samples) merged into it.
    y = np.array([0] * 8 + [1] * 2)
    p = np.array([0] * 8 + [0, 1])
    recalls = metrics.per_class_recall(y, p)
    assert recalls == {0: 1.0, 1: 0.5}
    assert metrics.balanced_accuracy(y, p) == pytest.approx(0.75)
    # by hand: class 0 precision 8/9, recall 1 -> F1 16/17; class 1 precision 1, recall 1/2
    # -> F1 2/3 (sklearn on the matched labels would be macro_f1's own computation)
    assert metrics.macro_f1(y, p) == pytest.approx((16 / 17 + 2 / 3) / 2)
    report = metrics.evaluate(y, p, imbalance=True)
    assert report["min_recall"] == 0.5
    assert report["acc"] == pytest.approx(0.9)


def test_minority_recall_is_the_smallest_class_not_the_worst_one():
    # Class 2 (3 samples) is the minority and recovered exactly; the large class 0 is
    # split, so the worst class is a majority one. By hand: Hungarian maps clusters
    # 0 -> 0, 1 -> 1, 2 -> 2 and cluster 3 is unmatched; recalls 0: 2/4, 1: 4/4, 2: 3/3.
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    p = np.array([0, 0, 3, 3, 1, 1, 1, 1, 2, 2, 2])
    assert metrics.per_class_recall(y, p) == {0: 0.5, 1: 1.0, 2: 1.0}
    assert metrics.minority_recall(y, p) == 1.0
    report = metrics.evaluate(y, p, imbalance=True)
    assert (report["min_recall"], report["minority_recall"]) == (0.5, 1.0)
    # Two classes share the smallest size: the mean of their recalls (1/2 and 2/2).
    y2 = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p2 = np.array([0, 0, 0, 0, 1, 0, 2, 2])
    assert metrics.minority_recall(y2, p2) == pytest.approx(0.75)


def test_unmatched_clusters_never_count_as_a_class_labelled_minus_one():
    # Clusters 0 and 1 hold class -1, cluster 2 holds class 0: one of the first two is
    # unmatched, so class -1 has recall 1/2 (ACC 3/4), whichever label marks "unmatched".
    y = np.array([-1, -1, 0, 0])
    p = np.array([0, 1, 2, 2])
    assert metrics.cluster_acc(y, p) == 0.75
    assert metrics.per_class_recall(y, p) == {-1: 0.5, 0: 1.0}
    assert metrics.balanced_accuracy(y, p) == 0.75
    assert -2 in metrics.match_labels(y, p)


IMBALANCE_KEYS = ("macro_f1", "balanced_acc", "min_recall", "minority_recall")


def test_imbalance_metrics_do_not_depend_on_cluster_names_reviewer_case():
    # Classes 0 (1 sample), 1 (3), 2 (1); clusters {0, 1, 1}, {1}, {2}. Two maps match
    # 3 of 5 samples: class 1 -> {0, 1, 1}, 2 -> {2} (recalls 0, 2/3, 1, sum 5/3) and
    # 0 -> {0, 1, 1}, 1 -> {1}, 2 -> {2} (recalls 1, 1/3, 1, sum 7/3). The larger recall
    # sum wins whatever the clusters are called; by hand the second map gives
    # precisions 1/3, 1, 1 and F1 1/2, 1/2, 1.
    y = np.array([0, 1, 1, 1, 2])
    expected = {
        "acc": 0.6,
        "macro_f1": 2 / 3,
        "balanced_acc": 7 / 9,
        "min_recall": 1 / 3,
        "minority_recall": 1.0,
    }
    for p in ([1, 1, 2, 1, 0], [2, 2, 1, 2, 0], [0, 0, 5, 0, 9]):
        report = metrics.evaluate(y, np.array(p), imbalance=True)
        for key, value in expected.items():
            assert report[key] == pytest.approx(value, abs=1e-12), (p, key)
        assert metrics.per_class_recall(y, p) == pytest.approx({0: 1.0, 1: 1 / 3, 2: 1.0})


def test_tie_break_weight_never_trades_matched_samples_for_recall():
    # The recall-sum tie-break must stay below one sample: eps = 1 / (k + 1) bounds it by
    # k / (k + 1) < 1. Here (classes of sizes 6, 20, 1, 1) the only matching of count 10,
    # classes -> clusters (3, 1, 2, 0), has recall sum 101/60 (weight 10 + 1.68 eps) and a
    # count-9 one, (1, 2, 3, 0), recall sum 27/10: with eps = 1 the latter weighs 11.7 >
    # 11.68 and ACC would drop to 9/28. The maximum count comes from scipy on the plain
    # table, without any tie-break.
    C = np.array([[1, 3, 0, 2], [4, 7, 4, 5], [0, 0, 0, 1], [1, 0, 0, 0]])
    cells = [(i, j) for i in range(4) for j in range(4)]
    y = np.concatenate([np.full(C[i, j], i) for i, j in cells])
    p = np.concatenate([np.full(C[i, j], j) for i, j in cells])
    assert y.size == 28
    rows, cols = linear_sum_assignment(C, maximize=True)
    assert C[rows, cols].sum() == 10
    assert metrics.cluster_acc(y, p) == 10 / 28
    assert np.sum(metrics.match_labels(y, p) == y) == 10


def _best_matchings(y, p):
    """By brute force: ``(count, best, tied)``, the largest matched count, the set of
    one-to-one cluster -> class maps (as sorted item tuples) with that count and, among
    those, the largest recall sum (exact fractions), and whether the count alone ties."""
    classes, clusters = np.unique(y), np.unique(p)
    C = np.array([[np.sum((y == a) & (p == b)) for b in clusters] for a in classes])
    sizes = C.sum(axis=1)
    scored = []
    if clusters.size >= classes.size:
        pairings = [
            list(zip(range(classes.size), cols))
            for cols in itertools.permutations(range(clusters.size), classes.size)
        ]
    else:
        pairings = [
            list(zip(rows, range(clusters.size)))
            for rows in itertools.permutations(range(classes.size), clusters.size)
        ]
    for pairs in pairings:
        count = sum(int(C[r, c]) for r, c in pairs)
        recall = sum(Fraction(int(C[r, c]), int(sizes[r])) for r, c in pairs)
        # Pairs with no sample do not change any metric: leave them out of the map.
        mapping = {int(clusters[c]): int(classes[r]) for r, c in pairs if C[r, c]}
        scored.append(((count, recall), mapping))
    top = max(score for score, _ in scored)
    best = {tuple(sorted(m.items())) for score, m in scored if score == top}
    count_ties = {tuple(sorted(m.items())) for score, m in scored if score[0] == top[0]}
    return top[0], best, len(count_ties) > 1


def test_matching_keeps_acc_and_breaks_ties_by_recall_sum_random_cases():
    rng = np.random.default_rng(0)
    unique = tie_broken = 0
    for _ in range(200):
        n_classes, n_clusters = rng.integers(2, 5), rng.integers(2, 6)
        y = np.repeat(np.arange(n_classes), rng.integers(1, 5, n_classes))
        p = np.where(rng.random(y.size) < 0.3, y, rng.integers(0, n_clusters, y.size))
        count, best, tied = _best_matchings(y, p)
        # ACC: the maximum count, as the plain Hungarian matching (no tie-break) gives it.
        classes, clusters = np.unique(y), np.unique(p)
        C = np.array([[np.sum((y == a) & (p == b)) for b in clusters] for a in classes])
        rows, cols = linear_sum_assignment(C, maximize=True)
        assert metrics.cluster_acc(y, p) == C[rows, cols].sum() / y.size == count / y.size
        assert np.mean(metrics.match_labels(y, p) == y) == pytest.approx(count / y.size)
        if len(best) > 1:
            continue  # a tie the recall sum does not break either
        unique += 1
        tie_broken += tied
        found = metrics.hungarian_map(y, p)
        nonzero = {c: k for c, k in found.items() if np.any((p == c) & (y == k))}
        assert tuple(sorted(nonzero.items())) in best
        # Rename the clusters (a permutation, then ids far apart): nothing changes.
        report = metrics.evaluate(y, p, imbalance=True)
        ids = p.max() + 1
        for rename in (rng.permutation(ids), 100 - 7 * rng.permutation(ids)):
            renamed = metrics.evaluate(y, rename[p], imbalance=True)
            for key in ("acc", *IMBALANCE_KEYS):
                assert renamed[key] == pytest.approx(report[key], abs=1e-12), key
    # The check ran on many cases, many of them ties on the count alone.
    assert unique >= 100 and tie_broken >= 20, (unique, tie_broken)


def test_acc_unmatched_uses_cluster_names():
    y = np.array([0, 1, 2, 2])
    p = np.array([2, 0, 1, 1])
    assert metrics.acc_unmatched(y, p) == 0.0
    assert metrics.acc_unmatched(y, p, cluster_classes=[1, 2, 0]) == 1.0
    assert "acc_unmatched" in metrics.evaluate(y, p, cluster_classes=[1, 2, 0])


@pytest.mark.parametrize(
    ("cluster_classes", "match"),
    [
        # cast to int64 before: silently [0, 1], which scored 1.0 here
        ([0.5, 1.2], r"cluster_classes: expected integer labels, got dtype float64"),
        ([[0, 1], [1, 0]], r"cluster_classes: expected a 1-d label vector .* shape \(2, 2\)"),
        ([], "cluster_classes: expected at least one label"),
        (["a", "b"], "cluster_classes: expected integer labels"),
    ],
)
def test_acc_unmatched_names_bad_cluster_classes(cluster_classes, match):
    with pytest.raises(ValueError, match=match):
        metrics.acc_unmatched([0, 1, 1], [0, 1, 1], cluster_classes)
    with pytest.raises(ValueError, match=match):
        metrics.evaluate([0, 1, 1], [0, 1, 1], cluster_classes=cluster_classes)


@pytest.mark.parametrize("cluster", [-1, 2])
def test_acc_unmatched_refuses_clusters_outside_cluster_classes(cluster):
    # cluster -1 would read cluster_classes[-1] (the last name), cluster 2 an IndexError
    with pytest.raises(ValueError, match=rf"y_pred must hold clusters in \[0, 2\).*\[{cluster}\]"):
        metrics.acc_unmatched([0, 1, 1], [0, 1, cluster], [0, 1])


def test_acc_unmatched_takes_integer_valued_floats_and_negative_classes():
    # clusters 1, 0, 1 -> classes -1, 0, -1: two of three right
    assert metrics.acc_unmatched([-1, 0, 0], [1, 0, 1], [0.0, -1.0]) == pytest.approx(2 / 3)
    assert metrics.acc_unmatched([-1, 0, 0], [0, 1, 1], np.array([-1, 0])) == 1.0


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        (np.array([0, 1]), np.array([0, 1, 1]), "same length"),
        (np.array([]), np.array([]), "at least one"),
        (np.array([0.5, 1.0]), np.array([0, 1]), "integer"),
        (np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int), "1-d"),
    ],
)
def test_bad_input(y, p, match):
    with pytest.raises(ValueError, match=match):
        metrics.cluster_acc(y, p)


@pytest.mark.parametrize("imbalance", ["yes", "no", 1, None])
def test_evaluate_refuses_an_imbalance_that_is_not_a_bool(imbalance):
    # a truthy string such as "no" was taken as True
    with pytest.raises(ValueError, match="evaluate: imbalance must be True or False"):
        metrics.evaluate([0, 1], [0, 1], imbalance=imbalance)


def test_evaluate_every_key_matches_independent_references():
    # Imbalanced, noisy, four clusters for three classes: nmi != ari, purity != acc and
    # macro_f1 != balanced_acc, so a key computed by the wrong routine shows.
    rng = np.random.default_rng(7)
    y = np.repeat([0, 1, 2], [30, 12, 6])
    p = np.where(rng.random(y.size) < 0.7, y, rng.integers(0, 4, y.size))
    cluster_classes = [2, 0, 1, 1]
    report = metrics.evaluate(y, p, cluster_classes=cluster_classes, imbalance=True)

    # Hungarian matching computed here: rows = classes, columns = clusters.
    classes, clusters = np.unique(y), np.unique(p)
    C = np.array([[np.sum((y == a) & (p == b)) for b in clusters] for a in classes])
    rows, cols = linear_sum_assignment(C, maximize=True)
    to_class = {int(clusters[c]): int(classes[r]) for r, c in zip(rows, cols)}
    matched = np.array([to_class.get(int(c), -1) for c in p])
    recalls = [np.mean(matched[y == c] == c) for c in classes]
    smallest = classes[np.bincount(y) == np.bincount(y).min()]
    # Purity: the majority class count of every cluster, summed, over n.
    purity = sum(np.bincount(y[p == c]).max() for c in clusters) / y.size

    expected = {
        "acc": np.mean(matched == y),
        "nmi": skm.normalized_mutual_info_score(y, p),
        "ari": skm.adjusted_rand_score(y, p),
        "purity": purity,
        "acc_unmatched": np.mean(np.asarray(cluster_classes)[p] == y),
        "macro_f1": skm.f1_score(y, matched, labels=classes, average="macro", zero_division=0),
        "balanced_acc": np.mean(recalls),
        "min_recall": min(recalls),
        "minority_recall": np.mean([recalls[int(c)] for c in smallest]),
    }
    assert set(report) == set(expected)
    for key, value in expected.items():
        assert report[key] == pytest.approx(value, abs=1e-12), key
    # The case separates the keys a swap would confuse.
    assert len({round(v, 9) for v in expected.values()}) == len(expected)


def test_renaming_clusters_changes_no_metric_even_on_a_tie_of_count_and_recall_sum():
    """The reviewer's case: count and recall sum both tie; scipy's column order would decide,
    so min_recall read 0.25 or 0.0 by the clusters' names. Columns are put in an order of
    their contents first."""
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
    p = np.array([0, 0, 2, 2, 1, 2, 2, 2, 0, 0, 0, 2, 2, 2])
    report = metrics.evaluate(y, p, imbalance=True)
    for rename in (np.array([1, 2, 0]), np.array([2, 0, 1]), np.array([9, 4, 7])):
        renamed = metrics.evaluate(y, rename[p], imbalance=True)
        for key in ("acc", *IMBALANCE_KEYS):
            assert renamed[key] == pytest.approx(report[key], abs=1e-12), key
    rng = np.random.default_rng(3)
    for _ in range(200):  # ties included this time
        y = np.repeat(np.arange(3), rng.integers(1, 4, 3))
        p = rng.integers(0, 4, y.size)
        report = metrics.evaluate(y, p, imbalance=True)
        renamed = metrics.evaluate(y, rng.permutation(4)[p], imbalance=True)
        for key in ("acc", *IMBALANCE_KEYS):
            assert renamed[key] == pytest.approx(report[key], abs=1e-12), key


@pytest.mark.parametrize("n_clusters", [1, 2, 3, 5, 8])
def test_imbalance_metrics_match_sklearn_on_the_matched_labels(n_clusters):
    # More, fewer or as many clusters as the 4 classes (the largest of them empty in
    # most draws: cluster ids with gaps), classes no matched cluster predicts: every
    # metric is scikit-learn's on the Hungarian-matched labels, unmatched clusters an
    # extra label no class has (recall_score / balanced_accuracy_score ignore it).
    rng = np.random.default_rng(n_clusters)
    for _ in range(20):
        y = np.repeat([0, 1, 2, 3], rng.integers(1, 12, size=4)) * 2 - 1  # -1, 1, 3, 5
        p = rng.integers(0, n_clusters, size=y.size) * 3
        classes = np.unique(y)
        matched = metrics.match_labels(y, p)
        recall = skm.recall_score(y, matched, labels=classes, average=None, zero_division=0)
        assert metrics.per_class_recall(y, p) == pytest.approx(dict(zip(classes.tolist(), recall)))
        with warnings.catch_warnings():  # y_pred holds a label y_true lacks: expected
            warnings.simplefilter("ignore", UserWarning)
            balanced = skm.balanced_accuracy_score(y, matched)
        assert metrics.balanced_accuracy(y, p) == pytest.approx(balanced, abs=1e-12)
        f1 = skm.f1_score(y, matched, labels=classes, average="macro", zero_division=0)
        assert metrics.macro_f1(y, p) == pytest.approx(f1, abs=1e-12)
        sizes = np.array([np.sum(y == c) for c in classes])
        report = metrics.evaluate(y, p, imbalance=True)
        assert report["min_recall"] == pytest.approx(recall.min(), abs=1e-12)
        minority = recall[sizes == sizes.min()].mean()
        assert report["minority_recall"] == pytest.approx(minority, abs=1e-12)
        assert report["acc"] == pytest.approx(np.mean(matched == y), abs=1e-12)


def test_minority_recall_of_a_balanced_target_is_the_balanced_accuracy():
    # Ratio 1: every class is the smallest, so minority recall is the mean over all.
    y = np.repeat([0, 1, 2], 4)
    p = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 0, 2])
    report = metrics.evaluate(y, p, imbalance=True)
    assert report["minority_recall"] == report["balanced_acc"] == pytest.approx((3 + 4 + 3) / 12)


def test_float_labels_beyond_int64_are_refused_not_merged():
    """Integer-valued float labels are accepted; at 2**63 and beyond the int64 cast mapped
    every one of them to the same number, so 1e19 and 2e19 were one class (ACC 0.5 and
    NMI 0 for a perfect clustering)."""
    with pytest.raises(ValueError, match="y_true: expected integer labels within int64"):
        metrics.cluster_acc([1e19, 2e19], [0, 1])
    with pytest.raises(ValueError, match="y_pred: expected integer labels within int64"):
        metrics.nmi([0, 1], [-1e19, 1e19])
    assert metrics.cluster_acc([1e18, 2e18], [0, 1]) == 1.0
    # 2**63 itself is past int64's maximum (its cast gave int64's minimum, another class)
    with pytest.raises(ValueError, match="y_true: expected integer labels within int64"):
        metrics.cluster_acc([2.0**63, 0.0], [0, 1])


def test_unsigned_labels_beyond_int64_and_int64s_minimum_are_refused():
    # uint64 labels of 2**63 and beyond wrapped to negative classes (hungarian_map named
    # class 2**63 -9223372036854775808); a class at int64's minimum left no label below it
    # for unmatched clusters (an OverflowError naming no argument).
    big = np.array([2**63, 2**63, 5], dtype=np.uint64)
    with pytest.raises(ValueError, match="y_true: expected integer labels within int64's range"):
        metrics.hungarian_map(big, [0, 0, 1])
    with pytest.raises(ValueError, match="y_pred: expected integer labels within int64's range"):
        metrics.cluster_acc([0, 0, 1], big)
    ok = np.array([2**63 - 1, 5], dtype=np.uint64)
    assert metrics.hungarian_map(ok, [0, 1]) == {0: 2**63 - 1, 1: 5}
    lowest = np.array([np.iinfo(np.int64).min] * 2)
    assert metrics.cluster_acc(lowest, [0, 1]) == 0.5
    with pytest.raises(ValueError, match="y_true: a class labelled int64's minimum"):
        metrics.evaluate(lowest, [0, 1], imbalance=True)


def test_tensor_labels_are_read_and_meta_tensors_named():
    torch = pytest.importorskip("torch")
    y = np.array([0, 0, 1, 1])
    pred = torch.tensor([1.0, 1.0, 0.0, 0.0], requires_grad=True)
    assert metrics.cluster_acc(y, pred) == 1.0
    with pytest.raises(ValueError, match="^y_pred: got a tensor on the 'meta' device"):
        metrics.nmi(y, torch.zeros(4, device="meta"))


def test_float_array_takes_every_tensor_and_refuses_what_is_no_number():
    # bfloat16 / sparse tensors failed in torch's words; strings, bytes and dates cast to
    # numbers without a word; ragged lists and ints past a float's range in numpy's
    torch = pytest.importorskip("torch")
    from dtc._validation import float_array, is_finite_number

    x = torch.randn(6, 2)
    np.testing.assert_allclose(float_array(x.bfloat16(), "fn"), x.bfloat16().float().numpy())
    np.testing.assert_array_equal(float_array(x.to_sparse(), "fn"), x.numpy())
    for bad in ("1.5", b"12", np.datetime64("2020-01-01"), 10**400, [[1, 2], [3]]):
        with pytest.raises(ValueError, match="^fn: X must be a numeric array"):
            float_array(bad, "fn")
    assert is_finite_number(10**30) and not is_finite_number(10**400)
    assert not is_finite_number(True) and not is_finite_number(float("nan"))


def test_check_number_takes_a_0d_array_as_it_takes_a_0d_tensor(tmp_path):
    # a value read from an .npz file was refused by the arguments moved onto check_number
    # (floored_std's quantile, dan_scales' base, SND's temperature ...)
    import torch

    from dtc._validation import check_number

    path = tmp_path / "q.npy"
    np.save(path, np.asarray(0.5))
    memmap = np.load(path, mmap_mode="r")  # a 0-d np.memmap
    unmasked = np.ma.masked_array(0.5, mask=False)
    for value in (np.asarray(0.5), torch.tensor(0.5), np.float32(0.5), 0.5, memmap, unmasked):
        got = check_number(value, "q", low=0.0, high=1.0)
        assert got == 0.5 and type(got) is float
    for bad in (
        np.asarray(True),
        np.asarray(np.nan),
        np.asarray([0.5]),
        np.asarray("0.5"),
        np.asarray(np.datetime64(1, "ns")),  # item() is the int 1
        np.ma.masked_array(0.5, mask=True),  # a missing value
    ):
        with pytest.raises(ValueError, match="^q must be a number in"):
            check_number(bad, "q", low=0.0, high=1.0)
    assert check_number(np.asarray(3), "n", low=1) == 3.0


def test_half_precision_labels_raise_no_overflow_warning():
    """The int64-range check compared a float16 maximum with 2**63 cast to float16 (inf):
    a RuntimeWarning on every call with valid labels."""
    y = np.array([0, 1, 1, 2, 2, 2], dtype=np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.cluster_acc(y, y) == 1.0
