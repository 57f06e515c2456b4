"""``pretrain_autoencoder`` names a coefficient that is no finite number: ``sup_weight``
was never checked (-1 maximised the cross-entropy, NaN read as a diverged loss, None and
"3" were taken), ``noise`` and ``mask`` of None or text failed in a bare comparison, and a
bool was taken as a rate (``lr=True``) or failed inside Adam (``weight_decay=True``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dtc.nn import MLPAutoencoder, pretrain_autoencoder


def setup():
    X = np.random.default_rng(0).normal(size=(40, 5)).astype("float32")
    y = np.repeat([0, 1], 20)
    torch.manual_seed(0)
    return MLPAutoencoder(5, [8], 3), nn.Linear(3, 2), X, y


@pytest.mark.parametrize("sup_weight", [-1.0, float("nan"), float("inf"), None, "3", True])
def test_a_bad_sup_weight_is_named(sup_weight):
    ae, head, X, y = setup()
    with pytest.raises(ValueError, match=r"^pretrain: sup_weight must be a finite number >= 0"):
        pretrain_autoencoder(ae, X, epochs=1, y=y, head=head, sup_weight=sup_weight)


@pytest.mark.parametrize("name", ["noise", "mask"])
@pytest.mark.parametrize("value", [None, "0.1", True])
def test_a_corruption_that_is_no_number_is_named(name, value):
    ae, _, X, _ = setup()
    with pytest.raises(ValueError, match=rf"^pretrain: {name} must be a f"):
        pretrain_autoencoder(ae, X, epochs=1, **{name: value})


@pytest.mark.parametrize("name", ["lr", "weight_decay"])
def test_a_bool_rate_is_named(name):
    ae, _, X, _ = setup()
    with pytest.raises(ValueError, match=r"^pretrain: lr and weight_decay must be numbers"):
        pretrain_autoencoder(ae, X, epochs=1, **{name: True})


def test_a_zero_sup_weight_and_numpy_numbers_are_taken():
    ae, head, X, y = setup()
    history = pretrain_autoencoder(
        ae, X, epochs=1, y=y, head=head, sup_weight=np.float64(0.0), noise=np.float32(0.1)
    )
    assert len(history) == 1
