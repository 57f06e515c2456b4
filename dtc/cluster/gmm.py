"""Gaussian mixture clustering: a seeded wrapper on scikit-learn's ``GaussianMixture``
(EM, Dempster, Laird & Rubin, JRSS-B 1977), returning hard labels and soft
responsibilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from dtc.cluster.kmeans import check_centers, check_int, check_n_clusters, check_seed
from dtc.data.domain import check_features

__all__ = ["COVARIANCE_TYPES", "gmm"]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def gmm(
    X,
    n_components: int,
    *,
    covariance_type: str = "full",
    n_init: int = 1,
    max_iter: int = 100,
    reg_covar: float = 1e-6,
    means_init=None,
    seed: int = 0,
    return_model: bool = False,
):
    """Fit a Gaussian mixture to ``X`` and return its clustering.

    Parameters
    ----------
    X : array of shape (n, d)
    n_components : int, 1 <= n_components <= n
    covariance_type : "full", "tied", "diag" or "spherical"
    n_init, max_iter, reg_covar :
        As in scikit-learn (``reg_covar`` keeps the covariances invertible).
    means_init : array of shape (n_components, d), optional
        Initial means (e.g. source class means for model transfer); component ``c``
        starts at ``means_init[c]``. Default: K-means initialisation.
    seed : int
    return_model : bool
        Also return the fitted ``GaussianMixture``.

    Returns
    -------
    labels : int64 array of shape (n,), the most responsible component
    resp : float64 array of shape (n, n_components), rows sum to one
    model : GaussianMixture, only with ``return_model=True``
    """
    X = check_features(X, name="X")
    k = check_n_clusters(n_components, X.shape[0], "n_components")
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type: expected one of {COVARIANCE_TYPES}, got {covariance_type!r}"
        )
    if not (isinstance(reg_covar, (int, float)) and reg_covar >= 0):
        raise ValueError(f"reg_covar: expected a non-negative float, got {reg_covar!r}")
    if means_init is not None:
        means_init = check_centers(means_init, k, X.shape[1], "means_init").astype(np.float64)
    model = GaussianMixture(
        n_components=k,
        covariance_type=covariance_type,
        n_init=check_int(n_init, "n_init"),
        max_iter=check_int(max_iter, "max_iter"),
        reg_covar=float(reg_covar),
        means_init=means_init,
        random_state=check_seed(seed),
    )
    # float64 for EM: the log-determinants of near-singular covariances need it.
    X64 = X.astype(np.float64)
    model.fit(X64)
    resp = model.predict_proba(X64)
    labels = resp.argmax(axis=1).astype(np.int64)
    return (labels, resp, model) if return_model else (labels, resp)
