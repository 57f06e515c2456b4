"""TargetAgglomerative with a callable metric: scikit-learn calls it on the target's rows
for the whole distance matrix; the same tree as the metric's name."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from baselines.agglomerative import TargetAgglomerative
from dtc.data import Domain, DomainPair


def _manhattan(X):
    return pairwise_distances(X, metric="manhattan")


def test_a_callable_metric_gives_the_named_metrics_tree():
    X = np.random.default_rng(0).normal(size=(12, 4))
    pair = DomainPair(Domain(X), Domain(X), n_clusters=3)
    by_callable = TargetAgglomerative(metric=_manhattan, linkage="average").fit(pair)
    by_name = TargetAgglomerative(metric="manhattan", linkage="average").fit(pair)
    np.testing.assert_array_equal(by_callable.children_, by_name.children_)
    np.testing.assert_array_equal(by_callable.labels_, by_name.labels_)
    with pytest.raises(ValueError, match="Ward linkage requires metric='euclidean', got <function"):
        TargetAgglomerative(metric=_manhattan).fit(pair)
