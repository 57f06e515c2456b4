"""Target-only Gaussian mixture clustering: a no-transfer reference.

A Gaussian mixture fitted by expectation-maximisation (Dempster, Laird & Rubin,
JRSS-B 1977), each target sample assigned to the component of highest posterior
probability; :func:`dtc.cluster.gmm.gmm`, i.e. scikit-learn's ``GaussianMixture``
(k-means initialisation, ``n_init`` restarts, the highest likelihood kept). The source domain is ignored.
"""

from __future__ import annotations

from baselines._validation import check_choice, check_number, check_positive_int, check_seed
from dtc.cluster.gmm import gmm
from dtc.methods import TransferClusterer

__all__ = ["TargetGMM"]

_COVARIANCES = ("full", "tied", "diag", "spherical")


class TargetGMM(TransferClusterer):
    """Gaussian mixture model of the target features (EM: Dempster, Laird & Rubin,
    JRSS-B 1977).

    Parameters
    ----------
    n_clusters : int, optional
        Number of components; ``None`` takes the pair's ``n_clusters``.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "diag"
        ``"diag"`` by default: full covariances need far more samples than features
        (64-800 features, a few hundred samples per class in the benchmarks here).
    reg_covar : float, default 1e-4
        Added to the covariance diagonals (keeps constant pixels from breaking EM).
    n_init : int, default 3
    max_iter : int, default 200
    seed : int, default 0

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
        The component of highest posterior probability.
    proba_ : ndarray of shape (n_target, n_clusters)
        Posterior probabilities of the components.
    lower_bound_ : float
        Per-sample log-likelihood lower bound of the kept run.
    """

    uses_source = False
    accepts_heterogeneous = True  # the source is never looked at

    def __init__(
        self,
        n_clusters=None,
        covariance_type="diag",
        reg_covar=1e-4,
        n_init=3,
        max_iter=200,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> dict:
        """The validated keyword arguments of :func:`dtc.cluster.gmm.gmm`."""
        name = type(self).__name__
        return {
            "covariance_type": check_choice(
                self.covariance_type, _COVARIANCES, method=name, name="covariance_type"
            ),
            "reg_covar": check_number(self.reg_covar, method=name, name="reg_covar", low=0.0),
            "n_init": check_positive_int(self.n_init, method=name, name="n_init"),
            "max_iter": check_positive_int(self.max_iter, method=name, name="max_iter"),
            "seed": check_seed(self.seed, method=name),
        }

    def _fit(self, pair):
        k = self._n_clusters(pair)
        labels, self.proba_, model = gmm(
            pair.target.X, k, **self._check_params(), return_model=True
        )
        self.labels_ = labels.astype("int64")
        self.lower_bound_ = float(model.lower_bound_)
