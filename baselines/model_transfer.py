"""Model transfer: the target's K-means starts where the source's clusters are.

No feature adaptation: the source class means (labelled source) or the centres of a
K-means of the source (unlabelled source) seed one K-means run on the target features;
with a labelled source, target cluster ``c`` is named by source class
``cluster_classes_[c]``. This is the parameter-transfer reading of transfer clustering
(e.g. the "model transfer" baselines of Jiang & Chung, "Transfer Spectral Clustering",
ECML PKDD 2012, and of Dai, Yang, Xue & Yu, "Self-taught Clustering", ICML 2008), and the
reference against which the feature-adaptation baselines (CORAL, SA, TCA, JDA, OT) show
what their mapping adds.
"""

from __future__ import annotations

from baselines._adapt_then_cluster import AdaptThenCluster

__all__ = ["ModelTransfer"]


class ModelTransfer(AdaptThenCluster):
    """K-means on the target initialised at source class means / source cluster centres
    (the "model transfer" reading of transfer clustering, e.g. the baselines of Jiang &
    Chung, ECML PKDD 2012, and Dai et al., ICML 2008; module docstring).

    Parameters
    ----------
    n_clusters : int, optional
        ``None`` takes the pair's ``n_clusters``. With a labelled source it must equal
        the number of source classes.
    n_init : int, default 10
        K-means restarts on the source (unlabelled source only).
    seed : int, default 0

    Attributes
    ----------
    labels_ : (n_t,) int; cluster_centers_ : (k, d); embedding_ : (n_t, d) the target
    features; source_embedding_ : (n_s, d); cluster_classes_ : (k,) with a labelled source.
    """

    init = "source"  # fixed: seeding from the source *is* the method

    def __init__(self, n_clusters=None, n_init=10, seed=0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.seed = seed

    def _adapt(self, Xs, ys, Xt, k):
        return Xs, Xt
