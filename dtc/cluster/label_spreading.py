"""Label spreading over a sparse kNN graph: smooth class scores along the data's manifold.

Zhou, Bousquet, Lal, Weston & Schölkopf, "Learning with Local and Global Consistency",
NIPS 2003. Given initial class scores ``Y0`` ``(n, c)`` (one-hot labels, or a classifier's
probabilities) and the normalised affinity ``S = D^-1/2 W D^-1/2`` of a kNN graph, the
spread scores are the fixed point of ``F <- alpha S F + (1 - alpha) Y0``:

    F* = (1 - alpha) (I - alpha S)^-1 Y0.

``alpha`` trades the graph (a point takes its neighbours' classes) against the initial
scores. In DTC (``final_labels="head_spread"``) ``Y0`` is the source-trained head's
probabilities on the target, so a class spreads along the target's own neighbourhoods:
a pose ring of one COIL object, say, takes the class most of the ring's points are given.

A point whose graph weights all underflow to 0 (self-tuning weights do, for a point far
from its neighbours measured in their local scales) is isolated: the graph says nothing
about it, and its row of ``S`` is empty, so the fixed point keeps its own initial scores,
``F*_i = (1 - alpha) Y0_i`` (its argmax is the initial label). Spectral clustering, which
has no initial scores, gives such a point its nearest neighbour's label instead.

``I - alpha S`` is symmetric positive definite for ``0 <= alpha < 1`` (the eigenvalues of
``S`` lie in ``[-1, 1]``), so conjugate gradients solve it on the sparse graph without an
``n x n`` matrix: one solve per class, ``O(n k)`` memory.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from dtc._validation import check_features, float_array, is_int_at_least
from dtc.cluster.spectral import KNN_NEIGHBOURS, affinity_matrix, knn_graph, normalized_adjacency

__all__ = ["label_spreading", "spread_scores"]


def spread_scores(S, Y0, *, alpha: float = 0.9, tol: float = 1e-8, max_iter: int = 1000):
    """``(1 - alpha) (I - alpha S)^-1 Y0`` by conjugate gradients, one class at a time.

    Parameters
    ----------
    S : sparse or dense array of shape (n, n)
        Symmetric normalised affinity (:func:`dtc.cluster.spectral.normalized_adjacency`).
    Y0 : array of shape (n, c)
        Initial class scores.
    alpha : float in [0, 1)
    tol, max_iter : relative residual and iteration cap of each solve.

    Returns
    -------
    F : float64 array of shape (n, c)
    """
    Y0 = float_array(Y0, "spread_scores", "Y0")
    if Y0.ndim != 2 or Y0.shape[1] < 1:
        # no class: an (n, 0) result, whose argmax failed in the caller
        raise ValueError(
            f"Y0: expected an array of shape (n, c) with c >= 1 classes, got shape {Y0.shape}"
        )
    if not sp.issparse(S):  # a list had no .shape: an AttributeError
        S = float_array(S, "spread_scores", "S")
    if S.shape != (Y0.shape[0], Y0.shape[0]):
        raise ValueError(
            f"S: expected shape ({Y0.shape[0]}, {Y0.shape[0]}) to match Y0 {Y0.shape}, got {S.shape}"
        )
    # float(alpha) first: None a bare TypeError, the string "0.5" taken as 0.5
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha: expected a float in [0, 1), got {alpha!r}")
    # from the zero start, whose residual is |Y0|: tol >= 1 (or "3", inf) took it as
    # converged and max_iter <= 0 stopped there, and every score came back 0, silently
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0.0 < tol < 1.0:
        raise ValueError(f"tol: expected a relative residual in (0, 1), got {tol!r}")
    if not is_int_at_least(max_iter, 1):
        raise ValueError(f"max_iter: expected an int >= 1, got {max_iter!r}")
    if not np.isfinite(Y0).all():
        raise ValueError("Y0: contains NaN or infinite values")
    if not np.isfinite(S.data if sp.issparse(S) else S).all():
        # else conjugate gradients "did not converge", which blamed tol and max_iter
        raise ValueError("S: contains NaN or infinite values")
    if (Y0 < 0).any():
        raise ValueError(
            f"Y0: expected non-negative class scores (one-hot labels or probabilities), got a "
            f"minimum of {Y0.min():.4g}"
        )
    A = sp.identity(Y0.shape[0], format="csr") - float(alpha) * sp.csr_matrix(S)
    F = np.empty_like(Y0)
    for c in range(Y0.shape[1]):
        F[:, c], info = cg(A, Y0[:, c], rtol=tol, maxiter=max_iter)
        if info > 0:
            raise RuntimeError(
                f"label_spreading: conjugate gradients did not converge for class {c} in "
                f"{max_iter} iterations (tol={tol})"
            )
    return (1.0 - float(alpha)) * F


def label_spreading(
    X,
    Y0,
    *,
    n_neighbors: int = KNN_NEIGHBOURS,
    alpha: float = 0.9,
    affinity: str = "self-tuning",
    seed: int = 0,
) -> np.ndarray:
    """Spread the class scores ``Y0`` over the kNN graph of ``X`` (module docstring).

    Parameters
    ----------
    X : array of shape (n, d)
        Points whose neighbourhoods carry the classes (e.g. target embeddings).
    Y0 : array of shape (n, c)
        Initial class scores of the same points.
    n_neighbors : int
        Neighbours per point of the (symmetrised) kNN graph.
    alpha : float in [0, 1)
        Weight of the graph against ``Y0``; 0 returns ``Y0`` unchanged.
    affinity : "self-tuning" or "connectivity"
        Edge weights (:func:`dtc.cluster.spectral.affinity_matrix`).
    seed : int
        Seed of the approximate neighbour search used for large ``n``.

    Returns
    -------
    F : float64 array of shape (n, c); ``F.argmax(1)`` are the spread labels. A point
        with no graph weight keeps ``(1 - alpha) Y0`` (module docstring).
    """
    X = check_features(X, name="X", min_samples=2)
    Y0 = float_array(Y0, "label_spreading", "Y0")
    if Y0.ndim != 2 or Y0.shape[0] != X.shape[0] or Y0.shape[1] < 1:
        raise ValueError(
            f"Y0: expected shape (n, c) with n = {X.shape[0]} rows of X and c >= 1 classes, "
            f"got {Y0.shape}"
        )
    dist, idx = knn_graph(X, n_neighbors, seed=seed)
    # Isolated points keep their initial scores (module docstring).
    S = normalized_adjacency(affinity_matrix(dist, idx, affinity=affinity), allow_isolated=True)
    return spread_scores(S, Y0, alpha=alpha)
