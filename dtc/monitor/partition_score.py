"""Scoring one partition of the target in given feature spaces: the common ground on which
the negative-transfer monitor (:mod:`dtc.monitor.negative_transfer`) and label-free model
selection (:mod:`dtc.monitor.selection`) compare partitions that came from different
embeddings.

A partition is scored by a label-free score of :mod:`dtc.monitor.scores` on each of a list
of feature matrices with the same rows (``spaces``) and the scores averaged
(:func:`common_space_score`); soft-assignment scores see Student-t assignments to the
partition's centroids (:func:`student_t_assignments`), so every estimator's partition can be
scored whether or not it produces probabilities. A partition collapsed into one cluster has
no score (:func:`is_collapsed`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dtc.monitor import scores
from dtc.monitor.scores import KNN_NEIGHBORS

__all__ = [
    "COLLAPSED",
    "METRICS",
    "UNUSABLE_SCORES",
    "check_scored_rows",
    "common_space_score",
    "is_collapsed",
    "min_scored_rows",
    "scored_space",
    "student_t_assignments",
    "unusable_reason",
    "usable_scores",
]

#: The geometries a score can see the rows in (:func:`scored_space`).
METRICS = ("euclidean", "cosine")


def student_t_assignments(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Student-t soft assignments ``(n, k)`` of the rows of ``X`` ``(n, d)`` to the
    centroids of the partition ``labels`` ``(n,)`` (DEC's kernel with one degree of
    freedom, Xie et al., ICML 2016), after scaling ``X`` to unit mean squared distance
    to its mean so that the kernel width means the same in every space."""
    X, labels = np.asarray(X, dtype=np.float64), np.asarray(labels)
    if X.ndim != 2 or labels.shape != (X.shape[0],):
        raise ValueError(
            f"student_t_assignments: X must have shape (n, d) and labels shape (n,), got "
            f"{X.shape} and {labels.shape}"
        )
    bad = int((~np.isfinite(X)).any(1).sum())
    if bad:
        # one NaN spread through the mean and scale into every row, and the error blamed
        # the soft assignments (probs) of all of them
        raise ValueError(
            f"student_t_assignments: X must be finite, found NaN or Inf in {bad} row(s)"
        )
    # Brought to unit magnitude by powers of two (exact, so the result is the same bit for
    # bit) before and after centring: beyond ~1e154 the squares overflowed (scale inf) and
    # below ~1e-154 they underflowed (scale 0, taken as 1), and either way every row was
    # at distance ~0 from every centroid: uniform assignments, IM 0, whatever the partition.
    X = np.ldexp(X, scores._unit_exponent(X))
    Xc = X - X.mean(0)
    Xc = np.ldexp(Xc, scores._unit_exponent(Xc))
    scale = math.sqrt(float((Xc**2).sum(1).mean())) or 1.0
    Xc = Xc / scale
    names = np.unique(labels)
    centres = np.stack([Xc[labels == c].mean(0) for c in names])
    # one centre at a time: an (n, k, d) difference array was 6 GB at 10^5 rows of 800
    d2 = np.stack([((Xc - c) ** 2).sum(1) for c in centres], axis=1)
    q = 1.0 / (1.0 + d2)
    return q / q.sum(1, keepdims=True)


def min_scored_rows(name: str, n_clusters: int) -> tuple[int, str]:
    """The fewest rows on which :func:`common_space_score` can score a partition into
    ``n_clusters`` clusters by ``name``, and why: more rows than clusters (K-means, the
    label scores, the Student-t assignments), and for
    :func:`~dtc.monitor.scores.knn_agreement` more rows than its ``KNN_NEIGHBORS``
    neighbours."""
    if name == "knn_agreement" and n_clusters <= KNN_NEIGHBORS:
        return KNN_NEIGHBORS + 1, f"more rows than its n_neighbors={KNN_NEIGHBORS}"
    return n_clusters + 1, f"more rows than the {n_clusters} clusters"


