"""The `dtc` command: single runs, config runs with overrides, reports, errors."""

import importlib
import json
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from dtc.cli import RUN_EPILOG, _report_failures, app, parse_assignments
from dtc.experiment.config import expand, load_config

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.yaml"

runner = CliRunner()


def words(output: str) -> str:
    """``output``'s words, one space apart, the borders of rich's error box left out (its
    lines wrap a message wherever it is long)."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", output).split())


CONFIG = """\
name: cli
benchmarks: [{benchmark: digits}]
methods:
  km: {method: kmeans, params: {n_init: 1, max_iter: 50}}
seeds: [0]
"""


def _cli_config(tmp_path, text: str = CONFIG) -> Path:
    """``text`` (the test config by default) written to ``tmp_path / "cli.yaml"``."""
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(text)
    return cfg


def test_single_run_json_is_one_object(tmp_path):
    res = runner.invoke(
        app,
        [
            "run",
            "--method",
            "kmeans",
            "--set",
            "n_init=1",
            "--json",
            "--results",
            str(tmp_path / "r.jsonl"),
        ],
    )
    assert res.exit_code == 0, res.output
    (line,) = res.stdout.strip().splitlines()
    rec = json.loads(line)
    assert {"method", "benchmark", "source", "target", "seed", "metrics", "seconds"} <= set(rec)
    assert rec["params"]["n_init"] == 1 and set(rec["metrics"]) >= {"acc", "nmi", "ari"}
    assert (tmp_path / "r.jsonl").read_text().count("\n") == 1


MY_METHOD = """\
import numpy as np
from dtc.methods import TransferClusterer


