"""check_features' float32-cast warning advises rescaling, not centring, for a column
whose values lie below float32's normal range."""

import numpy as np
import pytest

from dtc._validation import check_features


def _with_tiny_column():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    X[:, 1] = rng.random(200) * 1e-46  # float32 keeps none of this column's digits
    return X


def test_a_column_below_float32s_range_is_told_to_be_rescaled_not_centred():
    # It was said to lie "far from the origin" (mean 5e-47), with advice to centre it;
    # once centred, the same words came again
    X = _with_tiny_column()
    for Y in (X, X - X.mean(axis=0)):
        with pytest.warns(RuntimeWarning) as record:
            check_features(Y, name="X")
        (message,) = [str(w.message) for w in record]
        assert "rounds 1 of its 3 float64 feature(s)" in message
        assert "column 1" in message
        assert "below float32's normal range" in message
        assert "rescale" in message
        assert "far from the origin" not in message and "centre" not in message


def test_far_and_tiny_columns_are_each_named_with_their_own_advice():
    X = _with_tiny_column()
    X[:, 2] += 1e8  # spread 1 at 1e8: float32 steps of 8
    with pytest.warns(RuntimeWarning) as record:
        check_features(X, name="X")
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    far = [m for m in messages if "column 2" in m]
    tiny = [m for m in messages if "column 1" in m]
    assert len(far) == 1 and "far from the origin" in far[0] and "centre" in far[0]
    assert len(tiny) == 1 and "below float32's normal range" in tiny[0]
