"""dtc.nn.fingerprint.setting_text on values no other test gave it: dtypes and devices,
containers past four levels, modules, classes, a function whose ``__wrapped__`` is itself,
a closure with an empty cell, an object without attributes."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from dtc.nn.fingerprint import class_code, setting_text


class _UsersClass:
    def method(self):
        return 1


def test_dtypes_and_devices_by_their_names():
    assert setting_text(torch.float32) == "torch.float32"
    assert setting_text(torch.int64) == "torch.int64"
    assert setting_text(torch.device("cpu")) == "cpu"
    assert setting_text(torch.device("cuda", 1)) == "cuda:1"


def test_containers_past_four_levels_and_modules_by_their_type():
    assert setting_text([[[[[1]]]]]) == "list[list[list[list[list]]]]"
    assert setting_text((1, [2, [3, [4, {5: 6}]]])) == "tuple[1, list[2, list[3, list[4, dict]]]]"
    assert setting_text(nn.Linear(2, 3)) == "Linear"  # its weights are the fingerprint's
    assert setting_text([nn.ReLU()]) == "list[ReLU]"


def test_a_class_by_its_name_and_a_users_class_also_by_its_code():
    assert setting_text(nn.Linear) == "torch.nn.modules.linear.Linear"
    assert setting_text(int) == "builtins.int"
    digest = hashlib.sha256(class_code(_UsersClass)).hexdigest()
    assert setting_text(_UsersClass) == f"{__name__}._UsersClass[{digest}]"


def test_a_function_wrapping_itself_is_read_as_itself():
    def fn(x):
        return x

    plain = setting_text(fn)
    fn.__wrapped__ = fn  # inspect.unwrap raises ValueError on the cycle
    assert setting_text(fn) == plain


def _never_bound():
    def inner():
        return late  # a cell never filled

    return inner
    late = 1  # unreachable: the cell stays empty


def test_a_closures_empty_cell_is_named_as_such():
    assert setting_text(_never_bound()).endswith("{tuple[None, None, tuple['<empty cell>']]}")


def test_an_object_without_attributes_by_its_type():
    assert setting_text(object()) == "object"
    assert setting_text(slice(1, 2)) == "slice"
