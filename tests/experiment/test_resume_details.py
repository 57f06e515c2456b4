"""Details of a resume that the sweep tests do not reach: which failures errors.jsonl keeps
and in what order, and which records lack the metrics their task asks for."""

import json
from pathlib import Path

import pytest

from dtc.experiment.config import expand, load_config
from dtc.experiment.runner import _prune_errors, _stale_reason

CONFIG = {
    "name": "tiny",
    "benchmarks": [{"benchmark": "digits", "data": {"shift": 0.5}}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1, "max_iter": 50}}},
    "seeds": [0, 1],
}


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _error(task, message: str) -> dict:
    # as run_experiment writes a failed run
    return {"run_id": task.run_id, "label": task.label, "error": message, **task.to_dict()}


def test_errors_keep_the_order_of_each_runs_last_failure(tmp_path):
    tasks = expand(load_config(CONFIG))
    first, second = tasks
    _write(
        tmp_path / "errors.jsonl",
        [_error(first, "old"), _error(second, "other"), _error(first, "new")],
    )
    _prune_errors(tmp_path, tasks)
    kept = _lines(tmp_path / "errors.jsonl")
    assert [(e["run_id"], e["error"]) for e in kept] == [
        (second.run_id, "other"),
        (first.run_id, "new"),
    ]


def test_failures_without_a_run_id_are_all_kept_beside_records_without_one(tmp_path):
    # an older errors line has no run_id; a results record without one (hand-made, or
    # another tool's) must not make it count as a run finished since
    tasks = expand(load_config(CONFIG))
    _write(tmp_path / "results.jsonl", [{"method": "kmeans", "metrics": {"acc": 0.5}}])
    old = [{"label": "km", "error": "ValueError: one"}, {"label": "km", "error": "ValueError: two"}]
    _write(tmp_path / "errors.jsonl", old)
    _prune_errors(tmp_path, tasks)
    assert _lines(tmp_path / "errors.jsonl") == old


def test_a_record_with_only_some_imbalance_metrics_is_run_again():
    (task, _) = expand(load_config(CONFIG, ["metrics=[imbalance]"]))
    assert task.imbalance
    record = {"run_id": task.run_id, "metrics": {"acc": 0.5, "macro_f1": 0.4}}
    assert _stale_reason(record, task, set(), lambda t: None) == "metric"
    complete = {
        "run_id": task.run_id,
        "metrics": {"acc": 0.5, "macro_f1": 0.4, "balanced_acc": 0.4, "min_recall": 0.1},
    }
    complete["metrics"]["minority_recall"] = 0.1
    assert _stale_reason(complete, task, set(), lambda t: None) is None


def test_a_methods_own_data_wins_over_the_benchmarks_data_grid():
    # "A method's own data settings win over the benchmark's and its grid point's"
    config = {
        **CONFIG,
        "benchmarks": [{"benchmark": "digits", "grid": {"shift": [0.3, 0.7]}}],
        "methods": {
            "km": {"method": "kmeans", "params": {"n_init": 1}},
            "own": {"method": "kmeans", "params": {"n_init": 1}, "data": {"shift": 0.4}},
        },
        "seeds": [0],
    }
    shifts = {}
    for task in expand(load_config(config)):
        shifts.setdefault(task.label, []).append(task.spec.data_params["shift"])
    assert shifts == {"km": [0.3, 0.7], "own": [0.4, 0.4]}


def test_the_largest_seed_is_accepted():
    (seed,) = load_config(CONFIG, [f"seeds=[{2**32 - 1}]"]).raw["seeds"]
    assert seed == 2**32 - 1


def test_a_reused_run_takes_its_tasks_grid_when_the_sweep_runs_another(tmp_path):
    # n_init moved from the row's params to its grid: the same run (the grid is not in the
    # run id), reused; the sweep that runs a new seed rewrites the file in the config's
    # order, and the reused record gets the grid of its task, as the new one has it
    from dtc.experiment.runner import run_experiment

    run_experiment(load_config(CONFIG, ["seeds=[0]"]), tmp_path, progress=False)
    moved = {
        **CONFIG,
        "methods": {
            "km": {"method": "kmeans", "params": {"max_iter": 50}, "grid": {"n_init": [1]}}
        },
    }
    summary = run_experiment(load_config(moved), tmp_path, progress=False)
    assert (summary.skipped, summary.finished, summary.stale) == (1, 1, 0)
    assert [r["grid"] for r in _lines(tmp_path / "results.jsonl")] == [{"n_init": 1}] * 2


