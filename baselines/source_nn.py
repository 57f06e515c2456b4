"""1-NN from the labelled source: every target sample takes its nearest source sample's class.

No adaptation and no clustering: the "NN" baseline of the domain-adaptation papers whose
benchmarks dtc ships (Gong, Shi, Sha & Grauman, "Geodesic Flow Kernel for Unsupervised
Domain Adaptation", CVPR 2012; Long, Wang, Ding, Sun & Yu, "Transfer Feature Learning with
Joint Distribution Adaptation", ICCV 2013), which reports how much the source's labels
carry over to the target unaided. Its labels are source classes, so it is scored without
Hungarian matching as well (``cluster_classes_``), like a classifier.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from baselines._validation import check_seed
from dtc.methods import TransferClusterer

__all__ = ["SourceNearestNeighbour"]


class SourceNearestNeighbour(TransferClusterer):
    """Label the target by its nearest labelled source sample (Euclidean): the "NN"
    baseline of Gong et al. (CVPR 2012) and Long et al. (ICCV 2013).

    Parameters
    ----------
    n_clusters : int, optional
        ``None`` takes the pair's ``n_clusters``; it must equal the number of source
        classes (the labels are the source classes).
    seed : int, default 0
        Unused (1-NN is deterministic); accepted (and validated like every seed) so
        runners can pass one.

    Attributes
    ----------
    labels_ : (n_t,) int, index into ``cluster_classes_``
    cluster_classes_ : (k,) the source classes
    embedding_ : (n_t, d) the target features
    """

    requires_source_labels = True

    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> None:
        check_seed(self.seed, method="SourceNearestNeighbour")

    def _fit(self, pair) -> None:
        k = self._n_clusters(pair)
        self._check_params()
        classes = np.unique(pair.source.y)
        if len(classes) != k:
            raise ValueError(
                f"SourceNearestNeighbour: the target's labels are the {len(classes)} source "
                f"classes, but n_clusters={k}"
            )
        Xs, Xt = np.asarray(pair.source.X), np.asarray(pair.target.X)
        predicted = KNeighborsClassifier(n_neighbors=1).fit(Xs, pair.source.y).predict(Xt)
        self.labels_ = np.searchsorted(classes, predicted).astype(np.int64)
        self.cluster_classes_ = classes.astype(np.int64)
        self.embedding_ = Xt
