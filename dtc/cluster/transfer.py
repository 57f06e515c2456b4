"""Model transfer for clustering: start the target's K-means where the source's clusters are.

Given source embeddings ``Z_s`` (with labels, or clustered) and target embeddings
``Z_t`` in the same space:

* :func:`class_means` gives the source class means;
* :func:`transfer_kmeans` runs K-means on ``Z_t`` initialised at given source centres
  (``assign="kmeans"``) or just assigns every target point to its nearest source
  centre (``assign="nearest"``). Either way target cluster ``c`` *is* source centre
  ``c``: K-means keeps the index of each centre (centre ``c`` of the result started at
  ``init[c]``; scikit-learn relocates an emptied centre in place), so the
  correspondence source -> target is the identity (a warning says when a source centre
  starts with no target point, whose relocated cluster then carries a source name that
  the target may not hold);
* :func:`match_clusters` pairs source and target clusters found independently (the
  unlabelled case) by the Hungarian algorithm on centre distances (Kuhn, Naval Research
  Logistics Quarterly 1955), and :func:`cluster_and_match` does both K-means runs and the
  matching.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from dtc._validation import check_bool, check_features, host_array
from dtc._warnings import warn
from dtc.cluster.kmeans import (
    assign_nearest,
    check_centers,
    check_int,
    check_seed,
    kmeans,
    squared_differences,
)

__all__ = [
    "TransferResult",
    "class_means",
    "cluster_and_match",
    "match_clusters",
    "transfer_kmeans",
]


class TransferResult(NamedTuple):
    """Outcome of a transferred clustering of the target.

    labels : int64 array of shape (n_target,)
    centers : float32 array of shape (k_target, d), the final target centres
    source_to_target : int64 array of shape (k_source,); source class / cluster ``s``
        corresponds to target cluster ``source_to_target[s]`` (-1: none)
    cluster_classes : int64 array of shape (k_target,); target cluster ``c`` stands for
        source class / cluster ``cluster_classes[c]`` (-1: none), the inverse map
        (what :class:`dtc.methods.TransferClusterer` calls ``cluster_classes_``)
    """

    labels: np.ndarray
    centers: np.ndarray
    source_to_target: np.ndarray
    cluster_classes: np.ndarray


def class_means(Z, y, n_classes: int) -> np.ndarray:
    """Mean embedding of every class.

    Parameters
    ----------
    Z : array of shape (n, d)
    y : int array of shape (n,), labels in ``[0, n_classes)``
    n_classes : int; every class must have at least one sample

    Returns
    -------
    means : float32 array of shape (n_classes, d)
    """
    Z = check_features(Z, name="Z")
    k = check_int(n_classes, "n_classes")
    y = np.asarray(host_array(y, "y"))  # a CUDA tensor, as Z may be, goes through the host
    if y.shape != (Z.shape[0],):
        raise ValueError(
            f"y: expected shape ({Z.shape[0]},) (one label per row of Z), got {y.shape}"
        )
    if y.dtype.kind not in "iu":
        raise ValueError(f"y: expected integer labels, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(
            f"y: expected labels in [0, {k}) for n_classes={k}, got range [{y.min()}, {y.max()}]"
        )
    counts = np.bincount(y, minlength=k)
    if (counts == 0).any():
        raise ValueError(
            f"y: classes {np.flatnonzero(counts == 0).tolist()} have no sample; their mean is "
            "undefined"
        )
    sums = np.zeros((k, Z.shape[1]), dtype=np.float64)
    np.add.at(sums, y, Z)
    return (sums / counts[:, None]).astype(np.float32)


def transfer_kmeans(
    Z_target,
    source_centers,
    *,
    assign: str = "kmeans",
    max_iter: int = 300,
    seed: int = 0,
    backend: str = "auto",
    classes=None,
    warn_empty: bool = True,
) -> TransferResult:
    """Cluster the target starting from source centres (class means or cluster centres).

    Parameters
    ----------
    Z_target : array of shape (n_target, d)
    source_centers : array of shape (k, d), k <= n_target
    assign : "kmeans" (Lloyd iterations from the source centres) or "nearest" (each
        target point to its nearest source centre, centres unchanged)
    max_iter, seed, backend : passed to :func:`dtc.cluster.kmeans`
    classes : array of shape (k,), optional
        The source class each centre stands for, as the user labels it: named in the
        warning below (default: the centres' rows, 0..k-1).
    warn_empty : bool
        With ``assign="kmeans"``, warn when a source centre is nearest to no target point
        (K-means relocates it, and its cluster keeps that source name). Off for a caller
        that repeats the step and warns once (JDA's pseudo-labels).

    Returns
    -------
    TransferResult with the identity correspondence (``source_to_target = arange(k)``)
    """
    Z = check_features(Z_target, name="Z_target")
    C = check_features(source_centers, name="source_centers")
    k = C.shape[0]
    C = check_centers(C, k, Z.shape[1], "source_centers")
    if k > Z.shape[0]:
        raise ValueError(
            f"source_centers: {k} centres for {Z.shape[0]} target rows (Z_target); expected "
            "at most as many centres as rows"
        )
    max_iter, seed = check_int(max_iter, "max_iter"), check_seed(seed)
    warn_empty = check_bool(warn_empty, method="transfer_kmeans", name="warn_empty")
    if classes is not None and np.shape(classes) != (k,):
        raise ValueError(
            f"classes: expected one class per source centre, shape ({k},), got {np.shape(classes)}"
        )
    if assign == "kmeans":
        empty = np.setdiff1d(np.arange(k), assign_nearest(Z, C)[0])
        labels, centers, _ = kmeans(Z, k, init=C, max_iter=max_iter, seed=seed, backend=backend)
        if empty.size and warn_empty:
            # K-means relocates a centre that no point is nearest to onto other points; the
            # cluster it makes keeps the source name of a class the target may not hold.
            named = (
                f"centres {empty.tolist()}"
                if classes is None
                else f"centres of classes {np.asarray(classes)[empty].tolist()}"
            )
            warn(
                f"transfer_kmeans: source {named} are nearest to no target point (the target "
                "may lack those classes); K-means moves them onto other points, whose "
                "clusters then carry those source names",
            )
    elif assign == "nearest":
        # a copy: check_features hands back the caller's own float32 array, which the
        # result would otherwise share (editing result.centers edited the source centres)
        labels, centers = assign_nearest(Z, C)[0], C.copy()
    else:
        raise ValueError(f"assign: expected 'kmeans' or 'nearest', got {assign!r}")
    identity = np.arange(k, dtype=np.int64)
    return TransferResult(labels, centers, identity, identity.copy())


def match_clusters(source_centers, target_centers) -> np.ndarray:
    """Hungarian matching of source to target clusters by squared centre distance.

    Parameters
    ----------
    source_centers : array of shape (k_s, d)
    target_centers : array of shape (k_t, d)

    Returns
    -------
    source_to_target : int64 array of shape (k_s,); ``-1`` for the ``k_s - k_t`` source
        clusters left unmatched when ``k_s > k_t``. The matching minimises the total
        squared distance between matched centres.
    """
    S = check_features(source_centers, name="source_centers")
    T = check_features(target_centers, name="target_centers")
    if S.shape[1] != T.shape[1]:
        raise ValueError(
            f"source_centers, target_centers: expected the same dimension, got {S.shape[1]} "
            f"and {T.shape[1]}"
        )
    S64, T64 = S.astype(np.float64), T.astype(np.float64)
    rows, cols = linear_sum_assignment(squared_differences(S64, T64))
    out = np.full(S.shape[0], -1, dtype=np.int64)
    out[rows] = cols
    return out


def _inverse(source_to_target, k_target):
    inv = np.full(k_target, -1, dtype=np.int64)
    matched = source_to_target >= 0
    inv[source_to_target[matched]] = np.flatnonzero(matched)
    return inv


def cluster_and_match(
    Z_source, Z_target, n_clusters: int, *, n_init: int = 10, seed: int = 0
) -> TransferResult:
    """Unlabelled case: K-means on source and target separately, clusters matched by
    :func:`match_clusters`.

    Parameters
    ----------
    Z_source : array of shape (n_source, d)
    Z_target : array of shape (n_target, d)
    n_clusters : int, used for both domains
    n_init : int, default 10
        K-means restarts, in each domain.
    seed : int, default 0
        Seed of both K-means runs.

    Returns
    -------
    TransferResult of the target clustering; ``source_to_target[s]`` is the target
    cluster matched to source cluster ``s`` (source clusters numbered as K-means on
    ``Z_source`` with the same ``seed`` numbers them).
    """
    Zs = check_features(Z_source, name="Z_source")
    Zt = check_features(Z_target, name="Z_target")
    if Zs.shape[1] != Zt.shape[1]:
        raise ValueError(
            f"Z_source, Z_target: expected the same dimension, got {Zs.shape[1]} and {Zt.shape[1]}"
        )
    # each domain by name: kmeans's own check read alike for both
    k = check_int(n_clusters, "n_clusters")
    for name, Z in (("Z_source", Zs), ("Z_target", Zt)):
        if k > len(Z):
            raise ValueError(
                f"n_clusters={k} but {name} has only {len(Z)} rows; expected at most as "
                "many clusters as rows in each domain"
            )
    _, cs, _ = kmeans(Zs, n_clusters, n_init=n_init, seed=seed)
    labels, ct, _ = kmeans(Zt, n_clusters, n_init=n_init, seed=seed)
    s2t = match_clusters(cs, ct)
    return TransferResult(labels, ct, s2t, _inverse(s2t, ct.shape[0]))
