"""The OT baselines check POT's coupling and mend its map themselves, so POT's
"numerical errors at iteration ..." and NumPy's overflow / division warnings, which came
before dtc's own error (or a finite result), are not passed on."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from baselines.ot_da import OTL1l2, OTSinkhorn, ot_transform
from dtc.data import Domain, DomainPair


def _blobs_with_far_outliers():
    rng = np.random.default_rng(0)
    Xs = np.vstack([rng.normal(0, 1, (20, 5)), rng.normal(8, 1, (20, 5))])
    far = rng.normal(30, 1, (3, 5))
    Xt = np.vstack([rng.normal(0, 1, (20, 5)), rng.normal(8, 1, (20, 5)), far])
    return Xs, np.repeat([0, 1], 20), Xt


def _raised_and_caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="coupling did not converge") as info:
            call()
    return str(info.value), [f"{w.category.__name__}: {w.message}" for w in caught]


def test_a_refused_l1l2_coupling_comes_with_dtcs_error_alone():
    # cost_norm=None: POT's non-log Sinkhorn inside l1l2 divides by 0 at its first
    # iteration (NumPy's "divide by zero", POT's "numerical errors at iteration 0")
    Xs, ys, Xt = _blobs_with_far_outliers()
    pair = DomainPair(Domain(Xs, ys), Domain(Xt), n_clusters=2)
    error, caught = _raised_and_caught(lambda: OTL1l2(reg_e=1e-2, cost_norm=None).fit(pair))
    assert error.startswith("OTL1l2: the l1l2 coupling did not converge")
    assert caught == []


def test_a_refused_sinkhorn_coupling_comes_with_dtcs_error_alone():
    # reg_e=1e-4: the out-of-sample map overflowed exp(-M / reg) (NumPy's "overflow")
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)) + 1
    pair = DomainPair(Domain(Xs, np.arange(30) % 2), Domain(Xt), n_clusters=2)
    _, caught = _raised_and_caught(lambda: OTSinkhorn(2, reg_e=1e-4).fit(pair))
    assert caught == []
    _, caught = _raised_and_caught(lambda: ot_transform(Xs, Xt, method="sinkhorn", reg_e=1e-4))
    assert caught == []


def test_numpys_error_state_is_the_callers_again_afterwards():
    Xs, ys, Xt = _blobs_with_far_outliers()
    with np.errstate(all="raise"):
        ot_transform(Xs, Xt, ys, method="l1l2", reg_e=1e-2, cost_norm="max")
        with pytest.raises(FloatingPointError):
            np.float64(1.0) / np.float64(0.0)
