"""dtc._plugins: a default argument holding an address (a function, a sentinel) is written
by name or type, in a dict too; sets of strings five levels deep are past the depth read;
a class whose signature cannot be read takes no seed arguments."""

from __future__ import annotations

import torch.nn.functional as F

from dtc._plugins import _value_text, hash_ordered, run_seed_arguments


def test_functions_by_name_and_other_objects_by_type():
    assert _value_text(F.relu) == "torch.nn.functional.relu"
    assert _value_text(object()) == "<builtins.object>"
    assert _value_text({"act": F.relu, "n": 2}) == "{'act': torch.nn.functional.relu, 'n': 2}"


def test_hash_ordered_reads_four_levels_deep():
    assert hash_ordered([[[[{"a", "b"}]]]]) is True
    assert hash_ordered([[[[[{"a", "b"}]]]]]) is False


def test_a_class_without_a_signature_takes_no_seed_arguments():
    assert run_seed_arguments(dict, {}, 3) == {}  # inspect.signature(dict): ValueError
