"""DEC / IDEC recompute the target distribution ``P`` every ``update_interval`` epochs and
hold it fixed in between (Xie et al., ICML 2016). Every other test fits at the default of 1,
where an estimator that ignored the parameter (``P`` each epoch) passed them all."""

from __future__ import annotations

import numpy as np
import pytest

import baselines.dec as dec_module
from baselines.dec import DEC
from baselines.idec import IDEC
from dtc.data import Domain, DomainPair


def _blobs():
    rng = np.random.default_rng(1)
    y = np.arange(60) % 3
    X = rng.normal(scale=4.0, size=(3, 6))[y] + rng.normal(size=(60, 6))
    return DomainPair(Domain(X[:15], y[:15]), Domain(X, y), n_clusters=3)


@pytest.mark.parametrize("cls", [DEC, IDEC])
@pytest.mark.parametrize(("interval", "updates"), [(1, 5), (2, 3), (3, 2), (6, 1)])
def test_p_is_recomputed_every_update_interval_epochs(monkeypatch, cls, interval, updates):
    # tol=0 never converges: 5 epochs, P computed at epochs 0, interval, 2 interval, ...
    made = []
    real = dec_module.target_distribution

    def counted(q):
        made.append(len(q))
        return real(q)

    monkeypatch.setattr(dec_module, "target_distribution", counted)
    params = {"hidden": (8,), "n_latent": 3, "batch_size": 32, "pretrain_epochs": 2}
    est = cls(**params, max_epochs=5, update_interval=interval, tol=0.0).fit(_blobs())
    assert est.n_epochs_ == 5
    assert made == [60] * updates  # from all of the target each time
