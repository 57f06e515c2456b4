"""An override's list index that is no integer is refused naming the override: "--1"
and "²" passed str.isdigit, and int() then failed in Python's words, naming nothing."""

import pytest

from dtc.experiment.config import load_config

BASE = {
    "name": "t",
    "benchmarks": ["digits"],
    "methods": {"km": {"method": "kmeans"}},
    "seeds": [0, 1],
}


@pytest.mark.parametrize("index", ["--1", "²", "-"])
def test_an_index_that_is_no_integer_names_the_override(index):
    with pytest.raises(ValueError, match=rf"^override seeds\.{index}: expected an index in 0\.\.1"):
        load_config(BASE, [f"seeds.{index}=5"])
