"""User-file loaders (dtc.data.files), each on small files written to tmp_path."""

from __future__ import annotations

import warnings
import zipfile

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse

import dtc.data as data

X4 = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0]])
Y4 = np.array([0, 1, 1, 2])


# -- npz --------------------------------------------------------------------------------
def test_npz_round_trip(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, feats=X4, lab=Y4)
    dom = data.load_npz(path, x_key="feats", y_key="lab")
    np.testing.assert_array_equal(dom.X, X4.astype(np.float32))
    np.testing.assert_array_equal(dom.y, Y4)
    assert dom.name == "mine" and dom.meta["file"] == str(path)
    unlabelled = data.load_npz(path, x_key="feats", y_key=None, name="u", image_shape=(1, 3))
    assert unlabelled.y is None and unlabelled.name == "u" and unlabelled.image_shape == (1, 3)


def test_npz_class_names_are_numbered_as_csv_numbers_them(tmp_path):
    """String labels in an npz were refused as "not integer class labels"; they are now
    numbered in sorted order (or ``classes``'), as load_csv does, bytes included."""
    X = np.arange(12.0).reshape(6, 2)
    np.savez(tmp_path / "s.npz", X=X, y=np.array(["dog", "cat", "dog", "eel", "cat", "eel"]))
    source = data.load_npz(tmp_path / "s.npz")
    np.testing.assert_array_equal(source.y, [1, 0, 1, 2, 0, 2])
    assert source.meta["classes"] == ["cat", "dog", "eel"]
    np.savez(tmp_path / "t.npz", X=X[:3], y=np.array([b"eel", b"dog", b"eel"]))
    target = data.load_npz(tmp_path / "t.npz", classes=source.meta["classes"])
    np.testing.assert_array_equal(target.y, [2, 1, 2])  # numbered as the source numbers them
    assert data.DomainPair(source, target).n_clusters is None
    with pytest.raises(ValueError, match=r"classes \['eel'\] are not in classes=\['cat', 'dog'\]"):
        data.load_npz(tmp_path / "t.npz", classes=["cat", "dog"])
    np.savez(tmp_path / "e.npz", X=X[:2], y=np.array(["cat", " "]))
    with pytest.raises(ValueError, match="label 1 is empty"):
        data.load_npz(tmp_path / "e.npz")
    np.savez(tmp_path / "n.npz", X=X[:2], y=np.array([0, 1]))
    with pytest.raises(ValueError, match="classes: given, but .* labels are numbers"):
        data.load_npz(tmp_path / "n.npz", classes=["cat", "dog"])


def test_npz_errors(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, X=X4)
    with pytest.raises(
        ValueError, match=r"a\.npz: expected key 'y' \(labels \(n,\)\); found keys \['X'\]"
    ):
        data.load_npz(path)
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([{"a": 1}], dtype=object), y=Y4)
    with pytest.raises(ValueError, match=r"obj\.npz: array 'X' is not numeric"):
        data.load_npz(obj)
    bad = tmp_path / "bad.npz"
    bad.write_text("not an archive")
    with pytest.raises(ValueError, match=r"bad\.npz: could not read"):
        data.load_npz(bad)
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        data.load_npz(tmp_path / "nothere.npz")
    (tmp_path / "folder.csv").mkdir()  # was "no such file", with something standing there
    with pytest.raises(IsADirectoryError, match=r"folder\.csv' is a folder; expected a file"):
        data.load_csv(tmp_path / "folder.csv")
    nan = tmp_path / "nan.npz"
    np.savez(nan, X=np.array([[np.nan, 1.0]]), y=[0])
    with pytest.raises(ValueError, match=r"nan\.npz: .*NaN or Inf"):
        data.load_npz(nan)


# -- csv --------------------------------------------------------------------------------
def _write_csv(path, text):
    path.write_text(text)
    return path


