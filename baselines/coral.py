"""CORAL (CORrelation ALignment), then K-means on the target.

B. Sun, J. Feng, K. Saenko. "Return of Frustratingly Easy Domain Adaptation". AAAI 2016.
CORAL whitens the source with its regularised covariance and re-colours it with the
target's: ``X_s <- X_s C_s^{-1/2} C_t^{1/2}``, ``C = cov(X) + reg * I`` (the paper's
Algorithm 1, ``reg = 1``), after which a classifier trained on the source is applied to
the target (the paper: linear SVM).

Adaptation to clustering (this module): the target has no classifier to receive, so

* ``direction="target_to_source"`` (default) maps the *target* onto the source's
  second-order statistics (the same map with the roles swapped), so the target's
  clusters take the shape of the source's before K-means sees them;
* ``direction="source_to_target"`` is the paper's map; the target features are
  unchanged, so it only helps through ``init="source"`` (K-means seeded at the adapted
  source class means or cluster centres, see :mod:`baselines._adapt_then_cluster`).

``match_means=True`` also moves the mapped domain's mean onto the other's (the paper
z-scores each domain first, where both means are zero and this changes nothing).
:func:`coral_transform` is the plain map (used by the paper test with a linear SVM).
"""

from __future__ import annotations

import numpy as np

from baselines._adapt_then_cluster import AdaptThenCluster, dense_linalg_threads
from baselines._validation import check_bool, check_choice, check_domains, check_number

__all__ = ["CORAL", "coral_transform", "sym_matrix_power"]

DIRECTIONS = ("target_to_source", "source_to_target")


def sym_matrix_power(C, power: float) -> np.ndarray:
    """``C ** power`` ``(d, d)`` of a symmetric positive-definite ``C`` ``(d, d)`` via ``eigh``."""
    w, V = np.linalg.eigh(C)
    w = np.clip(w, np.finfo(np.float64).tiny, None)
    return (V * w**power) @ V.T


def _times_cov_power(Z, X, reg: float, power: float) -> np.ndarray:
    """``Z @ (cov(X) + reg * I) ** power`` ``(m, d)`` for ``Z`` ``(m, d)``, ``X`` ``(n, d)``,
    ``n <= d`` and ``reg > 0``, without a ``(d, d)`` matrix.

    The centred rows of ``X`` span at most ``n - 1`` directions: with their thin SVD,
    ``cov(X) = V diag(lam) V^T``, ``V`` ``(d, n)`` orthonormal, so ``(cov(X) + reg I)^p =
    reg^p I + V diag((lam + reg)^p - reg^p) V^T``. O(n^2 d) time and O(n d) memory, where
    the eigendecomposition of the ``(d, d)`` covariance took O(d^3) and O(d^2): 42 s and
    1 GB at d = 4,000 (60 rows), about 1.5 h and 25 GB at d = 20,000.
    """
    _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    scale = (s**2 / (len(X) - 1) + reg) ** power - reg**power
    return reg**power * Z + ((Z @ Vt.T) * scale) @ Vt


