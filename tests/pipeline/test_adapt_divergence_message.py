"""A reconstruction that diverges during adaptation, the alignment loss finite (or absent),
is named as the loss's divergence with learning-rate advice, not blamed on the alignment
loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dtc.data import Domain, DomainPair
from dtc.monitor.base import Callback
from dtc.pipeline import DTC

TINY = {
    "hidden": (8,),
    "n_latent": 2,
    "pretrain_epochs": 1,
    "adapt_epochs": 2,
    "batch_size": 16,
    "self_training_rounds": 0,
}


class HugeReconstruction(Callback):
    """Sets the target decoder's output bias to 1e30 (finite): the squared error, ~1e60,
    overflows float32 to inf, while the embeddings stay as they were."""

    def on_adapt_begin(self, estimator, state):
        last = [m for m in estimator._tgt_ae.decoder.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            last.bias.fill_(1e30)


@pytest.fixture(scope="module")
def pair() -> DomainPair:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    Xs = 4.0 * y[:, None] + 0.2 * rng.normal(size=(12, 3))
    Xt = 4.0 * y[:, None] + 0.5 + 0.2 * rng.normal(size=(12, 3))
    return DomainPair(Domain(Xs), Domain(Xt), n_clusters=2)


@pytest.mark.parametrize("loss", [None, "mmd"])
def test_a_diverged_reconstruction_is_not_blamed_on_the_alignment_loss(pair, loss):
    with pytest.raises(FloatingPointError) as info:
        DTC(**TINY, loss=loss, callbacks=[HugeReconstruction()]).fit(pair)
    assert str(info.value) == (
        "adapt: the loss diverged (value inf) at epoch 0; lower the learning rate or the "
        "alignment weight (the last good checkpoint, if any, is kept)"
    )
