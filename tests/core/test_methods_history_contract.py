"""The method contract refuses a ``history_`` that is no list (a dict of lists, the other
common log layout), naming the method and the type, and forgets the failed fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from dtc.data import Domain, DomainPair
from dtc.methods import TransferClusterer


class DictHistory(TransferClusterer):
    def _fit(self, pair):
        self.labels_ = np.zeros(pair.target.n_samples, dtype=np.int64)
        self.history_ = {"loss": [1.0, 0.5]}


def test_a_history_that_is_no_list_is_refused_by_name():
    rng = np.random.default_rng(0)
    pair = DomainPair(Domain(rng.normal(size=(4, 2))), Domain(rng.normal(size=(5, 2))))
    method = DictHistory()
    with pytest.raises(ValueError) as info:
        method.fit(pair)
    assert str(info.value) == (
        "DictHistory._fit: history_ must be a list of per-epoch dicts, got dict"
    )
    with pytest.raises(NotFittedError):
        check_is_fitted(method)
