"""Target-only K-means: the no-transfer reference every transfer method must beat.

Lloyd's algorithm with k-means++ seeding (Arthur & Vassilvitskii, SODA 2007), run
``n_init`` times and the lowest-inertia result kept (scikit-learn's ``KMeans``).
The source domain is ignored. Features whose largest |value| lies outside ``2**+-40``
are clustered multiplied by a power of two (as :func:`dtc.cluster.kmeans.kmeans` does):
exact, and K-means is equivariant to it, while scikit-learn's float32 squared distances
underflow or overflow at such scales (1e-25 or 1e22: one cluster).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from baselines._validation import check_positive_int, check_seed
from dtc._validation import pow2_exponent
from dtc.methods import TransferClusterer

__all__ = ["TargetKMeans"]


class TargetKMeans(TransferClusterer):
    """K-means on the target features (Lloyd's algorithm, IEEE Trans. Information Theory
    1982, with k-means++ seeding, Arthur & Vassilvitskii, SODA 2007).

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
    labels_ : int64 ndarray of shape (n_target,)
    cluster_centers_ : ndarray of shape (n_clusters, d)
        In the units of the target features (scaled back where the fit rescaled them).
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
        X = pair.target.X
        # 0 (the data untouched, so the result is bit for bit that of KMeans on X) unless
        # float32 squared distances would under- or overflow; then 2**e X, whose clustering
        # is that of X (a power of two scales exactly), and centres scaled back.
        e = pow2_exponent(X)
        km = KMeans(k, n_init=n_init, max_iter=max_iter, random_state=seed)
        self.labels_ = km.fit_predict(np.ldexp(X, e) if e else X).astype(np.int64)
        self.cluster_centers_ = np.ldexp(km.cluster_centers_, -e) if e else km.cluster_centers_
        self.embedding_ = pair.target.X
