"""A folder of domain files as a benchmark: loaders, numbering of class names, errors, and the
runner and the command line on it."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from dtc.cli import app
from dtc.data import benchmark_info, load_csv, load_npz, load_pair
from dtc.experiment.config import expand, load_config
from dtc.experiment.runner import run_experiment


def _blobs(n, shift, seed, classes=(0, 1, 2)):
    rng = np.random.default_rng(seed)
    y = np.asarray(classes)[np.arange(n) % len(classes)]
    centres = 4.0 * np.eye(5)[: max(classes) + 1]
    return (centres[y] + shift + 0.3 * rng.normal(size=(n, 5))).astype(np.float32), y


def _write_csv(path, X, labels):
    rows = [",".join(f"{v:.6g}" for v in x) + f",{c}" for x, c in zip(X, labels)]
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture
def folder(tmp_path):
    """``mine/``: ``a.npz`` (numeric labels) and ``b.csv`` (numeric labels, last column)."""
    root = tmp_path / "mine"
    root.mkdir()
    Xa, ya = _blobs(30, 0.0, 0)
    Xb, yb = _blobs(24, 1.0, 1)
    np.savez(root / "a.npz", X=Xa, y=ya)
    _write_csv(root / "b.csv", Xb, yb)
    (root / "notes.txt").write_text("not a domain")  # other files are not domains
    return root


def test_a_folder_is_a_benchmark_of_its_files(folder):
    info = benchmark_info(str(folder))
    assert info["domains"] == ("a", "b")
    assert info["pairs"] == [("a", "b"), ("b", "a")]
    assert (info["n_classes"], info["n_features"], info["standard_preprocess"]) == (3, 5, "raw")
    assert info["files"] == {"a": "a.npz", "b": "b.csv"} and info["available"]
    pair = load_pair(str(folder), source="b", target="a")
    # the file loaders' arrays, as stored ("raw"), with the benchmark's class count
    np.testing.assert_array_equal(pair.source.X, load_csv(folder / "b.csv").X)
    np.testing.assert_array_equal(pair.target.X, load_npz(folder / "a.npz").X)
    np.testing.assert_array_equal(pair.target.y, load_npz(folder / "a.npz").y)
    assert pair.n_clusters == 3 and pair.benchmark == str(folder)
    assert pair.source.meta["file"] == str(folder / "b.csv")
    # other preprocessings as for a registered benchmark: per domain, population std
    z = load_pair(str(folder), source="a", target="b", preprocess="zscore").target.X
    X = load_csv(folder / "b.csv").X.astype(np.float64)
    np.testing.assert_allclose(z, (X - X.mean(0)) / X.std(0), rtol=1e-5, atol=1e-6)


def test_class_names_are_numbered_across_the_folder(tmp_path):
    # a has classes b..d, the target a..c: numbered in the sorted order of all names
    root = tmp_path / "named"
    root.mkdir()
    Xs, ys = _blobs(30, 0.0, 0, classes=(1, 2, 3))
    Xt, yt = _blobs(30, 0.5, 1, classes=(0, 1, 2))
    np.savez(root / "src.npz", X=Xs, y=np.array(list("abcd"))[ys])
    _write_csv(root / "tgt.csv", Xt, np.array(list("abcd"))[yt])
    pair = load_pair(str(root), source="src", target="tgt")
    np.testing.assert_array_equal(pair.source.y, ys)
    np.testing.assert_array_equal(pair.target.y, yt)
    assert pair.n_clusters == 3  # the source's classes b, c, d (the folder has 4)
    assert benchmark_info(str(root))["n_classes"] == 4


def test_a_pairs_k_is_read_from_its_source_never_from_the_targets_labels(tmp_path):
    """k was the folder's largest label + 1, the target file's labels included: two folders
    of the same features, the target labelled apart, gave k-means 10 or 5 clusters."""
    from dtc.methods import get

    Xs, ys = _blobs(40, 0.0, 0, classes=(0, 1, 2))
    Xt, yt = _blobs(40, 0.5, 1, classes=(0, 1, 2, 3, 4))
    partitions = []
    for name, labels in (("true", yt), ("relabelled", yt % 2)):
        root = tmp_path / name
        root.mkdir()
        np.savez(root / "src.npz", X=Xs, y=ys)
        np.savez(root / "tgt.npz", X=Xt, y=labels)
        pair = load_pair(str(root), source="src", target="tgt")
        assert pair.n_clusters == 3
        partitions.append(get("kmeans", seed=0).fit(pair).labels_)
    np.testing.assert_array_equal(*partitions)


def test_class_names_are_numbered_as_load_csv_numbers_them(tmp_path):
    # numbers first, numerically ("2" before "10"), then the other names: the folder sorted
    # them as strings, so "10" was 0 here and 1 in load_csv of the same file
    root = tmp_path / "mixed"
    root.mkdir()
    X, _ = _blobs(6, 0.0, 0)
    _write_csv(root / "a.csv", X, ["2", "10", "cat"] * 2)
    _write_csv(root / "b.csv", X, ["cat", "10", "2"] * 2)
    pair = load_pair(str(root), source="a", target="b")
    alone = load_csv(root / "a.csv")
    assert alone.meta["classes"] == ["2", "10", "cat"]
    np.testing.assert_array_equal(pair.source.y, alone.y)
    np.testing.assert_array_equal(pair.target.y, [2, 1, 0, 2, 1, 0])


def test_a_folder_named_like_a_registered_benchmark_is_the_folder(tmp_path, monkeypatch):
    # "./digits" printed as "digits" (pathlib), and load_pair loaded that name's domains:
    # scikit-learn's digits with the folder's class count
    root = tmp_path / "digits"
    root.mkdir()
    X, y = _blobs(30, 0.0, 0)
    np.savez(root / "source.npz", X=X, y=y)
    np.savez(root / "target.npz", X=X + 1, y=y)
    monkeypatch.chdir(tmp_path)
    for name in ("./digits", "digits/"):
        pair = load_pair(name)
        assert pair.source.X.shape == (30, 5) and pair.n_clusters == 3
        np.testing.assert_array_equal(pair.target.X, X + 1)
        assert pair.benchmark == "./digits"
    assert load_pair("digits").source.X.shape[1] == 64  # the name alone is the registered one


def test_an_edited_file_is_read_again(folder):
    before = load_pair(str(folder), source="a", target="b")
    X, y = _blobs(24, 9.0, 2)
    _write_csv(folder / "b.csv", X, y)
    after = load_pair(str(folder), source="a", target="b")
    assert not np.allclose(before.target.X, after.target.X)
    np.testing.assert_allclose(after.target.X, X, rtol=1e-5)
    after.target.y[:] = 0  # a caller's edit does not reach the next load
    np.testing.assert_array_equal(load_pair(str(folder), source="a", target="b").target.y, y)


def _folder_with(tmp_path, files: dict):
    root = tmp_path / "bad"
    root.mkdir()
    for name, (X, y) in files.items():
        if name.endswith(".npz"):
            np.savez(root / name, **({"X": X} if y is None else {"X": X, "y": y}))
        else:
            _write_csv(root / name, X, y)
    return str(root)


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"a.npz": _blobs(9, 0, 0)}, r"expected at least two domain files .*\['a.npz'\]"),
        (
            {"a.npz": _blobs(9, 0, 0), "a.csv": _blobs(9, 0, 1), "b.npz": _blobs(9, 0, 2)},
            "two files for domain 'a' \\(a.csv, a.npz\\)",
        ),
        (
            {
                "a.npz": (_blobs(9, 0, 0)[0], np.array(list("abc"))[np.arange(9) % 3]),
                "b.npz": _blobs(9, 0, 1),
            },
            "some domains label classes by name, others by number",
        ),
        (
            {"a.npz": _blobs(9, 0, 0), "b.npz": (np.ones((9, 4), np.float32), np.zeros(9, int))},
            r"domains of different widths \{'a': 5, 'b': 4\}",
        ),
        ({"a.npz": (_blobs(9, 0, 0)[0], None), "b.npz": _blobs(9, 0, 1)}, "expected key 'y'"),
        (
            {"a.npz": _blobs(9, 0, 0, classes=(1, 2, 3)), "b.csv": _blobs(9, 0, 1, classes=(1, 3))},
            r"1 of the labels 0..3 appear in no domain \(first \[0\]\), .*1-based ones\?",
        ),
        (
            # the gaps were listed whole: 16.9 MB of message for three labels
            {
                "a.npz": (_blobs(9, 0, 0)[0], np.array([0, 1, 2_000_000])[np.arange(9) % 3]),
                "b.npz": (_blobs(9, 0, 1)[0], np.array([0, 1, 2_000_000])[np.arange(9) % 3]),
            },
            r"^[^\n]{0,300}1999998 of the labels 0..2000000 appear in no domain \(first \[2, 3, "
            r"4, 5, 6, 7, 8, 9, 10, 11\]\)[^\n]{0,120}$",
        ),
    ],
    ids=[
        "one file",
        "two files a domain",
        "names and numbers",
        "widths",
        "no labels",
        "1-based",
        "far label",
    ],
)
def test_a_bad_folder_is_refused_naming_what_is_wrong(tmp_path, files, match):
    path = _folder_with(tmp_path, files)
    with pytest.raises(ValueError, match=match):
        load_pair(path)


def test_a_name_that_is_neither_is_unknown(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark .*or a folder of domain files"):
        load_pair(str(tmp_path / "missing"))


def test_the_runner_sweeps_a_folder_and_sees_its_edits(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder.parent)  # the config names the folder relative to here
    cfg = tmp_path / "mine.yaml"
    cfg.write_text(
        "name: mine\nbenchmarks: [{benchmark: mine, pairs: all}]\n"
        "methods:\n  km: {method: kmeans, params: {n_init: 2}}\nseeds: [0]\n"
    )
    config = load_config(cfg)
    assert [(t.spec.source, t.spec.target) for t in expand(config)] == [("a", "b"), ("b", "a")]
    summary = run_experiment(config, tmp_path / "out", progress=False)
    assert summary.finished == 2
    records = [
        json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    ]
    assert {r["benchmark"] for r in records} == {"mine"}
    assert all(r["metrics"]["acc"] > 0.9 for r in records)  # three well-separated blobs
    # a changed file is other data: its runs are run again, the other pair's too (it reads it)
    X, y = _blobs(24, 2.0, 3)
    _write_csv(folder / "b.csv", X, y)
    again = run_experiment(load_config(cfg), tmp_path / "out", progress=False)
    assert (again.finished, again.skipped) == (2, 0)


def test_dtc_run_takes_a_folder(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    args = ["--benchmark", "mine", "--source", "b", "--target", "a", "--method", "kmeans"]
    res = CliRunner().invoke(app, ["run", *args, "--no-record", "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.output)
    assert (record["benchmark"], record["source"], record["target"]) == ("mine", "b", "a")
    bad = CliRunner().invoke(app, ["run", "--benchmark", "mine", "--source", "c"])
    assert bad.exit_code != 0 and "unknown source domain 'c'" in bad.output


def test_dtc_datasets_reads_the_folders_it_is_given(folder, tmp_path, monkeypatch):
    runner = CliRunner()
    res = runner.invoke(app, ["datasets", str(folder), "--data-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert rows[str(folder)]["domains"] == ["a", "b"] and rows[str(folder)]["n_classes"] == 3
    assert rows[str(folder)]["available"] and "digits" in rows  # the registered ones too
    table = runner.invoke(app, ["datasets", str(folder), "--data-dir", str(tmp_path)])
    assert table.exit_code == 0 and "found" in table.stdout
    res = runner.invoke(app, ["datasets", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "expected a folder of domain files" in res.stderr
    # a folder named as a registered benchmark: the name reads as the benchmark, so refused
    shutil.copytree(folder, tmp_path / "coil20")
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["datasets", "coil20", "--json"])
    assert res.exit_code == 1 and "'coil20': expected a folder of domain files" in res.stderr
    (folder / "b.csv").unlink()  # one domain left: refused as `run` refuses it
    res = runner.invoke(app, ["datasets", str(folder)])
    assert res.exit_code == 1 and "expected at least two domain files" in res.stderr


def test_preprocess_of_another_kind_is_named():
    # a list was an unhashable-type error from the lookup
    from dtc.data import load_pair

    with pytest.raises(ValueError, match=r"^preprocess must be 'standard' or one of"):
        load_pair("digits", preprocess=[])


def test_a_source_of_one_class_is_refused(tmp_path):
    # a pair clusters the target into its source's classes: one class ran with
    # n_clusters=1, exit 0, ACC of the largest class and NMI 0
    root = tmp_path / "one"
    root.mkdir()
    Xs, _ = _blobs(20, 0.0, 0)
    Xt, yt = _blobs(20, 1.0, 1)
    np.savez(root / "src.npz", X=Xs, y=np.zeros(20, dtype=int))
    np.savez(root / "tgt.npz", X=Xt, y=yt)
    with pytest.raises(ValueError, match="source domain 'src' holds 1 class; .* at least 2"):
        load_pair(str(root), source="src", target="tgt")