class HalfSplit(TransferClusterer):
    uses_source = False

    def __init__(self, n_clusters=None):
        self.n_clusters = n_clusters

    def _fit(self, pair):
        n = pair.target.n_samples
        self.labels_ = (np.arange(n) >= n // 2).astype(np.int64)
"""


def test_a_single_run_on_an_imbalanced_target_reports_the_minority_metrics():
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--json", "--no-record"]
    res = runner.invoke(app, [*args, "--data", "imbalance_ratio=10"])
    assert res.exit_code == 0, res.output
    assert {"macro_f1", "minority_recall"} <= set(json.loads(res.stdout)["metrics"])
    balanced = runner.invoke(app, args)
    assert "minority_recall" not in json.loads(balanced.stdout)["metrics"]


@pytest.mark.parametrize(
    ("data_args", "message"),
    [
        # numpy's unnamed "expected non-negative integer" came out of the run before
        (
            ["imbalance_ratio=10", "imbalance_seed=-1"],
            "imbalance_seed: expected an int >= 0, got -1",
        ),
        # the options as typed, not make_imbalanced's own names (seed, profile)
        (
            ["imbalance_seed=3", "imbalance_profile=step"],
            "data parameters ['imbalance_profile', 'imbalance_seed'] need imbalance_ratio",
        ),
    ],
)
def test_a_single_runs_imbalance_errors_name_the_options_as_typed(data_args, message):
    args = ["run", "--method", "kmeans", "--json", "--no-record"]
    res = runner.invoke(app, [*args, *[a for d in data_args for a in ("--data", d)]])
    assert res.exit_code == 1
    # checked before the run, as a config's data are: the option is named
    assert res.output.startswith("error: --data with data {") and f": {message}" in res.output


def test_single_run_imports_a_users_method_from_the_working_directory(tmp_path, monkeypatch):
    # As a config run does: "module:Class" names a module beside the user, not installed.
    (tmp_path / "my_cli_method.py").write_text(MY_METHOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cwd entry leaves with the test
    args = ["run", "--method", "my_cli_method:HalfSplit", "--no-record", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["method"] == "my_cli_method:HalfSplit"


def test_a_users_method_that_fails_to_import_or_to_build_is_one_line(tmp_path, monkeypatch):
    # A module raising at import was a traceback from hashing its file (a config named
    # the error in one line); an __init__ with a required parameter was a TypeError
    # traceback although --set gave it.
    (tmp_path / "bad_plugin.py").write_text('raise RuntimeError("boom at import")\n')
    (tmp_path / "req_mod.py").write_text(
        "from dtc.methods import TransferClusterer\n\n\n"
        "class Req(TransferClusterer):\n"
        "    def __init__(self, n_init, n_clusters=None, seed=0):\n"
        "        self.n_init, self.n_clusters, self.seed = n_init, n_clusters, seed\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    res = runner.invoke(app, ["run", "--method", "bad_plugin:M", "--no-record"])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "importing 'bad_plugin' raised RuntimeError: boom at import" in res.stderr
    res = runner.invoke(app, ["run", "--method", "req_mod:Req", "--set", "n_init=2", "--no-record"])
    sys.modules.pop("req_mod", None)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "give every __init__ parameter a default" in res.stderr
    # a TypeError of __init__'s own code is its own error, not a missing default
    from dtc.experiment.single import RunSpec, configured_method
    from dtc.methods import TransferClusterer

    class Buggy(TransferClusterer):
        def __init__(self, n_clusters=None, seed=0):
            self.n_clusters, self.seed = n_clusters, seed
            self.half = "x" / 2

    with pytest.raises(TypeError, match="unsupported operand"):
        configured_method(RunSpec(method="mine:Buggy"), Buggy)


def test_config_run_with_overrides_then_report(tmp_path):
    cfg = _cli_config(tmp_path)
    out = tmp_path / "out"
    args = ["run", str(cfg), "seeds=[0,1]", "methods.km.max_iter=30", "--out", str(out), "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert [r["seed"] for r in rows] == [0, 1]
    assert all(r["spec"]["params"] == {"n_init": 1, "max_iter": 30} for r in rows)
    assert "2 runs, 0 already done, 0 stale (run again), 2 finished now" in res.stderr
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and again.stdout == "" and "2 already done" in again.stderr

    res = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "rep"), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "| km |" in res.stdout and "over 2 seeds" in res.stdout
    # the table as written, not wrapped at the console's width: `> table.md` is a table
    assert res.stdout == (tmp_path / "rep" / "acc.md").read_text(encoding="utf-8")
    assert (tmp_path / "rep" / "nmi.tex").exists()


def test_tables_print_where_stdout_cannot_encode_them(tmp_path):
    # "±" is in every table's header: under PYTHONIOENCODING=ascii (or a Latin-1 locale)
    # `dtc report` failed with UnicodeEncodeError after writing its files, and `dtc
    # datasets` on a name of the user's.
    import os
    import subprocess

    cfg = _cli_config(tmp_path)
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "seeds=[0,1]", "--out", str(out)]).exit_code == 0
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    rep = [sys.executable, "-m", "dtc", "report", str(out), "--no-figures"]
    res = subprocess.run(
        [*rep, "--out", str(tmp_path / "rep")], capture_output=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    # `dtc report ... > table.md` is the UTF-8 file, byte for byte
    assert res.stdout == (tmp_path / "rep" / "acc.md").read_bytes()
    assert "mean ± std".encode() in res.stdout
    datasets = [sys.executable, "-m", "dtc", "datasets", "données"]
    res = subprocess.run(datasets, capture_output=True, env=env, timeout=300)
    assert b"Traceback" not in res.stderr and b"UnicodeEncodeError" not in res.stderr
    assert b"donn\\xe9es" in res.stdout + res.stderr  # escaped, not a crash


def test_single_run_refuses_the_options_of_config_runs(tmp_path):
    # Without a CONFIG these were ignored without a word: nothing ran in parallel or on
    # Ray, nothing was written to --out or MLflow.
    for option in (
        ["--out", str(tmp_path / "o")],
        ["--jobs", "2"],
        ["--backend", "ray"],
        ["--address", "auto"],
        ["--mlflow"],
    ):
        res = runner.invoke(app, ["run", "--method", "kmeans", "--no-record", *option])
        assert res.exit_code != 0, option
        assert f"{option[0]} applies to config runs" in words(res.output), res.output
    assert not (tmp_path / "o").exists()


def test_config_run_refuses_ray_options_it_would_ignore(tmp_path):
    # --address reaches only the Ray backend, and --jobs only a Ray instance started here
    cfg = _cli_config(tmp_path)
    out = ["--out", str(tmp_path / "o")]
    res = runner.invoke(app, ["run", str(cfg), "--address", "auto", *out])
    assert res.exit_code != 0
    assert "--address applies to --backend ray only" in " ".join(res.output.split())
    res = runner.invoke(
        app, ["run", str(cfg), "--backend", "ray", "--address", "auto", "--jobs", "4", *out]
    )
    assert res.exit_code != 0
    assert "with --address the cluster's own CPUs decide" in " ".join(res.output.split())
    assert not (tmp_path / "o").exists()
    # its default spelled out is ignored as much
    res = runner.invoke(
        app, ["run", str(cfg), "--backend", "ray", "--address", "auto", "--jobs", "1", *out]
    )
    assert res.exit_code != 0 and "own CPUs decide" in " ".join(res.output.split())


def test_an_interrupt_while_the_config_loads_exits_130_without_a_traceback(tmp_path, monkeypatch):
    import dtc.experiment.config as config_module
    from dtc.experiment import leaderboard

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    cfg = _cli_config(tmp_path)
    monkeypatch.setattr(config_module, "load_config", interrupted)
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 130, repr(res.exception)
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()
    monkeypatch.setattr(leaderboard, "leaderboard_config", interrupted)
    res = runner.invoke(app, ["bench-losses", "--losses", "coral", "--out", str(tmp_path / "b")])
    assert res.exit_code == 130, repr(res.exception)
    assert "Traceback" not in res.output


def test_config_errors_exit_nonzero_naming_the_problem(tmp_path):
    cfg = _cli_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg), "methods.km.method=kmean", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "unknown method 'kmean'; available:" in res.stderr
    res = runner.invoke(app, ["run", str(cfg), "--method", "kmeans"])
    assert res.exit_code != 0 and "--method applies to single runs" in words(res.output)
    # a config run records into --out: --results and --no-record were ignored silently
    res = runner.invoke(app, ["run", str(cfg), "--results", str(tmp_path / "r.jsonl")])
    assert res.exit_code != 0 and "--results applies to single runs" in words(res.output)
    res = runner.invoke(app, ["run", str(cfg), "--no-record", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "--no-record applies to single runs" in words(res.output)
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["run", str(tmp_path / "none.yaml")])
    assert res.exit_code == 1 and "not found" in res.stderr
    res = runner.invoke(app, ["run", str(tmp_path)])  # a folder was "not found" too
    assert res.exit_code == 1 and "is a folder; expected a YAML file" in res.stderr
    res = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert res.exit_code == 1 and "not found" in res.stderr
    # a sweep whose every run failed: its failures are pointed to
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "errors.jsonl").write_text('{"run_id": "a", "error": "boom"}\n')
    res = runner.invoke(app, ["report", str(tmp_path / "failed")])
    assert res.exit_code == 1 and "every run of the sweep failed? see" in res.stderr
    # a mistyped path beside them is not pointed to its folder's failures
    res = runner.invoke(app, ["report", str(tmp_path / "failed" / "typo")])
    assert res.exit_code == 1 and "every run" not in res.stderr


def test_failing_single_run_exits_nonzero_with_error(tmp_path):
    res = runner.invoke(app, ["run", "--benchmark", "nope", "--no-record"])
    assert res.exit_code == 1 and "unknown benchmark 'nope'" in res.stderr


def test_kmeans_on_amazon_webcam_reports_about_41_percent(data_dir, tmp_path):
    # Target-only K-means (n_init=10) on SURF amazon->webcam, measured independently
    # on the reference machine at about 41% Hungarian ACC.
    args = ["run", "--benchmark", "office_caltech10_surf", "--source", "amazon"]
    args += ["--target", "webcam", "--method", "kmeans", "--seed", "0", "--json"]
    args += ["--data-dir", str(data_dir), "--results", str(tmp_path / "r.jsonl")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert (rec["source"], rec["target"], rec["params"]["n_init"]) == ("amazon", "webcam", 10)
    assert abs(rec["metrics"]["acc"] - 0.41) < 0.02


def test_datasets_lists_benchmarks_and_file_status(data_dir, tmp_path):
    res = runner.invoke(app, ["datasets", "--data-dir", str(data_dir), "--json"])
    assert res.exit_code == 0, res.output
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert set(rows) == {"digits", "office_caltech10_surf", "mnist_usps", "coil20"}
    assert all(row["available"] for row in rows.values())
    res = runner.invoke(app, ["datasets", "--data-dir", str(tmp_path), "--json"])
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert not rows["coil20"]["available"] and rows["digits"]["available"]


def test_human_readable_tables_of_run_and_datasets(tmp_path):
    # What `make demo` shows: the metrics table and where the run was appended; and the
    # benchmarks table, with a missing file marked (an empty data directory here).
    results = tmp_path / "r.jsonl"
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--results", str(results)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    acc = 100 * json.loads(results.read_text())["metrics"]["acc"]
    text = " ".join(res.stdout.split())  # rich wraps to the terminal's width
    assert "kmeans on digits: source -> target (seed 0" in text
    assert f"{acc:.2f}" in text and "appended to" in text
    res = runner.invoke(app, ["datasets", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if "│" in line}
    assert "embedded (no files)" in rows["digits"] and "missing" in rows["coil20"]


def test_unknown_method_and_bad_set_are_errors(tmp_path):
    res = runner.invoke(app, ["run", "--method", "nope", "--no-record"])
    assert res.exit_code == 1 and "unknown method 'nope'; available:" in res.stderr
    res = runner.invoke(app, ["run", "--method", "kmeans", "--set", "n_init", "--no-record"])
    assert res.exit_code != 0 and "key=value" in res.output
    # a parameter the method lacks is named with the option (scikit-learn's error was not)
    res = runner.invoke(app, ["run", "--method", "kmeans", "--set", "n_inti=2", "--no-record"])
    assert res.exit_code == 1
    assert "--set n_inti: 'kmeans' has no parameter 'n_inti'; its parameters:" in res.stderr


def test_the_help_example_overrides_a_row_of_the_config_it_names():
    (example,) = re.findall(r"`dtc run (\S+) (.*?)`", RUN_EPILOG)
    path, *overrides = example[0], *shlex.split(example[1])  # as a shell reads it
    assert Path(path) == SMOKE.relative_to(SMOKE.parents[1])
    cfg = load_config(SMOKE, overrides)
    assert list(cfg.raw["methods"]) == ["DTC", "K-means"]  # no new row
    assert all(t.spec.params["lam"] == 0.5 for t in expand(cfg) if t.label == "DTC")


def test_an_override_of_a_label_the_config_lacks_is_an_error(tmp_path):
    res = runner.invoke(app, ["run", str(SMOKE), "methods.dtc.lam=0.5", "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "unknown method label 'dtc'; labels: DTC, K-means" in res.stderr
    assert not (tmp_path / "results.jsonl").exists()


def test_report_with_config_leaves_out_runs_it_no_longer_has(tmp_path):
    cfg = _cli_config(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), "seeds=[0,1]", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rep = ["report", str(out), "--no-figures", "--metric", "acc"]
    everything = runner.invoke(app, [*rep, "--out", str(tmp_path / "all")])
    assert everything.exit_code == 0 and "over 2 seeds" in everything.stdout
    # cli.yaml itself runs seed 0 only: seed 1's run is left out, and named
    only = runner.invoke(app, [*rep, "--out", str(tmp_path / "now"), "--config", str(cfg)])
    assert only.exit_code == 0, only.output
    assert "ACC (%), one seed;" in only.stdout
    assert "left out 1 record(s) (labels: km; seeds: 1): not in cli's current runs" in only.stderr


def test_report_with_config_takes_the_overrides_the_runs_were_made_with(tmp_path):
    cfg = _cli_config(tmp_path)
    out = tmp_path / "out"
    overrides = ["seeds=[0,1]", "methods.km.max_iter=30"]
    assert runner.invoke(app, ["run", str(cfg), *overrides, "--out", str(out)]).exit_code == 0
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    res = runner.invoke(app, [*rep, "--config", str(cfg), *overrides])
    assert res.exit_code == 0, res.output
    assert "over 2 seeds" in res.stdout and "left out" not in res.stderr
    bad = runner.invoke(app, [*rep, "--config", str(cfg), "methods.kmm.n_init=2"])
    assert bad.exit_code == 1 and "unknown method label 'kmm'" in bad.stderr
    alone = runner.invoke(app, [*rep, "seeds=[0,1]"])  # without --config: nothing to apply to
    assert alone.exit_code == 2 and "overrides apply to --config" in alone.output


def test_report_with_config_marks_the_seeds_it_plans_but_the_file_lacks(tmp_path):
    # Seeds deleted from the results file were dropped silently: "(n=2)", no note,
    # though the config plans 3.
    cfg = _cli_config(tmp_path, CONFIG.replace("seeds: [0]", "seeds: [0, 1, 2]"))
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("".join(line + "\n" for line in lines if json.loads(line)["seed"] != 1))
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    res = runner.invoke(app, [*rep, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    (row,) = [line for line in res.stdout.splitlines() if line.startswith("| km |")]
    assert row.endswith(" (n=2/3) |") and "**" not in row
    assert "n=k/m: only k of the m seeds planned" in " ".join(res.stdout.split())


def test_report_with_config_names_a_row_none_of_whose_runs_finished(tmp_path):
    # every run of row "bad" fails: the table had no row for it, and no word said so
    text = CONFIG.replace("seeds:", "  bad: {method: kmeans, params: {n_clusters: 5000}}\nseeds:")
    cfg = _cli_config(tmp_path, text)
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 1
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    res = runner.invoke(app, [*rep, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "| km |" in res.stdout and "| bad |" not in res.stdout
    note = " ".join(res.stderr.split())
    assert "1 of 2 runs of cli have no record; no run of bad finished, so the tables" in note
    assert "(failures: " in note and "errors.jsonl" in note
    # the note for a report without its config: with it, a missing seed is marked
    assert "only with --config" not in note


def _two_seeds_then_edit(tmp_path, edit) -> tuple[str, dict, str]:
    """The report's stderr of a two-seed sweep, its first record, and the report's stderr
    once ``edit(second record)`` changed the second run's record."""
    cfg = _cli_config(tmp_path, CONFIG.replace("seeds: [0]", "seeds: [0, 1]"))
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    before = runner.invoke(app, rep).stderr
    results = out / "results.jsonl"
    first, second = (json.loads(line) for line in results.read_text().splitlines())
    edit(second)
    results.write_text("".join(json.dumps(r) + "\n" for r in (first, second)))
    return before, first, " ".join(runner.invoke(app, rep).stderr.split())


def test_report_notes_runs_made_by_several_versions_of_the_code(tmp_path):
    def edited(record):  # a seed run after an edit
        record["versions"]["dtc_source"] = "0123456789ab"

    before, _, note = _two_seeds_then_edit(tmp_path, edited)
    assert "versions of dtc's code" not in before
    assert "made by 2 versions of dtc's code" in note and "0123456789ab" in note
    assert "platforms" not in note


def test_report_notes_runs_of_one_pair_made_on_other_data(tmp_path):
    # A resumed sweep re-runs its own seeds on changed data and keeps the other seeds' runs:
    # the cell averaged runs on two versions of the data without a word
    before, first, note = _two_seeds_then_edit(tmp_path, lambda r: r.update(data_sha="0123"))
    assert "other versions of their data" not in before
    assert "runs of 1 pair(s) were made on other versions of their data" in note
    assert f"(data_sha 0123, {first['data_sha']}" in note


def test_report_notes_runs_made_on_several_platforms(tmp_path):
    # One run id on two thread counts (a sweep resumed with another --jobs) or CPUs: the
    # records could not be told apart, and deep methods' figures differ between them.
    cfg = _cli_config(tmp_path, CONFIG.replace("seeds: [0]", "seeds: [0, 1]"))
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    results = out / "results.jsonl"
    first, second = (json.loads(line) for line in results.read_text().splitlines())
    assert {"torch_cpu_capability", "cpu_vendor", "torch_threads"} <= set(first["versions"])
    second["versions"]["torch_threads"] = first["versions"]["torch_threads"] + 1
    results.write_text("".join(json.dumps(r) + "\n" for r in (first, second)))
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    note = " ".join(runner.invoke(app, rep).stderr.split())
    assert "made on 2 platforms" in note
    assert f"torch_threads={first['versions']['torch_threads'] + 1}" in note
    # two configurations on their own thread counts (DTC's n_threads=1 beside a baseline on
    # the process's 2, one serial sweep): one platform
    second["label"] = "other"
    results.write_text("".join(json.dumps(r) + "\n" for r in (first, second)))
    assert "platforms" not in runner.invoke(app, rep).stderr
    second["versions"]["cpu_vendor"] = "elsewhere"  # another machine: whatever the config
    results.write_text("".join(json.dumps(r) + "\n" for r in (first, second)))
    assert "made on 2 platforms" in " ".join(runner.invoke(app, rep).stderr.split())


def test_report_compares_thread_counts_within_a_table_row(tmp_path):
    # A grid point is a row of its own under one label: a grid over n_threads (or over
    # anything, beside a thread count) read as two platforms averaged in one cell
    grid = CONFIG.replace(
        "km: {method: kmeans, params: {n_init: 1, max_iter: 50}}",
        "km: {method: kmeans, params: {n_init: 1}, grid: {max_iter: [50, 60]}}",
    )
    out = tmp_path / "out"
    assert (
        runner.invoke(app, ["run", str(_cli_config(tmp_path, grid)), "--out", str(out)]).exit_code
        == 0
    )
    results = out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["label"] == rows[1]["label"]
    rows[1]["versions"]["torch_threads"] = rows[0]["versions"]["torch_threads"] + 1
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    res = runner.invoke(app, rep)
    assert res.exit_code == 0 and "platforms" not in res.stderr


def test_report_with_config_names_a_run_reused_from_another_config_by_its_own(tmp_path):
    # config B reused config A's run of their shared row, whose record says config A: the
    # report split the row in two ("km (config=cli)" and "km (config=other)")
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(_cli_config(tmp_path)), "--out", str(out)]).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(
        CONFIG.replace("name: cli", "name: other").replace("seeds: [0]", "seeds: [0, 1]")
    )
    assert runner.invoke(app, ["run", str(other), "--out", str(out)]).exit_code == 0
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    res = runner.invoke(app, [*rep, "--config", str(other)])
    assert res.exit_code == 0, res.output
    rows = [line for line in res.stdout.splitlines() if line.startswith("| km")]
    assert len(rows) == 1 and rows[0].startswith("| km |") and "(n=" not in rows[0]


