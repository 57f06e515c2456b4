"""Paths of dtc.monitor no other test reached: argument messages of the relatedness and
calibration checks, the permutation count advised for an alpha that 1 / alpha rounds
past, the reference's budget without domain sizes, an empty matrix near the origin, and
the target embedding of an estimator that has only a target autoencoder."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
from torch import nn

from dtc.monitor.calibration import score_slope, source_bias
from dtc.monitor.negative_transfer import current_target_embedding
from dtc.monitor.reference import NoTransferReference
from dtc.monitor.relatedness import check_source, feature_correspondence
from dtc.monitor.scores import _near_origin
from dtc.pipeline import DTC

X = np.random.default_rng(0).normal(size=(20, 5))
Y = np.repeat([0, 1], 10)


def test_feature_correspondence_names_a_permutation_count_that_is_no_int():
    with pytest.raises(ValueError) as info:
        feature_correspondence(X, X, n_permutations=2.0)
    assert str(info.value) == "feature_correspondence: n_permutations must be an int, got 2.0"


def test_check_source_counts_the_advised_permutations_up():
    # floor(1 / 0.3) - 1 = 2 permutations give p >= 1/3 > 0.3; 3 give 1/4 <= 0.3
    with pytest.raises(ValueError) as info:
        check_source(X, X, n_permutations=1, alpha=0.3)
    assert str(info.value) == (
        "check_source: n_permutations=1 cannot reach alpha=0.3: the smallest permutation "
        "p-value is 1/2; use n_permutations >= 3"
    )


def test_source_bias_needs_a_seed():
    with pytest.raises(ValueError) as info:
        source_bias(X, Y, kmeans_seeds=[])
    assert str(info.value) == "source_bias: kmeans_seeds must hold at least one seed"


class _NoArray:
    """An object NumPy cannot turn into an array (a CUDA tensor's TypeError)."""

    def __array__(self, *args, **kwargs):
        raise TypeError("cannot convert")

    def __repr__(self):
        return "_NoArray()"


def test_score_slope_names_fractions_numpy_cannot_read():
    with pytest.raises(ValueError) as info:
        score_slope(X, Y, fractions=_NoArray())
    assert str(info.value) == "score_slope: fractions must lie in (0, 1), got _NoArray()"


def test_the_references_budget_without_domain_sizes_is_the_epochs_sum():
    estimator = DTC(pretrain_epochs=3, adapt_epochs=4, self_training_rounds=2)
    assert NoTransferReference.from_estimator(estimator, 2).epochs == 7
    # one size alone does not give the steps either
    assert NoTransferReference.from_estimator(estimator, 2, n_source=100).epochs == 7
    assert NoTransferReference.from_estimator(estimator, 2, n_target=100).epochs == 7


def test_near_origin_leaves_an_empty_matrix_as_it_is():
    empty = np.empty((0, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mean of an empty slice
        assert _near_origin(empty) is empty


def test_the_target_embedding_of_an_estimator_with_only_a_target_autoencoder():
    encoder = nn.Sequential(nn.Linear(5, 2), nn.Tanh())
    estimator = types.SimpleNamespace(_tgt_ae=types.SimpleNamespace(encoder=encoder))
    Z = current_target_embedding(estimator, X.astype(np.float32))
    W, b = (p.detach().double().numpy() for p in encoder[0].parameters())
    assert Z.shape == (20, 2)
    np.testing.assert_allclose(Z, np.tanh(X @ W.T + b), rtol=1e-5, atol=1e-6)
