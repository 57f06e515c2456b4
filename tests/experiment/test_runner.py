"""The grid runner: results file, resume after kill -9, parallel runs, failures."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dtc.experiment.config import expand, load_config
from dtc.experiment.runner import run_experiment
from dtc.experiment.store import read_records

CONFIG = {
    "name": "tiny",
    "benchmarks": [{"benchmark": "digits", "data": {"shift": 0.5}}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1, "max_iter": 50}}},
    "seeds": [0, 1, 2],
}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_writes_one_line_per_run_and_resume_skips(tmp_path):
    cfg = load_config(CONFIG)
    seen = []
    summary = run_experiment(cfg, tmp_path, progress=False, on_record=seen.append)
    assert (summary.total, summary.finished, summary.skipped, summary.errors) == (3, 3, 0, [])
    rows = _lines(tmp_path / "results.jsonl")
    assert (
        [r["run_id"] for r in rows]
        == [t.run_id for t in expand(cfg)]
        == [r["run_id"] for r in seen]
    )
    for row in rows:  # the keys of `dtc run --json`, plus the sweep's own
        assert {"method", "benchmark", "source", "target", "seed", "metrics", "seconds"} <= set(row)
        assert row["label"] == "km" and row["config"] == "tiny" and 0 < row["metrics"]["acc"] <= 1
    again = run_experiment(cfg, tmp_path, progress=False)
    assert (again.finished, again.skipped) == (0, 3)
    assert _lines(tmp_path / "results.jsonl") == rows
    # a longer sweep runs only the new seeds
    more = run_experiment(load_config(CONFIG, ["seeds=4"]), tmp_path, progress=False)
    assert (more.finished, more.skipped) == (1, 3)


def test_parallel_gives_the_same_numbers_as_serial(tmp_path):
    cfg = load_config(CONFIG, ["seeds=[0,1]"])
    run_experiment(cfg, tmp_path / "serial", progress=False)
    run_experiment(cfg, tmp_path / "parallel", jobs=2, progress=False)
    serial = {
        r["run_id"]: r["metrics"] for r in read_records(tmp_path / "serial" / "results.jsonl")
    }
    parallel = {
        r["run_id"]: r["metrics"] for r in read_records(tmp_path / "parallel" / "results.jsonl")
    }
    assert serial == parallel and len(serial) == 2


KILLER = """
import os
import signal

import numpy as np

from dtc.methods import TransferClusterer


