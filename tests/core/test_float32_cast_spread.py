"""check_features says when the float32 cast of float64 features rounds their spread away."""

import warnings

import numpy as np
import pytest

from dtc._validation import check_features
from dtc.cluster import kmeans


def _blobs():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(50, 2)) + 6.0 * c for c in range(3)])
    return X, np.repeat(np.arange(3), 50)


def test_features_far_from_the_origin_are_named_when_float32_rounds_their_spread():
    # Three blobs of std 1 at an offset of 1e8: float32 keeps steps of 8 there, and
    # K-means clustered the rounded values (ARI 0.58) without a word.
    X, _ = _blobs()
    with pytest.warns(RuntimeWarning, match=r"X: the cast to float32 rounds 2 of its 2 float64"):
        kmeans(X + 1e8, 3)
    with warnings.catch_warnings():
        # where float32 keeps the spread, as on every benchmark: no word
        warnings.simplefilter("error")
        for Y in (X, X + 1e4, X * 1e-20, X * 1e20, np.vstack([X, [[1e10, 0.0]]])):
            check_features(Y)  # an outlier is rounded by its own size, not the others'
        check_features((X + 1e8).astype(np.float32))  # float32 already: nothing lost here


def test_a_column_constant_up_to_float64_rounding_is_not_said_to_lose_its_spread():
    # A constant that arithmetic left a few ulps apart (a class share of 0.746875 computed
    # per row: std 5.6e-16) has no spread for float32 to lose: it was warned of, advising
    # to centre it, while a real spread at the same mean (std 1e-8) still is
    X, _ = _blobs()
    rng = np.random.default_rng(1)
    ulps = rng.integers(-3, 4, size=len(X)) * np.spacing(0.746875)
    constant = np.column_stack([X, 0.746875 + ulps])
    assert constant[:, 2].std() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_features(constant)
    spread = np.column_stack([X, 0.746875 + 1e-8 * rng.normal(size=len(X))])
    with pytest.warns(RuntimeWarning, match=r"rounds 1 of its 3 float64 feature\(s\).*column 2"):
        check_features(spread)