def check_scored_rows(
    owner: str,
    name: str,
    n_clusters: int,
    n: int,
    max_samples: int | None,
    *,
    what: str = "target",
    hint: str = "",
) -> None:
    """``ValueError`` from ``owner`` when a subsample of ``min(n, max_samples)`` rows of
    the ``what`` (``n`` rows) is too small for score ``name`` to score ``n_clusters``
    clusters (:func:`min_scored_rows`), naming ``max_samples`` when it is the limit.
    Checked before anything is trained: the score would fail only once it is computed."""
    if max_samples is not None and (
        isinstance(max_samples, bool)
        or not isinstance(max_samples, numbers.Integral)
        or max_samples < 1
    ):
        # int() first: "bogus" was an int() error, -1 or True "too small"
        raise ValueError(f"{owner}: max_samples: expected None or an int >= 1, got {max_samples!r}")
    m = n if max_samples is None else min(n, int(max_samples))
    need, why = min_scored_rows(name, n_clusters)
    if m >= need:
        return
    cause = f"the {what} has {n} samples" if n < need else f"max_samples={max_samples} is too small"
    raise ValueError(
        f"{owner}: score {name!r} of {n_clusters} clusters needs at least {need} scored {what} "
        f"samples ({why}), scored on a subsample of min(n, max_samples)={m} rows; {cause}{hint}"
    )


#: Decision and reason recorded for a transfer partition collapsed into one cluster.
COLLAPSED = "collapsed_partition"


def is_collapsed(labels) -> bool:
    """Whether the partition ``labels`` ``(n,)`` puts every row in one cluster. No
    label-free score is defined for it (each raises ``ValueError``), and a target collapsed
    into one cluster is the worst negative transfer: the monitor flags it and never restores
    it, and model selection ranks it last (``"collapsed_partition"``)."""
    return np.unique(np.asarray(labels)).size < 2


#: Scores of :mod:`dtc.monitor.scores` that cannot judge a given partition, and why.
UNUSABLE_SCORES = {
    "clustering_stability": "it scores a clustering algorithm on resamples, not a given partition",
    # On the digits target random labels scored 6.800 and the true classes 6.736.
    "soft_neighborhood_density": (
        "a partition is scored on Student-t assignments to its centroids, which a poor "
        "partition makes nearly uniform, the score's maximum: random labels outscore the "
        "true classes"
    ),
}


def usable_scores() -> list[str]:
    """Names a monitor or a model selection can score a partition by (the scores of
    :mod:`dtc.monitor.scores` but :data:`UNUSABLE_SCORES`)."""
    return sorted((set(scores.LABEL_SCORES) | set(scores.PROB_SCORES)) - set(UNUSABLE_SCORES))


def unusable_reason(name) -> str:
    """`` (why)`` for a score name in :data:`UNUSABLE_SCORES`, else ``""``: the end of the
    error refusing it."""
    return (
        f" ({UNUSABLE_SCORES[name]})" if isinstance(name, str) and name in UNUSABLE_SCORES else ""
    )


def common_space_score(name: str, labels, spaces) -> float:
    """Mean of the label-free score ``name`` of one partition ``labels`` ``(n,)`` over the
    feature matrices ``spaces`` (each ``(n, d_i)``, the same rows).

    Label scores (``scores.LABEL_SCORES``) score ``labels`` on each matrix; soft-assignment
    scores (``scores.PROB_SCORES``) score :func:`student_t_assignments` of each matrix.
    """
    labels = np.asarray(labels)
    spaces = list(spaces)
    if not spaces:
        raise ValueError("common_space_score: spaces: expected at least one feature matrix")
    for X in spaces:
        if np.shape(X)[:1] != labels.shape:
            raise ValueError(
                f"common_space_score: labels {labels.shape} and a space of shape "
                f"{np.shape(X)} do not hold the same rows"
            )
    values = []
    for X in spaces:
        if name in scores.PROB_SCORES:
            # the labels checked as the label scores check them: a NaN label made a NaN
            # centre, and the error blamed the soft assignments, which no caller gave
            X, checked = scores.check_labelled(X, labels, f"common_space_score ({name})")
            values.append(scores.score(name, probs=student_t_assignments(X, checked)))
        else:
            values.append(scores.score(name, X=X, labels=labels, max_samples=None))
    return float(np.mean(values))


def scored_space(X, metric: str = "euclidean") -> np.ndarray:
    """The rows of ``X`` ``(n, d)`` as a score sees them under ``metric``: as they are
    (``"euclidean"``), or scaled to unit length (``"cosine"``: Euclidean distances between
    unit rows rank neighbours as cosine distances do; a zero row stays zero)."""
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        # each row first by the power of two that brings its largest |value| into [0.5, 1)
        # (exact, so ordinary rows come out bit for bit as before): beyond ~1e154 the norm
        # overflowed and the rows came out as 0, below ~1e-154 it underflowed and the rows
        # stayed as they were, not of unit length
        top = np.abs(X).max(axis=1, initial=0.0)
        X = np.ldexp(X, -np.frexp(np.where(top > 0, top, 1.0))[1][:, None])
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)
    if metric != "euclidean":
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return X
