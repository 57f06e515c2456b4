"""The resumable stores of scripts/run_baselines.py and scripts/dtc_benchmark.py: a cut
last line is not glued onto, and run_baselines resumes only runs of the same setting and
parameters (on the embedded digits pair with K-means, a few seconds)."""

import json

import numpy as np
import pytest

from dtc.experiment.store import read_records

DIGITS = (("digits", "source", "target"),)


@pytest.fixture
def baselines(load_script, monkeypatch):
    script = load_script("run_baselines")
    monkeypatch.setattr(script, "QUICK_PAIRS", DIGITS)  # no data directory needed
    return script


def _cut_a_write_short(path):
    with path.open("a") as fh:
        fh.write('{"method": "kmeans", "pair": "digi')


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")  # said: test_store
def test_run_baselines_resumes_by_setting_and_parameters(baselines, tmp_path, capsys):
    args = ["--quick", "--methods", "kmeans", "--out", str(tmp_path)]
    log = tmp_path / "runs.jsonl"
    baselines.main(args)
    first = read_records(log)
    assert [(r["seed"], r["setting"]) for r in first] == [(0, "unlabelled"), (1, "unlabelled")]
    assert first[0]["params"]["seed"] == 0 and first[0]["params"]["n_init"] == 10
    assert "torch_cpu_capability" in first[0]["versions"]  # where it ran (dtc run's keys)
    _cut_a_write_short(log)
    capsys.readouterr()
    baselines.main(args)  # the cut line is no run; nothing to do
    assert "0 runs to do, 2 already recorded" in capsys.readouterr().out
    # another setting is other runs: run, not reused from the unlabelled ones
    baselines.main([*args, "--labelled-source"])
    out = capsys.readouterr().out
    assert "2 runs to do, 0 already recorded" in out and "| kmeans | labelled |" in out
    assert [json.loads(line)["setting"] for line in log.read_text().splitlines()] == [
        "unlabelled",
        "unlabelled",
        "labelled",
        "labelled",
    ]
    # a run recorded under other parameters (a default changed since) is run again
    records = read_records(log)
    records[2]["params"]["n_init"] = 3
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    baselines.main([*args, "--labelled-source"])
    assert "1 runs to do, 1 already recorded" in capsys.readouterr().out
    (stale,) = read_records(tmp_path / "runs.stale.jsonl")
    assert stale["params"]["n_init"] == 3 and len(read_records(log)) == 4
    # so is a run recorded on other data (the loader's default shift changed, say)
    records = read_records(log)
    assert len({r["data_sha"] for r in records}) == 1
    records[0]["data_sha"] = "0" * 12
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    baselines.main(args)
    assert "1 runs to do, 1 already recorded" in capsys.readouterr().out
    assert read_records(tmp_path / "runs.stale.jsonl")[-1]["data_sha"] == "0" * 12


def test_run_baselines_prints_where_stdout_cannot_encode_its_table(
    baselines, tmp_path, monkeypatch
):
    # "±" in the table's title failed with UnicodeEncodeError under PYTHONIOENCODING=ascii,
    # after the runs and files were written (the summary lines lost)
    import io
    import sys

    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    baselines.main(["--quick", "--methods", "kmeans", "--out", str(tmp_path)])
    sys.stdout.flush()
    assert b"mean \\xb1 std over seeds" in raw.getvalue()
    assert "mean ± std over seeds" in (tmp_path / "baselines.md").read_text(encoding="utf-8")


def test_run_baselines_replaces_its_tables_instead_of_writing_them_in_place(baselines, tmp_path):
    # written in place, a reader (or a second invocation's tables) met a half-written table
    args = ["--quick", "--methods", "kmeans", "--out", str(tmp_path)]
    baselines.main(args)
    before = {}
    for name in ("baselines.md", "baselines.csv"):
        (tmp_path / f"old.{name}").hardlink_to(tmp_path / name)
        before[name] = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(b"an earlier table")
    baselines.main(args)
    for name in ("baselines.md", "baselines.csv"):
        assert (tmp_path / f"old.{name}").read_bytes() == b"an earlier table"
        assert (tmp_path / name).read_bytes() == before[name]


