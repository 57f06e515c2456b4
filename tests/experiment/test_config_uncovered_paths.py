"""Config paths no other test reached, by their exact messages: an override into a
section that is no mapping or list, methods / benchmarks of the wrong type, an
unhashable YAML key, a short benchmark entry given to validate_config itself, a
registered method whose target cannot be imported (no plugin hash; the config names the
import), and the loss registry left unimported for a name no plugin can hold."""

import sys

import pytest

from dtc import methods
from dtc.align import registry
from dtc.experiment.config import _registry, load_config, plugin_code, validate_config

BASE = {
    "name": "x",
    "benchmarks": [{"benchmark": "digits"}],
    "methods": {"km": {"method": "kmeans"}},
    "seeds": [0],
}


def _error(*args) -> str:
    with pytest.raises(ValueError) as info:
        load_config(*args)
    return str(info.value)


def test_an_override_into_a_section_that_is_no_mapping_or_list_names_it():
    assert _error({**BASE, "benchmarks": "digits"}, ["benchmarks.0.data.shift=0.5"]) == (
        "override benchmarks.0.data.shift: benchmarks is not a mapping or a list"
    )
    assert _error({**BASE, "methods": "kmeans"}, ["methods.km.params.n_init=2"]) == (
        "override methods.km.params.n_init: methods is not a mapping or a list"
    )


def test_methods_and_benchmarks_of_the_wrong_type_are_named():
    assert _error({**BASE, "methods": ["kmeans"]}) == (
        "config: methods: expected a mapping label -> method entry, got list ['kmeans']"
    )
    assert _error({**BASE, "benchmarks": {"benchmark": "digits"}}) == (
        "config: benchmarks: expected a list, got dict {'benchmark': 'digits'}"
    )


def test_an_unhashable_yaml_key_is_invalid_yaml_naming_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nbenchmarks: [digits]\nmethods:\n  km: {method: kmeans}\n"
        "  ? [a, b]\n  : 1\nseeds: [0]\n"
    )
    message = _error(path)
    assert message.startswith(f"{path}: not valid YAML (")
    assert "found unhashable key" in message and "line 5, column 5" in message


def test_validate_config_takes_a_short_benchmark_entry():
    raw = validate_config({**BASE, "benchmarks": ["digits"]})
    assert raw["benchmarks"] == [
        {"benchmark": "digits", "pairs": [["source", "target"]], "data": {}, "grid": {}}
    ]


def test_a_registered_method_that_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(methods._METHODS._registered, "broken_km", "dtc_no_such_mod:Nope")
    assert plugin_code({"members": ["broken_km"]}) == {}  # no hash, no traceback
    config = {**BASE, "methods": {"km": {"method": "broken_km"}}}
    assert _error(config) == (
        "config: methods.km.method: could not import method 'dtc_no_such_mod:Nope': "
        "No module named 'dtc_no_such_mod'"
    )


def test_the_loss_registry_is_not_imported_for_a_name_no_plugin_holds(monkeypatch):
    assert _registry("loss", "no_such_loss") is registry._LOSSES
    monkeypatch.delitem(sys.modules, "dtc.align.registry")
    assert _registry("loss", "no_such_loss") is None
    assert "dtc.align.registry" not in sys.modules
