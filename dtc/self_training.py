"""Pseudo-labels for iterative self-training of a transfer-clustering network.

One round of self-training (used by :class:`dtc.pipeline.DTC`'s ``self_train`` stage):

1. cluster the target embeddings with K-means started at *anchor* centres (the source
   class means in the current embedding when the source is labelled, else the previous
   round's target centres), optionally on the unit sphere (spherical K-means, Dhillon &
   Modha, "Concept decompositions for large sparse text data using clustering", Machine
   Learning 2001): cosine similarity is the usual choice on learned embeddings, whose
   norms carry little class information;
2. keep, within each cluster, the most confident fraction of its points (confidence =
   similarity to the own centre minus that to the runner-up centre), so that every class
   keeps pseudo-labels in proportion to its size and no cluster is starved;
3. the caller trains its classifier head and encoder on the source labels and the kept
   target pseudo-labels, and repeats.

This is the pseudo-labelling scheme of class-aware adaptation by alternating clustering
and training: CAN (Kang, Jiang, Yang & Hauptmann, "Contrastive Adaptation Network for
Unsupervised Domain Adaptation", CVPR 2019) clusters the target with spherical K-means
started at the source class centres (CAN averages unit-normalised source features; the
spherical mode here normalises the class mean of the raw features) and drops ambiguous
points. SHOT (Liang, Hu & Feng, ICML 2020) self-labels by nearest centroid too, but starts
its centroids from the target's own soft predictions, not from source class means.
"""

from __future__ import annotations

import numpy as np

from dtc._validation import check_bool, host_array

__all__ = ["anchored_kmeans", "confident_mask", "pseudo_labels"]


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.maximum(norms, 1e-12)


def _similarities(Z: np.ndarray, C: np.ndarray, spherical: bool) -> np.ndarray:
    if spherical:
        return Z @ C.T  # rows and centres are unit vectors: cosine similarity
    # Negative squared Euclidean distance, so that larger is closer in both metrics.
    return -((Z**2).sum(1, keepdims=True) - 2.0 * Z @ C.T + (C**2).sum(1)[None, :])


def anchored_kmeans(
    Z, init, *, spherical: bool = True, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lloyd iterations from ``init``; cluster ``c`` of the result started at ``init[c]``.

    Parameters
    ----------
    Z : array of shape (n, d)
    init : array of shape (k, d)
        Starting centres (e.g. source class means); their order names the clusters.
    spherical : bool
        Work on unit-normalised rows and centres with cosine similarity (spherical
        K-means) instead of squared Euclidean distance.
    max_iter : int
        Iterations cap; stops earlier when no assignment changes.

    Returns
    -------
    labels : int64 array of shape (n,)
    centres : float64 array of shape (k, d) (unit rows when ``spherical``)
    similarity : float64 array of shape (n, k)
        Cosine similarity (spherical) or negative squared distance to every centre.

    A centre that loses all its points keeps its previous position (the anchor keeps
    its name rather than being relocated elsewhere).
    """
    Z = np.asarray(host_array(Z, "anchored_kmeans: Z"), dtype=np.float64)
    # a copy: the centres move in place
    C = np.asarray(host_array(init, "anchored_kmeans: init"), dtype=np.float64).copy()
    if Z.ndim != 2 or C.ndim != 2 or Z.shape[1] != C.shape[1]:
        raise ValueError(
            f"anchored_kmeans: expected Z (n, d) and init (k, d) with the same d, got "
            f"{Z.shape} and {C.shape}"
        )
    if max_iter < 1:
        raise ValueError(f"anchored_kmeans: max_iter must be >= 1, got {max_iter!r}")
    # A NaN row would otherwise be labelled 0 (argmax of NaN) and make centre 0 NaN,
    # after which every point is labelled 0.
    for name, arr in (("Z", Z), ("init", C)):
        if not np.isfinite(arr).all():
            raise ValueError(f"anchored_kmeans: {name} must be finite, found NaN or Inf")
    # "no" is truthy: it ran the cosine geometry without a word
    spherical = check_bool(spherical, method="anchored_kmeans", name="spherical")
    if spherical:
        Z, C = _unit_rows(Z), _unit_rows(C)
    labels = None
    for _ in range(int(max_iter)):
        sim = _similarities(Z, C, spherical)
        new = sim.argmax(1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for c in range(len(C)):
            members = labels == c
            if members.any():
                C[c] = Z[members].mean(0)
        if spherical:
            C = _unit_rows(C)
    sim = _similarities(Z, C, spherical)
    return sim.argmax(1).astype(np.int64), C, sim


def confident_mask(labels, similarity, fraction: float) -> np.ndarray:
    """Boolean ``(n,)`` mask keeping, in every cluster, its ``fraction`` most confident points.

    Confidence is the margin ``similarity[i, labels[i]] - max_{c != labels[i]}
    similarity[i, c]``. Each non-empty cluster keeps ``ceil(fraction * size)`` points
    (at least one), so pseudo-labels stay class-balanced relative to the clustering.
    """
    labels = np.asarray(host_array(labels, "confident_mask: labels"))
    S = np.asarray(host_array(similarity, "confident_mask: similarity"), dtype=np.float64)
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"confident_mask: fraction must be in (0, 1], got {fraction!r}")
    if S.ndim != 2 or S.shape[0] != labels.shape[0]:
        raise ValueError(
            f"confident_mask: similarity must have shape (n, k) with n = {labels.shape[0]}, "
            f"got {S.shape}"
        )
    k = S.shape[1]
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(
            f"confident_mask: labels must be an int vector of shape (n,), got dtype "
            f"{labels.dtype} and shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        # A label -1 would silently index the last column of similarity.
        raise ValueError(
            f"confident_mask: labels must lie in [0, {k}) (the columns of similarity), got "
            f"range [{labels.min()}, {labels.max()}]"
        )
    n = len(labels)
    own = S[np.arange(n), labels]
    rest = S.copy()
    rest[np.arange(n), labels] = -np.inf
    margin = own - (rest.max(1) if S.shape[1] > 1 else 0.0)
    keep = np.zeros(n, dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        # rounded first: 0.07 * 100 is 7.000000000000001 in floats, whose ceiling kept 8
        m = max(1, int(np.ceil(round(float(fraction) * len(idx), 9))))
        # stable sort on -margin: ties keep index order, so the mask is deterministic
        keep[idx[np.argsort(-margin[idx], kind="stable")[:m]]] = True
    return keep


def pseudo_labels(
    Z, init, *, fraction: float = 0.5, spherical: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchored (spherical) K-means of ``Z`` ``(n, d)`` from ``init`` ``(k, d)``, then the
    class-balanced confident subset.

    Returns ``labels`` (n,) int64, ``keep`` (n,) bool and ``centres`` (k, d).
    """
    labels, centres, sim = anchored_kmeans(Z, init, spherical=spherical)
    return labels, confident_mask(labels, sim, fraction), centres
