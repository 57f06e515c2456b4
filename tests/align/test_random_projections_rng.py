"""``dtc.align.ot.random_projections`` refuses a bad seed naming ``rng`` (numpy's
SeedSequence named nothing: "SeedSequence expects int ...", "expected non-negative
integer"); a Generator, an int seed or None are taken."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.align.ot import random_projections


@pytest.mark.parametrize("rng", [1.5, -1, "3", True, 2**32])
def test_a_bad_seed_is_named(rng):
    with pytest.raises(ValueError, match=r"^random_projections: rng must be an int"):
        random_projections(3, 4, rng)


def test_generators_seeds_and_none_are_taken():
    np.testing.assert_array_equal(
        random_projections(3, 4, np.random.default_rng(5)), random_projections(3, 4, 5)
    )
    np.testing.assert_array_equal(
        random_projections(3, 4, np.int64(5)), random_projections(3, 4, 5)
    )
    assert random_projections(3, 4, None).shape == (3, 4)
