"""dtc.nn.fingerprint.setting_text: the text of each kind of setting a checkpoint key holds,
and the settings it tells apart."""

from __future__ import annotations

import dataclasses
import functools

import torch
from torch import nn

from dtc.nn.fingerprint import module_fingerprint, setting_text


class Scale:
    """A callable setting (a kernel with ``__call__``), known by its attributes."""

    def __init__(self, s):
        self.s = s

    def __call__(self, x):
        return x * self.s


class Encoder(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.act = act

    def forward(self, x):
        return self.act(self.lin(x))


def _class_of_one_name(value):
    """A class ``Setting`` whose method returns ``value``, a constant of its code."""
    return type("Setting", (), {"f": eval(f"lambda self: {value!r}")})


def test_a_callable_object_is_known_by_its_class_and_attributes():
    assert setting_text(Scale(1.0)) == f"{setting_text(Scale)}(s=1.0)"
    assert setting_text(Scale(100.0)) == f"{setting_text(Scale)}(s=100.0)"
    torch.manual_seed(0)
    small = Encoder(Scale(1.0))
    torch.manual_seed(0)
    large = Encoder(Scale(100.0))
    x = torch.ones(1, 2)
    assert not torch.equal(small(x), large(x))  # two networks computing otherwise
    assert module_fingerprint(small) != module_fingerprint(large)
    torch.manual_seed(0)
    assert module_fingerprint(Encoder(Scale(1.0))) == module_fingerprint(small)


@dataclasses.dataclass(slots=True)
class Slotted:
    """A slotted dataclass: its fields are no ``__dict__`` entries."""

    weight: float


def test_a_slotted_dataclass_is_known_by_its_fields():
    # by its type alone, Slotted(1.0) and Slotted(100.0) were one setting
    assert not hasattr(Slotted(1.0), "__dict__")
    assert setting_text(Slotted(1.0)) == f"{setting_text(Slotted)}(weight=1.0)"
    assert setting_text(Slotted(1.0)) != setting_text(Slotted(100.0))


def _object_of_a_class_named_kernel(power):
    """An object of a class ``Kernel`` with one attribute, whose ``__call__`` raises to
    ``power``: two such classes share a name and the object's attributes."""
    cls = type("Kernel", (), {"__call__": eval(f"lambda self, x: x ** {power}")})
    obj = cls()
    obj.width = 1.0
    return obj


def test_plain_objects_of_two_classes_of_one_name_are_told_apart_by_the_code():
    square, cube = _object_of_a_class_named_kernel(2), _object_of_a_class_named_kernel(3)
    assert square(2.0) != cube(2.0)
    assert setting_text(square) != setting_text(cube)
    assert setting_text(square) == setting_text(_object_of_a_class_named_kernel(2))
    assert setting_text(square).endswith("(width=1.0)")


def test_a_class_of_a_users_by_its_code():
    # (by name, dtypes, devices, modules, depth, a wrapper loop, an empty cell and objects
    # without attributes: tests/nn/test_setting_text_by_hand.py)
    one, other = _class_of_one_name(1), _class_of_one_name(0)
    name = f"{__name__}.Setting["
    assert setting_text(one).startswith(name) and setting_text(other).startswith(name)
    assert setting_text(one) != setting_text(other)  # the code differs
    assert setting_text(one) == setting_text(_class_of_one_name(1))


def test_a_partial_by_its_function():
    assert setting_text(functools.partial(max, 1)).startswith("partial(builtins.max")


@dataclasses.dataclass
class Lazy:
    """A dataclass whose ``cache`` field (``init=False``) is set only when first used."""

    width: float
    cache: dict = dataclasses.field(init=False)


def test_a_dataclass_field_not_yet_set_is_named_unset():
    # getattr on the unset field raised AttributeError, failing the fit's checkpoint key
    assert setting_text(Lazy(2.0)) == f"{setting_text(Lazy)}(cache='<unset>', width=2.0)"
