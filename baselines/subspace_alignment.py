"""Subspace Alignment (SA), then K-means on the target.

B. Fernando, A. Habrard, M. Sebban, T. Tuytelaars. "Unsupervised Visual Domain
Adaptation Using Subspace Alignment". ICCV 2013. Each domain is described by its top
``p`` principal directions ``P_s``, ``P_t`` ``(d, p)``; the alignment matrix
``M = P_s^T P_t`` ``(p, p)`` (the minimiser of ``||P_s M - P_t||_F``) maps the source
coordinates onto the target's: ``Z_s = X_s P_s M``, ``Z_t = X_t P_t``; the paper then
classifies the target with 1-NN / SVM trained on ``Z_s``.

Adaptation to clustering: K-means on ``Z_t``; SA leaves the target in its own principal
coordinates, so the transfer acts through ``init="source"`` (K-means seeded at the
aligned source class means or cluster centres). Each domain is centred by its own mean
before projecting (the paper z-scores each domain, where this changes nothing).
``n_components=None`` uses ``min(30, d, n_s - 1, n_t - 1)`` (30: the usual SURF setting).
"""

from __future__ import annotations

import numpy as np

from baselines._adapt_then_cluster import (
    AdaptThenCluster,
    check_n_components,
    dense_linalg_threads,
    resolve_n_components,
)
from baselines._validation import check_domains

__all__ = ["SubspaceAlignment", "principal_directions", "subspace_alignment_transform"]


def principal_directions(X, n_components: int) -> np.ndarray:
    """Top ``n_components`` principal directions of ``X`` ``(n, d)``, as columns ``(d, p)``
    (right singular vectors of the centred ``X``, by decreasing variance)."""
    X = np.asarray(X, dtype=np.float64)
    with dense_linalg_threads(min(X.shape)):
        _, _, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    return Vt[:n_components].T


def subspace_alignment_transform(
    Xs, Xt, n_components=None, *, caller: str = "subspace_alignment_transform"
):
    """Subspace alignment (Fernando et al., ICCV 2013) of ``Xs`` ``(n_s, d)`` and ``Xt``
    ``(n_t, d)``.

    ``n_components`` is ``p``, at most ``min(d, n_s - 1, n_t - 1)`` (``None``: ``min(30, d,
    n_s - 1, n_t - 1)``): a centred domain of ``n`` rows spans at most ``n - 1``
    directions, and a direction past them is arbitrary; ``caller`` names the estimator in
    error messages. Returns ``(Zs, Zt, M)``:
    ``Zs = (X_s - mean_s) P_s M`` ``(n_s, p)``, ``Zt = (X_t - mean_t) P_t`` ``(n_t, p)``
    and the alignment matrix ``M = P_s^T P_t`` ``(p, p)``.
    """
    Xs, Xt = check_domains(Xs, Xt, method=caller)
    limit = min(Xs.shape[1], len(Xs) - 1, len(Xt) - 1)
    p = resolve_n_components(
        n_components,
        30,
        limit,
        method=caller,
        why="min of the feature dimension and each domain's rows less one, its centred rank",
    )
    Ps = principal_directions(Xs, p)
    Pt = principal_directions(Xt, p)
    M = Ps.T @ Pt
    return (Xs - Xs.mean(axis=0)) @ Ps @ M, (Xt - Xt.mean(axis=0)) @ Pt, M


class SubspaceAlignment(AdaptThenCluster):
    """Subspace Alignment (Fernando et al., ICCV 2013), then K-means on the target's
    principal coordinates.

    Parameters
    ----------
    n_clusters : int, optional
    n_components : int, optional
        Subspace dimension ``p``; ``None``: ``min(30, d, n_s - 1, n_t - 1)``.
    init : {"k-means++", "source"}, default "source"
    n_init : int, default 10
    seed : int, default 0

    Attributes
    ----------
    alignment_matrix_ : (p, p), ``P_s^T P_t``
    labels_ (n_t,), embedding_ (n_t, p), source_embedding_ (n_s, p), cluster_centers_
    (k, p), cluster_classes_ (k,) (``init="source"``, labelled source).
    """

    def __init__(self, n_clusters=None, n_components=None, init="source", n_init=10, seed=0):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.init = init
        self.n_init = n_init
        self.seed = seed

    def _check_adapt_params(self) -> None:
        check_n_components(self.n_components, method=type(self).__name__)

    def _adapt(self, Xs, ys, Xt, k):
        Zs, Zt, self.alignment_matrix_ = subspace_alignment_transform(
            Xs, Xt, self.n_components, caller=type(self).__name__
        )
        return Zs, Zt
