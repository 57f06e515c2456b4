"""Transfer Spectral Clustering (TSC): spectral clustering of the target on one graph
that joins target instances, source instances and the features they share.

Jiang & Chung, "Transfer spectral clustering", ECML-PKDD 2012. The graph has three
kinds of nodes and three kinds of edges:

* target-target and source-source edges: a symmetric kNN graph of each domain
  (``W_t``, ``W_s``), normalised ``D^-1/2 W D^-1/2`` -- each task's data manifold;
* instance-feature edges: the non-negative data matrices ``A_t = X_t``, ``A_s = X_s``,
  normalised ``D_r^-1/2 A D_c^-1/2`` as in bipartite spectral co-clustering (Dhillon,
  KDD 2001) -- through the *shared feature nodes* the source shapes the target's
  embedding.

TSC finds embeddings ``F_t (n_t x k)``, ``F_s (n_s x k)`` and ``F_z (m x k)``, each with
orthonormal columns, that maximise

    tr(F_t' W_t F_t) + tr(F_s' W_s F_s) + r tr(F_t' A_t F_z) + r tr(F_s' A_s F_z),

i.e. ``tr(F' M F)`` of the block matrix ``M = [[W_t, 0, r/2 A_t], [0, W_s, r/2 A_s],
[., ., 0]]`` of the joint graph under block-wise orthogonality. As in the paper, the
problem is solved by alternating updates: ``F_t`` and ``F_s`` by a normalised gradient
step of length ``step`` followed by the projection onto orthonormal matrices
(``U V'`` of the SVD), ``F_z`` in closed form, ``proj(A_t' F_t + A_s' F_s)``; ``F_t``,
``F_s`` start at the top-``k`` eigenvectors of ``W_t``, ``W_s`` and ``F_z`` at the top-``k``
right singular vectors of ``[A_t; A_s]`` normalised once more as a whole
(``D_r^-1/2 [A_t; A_s] D_c^-1/2`` of the already normalised blocks). This second
normalisation is the authors' code (``init_F3`` applies ``normalize_matrix`` to
``[A1; A2]``) and is kept on purpose: it only chooses the starting ``F_z``; the objective
and the updates use ``A_t``, ``A_s`` normalised once (pinned by
``test_tsc_first_step_follows_the_finite_difference_gradient_of_the_objective``). The
loop stops when the objective changes by less than ``tol`` or after ``max_iter`` rounds.
The target's clusters are K-means (:func:`dtc.cluster.kmeans.kmeans`) of the rows of
``F_t`` scaled to unit length. ``r = 0`` is normalised spectral clustering of the
target's kNN graph.

Deviation: the authors' code shifts each data matrix by its minimum to make it
non-negative; here the features must be **non-negative** already (a negative value
raises ``ValueError``), so that the instance-feature weights mean what they say. The
source is used unlabelled.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import eigsh, svds
from sklearn.neighbors import VALID_METRICS, kneighbors_graph

from baselines._arrays import unit_rows
from baselines._validation import (
    check_choice,
    check_non_negative,
    check_number,
    check_positive_int,
    check_seed,
)
from dtc._validation import pow2_exponent
from dtc.cluster.kmeans import kmeans
from dtc.methods import TransferClusterer

__all__ = ["TransferSpectralClustering", "normalize_bipartite", "orthonormal_projection"]

#: The kNN graphs' distances between feature rows: scikit-learn's, less "precomputed"
#: and "haversine" (2-d coordinates only).
_METRICS = tuple(sorted(set(VALID_METRICS["brute"]) - {"precomputed", "haversine"}))


def normalize_bipartite(A) -> sparse.csr_matrix:
    """``D_r^-1/2 A D_c^-1/2`` for a non-negative ``A`` of shape ``(n, m)`` (dense or sparse),
    ``D_r`` / ``D_c`` its row / column sums: a CSR matrix of shape ``(n, m)`` (rows /
    columns of zero sum stay zero)."""
    A = sparse.csr_matrix(A, dtype=np.float64)
    r = np.asarray(A.sum(axis=1)).ravel()
    c = np.asarray(A.sum(axis=0)).ravel()
    ri = np.divide(1.0, np.sqrt(r), out=np.zeros_like(r), where=r > 0)
    ci = np.divide(1.0, np.sqrt(c), out=np.zeros_like(c), where=c > 0)
    return sparse.csr_matrix(sparse.diags(ri) @ A @ sparse.diags(ci))


def orthonormal_projection(F: np.ndarray) -> np.ndarray:
    """The matrix with orthonormal columns closest to ``F`` ``(n, k)``, ``n >= k``, in
    Frobenius norm: ``U V'`` of shape ``(n, k)`` from the thin SVD ``F = U S V'``."""
    U, _, Vt = np.linalg.svd(F, full_matrices=False)
    return U @ Vt


def _knn_affinity(X: np.ndarray, n_neighbors: int, metric: str) -> sparse.csr_matrix:
    """Binary kNN graph, symmetrised by ``max`` and normalised ``D^-1/2 W D^-1/2``."""
    # Far from 1 (largest |value| outside 2**+-40) the features are multiplied by a power
    # of two first: scikit-learn's cosine takes rows of L2 norm below ~2.2e-15 for zero
    # rows (distance 1 to everything: at 1e-16 the graph was arbitrary), and squared
    # Euclidean distances under- or overflow at the far ends. Exact, and every named
    # metric ranks neighbours the same after a positive rescaling; a callable may not,
    # so it gets the features as given. 0 for ordinary data: the graph is unchanged.
    e = 0 if callable(metric) else pow2_exponent(X)
    if e:
        X = np.ldexp(X, e)
    W = kneighbors_graph(X, n_neighbors, mode="connectivity", metric=metric, include_self=False)
    W = W.maximum(W.T)
    return normalize_bipartite(W)


def _top_eigenvectors(W: sparse.csr_matrix, k: int, seed: int) -> np.ndarray:
    n = W.shape[0]
    if k >= n - 1 or n <= 500:
        vals, vecs = np.linalg.eigh(W.toarray())
    else:
        v0 = np.random.default_rng(seed).uniform(-1, 1, n)
        vals, vecs = eigsh(W, k=k, which="LA", v0=v0)
    order = np.argsort(vals)[::-1][:k]
    return vecs[:, order]


class TransferSpectralClustering(TransferClusterer):
    """Transfer spectral clustering (Jiang & Chung, ECML-PKDD 2012) of the target with
    the source as unlabelled auxiliary data.

    Parameters
    ----------
    n_clusters : int, optional
        Number of clusters (also the embedding width ``k`` of all three blocks);
        ``None`` takes the pair's ``n_clusters``.
    trade_off : float, default 3.0
        ``r``, the weight of the instance-feature (co-clustering) terms; the paper's
        example uses 3.
    n_neighbors : int, default 10
        Neighbours per instance in each domain's kNN graph, the instance itself not
        counted (as :func:`dtc.cluster.knn_graph`; :class:`baselines.spectral.TargetSpectral`
        counts it: its 10 are 9 others).
    metric : str or callable, default "cosine"
        Distance of the kNN graphs: a metric of ``sklearn.neighbors`` by name, or a
        callable of two rows returning their distance, as ``sklearn.neighbors`` takes it.
    step : float, default 1.0
        Length of the normalised gradient step.
    max_iter : int, default 100
    tol : float, default 1e-5
        Stop when the objective changes by less than ``tol``.
    n_init : int, default 10
        K-means restarts on the embedding.
    seed : int, default 0

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    embedding_ : ndarray of shape (n_target, n_clusters)
        ``F_t`` with rows scaled to unit length (what K-means clusters).
    feature_embedding_ : ndarray of shape (n_features, n_clusters)
        ``F_z``.
    history_ : list of dict
        Per round ``iteration`` and ``objective`` (entry 0: the initialisation, with
        ``initial: True``).
    n_iter_ : int
    """

    requires_non_negative = True

    uses_source = True

    def __init__(
        self,
        n_clusters=None,
        trade_off=3.0,
        n_neighbors=10,
        metric="cosine",
        step=1.0,
        max_iter=100,
        tol=1e-5,
        n_init=10,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.trade_off = trade_off
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.step = step
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> int:
        """The data-free checks; returns the validated ``n_neighbors`` (checked against
        the domains' sizes by :meth:`_check_data`)."""
        name = type(self).__name__
        nn = check_positive_int(self.n_neighbors, method=name, name="n_neighbors")
        for pname in ("trade_off", "step", "tol"):
            check_number(getattr(self, pname), method=name, name=pname, low=0.0)
        if not callable(self.metric):
            # A distance between feature rows: "precomputed" would read the features as
            # distances, and "haversine" takes 2-d coordinates only.
            check_choice(self.metric, _METRICS, method=name, name="metric")
        check_positive_int(self.max_iter, method=name, name="max_iter", low=0)
        check_positive_int(self.n_init, method=name, name="n_init")
        check_seed(self.seed, method=name)
        return nn

    def _check_data(self, pair) -> int:
        """The number of clusters, after the data-free checks and those against ``pair``."""
        name = type(self).__name__
        k = self._n_clusters(pair)
        nn = self._check_params()
        n_min = min(pair.source.n_samples, pair.target.n_samples)
        if nn >= n_min:
            raise ValueError(
                f"{name}: n_neighbors={nn} needs more samples per domain; the smaller domain "
                f"has {n_min}"
            )
        if k > min(n_min, pair.target.n_features):
            raise ValueError(
                f"{name}: n_clusters={k} exceeds the samples of a domain or the features "
                f"({n_min} samples, {pair.target.n_features} features)"
            )
        check_non_negative(pair.target.X, method=name, role="target")
        check_non_negative(pair.source.X, method=name, role="source")
        return k

    def _fit(self, pair):
        k = self._check_data(pair)
        r = float(self.trade_off)
        Xt = pair.target.X.astype(np.float64)
        Xs = pair.source.X.astype(np.float64)
        Wt = _knn_affinity(Xt, self.n_neighbors, self.metric)
        Ws = _knn_affinity(Xs, self.n_neighbors, self.metric)
        At, As = normalize_bipartite(Xt), normalize_bipartite(Xs)

        Ft = _top_eigenvectors(Wt, k, self.seed)
        Fs = _top_eigenvectors(Ws, k, self.seed)
        joint = normalize_bipartite(sparse.vstack([At, As]))
        v0 = np.random.default_rng(self.seed).uniform(-1, 1, min(joint.shape))
        if k < min(joint.shape):
            _, sv, Vt = svds(joint, k=k, v0=v0)
            Fz = Vt[np.argsort(sv)[::-1]].T
        else:
            Fz = np.linalg.svd(joint.toarray(), full_matrices=False)[2][:k].T
        # Eigen/singular vectors have arbitrary signs: orient F_t, F_s to agree with F_z.
        for F, A in ((Ft, At), (Fs, As)):
            flip = np.einsum("ij,ij->j", F, A @ Fz) < 0
            F[:, flip] *= -1

        def objective():
            return float(
                np.trace(Ft.T @ (Wt @ Ft))
                + np.trace(Fs.T @ (Ws @ Fs))
                + r * np.trace(Ft.T @ (At @ Fz))
                + r * np.trace(Fs.T @ (As @ Fz))
            )

        def ascend(F, W, A):
            grad = 2 * (W @ F) + r * (A @ Fz)
            norm = np.linalg.norm(grad)
            return orthonormal_projection(F + self.step * grad / norm) if norm > 0 else F

        self.history_ = [{"iteration": 0, "objective": objective(), "initial": True}]
        it = 0
        if r > 0:
            for it in range(1, self.max_iter + 1):
                Ft = ascend(Ft, Wt, At)
                Fs = ascend(Fs, Ws, As)
                Fz = orthonormal_projection(At.T @ Ft + As.T @ Fs)
                self.history_.append({"iteration": it, "objective": objective()})
                if abs(self.history_[-1]["objective"] - self.history_[-2]["objective"]) < self.tol:
                    break
        self.n_iter_ = it
        self.embedding_ = unit_rows(Ft)
        self.feature_embedding_ = Fz
        self.labels_ = kmeans(self.embedding_, k, n_init=self.n_init, seed=self.seed)[0].astype(
            np.int64
        )
