"""A loss class whose signature inspect cannot read is not refused at validation: the fit
builds it and runs (its arguments are then checked by the call alone)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from torch import nn

from dtc.pipeline import DTC


class UnreadableSignature(nn.Module):
    __signature__ = "no signature"  # inspect.signature raises TypeError on it

    def __init__(self):  # its own: nn.Module's is known to take nothing
        super().__init__()

    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).pow(2).sum()


def test_a_loss_whose_signature_cannot_be_read_runs(miniature_dtc, two_blob_pair):
    with pytest.raises(TypeError):
        inspect.signature(UnreadableSignature)
    params = {**miniature_dtc, "adapt_epochs": 2}
    fitted = DTC(**params, loss=f"{__name__}:UnreadableSignature").fit(two_blob_pair)
    assert isinstance(fitted._loss, UnreadableSignature)
    adapt = [h for h in fitted.history_ if h["stage"] == "adapt"]
    # epoch 0 at lambda 0 (the DANN ramp's start) computes no alignment; epoch 1 does
    assert len(adapt) == 2 and adapt[1]["lambda"] > 0 and np.isfinite(adapt[1]["align"])
