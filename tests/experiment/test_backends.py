"""The Ray backend, run against a stand-in ``ray`` module that executes each task in
this process: the real extra is optional and not installed for the suite. The stand-in
pickles every task's arguments, as Ray ships them to its workers."""

import pickle
import sys

import numpy as np
import pytest

from dtc import methods
from dtc.experiment.config import expand, load_config
from dtc.experiment.runner import run_experiment
from dtc.experiment.store import read_records
from dtc.methods import TransferClusterer

CONFIG = {
    "name": "tiny",
    "benchmarks": [{"benchmark": "digits", "data": {"shift": 0.5}}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1, "max_iter": 50}}},
    "seeds": [0, 1, 2],
}


class TaskError(Exception):
    """What Ray's ``get`` raises for a task that failed: the task's own error is its
    ``cause`` (as ``ray.exceptions.RayTaskError``)."""

    def __init__(self, cause):
        super().__init__(f"task failed: {cause!r}")
        self.cause = cause


class FakeRay:
    """Enough of ``ray`` for :func:`dtc.experiment.backends._ray`. Tasks run when they are
    submitted; ``wait`` hands them back newest first, so completion order differs from
    submission order as it does on a cluster."""

    def __init__(self, initialized=False, interrupt_at=None):
        self.initialized = initialized
        self.interrupt_at = interrupt_at  # a Ctrl-C at this submission (1-based)
        self.calls = []
        self.outcomes = {}  # ref -> (result, exception)
        self.cancelled = []

    def is_initialized(self):
        return self.initialized

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        self.initialized = True

    def shutdown(self):
        self.calls.append(("shutdown",))
        self.initialized = False

    def remote(self, **options):
        self.calls.append(("remote", options))

        def wrap(function):
            fake = self

            class Remote:
                @staticmethod
                def remote(*args):
                    if len(fake.outcomes) + 1 == fake.interrupt_at:
                        raise KeyboardInterrupt
                    args = pickle.loads(pickle.dumps(args))  # what crosses to a worker
                    ref = object()
                    try:
                        fake.outcomes[ref] = (function(*args), None)
                    except Exception as exc:
                        fake.outcomes[ref] = (None, exc)
                    return ref

            return Remote

        return wrap

    def wait(self, refs, num_returns=1):
        return refs[-num_returns:], refs[:-num_returns]

    def get(self, ref):
        result, exc = self.outcomes[ref]
        if exc is not None:
            raise TaskError(exc)
        return result

    def cancel(self, ref, **kwargs):
        self.cancelled.append(ref)


def _metrics_by_run(folder):
    return {r["run_id"]: r["metrics"] for r in read_records(folder / "results.jsonl")}


def test_ray_runs_every_task_as_the_local_backend_does(tmp_path, monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    config = load_config(CONFIG)
    summary = run_experiment(config, tmp_path / "ray", backend="ray", jobs=2, progress=False)
    assert (summary.finished, summary.errors) == (3, [])
    # a Ray instance started here, with --jobs CPUs and one CPU a run, is shut down after
    assert fake.calls[0] == (
        "init",
        {"num_cpus": 2, "log_to_driver": False, "include_dashboard": False},
    )
    assert ("remote", {"num_cpus": 1}) in fake.calls and fake.calls[-1] == ("shutdown",)
    run_experiment(config, tmp_path / "local", progress=False)
    assert _metrics_by_run(tmp_path / "ray") == _metrics_by_run(tmp_path / "local")
    # the results file keeps the config's order whatever the completion order
    rows = read_records(tmp_path / "ray" / "results.jsonl")
    assert [r["seed"] for r in rows] == [0, 1, 2]


def test_ray_connects_to_a_cluster_and_leaves_a_running_instance_alone(tmp_path, monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    config = load_config(CONFIG, ["seeds=1"])
    run_experiment(config, tmp_path / "a", backend="ray", address="auto", progress=False)
    assert fake.calls[0] == (
        "init",
        {"address": "auto", "log_to_driver": False, "include_dashboard": False},
    )
    # ray.init() already called by the user (a notebook): neither started nor shut down
    fake = FakeRay(initialized=True)
    monkeypatch.setitem(sys.modules, "ray", fake)
    summary = run_experiment(config, tmp_path / "b", backend="ray", progress=False)
    assert summary.finished == 1
    assert [c[0] for c in fake.calls] == ["remote"] and fake.initialized


class Unpicklable(Exception):
    def __init__(self, code, detail):  # the pickled exception cannot be rebuilt
        super().__init__(f"{code}: {detail}")


class Failing(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        if self.seed == 1:
            raise Unpicklable(7, "the method's own error")
        self.labels_ = np.arange(pair.target.n_samples) % 2


def test_a_failed_ray_task_is_reported_with_the_runs_own_error(tmp_path, monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setitem(methods._METHODS._registered, "failing", Failing)
    config = load_config({**CONFIG, "methods": {"f": {"method": "failing"}}})
    summary = run_experiment(config, tmp_path, backend="ray", progress=False)
    assert summary.finished == 2
    [(run_id, label, error)] = summary.errors
    assert label.startswith("f")
    # the run's error as text (RunError, made in the worker), not Ray's wrapper
    assert error == "test_backends.Unpicklable: 7: the method's own error"
    [row] = read_records(tmp_path / "errors.jsonl")
    assert (row["run_id"], row["error"]) == (run_id, error)


def test_an_interrupted_ray_sweep_cancels_its_pending_tasks(tmp_path, monkeypatch):
    # Ctrl-C in a notebook with ray.init() already called: the sweep's other tasks kept
    # running on the cluster, their results thrown away
    from dtc.experiment.backends import run_tasks

    fake = FakeRay(initialized=True)
    monkeypatch.setitem(sys.modules, "ray", fake)
    tasks = expand(load_config(CONFIG))
    results = run_tasks(tasks, backend="ray")
    task, record, error = next(results)
    assert error is None and record["run_id"] == task.run_id
    results.close()
    assert len(fake.cancelled) == 2 and fake.calls == [("remote", {"num_cpus": 1})]
    # interrupted while it submits: the tasks already sent are cancelled
    fake = FakeRay(initialized=True, interrupt_at=3)
    monkeypatch.setitem(sys.modules, "ray", fake)
    with pytest.raises(KeyboardInterrupt):
        next(run_tasks(tasks, backend="ray"))
    assert fake.cancelled == list(fake.outcomes) and len(fake.cancelled) == 2


def test_ray_without_the_extra_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RuntimeError, match=r"--backend ray needs the optional extra"):
        run_experiment(load_config(CONFIG), tmp_path, backend="ray", progress=False)
    assert not tmp_path.joinpath("results.jsonl").exists()
