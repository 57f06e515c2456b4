"""Clustering back ends: K-means, spectral, GMM, label spreading, choosing k, model transfer,
the DEC head.

Everything here is numpy / scipy / scikit-learn and imports quickly. The DEC head
(:mod:`dtc.cluster.dec`) needs torch; it is imported lazily on first access
(``dtc.cluster.ClusteringLayer`` or ``from dtc.cluster.dec import ...``), so that
target-only baselines using K-means or spectral clustering never load torch.
"""

from importlib import import_module

from dtc.cluster.gmm import gmm
from dtc.cluster.kmeans import KMeans, assign_nearest, faiss_available, kmeans
from dtc.cluster.label_spreading import label_spreading
from dtc.cluster.select_k import select_k_eigengap, select_k_silhouette
from dtc.cluster.spectral import (
    KNN_NEIGHBOURS,
    affinity_matrix,
    eigengap,
    knn_graph,
    spectral_clustering,
    spectral_embedding,
)
from dtc.cluster.transfer import (
    TransferResult,
    class_means,
    cluster_and_match,
    match_clusters,
    transfer_kmeans,
)

_DEC_NAMES = (
    "ClusteringLayer",
    "dec_loss",
    "has_converged",
    "label_change_fraction",
    "soft_assignment",
    "target_distribution",
)

__all__ = [
    "KNN_NEIGHBOURS",
    "KMeans",
    "TransferResult",
    "affinity_matrix",
    "assign_nearest",
    "class_means",
    "cluster_and_match",
    "eigengap",
    "faiss_available",
    "gmm",
    "kmeans",
    "knn_graph",
    "label_spreading",
    "match_clusters",
    "select_k_eigengap",
    "select_k_silhouette",
    "spectral_clustering",
    "spectral_embedding",
    "transfer_kmeans",
    *_DEC_NAMES,
]


def __getattr__(name):
    # The DEC head pulls in torch: load it only when asked for.
    if name in _DEC_NAMES:
        return getattr(import_module("dtc.cluster.dec"), name)
    raise AttributeError(f"module 'dtc.cluster' has no attribute {name!r}")
