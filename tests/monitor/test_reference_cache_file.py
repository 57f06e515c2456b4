"""The no-transfer reference's cache reader, on files that are no cache entry: each is
named and computed again, in dtc's words, with the file closed."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest

from dtc.monitor.reference import _read_cached


def _read(path, n=6, k=2):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _read_cached(path, n, k)
        gc.collect()  # an unclosed file is reported when it is collected
    return found, [(w.category, str(w.message)) for w in caught]


def _entry(path):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 0, 1, 0, 1])
    np.savez(path, labels=labels, embedding=rng.normal(size=(6, 3)), centres=np.ones((2, 3)))
    return path.read_bytes()


def test_a_valid_entry_is_read_without_a_warning(tmp_path):
    path = tmp_path / "reference.npz"
    _entry(path)
    found, caught = _read(path)
    assert caught == []
    np.testing.assert_array_equal(found["labels"], [0, 1, 0, 1, 0, 1])
    assert found["embedding"].shape == (6, 3) and found["centres"].shape == (2, 3)


def test_garbage_bytes_are_not_called_pickled_data(tmp_path):
    # NumPy's "This file contains pickled (object) data. If you trust the file you can load
    # it unsafely using allow_pickle=" was passed on, for bytes that are no pickle either
    path = tmp_path / "reference.npz"
    path.write_bytes(b"not an archive")
    found, caught = _read(path)
    assert found is None
    assert caught == [
        (
            UserWarning,
            f"{path}: the cached reference cannot be read (not an .npz archive: it starts "
            "with b'not '); computing it again",
        )
    ]


def test_a_single_npy_array_is_computed_again(tmp_path):
    # `with np.load(...)` on a .npy array failed the fit in a TypeError
    path = tmp_path / "reference.npz"
    with path.open("wb") as fh:
        np.save(fh, np.zeros(6))
    found, caught = _read(path)
    assert found is None
    assert caught == [
        (
            UserWarning,
            f"{path}: the cached reference cannot be read (a single .npy array, not an .npz "
            "archive); computing it again",
        )
    ]


def test_an_archive_that_fails_to_open_leaves_no_file_open(tmp_path):
    # A damaged "version needed to extract" in the central directory: zipfile refuses it
    # while np.load opens the archive, and np.load left its own file open
    path = tmp_path / "reference.npz"
    raw = _entry(path)
    entry = raw.index(b"PK\x01\x02")
    path.write_bytes(raw[: entry + 6] + b"\xff\x00" + raw[entry + 8 :])
    found, caught = _read(path)
    assert found is None
    assert [c for c, _ in caught] == [UserWarning], caught
    assert "the cached reference cannot be read (" in caught[0][1]


@pytest.mark.parametrize("keep", [5, 6])
def test_an_entry_of_other_shapes_is_computed_again(tmp_path, keep):
    path = tmp_path / "reference.npz"
    _entry(path)
    found, caught = _read(path, n=keep, k=2)
    if keep == 6:
        assert found is not None and caught == []
    else:
        assert found is None
        assert caught == [
            (
                UserWarning,
                f"{path}: the cached reference holds arrays of other shapes than this "
                "target's; computing it again",
            )
        ]
