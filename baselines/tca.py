"""Transfer Component Analysis (TCA), then K-means on the target; the MMD embedding
shared with JDA.

S. J. Pan, I. W. Tsang, J. T. Kwok, Q. Yang. "Domain Adaptation via Transfer Component
Analysis". IEEE Transactions on Neural Networks 22(2), 2011. TCA finds ``p`` directions
``V`` that keep the variance of the joint data (``V^T F^T H F V = I``) while making the
source and target means agree (small ``tr(V^T F^T M F V)``, ``M`` the MMD matrix of the
domain indicator), regularised by ``lam ||V||^2``: the top ``p`` generalised
eigenvectors of ``(F^T H F) v = rho (F^T M F + lam I) v``. ``F`` is the data ``X``
(``kernel="primal"``, linear map) or a kernel matrix ``K`` of the joint data (dual;
``"auto"``: primal when ``n >= d``, else the linear kernel: the smaller eigenproblem).

This follows the TCA/JDA code of Long et al. (ICCV 2013, see :mod:`baselines.jda`), which
is what their code does: ``M = e e^T / ||e e^T||_F`` with ``e = [1/n_s; -1/n_t]``,
eigenvectors of unit Euclidean norm; ``normalize=True`` scales every sample to unit L2
norm before and every embedded sample after (the JDA code; TCA is JDA's first
iteration). The TCA column of their Table 2 (C->A 38.20, W->D 87.26) is reproduced
exactly with ``kernel="linear", normalize=False`` (the kernel form of Pan et al.,
without the JDA normalisation); see ``tests/baselines/test_paper.py``.

Computation (:func:`mmd_embedding`): ``F^T M F + lam I = lam I + U U^T`` with ``U`` of
rank <= m (one column per MMD term), so its inverse square root is closed-form; the
problem becomes the ordinary symmetric eigenproblem of ``Y^T Y``, ``Y = H F A^{-1/2}``,
solved on the smaller of ``Y^T Y`` and ``Y Y^T``: no ``n x n`` MMD matrix is formed and
no ill-conditioned generalised solver is needed when ``F^T H F`` is singular (``n < d``).
The kernel forms (``"linear"``, ``"rbf"``, ``"auto"`` when ``n < d``) do hold the joint
``n x n`` kernel, ``n = n_s + n_t``, and a few arrays of its size: 503 MiB above the data
at 2,000 + 2,000 rows (``kernel="rbf"``, about four ``n x n`` float64 arrays;
``scripts/baseline_costs.py``), growing with ``n^2``; JDA's kernels alike.

Adaptation to clustering: K-means on the embedded target ``Z_t`` (or ``init="source"``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

from baselines._adapt_then_cluster import (
    AdaptThenCluster,
    check_n_components,
    dense_linalg_threads,
    resolve_n_components,
)
from baselines._arrays import unit_rows
from baselines._validation import check_bool, check_choice, check_domains, check_number

__all__ = [
    "KERNELS",
    "TCA",
    "check_mmd_params",
    "joint_features",
    "mmd_embedding",
    "tca_transform",
]

KERNELS = ("auto", "primal", "linear", "rbf")


def joint_features(
    Xs,
    Xt,
    *,
    kernel: str = "primal",
    gamma: float = 1.0,
    normalize=True,
    caller: str = "joint_features",
):
    """The stacked data ``F`` ``(n_s + n_t, q)`` the embedding is computed from.

    ``"primal"``: ``X = [X_s; X_t]`` (``q = d``); ``"linear"`` / ``"rbf"``: the kernel
    matrix of ``X`` (``q = n``; rbf: ``exp(-gamma ||x - x'||^2)``); ``"auto"``: primal
    when ``n >= d``, else linear (the smaller problem). With ``normalize`` every sample
    is first scaled to unit L2 norm (the JDA code). ``caller`` names the estimator in
    error messages.
    """
    kernel = check_choice(kernel, KERNELS, method=caller, name="kernel")
    normalize = check_bool(normalize, method=caller, name="normalize")
    Xs, Xt = check_domains(Xs, Xt, method=caller)
    X = np.vstack([Xs, Xt])
    if normalize and X.shape[1] == 1:
        # a unit-norm row of one feature is +1 or -1: every row of one sign the same
        raise ValueError(
            f"{caller}: normalize=True scales every row to unit L2 norm, which leaves one "
            "feature only its sign; give normalize=False or more than 1 feature"
        )
    if normalize:
        X = unit_rows(X)
    if kernel == "auto":
        kernel = "primal" if X.shape[0] >= X.shape[1] else "linear"
    if kernel == "primal":
        return X
    if kernel == "linear":
        return X @ X.T
    return rbf_kernel(X, gamma=check_number(gamma, method=caller, name="gamma", strict=True))


def _apply_inv_sqrt(Z, Q, scale, lam):
    """``Z @ A^{-1/2}`` for ``A = lam I + Q diag(s) Q^T`` (``Q`` orthonormal columns,
    ``scale = (s + lam)^{-1/2}``); ``Z`` ``(r, q)``."""
    ZQ = Z @ Q
    return (Z - ZQ @ Q.T) / np.sqrt(lam) + (ZQ * scale) @ Q.T


def mmd_embedding(F, E, n_components: int, lam: float) -> np.ndarray:
    """Directions ``V`` ``(q, p)`` of the MMD-regularised embedding ``Z = F V``.

    Parameters
    ----------
    F : (n, q) stacked data (or kernel matrix) of both domains
    E : (n, m) MMD vectors; the MMD matrix is ``M = E E^T / ||E E^T||_F``
    n_components : p <= q
    lam : > 0, the ridge on ``V``

    Returns
    -------
    V : (q, p), the top ``p`` generalised eigenvectors of
        ``(F^T H F) v = rho (F^T M F + lam I) v`` (``H`` the centring matrix), by
        decreasing ``rho``, each of unit Euclidean norm.
    """
    F = np.asarray(F, dtype=np.float64)
    E = np.asarray(E, dtype=np.float64)
    n, q = F.shape
    with dense_linalg_threads(min(n, q)):
        return _mmd_embedding(F, E, n_components, lam)


def _null_directions(R, count: int) -> np.ndarray:
    """``count`` orthonormal columns ``(q, count)`` orthogonal to the orthonormal columns
    of ``R`` ``(q, r)`` (the row space of ``Y``, so ``Y u = 0``); deterministic."""
    G = np.random.default_rng(0).standard_normal((R.shape[0], count))
    Q = np.linalg.qr(np.hstack([R, G]))[0]
    return Q[:, R.shape[1] :]


def _mmd_embedding(F, E, n_components, lam):
    n, q = F.shape
    fro = np.sqrt(np.square(E.T @ E).sum())
    U = F.T @ E / np.sqrt(fro)  # F^T M F = U U^T
    Q, R = np.linalg.qr(U)
    s, W = np.linalg.eigh(R @ R.T)
    Q = Q @ W
    scale = 1.0 / np.sqrt(np.clip(s, 0.0, None) + lam)
    Y = _apply_inv_sqrt(F - F.mean(axis=0), Q, scale, lam)  # H F A^{-1/2}, (n, q)
    p = n_components
    if n < q:  # eigenvectors of Y^T Y from the n x n Gram matrix
        w, P = scipy.linalg.eigh(Y @ Y.T, subset_by_index=[n - p, n - 1])
        # Y has rank <= n - 1 (H centres it): where p reaches past its rank, the Gram
        # matrix's zero eigenvalues (rho = 0) have no Y^T P / sqrt(w) (rounding noise
        # divided by ~0, not an eigenvector): any unit u with Y u = 0 is one there.
        null = w <= max(w[-1], 0.0) * n * np.finfo(np.float64).eps
        u = np.empty((q, p))
        u[:, ~null] = (Y.T @ P[:, ~null]) / np.sqrt(w[~null])
        if null.any():
            u[:, null] = _null_directions(u[:, ~null], int(null.sum()))
    else:
        w, u = scipy.linalg.eigh(Y.T @ Y, subset_by_index=[q - p, q - 1])
    V = _apply_inv_sqrt(u[:, ::-1].T, Q, scale, lam).T  # A^{-1/2} u (A is symmetric)
    return V / np.linalg.norm(V, axis=0, keepdims=True)


def marginal_mmd_vector(ns: int, nt: int, n_classes: int = 1) -> np.ndarray:
    """``e = sqrt(C) [1/n_s; -1/n_t]`` ``(n_s + n_t,)``: ``e e^T`` is the marginal MMD
    matrix ``M_0`` scaled by the number of classes ``C``, as in the JDA code."""
    return np.sqrt(n_classes) * np.concatenate([np.full(ns, 1.0 / ns), np.full(nt, -1.0 / nt)])


def embed(F, E, ns: int, n_components: int, lam: float, normalize: bool):
    """``Z = F V`` split into ``(Z_s, Z_t)``, rows L2-normalised with ``normalize``.

    ``F`` ``(n_s + n_t, q)`` the stacked data (or kernel matrix) of both domains, source rows
    first; ``E`` ``(n_s + n_t, m)`` the MMD vectors and ``V`` ``(q, p)``, ``p =
    n_components``, the directions of :func:`mmd_embedding`. Returns ``Z_s`` ``(n_s, p)``
    (the first ``ns`` rows) and ``Z_t`` ``(n_t, p)``.
    """
    Z = F @ mmd_embedding(F, E, n_components, lam)
    if normalize:
        Z = unit_rows(Z)
    return Z[:ns], Z[ns:]


def check_mmd_params(n_components, lam, kernel, gamma, normalize, *, method: str) -> None:
    """The data-free checks of the MMD embedding's parameters (TCA's, JDA's): ``lam > 0``,
    ``kernel`` one of :data:`KERNELS`, ``normalize`` a bool, ``gamma > 0`` for the rbf
    kernel (the only one that reads it), ``n_components`` an int ``>= 1`` or ``None``
    (its upper limit is the data's). ``ValueError`` naming ``method``."""
    check_number(lam, method=method, name="lam", strict=True)
    kernel = check_choice(kernel, KERNELS, method=method, name="kernel")
    check_bool(normalize, method=method, name="normalize")
    if kernel == "rbf":
        check_number(gamma, method=method, name="gamma", strict=True)
    check_n_components(n_components, method=method)


def check_embedding_params(n_components, lam, kernel, limit, *, method: str):
    """Validated ``(p, lam, kernel)``; ``n_components=None`` means ``min(100, limit)``."""
    kernel = check_choice(kernel, KERNELS, method=method, name="kernel")
    # the limit is the smaller side of the joint features F, not min(d, n) with a kernel
    why = (
        "the smaller side of the joint features: n_s + n_t rows by d, or by n_s + n_t with a kernel"
    )
    p = resolve_n_components(n_components, 100, limit, method=method, why=why)
    lam = check_number(lam, method=method, name="lam", strict=True)
    return p, lam, kernel


def tca_transform(
    Xs,
    Xt,
    *,
    n_components=None,
    lam=1.0,
    kernel="auto",
    gamma=1.0,
    normalize=True,
    caller: str = "tca_transform",
):
    """TCA embedding (Pan et al., IEEE TNN 2011) of ``Xs`` ``(n_s, d)`` and ``Xt`` ``(n_t, d)``.

    Returns ``(Zs, Zt)`` of shapes ``(n_s, p)`` and ``(n_t, p)``; ``p = n_components``
    (``None``: ``min(100, n_s + n_t, q)``, ``q = d`` primal, ``n_s + n_t`` with a kernel:
    the joint features ``(n_s + n_t, q)`` have no more directions than that).
    ``kernel``, ``gamma``, ``normalize``: see :func:`joint_features`; ``lam``: the ridge;
    ``caller`` names the estimator in error messages.
    """
    # before the kernel matrix
    check_mmd_params(n_components, lam, kernel, gamma, normalize, method=caller)
    F = joint_features(Xs, Xt, kernel=kernel, gamma=gamma, normalize=normalize, caller=caller)
    p, lam, kernel = check_embedding_params(n_components, lam, kernel, min(F.shape), method=caller)
    ns = len(Xs)
    e = marginal_mmd_vector(ns, len(Xt))[:, None]
    return embed(F, e, ns, p, lam, normalize)


class TCA(AdaptThenCluster):
    """Transfer Component Analysis (Pan et al., IEEE TNN 2011), then K-means on the embedded
    target.

    Parameters
    ----------
    n_clusters : int, optional
    n_components : int, optional
        Embedding dimension; ``None``: ``min(100, n_s + n_t, q)`` (100 as in Long et al.,
        2013; ``q`` as in :func:`tca_transform`).
    lam : float, default 1.0
        Ridge on the directions (JDA's ``lambda``): larger keeps the variance more and
        matches the means less. Pan et al.'s ``mu`` (TNN 2011: the leading eigenvectors of
        ``(K L K + mu I)^-1 K H K``) is the same ridge on the MMD matrix ``L`` as it is;
        here ``L`` is divided by its Frobenius norm ``1/n_s + 1/n_t`` (the JDA code), so a
        paper's ``mu`` is ``lam = mu / (1/n_s + 1/n_t)``.
    kernel : {"auto", "primal", "linear", "rbf"}, default "auto"
    gamma : float, default 1.0
        rbf width.
    normalize : bool, default True
        L2-normalise samples before and embedded samples after (the JDA/TCA code).
    init : {"k-means++", "source"}, default "k-means++"
    n_init : int, default 10
    seed : int, default 0

    Attributes
    ----------
    labels_ (n_t,), embedding_ (n_t, p), source_embedding_ (n_s, p), cluster_centers_
    (k, p), cluster_classes_ (k,) (``init="source"``, labelled source).
    """

    def __init__(
        self,
        n_clusters=None,
        n_components=None,
        lam=1.0,
        kernel="auto",
        gamma=1.0,
        normalize=True,
        init="k-means++",
        n_init=10,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.lam = lam
        self.kernel = kernel
        self.gamma = gamma
        self.normalize = normalize
        self.init = init
        self.n_init = n_init
        self.seed = seed

    def _check_adapt_params(self) -> None:
        check_mmd_params(
            self.n_components,
            self.lam,
            self.kernel,
            self.gamma,
            self.normalize,
            method=type(self).__name__,
        )

    def _adapt(self, Xs, ys, Xt, k):
        return tca_transform(
            Xs,
            Xt,
            n_components=self.n_components,
            lam=self.lam,
            kernel=self.kernel,
            gamma=self.gamma,
            normalize=self.normalize,
            caller=type(self).__name__,
        )
