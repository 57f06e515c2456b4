"""Clustering metrics, with the matching that makes them comparable to classification.

A clustering names its groups arbitrarily, so accuracy needs a one-to-one map from
clusters to classes: the Hungarian algorithm (Kuhn, Naval Research Logistics Quarterly
1955) picks the map that maximises the number of matched samples (``cluster_acc``),
ties broken by the largest sum of per-class recalls so that the imbalance metrics do
not depend on the cluster ids (``hungarian_map``). When the clusters are named by
source classes (model transfer), accuracy without matching (``acc_unmatched``)
compares directly with the classification figures of domain adaptation papers.

All functions take ``y_true`` ``(n,)`` integer class labels and ``y_pred`` ``(n,)``
integer cluster labels; the number of clusters may differ from the number of classes
(unmatched clusters then count as errors).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

from dtc._validation import check_bool, host_array

__all__ = [
    "acc_unmatched",
    "ari",
    "balanced_accuracy",
    "cluster_acc",
    "contingency",
    "evaluate",
    "hungarian_map",
    "macro_f1",
    "match_labels",
    "minority_recall",
    "nmi",
    "per_class_recall",
    "purity",
]


def _check_vector(y, name: str) -> np.ndarray:
    """``y`` as a non-empty int64 vector ``(n,)`` of integer labels (negative allowed;
    integer-valued floats accepted); ``ValueError`` naming ``name`` otherwise."""
    y = np.asarray(host_array(y, name))
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d label vector of shape (n,), got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name}: expected at least one label, got an empty vector")
    if y.dtype.kind not in "iub" and not (
        y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y))
    ):
        raise ValueError(f"{name}: expected integer labels, got dtype {y.dtype}")
    # float(): 2**63 cast to float16 overflowed with a warning
    if y.dtype.kind == "f" and float(np.abs(y).max()) >= 2.0**63:
        # the int64 cast maps every such value to one number: distinct classes would merge
        raise ValueError(
            f"{name}: expected integer labels within int64's range, got {np.abs(y).max():.3g}"
        )
    if y.dtype.kind == "u" and int(y.max()) > np.iinfo(np.int64).max:
        # the int64 cast wraps them to negative labels: a class renamed without a word
        raise ValueError(
            f"{name}: expected integer labels within int64's range, got {int(y.max())}"
        )
    return y.astype(np.int64)


def _check(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    yt, yp = _check_vector(y_true, "y_true"), _check_vector(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(
            f"y_true has {yt.shape[0]} labels and y_pred has {yp.shape[0]}; expected the same length"
        )
    return yt, yp


def contingency(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts ``C[i, j]`` of samples of class ``classes[i]`` in cluster ``clusters[j]``.

    ``y_true`` ``(n,)`` class labels, ``y_pred`` ``(n,)`` cluster labels. Returns
    ``(C, classes, clusters)``: ``C`` int64 of shape ``(n_classes, n_clusters)``,
    ``classes`` ``(n_classes,)`` and ``clusters`` ``(n_clusters,)`` the sorted distinct labels.
    """
    yt, yp = _check(y_true, y_pred)
    classes, ti = np.unique(yt, return_inverse=True)
    clusters, pi = np.unique(yp, return_inverse=True)
    C = np.zeros((classes.size, clusters.size), dtype=np.int64)
    np.add.at(C, (ti, pi), 1)
    return C, classes, clusters


