"""Target-only agglomerative (hierarchical) clustering: a no-transfer reference.

Bottom-up merging until ``n_clusters`` groups remain; by default Ward's criterion
(Ward, JASA 1963: merge the pair of clusters whose union least increases the total
within-cluster sum of squares), else average, complete or single linkage;
scikit-learn's ``AgglomerativeClustering``. Without a connectivity constraint (none is
used here) scipy's linkage holds the ``n (n - 1) / 2`` float64 pairwise distances and a
copy: about ``8 n^2`` bytes and ``O(n^2)`` time, measured 0.75 GiB / 7 s at 10,000 target
rows and 3.0 GiB / 34 s at 20,000 (64 features, the 2-core machine of the brief;
``scripts/baseline_costs.py``, which finds the memory within 1 % of ``8 n^2``), so 50,000
would need about 19 GiB. A target above ``max_dense`` rows (20,000 by default) is
refused with a ``ValueError`` before anything is allocated, where it was killed for memory
or failed inside scipy naming no parameter. The source domain is ignored.
"""

from __future__ import annotations

from sklearn.cluster import AgglomerativeClustering

from baselines._validation import check_choice, check_positive_int
from dtc.methods import TransferClusterer

__all__ = ["TargetAgglomerative"]

_LINKAGES = ("ward", "average", "complete", "single")


#: The distances of scikit-learn's agglomerative clustering but "precomputed", which would
#: read the target's features as a distance matrix (a square target gave labels of nothing).
METRICS = ("euclidean", "l1", "l2", "manhattan", "cosine")


class TargetAgglomerative(TransferClusterer):
    """Hierarchical clustering of the target features (by default Ward's criterion: Ward,
    JASA 1963).

    Parameters
    ----------
    n_clusters : int, optional
        Number of clusters; ``None`` takes the pair's ``n_clusters``.
    linkage : {"ward", "average", "complete", "single"}, default "ward"
    metric : str or callable, default "euclidean"
        Distance between samples: one of :data:`METRICS` (scikit-learn's, less
        ``"precomputed"``: the target's features are no distance matrix) or a callable
        ``X (n, d) -> (n, n)`` distance matrix, as scikit-learn calls it (not a function
        of two rows: that failed in a bare TypeError); Ward needs ``"euclidean"``.
    max_dense : int, default 20000
        Largest target (rows) it clusters: its memory grows as about ``8 n^2`` bytes
        (3.0 GiB at 20,000, see the module docstring); a larger target raises
        ``ValueError``. Raise it only with the memory for it.

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    children_ : ndarray of shape (n_target - 1, 2)
        The merge tree (scikit-learn's convention).
    """

    uses_source = False
    accepts_heterogeneous = True  # the source is never looked at

    def __init__(self, n_clusters=None, linkage="ward", metric="euclidean", max_dense=20000):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.metric = metric
        self.max_dense = max_dense

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> int:
        """The data-free checks; returns ``max_dense``."""
        name = type(self).__name__
        check_choice(self.linkage, _LINKAGES, method=name, name="linkage")
        if not callable(self.metric):  # a typo failed in the fit, naming scikit-learn's class
            check_choice(self.metric, METRICS, method=name, name="metric")
        if self.linkage == "ward" and self.metric != "euclidean":
            raise ValueError(
                f"{name}: Ward linkage requires metric='euclidean', got {self.metric!r}"
            )
        return check_positive_int(self.max_dense, method=name, name="max_dense")

    def _fit(self, pair):
        k = self._n_clusters(pair)
        max_dense = self._check_params()
        n = pair.target.n_samples
        if n > max_dense:
            # scipy's linkage builds the condensed distances (n (n - 1) / 2 float64) and a
            # copy: at 50,000 rows about 19 GiB, killed for memory rather than refused
            raise ValueError(
                f"{type(self).__name__}: the target has {n} samples, more than "
                f"max_dense={max_dense}: agglomerative clustering holds all pairwise "
                f"distances (about 8 n^2 bytes, {8 * n * n / 2**30:.1f} GiB here); raise "
                "max_dense if the memory is there, or use a method that scales (kmeans, gmm, "
                "or dtc.cluster.spectral_clustering)"
            )
        model = AgglomerativeClustering(k, linkage=self.linkage, metric=self.metric)
        self.labels_ = model.fit_predict(pair.target.X.astype("float64")).astype("int64")
        self.children_ = model.children_