def coral_transform(
    Xs, Xt, *, reg: float = 1.0, match_means: bool = False, caller: str = "coral_transform"
) -> np.ndarray:
    """Map ``Xs`` ``(n_s, d)`` to the second-order statistics of ``Xt`` ``(n_t, d)``.

    Returns ``Xs @ C_s^{-1/2} @ C_t^{1/2}`` of shape ``(n_s, d)``, with
    ``C = cov(X) + reg * I`` (unbiased covariances). The covariance of the result is
    ``C_t^{1/2} C_s^{-1/2} cov(X_s) C_s^{-1/2} C_t^{1/2}``, which is ``cov(X_t)`` when
    ``reg = 0``. With ``match_means`` the source is centred first and the target mean
    added back. ``reg = 0`` needs a full-rank ``cov(X_s)`` (``ValueError`` otherwise).
    ``caller`` names the estimator in error messages.

    A domain with no more rows than features (``reg > 0``) has its covariance's power
    applied through the SVD of its rows (:func:`_times_cov_power`), never forming a
    ``(d, d)`` matrix: the same map to rounding (1e-14), at O(n^2 d) cost.
    """
    Xs, Xt = check_domains(Xs, Xt, method=caller)
    if min(len(Xs), len(Xt)) < 2:
        raise ValueError(f"{caller}: each domain needs at least 2 samples for a covariance")
    reg = check_number(reg, method=caller, name="reg", low=0.0)
    d = Xs.shape[1]
    if reg > 0 and min(len(Xs), len(Xt)) <= d:
        # Wide data: each power applied to the rows in turn, through the domain's SVD when
        # it has no more rows than features (its (d, d) eigendecomposition otherwise).
        def times_power(Z, X, power):
            if len(X) <= d:
                return _times_cov_power(Z, X, reg, power)
            return Z @ sym_matrix_power(np.cov(X, rowvar=False) + reg * np.eye(d), power)

        with dense_linalg_threads(d):
            Z = Xs - Xs.mean(axis=0) if match_means else Xs
            Z = times_power(times_power(Z, Xs, -0.5), Xt, 0.5)
        return Z + Xt.mean(axis=0) if match_means else Z
    eye = reg * np.eye(d)
    Cs = np.cov(Xs, rowvar=False) + eye
    Ct = np.cov(Xt, rowvar=False) + eye
    if reg == 0:
        # C_s^{-1/2} of a singular C_s would raise its zero eigenvalues (clipped at the
        # smallest float) to the power -1/2, i.e. features of size ~1e150.
        rank = np.linalg.matrix_rank(Cs, hermitian=True)
        if rank < d:
            raise ValueError(
                f"{caller}: reg=0 needs a full-rank covariance of the mapped domain (its "
                f"inverse square root is taken), but it has rank {rank} < d={d} (constant or "
                "collinear features, or no more samples than features: n rows span at most "
                "n - 1 dimensions); use reg > 0"
            )
    with dense_linalg_threads(Xs.shape[1]):
        A = sym_matrix_power(Cs, -0.5) @ sym_matrix_power(Ct, 0.5)
    if not match_means:
        return Xs @ A
    return (Xs - Xs.mean(axis=0)) @ A + Xt.mean(axis=0)


class CORAL(AdaptThenCluster):
    """CORAL alignment of the second-order statistics (Sun, Feng & Saenko, AAAI 2016), then
    K-means on the target.

    Parameters
    ----------
    n_clusters : int, optional
        ``None`` takes the pair's ``n_clusters``.
    direction : {"target_to_source", "source_to_target"}, default "target_to_source"
        Which domain is re-coloured (see the module docstring).
    reg : float, default 1.0
        Added to the diagonal of both covariances (the paper's ``+ eye(d)``). ``0`` needs
        a full-rank covariance of the re-coloured domain (``ValueError`` otherwise:
        constant features or fewer samples than features make it singular).
    match_means : bool, default True
        Also align the means.
    init : {"k-means++", "source"}, default "k-means++"
    n_init : int, default 10
    seed : int, default 0

    Attributes
    ----------
    labels_ (n_t,), embedding_ (n_t, d), source_embedding_ (n_s, d), cluster_centers_
    (k, d), cluster_classes_ (k,) (``init="source"``, labelled source).
    """

    def __init__(
        self,
        n_clusters=None,
        direction="target_to_source",
        reg=1.0,
        match_means=True,
        init="k-means++",
        n_init=10,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.direction = direction
        self.reg = reg
        self.match_means = match_means
        self.init = init
        self.n_init = n_init
        self.seed = seed

    def _check_adapt_params(self) -> None:
        name = type(self).__name__
        check_choice(self.direction, DIRECTIONS, method=name, name="direction")
        check_number(self.reg, method=name, name="reg", low=0.0)
        check_bool(self.match_means, method=name, name="match_means")

    def _adapt(self, Xs, ys, Xt, k):
        # the parameters were checked by _check_adapt_params
        kwargs = {
            "reg": self.reg,
            "match_means": bool(self.match_means),
            "caller": type(self).__name__,
        }
        if self.direction == "source_to_target":
            return coral_transform(Xs, Xt, **kwargs), Xt
        return Xs, coral_transform(Xt, Xs, **kwargs)
