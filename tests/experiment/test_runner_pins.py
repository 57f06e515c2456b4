"""Documented runner behaviour pinned by hand-made mutants of dtc.experiment.runner."""

from dtc.experiment.config import expand, load_config
from dtc.experiment.runner import _in_task_order
from dtc.experiment.store import read_records, write_records

CONFIG = {
    "name": "pins",
    "benchmarks": [{"benchmark": "digits"}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1}}},
    "seeds": [0, 1],
}


def test_a_sweep_that_ran_moves_other_configs_records_first_even_when_its_are_ordered(
    tmp_path,
):
    # _in_task_order: "records of other configs first, as they were"; only a sweep that ran
    # nothing (unless_ordered) leaves a file whose own records are in order as it is
    tasks = expand(load_config(CONFIG))
    path = tmp_path / "results.jsonl"
    other = {"run_id": "z", "config": "other"}
    records = [{"run_id": tasks[0].run_id}, other, {"run_id": tasks[1].run_id}]
    write_records(path, records)
    _in_task_order(path, tasks, unless_ordered=True)
    assert [r["run_id"] for r in read_records(path)] == [tasks[0].run_id, "z", tasks[1].run_id]
    _in_task_order(path, tasks)
    assert [r["run_id"] for r in read_records(path)] == ["z", tasks[0].run_id, tasks[1].run_id]


def test_a_target_without_labels_cannot_be_a_run(monkeypatch):
    # load_spec_pair: a run is scored on the target's labels; a pair whose target has none
    # is a ValueError naming the benchmark and the target, before any fit
    import numpy as np
    import pytest

    from dtc.data import Domain, DomainPair
    from dtc.experiment import single

    X = np.zeros((4, 2))
    pair = DomainPair(Domain(X, np.array([0, 1, 0, 1]), name="s"), Domain(X, name="t"))
    monkeypatch.setattr(single.data, "load_pair", lambda *args, **kwargs: pair)
    with pytest.raises(ValueError, match="benchmark 'digits': target 't' has no labels"):
        single.load_spec_pair(single.RunSpec("kmeans"))


def test_imbalance_data_parameters_reach_the_loader():
    # load_spec_pair: imbalance_ratio (and imbalance_seed, ...) go to load_pair as its
    # `imbalance`, which cuts the target (the source is left whole)
    from dtc.experiment import single

    balanced = single.load_spec_pair(single.RunSpec("kmeans"))
    spec = single.RunSpec("kmeans", data_params={"imbalance_ratio": 5, "imbalance_seed": 1})
    cut = single.load_spec_pair(spec)
    assert cut.target.meta["imbalance"]["ratio"] == 5
    assert len(cut.target.y) < len(balanced.target.y)
    assert len(cut.source.y) == len(balanced.source.y)


def test_a_serial_run_reads_the_data_dir_it_is_given_and_records_its_grid(monkeypatch, tmp_path):
    # run_tasks(data_dir=...) is where every run loads its pair from; execute() adds the
    # task's run_id, label, grid, config and spec to the record
    from dtc.experiment import backends, single

    seen = []

    def fake_run_single(spec, *, data_dir=None, imbalance=False):
        seen.append(data_dir)
        return {"metrics": {}}

    monkeypatch.setattr(single, "run_single", fake_run_single)
    cfg = load_config(
        {**CONFIG, "seeds": [0], "methods": {"km": {"method": "kmeans", "grid": {"n_init": [2]}}}}
    )
    (task,) = expand(cfg)
    ((ran, record, error),) = list(backends.run_tasks([task], data_dir=tmp_path))
    assert ran is task and error is None and seen == [str(tmp_path)]
    assert record["grid"] == {"n_init": 2} and record["run_id"] == task.run_id
    assert record["label"] == "km" and record["config"] == "pins"