def test_a_reused_run_takes_its_tasks_grid_when_the_sweep_runs_nothing(tmp_path):
    # the same move, and a sweep that reuses every run: the old grid stayed in the file
    # (until a later sweep ran something), and a report without --config split the row
    from dtc.experiment.runner import run_experiment

    run_experiment(load_config(CONFIG, ["seeds=[0]"]), tmp_path, progress=False)
    moved = {
        **CONFIG,
        "methods": {
            "km": {"method": "kmeans", "params": {"max_iter": 50}, "grid": {"n_init": [1]}}
        },
    }
    summary = run_experiment(load_config(moved, ["seeds=[0]"]), tmp_path, progress=False)
    assert (summary.skipped, summary.finished, summary.stale) == (1, 0, 0)
    assert [r["grid"] for r in _lines(tmp_path / "results.jsonl")] == [{"n_init": 1}]


def test_a_grid_update_in_place_keeps_each_record_its_own(tmp_path):
    # two records of one run (a file put together by hand): the update in place wrote the
    # last one over the first
    from dtc.experiment.runner import _in_task_order

    tasks = expand(load_config(CONFIG))
    path = tmp_path / "results.jsonl"
    records = [
        {"run_id": tasks[0].run_id, "metrics": {"acc": 0.1}},
        {"run_id": tasks[0].run_id, "metrics": {"acc": 0.2}},
        {"metrics": {"acc": 0.3}},  # no run id: another tool's
        {"run_id": tasks[1].run_id, "metrics": {"acc": 0.4}},
    ]
    _write(path, records)
    _in_task_order(path, tasks, unless_ordered=True)
    kept = _lines(path)
    assert [r["metrics"]["acc"] for r in kept] == [0.1, 0.2, 0.3, 0.4]
    assert [r.get("grid") for r in kept] == [{}, {}, None, {}]


def test_a_sweep_that_only_reads_its_results_file_needs_no_write_access(tmp_path):
    # the reordering's lock opened it for writing: a read-only results file of a sweep
    # with nothing to run failed with "Operation not permitted"
    import os

    from dtc.experiment.runner import run_experiment

    run_experiment(load_config(CONFIG), tmp_path, progress=False)
    path = tmp_path / "results.jsonl"
    os.chmod(path, 0o444)
    try:
        if os.access(path, os.W_OK):  # root writes anyway: the open itself is the check
            flags = []
            real_open = os.open

            def spy(file, mode, *args, **kwargs):
                if os.fspath(file) == os.fspath(path):
                    flags.append(mode)
                return real_open(file, mode, *args, **kwargs)

            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(os, "open", spy)
                summary = run_experiment(load_config(CONFIG), tmp_path, progress=False)
            assert flags and all(mode & (os.O_WRONLY | os.O_RDWR) == 0 for mode in flags)
        else:
            summary = run_experiment(load_config(CONFIG), tmp_path, progress=False)
        assert (summary.skipped, summary.finished) == (2, 0)
    finally:
        os.chmod(path, 0o644)


def test_a_rewritten_results_file_keeps_its_permissions(tmp_path):
    # written anew and moved into place: a results file made read-only came back 0644
    import os
    import stat

    from dtc.experiment.runner import run_experiment

    run_experiment(load_config(CONFIG, ["seeds=[0]"]), tmp_path, progress=False)
    path = tmp_path / "results.jsonl"
    os.chmod(path, 0o444)
    moved = {
        **CONFIG,
        "methods": {
            "km": {"method": "kmeans", "params": {"max_iter": 50}, "grid": {"n_init": [1]}}
        },
    }
    try:
        run_experiment(load_config(moved, ["seeds=[0]"]), tmp_path, progress=False)
        assert [r["grid"] for r in _lines(path)] == [{"n_init": 1}]  # rewritten
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    finally:
        os.chmod(path, 0o644)


def test_an_overrides_key_is_read_without_the_spaces_around_it():
    from dtc.experiment.config import parse_overrides

    assert parse_overrides(["seeds = [0, 1]", " methods.km.n_init =2"]) == [
        (["seeds"], [0, 1]),
        (["methods", "km", "n_init"], 2),
    ]


def test_an_override_names_the_longest_label_it_starts_with():
    from dtc.experiment.config import parse_overrides

    for labels in (["a", "a.b"], ["a.b", "a"]):
        assert parse_overrides(["methods.a.b.n_init=3"], labels) == [
            (["methods", "a.b", "n_init"], 3)
        ]


