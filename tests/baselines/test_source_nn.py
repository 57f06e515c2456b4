"""1-NN from the labelled source (``baselines.source_nn``)."""

from __future__ import annotations

import numpy as np
import pytest

from dtc import methods
from dtc.data import Domain, DomainPair, load_pair
from dtc.metrics import acc_unmatched


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


@pytest.mark.paper
@pytest.mark.parametrize(
    ("benchmark", "source", "target", "published"),
    [
        ("mnist_usps", "usps", "mnist", 44.70),
        ("mnist_usps", "mnist", "usps", 65.94),
        ("coil20", "coil1", "coil2", 83.61),
        ("coil20", "coil2", "coil1", 82.78),
    ],
)
def test_the_nn_column_of_long_et_al_2013(data_dir, benchmark, source, target, published):
    # Long et al., ICCV 2013 (JDA), Table 2, column "NN", on the very files dtc reads
    pair = load_pair(benchmark, source, target, data_dir=data_dir)
    nn = methods.get("source_nn").fit(pair)
    acc = 100 * acc_unmatched(pair.target.y, nn.labels_, nn.cluster_classes_)
    assert abs(acc - published) < 0.01, f"{source}->{target}: {acc:.2f} vs {published}"
