"""Target-only spectral clustering on a k-nearest-neighbour graph.

Normalised spectral clustering (Ng, Jordan & Weiss, NIPS 2001) of the symmetrised
kNN connectivity graph of the target (von Luxburg, Statistics and Computing 2007,
recommends kNN graphs for their sparsity and robustness to scale). The source domain
is ignored.

Implemented with scikit-learn's ``SpectralClustering`` (``affinity="nearest_neighbors"``),
which deviates from Ng, Jordan & Weiss in two details: the kNN graph is symmetrised as
``(W + W') / 2`` (weight 1/2 for a one-way neighbour), and K-means runs on the top
eigenvectors ``U`` of ``D^-1/2 W D^-1/2`` rescaled to ``D^-1/2 U`` (the random-walk
Laplacian's eigenvectors, as in Shi & Malik's normalised cut, IEEE TPAMI 2000), not on
the rows of ``U`` scaled to unit length as in the paper.

Cost: scikit-learn finds the eigenvectors with ARPACK in shift-invert mode, whose sparse LU
factorisation of the kNN Laplacian fills in on high-dimensional data: time grows about as
``n^3`` beyond ~10,000 target rows (64 features on the 2-core machine of the brief,
``scripts/baseline_costs.py``: 16,000 rows 8.5 s and 0.2 GiB, 32,000 rows 48 s and 1.0 GiB,
48,000 rows 152 s and 1.6 GiB; the time's exponent 2.5, then 2.8). Every benchmark target is
far smaller. For a large target, :func:`dtc.cluster.spectral_clustering` (dtc's own, Lanczos on
an approximate kNN graph) takes seconds.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import SpectralClustering

from baselines._validation import check_positive_int, check_seed
from dtc.methods import TransferClusterer

__all__ = ["TargetSpectral"]


class TargetSpectral(TransferClusterer):
    """Spectral clustering (Ng, Jordan & Weiss, NIPS 2001) of the target's kNN graph.

    Parameters
    ----------
    n_clusters : int, optional
        Number of clusters; ``None`` takes the pair's ``n_clusters``.
    n_neighbors : int >= 2, default 10
        Neighbours per sample in the graph, the sample itself counted (scikit-learn's
        ``include_self=True``): 10 joins each sample to its 9 nearest others, and 1 would
        join none.
    seed : int, default 0

    Attributes
    ----------
    labels_ : int64 ndarray of shape (n_target,)
    """

    uses_source = False
    accepts_heterogeneous = True

    def __init__(self, n_clusters=None, n_neighbors=10, seed=0):
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> tuple[int, int]:
        """Validated ``(n_neighbors, seed)``; ``n_neighbors`` is checked against the
        target's size by the fit."""
        name = type(self).__name__
        return (
            # 1 counts the sample alone: a graph of self-loops, clustered at random
            check_positive_int(self.n_neighbors, method=name, name="n_neighbors", low=2),
            check_seed(self.seed, method=name),
        )

    def _fit(self, pair):
        name = type(self).__name__
        k = self._n_clusters(pair)
        n_neighbors, seed = self._check_params()
        n = pair.target.n_samples
        if k >= n:
            # The embedding takes k eigenvectors of the n x n graph; scipy's eigsh refuses
            # k >= n with a TypeError that named neither this estimator nor n_clusters (and
            # escaped ClusterEnsemble so). n clusters of n samples need no clustering.
            raise ValueError(
                f"{name}: n_clusters must be below the target's {n} samples (the spectral "
                f"embedding takes n_clusters eigenvectors of its graph), got n_clusters={k}"
            )
        if n_neighbors >= n:
            raise ValueError(
                f"{name}: n_neighbors must be an int in [2, {n - 1}] (fewer than the target's "
                f"{n} samples), got {self.n_neighbors!r}"
            )
        sc = SpectralClustering(
            k,
            affinity="nearest_neighbors",
            n_neighbors=n_neighbors,
            assign_labels="kmeans",
            random_state=seed,
        )
        # int64 like the other baselines' labels (scikit-learn gives int32)
        self.labels_ = sc.fit_predict(pair.target.X).astype(np.int64)
