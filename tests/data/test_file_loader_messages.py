"""Messages of the data file loaders no other test reached: a .npy array given to
load_npz, a missing feature key, complex labels, a label_column of another type, a v7.3
variable that is no numeric dataset (text, a group), MATLAB_class written as a str
attribute (read as the bytes one is), and a registered benchmark's non-numeric X."""

import dataclasses

import h5py
import numpy as np
import pytest
import scipy.io

from dtc import data
from dtc.data import benchmarks
from dtc.data.files import load_csv, load_mat, load_npz


def _message(load, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        load(*args, **kwargs)
    return str(info.value)


def test_a_npy_array_given_as_an_archive_is_named(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 2)))
    assert _message(load_npz, tmp_path / "a.npy") == (
        f"{tmp_path / 'a.npy'}: expected a .npz archive of named arrays, got a single .npy array"
    )


def test_a_missing_feature_key_lists_the_keys(tmp_path):
    np.savez(tmp_path / "b.npz", X=np.zeros((3, 2)), y=np.arange(3))
    assert _message(load_npz, tmp_path / "b.npz", x_key="features") == (
        f"{tmp_path / 'b.npz'}: expected key 'features' (features (n, d)); found keys ['X', 'y']"
    )


def test_complex_labels_are_refused_with_or_without_an_offset(tmp_path):
    np.savez(tmp_path / "c.npz", X=np.zeros((3, 2)), y=np.array([1 + 0j, 2, 1]))
    expected = (
        f"{tmp_path / 'c.npz'}: Domain 'c': y: expected integer class labels, got dtype complex128"
    )
    assert _message(load_npz, tmp_path / "c.npz") == expected
    assert _message(load_npz, tmp_path / "c.npz", label_offset=1) == expected


@pytest.mark.parametrize("label_column", [1.5, True, [0]])
def test_a_label_column_of_another_type_is_named(tmp_path, label_column):
    (tmp_path / "e.csv").write_text("1,2,0\n3,4,1\n")
    assert _message(load_csv, tmp_path / "e.csv", label_column=label_column) == (
        f"label_column: expected an int, a header name or None, got {label_column!r}"
    )


def test_a_v73_variable_that_is_no_numeric_dataset_is_named(tmp_path):
    for name, make in (
        ("text", lambda f: f.create_dataset("X", data=np.array([b"ab", b"cd"]))),
        ("group", lambda f: f.create_group("X")),
    ):
        path = tmp_path / f"{name}.mat"
        with h5py.File(path, "w") as f:
            make(f)
            f.create_dataset("y", data=np.arange(2.0))
        assert _message(load_mat, path) == f"{path}: expected 'X' to be a numeric MATLAB array"


def test_a_matlab_class_written_as_str_is_read_as_the_bytes_one(tmp_path):
    path = tmp_path / "g.mat"
    with h5py.File(path, "w") as f:
        # h5py shows MATLAB's (3, 2) as (2, 3)
        f.create_dataset("X", data=np.arange(6.0).reshape(2, 3)).attrs["MATLAB_class"] = "double"
        f.create_dataset("y", data=np.array([[1.0, 2.0, 1.0]])).attrs["MATLAB_class"] = "double"
    domain = load_mat(path)
    np.testing.assert_array_equal(domain.X, [[0, 3], [1, 4], [2, 5]])
    np.testing.assert_array_equal(domain.y, [1, 2, 1])
    text = tmp_path / "h.mat"
    with h5py.File(text, "w") as f:
        f.create_dataset("X", data=np.array([[97, 98]], np.uint16)).attrs["MATLAB_class"] = "char"
        f.create_dataset("y", data=np.arange(2.0))
    assert _message(load_mat, text) == (
        f"{text}: expected 'X' to be a numeric MATLAB array, got a char array "
        "(text, stored as character codes); save class names as numbers"
    )


def test_a_benchmark_file_whose_features_are_text_is_named(tmp_path, monkeypatch):
    # coil20 without the release's SHA-256 and sample counts: a small file stands in
    spec = benchmarks._BENCHMARKS["coil20"]
    files = {d: dataclasses.replace(f, n=None, sha256=None) for d, f in spec.files.items()}
    monkeypatch.setitem(benchmarks._BENCHMARKS, "coil20", dataclasses.replace(spec, files=files))
    (tmp_path / "coil20").mkdir()
    y = np.arange(1, 7, dtype=np.uint8).reshape(-1, 1)
    path = tmp_path / "coil20" / "COIL_1.mat"
    scipy.io.savemat(path, {"X_src": np.array(["abc"]), "Y_src": y, "X_tar": y, "Y_tar": y})
    assert _message(data.load_domain, "coil20", "coil1", data_dir=tmp_path) == (
        f"{path}: expected 'X_src' to be a numeric 2-d array (d, n) with d=1024, "
        "got <U3 of shape (1,)"
    )
