"""The OT baselines on a large pair: refused by ``max_coupling`` before POT allocates its
``(n_s, n_t)`` float64 arrays (``ot_emd``: 3.9 GiB at a 2,000-row source and a 50,000-row
target, about 16 GiB at 200,000; the fit was killed for memory, not refused)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import baselines.ot_da as ot_da
from dtc import methods
from dtc.data import Domain, DomainPair

OT = ("ot_emd", "ot_sinkhorn", "ot_l1l2")


def _pair(n_s, n_t, d=1, k=3):
    Xs, ys = make_blobs(n_s, n_features=d, centers=k, random_state=1)
    Xt, yt = make_blobs(n_t, n_features=d, centers=k, random_state=0)
    return DomainPair(
        Domain(Xs.astype(np.float32), ys), Domain(Xt.astype(np.float32), yt), n_clusters=k
    )


def _no_transport(*args, **kwargs):
    raise AssertionError("POT reached: (n_s, n_t) arrays allocated")


@pytest.mark.parametrize("name", OT)
def test_default_refuses_a_large_target_before_pot(name, monkeypatch):
    # 2,000 x 32,001 entries: one above the default 64,000,000
    monkeypatch.setattr(ot_da, "ot_transform", _no_transport)
    est = methods.get(name)
    with pytest.raises(ValueError, match=r"64002000 entries, more than max_coupling=64000000"):
        est.fit(_pair(2_000, 32_001))


@pytest.mark.parametrize("name", OT)
def test_max_coupling_is_the_largest_pair_it_transports(name):
    pair = _pair(30, 40, d=4)
    with pytest.raises(ValueError, match=f"{type(methods.get(name)).__name__}: the coupling"):
        methods.get(name, max_coupling=1199).fit(pair)
    params = {} if name == "ot_emd" else {"reg_e": 1.0}  # n == max_coupling is transported
    est = methods.get(name, max_coupling=1200, **params)
    assert est.fit(pair).coupling_.shape == (30, 40)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "big", None])
def test_max_coupling_is_checked_before_the_fit(bad):
    est = methods.get("ot_emd", max_coupling=bad)
    with pytest.raises(ValueError, match="OTEMD: max_coupling"):
        est.check_params()
    with pytest.raises(ValueError, match="OTEMD: max_coupling"):
        est.fit(_pair(30, 40, d=4))
