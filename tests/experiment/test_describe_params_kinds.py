"""How a run record describes parameters no other test gave: a set of values that do not
compare (ordered by their JSON text, the same in every process), a mapping with non-text
keys, a NumPy array, and an object whose class has no readable ``__init__`` signature;
and mixed_platforms grouping records without a label by their method."""

import json

import numpy as np
import torch

from dtc.experiment.single import describe_params, mixed_platforms
from dtc.experiment.store import sorted_items
from dtc.methods import TransferClusterer


class _Params(TransferClusterer):
    def __init__(self, n_clusters=None, seed=0, choices=None, weights=None, table=None, cfg=None):
        self.n_clusters = n_clusters
        self.seed = seed
        self.choices = choices
        self.weights = weights
        self.table = table
        self.cfg = cfg

    def _fit(self, pair):
        self.labels_ = np.zeros(pair.target.n_samples, dtype=int)


def test_items_that_do_not_compare_are_ordered_by_their_json_text():
    # '"a"' < '1' < 'null'
    assert sorted_items([1, "a", None]) == sorted_items({None, 1, "a"}) == ["a", 1, None]
    assert sorted_items({3, 1, 2}) == [1, 2, 3]  # by value where they compare


def test_sets_mappings_arrays_and_signatureless_objects_as_plain_data():
    config = torch._C.BenchmarkConfig()  # pybind11: inspect reads no signature of __init__
    method = _Params(
        choices={None, 1, "a"},
        weights=np.array([[1, 2], [3, 4]], dtype=np.int64),
        table={2: np.int64(3), "x": (np.float32(0.5),)},
        cfg=config,
    )
    described = describe_params(method)
    assert described == {
        "n_clusters": None,
        "seed": 0,
        "choices": ["a", 1, None],
        "weights": [[1, 2], [3, 4]],
        "table": {"2": 3, "x": [0.5]},
        "cfg": {"object": "torch:BenchmarkConfig", "params": {}},
    }
    assert json.loads(json.dumps(described)) == described  # plain JSON


def test_records_without_a_label_are_grouped_by_method_for_their_thread_counts():
    def rec(method, threads):
        return {"method": method, "versions": {"torch_threads": threads}}

    one = "torch_cpu_capability=?, cpu_vendor=?, torch_threads=1"
    two = "torch_cpu_capability=?, cpu_vendor=?, torch_threads=2"
    assert mixed_platforms([rec("km", 1), rec("km", 2)]) == [one, two]
    # two methods at their own thread counts: no mix
    assert mixed_platforms([rec("km", 1), rec("dtc", 2)]) == []
