"""Development pairs made from a source domain alone (``scripts/source_split_dev.py``)."""

from __future__ import annotations

import sys

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


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")  # said: test_store
def test_out_keeps_each_fit_and_a_rerun_skips_those_recorded(
    load_script, monkeypatch, tmp_path, capsys
):
    """Nothing kept the fits (minutes each): an interrupted run started over. With --out a
    rerun fits only what is not recorded under the same settings, and the summary reads both."""
    import json

    from dtc.data import DomainPair

    script = load_script("source_split_dev")
    built, fitted = [], []

    def pair(family, source, data_dir, *, shift, seed, split=None):
        built.append((family, source, seed))
        y = np.repeat([0, 1], 4)
        X = np.random.default_rng(seed).normal(size=(8, 4)) + y[:, None]
        return DomainPair(Domain(X, y), Domain(X, y), n_clusters=2, benchmark=family)

    class FakeDTC(script.DTC):  # the real parameters, no real fit
        def fit(self, pair):
            fitted.append((self.seed, self.std_floor_quantile))
            y = pair.target.y
            # the default: right on every row; no floor: on 6 of 8
            self.labels_ = y if self.std_floor_quantile is not None else np.r_[y[:6], 1 - y[6:]]
            self.cluster_classes_ = np.array([0, 1])
            return self

    monkeypatch.setattr(script, "source_split_pair", pair)
    monkeypatch.setattr(script, "DTC", FakeDTC)
    monkeypatch.setattr(script, "check_data", lambda *a: None, raising=False)  # no file is read
    out = tmp_path / "fits.jsonl"
    argv = ["--families", "mnist_usps", "--seeds", "0", "1", "--out", str(out)]
    argv += ["--candidates", "{}", '{"std_floor_quantile": null}']
    assert script.main(argv) == 0
    first = capsys.readouterr().out
    assert len(built) == 4 and len(fitted) == 8  # 2 domains x 2 seeds, x 2 candidates
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 8
    assert records[1]["candidate"] == {"std_floor_quantile": None}
    assert records[1]["acc"] == 0.75 and records[1]["acc_named"] == 0.75
    assert {r["split"] for r in records} == {"stratified"} and records[0]["shift"] == 0.5
    assert records[0]["params"]["std_floor_quantile"] is not None
    summary = first[first.index("\nHungarian ACC") :]
    assert 'mnist_usps   {"std_floor_quantile": null}' in summary and " 75.0\n" in summary
    assert "choose {}" in summary

    # the same command: nothing loaded or fitted, the same summary from the recorded fits
    built.clear(), fitted.clear()
    assert script.main(argv) == 0
    again = capsys.readouterr().out
    assert built == [] and fitted == []
    assert "8 fits: 8 recorded in" in again and again.count(" recorded\n") == 8
    assert again[again.index("\nHungarian ACC") :] == summary

    # a last line cut short (no newline) is no fit: that one fit is made again
    text = out.read_text()
    out.write_text(text[: len(text) - 10])
    assert script.main(argv) == 0
    assert fitted == [(1, None)] and built == [("mnist_usps", "usps", 1)]
    assert capsys.readouterr().out.endswith(summary)
    assert len(out.read_text().splitlines()) == 8 and out.read_text().endswith("\n")

    # other settings (the unlabelled default) are fitted again, and the others kept
    fitted.clear()
    assert script.main([*argv, "--setting", "unlabelled", "--seeds", "0"]) == 0
    assert len(fitted) == 4 and len(out.read_text().splitlines()) == 12


def _no_fit(script, monkeypatch):
    """Every fit made, by (seed, candidate's std_floor_quantile), with fake pairs and fits
    (the real parameters, no data read)."""
    from dtc.data import DomainPair

    fitted = []

    def pair(family, source, data_dir, *, shift, seed, split=None):
        y = np.repeat([0, 1], 4)
        X = np.random.default_rng(seed).normal(size=(8, 4)) + y[:, None]
        return DomainPair(Domain(X, y), Domain(X, y), n_clusters=2, benchmark=family)

    class FakeDTC(script.DTC):
        def fit(self, pair):
            fitted.append((self.seed, self.std_floor_quantile))
            self.labels_ = pair.target.y
            return self

    monkeypatch.setattr(script, "source_split_pair", pair)
    monkeypatch.setattr(script, "DTC", FakeDTC)
    return fitted


