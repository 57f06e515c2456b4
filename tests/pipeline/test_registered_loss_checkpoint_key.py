"""A user's loss registered by name (dtc.align.register) is in the checkpoint key by its
code, as a ``"module:Class"`` loss is: by its name alone, the checkpoint of another class
registered under that name was resumed."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

import dtc.align
from dtc.align.registry import _LOSSES
from dtc.data import Domain, DomainPair
from dtc.pipeline import DTC

TINY = {
    "hidden": (8,),
    "n_latent": 2,
    "pretrain_epochs": 1,
    "adapt_epochs": 1,
    "batch_size": 16,
    "self_training_rounds": 0,
}


class SquaredGap(nn.Module):
    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).pow(2).sum()


class AbsoluteGap(nn.Module):
    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).abs().sum()


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    monkeypatch.setattr(_LOSSES, "_registered", dict(_LOSSES._registered))


@pytest.fixture(scope="module")
def pair() -> DomainPair:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    Xs = 4.0 * y[:, None] + 0.2 * rng.normal(size=(12, 3))
    Xt = 4.0 * y[:, None] + 0.5 + 0.2 * rng.normal(size=(12, 3))
    return DomainPair(Domain(Xs), Domain(Xt), n_clusters=2)


def test_another_class_under_the_registered_name_is_not_resumed(pair, tmp_path):
    params = {**TINY, "loss": "user_gap", "checkpoint_dir": tmp_path}
    dtc.align.register("user_gap", SquaredGap)
    assert DTC(**params).fit(pair).resumed_stages_ == []
    assert DTC(**params).fit(pair).resumed_stages_ == ["pretrain", "adapt", "cluster"]
    dtc.align.register("user_gap", AbsoluteGap, overwrite=True)
    assert DTC(**params).fit(pair).resumed_stages_ == []
    dtc.align.register("user_gap", SquaredGap, overwrite=True)
    assert DTC(**params).fit(pair).resumed_stages_ == ["pretrain", "adapt", "cluster"]