class DiesOnSeed1(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        if self.seed == 1:  # as the kernel's OOM killer would
            os.kill(os.getpid(), signal.SIGKILL)
        self.labels_ = np.arange(pair.target.n_samples) % 2
"""


def test_a_run_that_kills_its_worker_fails_alone_and_the_sweep_goes_on(tmp_path, monkeypatch):
    # A dead worker breaks the process pool, failing every run pending in it; only the
    # run that killed it may be reported as failed, the others must finish.
    (tmp_path / "dtc_killer_plugin.py").write_text(KILLER)
    monkeypatch.syspath_prepend(str(tmp_path))  # the config is checked here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # and run in spawned workers
    config = {**CONFIG, "methods": {"k": {"method": "dtc_killer_plugin:DiesOnSeed1"}}}
    cfg = load_config(config, ["seeds=[0,1,2,3,4]"])
    summary = run_experiment(cfg, tmp_path / "out", jobs=2, progress=False)
    assert summary.finished == 4 and len(summary.errors) == 1
    assert "worker process died" in summary.errors[0][2]
    assert [e["spec"]["seed"] for e in _lines(tmp_path / "out" / "errors.jsonl")] == [1]
    rows = _lines(tmp_path / "out" / "results.jsonl")
    assert sorted(r["seed"] for r in rows) == [0, 2, 3, 4]


ODD_ERROR = """
import numpy as np
from dtc.methods import TransferClusterer

class FitError(Exception):  # not rebuilt from its message alone: it does not unpickle
    def __init__(self, seed, reason):
        super().__init__(f"seed {seed}: {reason}")

class FailsOnSeed1(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        if self.seed == 1:
            raise FitError(self.seed, "did not converge")
        self.labels_ = np.arange(pair.target.n_samples) % 2
"""


def test_an_error_that_cannot_be_pickled_back_fails_its_run_alone_in_its_words(
    tmp_path, monkeypatch
):
    # The worker's exception went back as an object: one that did not unpickle broke the
    # pool, was reported as "the worker process died", and the runs beside it ran again.
    (tmp_path / "dtc_odd_error_plugin.py").write_text(ODD_ERROR)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    config = {**CONFIG, "methods": {"k": {"method": "dtc_odd_error_plugin:FailsOnSeed1"}}}
    summary = run_experiment(
        load_config(config, ["seeds=[0,1,2,3]"]), tmp_path / "out", jobs=2, progress=False
    )
    assert summary.finished == 3
    assert [e[2] for e in summary.errors] == [
        "dtc_odd_error_plugin.FitError: seed 1: did not converge"
    ]


def test_without_a_terminal_each_run_is_a_line_on_stderr(tmp_path, capsys):
    # stderr to a log file (nohup, a batch job): no bar, a line per run that ended
    run_experiment(load_config(CONFIG, ["seeds=[0,1]"]), tmp_path / "a")
    assert capsys.readouterr().err.splitlines() == [
        "tiny: 1/2 km digits source->target seed 0: done",
        "tiny: 2/2 km digits source->target seed 1: done",
    ]
    run_experiment(load_config(CONFIG), tmp_path / "a")  # seeds 0 and 1 already done
    assert capsys.readouterr().err.splitlines() == [
        "tiny: 3/3 km digits source->target seed 2: done"
    ]
    run_experiment(load_config(CONFIG), tmp_path / "b", progress=False)  # asked for none
    assert capsys.readouterr().err == ""


def test_a_runs_line_names_its_grid_point(tmp_path, capsys):
    """A row with a grid (a config's losses, say) printed the same line for each of its
    points: "tiny: 1/2 km digits source->target seed 0: done" twice, not saying which."""
    km = {"method": "kmeans", "params": {"max_iter": 50}, "grid": {"n_init": [1, 2]}}
    config = {**CONFIG, "methods": {"km": km}}
    run_experiment(load_config(config, ["seeds=[0]"]), tmp_path)
    assert capsys.readouterr().err.splitlines() == [
        "tiny: 1/2 km [n_init=1] digits source->target seed 0: done",
        "tiny: 2/2 km [n_init=2] digits source->target seed 0: done",
    ]
    # a data grid's points (an imbalance sweep) read the same too
    bench = {"benchmark": "digits", "grid": {"imbalance_ratio": [1, 5]}}
    config = {**config, "benchmarks": [bench], "methods": {"km": {**km, "grid": {}}}}
    run_experiment(load_config(config, ["seeds=[0]"]), tmp_path / "data_grid")
    assert capsys.readouterr().err.splitlines() == [
        "tiny: 1/2 km [imbalance_ratio=1] digits source->target seed 0: done",
        "tiny: 2/2 km [imbalance_ratio=5] digits source->target seed 0: done",
    ]


UNGUARDED = """
from dtc.experiment.config import load_config
from dtc.experiment.runner import run_experiment

summary = run_experiment(load_config({config!r}), "out", jobs=2, progress=False)
print(summary.finished, summary.errors[0][2] if summary.errors else "")
"""


def test_a_script_without_a_main_guard_is_told_why_its_workers_died(tmp_path):
    # Spawned workers import the script again, so an unguarded sweep runs once more in
    # each (and finds the folder locked): every worker dies, and the message must say
    # what a user's script got wrong, not only "killed, out of memory, or a crash".
    config = {**CONFIG, "methods": {"K-means": {"method": "kmeans", "params": {"n_init": 1}}}}
    (tmp_path / "sweep.py").write_text(UNGUARDED.format(config=config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "sweep.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert 'if __name__ == "__main__":' in out.stdout


USER_METHOD = """
import numpy as np

from dtc.methods import TransferClusterer


class TwoClusters(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        self.labels_ = np.arange(pair.target.n_samples) % 2
"""


def test_names_registered_at_run_time_reach_the_parallel_workers(tmp_path, monkeypatch):
    # A script registers its method (or loss) by name and sweeps it with jobs > 1: the
    # config's checks pass in this process, and the spawned workers must know the name
    # too, or every run fails with "unknown method".
    from dtc import align, methods

    (tmp_path / "dtc_user_plugin.py").write_text(USER_METHOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    from dtc_user_plugin import TwoClusters

    monkeypatch.setitem(methods._METHODS._registered, "two_clusters", TwoClusters)
    monkeypatch.setitem(align.registry._LOSSES._registered, "my_coral", align.CORALLoss)
    config = {**CONFIG, "methods": {"two": {"method": "two_clusters"}}}
    summary = run_experiment(load_config(config, ["seeds=2"]), tmp_path, jobs=2, progress=False)
    assert (summary.finished, summary.errors) == (2, [])
    from dtc.experiment.backends import _register, registrations

    names = {(module, name) for module, name, _ in registrations()}
    assert {("dtc.methods", "two_clusters"), ("dtc.align.registry", "my_coral")} <= names
    _register(registrations())  # registering them again changes nothing
    assert align.get_class("my_coral") is align.CORALLoss


# the user's method defined in the sweep's script itself
IN_THE_SCRIPT = (
    USER_METHOD
    + """
from dtc import methods
from dtc.experiment.config import load_config
from dtc.experiment.runner import run_experiment


if __name__ == "__main__":
    methods.register("mine", TwoClusters)
    config = {config!r}
    by_path = {{"method": "__main__:TwoClusters"}}
    config["methods"] = {{"by_name": {{"method": "mine"}}, "by_path": by_path}}
    summary = run_experiment(load_config(config), "out", jobs=2, progress=False)
    print(summary.finished, [e[2] for e in summary.errors])
"""
)


def test_a_method_of_the_script_itself_runs_in_the_parallel_workers(tmp_path):
    # A spawned worker imports the main script as __mp_main__: its class had another
    # module name, hence another hash, and every run failed as "the code changed".
    (tmp_path / "sweep.py").write_text(IN_THE_SCRIPT.format(config={**CONFIG, "seeds": [0]}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "sweep.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2 []"


class _PoolThatBreaksOnSubmit:
    """Stands in for the process pool: runs submitted work at once, but the first pool
    made breaks at its third submit and refuses every submit from then on, as a real
    pool does when a worker dies between a wait returning and the next submit (a race
    seen in CI)."""

    made = 0

    def __init__(self, jobs, threads):
        type(self).made += 1
        self.breaks_at = 3 if type(self).made == 1 else None
        self.submitted = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def shutdown(self):
        pass

    def submit(self, fn, task_dict, data_dir):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        self.submitted += 1
        if self.breaks_at is not None and self.submitted >= self.breaks_at:
            raise BrokenProcessPool("a worker died")
        future = Future()
        future.set_result({"seed": task_dict["spec"]["seed"]})
        return future


def test_a_pool_that_breaks_at_submit_loses_no_run(monkeypatch):
    from dtc.experiment import backends

    monkeypatch.setattr(backends, "_pool", _PoolThatBreaksOnSubmit)
    monkeypatch.setattr(_PoolThatBreaksOnSubmit, "made", 0)
    cfg = load_config(CONFIG, ["seeds=[0,1,2,3,4]"])
    out = list(backends.run_tasks(expand(cfg), jobs=2))
    assert [error for _, _, error in out] == [None] * 5
    assert sorted(record["seed"] for _, record, _ in out) == [0, 1, 2, 3, 4]
    assert _PoolThatBreaksOnSubmit.made == 3  # broken pass, the retry alone, the rest


def test_failed_runs_are_reported_and_retried(tmp_path):
    # a value wrong only for the data (more clusters than target rows) fails the run; a
    # value wrong in itself would fail the config's check at load instead
    cfg = load_config(CONFIG, ["methods.km.grid.n_clusters=[10,5000]", "seeds=[0]"])
    summary = run_experiment(cfg, tmp_path, progress=False)
    assert summary.finished == 1 and len(summary.errors) == 1
    assert "n_clusters=5000 but the target has only" in summary.errors[0][2]
    # the error is named with its type, as a traceback's last line names it
    assert summary.errors[0][2].startswith("ValueError: TargetKMeans: n_clusters=5000")
    errors = _lines(tmp_path / "errors.jsonl")
    assert errors[0]["spec"]["params"]["n_clusters"] == 5000
    # the failure is not a finished run: the next invocation tries it again
    assert len(run_experiment(cfg, tmp_path, progress=False).errors) == 1


def test_an_interrupted_sweep_drops_the_failures_of_runs_it_finished(tmp_path, monkeypatch):
    # errors.jsonl was tidied only at a sweep's normal end: after a Ctrl-C it still
    # listed the failure of a run finished since, and `dtc report` warned of it
    from dtc.experiment import runner

    cfg = load_config(CONFIG, ["methods.km.grid.n_clusters=[10,5000]", "seeds=[0]"])
    run_experiment(cfg, tmp_path, progress=False)
    (failed,) = _lines(tmp_path / "errors.jsonl")

    def finishes_it_then_interrupted(tasks, **kwargs):
        (task,) = tasks
        yield task, {"run_id": task.run_id, "metrics": {"acc": 0.5}}, None
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_tasks", finishes_it_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path, progress=False)
    assert failed["run_id"] in {r["run_id"] for r in _lines(tmp_path / "results.jsonl")}
    assert not (tmp_path / "errors.jsonl").exists()


def test_a_resume_looks_each_method_up_once_and_leaves_an_ordered_file_alone(tmp_path, monkeypatch):
    # A lookup reads every installed package's entry points (2.6 ms): done once per record,
    # a resume of 40,000 finished runs took 78 s; and the results file was rewritten
    # (34 MiB, fsynced) by every sweep that finished a run, even when already in order.
    from dtc import methods

    lookups = []
    real = methods.get_class
    monkeypatch.setattr(methods, "get_class", lambda name: lookups.append(name) or real(name))

    def resume_lookups(seeds: int) -> int:
        cfg = load_config(CONFIG, [f"seeds={seeds}"])
        run_experiment(cfg, tmp_path / str(seeds), progress=False)
        lookups.clear()
        run_experiment(cfg, tmp_path / str(seeds), progress=False)  # every run done
        return len(lookups)

    assert resume_lookups(2) == resume_lookups(8)  # per method, not per record
    results = tmp_path / "8" / "results.jsonl"
    before = results.stat().st_ino
    summary = run_experiment(load_config(CONFIG, ["seeds=9"]), tmp_path / "8", progress=False)
    assert (summary.skipped, summary.finished) == (8, 1)
    assert results.stat().st_ino == before  # appended in order: not rewritten


def test_a_run_recorded_under_another_default_is_set_aside_and_run_again(tmp_path, capsys):
    cfg = load_config(CONFIG)
    run_experiment(cfg, tmp_path, progress=False)
    rows = _lines(tmp_path / "results.jsonl")
    # as if the code's default n_clusters (None: the pair's) had been 5 when seed 1 ran
    assert rows[1]["params"]["n_clusters"] is None
    old = {**rows[1], "params": {**rows[1]["params"], "n_clusters": 5}}
    (tmp_path / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in (rows[0], old, rows[2]))
    )
    capsys.readouterr()
    summary = run_experiment(cfg, tmp_path, progress=False)
    assert (summary.stale, summary.skipped, summary.finished) == (1, 2, 1)
    assert _lines(tmp_path / "stale.jsonl") == [old]
    # the sweep says why (it listed every possible reason)
    assert "(1 under other resolved parameters (a default changed))" in capsys.readouterr().err
    now = _lines(tmp_path / "results.jsonl")
    assert [r["run_id"] for r in now] == [r["run_id"] for r in rows]  # the config's order
    assert next(r for r in now if r["run_id"] == old["run_id"])["params"] == rows[1]["params"]
    # nothing stale any more: a third sweep only skips
    again = run_experiment(cfg, tmp_path, progress=False)
    assert (again.stale, again.skipped, again.finished) == (0, 3, 0)


def test_a_data_parameter_at_its_default_is_the_run_that_leaves_it_out(tmp_path):
    # shift: 0.5 is the digits' default. Written out it made other run ids: every run was
    # run again, and the report found two runs of each seed in one cell and refused them.
    from dtc.experiment.report import build_tables

    without = load_config({**CONFIG, "benchmarks": [{"benchmark": "digits"}]})
    run_experiment(without, tmp_path, progress=False)
    written = load_config(CONFIG)
    assert [t.run_id for t in expand(written)] == [t.run_id for t in expand(without)]
    again = run_experiment(written, tmp_path, progress=False)
    assert (again.finished, again.skipped) == (0, 3)
    # a record stored before, with the default in its spec and an id of its own, sits in
    # the same report cell: set aside, and run again under the current id
    rows = _lines(tmp_path / "results.jsonl")
    old = {
        **rows[0],
        "run_id": "0" * 16,
        "spec": {**rows[0]["spec"], "data_params": {"shift": 0.5}},
    }
    (tmp_path / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in (old, rows[1], rows[2]))
    )
    summary = run_experiment(written, tmp_path, progress=False)
    assert (summary.stale, summary.skipped, summary.finished) == (1, 2, 1)
    assert _lines(tmp_path / "stale.jsonl") == [old]
    table = build_tables(read_records(tmp_path / "results.jsonl"))[0]
    assert (
        table.rows == ["km"]
        and len(table.columns) == 1
        and table.cells["km"][table.columns[0]].n == 3
    )


def test_a_run_whose_data_changed_under_its_config_is_set_aside(tmp_path, monkeypatch, capsys):
    """The config leaves the digits shift to the loader's default; when that default
    changes, the finished runs saw other data than the config loads now: set aside and
    run again (they were kept, identical config and parameters). A record without a
    fingerprint (an older file) cannot be checked and is kept."""
    from dtc.data import benchmarks

    cfg = load_config({**CONFIG, "benchmarks": [{"benchmark": "digits"}]})
    run_experiment(cfg, tmp_path, progress=False)
    rows = _lines(tmp_path / "results.jsonl")
    assert len({r["data_sha"] for r in rows}) == 1
    unchecked = {k: v for k, v in rows[2].items() if k != "data_sha"}
    (tmp_path / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in (rows[0], rows[1], unchecked))
    )
    same = run_experiment(cfg, tmp_path, progress=False)
    assert (same.stale, same.skipped, same.finished) == (0, 3, 0)

    default = benchmarks.make_digits_pair

    def new_default(shift=0.3, **kwargs):  # as if the loader's default shift had changed
        return default(shift=shift, **kwargs)

    monkeypatch.setattr(benchmarks, "make_digits_pair", new_default)
    capsys.readouterr()
    summary = run_experiment(cfg, tmp_path, progress=False)
    assert (summary.stale, summary.skipped, summary.finished) == (2, 1, 2)
    assert "(2 on other data than the config loads now)" in capsys.readouterr().err
    assert _lines(tmp_path / "stale.jsonl") == rows[:2]
    now = {r["run_id"]: r for r in _lines(tmp_path / "results.jsonl")}
    assert now[rows[0]["run_id"]]["data_sha"] != rows[0]["data_sha"]
    assert now[rows[0]["run_id"]]["metrics"] != rows[0]["metrics"]


def test_runs_of_a_row_whose_config_params_changed_are_set_aside(tmp_path, capsys):
    run_experiment(load_config(CONFIG), tmp_path, progress=False)
    before = _lines(tmp_path / "results.jsonl")
    edited = load_config(CONFIG, ["methods.km.params.max_iter=60"])
    capsys.readouterr()
    summary = run_experiment(edited, tmp_path, progress=False)
    assert "(3 under another method, parameters or version of a plugin's code in the " in (
        capsys.readouterr().err
    )
    # same row, pairs and seeds under new run_ids: the old runs would be averaged in
    assert (summary.stale, summary.skipped, summary.finished) == (3, 0, 3)
    assert _lines(tmp_path / "stale.jsonl") == before
    now = _lines(tmp_path / "results.jsonl")
    assert [r["run_id"] for r in now] == [t.run_id for t in expand(edited)]
    # a subset of the seeds is not a change: the other seeds' runs stay
    subset = load_config(CONFIG, ["methods.km.params.max_iter=60", "seeds=[0]"])
    summary = run_experiment(subset, tmp_path, progress=False)
    assert (summary.stale, summary.skipped) == (0, 1) and _lines(tmp_path / "results.jsonl") == now


def test_runs_of_a_row_whose_method_changed_are_set_aside_and_removed_seeds_named(tmp_path, capsys):
    row = {"name": "swap", "benchmarks": CONFIG["benchmarks"], "seeds": [0, 1]}
    kmeans = load_config({**row, "methods": {"Baseline": {"method": "kmeans"}}})
    run_experiment(kmeans, tmp_path, progress=False)
    before = _lines(tmp_path / "results.jsonl")
    agglo = {**row, "methods": {"Baseline": {"method": "agglomerative"}}}
    summary = run_experiment(load_config(agglo), tmp_path, progress=False)
    # the same row, pair and seeds: the K-means runs would be averaged into its cells
    assert (summary.stale, summary.skipped, summary.finished) == (2, 0, 2)
    assert _lines(tmp_path / "stale.jsonl") == before
    assert {r["method"] for r in _lines(tmp_path / "results.jsonl")} == {"agglomerative"}
    # a seed removed from the config: its run stays, but the sweep names it
    capsys.readouterr()
    fewer = run_experiment(load_config(agglo, ["seeds=[0]"]), tmp_path, progress=False)
    assert (fewer.outside, fewer.skipped, fewer.stale) == (1, 1, 0)
    assert "1 record(s) (labels: Baseline; seeds: 1) of config 'swap'" in capsys.readouterr().err
    assert len(_lines(tmp_path / "results.jsonl")) == 2


def test_runs_without_the_metrics_the_config_now_asks_for_are_run_again(tmp_path, capsys):
    cfg = load_config(CONFIG, ["seeds=[0]"])
    run_experiment(cfg, tmp_path, progress=False)
    assert "macro_f1" not in _lines(tmp_path / "results.jsonl")[0]["metrics"]
    with_imbalance = load_config(CONFIG, ["seeds=[0]", "metrics=[imbalance]"])
    capsys.readouterr()
    summary = run_experiment(with_imbalance, tmp_path, progress=False)
    assert (summary.stale, summary.skipped, summary.finished) == (1, 0, 1)
    assert "(1 without a metric the config asks for)" in capsys.readouterr().err
    (record,) = _lines(tmp_path / "results.jsonl")
    assert {"macro_f1", "balanced_acc", "min_recall"} <= set(record["metrics"])
    # the records now have them: nothing more to run, with or without the metrics
    assert run_experiment(with_imbalance, tmp_path, progress=False).skipped == 1
    assert run_experiment(cfg, tmp_path, progress=False).skipped == 1


def test_truncated_last_line_is_cut_and_rerun(tmp_path):
    cfg = load_config(CONFIG, ["seeds=[0]"])
    (tmp_path / "results.jsonl").write_text('{"run_id": "half a li')
    with pytest.warns(RuntimeWarning) as caught:  # read as unfinished, then removed: said
        summary = run_experiment(cfg, tmp_path, progress=False)
    said = " ".join(str(w.message) for w in caught)
    assert "line 1 is incomplete" in said and "removed an incomplete last line" in said
    assert summary.finished == 1
    assert [r["run_id"] for r in _lines(tmp_path / "results.jsonl")] == [expand(cfg)[0].run_id]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"spec": {}}, "its 'spec' names no benchmark"),
        ({"params": "x"}, "'params' is str, expected a mapping"),
        ({"run_id": [5]}, "'run_id' is list, expected text"),
        ({"metrics": None}, "'metrics' is NoneType, expected a mapping"),
    ],
)
def test_a_resume_refuses_a_record_it_cannot_check_naming_its_line(tmp_path, edit, problem):
    # KeyError 'benchmark', AttributeError, TypeError tracebacks; a record without metrics
    # counted as a finished run (which dtc report refused)
    cfg = load_config(CONFIG, ["seeds=[0, 1]"])
    run_experiment(cfg, tmp_path, progress=False)
    path = tmp_path / "results.jsonl"
    first, second = _lines(path)
    path.write_text(json.dumps(first) + "\n" + json.dumps({**second, **edit}) + "\n")
    with pytest.raises(
        ValueError, match=rf"results\.jsonl: line 2 is not a run record \({problem}"
    ):
        run_experiment(cfg, tmp_path, progress=False)


def test_a_second_sweep_on_the_same_folder_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl", reason="folder locks need POSIX fcntl")
    with (tmp_path / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(RuntimeError, match="another sweep is writing"):
            run_experiment(load_config(CONFIG), tmp_path, progress=False)


def test_a_second_sweep_is_told_which_process_holds_the_folder(tmp_path, monkeypatch):
    # the error named no process: an array job's tasks or another terminal could not tell
    # which sweep to wait for (and the refused sweep's "w" open emptied the holder's line)
    pytest.importorskip("fcntl", reason="folder locks need POSIX fcntl")
    import socket

    from dtc.experiment import runner

    with runner._lock(tmp_path):
        line = (tmp_path / ".lock").read_text()
        assert line.startswith(f"process {os.getpid()} on {socket.gethostname()}, since ")
        for _ in range(2):  # refused twice: the line is still there the second time
            with pytest.raises(RuntimeError) as refused:
                run_experiment(load_config(CONFIG), tmp_path, progress=False)
            assert str(refused.value).startswith(
                f"another sweep (process {os.getpid()} on {socket.gethostname()}, since "
            )


GATED_METHOD = """\
import os
import time

import numpy as np

from dtc.methods import TransferClusterer


class Gated(TransferClusterer):
    \"\"\"Fits at once for seeds 0 and 1; later seeds wait until the gate file exists.\"\"\"

    uses_source = False

    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        while self.seed >= 2 and not os.path.exists(os.environ["DTC_TEST_GATE"]):
            time.sleep(0.02)
        self.labels_ = np.arange(pair.target.n_samples) % self._n_clusters(pair)
"""


def _gated_sweep(tmp_path, monkeypatch):
    """``(command, env, results file, gate, process)``: ``dtc run`` of a sweep whose method
    blocks from the third run on until the gate file exists, started and waited for until
    exactly two runs are stored, whatever the machine's speed (no race)."""
    (tmp_path / "gated_method.py").write_text(GATED_METHOD)
    monkeypatch.syspath_prepend(str(tmp_path))  # this process expands the config too
    config = tmp_path / "sweep.yaml"
    config.write_text(
        "name: killme\nbenchmarks: [{benchmark: digits}]\n"
        "methods: {g: {method: 'gated_method:Gated'}}\nseeds: 8\n"
    )
    out, gate = tmp_path / "out", tmp_path / "gate"
    results = out / "results.jsonl"
    cmd = [sys.executable, "-m", "dtc", "run", str(config), "--out", str(out)]
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": repo, "DTC_TEST_GATE": str(gate)}
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the sweep ended before it could be stopped: {proc.stderr.read()}"
    return cmd, env, results, gate, proc


def test_sigterm_stops_a_sweep_as_a_ctrl_c_does_and_says_where_its_runs_are(tmp_path, monkeypatch):
    # a batch system's time limit or `kill` sends SIGTERM: it ended the process with no word
    # (exit 143); now the same clean-up and message as a Ctrl-C, and exit 143
    _, _, results, _, proc = _gated_sweep(tmp_path, monkeypatch)
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert stderr.strip().splitlines()[-1] == (
        f"killme: interrupted; the runs that finished are kept in {results.parent}: run the "
        "same command again to resume"
    )
    assert "Traceback" not in stderr
    assert len(_lines(results)) == 2


def test_kill_9_then_resume_completes_without_duplicates(tmp_path, monkeypatch):
    """A sweep killed with SIGKILL mid-way resumes: each run_id once, every line parses."""
    cmd, env, results, gate, proc = _gated_sweep(tmp_path, monkeypatch)
    config = Path(cmd[4])
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()  # waits, and closes its stderr pipe
    assert len(_lines(results)) == 2
    gate.touch()
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 already done" in rerun.stderr
    rows = _lines(results)  # every line parses
    ids = [r["run_id"] for r in rows]
    assert sorted(ids) == sorted({t.run_id for t in expand(load_config(config))})
    assert len(ids) == len(set(ids)) == 8


class FakeMlflow:
    """Records the calls of the MLflow tracking API that the runner makes."""

    def __init__(self):
        self.calls, self.runs = [], []

    def set_tracking_uri(self, uri):
        self.calls.append(("uri", uri))

    def set_experiment(self, name):
        self.calls.append(("experiment", name))

    def start_run(self, run_name):
        import contextlib

        self.runs.append({"name": run_name, "metrics": {}, "params": {}, "tags": {}})
        return contextlib.nullcontext()

    def set_tags(self, tags):
        self.runs[-1]["tags"].update(tags)

    def log_params(self, params):
        self.runs[-1]["params"].update(params)

    def log_metrics(self, metrics, step=None):
        self.runs[-1]["metrics"].update(metrics)


def test_mlflow_logs_every_run_to_a_local_file_store(tmp_path, monkeypatch):
    fake = FakeMlflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    # set first, so that its absence is what monkeypatch restores: deleted only, the
    # runner's setdefault stayed for every later test and subprocess
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    run_experiment(load_config(CONFIG), tmp_path, progress=False, mlflow=True)
    assert fake.calls == [("uri", (tmp_path / "mlruns").resolve().as_uri()), ("experiment", "tiny")]
    # MLflow 3 refuses a file store unless this is set
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"
    rows = _lines(tmp_path / "results.jsonl")
    assert [r["name"] for r in fake.runs] == [f"km-{r['run_id']}" for r in rows]
    for logged, row in zip(fake.runs, rows, strict=True):
        assert logged["tags"]["run_id"] == row["run_id"] and logged["params"]["seed"] == str(
            row["seed"]
        )
        assert logged["metrics"]["acc"] == row["metrics"]["acc"]


def test_mlflow_without_the_extra_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    with pytest.raises(RuntimeError, match=r"--mlflow needs the optional extra"):
        run_experiment(load_config(CONFIG), tmp_path, progress=False, mlflow=True)


def test_a_stopped_worker_cleans_up_its_run_before_it_exits(monkeypatch):
    # The sweep stops its workers with SIGTERM, whose default killed a worker in the middle
    # of a checkpoint's write: its temporary file stayed for good. In a run the signal now
    # unwinds the run (its clean-up runs), then the worker exits with 143; idle, at once.
    from dtc.experiment import backends

    done = []

    def execute(*args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        finally:
            done.append("clean-up")

    def exit_(code):
        raise SystemExit(code)

    monkeypatch.setattr(backends, "execute", execute)
    monkeypatch.setattr(backends.os, "_exit", exit_)
    previous = signal.signal(signal.SIGTERM, backends._worker_sigterm)
    try:
        with pytest.raises(SystemExit) as stopped:
            backends._execute_in_worker({}, None)
        assert stopped.value.code == 143 and done == ["clean-up"]
        assert not backends._RUNNING
        with pytest.raises(SystemExit):  # idle: no run to unwind
            backends._worker_sigterm(signal.SIGTERM, None)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stuck_workers(pool, n, folder):
    """Occupy ``n`` workers of ``pool`` with runs that ignore SIGTERM (as a long native
    call does) and return once each has started (a marker file each)."""
    folder.mkdir(exist_ok=True)
    futures = []
    for i in range(n):
        marker = folder / f"started{i}"
        code = (
            "import signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            f"pathlib.Path({str(marker)!r}).touch(); time.sleep(120)"
        )
        futures.append(pool.submit(exec, code))
    deadline = time.monotonic() + 120
    while len(list(folder.glob("started*"))) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(list(folder.glob("started*"))) == n
    return futures


def _gone(pids, timeout=10.0) -> bool:
    """Whether every process of ``pids`` has exited and been reaped within ``timeout``
    (the pool's own thread may be reaping one a moment after the stop returns, which
    ``active_children`` shows as alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return True
        time.sleep(0.1)
    return False


def test_workers_that_do_not_answer_the_stop_share_one_deadline_and_are_killed(
    tmp_path, monkeypatch
):
    # Stopping waited STOP_TIMEOUT_S for each worker in turn (160 s at --jobs 16), and a
    # second Ctrl-C / SIGTERM during the wait left the workers running: the interpreter's
    # exit then waited for them.
    import multiprocessing as mp
    import threading

    from dtc.experiment import backends
    from dtc.experiment.store import Terminated, terminate_as_interrupt

    monkeypatch.setattr(backends, "STOP_TIMEOUT_S", 3.0)
    before = set(mp.active_children())
    with pytest.raises(KeyboardInterrupt), backends._stopping(3, 1) as pool:
        _stuck_workers(pool, 3, tmp_path)
        pids = [p.pid for p in set(mp.active_children()) - before]
        t0 = time.monotonic()
        raise KeyboardInterrupt
    assert time.monotonic() - t0 < 3.0 + 2.5  # one deadline, not 3 x 3 s
    assert len(pids) == 3 and _gone(pids)

    monkeypatch.setattr(backends, "STOP_TIMEOUT_S", 60.0)
    second = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    with terminate_as_interrupt():  # the second signal is ours, not the default's
        with pytest.raises(Terminated), backends._stopping(2, 1) as pool:
            _stuck_workers(pool, 2, tmp_path / "second")
            pids = [p.pid for p in set(mp.active_children()) - before]
            t0 = time.monotonic()
            second.start()
            raise KeyboardInterrupt
        second.join()
    assert time.monotonic() - t0 < 30
    assert len(pids) == 2 and _gone(pids)  # killed, not left to hold the exit up


@pytest.mark.parametrize("wait_s", [0.0, 8.0])
def test_an_interrupt_stops_the_workers_at_once(wait_s):
    """Ctrl-C while workers start (0 s) or run (8 s): the pool's block ends at once, not
    when the runs in progress end, and no worker is left behind to hold the exit up (an
    interrupt during a worker's start once left it out of the pool's books for good)."""
    import multiprocessing as mp
    import time

    from dtc.experiment import backends

    before = set(mp.active_children())
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), backends._stopping(2, 1) as pool:
        futures = [pool.submit(time.sleep, 120) for _ in range(3)]
        time.sleep(wait_s)
        raise KeyboardInterrupt
    assert time.perf_counter() - t0 < wait_s + 60
    # the pool's own thread may still be reaping a stopped worker for a moment
    deadline = time.monotonic() + 10
    while not set(mp.active_children()) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(mp.active_children()) <= before
    # A queued run is cancelled; one already handed to the call queue is failed by the
    # pool's management thread once it sees its workers gone, which on a loaded machine
    # takes a moment (the full suite beside a long sweep once failed this check at once).
    # Polled, not concurrent.futures.wait: wait() counts a future cancelled by the pool's
    # shutdown as pending (CANCELLED, not CANCELLED_AND_NOTIFIED) and sat out its timeout.
    deadline = time.monotonic() + 30
    while not all(f.done() for f in futures[2:]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(f.cancelled() or f.done() for f in futures[2:])


ORPHAN = """
import os, sys, time
from dtc.experiment import backends

with backends._stopping(2, 1) as pool:
    futures = [pool.submit(time.sleep, 120) for _ in range(2)]
    time.sleep(5)  # both workers started and busy
    print(*[p.pid for p in pool._processes.values()], flush=True)
    time.sleep(120)
"""


def test_workers_of_a_sweep_killed_with_kill_9_exit_by_themselves(tmp_path):
    """``kill -9`` of the sweep cannot stop its workers; each notices that its parent is
    gone and exits within seconds, rather than sitting idle for good."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    sweep = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in sweep.stdout.readline().split()]
    assert len(workers) == 2
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.communicate()  # waits, and closes its stdout pipe

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited
            return stat.read().split(") ")[-1][0] != "Z"

    deadline = time.monotonic() + 30
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in workers)


def test_a_plugin_whose_code_changed_is_run_again(tmp_path, monkeypatch, user_plugin):
    """A user's method named by "module:Class" keeps its name when its code is edited: the
    runs of the old code are set aside as stale and run again, not passed off as the new
    code's (the hash of the file that defines it is part of the run id)."""
    import importlib

    plugin = tmp_path / "dtc_stripes_plugin.py"
    plugin.write_text(user_plugin.format(clusters=2))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {**CONFIG, "methods": {"s": {"method": "dtc_stripes_plugin:Stripes"}}}
    cfg = load_config(config, ["seeds=[0]"])
    first = run_experiment(cfg, tmp_path / "out", progress=False)
    assert first.finished == 1
    (record,) = _lines(tmp_path / "out" / "results.jsonl")
    assert list(record["code"]) == ["dtc_stripes_plugin:Stripes"]
    assert run_experiment(cfg, tmp_path / "out", progress=False).skipped == 1  # unchanged
    plugin.write_text(user_plugin.format(clusters=3))
    importlib.reload(importlib.import_module("dtc_stripes_plugin"))
    again = run_experiment(load_config(config, ["seeds=[0]"]), tmp_path / "out", progress=False)
    assert (again.finished, again.skipped, again.stale) == (1, 0, 1)
    (new,) = _lines(tmp_path / "out" / "results.jsonl")
    assert new["code"] != record["code"] and new["metrics"]["acc"] != record["metrics"]["acc"]
    # built-in methods' ids do not depend on it, nor do strings that name no module
    (task,) = expand(load_config(CONFIG, ["seeds=[0]"]))
    assert task.code == {}
    from dtc.experiment.config import plugin_code

    assert plugin_code({"device": "cuda:0", "x": ["no_such_module_here:Thing"]}) == {}


def test_a_plugin_edited_but_not_reloaded_is_not_run_as_the_new_code(
    tmp_path, monkeypatch, user_plugin
):
    """In one process (a notebook, a script calling run_experiment twice), an edit without a
    reload ran the class in memory, the old code, under the new file's hash in its run id:
    the old code's result stored as the new's, and reused by every later sweep."""
    import importlib

    plugin = tmp_path / "dtc_unreloaded_plugin.py"
    plugin.write_text(user_plugin.format(clusters=2))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dtc_unreloaded_plugin", raising=False)
    config = {**CONFIG, "methods": {"s": {"method": "dtc_unreloaded_plugin:Stripes"}}}
    assert run_experiment(load_config(config, ["seeds=[0]"]), tmp_path / "out").finished == 1
    plugin.write_text(user_plugin.format(clusters=3))
    again = run_experiment(load_config(config, ["seeds=[0]"]), tmp_path / "out", progress=False)
    assert again.finished == 0 and len(again.errors) == 1
    assert "changed since this process imported module 'dtc_unreloaded_plugin'" in str(
        again.errors[0]
    )
    importlib.reload(sys.modules["dtc_unreloaded_plugin"])
    again = run_experiment(load_config(config, ["seeds=[0]"]), tmp_path / "out", progress=False)
    assert again.finished == 1


def test_a_plugin_edited_mid_sweep_is_not_run_in_a_fresh_worker(tmp_path, monkeypatch, user_plugin):
    """A worker of --jobs N imports a plugin afresh when its task starts: a file edited
    after the sweep was planned ran the new code under the old hash, and a rerun of the
    old code then took that result as its own."""
    from dtc.experiment import backends

    plugin = tmp_path / "dtc_mid_sweep_plugin.py"
    plugin.write_text(user_plugin.format(clusters=2))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {**CONFIG, "methods": {"s": {"method": "dtc_mid_sweep_plugin:Stripes"}}}
    (task,) = expand(load_config(config, ["seeds=[0]"]))
    plugin.write_text(user_plugin.format(clusters=3))
    monkeypatch.delitem(sys.modules, "dtc_mid_sweep_plugin")  # as in a fresh worker
    with pytest.raises(ValueError, match=r"^dtc_mid_sweep_plugin:Stripes: the code changed"):
        backends.execute(task.to_dict())
    plugin.write_text(user_plugin.format(clusters=2))
    monkeypatch.delitem(sys.modules, "dtc_mid_sweep_plugin")
    assert backends.execute(task.to_dict())["code"] == task.code


def test_where_a_fit_keeps_its_work_and_what_it_prints_run_nothing_again(tmp_path):
    # Moving DTC's checkpoint folder, or writing verbose: 0, set every finished run aside
    # as stale (other parameters) and ran it again, for the same results.
    config = {
        **CONFIG,
        "methods": {"dtc": {"method": "dtc", "params": {"pretrain_epochs": 1, "adapt_epochs": 1}}},
        "seeds": [0],
    }
    first = run_experiment(load_config(config), tmp_path / "out", progress=False)
    assert first.finished == 1
    for override in (
        f"methods.dtc.params.checkpoint_dir={tmp_path / 'ck'}",
        "methods.dtc.params.verbose=0",
    ):
        again = run_experiment(load_config(config, [override]), tmp_path / "out", progress=False)
        assert (again.finished, again.skipped, again.stale) == (0, 1, 0), override
    moved = run_experiment(
        load_config(config, ["methods.dtc.params.adapt_epochs=2"]), tmp_path / "out", progress=False
    )
    assert moved.finished == 1  # a parameter of the result still makes another run


def test_a_folder_benchmark_whose_k_changed_is_run_again(tmp_path):
    """A folder pair's k is its source's number of classes: a file added beside the pair
    changes nothing of it (its run is kept); a source given another class is run again.
    (k was the folder's largest label + 1: a file added beside the pair changed it.)"""
    import numpy as np

    rng = np.random.default_rng(0)
    folder = tmp_path / "fold"
    folder.mkdir()
    for name in ("a", "b"):
        y = np.arange(24) % 2
        np.savez(folder / f"{name}.npz", X=(3 * y[:, None] + rng.normal(size=(24, 3))), y=y)
    config = {
        "name": "fold",
        "benchmarks": [{"benchmark": str(folder), "pairs": [["a", "b"]]}],
        "methods": {"km": {"method": "kmeans", "params": {"n_init": 1}}},
        "seeds": [0],
    }
    cfg = load_config(config)
    assert run_experiment(cfg, tmp_path / "out", progress=False).finished == 1
    (first,) = _lines(tmp_path / "out" / "results.jsonl")
    assert first["n_clusters"] == 2
    assert run_experiment(cfg, tmp_path / "out", progress=False).skipped == 1
    np.savez(folder / "c.npz", X=rng.normal(size=(9, 3)), y=np.arange(9) % 3)
    assert run_experiment(load_config(config), tmp_path / "out", progress=False).skipped == 1
    y = np.arange(24) % 3
    np.savez(folder / "a.npz", X=(3 * y[:, None] + rng.normal(size=(24, 3))), y=y)
    again = run_experiment(load_config(config), tmp_path / "out", progress=False)
    assert (again.finished, again.stale) == (1, 1)
    (new,) = _lines(tmp_path / "out" / "results.jsonl")
    assert new["n_clusters"] == 3 and new["data_sha"] != first["data_sha"]


def test_a_missing_data_file_stops_the_sweep_before_its_first_run(tmp_path):
    config = {
        **CONFIG,
        "benchmarks": [{"benchmark": "mnist_usps", "pairs": [["mnist", "usps"]]}],
        "seeds": [0, 1],
    }
    cfg = load_config(config)
    with pytest.raises(FileNotFoundError, match=r"'MNIST_vs_USPS.mat' not found .*--data-dir"):
        run_experiment(cfg, tmp_path / "out", data_dir=tmp_path, progress=False)
    assert not (tmp_path / "out").exists()  # no empty folder left behind
    (tmp_path / "kept").mkdir()  # a folder of earlier runs: checked as well, kept as it was
    with pytest.raises(FileNotFoundError, match=r"'MNIST_vs_USPS.mat' not found"):
        run_experiment(cfg, tmp_path / "kept", data_dir=tmp_path, progress=False)
    assert not (tmp_path / "kept" / "errors.jsonl").exists()
    from dtc.data import domain_files  # the check: a generated benchmark reads no file

    assert domain_files("digits", ["source", "target"]) == []
    with pytest.raises(ValueError, match="unknown domain 'mnsit'"):
        domain_files("mnist_usps", ["mnsit"], tmp_path)


def test_records_name_the_instruction_set_of_torchs_cpu_kernels():
    """The same code and packages give other deep-method figures under other CPU kernels
    (AVX512 vs scalar), so a run records which ones torch used; ATEN_CPU_CAPABILITY=default
    forces the scalar ones, and the record must say so."""
    code = (
        "from dtc.experiment.single import package_versions; "
        "print(package_versions()['torch_cpu_capability'])"
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert res.stdout.strip() == "DEFAULT"
    import torch

    from dtc.experiment.single import package_versions

    assert package_versions()["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_a_grid_value_given_twice_is_one_run_and_counted_once(tmp_path):
    """lam: [0.1, 0.1] expands to one run_id twice: the runner runs it once, and the summary
    (the line `dtc run` prints, the progress bar) counts it once, not as "already done"."""
    cfg = load_config(CONFIG, ["seeds=[0]", "methods.km.grid.n_init=[1,1]"])
    summary = run_experiment(cfg, tmp_path, progress=False)
    assert (summary.total, summary.skipped, summary.finished) == (1, 0, 1)
    assert len(_lines(tmp_path / "results.jsonl")) == 1


def test_runs_that_finish_out_of_order_are_stored_in_the_configs_order(tmp_path, monkeypatch):
    """With --jobs N runs finish in any order (and a retried failure after the others): the
    results file, whose order is the report's row order, keeps the config's order."""
    from dtc.experiment import runner

    real = runner.run_tasks

    def reversed_run_tasks(todo, **kwargs):  # as parallel workers may finish them
        yield from reversed(list(real(todo, **kwargs)))

    monkeypatch.setattr(runner, "run_tasks", reversed_run_tasks)
    cfg = load_config(CONFIG, ["methods.sp.method=spectral", "seeds=[0]"])
    summary = run_experiment(cfg, tmp_path, progress=False)
    assert summary.finished == 2
    assert [r["label"] for r in _lines(tmp_path / "results.jsonl")] == ["km", "sp"]
    # a sweep interrupted after its last run, before the reorder, left the file as the runs
    # finished; its resume, with nothing to run, left it so for good
    path = tmp_path / "results.jsonl"
    path.write_text("".join(reversed(path.read_text().splitlines(keepends=True))))
    assert run_experiment(cfg, tmp_path, progress=False).finished == 0
    assert [r["label"] for r in _lines(path)] == ["km", "sp"]


def test_a_record_that_cannot_be_checked_is_kept():
    """No data_sha check where the data cannot be loaded here (None), and a record without
    params is kept; a data fingerprint that differs is stale."""
    from dtc.experiment.runner import _stale_reason

    (task,) = expand(load_config(CONFIG, ["seeds=[0]"]))
    record = {"run_id": task.run_id, "data_sha": "aaaa"}
    assert _stale_reason(record, task, set(), lambda t: None) is None
    assert _stale_reason(record, task, set(), lambda t: ("aaaa", 10)) is None
    assert _stale_reason(record, task, set(), lambda t: ("bbbb", 10)) == "data"
    # k: checked where the record holds it (records before it was recorded are kept)
    assert _stale_reason({**record, "n_clusters": 10}, task, set(), lambda t: ("aaaa", 10)) is None
    assert _stale_reason({**record, "n_clusters": 9}, task, set(), lambda t: ("aaaa", 10)) == "data"
    assert _stale_reason({"run_id": task.run_id}, task, set(), lambda t: None) is None


def test_a_record_is_moved_only_from_the_config_and_grid_point_of_a_task():
    """Another run_id is stale only in a task's place: the same config, row and grid point;
    another config's run of the same row, or a grid point no longer swept, stays."""
    from dtc.experiment.runner import _cell, _stale_reason

    tasks = expand(load_config(CONFIG, ["seeds=[0]", "methods.km.grid.max_iter=[10,20]"]))
    cells = {_cell(t.config_name, t.label, t.grid, t.spec.to_dict()) for t in tasks}
    task = tasks[0]
    spec = {**task.spec.to_dict(), "params": {**task.spec.params, "max_iter": 10, "tol": 1}}
    here = {"run_id": "x", "config": "tiny", "label": "km", "grid": task.grid, "spec": spec}
    assert _stale_reason(here, None, cells, lambda t: None) == "moved"
    other_config = {**here, "config": "other"}
    assert _stale_reason(other_config, None, cells, lambda t: None) is None
    other_point = {**here, "grid": {"max_iter": 30}}
    assert _stale_reason(other_point, None, cells, lambda t: None) is None


def test_only_the_configs_own_records_outside_its_tasks_are_named(tmp_path):
    from dtc.experiment.runner import _name_outside

    tasks = expand(load_config(CONFIG, ["seeds=[0]"]))
    ours = {"run_id": tasks[0].run_id, "config": "tiny"}
    records = [ours, {"run_id": "a", "config": "other"}, {"run_id": "b", "config": "tiny"}]
    assert _name_outside(tmp_path, records, "tiny", tasks) == 1


def test_task_order_keeps_other_configs_records_first(tmp_path):
    from dtc.experiment.runner import _in_task_order
    from dtc.experiment.store import write_records

    tasks = expand(load_config(CONFIG, ["seeds=[0,1]"]))
    path = tmp_path / "results.jsonl"
    other = {"run_id": "z", "config": "other"}
    write_records(path, [{"run_id": tasks[1].run_id}, other, {"run_id": tasks[0].run_id}])
    _in_task_order(path, tasks)
    assert [r["run_id"] for r in read_records(path)] == ["z", tasks[0].run_id, tasks[1].run_id]


@pytest.mark.skipif(sys.platform == "win32", reason="the appends' lock is POSIX's flock")
def test_task_order_reads_and_rewrites_under_the_appends_lock(tmp_path, monkeypatch):
    """A record a single run appended (`dtc run --results <out>/results.jsonl`) between the
    sweep's read and its rewrite went into the replaced file: lost (about 1,000 of 5,000
    appends, in 3 of 3 tries against a sweep). Its append now waits for the rewrite."""
    import fcntl

    from dtc.experiment import runner
    from dtc.experiment.store import write_records

    tasks = expand(load_config(CONFIG, ["seeds=[0,1]"]))
    path = tmp_path / "results.jsonl"
    write_records(path, [{"run_id": tasks[1].run_id}, {"run_id": tasks[0].run_id}])
    held = []

    def rewrite(target, records):
        fd = os.open(target, os.O_RDONLY)
        try:  # what an append's lock does, without waiting
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        write_records(target, records)

    monkeypatch.setattr(runner, "write_records", rewrite)
    runner._in_task_order(path, tasks)
    assert held == [True]
    assert [r["run_id"] for r in read_records(path)] == [t.run_id for t in tasks]


def test_unique_tasks_keep_the_first_place_of_a_repeat():
    from dtc.experiment.runner import unique_tasks

    a, b = expand(load_config(CONFIG, ["seeds=[0,1]"]))
    assert unique_tasks([a, b, a]) == [a, b]


def test_the_data_check_covers_source_and_target_domains(monkeypatch):
    from dtc.experiment import runner

    seen = []
    monkeypatch.setattr(runner.data, "domain_files", lambda b, names, d, **kw: seen.append(names))
    cfg = load_config(
        {**CONFIG, "benchmarks": [{"benchmark": "mnist_usps", "pairs": [["mnist", "usps"]]}]}
    )
    runner._check_data_files(expand(cfg), None)
    assert seen == [["mnist", "usps"]]


def test_a_sweep_that_only_set_runs_aside_still_stores_the_configs_order(tmp_path, monkeypatch):
    """Rows reordered in the config, one row's runs stale and their re-runs all failing:
    the kept records are still rewritten in the config's new order."""
    from dtc.experiment import runner

    rows = {
        "a": {"method": "kmeans", "params": {"n_init": 1}},
        "b": {"method": "kmeans", "params": {"n_init": 2}},
        "c": {"method": "spectral"},
    }
    first = {**CONFIG, "methods": rows, "seeds": [0]}
    run_experiment(load_config(first), tmp_path, progress=False)
    rows = {"c": rows["c"], "b": rows["b"], "a": {"method": "kmeans", "params": {"n_init": 3}}}

    def failing(todo, **kwargs):
        for task in todo:
            yield task, None, "boom"

    monkeypatch.setattr(runner, "run_tasks", failing)
    summary = run_experiment(load_config({**first, "methods": rows}), tmp_path, progress=False)
    assert (summary.stale, summary.finished, len(summary.errors)) == (1, 0, 1)
    assert [r["label"] for r in _lines(tmp_path / "results.jsonl")] == ["c", "b"]


@pytest.mark.parametrize(
    ("backend", "jobs", "match"),
    [
        ("local", 0, "jobs must be a positive int, got 0"),
        ("local", True, "jobs must be a positive int, got True"),  # a bool is no count
        ("local", 2.0, "jobs must be a positive int, got 2.0"),
        ("slurm", 1, "backend must be one of local, ray, got 'slurm'"),
    ],
)
def test_a_wrong_backend_or_jobs_is_refused_before_any_run(tmp_path, backend, jobs, match):
    from dtc.experiment import backends

    tasks = expand(load_config(CONFIG, ["seeds=[0]"]))
    with pytest.raises(ValueError, match=match):
        backends.run_tasks(tasks, jobs=jobs, backend=backend)
    # the sweep checks them before its output folder is made
    with pytest.raises(ValueError, match=match):
        run_experiment(
            load_config(CONFIG, ["seeds=[0]"]), tmp_path / "out", jobs=jobs, backend=backend
        )
    assert not (tmp_path / "out").exists()


def test_numpy_ints_are_counts_and_seeds_as_everywhere_else(tmp_path):
    # jobs=np.int64(1) and seeds=list(np.arange(2)) were refused, where every method
    # parameter takes numpy's ints; the seeds are recorded as plain ints
    from dtc.experiment import backends

    backends.check_backend("local", np.int64(2))
    cfg = load_config({**CONFIG, "seeds": list(np.arange(2))})
    assert cfg.raw["seeds"] == [0, 1] and all(type(s) is int for s in cfg.raw["seeds"])
    assert load_config({**CONFIG, "seeds": np.int64(2)}).raw["seeds"] == [0, 1]


def test_a_class_without_a_file_is_refused_for_worker_processes(tmp_path, monkeypatch):
    """A method defined in a notebook cell or by ``python -c`` lives in a module without a
    file, which a spawned worker cannot import: every run of jobs=2 failed as "unknown
    method" after the folder was made. The sweep now says why before it starts; jobs=1
    runs it."""
    import types

    from dtc import methods
    from dtc.experiment import backends

    module = types.ModuleType("dtc_cell_plugin")  # no __file__, as a notebook's __main__
    source = (
        "import numpy as np\n"
        "from dtc.methods import TransferClusterer\n"
        "class Halves(TransferClusterer):\n"
        "    def __init__(self, n_clusters=None, seed=0):\n"
        "        self.n_clusters, self.seed = n_clusters, seed\n"
        "    def _fit(self, pair):\n"
        "        self.labels_ = np.arange(pair.target.n_samples) % 2\n"
    )
    exec(compile(source, "<cell-1>", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(methods._METHODS, "_registered", dict(methods._METHODS._registered))
    methods.register("halves", module.Halves)
    for method, named in (
        ("halves", "method 'halves' (dtc_cell_plugin:Halves)"),
        ("dtc_cell_plugin:Halves", "'dtc_cell_plugin:Halves'"),
    ):
        cfg = load_config({**CONFIG, "methods": {"h": {"method": method}}}, ["seeds=[0]"])
        with pytest.raises(ValueError, match=rf"^{re.escape(named)} is defined where there is"):
            run_experiment(cfg, tmp_path / "out", jobs=2, progress=False)
        assert not (tmp_path / "out").exists()
        with pytest.raises(ValueError, match="cannot import it: run with jobs=1"):
            list(backends.run_tasks(expand(cfg), jobs=2))
    summary = run_experiment(cfg, tmp_path / "out", jobs=1, progress=False)
    assert summary.finished == 1 and not summary.errors


# A sweep's script whose classes sit where a spawned worker cannot load them: under the
# `if __name__ == "__main__":` that the worker's import of the script skips, and inside a
# function (pickle cannot name it); Top and the guard's else branch are fine.
GUARDED_SCRIPT = """
import numpy as np
from torch import nn

from dtc.methods import TransferClusterer


class Top(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters, self.seed = n_clusters, seed

    def _fit(self, pair):
        self.labels_ = np.arange(pair.target.n_samples) % 2


def make():
    class Local(Top):
        pass

    return Local


if __name__ == "__main__":

    class Guarded(Top):
        pass

    class GuardedLoss(nn.Module):
        def forward(self, source, target, **context):
            return (source.mean(0) - target.mean(0)).pow(2).sum()

else:

    class Otherwise(Top):
        pass
"""


@pytest.fixture
def guarded_script(tmp_path, monkeypatch):
    """GUARDED_SCRIPT run as the main script (its file in ``tmp_path``), its classes
    registered under their names in lower case (``make()``'s as "local")."""
    import types

    from dtc import align, methods
    from dtc.align import registry

    path = tmp_path / "sweep.py"
    path.write_text(GUARDED_SCRIPT)
    main = types.ModuleType("__main__")
    main.__file__ = str(path)
    exec(compile(GUARDED_SCRIPT, str(path), "exec"), main.__dict__)
    # what the guard's else defines in the worker, where it runs
    main.Otherwise = type("Otherwise", (main.Top,), {"__module__": "__main__"})
    monkeypatch.setitem(sys.modules, "__main__", main)
    for reg in (methods._METHODS, registry._LOSSES):
        monkeypatch.setattr(reg, "_registered", dict(reg._registered))
    for name in ("Top", "Guarded", "Otherwise"):
        methods.register(name.lower(), getattr(main, name))
    methods.register("local", main.make())
    align.register("guarded_loss", main.GuardedLoss)
    return main


def test_a_class_the_workers_cannot_load_is_refused_before_the_sweep(tmp_path, guarded_script):
    """A registered class under the script's `if __name__ == "__main__":` or inside a
    function pickled badly or not at all: the sweep of jobs=2 started, and every run of it
    failed with "the code changed since the sweep was planned ... run the sweep again",
    which failed the same way. The sweep now says why before it starts; jobs=1 runs it."""
    from dtc.experiment import backends

    script = tmp_path / "sweep.py"
    guard = f'is defined under `if __name__ == "__main__":` in {script}'
    dtc_params = {"loss": "guarded_loss", "pretrain_epochs": 1, "adapt_epochs": 1}
    for method, named in (
        ({"method": "guarded"}, f"method 'guarded' (__main__:Guarded) {guard}"),
        ({"method": "__main__:Guarded"}, f"'__main__:Guarded' {guard}"),
        (
            {"method": "dtc", "params": dtc_params},
            f"loss 'guarded_loss' (__main__:GuardedLoss) {guard}",
        ),
        (
            {"method": "local"},
            "method 'local' (__main__:make.<locals>.Local) is defined inside a function",
        ),
    ):
        cfg = load_config({**CONFIG, "methods": {"m": method}}, ["seeds=[0]"])
        with pytest.raises(ValueError, match=rf"^{re.escape(named)}, and the worker processes"):
            run_experiment(cfg, tmp_path / "out", jobs=2, progress=False)
        assert not (tmp_path / "out").exists()
        with pytest.raises(ValueError, match="define it in a module file the workers import"):
            list(backends.run_tasks(expand(cfg), jobs=2))
    # defined at the top level, or bound outside the guard: the workers have them
    for name in ("top", "otherwise", "__main__:Top"):
        cfg = load_config({**CONFIG, "methods": {"m": {"method": name}}}, ["seeds=[0]"])
        backends.check_workers_can_import(expand(cfg), 2, "local")
    methods_ = {"g": {"method": "guarded"}, "l": {"method": "local"}}
    cfg = load_config({**CONFIG, "methods": methods_}, ["seeds=[0]"])
    summary = run_experiment(cfg, tmp_path / "out", jobs=1, progress=False)
    assert summary.finished == 2 and not summary.errors


def test_a_worker_that_cannot_load_a_registered_class_says_so(monkeypatch, guarded_script):
    """The backstop behind the check above: a worker that could not unpickle a class the
    sweep registered (here: the guard's class, gone from the worker's __main__) failed its
    runs as "the code changed since the sweep was planned"; it names the class and why."""
    from dtc import methods
    from dtc.experiment import backends

    monkeypatch.setattr(backends, "_UNLOADED", {}, raising=False)  # what this test notes
    task = expand(load_config({**CONFIG, "methods": {"g": {"method": "guarded"}}}, ["seeds=[0]"]))
    registered = backends.registrations()
    # the worker: its __main__ skipped the guard, and the name is not registered there
    monkeypatch.delattr(guarded_script, "Guarded")
    del methods._METHODS._registered["guarded"]
    with pytest.raises(ValueError) as raised:
        backends.execute(task[0].to_dict(), None, registered)
    assert str(raised.value).startswith(
        "method 'guarded' (__main__:Guarded) was registered in the sweep's process, but this "
        "worker process could not load its class (AttributeError: "
    )
    assert "define it in a module file the workers import (at its top level, not a " in str(
        raised.value
    )


def test_a_class_of_a_packages_main_module_is_refused_before_the_sweep(
    tmp_path, guarded_script, monkeypatch
):
    """multiprocessing's spawn does not import a package's __main__ (``python -m pkg``) in
    its workers: a class at its top level passed the check, and every run failed, advised to
    define the class at the top level of a module file, where it was."""
    import importlib.machinery

    from dtc.experiment import backends

    spec = importlib.machinery.ModuleSpec("pkg.__main__", None, origin=guarded_script.__file__)
    monkeypatch.setattr(guarded_script, "__spec__", spec, raising=False)
    cfg = load_config({**CONFIG, "methods": {"m": {"method": "top"}}}, ["seeds=[0]"])
    named = "method 'top' (__main__:Top) is defined in pkg.__main__ (run as python -m pkg)"
    with pytest.raises(ValueError, match=rf"^{re.escape(named)}, a module spawned processes skip"):
        backends.check_workers_can_import(expand(cfg), 2, "local")
    backends.check_workers_can_import(expand(cfg), 1, "local")  # one process: it runs here
    # nested in a class of it: there too
    outer = type("Outer", (), {"__module__": "__main__"})
    outer.Inner = type("Inner", (guarded_script.Top,), {"__module__": "__main__"})
    outer.Inner.__qualname__ = "Outer.Inner"
    monkeypatch.setattr(guarded_script, "Outer", outer, raising=False)
    reason = backends._unloadable_reason("__main__", "Outer.Inner", outer.Inner)
    assert reason.startswith("is defined in pkg.__main__")
    # a class that only names __main__ (it is not there): not the package's to blame
    stray = type("Stray", (guarded_script.Top,), {"__module__": "__main__"})
    reason = backends._unloadable_reason("__main__", "Stray", stray)
    assert reason.startswith("cannot be pickled")


def test_the_progress_bar_leaves_stdout_alone_on_a_terminal(monkeypatch):
    # rich swapped sys.stdout for its console (stderr) while a bar was live on a terminal:
    # `dtc run CONFIG --json` in a terminal sent its records to stderr
    import sys

    from rich.console import Console

    from dtc.experiment import runner
    from dtc.nn import training

    monkeypatch.setattr(runner, "Console", lambda **kw: Console(**kw, force_terminal=True))
    stdout = sys.stdout
    with runner._progress(True) as bar:
        bar.add_task("runs", total=1)
        assert sys.stdout is stdout
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    import rich.console

    monkeypatch.setattr(
        rich.console, "Console", lambda **kw: Console(**kw, force_terminal=True), raising=True
    )
    with training.progress_bar(verbose=1) as bar:
        assert sys.stdout is stdout


def test_a_method_calling_sys_exit_fails_its_run_alone_in_a_serial_sweep(tmp_path, monkeypatch):
    # jobs=1 caught Exception only: a method's sys.exit(3) ended the sweep with code 3,
    # unreported, at every rerun (a worker of jobs=2 reported it and went on)
    from baselines.kmeans import TargetKMeans

    def fit(self, pair):
        if self.n_init == 2:
            raise SystemExit(3)
        return original(self, pair)

    original = TargetKMeans._fit
    monkeypatch.setattr(TargetKMeans, "_fit", fit)
    cfg = load_config(CONFIG, ["methods.km.grid.n_init=[1,2,3]", "seeds=[0]"])
    summary = run_experiment(cfg, tmp_path, progress=False, jobs=1)
    assert summary.finished == 2 and len(summary.errors) == 1
    assert summary.errors[0][2] == "SystemExit: 3"


def test_errors_file_keeps_the_last_failure_of_each_run_still_unfinished(tmp_path, monkeypatch):
    # every failure ever stayed, those a later run fixed and each retry's: dtc report then
    # warned of failed runs when every run had finished
    from baselines.kmeans import TargetKMeans

    original, failing = TargetKMeans._fit, {"on": True}

    def fit(self, pair):
        if failing["on"] and self.n_init == 2:
            raise RuntimeError("flaky")
        return original(self, pair)

    monkeypatch.setattr(TargetKMeans, "_fit", fit)
    cfg = load_config(CONFIG, ["methods.km.grid.n_init=[1,2]", "seeds=[0]"])
    for _ in range(2):
        run_experiment(cfg, tmp_path, progress=False)
    assert len(_lines(tmp_path / "errors.jsonl")) == 1  # two failures of one run: the last
    failing["on"] = False
    assert run_experiment(cfg, tmp_path, progress=False).finished == 1
    assert not (tmp_path / "errors.jsonl").exists()


def test_a_failure_the_same_cell_now_runs_otherwise_is_dropped_from_errors(tmp_path, monkeypatch):
    # A researcher fixes the failing row (its params, or their loss's code: a new run id
    # in the same table cell). The old failure could never finish "since", so it stayed in
    # errors.jsonl for good, and dtc report warned of failed runs in a complete folder.
    from baselines.kmeans import TargetKMeans

    original = TargetKMeans._fit

    def fit(self, pair):
        if self.max_iter == 50 and self.seed in (1, 2):
            raise RuntimeError("diverged")
        return original(self, pair)

    monkeypatch.setattr(TargetKMeans, "_fit", fit)
    cfg = load_config(CONFIG, ["seeds=[0,1]"])
    assert run_experiment(cfg, tmp_path, progress=False).finished == 1
    assert [e["spec"]["seed"] for e in _lines(tmp_path / "errors.jsonl")] == [1]
    # another sweep's failure in this folder (another config's cell) is not this one's to drop
    other = load_config({**CONFIG, "name": "other"}, ["seeds=[2]"])
    run_experiment(other, tmp_path, progress=False)
    assert len(_lines(tmp_path / "errors.jsonl")) == 2
    fixed = load_config(CONFIG, ["seeds=[0,1]", "methods.km.params.max_iter=60"])
    summary = run_experiment(fixed, tmp_path, progress=False)
    assert summary.errors == []
    assert [(e["config_name"], e["spec"]["seed"]) for e in _lines(tmp_path / "errors.jsonl")] == [
        ("other", 2)
    ]


def test_a_method_interrupting_itself_in_a_lone_worker_fails_its_run_alone(tmp_path, monkeypatch):
    # The retry path after a dead worker re-raised the worker's KeyboardInterrupt here: the
    # sweep stopped as if the user had pressed Ctrl-C
    from dtc.experiment.backends import _one_at_a_time

    plugin = KILLER.replace("os.kill(os.getpid(), signal.SIGKILL)", "raise KeyboardInterrupt")
    (tmp_path / "dtc_interrupting_plugin.py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    config = {**CONFIG, "methods": {"k": {"method": "dtc_interrupting_plugin:DiesOnSeed1"}}}
    tasks = expand(load_config(config, ["seeds=[1,2]"]))
    out = list(_one_at_a_time(tasks, None, 1))
    assert [error for _, _, error in out] == ["KeyboardInterrupt", None]
    assert out[1][1]["seed"] == 2


def _worker_threads():
    from threadpoolctl import threadpool_info

    return sorted({d["num_threads"] for d in threadpool_info()})


def test_a_worker_limits_the_thread_pools_already_loaded():
    # The *_NUM_THREADS variables are set in the worker after unpickling its initializer
    # had loaded numpy's OpenBLAS and scikit-learn's OpenMP: those kept one thread per core
    # in every worker (2 workers on 2 cores: 4 threads).
    from dtc.experiment.backends import _pool

    with _pool(2, 1) as pool:
        assert pool.submit(_worker_threads).result() == [1]


def test_notes_a_description_adds_do_not_make_a_run_stale():
    # an object's "unreadable" arguments, and a set older code described as an object
    # builtins:set with no items: finished runs were run again, "a default changed"
    from dtc.experiment.runner import _same_params

    loss = {"object": "dtc.align.mmd:MMDLoss", "params": {"estimator": "unbiased"}}
    noted = {**loss, "unreadable": ["scales"]}
    assert _same_params({"loss": noted, "k": 3}, {"loss": loss, "k": 3})
    assert not _same_params({"loss": noted, "k": 3}, {"loss": loss, "k": 4})
    # a NaN parameter is recorded as null (strict JSON): the same run, not a stale one
    assert _same_params({"tol": float("nan")}, {"tol": None})
    old_set = {"object": "builtins:set", "params": {}}
    assert _same_params({"drop": [2, 10]}, {"drop": old_set})
    assert not _same_params({"drop": None}, {"drop": old_set})  # no longer a set: changed
    assert not _same_params({"drop": [2, 10]}, {"drop": [2, 11]})
    # compared as JSON text, as before: 1 and 1.0, True and 1 are other parameters
    assert not _same_params({"x": 1}, {"x": 1.0}) and not _same_params({"x": True}, {"x": 1})
    # a method's own parameter named "unreadable" is compared as any other
    assert not _same_params({"unreadable": 1}, {"unreadable": 2})
