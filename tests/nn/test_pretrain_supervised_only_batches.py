"""pretrain_autoencoder with ``recon_rows``: a batch of supervised-only rows adds no
reconstruction term (and no row to the epoch's mean), its cross-entropy still counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dtc.nn.autoencoder import MLPAutoencoder
from dtc.nn.training import pretrain_autoencoder


def test_a_batch_of_supervised_only_rows_adds_no_reconstruction():
    X = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    y = np.array([0, 1, 0])
    ae, head = MLPAutoencoder(4, hidden=(5,), n_latent=2), nn.Linear(2, 2)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    with torch.no_grad():  # the losses at the initial weights, which lr=1e-12 keeps
        z, xr = ae(Xt)
        recon = float(F.mse_loss(xr[0], Xt[0]))
        sup = float(F.cross_entropy(head(z), yt))
    # batches of one row: rows 1 and 2 are supervised-only batches
    history = pretrain_autoencoder(
        ae, X, y=y, head=head, epochs=1, batch_size=1, lr=1e-12, recon_rows=[True, False, False]
    )
    assert history[0]["recon"] == pytest.approx(recon, rel=1e-5)
    assert history[0]["sup"] == pytest.approx(sup, rel=1e-5)
