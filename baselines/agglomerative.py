"""Target-only agglomerative (hierarchical) clustering: a no-transfer reference.

Bottom-up merging until ``n_clusters`` groups remain; by default Ward's criterion
(Ward, JASA 1963: merge the pair of clusters whose union least increases the total
within-cluster sum of squares), else average, complete or single linkage;
scikit-learn's ``AgglomerativeClustering``. Memory grows as ``n^2`` without a
connectivity constraint (fine up to ~20,000 samples). The source domain is ignored.
"""

from __future__ import annotations

from sklearn.cluster import AgglomerativeClustering

from baselines._validation import check_choice
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
        ``"precomputed"``: the target's features are no distance matrix) or a callable;
        Ward needs ``"euclidean"``.

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    children_ : ndarray of shape (n_target - 1, 2)
        The merge tree (scikit-learn's convention).
    """

    uses_source = False
    accepts_heterogeneous = True  # the source is never looked at

    def __init__(self, n_clusters=None, linkage="ward", metric="euclidean"):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.metric = metric

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> None:
        name = type(self).__name__
        check_choice(self.linkage, _LINKAGES, method=name, name="linkage")
        if not callable(self.metric):  # a typo failed in the fit, naming scikit-learn's class
            check_choice(self.metric, METRICS, method=name, name="metric")
        if self.linkage == "ward" and self.metric != "euclidean":
            raise ValueError(
                f"{name}: Ward linkage requires metric='euclidean', got {self.metric!r}"
            )

    def _fit(self, pair):
        k = self._n_clusters(pair)
        self._check_params()
        model = AgglomerativeClustering(k, linkage=self.linkage, metric=self.metric)
        self.labels_ = model.fit_predict(pair.target.X.astype("float64")).astype("int64")
        self.children_ = model.children_
