"""Bad input to the containers every loader returns (dtc.data.domain)."""

from __future__ import annotations

import numpy as np
import pytest

import dtc.data as data


def test_mismatched_feature_dimensions():
    with pytest.raises(ValueError, match="source has 3 features and target has 2"):
        data.DomainPair(data.Domain(np.zeros((4, 3))), data.Domain(np.zeros((4, 2))))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf(bad):
    X = np.zeros((3, 2))
    X[1, 0] = bad
    with pytest.raises(ValueError, match=r"'d'.*NaN or Inf in 1 row"):
        data.Domain(X, name="d")


def test_empty_domain():
    with pytest.raises(ValueError, match="empty domain"):
        data.Domain(np.zeros((0, 5)))
    with pytest.raises(ValueError, match="at least one feature"):
        data.Domain(np.zeros((3, 0)))


@pytest.mark.parametrize("labels", [[0, 1.5, 2], ["a", "b", "c"], [0, -1, 2]])
def test_non_integer_or_negative_labels(labels):
    with pytest.raises(ValueError, match="class labels"):
        data.Domain(np.zeros((3, 2)), np.array(labels))


def test_wrong_image_shape_and_label_count():
    with pytest.raises(ValueError, match="image_shape"):
        data.Domain(np.zeros((2, 6)), image_shape=(2, 2))
    with pytest.raises(ValueError, match="expected 2 labels"):
        data.Domain(np.zeros((2, 6)), [0, 1, 1])