def test_run_baselines_runs_a_plugin_method_again_when_its_code_changed(
    baselines, tmp_path, monkeypatch, capsys, user_plugin
):
    # (method, pair, seed, setting) and the resolved parameters were the key: a user's
    # registered method whose file was edited kept the runs of its old code
    import importlib
    import sys

    from dtc import methods

    plugin = tmp_path / "dtc_rb_plugin.py"
    plugin.write_text(user_plugin.format(clusters=2))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("dtc_rb_plugin")
    monkeypatch.setitem(sys.modules, "dtc_rb_plugin", module)
    monkeypatch.setattr(methods._METHODS, "_registered", dict(methods._METHODS._registered))
    methods.register("rb_stripes", module.Stripes)
    args = ["--quick", "--methods", "rb_stripes", "--out", str(tmp_path / "out")]
    baselines.main(args)
    first = read_records(tmp_path / "out" / "runs.jsonl")
    assert len(first) == 2 and all(r["code"] for r in first)
    capsys.readouterr()
    baselines.main(args)
    assert "0 runs to do, 2 already recorded" in capsys.readouterr().out
    plugin.write_text(user_plugin.format(clusters=3))  # the file edited
    baselines.main(args)
    out = capsys.readouterr().out
    assert "2 runs to do, 0 already recorded" in out and "moved to" in out


def test_run_baselines_refuses_bad_seeds_names_and_missing_data(baselines, tmp_path, capsys):
    """An explicit --seeds wins over --quick's 2 (it ran 2); --seeds 0 and an unknown
    --exclude name are refused before anything runs or is written (they ran nothing and
    overwrote the tables with empty ones, or were ignored); a missing data file is one line
    naming it, not a traceback of the first load."""
    tables = tmp_path / "baselines.md"
    tables.write_text("earlier tables\n")
    args = ["--quick", "--methods", "kmeans", "--out", str(tmp_path)]
    for bad, message in (
        (["--seeds", "0"], "--seeds: expected a number of seeds of at least 1, got 0"),
        (["--seeds", "-2"], "--seeds: expected a number of seeds of at least 1, got -2"),
        (["--exclude", "kmeansx"], "--exclude: unknown method(s) kmeansx; expected ae_kmeans,"),
        (["--exclude", "kmeans"], "--methods and --exclude leave no method to run"),
    ):
        with pytest.raises(SystemExit) as exc:
            baselines.main([*args, *bad])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    assert tables.read_text() == "earlier tables\n" and not (tmp_path / "runs.jsonl").exists()
    baselines.main([*args, "--seeds", "1"])
    assert "1 methods x 1 pairs x 1 seeds: 1 runs to do" in capsys.readouterr().out
    assert [r["seed"] for r in read_records(tmp_path / "runs.jsonl")] == [0]
    # a missing file: one line naming it and the directory searched
    baselines.QUICK_PAIRS = (*DIGITS, ("coil20", "coil1", "coil2"))
    empty = tmp_path / "no_data"
    empty.mkdir()
    with pytest.raises(SystemExit) as exc:
        baselines.main([*args, "--data-dir", str(empty)])
    (line,) = str(exc.value.code).splitlines()
    assert line.startswith("error: benchmark 'coil20': file ") and str(empty) in line


def test_run_baselines_std_is_the_sample_std_as_in_dtc_report(baselines, tmp_path):
    pair = "office_caltech10_surf:caltech10->amazon"
    runs = [
        {"method": "kmeans", "pair": pair, "seed": s, "setting": "unlabelled", "acc": a}
        for s, a in enumerate([0.3685, 0.4248])
    ]
    for r in runs:
        r.update(nmi=r["acc"], seconds=1.0)
    baselines.summarise(runs, ["kmeans"], [pair], tmp_path)
    (row,) = (tmp_path / "baselines.csv").read_text().splitlines()[1:]
    acc_std = float(row.split(",")[4])
    assert acc_std == pytest.approx(np.std([36.85, 42.48], ddof=1), abs=0.01)  # 3.98, not 2.82


