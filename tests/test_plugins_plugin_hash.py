"""plugin_hash of a "module:Name" string whose module is imported but whose name is no
attribute of it, or no class: the module file's SHA-256 alone (the config's checks name
the mistake), and None for a module without a file (a notebook's), where a class would be
hashed by its code; no test reached either."""

import hashlib
import importlib
import sys
import types

from dtc._plugins import plugin_hash

MODULE = "def helper():\n    return 1\n\n\nclass K:\n    pass\n"


def test_a_missing_attribute_or_a_function_hashes_the_module_file(tmp_path, monkeypatch):
    path = tmp_path / "dtc_plugin_hash_mod.py"
    path.write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dtc_plugin_hash_mod", raising=False)
    importlib.import_module("dtc_plugin_hash_mod")
    file_sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert plugin_hash("dtc_plugin_hash_mod:Missing") == file_sha
    assert plugin_hash("dtc_plugin_hash_mod:helper") == file_sha
    assert plugin_hash("dtc_plugin_hash_mod:K") == file_sha  # a class defined there


def test_a_missing_attribute_or_a_function_of_a_module_without_a_file_is_none(monkeypatch):
    # with a file the answer is the file's hash whether or not the name is a class: only
    # here does "no class" change it (class_hash of a function raised AttributeError)
    module = types.ModuleType("dtc_plugin_hash_fileless")
    module.helper = lambda: 1
    monkeypatch.setitem(sys.modules, module.__name__, module)
    assert plugin_hash("dtc_plugin_hash_fileless:Missing") is None
    assert plugin_hash("dtc_plugin_hash_fileless:helper") is None
