"""A reconstruction that diverges during adaptation, the alignment loss finite (or absent),
is named as the loss's divergence with learning-rate advice, not blamed on the alignment
loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dtc.monitor.base import Callback
from dtc.pipeline import DTC


class HugeReconstruction(Callback):
    """Sets the target decoder's output bias to 1e30 (finite): the squared error, ~1e60,
    overflows float32 to inf, while the embeddings stay as they were."""

    def on_adapt_begin(self, estimator, state):
        last = [m for m in estimator._tgt_ae.decoder.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            last.bias.fill_(1e30)


@pytest.mark.parametrize("loss", [None, "mmd"])
def test_a_diverged_reconstruction_is_not_blamed_on_the_alignment_loss(
    miniature_dtc, two_blob_pair, loss
):
    with pytest.raises(FloatingPointError) as info:
        params = {**miniature_dtc, "adapt_epochs": 2}
        DTC(**params, loss=loss, callbacks=[HugeReconstruction()]).fit(two_blob_pair)
    assert str(info.value) == (
        "adapt: the loss diverged (value inf) at epoch 0; lower the learning rate or the "
        "alignment weight (the last good checkpoint, if any, is kept)"
    )