def test_a_plugin_named_inside_a_tuple_is_hashed(tmp_path, monkeypatch):
    # a config built in Python may give a parameter a tuple (an ensemble's members)
    from dtc.experiment.config import plugin_code

    (tmp_path / "dtc_tuple_plugin.py").write_text("class Loss:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    as_list = plugin_code({"members": ["dtc_tuple_plugin:Loss"]})
    assert list(as_list) == ["dtc_tuple_plugin:Loss"]
    assert plugin_code({"members": ("dtc_tuple_plugin:Loss",)}) == as_list


def test_a_list_parameter_that_grew_is_another_parameter():
    from dtc.experiment.runner import _same_params

    assert _same_params([256, 128], [256, 128])
    assert not _same_params([256, 128, 64], [256, 128])
    assert not _same_params([256], [256, 128])


def test_the_data_fingerprint_tells_the_shape_of_the_same_bytes():
    import numpy as np

    from dtc.data import Domain, DomainPair
    from dtc.experiment.single import data_fingerprint

    def pair(X):
        source = Domain(np.ones((4, 2), np.float32), np.arange(4) % 2)
        return DomainPair(source, Domain(X), heterogeneous=True)  # an unlabelled target

    X = np.arange(8, dtype=np.float32).reshape(4, 2)
    same = data_fingerprint(pair(X))
    assert data_fingerprint(pair(X.copy())) == same
    assert data_fingerprint(pair(X.reshape(2, 4))) != same


def test_a_run_whose_data_cannot_be_loaded_here_is_not_checked_against_it(monkeypatch):
    # a file missing, or not the release's (ValueError): the run is kept, not a traceback
    from dtc.experiment import runner

    (task, _) = expand(load_config(CONFIG))
    for error in (FileNotFoundError("gone"), ValueError("not the release's file")):

        def load(spec, data_dir=None, error=error):
            raise error

        monkeypatch.setattr(runner, "load_spec_pair", load)
        assert runner._data_sha(None)(task) is None


def test_a_results_file_ending_in_a_carriage_return_is_appended_to_without_a_word(tmp_path):
    import warnings

    from dtc.experiment.store import append_record, read_records

    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"run_id": "a"}\r')  # a line end read as one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        append_record(path, {"run_id": "b"})
    assert [r["run_id"] for r in read_records(path)] == ["a", "b"]


def test_a_cell_of_an_unranked_row_is_never_the_best():
    from dtc.experiment.report import Cell, ResultTable

    cells = {"A": {"x": Cell([50.0])}, "B": {"x": Cell([50.0])}}
    table = ResultTable("acc", ["A", "B"], ["x"], cells, unranked=frozenset({"B"}))
    assert table.is_best(cells["A"]["x"], "x", "A")
    assert not table.is_best(cells["B"]["x"], "x", "B")


def test_a_runs_line_names_only_the_data_values_that_vary(tmp_path, capsys):
    from dtc.experiment.runner import run_experiment

    config = {**CONFIG, "benchmarks": [{"benchmark": "digits", "data": {"shift": 0.3}}]}
    run_experiment(load_config(config, ["seeds=[0]"]), tmp_path, progress=None)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tiny:")]
    assert lines == ["tiny: 1/1 km digits source->target seed 0: done"]


def test_a_score_a_hair_below_a_tie_rounds_as_the_tie():
    # rounded to nine places first: a sum's binary error does not move the shown decimal
    from dtc.experiment.report import score_text

    assert score_text(80.85 - 1e-12) == score_text(80.85) == "80.9"
    assert score_text(80.85 - 1e-6) == "80.8"


def test_an_empty_grid_list_is_refused_not_a_row_without_runs():
    with pytest.raises(ValueError, match="non-empty list"):
        load_config(CONFIG, ["methods.km.grid.n_init=[]"])


def test_an_empty_dtc_results_counts_as_unset(monkeypatch):
    from dtc.experiment.config import default_out_dir

    monkeypatch.setenv("DTC_RESULTS", "")
    assert default_out_dir(load_config(CONFIG)).parts[-2:] == ("results", "tiny")


def test_equal_per_seed_scores_are_never_separated():
    from dtc.experiment.leaderboard import _separated

    same = {0: 0.5, 1: 0.6, 2: 0.7}
    assert not _separated(same, dict(same))


def test_leaderboard_losses_are_named_without_the_spaces_around_them():
    from dtc.experiment.leaderboard import leaderboard_config

    config = leaderboard_config([" mmd", "coral ", " none "], quick=True)
    assert list(config.raw["methods"]) == ["mmd", "coral", "none"]
