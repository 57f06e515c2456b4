"""Imbalanced subsets (dtc.data.imbalance), counts checked against hand-computed sizes."""

from __future__ import annotations

import numpy as np
import pytest

import dtc.data as data
from dtc.data.imbalance import class_sizes


def _balanced(n_per_class=100, n_classes=5):
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = np.arange(y.size, dtype=float).reshape(-1, 1)
    return data.Domain(X, y, name="bal")


def test_exponential_sizes_hand_computed():
    # 100 * 10 ** (-c / 4) for c = 0..4 = 100, 56.2, 31.6, 17.8, 10.
    np.testing.assert_array_equal(class_sizes(5, 100, 10.0), [100, 56, 32, 18, 10])


def test_step_sizes_hand_computed():
    np.testing.assert_array_equal(class_sizes(4, 90, 3.0, "step"), [90, 90, 30, 30])
    np.testing.assert_array_equal(
        class_sizes(5, 90, 4.0, "step", minority_fraction=0.2), [90, 90, 90, 90, 22]
    )


@pytest.mark.parametrize("profile", ["exponential", "step"])
@pytest.mark.parametrize("ratio", [2.0, 7.0, 25.0])
def test_realised_ratio(profile, ratio):
    out = data.make_imbalanced(_balanced(), ratio, profile=profile, seed=1)
    counts = np.bincount(out.y)
    assert counts.max() == 100
    assert counts.min() == round(100 / ratio)
    # Within rounding of the minority size.
    assert abs(counts.max() / counts.min() - ratio) <= ratio / counts.min()
    assert out.meta["imbalance"]["class_sizes"] == dict(enumerate(counts.tolist()))


def test_rows_are_original_rows_in_order_and_seeded():
    dom = _balanced()
    out = data.make_imbalanced(dom, 4.0, seed=3)
    rows = out.X[:, 0].astype(int)
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(out.y, dom.y[rows])
    same = data.make_imbalanced(dom, 4.0, seed=3)
    np.testing.assert_array_equal(same.X, out.X)
    other = data.make_imbalanced(dom, 4.0, seed=4)
    assert not np.array_equal(other.X, out.X)


def test_ratio_one_keeps_balance_at_smallest_class():
    y = np.array([0] * 30 + [1] * 20 + [2] * 25)
    dom = data.Domain(np.zeros((y.size, 2)), y)
    out = data.make_imbalanced(dom, 1.0)
    np.testing.assert_array_equal(np.bincount(out.y), [20, 20, 20])


def test_errors():
    dom = _balanced()
    with pytest.raises(ValueError, match=r"ratio: expected the imbalance ratio .* >= 1"):
        data.make_imbalanced(dom, 0.5)
    with pytest.raises(ValueError, match="unlabelled"):
        data.make_imbalanced(dom.without_labels(), 2.0)
    with pytest.raises(ValueError, match="profile"):
        data.make_imbalanced(dom, 2.0, profile="linear")
    with pytest.raises(ValueError, match="leaves a class empty"):
        data.make_imbalanced(dom, 500.0)
    with pytest.raises(ValueError, match="minority_fraction"):
        data.make_imbalanced(dom, 2.0, profile="step", minority_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2 classes"):
        data.make_imbalanced(data.Domain(np.zeros((3, 1)), [0, 0, 0]), 2.0)
