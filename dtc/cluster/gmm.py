"""Gaussian mixture clustering: a seeded wrapper on scikit-learn's ``GaussianMixture``
(EM, Dempster, Laird & Rubin, JRSS-B 1977), returning hard labels and soft
responsibilities.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.mixture import GaussianMixture

from dtc._validation import check_bool, check_features
from dtc.cluster.kmeans import (
    check_centers,
    check_int,
    check_n_clusters,
    check_seed,
    squared_differences,
    warn_if_fewer_clusters,
)

__all__ = ["COVARIANCE_TYPES", "gmm", "start_from_means"]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _check_covariance(covariance_type, reg_covar) -> None:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type: expected one of {COVARIANCE_TYPES}, got {covariance_type!r}"
        )
    if isinstance(reg_covar, bool) or not (
        isinstance(reg_covar, numbers.Real) and 0 <= reg_covar < math.inf
    ):
        raise ValueError(f"reg_covar: expected a non-negative float, got {reg_covar!r}")


def start_from_means(X, means, covariance_type: str = "full", reg_covar: float = 1e-6):
    """Weights ``(k,)`` and precisions of a mixture whose component ``c`` starts at
    ``means[c]`` ``(k, d)``: those of the rows of ``X`` ``(n, d)`` nearest to it, as the
    M-step of EM would estimate them from that hard assignment with the mean held at
    ``means[c]`` (the covariance of a component's rows around ``means[c]``, plus
    ``reg_covar`` on the diagonal). Around the rows' own mean instead, a component of fewer
    rows than dimensions started with a covariance singular along the offset between the
    two means (a variance of ``reg_covar`` there), so the first E-step gave it no row: DTC's
    GMM from the source class means of its 32-dimensional embedding kept 6, 7 and 9 of the
    10 clusters of SURF amazon->webcam (20 to 39 target rows a class) at seeds 0 to 2, and
    Table 2's row read ACC 34.9 there, 49.3 with the covariance around the given mean
    (``experiments/paper/CHANGES.md``).

    scikit-learn's ``GaussianMixture(means_init=...)`` takes only the means from it: the
    weights and covariances come from a K-means run of its own, whose cluster ``c`` is
    any of them, so component ``c`` started with another cluster's covariance and the
    result depended on the order of the means: on the four anisotropic Gaussians of its
    test, component ``c`` held the rows of class ``c`` for 1 % to 85 % of them over the 24
    orders of the same means (84 % for every order from this start). A component with fewer than two rows takes the
    covariance of all of ``X``, and a weight of one row.

    Precisions are shaped as ``GaussianMixture`` takes them: ``(k, d, d)`` for
    ``"full"``, ``(d, d)`` for ``"tied"``, ``(k, d)`` for ``"diag"``, ``(k,)`` for
    ``"spherical"``.
    """
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    if X.ndim != 2 or means.ndim != 2 or len(means) == 0 or means.shape[1] != X.shape[1]:
        # "not enough values to unpack" named neither
        raise ValueError(
            "start_from_means: expected X of shape (n, d) and means of shape (k, d), k >= 1, "
            f"with the same d, got {X.shape} and {means.shape}"
        )
    # an unknown covariance_type was taken as "full", and a negative reg_covar gave
    # negative precisions ("diag"): none of them refused
    _check_covariance(covariance_type, reg_covar)
    k, d = means.shape
    # The nearest mean by direct differences, in blocks of rows: at once, the (n, k, d)
    # float64 differences were 1.9 GiB at 32,000 rows of 800 and 10 means.
    labels = squared_differences(X, means).argmin(1)
    counts = np.bincount(labels, minlength=k)
    weights = np.maximum(counts, 1) / np.maximum(counts, 1).sum()
    if covariance_type in ("diag", "spherical"):
        # Only the variances: (k, d), where k (d, d) covariances were 1.4 GiB at d = 3,000.
        overall = X.var(0)
        variances = np.stack(
            [
                ((X[labels == c] - means[c]) ** 2).mean(0) if counts[c] > 1 else overall
                for c in range(k)
            ]
        )
        variances += reg_covar
        return weights, 1.0 / (variances if covariance_type == "diag" else variances.mean(1))

    def scatter(rows, centre=None):  # second moment around centre (the rows' mean), (d, d)
        centred = rows - (rows.mean(0) if centre is None else centre)
        return centred.T @ centred / len(rows)

    overall = scatter(X)
    ridge = reg_covar * np.eye(d)
    if covariance_type == "tied":
        # EM's tied covariance: the within-component scatter pooled over all rows, summed
        # one component at a time (one (d, d) matrix alive, not k)
        pooled = np.zeros((d, d))
        for c in range(k):
            pooled += scatter(X[labels == c], means[c]) * counts[c] if counts[c] > 1 else overall
        return weights, _precisions(pooled / np.maximum(counts, 1).sum() + ridge)
    covs = np.stack(
        [scatter(X[labels == c], means[c]) if counts[c] > 1 else overall for c in range(k)]
    )
    return weights, _precisions(covs + ridge)


def _precisions(covs: np.ndarray) -> np.ndarray:
    """The symmetric inverses of covariances ``(..., d, d)``.

    ``reg_covar`` is absolute: a component with fewer rows than dimensions has a singular
    scatter, and at features of ~1e5 (a scatter of ~1e10) the ridge falls below its
    rounding, so the inverse was numerically singular (condition ~1e17) and
    scikit-learn refused the start ("should be symmetric, positive-definite", or
    "leading minor not positive definite") where the same data in other units fit. Such
    a covariance is inverted through its eigenvalues floored at ``d * eps`` times the
    largest; the others as before, by ``inv``.
    """
    vals, vecs = np.linalg.eigh(covs)
    floor = vals[..., -1:] * covs.shape[-1] * np.finfo(np.float64).eps
    singular = (vals[..., :1] <= floor)[..., 0]
    # inv only where it is defined: an exactly singular one ("Singular matrix") raised
    # before the floor was reached
    precisions = np.empty_like(covs)
    if (~singular).any():
        precisions[~singular] = _symmetric(np.linalg.inv(covs[~singular]))
    if singular.any():
        v, V = np.maximum(vals[singular], floor[singular]), vecs[singular]
        precisions[singular] = _symmetric((V / v[..., None, :]) @ np.swapaxes(V, -1, -2))
    return precisions


def _symmetric(P: np.ndarray) -> np.ndarray:
    """``(P + P^T) / 2`` over the last two axes. The inverse of a near-singular covariance
    (a component with fewer rows than dimensions, so a rank-deficient scatter plus
    ``reg_covar``) has entries ~1 / reg_covar and an asymmetry of their rounding, 1e-10
    relative at 40 rows of 64 dimensions: scikit-learn then refused the start as "not
    symmetric, positive-definite" although its smallest eigenvalue was 0.18."""
    return (P + np.swapaxes(P, -1, -2)) / 2


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
        As in scikit-learn. ``reg_covar``, added to the covariances' diagonal to keep them
        invertible, is absolute, in squared feature units: on features whose variance is
        not large against it (1e-6 against features of scale 1e-4) it swamps the
        clusters' own covariances and merges them; standardise such features.
    means_init : array of shape (n_components, d), optional
        Initial means (e.g. source class means for model transfer); component ``c``
        starts at ``means_init[c]``, with the weight and covariance of the rows nearest
        to it (:func:`start_from_means`). Default: K-means initialisation.
    seed : int
    return_model : bool
        Also return the fitted ``GaussianMixture``.

    Returns
    -------
    labels : int64 array of shape (n,), the most responsible component (a warning says
        when fewer than ``n_components`` components hold a row)
    resp : float64 array of shape (n, n_components), rows sum to one
    model : GaussianMixture, only with ``return_model=True``
    """
    X = check_features(X, name="X")
    k = check_n_clusters(n_components, X.shape[0], "n_components")
    _check_covariance(covariance_type, reg_covar)
    # "no" was truthy: three values returned where two were asked for (checked before EM)
    return_model = check_bool(return_model, method="gmm", name="return_model")
    # float64 for EM: the log-determinants of near-singular covariances need it.
    X64 = X.astype(np.float64)
    # Centred: scikit-learn's EM expands ||x - mu||^2 and the variances as E[x^2] - mu^2,
    # which lose the spread to cancellation away from the origin, and the partition moved
    # with a shift of the features (digits + 8, diag from the source means: ARI 0.74 with
    # the same rows unshifted). EM is translation-equivariant (reg_covar too), so it runs on
    # centred rows and the model's means are shifted back.
    centre = X64.mean(axis=0)
    X64 = X64 - centre
    start = {}
    if means_init is not None:
        means_init = check_centers(means_init, k, X.shape[1], "means_init").astype(np.float64)
        means_init = means_init - centre
        weights, precisions = start_from_means(X64, means_init, covariance_type, reg_covar)
        start = {"means_init": means_init, "weights_init": weights, "precisions_init": precisions}
    model = GaussianMixture(
        n_components=k,
        covariance_type=covariance_type,
        n_init=check_int(n_init, "n_init"),
        max_iter=check_int(max_iter, "max_iter"),
        reg_covar=float(reg_covar),
        random_state=check_seed(seed),
        **start,
    )
    # exp of very negative log-densities underflows to 0, as meant: under the caller's
    # np.seterr(all="raise") it raised FloatingPointError from inside scikit-learn
    with np.errstate(under="ignore"):
        model.fit(X64)
        resp = model.predict_proba(X64)
    # the caller's coordinates: model.predict(X) and its means_init read as given
    model.means_ = model.means_ + centre
    if means_init is not None:
        model.means_init = means_init + centre
    labels = resp.argmax(axis=1).astype(np.int64)
    # EM can empty a component (few rows per component, a start between clusters), or an
    # absolute reg_covar swamp the covariances of features in small units
    why = "EM left the other components without a row"
    if np.unique(labels).size < k and reg_covar > 1e-3 * (var := float(X64.var(axis=0).max())):
        why += (
            f"; reg_covar={float(reg_covar):g} is not small against the features' largest variance "
            f"({var:.3g}) and swamps the clusters' covariances: standardise the features "
            "or lower reg_covar"
        )
    warn_if_fewer_clusters(labels, k, "gmm", why)
    return (labels, resp, model) if return_model else (labels, resp)
