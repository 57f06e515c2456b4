"""Target-only K-means: the no-transfer reference every transfer method must beat.

Lloyd's algorithm with k-means++ seeding (Arthur & Vassilvitskii, SODA 2007), run
``n_init`` times and the lowest-inertia result kept (scikit-learn's ``KMeans``).
The source domain is ignored.
"""

from __future__ import annotations

from sklearn.cluster import KMeans

from baselines._validation import check_positive_int, check_seed
from dtc.methods import TransferClusterer


class TargetKMeans(TransferClusterer):
    """K-means on the target features.

    Parameters
    ----------
    n_clusters : int, optional
        Number of clusters; ``None`` takes the pair's ``n_clusters``.
    n_init : int, default 10
        Restarts of k-means++ seeding; the lowest inertia wins.
    max_iter : int, default 300
    seed : int, default 0

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    cluster_centers_ : ndarray of shape (n_clusters, d)
    embedding_ : ndarray of shape (n_target, d)
        The target features themselves (K-means learns no representation).
    """

    uses_source = False
    accepts_heterogeneous = True  # the source is never looked at

    def __init__(self, n_clusters=None, n_init=10, max_iter=300, seed=0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> tuple[int, int, int]:
        """Validated ``(n_init, max_iter, seed)``."""
        name = type(self).__name__
        return (
            check_positive_int(self.n_init, method=name, name="n_init"),
            check_positive_int(self.max_iter, method=name, name="max_iter"),
            check_seed(self.seed, method=name),
        )

    def _fit(self, pair):
        k = self._n_clusters(pair)
        n_init, max_iter, seed = self._check_params()
        km = KMeans(k, n_init=n_init, max_iter=max_iter, random_state=seed)
        self.labels_ = km.fit_predict(pair.target.X)
        self.cluster_centers_ = km.cluster_centers_
        self.embedding_ = pair.target.X
