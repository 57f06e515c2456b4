"""Flags of the public API take True / False only: the truthiness of a string such as
``"no"`` meant True without a word (``check_bool``)."""

import numpy as np
import pytest
import torch

import dtc.align as align
from dtc.cluster.spectral import normalized_adjacency
from dtc.monitor import NoTransferReference
from dtc.nn.autoencoder import MLPAutoencoder, mlp
from dtc.self_training import anchored_kmeans, pseudo_labels

Z = np.random.default_rng(0).normal(size=(20, 3))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mlp([4, 8, 2], batch_norm="no"), r"^mlp: batch_norm must be True or False"),
        (lambda: MLPAutoencoder(4, (8,), 2, batch_norm="no"), r"^mlp: batch_norm must be"),
        (
            lambda: anchored_kmeans(Z, Z[:2], spherical="no"),
            r"^anchored_kmeans: spherical must be True or False, got 'no'",
        ),
        (lambda: pseudo_labels(Z, Z[:2], spherical="no"), r"^anchored_kmeans: spherical must"),
        (
            lambda: normalized_adjacency(np.eye(3), allow_isolated="no"),
            r"^normalized_adjacency: allow_isolated must be True or False",
        ),
        (
            lambda: align.register("mmd", align.get_class("coral"), overwrite="no"),
            r"^register: overwrite must be True or False, got 'no'",
        ),
    ],
)
def test_a_string_flag_is_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_register_overwrite_no_keeps_the_registered_class():
    before = align.get_class("mmd")
    with pytest.raises(ValueError):
        align.register("mmd", align.get_class("coral"), overwrite="no")
    assert align.get_class("mmd") is before


@pytest.mark.parametrize("name", ["labelled_source", "heterogeneous"])
def test_reference_from_estimator_flags(name):
    from dtc import DTC

    est = DTC(pretrain_epochs=3, adapt_epochs=2, pretrain_on="target")
    with pytest.raises(ValueError, match=rf"^NoTransferReference.from_estimator: {name} must be"):
        NoTransferReference.from_estimator(est, 3, n_source=100, n_target=50, **{name: "no"})
    # the budget of False is not that of True (what "no" silently took)
    budgets = {
        v: NoTransferReference.from_estimator(
            est, 3, n_source=100, n_target=50, labelled_source=v
        ).epochs
        for v in (True, False)
    }
    assert budgets[True] != budgets[False]


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"batch_size": 1.5}, r"batch_size must be an int >= 1, got 1\.5"),
        ({"batch_size": True}, r"batch_size must be an int >= 1, got True"),
        ({"batch_size": "64"}, r"batch_size must be an int >= 1, got '64'"),
        ({"lr": "0.01"}, r"NoTransferReference: lr must be a number > 0"),
        ({"lr": 0.0}, r"NoTransferReference: lr must be a number > 0"),
        ({"weight_decay": -1}, r"NoTransferReference: weight_decay must be a number >= 0"),
        ({"noise": float("nan")}, r"NoTransferReference: noise must be a number >= 0"),
        ({"mask": 1.0}, r"NoTransferReference: mask must be in \[0, 1\), got 1\.0"),
        ({"architecture": 5}, r"architecture must be a name \(str\) or an nn.Module encoder"),
        ({"cache_dir": 5}, r"cache_dir must be None or a path \(str or os.PathLike\), got 5"),
    ],
)
def test_reference_settings_are_refused_before_training(setting, match, monkeypatch):
    import dtc.nn.training as training

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the settings were checked")

    monkeypatch.setattr(training, "pretrain_autoencoder", no_training)
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        NoTransferReference(n_clusters=2, epochs=1, **setting).fit(X)


def test_reference_takes_a_module_architecture():
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    enc = torch.nn.Sequential(torch.nn.Linear(4, 3))
    ref = NoTransferReference(n_clusters=2, epochs=1, architecture=enc, n_latent=3).fit(X)
    assert ref.labels_.shape == (30,)
