"""Device handling checked without a GPU: a device this machine lacks is refused when a
config loads, and label arguments held on a device (numpy refuses them) are read through
the host, as the features next to them are."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from baselines.autoencoder import SourceAEKMeans, TargetAEKMeans
from baselines.dec import DEC
from baselines.idec import IDEC
from dtc.cluster import class_means
from dtc.nn import build_autoencoder, pretrain_autoencoder


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("cls", [TargetAEKMeans, SourceAEKMeans, DEC, IDEC])
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "gpu", 0])
def test_deep_baselines_refuse_a_missing_device_in_check_params(cls, device):
    # DTC refused it when a config loaded; these let it load, and every run then failed
    # at its fit with "device: ..." naming no method
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: device"):
        cls(device=device).check_params()


def test_pretrain_autoencoder_reads_device_labels_and_rows_through_the_host(on_device):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 5)).astype(np.float32)
    y = np.r_[np.zeros(8), np.ones(8), -np.ones(8)].astype(np.int64)
    rows = y >= 0

    def fit(y_arg, rows_arg):
        torch.manual_seed(0)
        ae = build_autoencoder("mlp", 5, hidden=[8], n_latent=2)
        head = nn.Linear(2, 2)
        hist = pretrain_autoencoder(
            ae, X, epochs=2, batch_size=8, y=y_arg, head=head, recon_rows=rows_arg, device="cpu"
        )
        return hist, ae.state_dict()

    with pytest.raises(TypeError):
        np.asarray(on_device(y))
    expected, weights = fit(y, rows)
    got, got_weights = fit(on_device(y), on_device(rows))
    assert got == expected
    for k, v in weights.items():
        torch.testing.assert_close(got_weights[k].as_subclass(torch.Tensor), v)


def test_class_means_reads_device_labels_through_the_host(on_device):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(12, 3)).astype(np.float32)
    y = np.arange(12) % 3
    np.testing.assert_array_equal(class_means(on_device(Z), on_device(y), 3), class_means(Z, y, 3))
