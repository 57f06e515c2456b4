"""Fixtures shared by the pipeline tests that need a DTC fit only to reach a path (a message,
a checkpoint key, a resumed stage), not a good clustering."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.data import Domain, DomainPair


@pytest.fixture
def miniature_dtc() -> dict:
    """DTC parameters of a fit that takes a fraction of a second: one epoch per stage, a
    two-dimensional latent space, no self-training."""
    return {
        "hidden": (8,),
        "n_latent": 2,
        "pretrain_epochs": 1,
        "adapt_epochs": 1,
        "batch_size": 16,
        "self_training_rounds": 0,
    }


@pytest.fixture(scope="session")
def two_blob_pair() -> DomainPair:
    """Two blobs (at 0 and 4 in each of 3 features) of 6 rows each per domain, the target
    shifted by 0.5; the source unlabelled."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 6)
    Xs = 4.0 * y[:, None] + 0.2 * rng.normal(size=(12, 3))
    Xt = 4.0 * y[:, None] + 0.5 + 0.2 * rng.normal(size=(12, 3))
    return DomainPair(Domain(Xs), Domain(Xt), n_clusters=2)
