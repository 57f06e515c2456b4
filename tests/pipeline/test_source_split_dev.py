"""Development pairs made from a source domain alone (``scripts/source_split_dev.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.data import make_digits_pair, shift_domain


def _rows_of(unit_raw: np.ndarray, X: np.ndarray) -> list[int]:
    """Indices of the rows of ``unit_raw`` that the rows of ``X`` are."""
    return [int(np.flatnonzero(np.all(np.isclose(unit_raw, x), axis=1))[0]) for x in X]


def test_split_and_shift_halves_the_domain_by_class_and_shifts_one_half(load_script):
    script = load_script("source_split_dev")
    raw = make_digits_pair().source  # pixels / 16, in [0, 1], image_shape (8, 8)
    pair = script.split_and_shift(raw, "l2", shift=0.5, seed=3)
    s, t = pair.source, pair.target
    assert s.n_samples + t.n_samples == raw.n_samples and pair.n_clusters == 10
    # stratified: every class is split in two (up to one row)
    assert np.all(np.abs(np.bincount(s.y) - np.bincount(t.y)) <= 1)
    # the source half: raw rows, l2-normalised, labels kept
    unit = raw.X / np.linalg.norm(raw.X, axis=1, keepdims=True)
    rows = _rows_of(unit, s.X)
    np.testing.assert_allclose(s.X, unit[rows], atol=1e-6)  # float32 rows
    assert np.array_equal(s.y, raw.y[rows])
    # the target half: the other rows, shifted, then l2-normalised
    rest = np.setdiff1d(np.arange(raw.n_samples), rows)
    shifted = shift_domain(raw.subset(rest), 0.5, seed=3).X
    expected = shifted / np.linalg.norm(shifted, axis=1, keepdims=True)
    np.testing.assert_allclose(t.X, expected, atol=1e-6)
    assert np.array_equal(t.y, raw.y[rest])


def test_candidates_must_be_json_objects(load_script):
    script = load_script("source_split_dev")
    with pytest.raises(SystemExit):
        script.main(["--candidates", "[1, 2]"])
