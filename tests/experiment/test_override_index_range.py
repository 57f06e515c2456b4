"""An override's list index out of range names every index taken: the negative ones
(from the end) are taken too, while the message said "in 0..len-1" only."""

import pytest

from dtc.experiment.config import load_config

BASE = {
    "name": "t",
    "benchmarks": ["digits"],
    "methods": {"km": {"method": "kmeans"}},
    "seeds": [0, 1],
}


@pytest.mark.parametrize("index", ["2", "-3"])
def test_an_index_out_of_range_names_the_negative_ones_too(index):
    with pytest.raises(
        ValueError,
        match=rf"seeds\.{index}: expected an index in 0\.\.1 or -2\.\.-1 \(from the end\)$",
    ):
        load_config(BASE, [f"seeds.{index}=5"])


@pytest.mark.parametrize(("index", "seeds"), [("-1", [0, 5]), ("-2", [5, 1]), ("1", [0, 5])])
def test_the_indices_named_are_taken(index, seeds):
    assert load_config(BASE, [f"seeds.{index}=5"]).raw["seeds"] == seeds
