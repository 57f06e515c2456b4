"""Benchmark registry and loaders (dtc.data.benchmarks)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil

import numpy as np
import pytest
import scipy.io
from sklearn.preprocessing import StandardScaler, normalize

import dtc.data as data
from dtc.data import benchmarks

SURF_DOMAINS = ("amazon", "caltech10", "dslr", "webcam")


# -- registry (no files needed) ---------------------------------------------------
def test_list_benchmarks_names():
    assert data.list_benchmarks() == ["digits", "office_caltech10_surf", "mnist_usps", "coil20"]


def test_benchmark_info_pairs_and_classes(tmp_path):
    info = data.benchmark_info("office_caltech10_surf", data_dir=tmp_path)
    assert info["domains"] == SURF_DOMAINS
    assert len(info["pairs"]) == 12 and ("amazon", "webcam") in info["pairs"]
    assert all(s != t for s, t in info["pairs"])
    assert info["n_classes"] == 10
    assert info["files"]["caltech10"] == "Caltech10_SURF_L10.mat"
    assert info["available"] is False and set(info["found"].values()) == {None}
    assert data.benchmark_info("coil20", data_dir=tmp_path)["n_classes"] == 20
    digits = data.benchmark_info("digits")
    assert digits["available"] is True and digits["files"] == {}
    assert digits["pairs"] == [("source", "target"), ("target", "source")]


def test_unknown_benchmark_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown benchmark 'office'.*office_caltech10_surf"):
        data.load_pair("office")
    with pytest.raises(ValueError, match="mnist_usps"):
        data.benchmark_info("nope")


def test_unknown_domain_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown source domain 'Amazon'.*amazon, caltech10"):
        data.load_pair("office_caltech10_surf", source="Amazon", target="webcam", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown domain 'svhn'.*mnist, usps"):
        data.load_domain("mnist_usps", "svhn", data_dir=tmp_path)


def test_same_source_and_target_rejected(tmp_path):
    with pytest.raises(ValueError, match="must differ"):
        data.load_pair("coil20", source="coil1", target="coil1", data_dir=tmp_path)


def test_unknown_preprocess_and_options(tmp_path):
    with pytest.raises(ValueError, match="preprocess must be"):
        data.load_domain("coil20", "coil1", data_dir=tmp_path, preprocess="minmax")
    with pytest.raises(ValueError, match="unexpected options"):
        data.load_domain("coil20", "coil1", data_dir=tmp_path, shift=0.3)
    with pytest.raises(ValueError, match="unexpected options"):
        data.load_pair("digits", noise=1)


def test_missing_file_names_file_dir_and_source(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.load_domain("mnist_usps", "usps", data_dir=tmp_path)
    msg = str(err.value)
    assert "MNIST_vs_USPS.mat" in msg and str(tmp_path) in msg and "AngryCarrot/JDA" in msg


def test_no_data_dir_at_all(monkeypatch):
    monkeypatch.delenv("DTC_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"DTC_DATA is unset.*AngryCarrot/JDA"):
        data.load_pair("coil20")


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DTC_DATA", str(tmp_path))
    assert data.resolve_data_dir() == tmp_path
    assert data.benchmark_info("coil20")["data_dir"] == str(tmp_path)
    # an empty data_dir is not given, as an empty DTC_DATA is not set (it meant ".")
    assert data.resolve_data_dir("") == tmp_path
    monkeypatch.setenv("DTC_DATA", "")
    assert data.resolve_data_dir("") is None and data.resolve_data_dir() is None


def test_a_data_dir_under_home_is_expanded(monkeypatch, tmp_path):
    # the shell leaves --data-dir=~/data and DTC_DATA="~/data" unexpanded; pathlib did too
    # and looked for a folder named "~" in the working directory
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.resolve_data_dir("~/data") == tmp_path / "data"
    monkeypatch.setenv("DTC_DATA", "~/shared")
    assert data.resolve_data_dir() == tmp_path / "shared"
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.savez(folder / f"{name}.npz", X=rng.normal(size=(6, 2)), y=np.arange(6) % 2)
    assert data.load_pair("~/mine", source="a", target="b").target.X.shape == (6, 2)
    np.savetxt(folder / "c.csv", np.c_[rng.normal(size=(4, 2)), np.arange(4) % 2], delimiter=",")
    assert data.load_csv("~/mine/c.csv").X.shape == (4, 2)


def test_data_dir_that_is_not_a_path_is_named():
    # was pathlib's "expected str, bytes or os.PathLike object, not int"
    with pytest.raises(TypeError, match="data_dir: expected a path .* got int 3"):
        data.load_pair("coil20", data_dir=3)
    with pytest.raises(TypeError, match="data_dir: expected a path"):
        data.resolve_data_dir(["/data"])


# -- wrong-format files (small files written here) ------------------------------------
@pytest.fixture
def coil_stand_in(monkeypatch):
    """coil20 registered without the release's SHA-256 and sample counts, so that the
    small COIL_1.mat files these tests write can stand in for the release."""
    spec = benchmarks._BENCHMARKS["coil20"]
    files = {d: dataclasses.replace(f, n=None, sha256=None) for d, f in spec.files.items()}
    monkeypatch.setitem(benchmarks._BENCHMARKS, "coil20", dataclasses.replace(spec, files=files))


def _write_coil(root, **arrays):
    folder = root / "coil20"
    folder.mkdir(exist_ok=True)
    scipy.io.savemat(folder / "COIL_1.mat", arrays)
    return folder / "COIL_1.mat"


def _coil_arrays(rng, n=6):
    y = np.arange(1, n + 1, dtype=np.uint8).reshape(-1, 1)
    return {"X_src": rng.random((1024, n)), "Y_src": y, "X_tar": rng.random((1024, n)), "Y_tar": y}


def test_not_a_mat_file(tmp_path, coil_stand_in):
    (tmp_path / "COIL_1.mat").write_text("this is not MATLAB")
    with pytest.raises(ValueError, match=r"COIL_1\.mat.*MATLAB v5"):
        data.load_domain("coil20", "coil1", data_dir=tmp_path)


def test_missing_key(tmp_path, coil_stand_in):
    arrays = _coil_arrays(np.random.default_rng(0))
    del arrays["Y_tar"]
    _write_coil(tmp_path, **arrays)
    with pytest.raises(ValueError, match=r"COIL_1\.mat: expected key 'Y_tar'.*found keys"):
        data.load_domain("coil20", "coil2", data_dir=tmp_path)


def test_wrong_shape_and_labels(tmp_path, coil_stand_in):
    rng = np.random.default_rng(0)
    arrays = _coil_arrays(rng)
    arrays["X_src"] = rng.random((100, 6))
    _write_coil(tmp_path, **arrays)
    with pytest.raises(ValueError, match=r"expected 'X_src' of shape \(d, n\) with d=1024"):
        data.load_domain("coil20", "coil1", data_dir=tmp_path)
    arrays = _coil_arrays(rng)
    arrays["Y_src"] = np.zeros((6, 1))
    _write_coil(tmp_path, **arrays)
    with pytest.raises(ValueError, match=r"1-based labels in 1\.\.20"):
        data.load_domain("coil20", "coil1", data_dir=tmp_path)
    arrays = _coil_arrays(rng)
    arrays["Y_src"] = arrays["Y_src"][:4]
    _write_coil(tmp_path, **arrays)
    with pytest.raises(ValueError, match="expected 'Y_src' to hold 6 numeric labels"):
        data.load_domain("coil20", "coil1", data_dir=tmp_path)


def test_small_file_layout_and_cache_invalidation(tmp_path, coil_stand_in):
    rng = np.random.default_rng(1)
    arrays = _coil_arrays(rng)
    path = _write_coil(tmp_path, **arrays)
    dom = data.load_domain("coil20", "coil2", data_dir=tmp_path, preprocess="raw")
    # features x samples on disk -> samples x features; labels 0-based.
    np.testing.assert_allclose(dom.X, arrays["X_tar"].T.astype(np.float32))
    np.testing.assert_array_equal(dom.y, np.arange(6))
    assert dom.image_shape == (32, 32) and dom.meta["file"] == str(path)
    # A rewritten file (new mtime) is read again instead of served from the cache.
    arrays["X_tar"] = arrays["X_tar"] + 1.0
    scipy.io.savemat(path, arrays)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = data.load_domain("coil20", "coil2", data_dir=tmp_path, preprocess="raw")
    np.testing.assert_allclose(again.X, dom.X + 1.0, rtol=1e-6)


def test_a_file_that_is_not_the_release_is_refused_naming_both_hashes(tmp_path):
    path = _write_coil(tmp_path, **_coil_arrays(np.random.default_rng(0)))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = benchmarks._BENCHMARKS["coil20"].files["coil1"].sha256
    with pytest.raises(ValueError) as info:
        data.load_domain("coil20", "coil1", data_dir=tmp_path)
    assert str(path) in str(info.value)
    assert f"SHA-256 {actual}, expected {expected}" in str(info.value)


def test_the_release_sample_count_is_checked(tmp_path, monkeypatch):
    spec = benchmarks._BENCHMARKS["coil20"]
    files = {d: dataclasses.replace(f, sha256=None) for d, f in spec.files.items()}
    monkeypatch.setitem(benchmarks._BENCHMARKS, "coil20", dataclasses.replace(spec, files=files))
    _write_coil(tmp_path, **_coil_arrays(np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"'X_tar' of shape \(d, n\) with n=720, d=1024"):
        data.load_domain("coil20", "coil2", data_dir=tmp_path)


# -- the shared files -------------------------------------------------------------------
def test_a_swapped_shared_file_is_refused(data_dir, tmp_path):
    # USPS_vs_MNIST.mat holds the same arrays with source and target swapped: under the
    # name MNIST_vs_USPS.mat it would silently swap the domains.
    (tmp_path / "mnist_usps").mkdir()
    shutil.copy(
        data_dir / "mnist_usps" / "USPS_vs_MNIST.mat", tmp_path / "mnist_usps" / "MNIST_vs_USPS.mat"
    )
    with pytest.raises(
        ValueError, match=r"MNIST_vs_USPS\.mat: SHA-256 77d2df99.*expected 2b87e5a7"
    ):
        data.load_pair("mnist_usps", "mnist", "usps", data_dir=tmp_path)


def test_a_folder_where_a_benchmark_file_should_be_is_named_as_one(tmp_path):
    (tmp_path / "coil20" / "COIL_1.mat").mkdir(parents=True)  # was "not found"
    with pytest.raises(IsADirectoryError, match=r"COIL_1\.mat' is a folder; expected the file"):
        data.load_pair("coil20", data_dir=tmp_path)


def test_a_folder_at_one_place_looked_in_leaves_the_file_at_the_other(tmp_path, data_dir):
    (tmp_path / "coil20" / "COIL_1.mat").mkdir(parents=True)
    shutil.copy(data_dir / "coil20" / "COIL_1.mat", tmp_path / "COIL_1.mat")
    assert data.load_domain("coil20", "coil1", data_dir=tmp_path).X.shape == (720, 1024)


def test_each_shared_file_is_hashed_once_per_process(data_dir, monkeypatch):
    hashed = []
    verify = benchmarks._verify_sha256
    monkeypatch.setattr(
        benchmarks,
        "_verify_sha256",
        lambda path, expected: (hashed.append(path), verify(path, expected)),
    )
    benchmarks._read_mat.cache_clear()
    for _ in range(2):  # both domains of COIL_1.mat, twice
        data.load_pair("coil20", "coil1", "coil2", data_dir=data_dir)
    assert hashed == [str(data_dir / "coil20" / "COIL_1.mat")]


@pytest.mark.parametrize(
    ("benchmark", "domain", "n", "d"),
    [
        ("office_caltech10_surf", "amazon", 958, 800),
        ("office_caltech10_surf", "caltech10", 1123, 800),
        ("office_caltech10_surf", "dslr", 157, 800),
        ("office_caltech10_surf", "webcam", 295, 800),
        ("mnist_usps", "mnist", 2000, 256),
        ("mnist_usps", "usps", 1800, 256),
        ("coil20", "coil1", 720, 1024),
        ("coil20", "coil2", 720, 1024),
    ],
)
def test_shared_domains_shapes(data_dir, benchmark, domain, n, d):
    dom = data.load_domain(benchmark, domain, data_dir=data_dir)
    assert dom.X.shape == (n, d) and dom.X.dtype == np.float32
    k = data.benchmark_info(benchmark)["n_classes"]
    np.testing.assert_array_equal(np.unique(dom.y), np.arange(k))
    assert dom.name == domain


def test_surf_standard_equals_rowsum_then_standard_scaler(data_dir):
    raw = scipy.io.loadmat(data_dir / "office_caltech10_surf" / "webcam_SURF_L10.mat")
    expected = StandardScaler().fit_transform(normalize(raw["fts"].astype(float), norm="l1"))
    dom = data.load_domain("office_caltech10_surf", "webcam", data_dir=data_dir)
    np.testing.assert_allclose(dom.X, expected, atol=1e-5)
    assert dom.meta["preprocess"] == "sum_zscore"
    np.testing.assert_array_equal(dom.y, raw["labels"].ravel().astype(int) - 1)
    rawdom = data.load_domain("office_caltech10_surf", "webcam", data_dir, preprocess="raw")
    np.testing.assert_array_equal(rawdom.X, raw["fts"].astype(np.float32))


def test_images_standard_is_unit_l2(data_dir):
    raw = scipy.io.loadmat(data_dir / "coil20" / "COIL_1.mat")
    dom = data.load_domain("coil20", "coil2", data_dir=data_dir)
    np.testing.assert_allclose(dom.X, normalize(raw["X_tar"].T), atol=1e-6)


def test_mnist_usps_row_major_orientation(data_dir):
    pair = data.load_pair("mnist_usps", "mnist", "usps", data_dir=data_dir, preprocess="raw")
    assert pair.n_clusters == 10 and pair.benchmark == "mnist_usps"
    for dom in (pair.source, pair.target):
        assert dom.image_shape == (16, 16)
        ones = dom.X[dom.y == 1].mean(axis=0).reshape(dom.image_shape)
        # An upright "1" has more ink in the central columns than in the central rows
        # (fails if the image is transposed) ...
        assert ones[:, 6:10].sum() > 1.5 * ones[6:10, :].sum()
        sevens = dom.X[dom.y == 7].mean(axis=0).reshape(dom.image_shape)
        # ... and a "7" has its bar at the top (fails if flipped upside down).
        assert np.argmax(sevens.sum(axis=1)) < 8


def test_coil_rows_are_column_major_images(data_dir):
    # COIL1 holds each object at poses 0-85 and 180-265 degrees: image i + 18 is image i
    # turned half round the turntable's vertical axis, a left-right mirror of its
    # silhouette. Reshaped row-major the mirror is a flip of axis 0 (the image is
    # transposed); transposed back, of axis 1, as upright images are.
    dom = data.load_domain("coil20", "coil1", data_dir=data_dir, preprocess="raw")

    def corr(a, b):
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]

    def mirror_axis(images):
        by_axis = [
            np.mean([corr(images[i + 18], np.flip(images[i], axis)) for i in range(18)])
            for axis in (0, 1)
        ]
        return int(np.argmax(by_axis))

    as_read = [mirror_axis(dom.X[dom.y == k].reshape(36, 32, 32)) for k in range(20)]
    upright = [
        mirror_axis(dom.X[dom.y == k].reshape(36, 32, 32).transpose(0, 2, 1)) for k in range(20)
    ]
    assert sum(a == 0 for a in as_read) >= 18 and sum(a == 1 for a in upright) >= 18


def test_pair_defaults_and_cache_is_read_only(data_dir):
    pair = data.load_pair("coil20", data_dir=data_dir)
    assert (pair.source.name, pair.target.name) == ("coil1", "coil2")
    assert pair.n_clusters == 20 and pair.benchmark == "coil20"
    cached = benchmarks._load_mat_cached(data_dir / "coil20" / "COIL_1.mat")
    assert not cached["X_src"].flags.writeable
    # The domain owns a copy: changing it cannot corrupt the cache.
    pair.source.X[0, 0] = 123.0
    assert data.load_domain("coil20", "coil1", data_dir=data_dir).X[0, 0] != 123.0


def test_public_names_exported():
    for name in data.__all__:
        assert hasattr(data, name), name


def test_one_domain_given_defaults_the_other_to_a_different_domain():
    # target="source" alone paired it with the default source "source", refused as
    # "got 'source' twice"; likewise source="target" with the default target.
    pair = data.load_pair("digits", target="source", shift=0.0)
    assert (pair.source.name, pair.target.name) == ("target", "source")
    pair = data.load_pair("digits", source="target", shift=0.0)
    assert (pair.source.name, pair.target.name) == ("target", "source")
    # the first pair's default is kept whenever it differs from the domain given
    pair = data.load_pair("digits", target="target", shift=0.0)
    assert (pair.source.name, pair.target.name) == ("source", "target")


def test_one_file_domain_given_picks_a_different_default(tmp_path):
    # resolved before any file is read: the missing file is named, not "got 'mnist' twice"
    with pytest.raises(FileNotFoundError, match="MNIST_vs_USPS"):
        data.load_pair("mnist_usps", target="mnist", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="Caltech10_SURF_L10"):
        data.load_pair("office_caltech10_surf", source="caltech10", data_dir=tmp_path)


def test_the_benchmark_folder_is_searched_before_the_data_directory_itself(tmp_path):
    # <data_dir>/<benchmark>/<file> first, then <data_dir>/<file> (the module docstring)
    (tmp_path / "coil20").mkdir()
    for path in (tmp_path / "COIL_1.mat", tmp_path / "coil20" / "COIL_1.mat"):
        path.write_bytes(b"")
    nested = str(tmp_path / "coil20" / "COIL_1.mat")
    assert data.benchmark_info("coil20", data_dir=tmp_path)["found"] == {"COIL_1.mat": nested}
    # both domains of coil20 are read from one file: it is named once
    found = benchmarks.domain_files("coil20", ["coil1", "coil2"], tmp_path)
    assert [str(p) for p in found] == [nested]


def test_domain_files_verify_checks_the_release_sha256(tmp_path, load_script):
    # a truncated file was found (it exists) and failed at its load, mid-sweep: a traceback
    # of run_baselines.py / dtc_benchmark.py after the runs before it
    folder = tmp_path / "office_caltech10_surf"
    folder.mkdir()
    (folder / "webcam_SURF_L10.mat").write_bytes(b"MATLAB 5.0 cut short")
    found = benchmarks.domain_files("office_caltech10_surf", ["webcam"], tmp_path)
    assert found == [folder / "webcam_SURF_L10.mat"]
    with pytest.raises(ValueError, match=r"webcam_SURF_L10\.mat: SHA-256 [0-9a-f]{64}, expected"):
        benchmarks.domain_files("office_caltech10_surf", ["webcam"], tmp_path, verify=True)
    check_data = load_script("run_baselines").check_data
    with pytest.raises(SystemExit, match=r"^error: .*webcam_SURF_L10\.mat: SHA-256"):
        check_data([("office_caltech10_surf", "webcam", "webcam")], tmp_path)


def test_a_label_above_the_number_of_classes_is_refused(tmp_path, coil_stand_in):
    # coil20 has 20 classes: label 21 (1-based) names none of them
    arrays = _coil_arrays(np.random.default_rng(0))
    arrays["Y_src"] = np.array([[1], [2], [3], [20], [21], [5]], dtype=np.uint8)
    _write_coil(tmp_path, **arrays)
    with pytest.raises(
        ValueError, match=r"1-based labels in 1\.\.20 in 'Y_src', got range 1\.\.21"
    ):
        data.load_domain("coil20", "coil1", data_dir=tmp_path)
    assert data.load_domain("coil20", "coil2", data_dir=tmp_path).y.max() == 5  # Y_tar: 1..6


def test_an_empty_data_env_is_no_data_directory(monkeypatch):
    # DTC_DATA="" is unset, not the working directory
    monkeypatch.setenv("DTC_DATA", "")
    assert data.resolve_data_dir() is None
    with pytest.raises(FileNotFoundError, match="DTC_DATA is unset"):
        data.load_domain("coil20", "coil1")


def test_imbalance_cuts_the_target_of_a_file_benchmark_never_its_source(data_dir):
    # load_pair's imbalance makes the *target* class-imbalanced; the source stays whole
    pair = data.load_pair("mnist_usps", "usps", "mnist", data_dir, imbalance={"ratio": 5})
    source = data.load_domain("mnist_usps", "usps", data_dir)
    assert pair.source.n_samples == 1800 and "imbalance" not in pair.source.meta
    np.testing.assert_array_equal(pair.source.X, source.X)
    counts = np.bincount(pair.target.y, minlength=10)  # largest class 5x the smallest
    assert pair.target.n_samples < 2000 and counts.max() / counts.min() == pytest.approx(
        5, rel=0.01
    )