def test_csv_header_inferred_and_named_label(tmp_path):
    path = _write_csv(tmp_path / "h.csv", "a,label,b\n1,0,2\n3,1,4\n5,1,6\n")
    dom = data.load_csv(path, label_column="label")
    np.testing.assert_array_equal(dom.X, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(dom.y, [0, 1, 1])


def test_csv_no_header_last_column_and_offset(tmp_path):
    path = _write_csv(tmp_path / "n.csv", "1;2;1\n3;4;2\n")
    dom = data.load_csv(path, delimiter=";", label_offset=1)
    np.testing.assert_array_equal(dom.X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(dom.y, [0, 1])
    # header=True forces the first (numeric) row to be a header.
    forced = data.load_csv(path, delimiter=";", header=True, label_column=None)
    np.testing.assert_array_equal(forced.X, [[3, 4, 2]])


def test_csv_string_labels_become_sorted_codes(tmp_path):
    path = _write_csv(tmp_path / "s.csv", "x,y,cls\n1,2,dog\n3,4,cat\n5,6,dog\n")
    dom = data.load_csv(path, label_column=2)
    np.testing.assert_array_equal(dom.y, [1, 0, 1])
    assert dom.meta["classes"] == ["cat", "dog"]


@pytest.mark.parametrize(
    ("text", "label_column"),
    [
        ("0.1,0.2,cat\n0.3,0.4,dog\n0.5,0.6,cat\n", -1),
        ("cat,0.1,0.2\ndog,0.3,0.4\ncat,0.5,0.6\n", 0),
    ],
)
def test_csv_without_header_and_class_names_keeps_its_first_sample(tmp_path, text, label_column):
    # The header is inferred from the feature cells: a class name is not a header.
    dom = data.load_csv(_write_csv(tmp_path / "names.csv", text), label_column=label_column)
    np.testing.assert_allclose(dom.X, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], rtol=1e-6)
    np.testing.assert_array_equal(dom.y, [0, 1, 0])
    assert dom.meta["classes"] == ["cat", "dog"]


@pytest.mark.parametrize(
    ("text", "label_column"),
    [
        ("0,1,label\n0.1,0.2,2\n0.3,0.4,10\n0.5,0.6,1\n", -1),  # pandas' to_csv(index=False)
        ("label,0,1\n2,0.1,0.2\n10,0.3,0.4\n1,0.5,0.6\n", 0),
    ],
)
def test_csv_numbered_header_is_a_header(tmp_path, text, label_column):
    # Only the label cell of the first row is not a number: before, the row was a sample
    # and "label" made every label a class name, sorted as strings ("10" < "2").
    dom = data.load_csv(_write_csv(tmp_path / "numbered.csv", text), label_column=label_column)
    np.testing.assert_allclose(dom.X, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], rtol=1e-6)
    np.testing.assert_array_equal(dom.y, [2, 10, 1])
    assert "classes" not in dom.meta


def test_csv_class_names_that_are_numbers_sort_by_value(tmp_path):
    path = _write_csv(tmp_path / "mixed.csv", "0.1,0.2,2\n0.3,0.4,x\n0.5,0.6,10\n0.7,0.8,2\n")
    dom = data.load_csv(path)
    assert dom.meta["classes"] == ["2", "10", "x"]
    np.testing.assert_array_equal(dom.y, [0, 2, 1, 0])
    assert dom.X.shape == (4, 2)  # the first row is a sample: other rows have names too


def test_two_files_number_their_class_names_alike_or_the_pair_says_so(tmp_path):
    """Each file numbers its own names: a target holding dog and eel would call dog 0, the
    source's cat. Loaded with the source's classes it calls dog 1, as the source does; a
    pair of two files numbered apart is refused, naming both lists."""
    src = data.load_csv(_write_csv(tmp_path / "s.csv", "1,2,cat\n3,4,dog\n5,6,eel\n"))
    apart = data.load_csv(_write_csv(tmp_path / "t.csv", "3,4,dog\n5,6,eel\n"))
    assert src.meta["classes"] == ["cat", "dog", "eel"] and apart.y.tolist() == [0, 1]
    with pytest.raises(
        ValueError,
        match=r"source numbers its classes \['cat', 'dog', 'eel'\].*one classes= list holding "
        "every name",
    ):
        data.DomainPair(src, apart)
    tgt = data.load_csv(tmp_path / "t.csv", classes=src.meta["classes"])
    assert tgt.y.tolist() == [1, 2] and tgt.meta["classes"] == src.meta["classes"]
    data.DomainPair(src, tgt)
    with pytest.raises(ValueError, match=r"classes \['eel'\] are not in classes=\['cat', 'dog'\]"):
        data.load_csv(tmp_path / "t.csv", classes=["cat", "dog"])
    with pytest.raises(ValueError, match="classes: a name is given twice"):
        data.load_csv(tmp_path / "t.csv", classes=["dog", "dog", "eel"])
    empty = _write_csv(tmp_path / "e.csv", "a,b,label\n1,2,\n4,5,1\n7,8,0\n")
    with pytest.raises(ValueError, match=r"e\.csv: line 2, column 2: the label is empty"):
        data.load_csv(empty)