def test_report_of_a_file_that_is_not_a_results_file_names_the_line(tmp_path):
    # errors.jsonl, a JSON list, a record without metrics: tracebacks before
    good = {"method": "kmeans", "benchmark": "digits", "source": "source"}
    good |= {"target": "target", "seed": 0, "metrics": {"acc": 0.5}}
    no_metrics = {k: v for k, v in good.items() if k != "metrics"}
    for lines, problem in (
        (
            [{"run_id": "ab12", "label": "km", "error": "boom"}],
            "line 1 is not a run record (missing 'method')",
        ),
        ([good, [1, 2]], "line 2 is not a run record (expected a JSON object, got list)"),
        ([good, no_metrics], "line 2 is not a run record (missing 'metrics')"),
    ):
        path = tmp_path / "errors.jsonl"
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
        res = runner.invoke(app, ["report", str(path), "--no-figures"])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        assert f"errors.jsonl: {problem}" in " ".join(res.stderr.split())
        assert "Traceback" not in res.output


def test_report_into_the_same_folder_leaves_only_the_new_report(tmp_path):
    # The second report printed the first one's acc.md and left nmi.* beside its own.
    record = {"method": "kmeans", "benchmark": "digits", "source": "source"}
    record |= {"target": "target", "seed": 0, "metrics": {"acc": 0.5, "nmi": 0.25}}
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps(record) + "\n")
    rep = ["report", str(results), "--no-figures", "--out", str(tmp_path / "rr")]
    assert runner.invoke(app, rep).exit_code == 0
    assert (tmp_path / "rr" / "acc.md").exists() and (tmp_path / "rr" / "nmi.md").exists()
    res = runner.invoke(app, [*rep, "--metric", "nmi"])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "rr").iterdir()}
    assert names == {"nmi.md", "nmi.csv", "nmi.tex", "report_files.jsonl"}
    assert "ACC" not in res.stdout and "3 files written" in res.stderr


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")  # said: test_store
def test_single_runs_append_after_a_cut_last_line(tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text('{"method": "kmeans", "se')  # a write cut short by a crash
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--results", str(results)]
    assert runner.invoke(app, [*args, "--json"]).exit_code == 0
    (line,) = results.read_text().splitlines()
    assert json.loads(line)["method"] == "kmeans"


def test_report_keeps_other_parameters_apart_and_refuses_a_seed_twice(tmp_path):
    results = tmp_path / "single.jsonl"
    base = ["run", "--method", "kmeans", "--set", "max_iter=5", "--results", str(results)]
    for n_init in (1, 2):
        res = runner.invoke(app, [*base, "--set", f"n_init={n_init}", "--json"])
        assert res.exit_code == 0, res.output
    rep = ["report", str(results), "--no-figures", "--metric", "acc"]
    res = runner.invoke(app, [*rep, "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    # both runs are seed 0: two rows of one seed each, not one cell "over 2 seeds"
    assert "ACC (%), one seed;" in res.stdout
    assert "| kmeans (n_init=1) |" in res.stdout and "| kmeans (n_init=2) |" in res.stdout
    # the same command again: seed 0 of that configuration twice
    assert runner.invoke(app, [*base, "--set", "n_init=2", "--json"]).exit_code == 0
    res = runner.invoke(app, [*rep, "--out", str(tmp_path / "rep2")])
    assert res.exit_code == 1
    assert "row 'kmeans (n_init=2)', column 'digits:source→target': 2 records of seed 0" in (
        res.stderr
    )


def test_seed_in_set_is_refused_pointing_to_the_seed_option(tmp_path):
    # --seed (default 0) overwrote it, while the stored spec said seed 5
    results = tmp_path / "r.jsonl"
    for key in ("seed", "random_state"):
        args = ["run", "--method", "kmeans", "--set", f"{key}=5", "--results", str(results)]
        res = runner.invoke(app, args)
        assert res.exit_code == 1
        assert f"--set: '{key}' is set to each run's seed; give it with --seed instead" in (
            res.stderr
        )
    assert not results.exists()


@pytest.mark.parametrize(
    ("extra", "args"), [("ray", ["--backend", "ray"]), ("mlflow", ["--mlflow"])]
)
def test_a_missing_extra_is_an_error_before_the_out_folder_is_made(
    tmp_path, monkeypatch, extra, args
):
    cfg = _cli_config(tmp_path)
    monkeypatch.setitem(sys.modules, extra, None)  # not installed
    folder = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), *args, "--out", str(folder)])
    assert res.exit_code == 1 and "needs the optional extra" in res.stderr
    assert not folder.exists()