def test_run_baselines_marks_a_cell_missing_a_failed_seed(baselines, tmp_path):
    """A cell whose seed failed shows n=k/m, as `dtc report` does: its mean is over fewer
    seeds than the others' (it read like a full mean +- std over seeds)."""
    pair = "digits:source->target"
    ok = {"method": "kmeans", "pair": pair, "seed": 0, "setting": "unlabelled"}
    ok.update(acc=0.5, nmi=0.5, seconds=1.0)
    failed = {"method": "kmeans", "pair": pair, "seed": 1, "setting": "unlabelled"}
    failed["error"] = "RuntimeError: boom"
    text = baselines.summarise([ok, failed], ["kmeans"], [pair], tmp_path)
    assert "| kmeans | unlabelled | 50.0 (n=1/2) |" in text  # one seed: no spread shown
    # and the means over it say so, as dtc report's do (a plain 50.0 before)
    assert "| kmeans | unlabelled | 50.0 (n=1/2) | 50.0 (incomplete) |" in text
    assert "| kmeans | unlabelled | 1 | 50.0 (incomplete) |" in text  # the family summary
    rows = (tmp_path / "baselines.csv").read_text().splitlines()
    assert rows[0].split(",")[-3:] == ["n_seeds", "n_failed", "seconds"]
    assert rows[1].split(",")[-3:-1] == ["1", "1"]
    # one seed has no spread: an empty cell (0.0 read as a measured zero spread)
    assert rows[1].split(",")[3:7] == ["50.0", "", "50.0", ""]


