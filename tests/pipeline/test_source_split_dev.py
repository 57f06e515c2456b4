"""Development pairs made from a source domain alone (``scripts/source_split_dev.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.data import Domain, make_digits_pair, shift_domain


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


def test_candidates_must_be_json_objects(load_script, capsys):
    script = load_script("source_split_dev")
    with pytest.raises(SystemExit):
        script.main(["--candidates", "[1, 2]"])
    # not JSON at all (shell quotes lost): a usage error too, not a JSONDecodeError traceback
    with pytest.raises(SystemExit) as exit_:
        script.main(["--candidates", "{std_floor_quantile: 0.5}"])
    assert exit_.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith(
            "--candidates: each must be a JSON object of DTC parameters, got "
            "'{std_floor_quantile: 0.5}'"
        )
    )


def test_split_by_pose_takes_the_first_half_of_each_arc_as_source(load_script):
    script = load_script("source_split_dev")
    # two objects of 36 poses each; feature 0 numbers the pose, feature 1 the object
    pose = np.tile(np.arange(36), 2)
    obj = np.repeat([0, 1], 36)
    X = np.stack([pose + 1.0, obj + 1.0, np.ones(72), np.ones(72)], 1)
    raw = Domain(X / X.max(), obj, name="coil1", image_shape=(2, 2))
    pair = script.split_by_pose(raw, "l2")
    first = np.r_[0:9, 18:27]  # the first 9 poses of each 18-pose arc
    second = np.r_[9:18, 27:36]
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(pair.source.X, unit[np.r_[first, 36 + first]], atol=1e-6)
    np.testing.assert_allclose(pair.target.X, unit[np.r_[second, 36 + second]], atol=1e-6)
    np.testing.assert_array_equal(pair.source.y, np.repeat([0, 1], 18))
    np.testing.assert_array_equal(pair.target.y, np.repeat([0, 1], 18))
    assert pair.n_clusters == 2
    with pytest.raises(ValueError, match="expected 36 rows .* class 1, got 35"):
        script.split_by_pose(raw.subset(np.arange(71)), "l2")
