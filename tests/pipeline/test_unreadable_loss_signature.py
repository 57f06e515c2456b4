"""A loss class whose signature inspect cannot read is not refused at validation: the fit
builds it and runs (its arguments are then checked by the call alone)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from torch import nn

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


class UnreadableSignature(nn.Module):
    __signature__ = "no signature"  # inspect.signature raises TypeError on it

    def __init__(self):  # its own: nn.Module's is known to take nothing
        super().__init__()

    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).pow(2).sum()


def test_a_loss_whose_signature_cannot_be_read_runs():
    with pytest.raises(TypeError):
        inspect.signature(UnreadableSignature)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    Xs = 4.0 * y[:, None] + 0.2 * rng.normal(size=(12, 3))
    Xt = 4.0 * y[:, None] + 0.5 + 0.2 * rng.normal(size=(12, 3))
    pair = DomainPair(Domain(Xs), Domain(Xt), n_clusters=2)
    fitted = DTC(**{**TINY, "adapt_epochs": 2}, loss=f"{__name__}:UnreadableSignature").fit(pair)
    assert isinstance(fitted._loss, UnreadableSignature)
    adapt = [h for h in fitted.history_ if h["stage"] == "adapt"]
    # epoch 0 at lambda 0 (the DANN ramp's start) computes no alignment; epoch 1 does
    assert len(adapt) == 2 and adapt[1]["lambda"] > 0 and np.isfinite(adapt[1]["align"])