def test_a_candidates_plugin_loss_is_fitted_again_after_an_edit(
    load_script, monkeypatch, tmp_path, capsys
):
    # the fit key held the candidate's "module:Class" string only: after an edit of the
    # loss's file --out kept the fits of its old code
    script = load_script("source_split_dev")
    fitted = _no_fit(script, monkeypatch)
    monkeypatch.setattr(script, "check_data", lambda *a: None, raising=False)
    plugin = tmp_path / "ssd_plugin_loss.py"
    plugin.write_text("from dtc.align import CORALLoss\n\n\nclass MyLoss(CORALLoss):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "fits.jsonl"
    argv = ["--families", "mnist_usps", "--seeds", "0", "--out", str(out)]
    argv += ["--candidates", '{"loss": "ssd_plugin_loss:MyLoss"}']
    assert script.main(argv) == 0 and len(fitted) == 2
    assert script.main(argv) == 0 and len(fitted) == 2  # recorded: nothing fitted
    plugin.write_text(plugin.read_text() + "\n# edited\n")
    assert script.main(argv) == 0 and len(fitted) == 4
    assert "2 fits: 0 recorded in" in capsys.readouterr().out
    monkeypatch.delitem(sys.modules, "ssd_plugin_loss", raising=False)


def test_a_seed_or_candidate_named_twice_is_fitted_once(load_script, monkeypatch, capsys):
    """``--seeds 0 0`` and a candidate given twice were fitted, and counted in the family's
    mean, twice."""
    script = load_script("source_split_dev")
    fitted = _no_fit(script, monkeypatch)
    monkeypatch.setattr(script, "check_data", lambda *a: None, raising=False)
    argv = ["--families", "mnist_usps", "--seeds", "1", "0", "1"]
    argv += ["--candidates", "{}", '{"std_floor_quantile": null}', "{ }"]
    assert script.main(argv) == 0
    # 2 domains x seeds 1, 0 (in the order given) x 2 candidates
    assert fitted == [(1, 0.5), (1, None), (0, 0.5), (0, None)] * 2
    out = capsys.readouterr().out
    assert out.startswith("8 fits: 8 to do\n")
    summary = out[out.index("\nHungarian ACC") :].splitlines()[2:5]
    assert [line.split()[:2] for line in summary] == [
        ["mnist_usps", "{}"],
        ["mnist_usps", '{"std_floor_quantile":'],
        ["mnist_usps", "choose"],
    ]


def test_the_pose_split_and_the_data_files_are_checked_before_any_fit(
    load_script, monkeypatch, tmp_path, capsys
):
    """--split pose of another family than COIL was split_by_pose's traceback, after every
    COIL fit; a missing data file a FileNotFoundError traceback."""
    script = load_script("source_split_dev")
    fitted = _no_fit(script, monkeypatch)
    monkeypatch.setattr(script, "check_data", lambda *a: None, raising=False)
    argv = ["--split", "pose", "--families", "coil20", "mnist_usps", "--candidates", "{}"]
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    assert exit_.value.code == 2 and fitted == []
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith(
            "--split pose: only coil20's domains hold each object's poses in two arcs, got "
            "--families mnist_usps (give --split stratified, or leave it out)"
        )
    )
    # the real data check and pairs, on an empty data directory
    monkeypatch.undo()
    fitted = _no_fit(script, monkeypatch)
    monkeypatch.setattr(
        script, "source_split_pair", load_script("source_split_dev").source_split_pair
    )
    argv = ["--families", "coil20", "--candidates", "{}", "--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="file 'COIL_1.mat' not found") as exit_:
        script.main(argv)
    (line,) = str(exit_.value.code).splitlines()
    assert line.startswith("error: benchmark 'coil20': ") and fitted == []