def test_csv_says_what_it_guessed_and_what_looks_like_a_wrong_delimiter(tmp_path):
    typo = _write_csv(tmp_path / "typo.csv", "1,2,x3,0\n4,5,6,1\n7,8,9,0\n")
    with pytest.warns(UserWarning, match=r"typo\.csv: the first row .* is taken as a header"):
        assert data.load_csv(typo).n_samples == 2
    with pytest.raises(ValueError, match=r"line 1, column 2: expected a number, got 'x3'"):
        data.load_csv(typo, header=False)  # a sample after all: its typo is named
    semi = _write_csv(tmp_path / "semi.csv", "1;2;0\n3;4;1\n")
    with pytest.raises(
        ValueError, match=r"semi\.csv: every row is one field.*delimiter=','.*rewrite the file"
    ):
        data.load_csv(semi)
    assert data.load_csv(semi, delimiter=";").X.shape == (2, 2)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1,2,0\n\n3,4,1\n\n5,6,1\n7,1\n8,9,0\n", r"line 6 has 2 fields, expected 3"),
        ("a,b,label\n\n1,2,0\n\n3,x,1\n", r"line 5, column 1: expected a number, got 'x'"),
        ("1,2,0\n\n\n3,4,\n", r"line 4, column 2: the label is empty"),
    ],
)
def test_csv_errors_name_the_files_lines_past_blank_ones(tmp_path, text, match):
    """Blank lines are skipped, and the line numbers counted kept rows: "line 4 has 2
    fields" of a blank line 4, the bad row on line 6."""
    with pytest.raises(ValueError, match=r"b\.csv: " + match):
        data.load_csv(_write_csv(tmp_path / "b.csv", text))


def test_csv_errors(tmp_path):
    ragged = _write_csv(tmp_path / "r.csv", "1,2,0\n3,0\n")
    with pytest.raises(ValueError, match=r"r\.csv: line 2 has 2 fields, expected 3"):
        data.load_csv(ragged)
    text = _write_csv(tmp_path / "t.csv", "a,b,y\n1,x,0\n")
    with pytest.raises(ValueError, match=r"t\.csv: line 2, column 1: expected a number, got 'x'"):
        data.load_csv(text)
    nonint = _write_csv(tmp_path / "f.csv", "1,2,0.5\n3,4,1\n")
    with pytest.raises(ValueError, match=r"f\.csv: .*expected integer class labels"):
        data.load_csv(nonint)
    empty = _write_csv(tmp_path / "e.csv", "")
    with pytest.raises(ValueError, match="file is empty"):
        data.load_csv(empty)
    only_header = _write_csv(tmp_path / "o.csv", "a,b,y\n")
    with pytest.raises(ValueError, match="empty domain"):
        data.load_csv(only_header)
    ok = _write_csv(tmp_path / "ok.csv", "1,2,0\n")
    with pytest.raises(ValueError, match="not a header name"):
        data.load_csv(ok, label_column="y")
    with pytest.raises(ValueError, match="out of range"):
        data.load_csv(ok, label_column=5)
    with pytest.raises(ValueError, match="header: expected"):
        data.load_csv(ok, header="yes")


# -- mat ---------------------------------------------------------------------------------
def test_mat_v5_both_layouts(tmp_path):
    rows = tmp_path / "rows.mat"
    scipy.io.savemat(rows, {"X": X4, "y": (Y4 + 1).astype(np.uint8).reshape(-1, 1)})
    dom = data.load_mat(rows, label_offset=1)
    np.testing.assert_array_equal(dom.X, X4)
    np.testing.assert_array_equal(dom.y, Y4)
    cols = tmp_path / "cols.mat"
    scipy.io.savemat(cols, {"X_src": X4.T, "Y_src": Y4.reshape(-1, 1)})
    dom = data.load_mat(cols, x_key="X_src", y_key="Y_src", features_as_rows=True)
    np.testing.assert_array_equal(dom.X, X4)
    np.testing.assert_array_equal(dom.y, Y4)
    # read as rows, the labels are one per column: the error says which option fixes it
    with pytest.raises(ValueError, match="samples as columns, pass features_as_rows=True"):
        data.load_mat(cols, x_key="X_src", y_key="Y_src")


def test_mat_v5_sparse_matrix_is_made_dense(tmp_path):
    path = tmp_path / "sparse.mat"
    scipy.io.savemat(path, {"X": scipy.sparse.csc_matrix(X4), "y": Y4.reshape(-1, 1)})
    assert scipy.sparse.issparse(scipy.io.loadmat(path)["X"])  # what scipy hands back
    dom = data.load_mat(path)
    np.testing.assert_array_equal(dom.X, X4)
    np.testing.assert_array_equal(dom.y, Y4)


def _write_v73(path, arrays):
    """Mimic MATLAB v7.3: an HDF5 file with a 512-byte user block holding the MATLAB
    header, each variable stored column-major, i.e. with its axes reversed, and a
    MATLAB_class attribute."""
    with h5py.File(path, "w", userblock_size=512) as fh:
        for key, value in arrays.items():
            ds = fh.create_dataset(key, data=np.asarray(value).T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
        )


def test_mat_v73_transposed_layout(tmp_path):
    path = tmp_path / "v73.mat"
    # MATLAB sees X as (4, 3) samples x features and y as a (4, 1) column.
    _write_v73(path, {"X": X4, "y": (Y4 + 1).reshape(-1, 1).astype(float)})
    with h5py.File(path, "r") as fh:
        assert fh["X"].shape == (3, 4)  # what an HDF5 reader sees: transposed
    dom = data.load_mat(path, label_offset=1)
    np.testing.assert_array_equal(dom.X, X4)
    np.testing.assert_array_equal(dom.y, Y4)
    path2 = tmp_path / "v73cols.mat"
    _write_v73(path2, {"Xs": X4.T})
    dom2 = data.load_mat(path2, x_key="Xs", y_key=None, features_as_rows=True)
    np.testing.assert_array_equal(dom2.X, X4)
    with pytest.raises(ValueError, match=r"v73cols\.mat: expected key 'X'.*found keys \['Xs'\]"):
        data.load_mat(path2, y_key=None)