def test_run_baselines_tables_by_hand(baselines, tmp_path):
    """summarise's tables and CSV by hand: SURF's pairs averaged in the family summary (a
    '-' unless each ran, 'error' when one failed), its seeds the fewest of a method's cells, a method that never ran
    left out of it; per pair mean ± sample std, 'error' for a cell whose runs all failed,
    a row mean only over every pair, NMI apart from ACC, seconds the mean over seeds."""
    aw, ca = "office_caltech10_surf:amazon->webcam", "office_caltech10_surf:caltech10->amazon"
    digits = "digits:source->target"
    runs = [
        {"method": m, "pair": p, "seed": s, "setting": "unlabelled", **res}
        for m, p, s, res in (
            ("kmeans", aw, 0, {"acc": 0.4, "nmi": 0.2, "seconds": 1.0}),
            ("kmeans", aw, 1, {"acc": 0.6, "nmi": 0.4, "seconds": 3.0}),
            ("kmeans", ca, 0, {"acc": 0.5, "nmi": 0.3, "seconds": 2.0}),
            ("kmeans", digits, 0, {"acc": 0.8, "nmi": 0.7, "seconds": 1.0}),
            ("gmm", aw, 0, {"acc": 0.3, "nmi": 0.1, "seconds": 1.0}),
            ("gmm", ca, 0, {"error": "RuntimeError: boom"}),
        )
    ]
    text = baselines.summarise(runs, ["kmeans", "gmm", "tca"], [aw, ca, digits], tmp_path)
    std = np.std([40.0, 60.0], ddof=1)  # 14.1
    assert text.splitlines() == [
        "### Summary: Hungarian ACC (%) by family, mean over seeds",
        "",
        "| method | setting | seeds | SURF (mean of pairs) | source->target |",
        "|---|---|---|---|---|",
        "| kmeans | unlabelled | 1 | 50.0 | 80.0 |",
        "| gmm | unlabelled | 1 | error | - |",  # a failed pair: no family mean
        "",
        "### Hungarian ACC (%), mean ± std over seeds",
        "",
        "| method | setting | amazon->webcam | caltech10->amazon | source->target | mean |",
        "|---|---|---|---|---|---|",
        f"| kmeans | unlabelled | 50.0 ± {std:.1f} | 50.0 | 80.0 | 60.0 |",  # 1 seed: no ±
        "| gmm | unlabelled | 30.0 | error | - | - |",
        "| tca | - | - | - | - | - |",
        "",
        "### NMI (%), mean ± std over seeds",
        "",
        "| method | setting | amazon->webcam | caltech10->amazon | source->target | mean |",
        "|---|---|---|---|---|---|",
        f"| kmeans | unlabelled | 30.0 ± {std:.1f} | 30.0 | 70.0 | 43.3 |",
        "| gmm | unlabelled | 10.0 | error | - | - |",
        "| tca | - | - | - | - | - |",
    ]
    csv = (tmp_path / "baselines.csv").read_text().splitlines()
    assert csv[1] == f"kmeans,{aw},unlabelled,50.0,14.14,30.0,14.14,2,0,2.0"
    # kmeans' three cells, gmm's one that ran and its failed one (no mean, n_seeds 0)
    assert csv[5] == f"gmm,{ca},unlabelled,,,,,0,1,"
    assert len(csv) == 6


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")  # said: test_store
def test_dtc_benchmark_appends_after_a_cut_last_line(load_script, tmp_path):
    script = load_script("dtc_benchmark")
    out = tmp_path / "bench.jsonl"
    args = ["--families", "digits", "--methods", "kmeans", "--out", str(out), "--seeds"]
    script.main([*args, "0"])
    _cut_a_write_short(out)
    script.main([*args, "0", "1"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line parses
    assert [(r["method"], r["seed"]) for r in rows] == [("kmeans", 0), ("kmeans", 1)]
    script.main([*args, "0", "1"])  # and the store still reads
    assert read_records(out) == rows


def test_dtc_benchmark_reruns_a_row_whose_method_default_changed(
    load_script, tmp_path, monkeypatch
):
    """A row is reused only under the parameters its method resolves to now: a changed
    default of the method itself (not only of REFERENCES or a family config) makes it
    stale, as in the runner and run_baselines (it was kept and averaged with new rows)."""
    script = load_script("dtc_benchmark")
    out = tmp_path / "bench.jsonl"
    args = ["--families", "digits", "--methods", "kmeans", "--out", str(out), "--seeds", "0"]
    script.main(args)
    (first,) = read_records(out)
    assert first["resolved"]["n_init"] == 10 and first["resolved"]["seed"] == 0
    script.main(args)  # nothing changed: reused
    assert read_records(out) == [first]
    kmeans = script.methods.get_class("kmeans")
    monkeypatch.setattr(kmeans.__init__, "__defaults__", (None, 3, 300, 0))  # n_init 10 -> 3
    script.main(args)
    assert read_records(tmp_path / "bench.stale.jsonl") == [first]
    (again,) = read_records(out)
    assert again["resolved"]["n_init"] == 3


def test_run_baselines_builds_dtc_as_dtc_run_does(baselines):
    """``--include-dtc`` runs DTC with its documented family defaults for the run's setting
    (it ran the constructor's defaults, and with use_source_labels=True on an unlabelled
    source, which DTC drops silently)."""
    from dtc.pipeline import _BUDGET, family_config

    for setting, labelled in (("unlabelled", False), ("labelled", True)):
        est = baselines.make_method("dtc", 3, "office_caltech10_surf", labelled)
        expected = {
            k: v
            for k, v in family_config("office_caltech10_surf", setting).items()
            if k not in _BUDGET
        }
        assert est.use_source_labels is labelled and est.seed == 3
        assert {k: est.get_params()[k] for k in expected} == expected
        params = baselines.resolved_params("dtc", 3, "office_caltech10_surf", labelled)
        assert params["use_source_labels"] is labelled
    # the two settings' defaults differ on SURF, so the test tells them apart
    assert family_config("office_caltech10_surf", "labelled") != family_config(
        "office_caltech10_surf", "unlabelled"
    )
    # a method without benchmark defaults is built as before
    assert baselines.make_method("kmeans", 2, "office_caltech10_surf").get_params()["seed"] == 2


def test_run_baselines_runs_a_failed_run_again(baselines, tmp_path, monkeypatch, capsys):
    """A failure was recorded and then skipped by every later invocation (its line had to
    be deleted by hand); it is now run again, as `dtc run` runs a failed run again."""
    args = ["--quick", "--methods", "kmeans", "--seeds", "1", "--out", str(tmp_path)]
    log = tmp_path / "runs.jsonl"
    run_one = baselines.run_one

    def boom(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(baselines, "run_one", boom)
    baselines.main(args)
    assert "ERROR RuntimeError: out of memory" in capsys.readouterr().out
    monkeypatch.setattr(baselines, "run_one", run_one)
    baselines.main(args)
    out = capsys.readouterr().out
    assert "1 runs to do, 0 already recorded" in out and "(n=" not in out
    failed, ok = read_records(log)  # the failure's line stays; the latest record counts
    assert "error" in failed and ok["acc"] > 0.5 and "error" not in ok
    baselines.main(args)
    assert "0 runs to do, 1 already recorded" in capsys.readouterr().out


def test_run_baselines_refuses_an_unusable_out_and_an_empty_methods(
    baselines, tmp_path, monkeypatch, capsys
):
    """A file as --out was a FileExistsError traceback, a folder as its runs.jsonl an
    IsADirectoryError one, another script's runs.jsonl a KeyError one; an empty --methods
    ran every method."""
    monkeypatch.setattr(baselines, "run_one", lambda *a: pytest.fail("a run ran"))
    taken, folder, other = tmp_path / "taken", tmp_path / "folder", tmp_path / "other"
    taken.write_text("")
    (folder / "runs.jsonl").mkdir(parents=True)
    other.mkdir()
    (other / "runs.jsonl").write_text('{"family": "digits", "acc": 0.5}\n')
    args = ["--quick", "--seeds", "1"]
    for argv, message in (
        (["--methods", "kmeans", "--out", str(taken)], f"--out: [Errno 17] File exists: '{taken}'"),
        (["--methods", "kmeans", "--out", str(folder)], "--out: [Errno 21] Is a directory"),
        (
            ["--methods", "kmeans", "--out", str(other)],
            f"--out: {other / 'runs.jsonl'}: line 1 is not a run record (no method, pair, seed)",
        ),
        (["--methods", "--out", str(tmp_path / "new")], "argument --methods: expected at least"),
    ):
        with pytest.raises(SystemExit) as exit_:
            baselines.main([*args, *argv])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_run_baselines_fails_its_status_and_keeps_failed_cells_in_its_tables(
    baselines, tmp_path, monkeypatch, capsys
):
    """Every run failed, yet it exited 0: the CSV held its header alone and the summary no
    row for the method."""
    import csv

    def boom(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(baselines, "run_one", boom)
    args = ["--quick", "--methods", "kmeans", "--seeds", "1", "--out", str(tmp_path)]
    assert baselines.main(args) == 1
    out, err = capsys.readouterr()
    assert "1 of 1 runs failed" in err and "| kmeans | - | 0 | error |" in out
    (row,) = csv.DictReader((tmp_path / "baselines.csv").read_text().splitlines())
    assert (row["method"], row["acc_mean"], row["n_seeds"], row["n_failed"]) == (
        "kmeans",
        "",
        "0",
        "1",
    )
    monkeypatch.undo()
    monkeypatch.setattr(baselines, "QUICK_PAIRS", DIGITS)
    assert baselines.main(args) == 0  # the failed run runs again, and passes
    (row,) = csv.DictReader((tmp_path / "baselines.csv").read_text().splitlines())
    assert row["n_seeds"] == "1" and row["acc_mean"] != ""


def test_dtc_benchmark_refuses_an_unusable_out(load_script, tmp_path, monkeypatch, capsys):
    """A folder as --out was an IsADirectoryError traceback, a file of another script a
    KeyError one, both before any run."""
    script = load_script("dtc_benchmark")
    monkeypatch.setattr(script, "run_one", lambda *a: pytest.fail("a run ran"))
    other = tmp_path / "runs.jsonl"
    other.write_text('{"method": "kmeans", "pair": "digits:source->target", "seed": 0}\n')
    for out, message in (
        (tmp_path, "--out: [Errno 21] Is a directory"),
        (other, f"--out: {other}: line 1 is not a run record (no family, acc)"),
    ):
        argv = ["--families", "digits", "--methods", "kmeans", "--seeds", "0", "--out", str(out)]
        with pytest.raises(SystemExit) as exit_:
            script.main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_an_out_that_cannot_be_written_is_refused_before_the_first_run(
    load_script, tmp_path, monkeypatch, capsys
):
    # the first run finished, then its append failed in a traceback and the run was lost
    import errno

    import dtc.experiment.store as store

    script = load_script("dtc_benchmark")

    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    def no_fit(*args, **kwargs):
        raise AssertionError("a run started before --out was checked")

    monkeypatch.setattr(store, "check_appendable", read_only)
    monkeypatch.setattr(script, "check_appendable", read_only)
    monkeypatch.setattr(script, "append_record", no_fit)
    out = tmp_path / "bench.jsonl"
    args = ["--families", "digits", "--methods", "kmeans", "--seeds", "0"]
    with pytest.raises(SystemExit) as exc:
        script.main([*args, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Read-only file system" in err


def test_check_appendable_makes_the_folder_and_leaves_no_file(tmp_path):
    from dtc.experiment.store import check_appendable

    path = tmp_path / "new" / "runs.jsonl"
    check_appendable(path)
    assert path.parent.is_dir() and not path.exists()  # checked, not left behind
    path.write_text('{"a": 1}\n')
    check_appendable(path)  # an existing file is kept as it is
    assert path.read_text() == '{"a": 1}\n'
    with pytest.raises(OSError):
        check_appendable(tmp_path / "new")  # a folder


def test_check_appendable_follows_a_dangling_link_as_the_appends_do(tmp_path):
    # --out runs.jsonl -> a file on a scratch disk that the first append creates: O_EXCL
    # took the link for an existing file, and the scripts stopped with a usage error
    from dtc.experiment.store import append_record, check_appendable

    (tmp_path / "scratch").mkdir()
    target, link = tmp_path / "scratch" / "runs.jsonl", tmp_path / "runs.jsonl"
    link.symlink_to(target)
    check_appendable(link)
    assert link.is_symlink() and not target.exists()  # checked, nothing left behind
    append_record(link, {"a": 1})
    check_appendable(link)
    assert target.read_text() == '{"a": 1}\n'


def test_the_evaluation_scripts_out_expands_a_tilde_as_their_appends_do(
    load_script, tmp_path, monkeypatch
):
    # "--out=~/runs.jsonl" (the shell leaves it): runs were appended to the expanded path
    # and resumed from the literal one, so every run was redone and appended again
    import argparse

    script = load_script("negative_transfer")
    monkeypatch.setenv("HOME", str(tmp_path))
    ap = argparse.ArgumentParser()
    script.add_out_argument(ap)
    assert ap.parse_args(["--out=~/runs.jsonl"]).out == tmp_path / "runs.jsonl"
    assert ap.parse_args([]).out is None


def test_run_baselines_selects_the_methods_asked_for(baselines):
    """--include-dtc beside a --methods naming dtc is taken (the refusal says to add dtc to
    --methods); --methods alone runs those methods, DTC included when named; without it,
    every method but DTC unless --include-dtc, and never one --exclude names."""
    import dtc.methods

    every = dtc.methods.available()  # the registry's order, which the selection keeps
    args = baselines.parse_args(["--methods", "kmeans", "dtc", "--include-dtc"])
    assert baselines.select_methods(args) == [m for m in every if m in ("dtc", "kmeans")]
    args = baselines.parse_args(["--methods", "gmm", "kmeans"])
    assert baselines.select_methods(args) == [m for m in every if m in ("gmm", "kmeans")]
    args = baselines.parse_args(["--exclude", "kmeans"])
    assert baselines.select_methods(args) == [m for m in every if m not in ("dtc", "kmeans")]
    args = baselines.parse_args(["--include-dtc", "--exclude", "kmeans"])
    assert baselines.select_methods(args) == [m for m in every if m != "kmeans"]
    assert baselines.parse_args(["--quick"]).seeds == 2 and baselines.parse_args([]).seeds == 3


def test_run_baselines_checks_the_target_domains_file_too(baselines, data_dir, tmp_path):
    """The source's file present and the target's missing: named before the first run."""
    folder = tmp_path / "office_caltech10_surf"
    folder.mkdir()
    name = "amazon_SURF_L10.mat"
    (folder / name).symlink_to(data_dir / "office_caltech10_surf" / name)
    baselines.check_data([("office_caltech10_surf", "amazon", "amazon")], tmp_path)  # found
    with pytest.raises(SystemExit, match=r"webcam_SURF_L10\.mat"):
        baselines.check_data([("office_caltech10_surf", "amazon", "webcam")], tmp_path)


def test_run_baselines_gives_source_labels_to_a_method_that_needs_them(baselines):
    assert baselines.setting_of("source_nn", labelled=False) == "labelled"
    assert baselines.setting_of("kmeans", labelled=False) == "unlabelled"
    assert baselines.setting_of("kmeans", labelled=True) == "labelled"


def test_run_baselines_sets_aside_a_run_recorded_without_the_code_it_has_now(
    baselines, tmp_path, capsys
):
    """A record without ``code`` had none (load_done's docstring): beside a method whose
    plugin code is known now, it is of other code, moved aside and run again."""
    key = ("kmeans", "digits:source->target", 0, "unlabelled")
    rec = dict(zip(("method", "pair", "seed", "setting"), key)) | {"params": {}, "acc": 0.5}
    log = tmp_path / "runs.jsonl"
    log.write_text(json.dumps(rec) + "\n")
    assert baselines.load_done(log, {key: {}}, code={key: {}}) == {key: rec}
    assert baselines.load_done(log, {key: {}}, code={key: {"my_methods.py": "abc"}}) == {}
    assert read_records(tmp_path / "runs.stale.jsonl") == [rec]
    assert "1 runs recorded under other parameters, code or data moved" in capsys.readouterr().out


def test_run_baselines_gives_the_source_labels_only_in_the_labelled_setting(baselines):
    """run_one by hand, with an estimator that records what it was given: the unlabelled
    setting's source has no labels, the labelled one's has them; the scores are of the
    target labels, acc_unmatched by the names of the clusters (classes [1, 0]: all wrong)."""
    from types import SimpleNamespace

    from dtc.data import Domain, DomainPair

    y = np.array([0, 0, 1, 1])
    pair = DomainPair(Domain(np.zeros((4, 2)), y), Domain(np.ones((4, 2)), y), n_clusters=2)
    given = []

    def fit(seen):
        given.append(seen.source.y)
        return est

    est = SimpleNamespace(fit=fit, labels_=y, cluster_classes_=np.array([1, 0]))
    unlabelled = baselines.run_one(pair, est, give_labels=False)
    labelled = baselines.run_one(pair, est, give_labels=True)
    assert given[0] is None and np.array_equal(given[1], y)
    for scores in (unlabelled, labelled):
        assert (scores["acc"], scores["acc_unmatched"], scores["nmi"]) == (1.0, 0.0, 1.0)


def test_run_baselines_means_counts_and_incomplete_marks_by_hand(baselines, tmp_path):
    """Three skewed seeds average 50.0 (their median reads 40.0); a row mean over a cell
    short of a failed seed is "(incomplete)" when any cell is, not only when all are; a
    cell whose two seeds failed is a CSV row with n_failed 2."""
    a, b = "digits:source->target", "coil20:coil1->coil2"
    runs = [
        {"method": m, "pair": p, "seed": s, "setting": "unlabelled", **res}
        for m, p, s, res in (
            ("kmeans", a, 0, {"acc": 0.3, "nmi": 0.3, "seconds": 1.0}),
            ("kmeans", a, 1, {"acc": 0.4, "nmi": 0.4, "seconds": 1.0}),
            ("kmeans", a, 2, {"acc": 0.8, "nmi": 0.8, "seconds": 1.0}),
            ("kmeans", b, 0, {"acc": 0.6, "nmi": 0.6, "seconds": 1.0}),
            ("kmeans", b, 1, {"error": "RuntimeError: boom"}),
            ("gmm", a, 0, {"error": "RuntimeError: boom"}),
            ("gmm", a, 1, {"error": "RuntimeError: boom"}),
        )
    ]
    text = baselines.summarise(runs, ["kmeans", "gmm"], [a, b], tmp_path)
    std = np.std([30.0, 40.0, 80.0], ddof=1)  # 26.5
    acc_row = f"| kmeans | unlabelled | 50.0 ± {std:.1f} | 60.0 (n=1/2) | 55.0 (incomplete) |"
    assert text.splitlines().count(acc_row) == 2  # ACC, and NMI (the same values here)
    assert "| kmeans | unlabelled | 1 | 50.0 | 60.0 (incomplete) |" in text  # family summary
    csv = (tmp_path / "baselines.csv").read_text().splitlines()
    assert f"gmm,{a},unlabelled,,,,,0,2," in csv


def test_run_baselines_gives_the_raw_features_to_a_method_that_needs_them(
    baselines, data_dir, tmp_path, monkeypatch
):
    """COIL's standard preprocessing scales each row to unit norm; co-clustering, which needs
    non-negative counts, gets the stored (raw) values, and its record says so (fits faked)."""
    import dtc.methods

    monkeypatch.setattr(baselines, "QUICK_PAIRS", (("coil20", "coil1", "coil2"),))
    given = {}

    def run_one(pair, est, give_labels):
        given[type(est).__name__] = np.linalg.norm(pair.source.X, axis=1)
        return {"seconds": 0.0, "acc": 0.5, "nmi": 0.5}

    monkeypatch.setattr(baselines, "run_one", run_one)
    argv = ["--quick", "--methods", "kmeans", "coclustering", "--seeds", "1"]
    assert baselines.main([*argv, "--out", str(tmp_path), "--data-dir", str(data_dir)]) == 0
    name = {m: dtc.methods.get_class(m).__name__ for m in ("kmeans", "coclustering")}
    standard, raw = given[name["kmeans"]], given[name["coclustering"]]
    assert standard == pytest.approx(np.ones(len(standard))) and raw.max() > 1.5
    records = {r["method"]: r for r in read_records(tmp_path / "runs.jsonl")}
    assert records["coclustering"]["preprocess"] == "raw" and "preprocess" not in records["kmeans"]
    assert records["coclustering"]["data_sha"] != records["kmeans"]["data_sha"]


def test_run_baselines_runs_and_records_each_method_in_its_setting(
    baselines, tmp_path, monkeypatch
):
    """Fits faked: in the unlabelled sweep DTC is built, run and recorded without source
    labels, and source_nn (which needs them) with them; --labelled-source gives them to DTC,
    its record's parameters saying so."""
    given = []

    def run_one(pair, est, give_labels):
        given.append((type(est).__name__, getattr(est, "use_source_labels", None), give_labels))
        return {"seconds": 0.0, "acc": 0.5, "nmi": 0.5}

    monkeypatch.setattr(baselines, "run_one", run_one)
    argv = ["--quick", "--methods", "dtc", "source_nn", "--seeds", "1"]
    assert baselines.main([*argv, "--out", str(tmp_path / "u")]) == 0
    assert given == [("DTC", False, False), ("SourceNearestNeighbour", None, True)]
    records = {r["method"]: r for r in read_records(tmp_path / "u" / "runs.jsonl")}
    assert (
        records["dtc"]["setting"] == "unlabelled" and records["source_nn"]["setting"] == "labelled"
    )
    assert records["dtc"]["params"]["use_source_labels"] is False
    given.clear()
    argv = ["--quick", "--methods", "dtc", "--seeds", "1", "--labelled-source"]
    assert baselines.main([*argv, "--out", str(tmp_path / "l")]) == 0
    assert given == [("DTC", True, True)]
    (record,) = read_records(tmp_path / "l" / "runs.jsonl")
    assert record["setting"] == "labelled" and record["params"]["use_source_labels"] is True
