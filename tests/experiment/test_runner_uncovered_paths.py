"""Runner paths no other test reached: a recorded parameter object with a key the config's
no longer has (stale, run again), a record whose spec's data_params is not a mapping
(refused by line, the file untouched), and MLflow's per-epoch history (one step each)."""

import contextlib
import json
import sys

import pytest

from dtc.experiment.config import load_config
from dtc.experiment.runner import _same_params, run_experiment

CONFIG = {
    "name": "tiny",
    "benchmarks": [{"benchmark": "digits", "data": {"shift": 0.5}}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1, "max_iter": 50}}},
    "seeds": [0, 1],
}

HISTORY_PLUGIN = """
import numpy as np
from dtc.methods import TransferClusterer

class TwoEpochs(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        self.labels_ = np.arange(pair.target.n_samples) % 2
        self.history_ = [{"loss": 2.0, "stage": "pretrain"}, {"loss": 0.5}]
"""


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_parameter_objects_differ_by_their_keys_but_an_unreadable_note():
    recorded = {"object": "m:K", "params": {"gamma": 1.0}}
    assert not _same_params({"object": "m:K", "params": {"gamma": 1.0, "degree": 3}}, recorded)
    assert not _same_params({"gamma": 1.0}, {"gamma": 1.0, "degree": 3})
    # what a description adds without changing the run
    assert _same_params({**recorded, "unreadable": ["cache"]}, recorded)


def test_a_run_recorded_with_a_parameter_the_config_no_longer_has_is_run_again(tmp_path):
    cfg = load_config(CONFIG)
    run_experiment(cfg, tmp_path, progress=False)
    records = _lines(tmp_path / "results.jsonl")
    records[0]["params"]["extra"] = 1
    _write(tmp_path / "results.jsonl", records)
    summary = run_experiment(cfg, tmp_path, progress=False)
    assert (summary.skipped, summary.stale, summary.finished) == (1, 1, 1)
    assert _lines(tmp_path / "stale.jsonl") == [records[0]]
    again = _lines(tmp_path / "results.jsonl")
    assert sorted(r["seed"] for r in again) == [0, 1]
    assert all("extra" not in r["params"] for r in again)


def test_a_record_whose_data_params_is_not_a_mapping_is_refused_by_its_line(tmp_path):
    cfg = load_config(CONFIG)
    run_experiment(cfg, tmp_path, progress=False)
    records = _lines(tmp_path / "results.jsonl")
    records[1]["spec"]["data_params"] = [1]
    _write(tmp_path / "results.jsonl", records)
    before = (tmp_path / "results.jsonl").read_text()
    message = (
        f"{tmp_path / 'results.jsonl'}: line 2 is not a run record "
        "(its spec's 'data_params' is not a mapping)"
    )
    with pytest.raises(ValueError) as info:
        run_experiment(cfg, tmp_path, progress=False)
    assert str(info.value) == message
    assert (tmp_path / "results.jsonl").read_text() == before
    assert not (tmp_path / "stale.jsonl").exists()


class _StepMlflow:
    def __init__(self):
        self.runs = []

    def set_tracking_uri(self, uri):
        pass

    def set_experiment(self, name):
        pass

    def start_run(self, run_name):
        self.runs.append([])
        return contextlib.nullcontext()

    def set_tags(self, tags):
        pass

    def log_params(self, params):
        pass

    def log_metrics(self, metrics, step=None):
        self.runs[-1].append((step, dict(metrics)))


def test_mlflow_logs_each_epoch_of_the_history_at_its_step(tmp_path, monkeypatch):
    (tmp_path / "dtc_two_epochs_plugin.py").write_text(HISTORY_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = _StepMlflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    config = {
        **CONFIG,
        "methods": {"h": {"method": "dtc_two_epochs_plugin:TwoEpochs"}},
        "seeds": [0],
    }
    run_experiment(load_config(config), tmp_path / "out", progress=False, mlflow=True)
    (record,) = _lines(tmp_path / "out" / "results.jsonl")
    assert record["history"] == [{"loss": 2.0}, {"loss": 0.5}]  # numbers only
    (logged,) = fake.runs
    assert logged[0][0] is None and logged[0][1]["acc"] == record["metrics"]["acc"]
    assert logged[1:] == [(0, {"loss": 2.0}), (1, {"loss": 0.5})]