def test_mat_v73_sparse_matrix_is_named_in_the_error(tmp_path):
    path = tmp_path / "sp73.mat"
    _write_v73(path, {"y": Y4.reshape(-1, 1).astype(float)})
    sparse = scipy.sparse.csc_matrix(X4)
    with h5py.File(path, "r+") as fh:  # how MATLAB v7.3 stores a sparse (4, 3) matrix
        group = fh.create_group("X")
        group.attrs["MATLAB_class"] = np.bytes_("double")
        group.attrs["MATLAB_sparse"] = np.uint64(4)
        for key, value in (("data", sparse.data), ("ir", sparse.indices), ("jc", sparse.indptr)):
            group.create_dataset(key, data=value)
    with pytest.raises(ValueError, match=r"sp73\.mat: 'X' is a sparse MATLAB matrix"):
        data.load_mat(path)


def test_mat_errors(tmp_path):
    path = tmp_path / "m.mat"
    scipy.io.savemat(path, {"X": X4})
    with pytest.raises(ValueError, match=r"m\.mat: expected key 'y'"):
        data.load_mat(path)
    short = tmp_path / "short.mat"
    scipy.io.savemat(short, {"X": X4, "y": Y4[:3]})
    with pytest.raises(ValueError, match=r"short\.mat: .*expected 4 labels"):
        data.load_mat(short)
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match=r"junk\.mat: could not read it as a MATLAB"):
        data.load_mat(junk)
    with pytest.raises(FileNotFoundError, match="gone.mat"):
        data.load_mat(tmp_path / "gone.mat")
    with pytest.raises(ValueError, match="label_offset: expected an int"):
        data.load_mat(path, y_key=None, label_offset=0.5)


def test_mat_v73_char_array_is_refused_not_read_as_character_codes(tmp_path):
    # v7.3 stores a char array as uint16 codes: labels 'abba' were read as classes 97, 98.
    path = tmp_path / "char73.mat"
    _write_v73(path, {"X": X4})
    with h5py.File(path, "r+") as fh:
        ds = fh.create_dataset("y", data=np.array([[97, 98, 98, 97]], dtype=np.uint16))
        ds.attrs["MATLAB_class"] = np.bytes_("char")
    with pytest.raises(ValueError, match=r"char73\.mat: expected 'y' to be a numeric .*char array"):
        data.load_mat(path)
    assert data.load_mat(path, y_key=None).n_samples == 4  # the numeric X alone still loads


