"""Paper test: 1-NN on the preprocessed source reproduces the "NN" column of
M. Long, J. Wang, G. Ding, J. Sun, P. S. Yu, Transfer Feature Learning with Joint
Distribution Adaptation, ICCV 2013 (Table 2), with the benchmarks' standard
preprocessing (SURF: row sum then per-domain z-score; digits/COIL: unit L2 rows)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

import dtc.data as data


@pytest.mark.paper
@pytest.mark.parametrize(
    ("benchmark", "source", "target", "published"),
    [
        ("office_caltech10_surf", "amazon", "caltech10", 26.00),
        ("office_caltech10_surf", "webcam", "dslr", 59.24),
        ("mnist_usps", "mnist", "usps", 65.94),
        ("mnist_usps", "usps", "mnist", 44.70),
        ("coil20", "coil1", "coil2", 83.61),
    ],
)
def test_jda_nn_column(data_dir, benchmark, source, target, published):
    pair = data.load_pair(benchmark, source, target, data_dir=data_dir, preprocess="standard")
    clf = KNeighborsClassifier(n_neighbors=1).fit(pair.source.X, pair.source.y)
    accuracy = 100.0 * np.mean(clf.predict(pair.target.X) == pair.target.y)
    assert accuracy == pytest.approx(published, abs=0.1)
