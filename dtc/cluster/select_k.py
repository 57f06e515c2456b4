"""Estimate the number of clusters when it is not given.

* :func:`select_k_silhouette`: K-means for every candidate k, scored by the mean
  silhouette (Rousseeuw, J. Comput. Appl. Math. 1987) on one fixed seeded subsample
  (the same points for every k, so the scores are comparable, and ``O(sample^2)`` instead
  of ``O(n^2)``).
* :func:`select_k_eigengap`: the largest gap among the top eigenvalues of the normalised
  kNN-graph adjacency, i.e. the smallest of the normalised Laplacian (von Luxburg, "A
  tutorial on spectral clustering", Statistics and Computing 2007, section 8.3).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import silhouette_score

from dtc._validation import check_features, pow2_exponent
from dtc._warnings import warn
from dtc.cluster.kmeans import check_int, check_seed, kmeans
from dtc.cluster.spectral import (
    _retained_mask,
    affinity_matrix,
    check_knn_method,
    eigengap,
    knn_graph,
    spectral_embedding,
)

__all__ = ["select_k_eigengap", "select_k_silhouette"]


def select_k_silhouette(
    X, k_range=range(2, 11), *, sample_size: int = 2000, n_init: int = 4, seed: int = 0
) -> tuple[int, np.ndarray]:
    """The k of ``k_range`` whose K-means clustering has the highest silhouette (of equal
    scores, the one first in ``k_range``).

    Parameters
    ----------
    X : array of shape (n, d)
    k_range : iterable of ints >= 2, each < n
    sample_size : int > max(k_range), points the silhouette is computed on (all when n is
        smaller)
    n_init : int, K-means restarts per k
    seed : int

    Returns
    -------
    k : int
    scores : float64 array of shape (len(k_range),), the silhouette of each k (-1 when
        the subsample holds a single cluster)
    """
    X = check_features(X, name="X", min_samples=3)
    n = X.shape[0]
    if isinstance(k_range, (str, bytes)) or not isinstance(k_range, Iterable):
        # an int was "'int' object is not iterable"
        raise ValueError(f"k_range: expected an iterable of ints >= 2, got {k_range!r}")
    ks = [check_int(k, "k_range", minimum=2) for k in k_range]
    if not ks:
        raise ValueError("k_range: expected at least one candidate k, got none")
    if max(ks) >= n:
        raise ValueError(
            f"k_range: expected every k < n = {n} (silhouette needs k < n), got {max(ks)}"
        )
    sample_size = check_int(sample_size, "sample_size", minimum=2)
    if min(n, sample_size) <= max(ks):
        # The silhouette of k clusters needs more than k points (scikit-learn refuses
        # k = n_samples with a message that names neither argument).
        raise ValueError(
            f"sample_size={sample_size}: expected more points than the largest k in k_range "
            f"({max(ks)})"
        )
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(n, sample_size, replace=False)) if n > sample_size else np.arange(n)
    # The silhouette is scale-invariant, scikit-learn's float32 distances are not (features
    # ~1e-25 gave 0 for every k, ~1e20 overflowed): scale by a power of two as kmeans does.
    Xs = X[sub]
    e = pow2_exponent(Xs)
    if e:
        Xs = np.ldexp(Xs, e)
    scores = np.empty(len(ks))
    for i, k in enumerate(ks):
        labels = kmeans(X, k, n_init=n_init, seed=seed)[0][sub]
        scores[i] = silhouette_score(Xs, labels) if np.unique(labels).size > 1 else -1.0
    return ks[int(np.argmax(scores))], scores


def select_k_eigengap(
    X,
    k_max: int = 15,
    *,
    n_neighbors: int = 10,
    affinity: str = "self-tuning",
    knn: str = "auto",
    seed: int = 0,
) -> tuple[int, np.ndarray]:
    """The k in ``[1, k_max]`` after which the normalised-adjacency spectrum drops most.

    The graph is the one :func:`dtc.cluster.spectral_clustering` builds; components
    smaller than a tenth of ``n / k_max`` are left out, as there.

    Parameters
    ----------
    X : array of shape (n, d)
    k_max : int, 1 <= k_max <= n - 2
    n_neighbors, affinity, knn : as in :func:`dtc.cluster.spectral_clustering`
    seed : int

    Returns
    -------
    k : int
    eigenvalues : float64 array of shape (min(k_max + 1, m),), descending, ``m`` the
        nodes retained

    A graph of more than ``k_max`` retained components has ``k_max + 1`` eigenvalues of 1:
    their gaps are rounding noise, and the argmax of noise picked any k (at ``k_max=10``, 3
    for 12 well-separated blobs, 1 for 20 and 40). ``k_max`` is returned then, with a
    ``RuntimeWarning``.
    """
    X = check_features(X, name="X", min_samples=2)
    k_max = check_int(k_max, "k_max")
    if k_max + 1 > X.shape[0] - 1:
        raise ValueError(
            f"select_k_eigengap: k_max={k_max}: expected k_max + 2 <= n = {X.shape[0]}"
        )
    dist, idx = knn_graph(X, n_neighbors, method=check_knn_method(knn), seed=seed)
    W = affinity_matrix(dist, idx, affinity=affinity)
    keep = np.flatnonzero(_retained_mask(W, k_max, None))
    W = W[keep][:, keep]
    _, vals = spectral_embedding(W, min(k_max + 1, keep.size), seed=seed)
    n_components = connected_components(W, directed=False)[0]
    if n_components > k_max:
        warn(
            f"select_k_eigengap: the kNN graph has {n_components} components of its own, "
            f"more than k_max={k_max}: no gap to read; returning k_max (raise k_max, or "
            "n_neighbors to join them)",
            RuntimeWarning,
        )
        return k_max, vals
    return eigengap(vals, k_max=min(k_max, vals.size - 1)), vals
