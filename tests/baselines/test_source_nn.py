"""1-NN from the labelled source (``baselines.source_nn``); its published figures:
``tests/data/test_paper_nn.py``."""

from __future__ import annotations

import numpy as np
import pytest

from dtc import methods
from dtc.data import Domain, DomainPair


def test_each_target_sample_takes_its_nearest_source_class_by_hand():
    src = Domain(np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([0, 0, 2, 2]), name="s")
    tgt = Domain(np.array([[2.0], [8.0], [5.4]]), name="t")
    nn = methods.get("source_nn").fit(DomainPair(src, tgt, n_clusters=2))
    np.testing.assert_array_equal(nn.cluster_classes_, [0, 2])
    # 2 is nearest to 1 (class 0); 8 to 10 and 5.4 to 1 (4.4 < 4.6): classes 2 and 0
    np.testing.assert_array_equal(nn.cluster_classes_[nn.labels_], [0, 2, 0])
    with pytest.raises(ValueError, match="2 source classes, but n_clusters=3"):
        methods.get("source_nn", n_clusters=3).fit(DomainPair(src, tgt))
    with pytest.raises(ValueError, match="needs a labelled source"):
        unlabelled = Domain(src.X, name="s")
        methods.get("source_nn").fit(DomainPair(unlabelled, tgt, n_clusters=2))


def test_one_nearest_neighbour_not_a_vote():
    # 4 is nearest to 0 (class 0, distance 4); two of its three nearest are class 2.
    src = Domain(np.array([[0.0], [9.0], [10.0]]), np.array([0, 2, 2]), name="s")
    tgt = Domain(np.array([[4.0], [8.0]]), name="t")
    nn = methods.get("source_nn").fit(DomainPair(src, tgt, n_clusters=2))
    np.testing.assert_array_equal(nn.cluster_classes_[nn.labels_], [0, 2])