def test_numpy_integer_offset_and_label_column_act_as_python_ints(tmp_path):
    """A NumPy integer (a value read from a config array, ``np.int64(1)``) was taken for
    something other than an int in three places: class names given ``label_offset=np.int64(1)``
    were shifted by it (name 0 became -1, refused as a negative label), a numbered CSV header
    with ``label_column=np.int64(-1)`` warned that its label cell was no number, and the
    offset was ignored for bool labels."""
    X = np.arange(6.0).reshape(3, 2)
    np.savez(tmp_path / "s.npz", X=X, y=np.array(["b", "a", "b"]))
    for offset in (1, np.int64(1)):
        np.testing.assert_array_equal(
            data.load_npz(tmp_path / "s.npz", label_offset=offset).y, [1, 0, 1]
        )
    csv_path = tmp_path / "names.csv"
    csv_path.write_text("1,2,cat\n3,4,dog\n5,6,cat\n")
    assert data.load_csv(csv_path, label_offset=np.int64(1)).y.tolist() == [0, 1, 0]
    numbered = tmp_path / "numbered.csv"
    numbered.write_text("0,1,label\n1,2,1\n3,4,0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the header of numbers and one name is no surprise
        for col in (-1, np.int64(-1), np.int64(2)):
            assert data.load_csv(numbered, label_column=col).y.tolist() == [1, 0]
    np.savez(tmp_path / "b.npz", X=X, y=np.array([True, False, True]))
    np.testing.assert_array_equal(data.load_npz(tmp_path / "b.npz").y, [1, 0, 1])
    with pytest.raises(ValueError, match="non-negative class labels"):
        data.load_npz(tmp_path / "b.npz", label_offset=1)  # was ignored: [1, 0, 1]
    with pytest.raises(ValueError, match="label_offset: expected an int"):
        data.load_npz(tmp_path / "s.npz", label_offset=True)  # names: was taken as 0


def test_unreadable_files_and_paths_are_named(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz: could not read it as a NumPy .npz"):
        data.load_npz(empty)  # numpy's EOFError, naming nothing
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\xff\xfe")
    with pytest.raises(ValueError, match="binary.csv: could not read it as a text file"):
        data.load_csv(binary)  # a UnicodeDecodeError naming no file
    with pytest.raises(TypeError, match="^path: expected a file path"):
        data.load_csv(5)


def test_csv_first_sample_with_an_empty_label_is_an_error_not_a_header(tmp_path):
    # it was taken for a numbered header: the sample was dropped silently
    path = tmp_path / "d.csv"
    path.write_text("1,2,\n3,4,1\n5,6,0\n")
    with pytest.raises(ValueError, match="line 1, column 2: the label is empty"):
        data.load_csv(path)


def test_csv_label_column_at_minus_width_is_the_first_column(tmp_path):
    # -width counts from the end to the first column: in range, as in Python indexing
    path = _write_csv(tmp_path / "first.csv", "2,1.5,2.5\n0,3.5,4.5\n")
    dom = data.load_csv(path, label_column=-3)
    np.testing.assert_array_equal(dom.X, [[1.5, 2.5], [3.5, 4.5]])
    np.testing.assert_array_equal(dom.y, [2, 0])
    with pytest.raises(
        ValueError,
        match=r"label_column -4 out of range for 3 columns \(expected 0\.\.2, or -3\.\.-1 from the end\)",
    ):
        data.load_csv(path, label_column=-4)


def test_mat_v5_variables_leave_out_the_header_entries(tmp_path):
    # scipy adds __header__, __version__, __globals__: not variables, not "found keys"
    from dtc.data.files import read_mat_v5

    path = tmp_path / "m.mat"
    scipy.io.savemat(path, {"X": X4, "y": Y4})
    arrays = read_mat_v5(path)
    assert set(arrays) == {"X", "y"}
    np.testing.assert_array_equal(arrays["X"], X4)
    with pytest.raises(
        ValueError, match=r"expected key 'lab' \(labels\); found keys \['X', 'y'\]$"
    ):
        data.load_mat(path, y_key="lab")


def test_mat_v5_text_or_cell_features_are_refused_naming_the_dtype(tmp_path):
    # a char array ("ab", "cd") or a cell array holds no features: named before Domain sees it
    for stem, X in (("char", np.array(["ab", "cd"])), ("cell", np.array([[1.0], "a"], object))):
        path = tmp_path / f"{stem}.mat"
        scipy.io.savemat(path, {"X": X, "y": np.array([1, 2])})
        with pytest.raises(ValueError, match=rf"{stem}\.mat: expected 'X' to be a numeric matrix"):
            data.load_mat(path)


def test_csv_of_one_row_whose_label_is_a_name_is_one_sample(tmp_path):
    # A numbered header needs other rows whose labels are numbers: one row is a sample.
    path = _write_csv(tmp_path / "one.csv", "0.5,1.5,cat\n")
    dom = data.load_csv(path)
    np.testing.assert_array_equal(dom.X, [[0.5, 1.5]])
    assert dom.y.tolist() == [0] and dom.meta["classes"] == ["cat"]


def test_damaged_npz_and_mat_files_are_named(tmp_path):
    good = tmp_path / "good.npz"
    np.savez_compressed(good, X=X4, y=Y4)
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[:300])
    with pytest.raises(ValueError, match=r"trunc.npz: could not read it as a NumPy .npz"):
        data.load_npz(tmp_path / "trunc.npz")  # was zipfile.BadZipFile, not a ValueError
    # one flipped byte inside X's compressed stream: the archive opens, X fails to read
    start = raw.index(b"X.npy") + len(b"X.npy") + 20
    flipped = bytearray(raw)
    flipped[start] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"flip.npz: array 'X' could not be read"):
        data.load_npz(tmp_path / "flip.npz")
    with h5py.File(tmp_path / "v73.mat", "w") as fh:
        fh["X"], fh["y"] = X4.T, Y4[None, :].astype(float)
    (tmp_path / "trunc.mat").write_bytes((tmp_path / "v73.mat").read_bytes()[:1500])
    with pytest.raises(ValueError, match=r"trunc.mat: could not read it as a MATLAB v7.3"):
        data.load_mat(tmp_path / "trunc.mat")  # was h5py's OSError, naming no file


