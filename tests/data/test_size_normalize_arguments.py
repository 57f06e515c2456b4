"""``size_normalize_images`` names a ``threshold`` or ``mass_quantile`` that is no number:
``float()`` failed on None naming neither, and read the string "0.3" as a number."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.data.preprocessing import size_normalize_images


def images():
    return np.random.default_rng(0).uniform(size=(4, 64))


@pytest.mark.parametrize("value", [None, "0.3", [0.3], True, float("nan")])
@pytest.mark.parametrize("name", ["threshold", "mass_quantile"])
def test_a_non_number_is_named(name, value):
    with pytest.raises(ValueError, match=rf"^size_normalize_images: {name} must be in"):
        size_normalize_images(images(), (8, 8), **{name: value})


def test_numpy_numbers_are_taken():
    a = size_normalize_images(images(), (8, 8), threshold=np.float32(0.25), mass_quantile=0)
    np.testing.assert_array_equal(
        a, size_normalize_images(images(), (8, 8), threshold=0.25, mass_quantile=0.0)
    )
