"""TargetAgglomerative on a large target: refused by ``max_dense`` before scikit-learn /
scipy allocate the ``n (n - 1) / 2`` pairwise distances (about ``8 n^2`` bytes: 3 GiB at
20,000 rows, 19 GiB at 50,000, where the fit was killed for memory)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import baselines.agglomerative as agglomerative
from baselines.agglomerative import TargetAgglomerative
from dtc.data import Domain, DomainPair


class _NoDenseLinkage:
    """Stands in for scikit-learn's class: the fit must not reach it."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("AgglomerativeClustering reached: O(n^2) memory allocated")


def _pair(n, d=1, k=3):
    X, y = make_blobs(n, n_features=d, centers=k, random_state=0)
    source = Domain(X[:30].astype(np.float32), y[:30])
    return DomainPair(source, Domain(X.astype(np.float32), y), n_clusters=k)


def test_default_refuses_a_target_above_20000_rows_before_the_linkage(monkeypatch):
    monkeypatch.setattr(agglomerative, "AgglomerativeClustering", _NoDenseLinkage)
    with pytest.raises(ValueError, match=r"20001 samples, more than max_dense=20000") as info:
        TargetAgglomerative().fit(_pair(20_001))
    assert str(info.value).startswith("TargetAgglomerative: ")
    assert "GiB" in str(info.value)


def test_max_dense_is_the_largest_target_it_clusters():
    pair = _pair(60, d=4)
    with pytest.raises(ValueError, match="TargetAgglomerative: the target has 60 samples"):
        TargetAgglomerative(max_dense=59).fit(pair)
    # n == max_dense is clustered, as by default (scipy's Ward: see test_no_transfer.py)
    assert TargetAgglomerative(max_dense=60).fit(pair).labels_.shape == (60,)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "big", None, True])
def test_max_dense_is_checked_before_the_fit(bad):
    est = TargetAgglomerative(max_dense=bad)
    with pytest.raises(ValueError, match="TargetAgglomerative: max_dense"):
        est.check_params()
    with pytest.raises(ValueError, match="TargetAgglomerative: max_dense"):
        est.fit(_pair(60, d=4))