def _matching(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (classes) and columns (clusters) of the one-to-one matching of the
    contingency table ``C`` ``(n_classes, n_clusters)`` that maximises the matched count
    and, among the matchings with that count, the sum of the matched classes' recalls.

    The count alone often ties (several matchings match as many samples), and scipy then
    picks one by column order, i.e. by the arbitrary cluster ids: renaming the clusters
    would change every recall-based metric. The recall sum depends on the table only.
    Both are maximised at once with the weights ``C[i, j] + eps * C[i, j] / |class i|``,
    ``eps = 1 / (k + 1)`` for ``k`` classes. Why the maximum count is kept: a matching's
    weight is ``count + eps * R`` with ``R`` its recall sum, ``0 <= R <= k`` (at most one
    cluster per class, recall <= 1), so ``0 <= eps * R <= k / (k + 1) < 1``. Counts are
    integers, so a matching with a count below the maximum ``m`` weighs at most
    ``m - 1 + k / (k + 1) < m``, less than any matching of count ``m``: the heaviest
    matching has count ``m`` (ACC is unchanged) and, among those, the largest ``R``.
    The margin ``1 / (k + 1)`` dwarfs float rounding (about ``1e-16 * n``).

    A tie on both is left to scipy, which decides by column order: the columns are put in
    an order of their contents first (lexicographic over the classes), so the same table
    under renamed clusters is the same matrix and gets the same matching. Clusters with
    identical columns are interchangeable for every metric. Renamed *classes* reorder the
    rows, and under such a double tie scipy may then pick another matching of the same
    count and recall sum: ACC and balanced accuracy are the same, but the worst class's
    recall and the macro F1 can differ (3 of 3,000 random tables of 2 or 3 classes; e.g.
    rows ``[0, 0, 2] / [1, 0, 2] / [2, 1, 0]``, recalls ``(1, 0, 2/3)`` or ``(1, 1/3, 1/3)``).
    A canonical order of rows and columns together would settle it (a graph-canonisation
    problem): not attempted."""
    sizes = C.sum(axis=1, keepdims=True)  # every class of the table has >= 1 sample
    eps = 1.0 / (C.shape[0] + 1)
    order = np.lexsort(C[::-1])  # columns sorted by class 0's count, then class 1's, ...
    rows, cols = linear_sum_assignment((C + eps * (C / sizes))[:, order], maximize=True)
    return rows, order[cols]


def hungarian_map(y_true, y_pred) -> dict[int, int]:
    """The cluster -> class map maximising matched samples (one-to-one; a cluster
    left without a class when there are more clusters than classes is absent), from
    ``y_true`` ``(n,)`` class labels and ``y_pred`` ``(n,)`` cluster labels.

    Ties (several maps matching as many samples) are broken by the largest sum of
    per-class recalls, then by an order of the clusters' class counts: both depend on the
    contingency table only, so renaming the clusters does not change any metric."""
    C, classes, clusters = contingency(y_true, y_pred)
    rows, cols = _matching(C)
    return {int(clusters[c]): int(classes[r]) for r, c in zip(rows, cols)}


def match_labels(y_true, y_pred) -> np.ndarray:
    """``y_pred`` ``(n,)`` relabelled with the Hungarian map against ``y_true`` ``(n,)``:
    an int64 array of shape ``(n,)``; samples of an unmatched cluster get
    ``min(y_true) - 1``, a label no class has (``-1`` for classes ``0..k-1``)."""
    yt, yp = _check(y_true, y_pred)
    if yt.min() == np.iinfo(np.int64).min:
        raise ValueError(
            "y_true: a class labelled int64's minimum leaves no label below it for the "
            "samples of unmatched clusters; relabel the classes"
        )
    mapping = hungarian_map(yt, yp)
    # Not a fixed -1: with a class labelled -1 the unmatched samples would count as hits.
    unmatched = int(yt.min()) - 1
    return np.array([mapping.get(int(c), unmatched) for c in yp], dtype=np.int64)


def cluster_acc(y_true, y_pred) -> float:
    """Clustering accuracy of ``y_pred`` ``(n,)`` against ``y_true`` ``(n,)``: the fraction
    of samples whose Hungarian-matched cluster is their class (in [0, 1]).

    Examples
    --------
    Cluster numbers are arbitrary: a relabelled partition scores 1; one sample in the
    wrong cluster of four scores 3/4.

    >>> cluster_acc([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> cluster_acc([0, 0, 1, 1], [5, 7, 7, 7])
    0.75
    """
    C, _, _ = contingency(y_true, y_pred)
    rows, cols = _matching(C)
    return float(C[rows, cols].sum() / C.sum())


def acc_unmatched(y_true, y_pred, cluster_classes=None) -> float:
    """Accuracy without matching of ``y_pred`` ``(n,)`` against ``y_true`` ``(n,)``: cluster
    ``c`` predicts class ``cluster_classes[c]`` (identity when ``None``). Meaningful only when clusters are named by source classes.

    ``cluster_classes`` ``(n_clusters,)`` holds integer class labels; anything else (a
    non-integer value, a 2-d array) is a ``ValueError`` naming it, not a truncation."""
    yt, yp = _check(y_true, y_pred)
    if cluster_classes is not None:
        names = _check_vector(cluster_classes, "cluster_classes")
        bad = np.unique(yp[(yp < 0) | (yp >= names.size)])
        if bad.size:
            raise ValueError(
                f"y_pred must hold clusters in [0, {names.size}) (cluster_classes has "
                f"{names.size} entries), got {bad[:5].tolist()}"
            )
        yp = names[yp]
    return float(np.mean(yt == yp))


def nmi(y_true, y_pred) -> float:
    """Normalised mutual information of ``y_true`` ``(n,)`` and ``y_pred`` ``(n,)``.

    Strehl & Ghosh (JMLR 2002) normalise by the geometric mean of the two entropies;
    this is the arithmetic-mean normalisation (scikit-learn's default; the variants are
    compared by Vinh, Epps & Bailey, JMLR 2010)."""
    return float(skm.normalized_mutual_info_score(*_check(y_true, y_pred)))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index of ``y_true`` ``(n,)`` and ``y_pred`` ``(n,)`` (Hubert & Arabie,
    Journal of Classification 1985)."""
    return float(skm.adjusted_rand_score(*_check(y_true, y_pred)))


def purity(y_true, y_pred) -> float:
    """Fraction of samples of ``y_pred`` ``(n,)`` in the majority class (``y_true``
    ``(n,)``) of their cluster (many-to-one; e.g.
    Manning, Raghavan & Schuetze, Introduction to Information Retrieval, 2008, Sec. 16.3)."""
    C, _, _ = contingency(y_true, y_pred)
    return float(C.max(axis=0).sum() / C.sum())


def _recalls(yt: np.ndarray, matched: np.ndarray) -> dict[int, float]:
    return {int(c): float(np.mean(matched[yt == c] == c)) for c in np.unique(yt)}


def _macro_f1(yt: np.ndarray, matched: np.ndarray) -> float:
    return float(skm.f1_score(yt, matched, labels=np.unique(yt), average="macro", zero_division=0))


def _minority_recall(yt: np.ndarray, recalls: dict[int, float]) -> float:
    classes, counts = np.unique(yt, return_counts=True)
    return float(np.mean([recalls[int(c)] for c in classes[counts == counts.min()]]))


def per_class_recall(y_true, y_pred) -> dict[int, float]:
    """Recall of every true class of ``y_true`` ``(n,)`` after Hungarian matching of
    ``y_pred`` ``(n,)``, as ``{class: recall}``: shows minority classes."""
    yt, _ = _check(y_true, y_pred)
    return _recalls(yt, match_labels(y_true, y_pred))


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean per-class recall of ``y_pred`` ``(n,)`` against ``y_true`` ``(n,)`` after
    Hungarian matching."""
    return float(np.mean(list(per_class_recall(y_true, y_pred).values())))


def minority_recall(y_true, y_pred) -> float:
    """Recall of the smallest class of ``y_true`` ``(n,)`` after Hungarian matching of
    ``y_pred`` ``(n,)`` (the mean over the
    smallest classes when several share the smallest size). Not the worst class's
    recall (``evaluate``'s ``min_recall``): on an imbalanced target the worst-recovered
    class is often a large one."""
    yt, _ = _check(y_true, y_pred)
    return _minority_recall(yt, per_class_recall(y_true, y_pred))


def macro_f1(y_true, y_pred) -> float:
    """Macro-averaged F1 over the classes of ``y_true`` ``(n,)`` after Hungarian matching of
    ``y_pred`` ``(n,)``."""
    yt, _ = _check(y_true, y_pred)
    return _macro_f1(yt, match_labels(y_true, y_pred))


def evaluate(y_true, y_pred, *, cluster_classes=None, imbalance: bool = False) -> dict[str, float]:
    """The standard report on ``y_true`` ``(n,)`` class labels and ``y_pred`` ``(n,)``
    cluster labels, a dict of floats: ``acc`` (Hungarian), ``nmi``, ``ari``, ``purity``;
    ``acc_unmatched`` when ``cluster_classes`` ``(n_clusters,)`` is given (cluster ``c``
    named by class ``cluster_classes[c]``, see :func:`acc_unmatched`); with
    ``imbalance=True`` also
    ``macro_f1``, ``balanced_acc``, ``min_recall`` (the worst class's recall) and
    ``minority_recall`` (the smallest class's recall).

    Examples
    --------
    One cluster for a target with a 20 % minority class: ACC reads 0.8, the imbalance
    metrics show the minority class lost.

    >>> scores = evaluate([0] * 8 + [1] * 2, [0] * 10, imbalance=True)
    >>> {name: scores[name] for name in ("acc", "balanced_acc", "minority_recall")}
    {'acc': 0.8, 'balanced_acc': 0.5, 'minority_recall': 0.0}
    """
    imbalance = check_bool(imbalance, method="evaluate", name="imbalance")
    out = {
        "acc": cluster_acc(y_true, y_pred),
        "nmi": nmi(y_true, y_pred),
        "ari": ari(y_true, y_pred),
        "purity": purity(y_true, y_pred),
    }
    if cluster_classes is not None:
        out["acc_unmatched"] = acc_unmatched(y_true, y_pred, cluster_classes)
    if imbalance:
        # One Hungarian matching serves every imbalance metric.
        yt, _ = _check(y_true, y_pred)
        matched = match_labels(y_true, y_pred)
        recalls = _recalls(yt, matched)
        out["macro_f1"] = _macro_f1(yt, matched)
        out["balanced_acc"] = float(np.mean(list(recalls.values())))
        out["min_recall"] = float(min(recalls.values()))
        out["minority_recall"] = _minority_recall(yt, recalls)
    return out