def test_a_file_that_is_no_npz_archive_is_named_without_pickle_advice(tmp_path):
    """np.load reads a file that is neither a zip nor a .npy as a pickle, and refused it with
    "If you trust the file you can load it unsafely using allow_pickle=" (a CSV given to
    load_npz, a damaged file); a member cut short was called an object array; a member
    without a .npy header came back as its raw bytes, refused as "text"."""
    import io
    import zipfile

    (tmp_path / "table.npz").write_text("1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"table.npz: could not read it as a NumPy .npz") as err:
        data.load_npz(tmp_path / "table.npz")
    assert "allow_pickle" not in str(err.value)
    whole = io.BytesIO()
    np.save(whole, X4)
    with zipfile.ZipFile(tmp_path / "cut.npz", "w") as archive:
        archive.writestr("X.npy", whole.getvalue()[:100])
        archive.writestr("y.npy", b"no header")
    with pytest.raises(ValueError, match=r"cut.npz: array 'X' could not be read \(EOF"):
        data.load_npz(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match=r"cut.npz: member 'y.npy' is not a .npy array"):
        data.load_npz(tmp_path / "cut.npz", x_key="y", y_key=None)


def test_v73_links_and_damaged_data_are_named(tmp_path):
    """Past the file's opening, h5py's KeyError / OSError named no file (a dangling link,
    compressed data damaged inside); a link to another file loaded that file's bytes."""
    y = Y4[None, :].astype(float)
    with h5py.File(tmp_path / "dangling.mat", "w") as fh:
        fh["X"], fh["y"] = h5py.SoftLink("/nothing"), y
    with pytest.raises(ValueError, match=r"dangling.mat: 'X' could not be read"):
        data.load_mat(tmp_path / "dangling.mat")
    with h5py.File(tmp_path / "other.h5", "w") as fh:
        fh["X"] = X4.T
    with h5py.File(tmp_path / "linked.mat", "w") as fh:
        fh["X"], fh["y"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/X"), y
    with pytest.raises(ValueError, match=r"linked.mat: 'X' is a link to another file"):
        data.load_mat(tmp_path / "linked.mat")
    # reached otherwise: a soft link to an external link, into a linked group, a virtual set
    with h5py.File(tmp_path / "soft.mat", "w") as fh:
        fh["#ext"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/X")
        fh["X"], fh["y"] = h5py.SoftLink("/#ext"), y
    with h5py.File(tmp_path / "group.mat", "w") as fh:
        fh["g"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/")
        fh["X"], fh["y"] = h5py.SoftLink("/g/X"), y
    layout = h5py.VirtualLayout(X4.T.shape, "f8")
    layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "X", shape=X4.T.shape)
    with h5py.File(tmp_path / "virtual.mat", "w") as fh:
        fh.create_virtual_dataset("X", layout)
        fh["y"] = y
    for name in ("soft", "group", "virtual"):
        with pytest.raises(ValueError, match=rf"{name}.mat: 'X' is a link to another file"):
            data.load_mat(tmp_path / f"{name}.mat")
    (tmp_path / "raw.bin").write_bytes(np.asarray(X4.T, dtype="<f8").tobytes())
    with h5py.File(tmp_path / "external.mat", "w") as fh:
        fh.create_dataset(
            "X", X4.T.shape, "<f8", external=[(str(tmp_path / "raw.bin"), 0, 8 * X4.size)]
        )
        fh["y"] = y
    with pytest.raises(ValueError, match=r"external.mat: 'X' is stored in other files"):
        data.load_mat(tmp_path / "external.mat")
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "gz.mat", "w") as fh:  # MATLAB's -v7.3 compresses
        fh.create_dataset("X", data=rng.random((50, 200)), compression="gzip")
        fh["y"] = (np.arange(200) % 2)[None, :].astype(float)
        offset = fh["X"].id.get_chunk_info(0).byte_offset
    raw = bytearray((tmp_path / "gz.mat").read_bytes())
    for i in range(offset + 20, offset + 60):
        raw[i] ^= 0xFF
    (tmp_path / "gz_bad.mat").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"gz_bad.mat: 'X' could not be read"):
        data.load_mat(tmp_path / "gz_bad.mat")


def test_csv_with_a_byte_order_mark_keeps_its_first_sample(tmp_path):
    # Excel's "CSV UTF-8" writes one: the first cell read '\ufeff0.0', not a number, so
    # the first sample was taken as a header and dropped (with a warning only)
    path = tmp_path / "excel.csv"
    path.write_text("\n".join(",".join(map(str, [*x, y])) for x, y in zip(X4, Y4)), "utf-8-sig")
    d = data.load_csv(path)
    np.testing.assert_array_equal(d.X, X4)
    np.testing.assert_array_equal(d.y, Y4)
    named = tmp_path / "named.csv"
    named.write_text("a,b,c,label\n1,2,3,0\n4,5,6,1\n", "utf-8-sig")
    assert data.load_csv(named, label_column="label").n_samples == 2


def test_mat_features_as_rows_must_be_a_bool(tmp_path):
    scipy.io.savemat(tmp_path / "sq.mat", {"X": np.arange(9.0).reshape(3, 3), "y": [0, 1, 2]})
    with pytest.raises(ValueError, match="load_mat: features_as_rows must be True or False"):
        data.load_mat(tmp_path / "sq.mat", features_as_rows="no")  # was read as True


def test_a_header_of_another_width_than_the_rows_is_refused(tmp_path):
    # 3 names over 4 fields: label_column="label" took the third field, the labels became
    # a feature; 4 names over 3 fields: a bare IndexError naming no file.
    path = tmp_path / "h.csv"
    path.write_text("a,b,label\n1,2,3,0\n4,5,6,1\n7,8,9,0\n")
    with pytest.raises(ValueError, match=r"h.csv: the header has 3 names and the rows 4 fields"):
        data.load_csv(path, label_column="label")
    path.write_text("a,b,c,label\n1,2,0\n4,5,1\n")
    with pytest.raises(ValueError, match=r"h.csv: the header has 4 names and the rows 3 fields"):
        data.load_csv(path, label_column="label")


def test_unreadable_text_and_labels_are_named(tmp_path):
    import csv

    path = tmp_path / "big.csv"
    path.write_text("1," + "2" * (csv.field_size_limit() + 10) + ",0\n")
    with pytest.raises(ValueError, match=r"big.csv: could not be read as delimited text"):
        data.load_csv(path)
    np.savez(tmp_path / "b.npz", X=np.ones((2, 2)), y=np.array([b"\xff", b"a"]))
    with pytest.raises(ValueError, match=r"b.npz: labels: class names must be UTF-8 text"):
        data.load_npz(tmp_path / "b.npz")
    # 2**63 wrapped to -2**63 in the int64 cast: "expected non-negative class labels"
    np.savez(tmp_path / "u.npz", X=np.ones((2, 2)), y=np.array([0, 2**63], np.uint64))
    with pytest.raises(
        ValueError, match=r"u.npz: labels: expected class labels of at most 2\*\*63 - 1"
    ):
        data.load_npz(tmp_path / "u.npz")


@pytest.mark.parametrize("dtype", ["datetime64[s]", "timedelta64[s]"])
def test_times_are_no_features(tmp_path, dtype):
    # Two timestamps a second apart became the same float32 number of seconds since 1970.
    X = np.array([[1704067200, 1], [1704067201, 1]]).astype(dtype)
    np.savez(tmp_path / "t.npz", X=X, y=np.array([0, 1]))
    with pytest.raises(ValueError, match=rf"t.npz: .*X: .* got dtype {dtype[:-3]}"):
        data.load_npz(tmp_path / "t.npz")


def test_a_damaged_npz_leaves_no_file_open(tmp_path):
    # np.load left its own file open when the archive failed to open: one descriptor per
    # failed load, until the garbage collector closed it (with a ResourceWarning).
    import os

    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    before = len(os.listdir("/proc/self/fd"))
    errors = []
    for _ in range(5):
        try:
            data.load_npz(path)
        except ValueError as exc:
            errors.append(exc)  # kept alive, as a caller's traceback keeps them
    assert len(errors) == 5
    assert len(os.listdir("/proc/self/fd")) == before


def test_csv_integer_labels_past_2_to_53_stay_apart(tmp_path):
    # read as floats, 9007199254740993 became 9007199254740992: two classes one, silently
    path = tmp_path / "big.csv"
    path.write_text("1,2,9007199254740993\n3,4,9007199254740992\n")
    domain = data.load_csv(path)
    assert domain.y.tolist() == [9007199254740993, 9007199254740992]
    assert domain.n_classes == 2
    (tmp_path / "float.csv").write_text("1,2,1.0\n3,4,0\n")  # integer-valued floats still read
    assert data.load_csv(tmp_path / "float.csv").y.tolist() == [1, 0]
    (tmp_path / "past.csv").write_text("1,2,9223372036854775808\n3,4,0\n")
    with pytest.raises(ValueError, match="past.csv: .*expected labels within int64's range"):
        data.load_csv(tmp_path / "past.csv")


def test_a_label_offset_past_int64_is_named(tmp_path):
    # int8 labels -5 minus 2**63 - 1 wrapped around to 2**63 - 4, a "valid" label; an
    # offset past int64 was numpy's bare OverflowError
    path = tmp_path / "a.npz"
    np.savez(path, X=np.ones((3, 2)), y=np.array([-5, -5, -4], dtype=np.int8))
    for offset in (2**63 - 1, 2**70, -(2**70)):
        with pytest.raises(ValueError, match=r"label_offset: .* past int64's range"):
            data.load_npz(path, label_offset=offset)
    assert data.load_npz(path, label_offset=-5).y.tolist() == [0, 0, 1]


def test_an_unclosed_quote_in_a_csv_is_named_as_such(tmp_path):
    # every line after an unclosed quote is one cell: the error blamed the delimiter
    # ("every row is one field ... is delimiter=',' the file's separator?")
    path = tmp_path / "quote.csv"
    for text in ('"1,2,0\n3,4,1\n', '1,2,0\n"3,4,1\n5,6,0\n'):
        path.write_text(text)
        for label_column in (-1, None):
            with pytest.raises(ValueError, match=r"quote.csv: a quoted field ending on line"):
                data.load_csv(path, label_column=label_column)
    path.write_text('"1","2","0"\n3,4,1\n')  # closed quotes read as before
    assert data.load_csv(path).y.tolist() == [0, 1]


def test_an_empty_v73_array_is_named_not_read_as_its_dimensions(tmp_path):
    # MATLAB v7.3 writes an empty array as its dimensions, flagged MATLAB_empty: y = []
    # beside a two-sample X was read as the labels [0, 1]
    path = tmp_path / "empty.mat"
    with h5py.File(path, "w") as fh:
        fh["X"] = np.ones((3, 2))  # (n, d) = (2, 3) as MATLAB shows it
        fh["y"] = np.array([0, 1], dtype=np.uint64)
        fh["y"].attrs["MATLAB_class"] = np.bytes_("double")
        fh["y"].attrs["MATLAB_empty"] = np.uint8(1)
    with pytest.raises(ValueError, match=r"empty.mat: 'y' is an empty MATLAB array"):
        data.load_mat(path)
    assert data.load_mat(path, y_key=None).X.shape == (2, 3)


def test_a_damaged_v73_file_is_named_wherever_h5py_fails(tmp_path):
    # past the file's opening, h5py failed in its own words, naming no file: listing the
    # variables of a damaged symbol table (RuntimeError), the float type of a damaged
    # datatype message ("Insufficient precision in available types", a bare ValueError)
    with h5py.File(tmp_path / "whole.mat", "w") as fh:
        fh["X"], fh["y"] = np.ones((3, 6)), np.zeros((1, 6))
    raw = (tmp_path / "whole.mat").read_bytes()
    (tmp_path / "table.mat").write_bytes(raw.replace(b"SNOD", b"XNOD"))
    with pytest.raises(ValueError, match=r"table.mat: could not list its variables"):
        data.load_mat(tmp_path / "table.mat")
    # float64's datatype message: offset 0, precision 64, exponent at 52 of 11 bits,
    # mantissa at 0 of 52 bits, exponent bias 1023 (X's, the first): the bias damaged
    ieee = b"\x00\x00\x40\x00\x34\x0b\x00\x34\xff\x03\x00\x00"
    at = raw.index(ieee) + 9
    (tmp_path / "type.mat").write_bytes(raw[:at] + b"\x40" + raw[at + 1 :])
    with pytest.raises(ValueError, match=r"type.mat: 'X' could not be read, the file is damaged"):
        data.load_mat(tmp_path / "type.mat")
    assert data.load_mat(tmp_path / "whole.mat").X.shape == (6, 3)


def test_an_npz_with_a_damaged_zip_field_is_named(tmp_path):
    # zipfile's NotImplementedError ("zip file version 20.9", "compression type 99") for a
    # damaged central directory escaped load_npz bare, naming no file
    good = tmp_path / "good.npz"
    np.savez(good, X=X4, y=Y4)
    raw = good.read_bytes()
    entry = raw.index(b"PK\x01\x02")  # X.npy's central-directory entry
    version = bytearray(raw)
    version[entry + 6 : entry + 8] = b"\xff\x00"  # version needed to extract: 25.5
    (tmp_path / "version.npz").write_bytes(bytes(version))
    with pytest.raises(ValueError, match=r"version.npz: could not read it as a NumPy .npz"):
        data.load_npz(tmp_path / "version.npz")
    method = bytearray(raw)
    method[entry + 10 : entry + 12] = b"\x63\x00"  # compression method 99
    (tmp_path / "method.npz").write_bytes(bytes(method))
    with pytest.raises(ValueError, match=r"method.npz: array 'X' could not be read"):
        data.load_npz(tmp_path / "method.npz")


def test_a_quoted_cell_over_several_lines_is_read_when_closed(tmp_path):
    # valid CSV (RFC 4180): a header name with a line break, as Excel writes it, and a
    # class name over two lines, were refused as an unclosed quote
    path = tmp_path / "lines.csv"
    path.write_text('"sepal\nlength",width,label\n1,2,0\n3,4,1\n', newline="")
    assert data.load_csv(path).y.tolist() == [0, 1]
    path.write_text('a,b,label\n1,2,"x\ny"\n3,4,z\n5,6,"x\ny"\n', newline="")
    domain = data.load_csv(path)
    assert domain.y.tolist() == [0, 1, 0]
    assert domain.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    # an unclosed quote that pairs with a later one: a row of too many or few fields
    path.write_text('a,b,label\n1,"2,0\n3",4,1\n5,6,0\n', newline="")
    with pytest.raises(ValueError, match=r"a quoted field ending on line 3 runs over"):
        data.load_csv(path)


def test_a_member_without_npy_in_its_name_is_named_as_it_is(tmp_path):
    # numpy keys a member "X" (no .npy suffix) as "X": the error named a member "X.npy"
    # that the archive does not hold
    path = tmp_path / "noext.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X", "not an array")
    with pytest.raises(ValueError, match=r"noext.npz: member 'X' is not a .npy array"):
        data.load_npz(path, y_key=None)