def test_messages_keep_their_brackets(tmp_path, monkeypatch):
    # Rich read "[ray]" as markup and printed "pip install -e '.'"
    cfg = _cli_config(tmp_path)
    for extra, args in (("ray", ["--backend", "ray"]), ("mlflow", ["--mlflow"])):
        monkeypatch.setitem(sys.modules, extra, None)  # not installed
        res = runner.invoke(app, ["run", str(cfg), *args, "--out", str(tmp_path / extra)])
        assert res.exit_code == 1
        assert f"pip install -e '.[{extra}]'" in res.stderr
    res = runner.invoke(app, ["run", "--benchmark", "digits[x]", "--no-record"])
    assert res.exit_code == 1 and "unknown benchmark 'digits[x]'" in res.stderr


def test_failed_runs_are_named_with_their_brackets(capsys):
    summary = SimpleNamespace(errors=[("id1", "g [lam=0.1]", "RuntimeError: need 'dtc[ray]'")])
    with pytest.raises(typer.Exit):
        _report_failures(summary)
    assert "failed g [lam=0.1] (id1): RuntimeError: need 'dtc[ray]'" in capsys.readouterr().err


def test_parse_assignments_nests_dotted_keys():
    # "a.b=1" sets {"a": {"b": 1}}: two keys under one parent share that parent
    assert parse_assignments(["a.b=1", "a.c=x", "d=0.5"]) == {"a": {"b": 1, "c": "x"}, "d": 0.5}
    # a value and keys below it: a TypeError traceback before
    with pytest.raises(typer.BadParameter, match="'n_init' is given a value .2. and keys below"):
        parse_assignments(["n_init=2", "n_init.x=3"])


def test_a_results_path_that_cannot_be_written_is_refused_before_the_fit(tmp_path):
    # a folder as --results failed after the fit, with a traceback, and lost the run
    res = runner.invoke(app, ["run", "--method", "kmeans", "--results", str(tmp_path)])
    assert res.exit_code == 1
    assert "is a folder; expected a file" in " ".join(res.stderr.split())
    assert "fitting" not in res.stderr and "Traceback" not in res.output
    # an --out that is a file: one line, not a FileExistsError traceback
    (tmp_path / "file").write_text("")
    cfg = _cli_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "file")])
    assert res.exit_code == 1 and "error:" in res.stderr
    assert not isinstance(res.exception, OSError)


def test_a_bad_data_assignment_names_the_data_option():
    # the error of a malformed --data item names --data, not --set
    res = runner.invoke(app, ["run", "--method", "kmeans", "--data", "shift", "--no-record"])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "--data" in text and "--set" not in text


@pytest.mark.parametrize(
    ("item", "said"),
    [
        # the loader's error listed some of the names (shift, seed, source_fraction) and
        # advised imbalance={'ratio': ...}, which --data refuses
        (
            "imbalance_ration=10",
            "--data: unknown data parameter 'imbalance_ration' for benchmark 'digits'; "
            "allowed: imbalance_minority_fraction, imbalance_profile, imbalance_ratio",
        ),
        ("preprocess=bogus", "--data: unknown preprocess 'bogus'"),
        ("imbalance_ratio=0.5", "--data with data {'imbalance_ratio': 0.5}: imbalance_ratio:"),
    ],
)
def test_a_single_runs_data_parameters_are_checked_as_a_configs(item, said):
    res = runner.invoke(app, ["run", "--method", "kmeans", "--data", item, "--no-record"])
    assert res.exit_code == 1
    assert said in " ".join(res.stderr.split())


