"""ClusterEnsemble with a member that has no n_clusters parameter (a fixed partition of its
own): it is fitted once, as it is, and its partition joins the consensus."""

from __future__ import annotations

import numpy as np

from baselines.ensemble import ClusterEnsemble
from dtc.data import Domain, DomainPair
from dtc.methods import TransferClusterer


class FirstHalf(TransferClusterer):
    """No parameters: the first half of the target's rows against the second."""

    def _fit(self, pair):
        n = pair.target.n_samples
        self.labels_ = (np.arange(n) >= n // 2).astype(np.int64)


def test_a_member_without_n_clusters_is_fitted_once_as_it_is():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    pair = DomainPair(Domain(X), Domain(X), n_clusters=2)
    fitted = ClusterEnsemble(members=[FirstHalf(), FirstHalf()]).fit(pair)
    assert fitted.member_names_ == ["FirstHalf", "FirstHalf"]
    half = np.repeat([0, 1], 4)
    np.testing.assert_array_equal(fitted.member_labels_, [half, half])
    # every member agrees: the consensus is their partition
    np.testing.assert_array_equal(fitted.labels_, half)
