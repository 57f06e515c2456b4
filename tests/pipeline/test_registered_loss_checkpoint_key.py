"""A user's loss registered by name (dtc.align.register) is in the checkpoint key by its
code, as a ``"module:Class"`` loss is: by its name alone, the checkpoint of another class
registered under that name was resumed."""

from __future__ import annotations

import pytest
from torch import nn

import dtc.align
from dtc.align.registry import _LOSSES
from dtc.pipeline import DTC


class SquaredGap(nn.Module):
    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).pow(2).sum()


class AbsoluteGap(nn.Module):
    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).abs().sum()


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    monkeypatch.setattr(_LOSSES, "_registered", dict(_LOSSES._registered))


def test_another_class_under_the_registered_name_is_not_resumed(
    miniature_dtc, two_blob_pair, tmp_path
):
    params = {**miniature_dtc, "loss": "user_gap", "checkpoint_dir": tmp_path}
    dtc.align.register("user_gap", SquaredGap)
    assert DTC(**params).fit(two_blob_pair).resumed_stages_ == []
    assert DTC(**params).fit(two_blob_pair).resumed_stages_ == ["pretrain", "adapt", "cluster"]
    dtc.align.register("user_gap", AbsoluteGap, overwrite=True)
    assert DTC(**params).fit(two_blob_pair).resumed_stages_ == []
    dtc.align.register("user_gap", SquaredGap, overwrite=True)
    assert DTC(**params).fit(two_blob_pair).resumed_stages_ == ["pretrain", "adapt", "cluster"]
