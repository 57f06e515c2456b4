"""Backend paths no other test reached: the names a script binds (and which of them only
under ``if __name__ == "__main__":``), by hand; a main script that cannot be read; the
run-time registrations when the loss registry was never imported; and a run's plugin
whose name is no longer registered (its file is still checked; no worker reason)."""

import ast
import importlib
import pickle
import sys
import types

import pytest

from dtc import methods
from dtc._plugins import file_hash
from dtc.experiment import backends

SCRIPT = """\
import os.path as p, sys
from a import b as c
x = 1
global g
for i in range(2):
    pass
if __name__ == "__main__":
    class A: pass
    y = 2
else:
    z = 3
try:
    pass
except ValueError as e:
    h = 1
finally:
    f = 1
match x:
    case 1:
        m = 1
if x > 1:
    q = 1
if "__main__" == __name__:
    r = 1
with open("f") as w:
    pass
a, (b, *d) = 1, (2, 3)
"""


def test_the_names_a_script_binds_and_which_only_under_the_main_guard():
    assert list(backends._bindings(ast.parse(SCRIPT).body)) == [
        ("p", False),
        ("sys", False),
        ("c", False),
        ("x", False),
        ("i", False),
        ("A", True),
        ("y", True),
        ("z", False),  # the guard's else runs in a worker
        ("f", False),
        ("h", False),
        ("m", False),
        ("q", False),  # another test than the guard
        ("r", True),  # the guard written the other way round
        ("w", False),
        ("a", False),
        ("b", False),
        ("d", False),
    ]


def test_a_main_script_that_cannot_be_read_guards_nothing(tmp_path, monkeypatch):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    main.__file__ = str(script)
    assert backends._main_guarded("A") and not backends._main_guarded("z")
    for file in (None, str(tmp_path / "missing.py"), str(tmp_path)):
        main.__file__ = file
        assert not backends._main_guarded("A"), file
    script.write_text("if __name__ == '__main__':\n    class A: pass\n  )\n")
    main.__file__ = str(script)
    assert not backends._main_guarded("A")


def test_registrations_skip_a_registry_never_imported(monkeypatch):
    monkeypatch.setattr(methods._METHODS, "_registered", {"my_km": "my_pkg.mod:KM"})
    monkeypatch.delitem(sys.modules, "dtc.align.registry", raising=False)
    assert backends.registrations() == [("dtc.methods", "my_km", pickle.dumps("my_pkg.mod:KM"))]


def test_a_plugin_no_longer_registered_is_checked_by_its_file(tmp_path, monkeypatch):
    path = tmp_path / "dtc_gone_loss_mod.py"
    path.write_text("class L:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dtc_gone_loss_mod", raising=False)
    importlib.import_module("dtc_gone_loss_mod")
    file_hash("dtc_gone_loss_mod")  # hashed when the run id was made
    key = "loss gone_loss_name -> dtc_gone_loss_mod:L"
    assert backends._unloadable_plugin(key) is None  # the run's own lookup names it
    backends._check_loaded({key: "sha"})  # the file is the one in memory
    path.write_text("class L:\n    x = 2\n")
    with pytest.raises(ValueError) as info:
        backends._check_loaded({key: "sha"})
    assert str(info.value).startswith(
        f"{path} changed since this process imported module 'dtc_gone_loss_mod': "
    )