def test_a_folder_benchmark_that_cannot_be_read_is_one_error_line(tmp_path, monkeypatch):
    # its files are read to check --data against them: an OSError there was a traceback
    from dtc.experiment import config

    def unreadable(name, data_dir=None):
        raise PermissionError(13, "Permission denied", str(tmp_path / "b.csv"))

    monkeypatch.setattr(config.data, "benchmark_info", unreadable)
    res = runner.invoke(app, ["run", "--benchmark", str(tmp_path), "--no-record"])
    assert res.exit_code == 1 and not isinstance(res.exception, PermissionError)
    assert "Permission denied" in res.stderr


def test_no_record_writes_no_results_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the default results/runs.jsonl would go
    args = ["run", "--method", "kmeans", "--set", "n_init=1"]
    res = runner.invoke(app, [*args, "--no-record", "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert record["method"] == "kmeans" and list(tmp_path.iterdir()) == []
    assert list(record) == sorted(record)  # keys sorted: one run's line diffs against another's


def test_config_run_refuses_a_seed_option(tmp_path):
    # a config's seeds come from the config: --seed was ignored without a word
    cfg = _cli_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg), "--seed", "3", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "--seed applies to single runs" in words(res.output)
    assert not (tmp_path / "o").exists()


def test_the_sweep_line_counts_failed_runs_and_names_where_to_look(tmp_path):
    # n_clusters=5000 fails at run time (more clusters than target rows)
    cfg = _cli_config(tmp_path)
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(cfg), "methods.km.n_clusters=5000", "--out", str(out)])
    assert res.exit_code == 1
    # every run failed: no results file, the folder (with errors.jsonl) is named
    assert f"1 runs, 0 already done, 0 stale (run again), 0 finished now, 1 failed -> {out}\n" in (
        res.stderr
    )
    res = runner.invoke(app, ["run", str(cfg), "methods.km.n_clusters=10", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"1 finished now, 0 failed -> {out / 'results.jsonl'}\n" in res.stderr


def test_two_unknown_set_names_name_the_first(tmp_path):
    args = ["run", "--method", "kmeans", "--set", "aaa=1", "--set", "zzz=2", "--no-record"]
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and "--set aaa: 'kmeans' has no parameter 'aaa'" in res.stderr


def test_report_without_out_writes_beside_the_results_file(tmp_path):
    # the default --out: <results folder>/report
    record = {"method": "kmeans", "benchmark": "digits", "source": "source"}
    record |= {"target": "target", "seed": 0, "metrics": {"acc": 0.5}}
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps(record) + "\n")
    res = runner.invoke(app, ["report", str(results), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "report" / "acc.md").is_file() and not (tmp_path / "acc.md").exists()
    assert "| kmeans | **50.0** |" in res.stdout  # acc.md, printed


def test_a_single_run_on_an_imbalanced_target_shows_the_imbalance_metrics():
    # recorded in the JSON, they were not in the console table
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--data", "imbalance_ratio=10"]
    res = runner.invoke(app, [*args, "--no-record"])
    assert res.exit_code == 0, res.output
    for header in ("macro F1", "bal ACC", "min rec", "minor rec"):
        assert header in res.stdout
    plain = runner.invoke(app, ["run", "--method", "kmeans", "--set", "n_init=1", "--no-record"])
    assert "macro F1" not in plain.stdout


def test_a_single_run_records_the_code_of_a_users_method(tmp_path, monkeypatch):
    # a sweep's records held it; two single runs before and after an edit were the same
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_km.py").write_text(
        "from baselines.kmeans import TargetKMeans\n\nclass MyKM(TargetKMeans):\n    pass\n"
    )
    results = tmp_path / "runs.jsonl"
    args = ["run", "--method", "my_km:MyKM", "--results", str(results)]
    assert runner.invoke(app, args).exit_code == 0
    (tmp_path / "my_km.py").write_text(
        "from baselines.kmeans import TargetKMeans\n\nclass MyKM(TargetKMeans):\n    x = 1\n"
    )
    monkeypatch.delitem(sys.modules, "my_km", raising=False)
    assert runner.invoke(app, args).exit_code == 0
    codes = [json.loads(line)["code"]["my_km:MyKM"] for line in results.read_text().splitlines()]
    assert len(codes) == 2 and codes[0] != codes[1]


def test_a_reused_run_is_reported_under_its_rows_grid_now(tmp_path):
    # The run id does not hold the grid: a run made while n_init was swept and reused once
    # it is fixed kept its old grid, and the report split one complete row in two.
    swept = CONFIG.replace("params: {n_init: 1, max_iter: 50}", "grid: {n_init: [1, 2]}")
    cfg = _cli_config(tmp_path, swept.replace("seeds: [0]", "seeds: [0, 1]"))
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    fixed = CONFIG.replace("params: {n_init: 1, max_iter: 50}", "params: {n_init: 2}")
    cfg = _cli_config(tmp_path, fixed.replace("seeds: [0]", "seeds: [0, 1, 2]"))
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    for extra in ([], ["--config", str(cfg)]):
        res = runner.invoke(app, [*rep, *extra])
        assert res.exit_code == 0, res.output
        rows = [line for line in res.stdout.splitlines() if line.startswith("| km")]
        # one whole row; without --config the file's runs of n_init=1 make a row of theirs
        (whole,) = [r for r in rows if r.startswith("| km |")]
        assert "70.5 ± 3.5" in whole and "/3)" not in whole, rows
        assert not any("n_init=2" in r for r in rows), rows


def test_a_file_where_a_folder_is_expected_is_named_by_its_option(tmp_path):
    # "[Errno 17] File exists: 'afile'" named no option
    afile = tmp_path / "afile"
    afile.write_text("")
    cfg = _cli_config(tmp_path)
    for args, match in (
        (["run", str(cfg), "--out", str(afile)], "--out: "),
        (["run", str(cfg), "--out", str(afile / "sub")], "--out: "),
        (["run", "--method", "kmeans", "--results", str(afile / "x.jsonl")], "--results"),
        (["bench-losses", "--losses", "none", "--quick", "--out", str(afile)], "--out: "),
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 1, res.output
        assert match in res.stderr and "a file; expected a folder" in res.stderr, res.stderr
    # the file is named, not the folder under it
    res = runner.invoke(app, ["run", str(cfg), "--out", str(afile / "sub")])
    said = " ".join(res.stderr.split())
    assert f"{str(afile / 'sub')!r} is under {str(afile)!r}, which is a file" in said, said


def test_an_empty_data_dir_falls_back_to_dtc_data(tmp_path, monkeypatch, data_dir):
    # typer made "" Path("."): "not found in the data directory '.'"
    monkeypatch.setenv("DTC_DATA", str(data_dir))
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(
        app,
        [
            "run", "--benchmark", "office_caltech10_surf", "--source", "amazon",
            "--target", "webcam", "--method", "kmeans", "--data-dir", "", "--no-record",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output


def test_a_config_not_in_utf8_and_an_empty_dtc_results(tmp_path, monkeypatch):
    from dtc.experiment.config import default_out_dir, load_config

    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(
        CONFIG.replace("name: cli", "name: cli\ndescription: caf\xe9").encode("latin-1")
    )
    res = runner.invoke(app, ["run", str(latin)])
    assert res.exit_code == 1 and "latin1.yaml: not UTF-8 text" in res.stderr, res.stderr
    monkeypatch.setenv("DTC_RESULTS", "")  # as an unset DTC_DATA: wrote into ./<name>
    assert default_out_dir(load_config(_cli_config(tmp_path))) == Path("results") / "cli"


def test_paths_under_home_are_expanded_not_made_into_a_folder_named_tilde(
    home_and_work, monkeypatch
):
    # "--results=~/runs.jsonl" (one word: the shell expands no ~ there) made ./~/runs.jsonl
    from dtc.experiment.config import default_out_dir

    home, work = home_and_work
    res = runner.invoke(app, ["run", "--method", "kmeans", "--results=~/runs.jsonl"])
    assert res.exit_code == 0, res.output
    assert (home / "runs.jsonl").is_file() and not (work / "~").exists()
    cfg = _cli_config(home)
    res = runner.invoke(app, ["run", "~/cli.yaml", "--out=~/sweep"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["report", "~/sweep", "--out=~/report", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert (home / "sweep" / "results.jsonl").is_file() and (home / "report").is_dir()
    assert not (work / "~").exists()
    monkeypatch.setenv("DTC_RESULTS", "~/all")
    assert default_out_dir(load_config(cfg)) == home / "all" / "cli"


def test_paths_under_home_are_expanded_through_the_python_api_too(home_and_work):
    # The CLI expanded "~"; the functions it calls, given "~/x" from Python or a config's
    # object params (a monitor's cache_dir), wrote into ./~/x
    import numpy as np

    from dtc.experiment.leaderboard import PROTOCOL, leaderboard_config
    from dtc.experiment.report import write_report
    from dtc.experiment.runner import run_experiment
    from dtc.experiment.store import read_records
    from dtc.monitor.reference import NoTransferReference
    from dtc.nn.training import load_checkpoint, save_checkpoint

    home, work = home_and_work
    run_experiment(load_config(_cli_config(home)), "~/sweep", progress=False)
    assert len(read_records("~/sweep/results.jsonl")) == 1
    write_report("~/sweep/results.jsonl", "~/report", figures=False)
    assert (home / "report").is_dir()
    save_checkpoint("~/ck/state.pt", {"x": 1})
    assert load_checkpoint("~/ck/state.pt") == {"x": 1}
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    NoTransferReference(2, epochs=1, n_init=1, cache_dir="~/refs").fit(X)
    assert len(list((home / "refs").glob("reference-*.npz"))) == 1
    (home / "protocol.yaml").write_text(PROTOCOL.read_text())
    assert leaderboard_config(["coral"], quick=True, protocol="~/protocol.yaml")
    assert not (work / "~").exists()


def _interrupting(kind: str, checkpoints=None):
    """A stand-in for a long call that is interrupted: by a Ctrl-C, or by a SIGTERM (a
    batch system's time limit) sent to this process; ``checkpoints``: what the interrupted
    fit says of its own stages on disk (DTC's ``dtc_checkpoints``), where given."""
    import os
    import signal
    import time

    def interrupted(*args, **kwargs):
        if kind == "ctrl-c":
            exc = KeyboardInterrupt()
            if checkpoints is not None:
                exc.dtc_checkpoints = checkpoints
            raise exc
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # the handler raises first
        raise AssertionError("SIGTERM was not raised as an interrupt")

    return interrupted


@pytest.mark.parametrize(("kind", "code"), [("ctrl-c", 130), ("sigterm", 143)])
def test_an_interrupted_single_run_says_where_its_checkpoints_are(
    tmp_path, monkeypatch, kind, code
):
    # Ctrl-C exited 130 in silence, though a rerun resumes from the checkpointed stages;
    # a SIGTERM ended the process on the spot (a half-written checkpoint left behind)
    import signal

    import dtc.experiment as experiment

    ckpt = tmp_path / "ckpt"
    args = ["run", "--method", "dtc", "--set", f"checkpoint_dir={ckpt}", "--no-record"]
    # the stand-in fit says nothing of its checkpoints (a SIGTERM's cannot): no claim
    monkeypatch.setattr(experiment, "run_single", _interrupting(kind))
    res = runner.invoke(app, args)
    assert res.exit_code == code
    said = " ".join(res.stderr.split())
    assert "interrupted before the fit said which of the checkpoints in" in said
    assert "kept in" not in said
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # pytest's own, restored
    if kind == "ctrl-c":
        # before any stage ended: it claimed finished stages were kept in a folder not made
        monkeypatch.setattr(experiment, "run_single", _interrupting(kind, []))
        res = runner.invoke(app, args)
        assert res.exit_code == code
        assert "interrupted before a stage finished: nothing is kept in" in res.stderr
        assert "the finished stages are kept" not in res.stderr
        stage = ckpt / "dtc-0123-pretrain.pt"  # a finished stage
        monkeypatch.setattr(experiment, "run_single", _interrupting(kind, [stage]))
        res = runner.invoke(app, args)
        assert res.exit_code == code
        assert "the finished stages are kept in" in res.stderr and str(ckpt) in res.stderr
    res = runner.invoke(app, ["run", "--method", "kmeans", "--no-record"])
    assert res.exit_code == code and "kept in" not in res.stderr


def test_an_interrupted_dtc_run_counts_only_its_own_checkpoints(tmp_path, monkeypatch):
    # Checkpoints are named per run (dtc-<key>-<stage>.pt), so one folder serves many: any
    # run's file made the message say this run's finished stages were kept
    from dtc.pipeline import DTC

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "dtc-ffffffffffffffff-pretrain.pt").write_bytes(b"")  # another run's
    small = ["pretrain_epochs=1", "adapt_epochs=1", "self_training_rounds=0", "hidden=[16]"]
    args = ["run", "--method", "dtc", "--no-record", "--set", f"checkpoint_dir={ckpt}"]
    for assignment in small:
        args += ["--set", assignment]

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(DTC, "_pretrain", interrupt)
    res = runner.invoke(app, args)
    assert res.exit_code == 130
    assert "interrupted before a stage finished: nothing is kept" in res.stderr
    monkeypatch.undo()
    # loading the data, before the fit began: another run's file is not claimed either
    import dtc.experiment.single as single

    monkeypatch.setattr(single, "load_spec_pair", interrupt)
    res = runner.invoke(app, args)
    assert res.exit_code == 130 and "kept in" not in res.stderr
    assert "before the fit said which of the checkpoints" in " ".join(res.stderr.split())
    monkeypatch.undo()
    monkeypatch.setattr(DTC, "_cluster", interrupt)  # after pretraining and adaptation
    res = runner.invoke(app, args)
    assert res.exit_code == 130 and "the finished stages are kept in" in res.stderr
    assert len(list(ckpt.glob("*.pt"))) == 3
    monkeypatch.undo()
    # while the data are hashed for the key: this run's stages are on disk, unnamed yet
    monkeypatch.setattr(DTC, "_checkpoint_key", interrupt)
    res = runner.invoke(app, args)
    assert res.exit_code == 130 and "nothing is kept" not in res.stderr
    assert "before the fit said which of the checkpoints" in " ".join(res.stderr.split())


def test_a_sigterm_stops_a_report_as_a_ctrl_c_does(tmp_path, monkeypatch):
    # A SIGTERM ended `dtc report` on the spot: a half-written figure left behind, and the
    # list of files it wrote (for the next report to replace) never made.
    import dtc.experiment.report as report_module

    cfg = _cli_config(tmp_path)
    assert runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "out")]).exit_code == 0
    monkeypatch.setattr(report_module, "write_report", _interrupting("sigterm"))
    res = runner.invoke(app, ["report", str(tmp_path / "out"), "--no-figures"])
    assert res.exit_code == 143 and "Traceback" not in res.output


def test_report_with_its_config_needs_every_planned_pair(tmp_path):
    # A sweep killed after 4 of its 24 runs: `dtc report --config` showed the family mean
    # over the 2 pairs that ran as complete and bold, captioned "2 pair(s)".
    import numpy as np
    import yaml

    rng = np.random.default_rng(0)
    folder = tmp_path / "fold"
    folder.mkdir()
    for name in "abc":
        y = np.arange(20) % 2
        np.savez(folder / f"{name}.npz", X=3 * y[:, None] + rng.normal(size=(20, 3)), y=y)
    config = {
        "name": "fold",
        "benchmarks": [{"benchmark": str(folder), "pairs": "all"}],
        "methods": {"km": {"method": "kmeans", "params": {"n_init": 1}}},
        "seeds": [0],
    }
    cfg = tmp_path / "fold.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    results = out / "results.jsonl"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:2]))
    rep = ["report", str(results), "--config", str(cfg), "--no-figures", "--out"]
    res = runner.invoke(app, [*rep, str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    family = (tmp_path / "rep" / "by_benchmark_acc.md").read_text()
    assert "| km | – |" in family and f"({folder}: 6 pair(s))" in family
    assert (tmp_path / "rep" / "acc.md").read_text().count("| – ") == 4


def test_report_with_config_counts_a_repeated_pair_once(tmp_path):
    # The sweep runs a pair given twice once; the note on missing runs counted the config's
    # expansion: "2 of 4 runs" for one of two.
    text = CONFIG.replace(
        "benchmarks: [{benchmark: digits}]",
        "benchmarks: [{benchmark: digits, pairs: [[source, target], [source, target]]}]",
    ).replace("seeds: [0]", "seeds: [0, 1]")
    cfg = _cli_config(tmp_path, text)
    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    assert len(lines) == 2
    results.write_text(lines[0] + "\n")
    rep = ["report", str(out), "--no-figures", "--metric", "acc", "--out", str(tmp_path / "r")]
    res = runner.invoke(app, [*rep, "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "1 of 2 runs of cli have no record" in " ".join(res.stderr.split())
    assert "no run of" not in res.stderr  # km has its other seed


def test_the_run_table_never_shows_minus_zero():
    # an ARI a hair below zero read "-0.00", a sign the table cannot show a reason for
    from rich.console import Console

    from dtc.cli import _metrics_table

    record = {"method": "m", "benchmark": "b", "source": "s", "target": "t", "seed": 0}
    record.update(seconds=1.0, metrics={"acc": 0.5, "ari": -0.00004, "nmi": 0.2})
    console = Console(width=200, record=True)
    console.print(_metrics_table(record))
    text = console.export_text()
    assert "0.00" in text and "-0.00" not in text and "50.00" in text


def test_python_m_dtc_is_the_dtc_command(tmp_path):
    # "No module named dtc.__main__": the command without its console script on the PATH
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "dtc", "datasets"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "benchmarks (data directory:" in done.stdout and "digits" in done.stdout


def test_a_ctrl_c_while_the_command_loads_is_one_line(monkeypatch, capsys):
    # the seconds of typer's, scikit-learn's and scipy's imports: a Ctrl-C there was a
    # traceback of whichever import it cut, though nothing had run
    import dtc.cli
    from dtc.__main__ import main

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(dtc.cli, "prepare", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "dtc: interrupted while loading; nothing ran\n"


def test_the_console_script_is_the_command_with_its_ctrl_c_handler():
    # pyproject's entry: dtc.cli:main had no handler around the imports before it. Read
    # from the installed metadata (written from pyproject), not with tomllib: dtc supports
    # Python 3.10, which has no tomllib.
    from importlib.metadata import entry_points

    from dtc.__main__ import main

    (script,) = entry_points(group="console_scripts", name="dtc")
    module, _, name = script.value.partition(":")
    assert (module, name) == ("dtc.__main__", "main")
    assert getattr(importlib.import_module(module), name) is main


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--out", ""],
        ["run", "--method", "kmeans", "--results", ""],
        ["report", ""],
        ["report", "x.jsonl", "--out", ""],
        ["bench-losses", "--quick", "--out", ""],
        ["bench-losses", "--protocol", ""],
    ],
    ids=["run --out", "run --results", "report RESULTS", "report --out", "bench --out", "bench"],
)
def test_an_empty_path_is_refused_not_the_working_directory(args, tmp_path, monkeypatch):
    # typer made "" Path("."): `--out "$OUT"` with OUT unset wrote a sweep into the
    # working directory, and `dtc report "" --out ""` wrote its tables there
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "expected a path, got an empty string" in re.sub(r"[\s│]+", " ", result.output)
    assert list(tmp_path.iterdir()) == []


def test_no_record_with_results_is_refused():
    # --results was named and then ignored without a word
    result = runner.invoke(app, ["run", "--no-record", "--results", "x.jsonl"])
    assert result.exit_code == 2 and "--no-record appends it nowhere" in result.output


def test_a_results_file_that_holds_no_run_records_is_refused_before_the_fit(tmp_path):
    # a YAML config given as --results lost its last line (cut as an unfinished record)
    # and took a JSON line after the fit
    config = tmp_path / "mine.yaml"
    config.write_bytes(b"name: x\nseeds: [0]")
    result = runner.invoke(app, ["run", "--method", "kmeans", "--results", str(config)])
    assert result.exit_code == 1
    assert "--results: " in result.output and "corrupt results line 1" in result.output
    assert config.read_bytes() == b"name: x\nseeds: [0]"


def test_an_os_error_in_the_out_folder_names_out(tmp_path):
    # "[Errno 21] Is a directory: '.../results.jsonl'" named no option
    out = tmp_path / "out"
    (out / "results.jsonl").mkdir(parents=True)
    result = runner.invoke(app, ["run", str(_cli_config(tmp_path)), "--out", str(out)])
    assert result.exit_code == 1
    assert re.search(r"error: --out: .*results\.jsonl", result.output), result.output


def test_a_data_dir_that_is_no_folder_is_named(tmp_path):
    # "file 'COIL_1.mat' not found in the data directory '/etc/passwd'", and `dtc datasets`
    # listed every benchmark "missing" with no word on the folder
    a_file = tmp_path / "data.txt"
    a_file.write_text("")
    result = runner.invoke(
        app, ["run", "--benchmark", "coil20", "--no-record", "--data-dir", str(a_file)]
    )
    assert result.exit_code == 1
    assert "data directory" in result.output and "is a file; expected a folder" in result.output
    result = runner.invoke(app, ["datasets", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 0 and "does not exist; expected a folder" in result.output


def test_a_cut_last_line_of_results_is_named_once_by_the_append(tmp_path):
    # the check before the fit read the file and warned of the cut line too, "left out as a
    # run not finished", before the append's "removed an incomplete last line"
    import warnings

    results = tmp_path / "runs.jsonl"
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--results", str(results)]
    assert runner.invoke(app, args).exit_code == 0
    results.write_bytes(results.read_bytes() + b'{"method": "km')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert runner.invoke(app, args).exit_code == 0
    cut = [w for w in caught if "incomplete" in str(w.message)]
    assert len(cut) == 1 and "removed an incomplete last line" in str(cut[0].message)
    assert len(results.read_text().splitlines()) == 2


def test_report_names_results_not_out_for_an_input_it_cannot_read(tmp_path, monkeypatch):
    # an error reading RESULTS in the --out folder (--out at the sweep's own folder) was
    # labelled "--out", as an error in writing the report is
    from dtc.experiment import store

    out = tmp_path / "sweep"
    assert runner.invoke(app, ["run", str(_cli_config(tmp_path)), "--out", str(out)]).exit_code == 0
    results = out / "results.jsonl"

    def unreadable(path, check=None):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(store, "read_records", unreadable)
    res = runner.invoke(app, ["report", str(results), "--out", str(out), "--no-figures"])
    assert res.exit_code == 1
    assert "Permission denied" in res.output and "--out" not in res.output


def test_report_names_a_file_where_its_default_folder_goes(tmp_path):
    # "--out: File exists: '.../report'" named an option not given and hid the file
    out = tmp_path / "sweep"
    assert runner.invoke(app, ["run", str(_cli_config(tmp_path)), "--out", str(out)]).exit_code == 0
    (out / "report").write_text("")
    res = runner.invoke(app, ["report", str(out), "--no-figures"])
    assert res.exit_code == 1
    text = " ".join(res.output.split())
    assert (
        "--out (default <results folder>/report):" in text
        and "is a file; expected a folder" in text
    )
    # and in writing there: a folder where a table goes, named (not the temporary file)
    (out / "report").unlink()
    assert runner.invoke(app, ["report", str(out), "--no-figures"]).exit_code == 0
    (out / "report" / "acc.md").unlink()
    (out / "report" / "acc.md").mkdir()
    res = runner.invoke(app, ["report", str(out), "--no-figures"])
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "--out (default <results folder>/report): " in text
    assert text.rstrip().endswith("acc.md'"), text


@pytest.mark.parametrize(
    ("option", "error"),
    [
        # the default spelled out: compared by value, it was let through and ignored
        (["--results", "results/runs.jsonl"], "--results: names the file a run is appended to"),
        (["--jobs", "1"], "--jobs applies to config runs"),
    ],
)
def test_a_single_run_refuses_an_option_given_at_its_default_value(option, error):
    res = runner.invoke(app, ["run", "--method", "kmeans", "--no-record", *option])
    assert res.exit_code == 2 and error in words(res.output), res.output


def test_a_config_run_refuses_a_single_run_option_given_at_its_default_value(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\nbenchmark: digits\nmethods:\n  km: {method: kmeans}\n")
    res = runner.invoke(app, ["run", str(cfg), "--seed", "0", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--seed applies to single runs" in words(res.output)
    res = runner.invoke(app, ["run", str(cfg), "--seed", "0", "--method", "kmeans"])
    assert "--method, --seed apply to single runs" in words(res.output)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "option",
    [
        ["--benchmark", "digits"],
        ["--source", "source"],
        ["--target", "target"],
        ["--set", "n_init=1"],
        ["--data", "shift=0.5"],
    ],
    ids=lambda option: option[0],
)
def test_a_config_run_refuses_every_single_run_option(tmp_path, option):
    # the config's own benchmarks, pairs and parameters run: these were ignored silently
    out = tmp_path / "o"
    res = runner.invoke(app, ["run", str(_cli_config(tmp_path)), *option, "--out", str(out)])
    assert res.exit_code == 2 and f"{option[0]} applies to single runs" in words(res.output)
    assert not out.exists()


def test_a_single_run_is_made_and_recorded_with_its_seed(tmp_path):
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--seed", "3", "--json"]
    res = runner.invoke(app, [*args, "--results", str(tmp_path / "r.jsonl")])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert record["seed"] == 3 and record["spec"]["seed"] == 3


def test_a_config_run_passes_its_options_to_the_sweep(tmp_path, monkeypatch):
    # --jobs, --backend, --address, --data-dir (over $DTC_DATA) and --mlflow reach the runner
    from dtc.experiment import runner as runner_module
    from dtc.experiment.runner import SweepSummary

    seen = {}

    def sweep(cfg, out_dir, **options):
        seen.clear()
        seen.update(options, name=cfg.name, out_dir=out_dir)
        return SweepSummary(out_dir, total=0)

    monkeypatch.setattr(runner_module, "run_experiment", sweep)
    monkeypatch.setenv("DTC_DATA", str(tmp_path / "from_env"))
    out, mine = tmp_path / "o", str(tmp_path / "mine")
    args = ["run", str(_cli_config(tmp_path)), "--out", str(out), "--data-dir", mine]
    res = runner.invoke(app, [*args, "--jobs", "3", "--mlflow"])
    assert res.exit_code == 0, res.output
    assert (seen["name"], seen["out_dir"], seen["data_dir"]) == ("cli", out, mine)
    assert (seen["jobs"], seen["backend"], seen["address"], seen["mlflow"]) == (
        3,
        "local",
        None,
        True,
    )
    res = runner.invoke(app, [*args, "--backend", "ray", "--address", "ray://head:10001"])
    assert res.exit_code == 0, res.output
    assert (seen["jobs"], seen["backend"], seen["address"], seen["mlflow"]) == (
        1,
        "ray",
        "ray://head:10001",
        False,
    )


def test_an_os_error_outside_the_out_folder_does_not_name_out(tmp_path, monkeypatch):
    # only an error on a path in --out is labelled "--out: ..."; one on the data, say, is
    # the error as it is
    from dtc.experiment import runner as runner_module

    elsewhere = tmp_path / "data" / "x.npz"

    def unreadable(cfg, out_dir, **options):
        raise PermissionError(13, "Permission denied", str(elsewhere))

    monkeypatch.setattr(runner_module, "run_experiment", unreadable)
    out = tmp_path / "o"
    res = runner.invoke(app, ["run", str(_cli_config(tmp_path)), "--out", str(out)])
    assert res.exit_code == 1
    assert "Permission denied" in res.stderr and "--out" not in res.stderr


def test_a_sigterm_stops_a_sweep_with_exit_143(tmp_path, monkeypatch):
    # 128 + SIGTERM, as a single run and a report exit; a Ctrl-C is 130
    from dtc.experiment import runner as runner_module

    cfg = _cli_config(tmp_path)
    for kind, code in (("sigterm", 143), ("ctrl-c", 130)):
        monkeypatch.setattr(runner_module, "run_experiment", _interrupting(kind))
        res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o")])
        assert res.exit_code == code, repr(res.exception)
        assert "cli: interrupted" in res.stderr and "Traceback" not in res.output


def test_a_single_run_not_recorded_says_nothing_of_an_append(tmp_path, monkeypatch):
    # "appended to results/runs.jsonl" under the table of a --no-record run claimed a record
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["run", "--method", "kmeans", "--set", "n_init=1", "--no-record"])
    assert res.exit_code == 0, res.output
    assert "kmeans on digits" in words(res.stdout) and "appended" not in res.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_config_runs_json_is_strict_json(tmp_path, monkeypatch):
    # a record's NaN (a DTC fit's discrepancy history) was a bare NaN, which strict readers
    # refuse: null, as a single run and the results file write it
    from dtc.experiment import runner as runner_module
    from dtc.experiment.runner import SweepSummary

    def sweep(cfg, out_dir, on_record=None, **options):
        on_record({"run_id": "a", "metrics": {"acc": 0.5}, "history": [float("nan")]})
        return SweepSummary(out_dir, total=1, finished=1)

    def strict(constant):
        raise ValueError(constant)

    monkeypatch.setattr(runner_module, "run_experiment", sweep)
    args = ["run", str(_cli_config(tmp_path)), "--out", str(tmp_path / "o"), "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout, parse_constant=strict)["history"] == [None]


def test_a_single_runs_spinner_goes_to_stderr_under_json(tmp_path, monkeypatch):
    # "with --json the only thing on stdout is one JSON object per run, and progress goes to
    # stderr": the "fitting ..." status is drawn only on a terminal, so both consoles act as
    # terminals here (CliRunner's streams are no terminal, and rich then draws nothing)
    import io

    from rich.console import Console

    import dtc.cli

    streams = {"out": io.StringIO(), "err": io.StringIO()}
    for name, stream in streams.items():
        console = Console(file=stream, force_terminal=True, width=100)
        monkeypatch.setattr(dtc.cli, name, console)
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--json", "--no-record"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "fitting kmeans on digits" in streams["err"].getvalue()
    assert "fitting" not in streams["out"].getvalue() + res.stdout
