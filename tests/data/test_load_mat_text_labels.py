"""load_mat refuses class names stored as text in a v5 file with the remedy, as it does for a
v7.3 file: the domain's own check said only "expected integer class labels, got dtype
object"."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from dtc.data.files import load_mat


@pytest.mark.parametrize(
    ("labels", "dtype"),
    [
        (np.array([["cat"], ["dog"], ["cat"]], dtype=object), "object"),  # a cell array
        (np.array(["cat", "dog", "cat"]), "<U3"),  # a char matrix
    ],
)
def test_text_labels_in_a_v5_file_are_refused_with_the_remedy(tmp_path, labels, dtype):
    path = tmp_path / "names.mat"
    scipy.io.savemat(path, {"X": np.arange(6.0).reshape(3, 2), "y": labels})
    with pytest.raises(ValueError) as info:
        load_mat(path)
    assert str(info.value) == (
        f"{path}: expected 'y' to be numeric class labels, got dtype {dtype} (text or a "
        "cell array); save class names as numbers"
    )


def test_numeric_labels_in_a_v5_file_are_still_read(tmp_path):
    path = tmp_path / "numbers.mat"
    scipy.io.savemat(path, {"X": np.arange(6.0).reshape(3, 2), "y": np.array([[1], [2], [1]])})
    np.testing.assert_array_equal(load_mat(path, label_offset=1).y, [0, 1, 0])
