"""Documented config behaviour pinned by hand-made mutants of dtc.experiment.config."""

import pytest

from dtc.experiment.config import expand, load_config

BASE = {
    "name": "t",
    "benchmarks": [{"benchmark": "digits"}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1}}},
    "seeds": [0],
}


def test_an_int_n_of_seeds_means_the_seeds_0_to_n_minus_1():
    # the module docstring: `seeds: [0, 1, 2]  # or an int n meaning [0, ..., n-1]`
    cfg = load_config({**BASE, "seeds": 3})
    assert cfg.raw["seeds"] == [0, 1, 2]
    assert [t.spec.seed for t in expand(cfg)] == [0, 1, 2]


def test_an_override_of_a_list_index_one_past_the_end_names_the_valid_range():
    # `_list_index`: an index outside 0..len-1 is a ValueError naming the range, not an
    # IndexError traceback
    with pytest.raises(ValueError, match=r"benchmarks\.1: expected an index in 0\.\.0"):
        load_config(BASE, ["benchmarks.1.data.shift=0.9"])
    with pytest.raises(ValueError, match=r"seeds\.1: expected an index in 0\.\.0"):
        load_config(BASE, ["seeds.1=5"])


def test_a_set_of_strings_is_hashed_in_sorted_order_whatever_the_hash_seed():
    # a set's iteration order follows PYTHONHASHSEED: run ids of a resumed sweep (another
    # process) must not change with it, so its items are written sorted
    from dtc.experiment.config import _id_text

    assert _id_text({"gamma", "alpha", "beta"}) == "{'alpha', 'beta', 'gamma'}"
    assert _id_text(frozenset({"b", "a"})) == "{'a', 'b'}"


def test_a_task_survives_its_round_trip_to_a_worker():
    # backends send Task.to_dict() to a worker, which rebuilds it with from_dict; the
    # record it makes carries the task's grid, label, config name and imbalance flag
    from dtc.experiment.config import Task

    cfg = load_config(
        {
            **BASE,
            "name": "rt",
            "methods": {"km": {"method": "kmeans", "grid": {"n_init": [1, 2]}}},
            "metrics": ["imbalance"],
        }
    )
    for task in expand(cfg):
        back = Task.from_dict(task.to_dict())
        assert back == task and back.run_id == task.run_id
        assert back.grid == {"n_init": task.spec.params["n_init"]}
