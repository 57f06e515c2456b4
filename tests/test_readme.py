"""The README's Python examples run as written (a broken example is a broken promise)."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path, monkeypatch, capsys, stated_figure):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    namespace = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    if "NegativeTransferMonitor" in code:  # the true source: transfer kept, as the comment says
        assert out[0] == "False False"
        # the accuracy its last line's comment states, to the digits it shows
        (claimed,) = re.findall(r'\["acc"\]\)\s*#\s*(\d\.\d+)', code)
        stated_figure(float(out[-1]), claimed, tol=0.01)
    # A loss the README defines (to benchmark with `dtc bench-losses`) builds with no
    # arguments and returns a finite scalar for two samples, as the protocol calls it.
    losses = [
        v
        for v in namespace.values()
        if isinstance(v, type)
        and issubclass(v, torch.nn.Module)
        and v.__module__ == "readme_example"
    ]
    for cls in losses:
        gen = torch.Generator().manual_seed(0)
        source, target = torch.randn(40, 5, generator=gen), torch.randn(50, 5, generator=gen) + 1
        value = cls()(source, target)
        assert value.ndim == 0 and torch.isfinite(value), cls.__name__


YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("text", YAML_BLOCKS, ids=[f"yaml{i}" for i in range(len(YAML_BLOCKS))])
def test_readme_configs_load_and_expand(text):
    # what `dtc run` checks before any run: keys, values, and each method's check_params
    import yaml

    from dtc.experiment.config import expand, load_config

    config = load_config(yaml.safe_load(text))
    assert expand(config)
    assert config.raw["name"] != "smoke"  # not experiments/smoke.yaml's results folder


def test_the_config_modules_example_loads_and_expands():
    # The module's own example broke three rules the same docstring goes on to state (a
    # key in params and grid, in data and grid, a budget parameter of no method).
    import textwrap

    import yaml

    import dtc.experiment.config as config_module
    from dtc.experiment.config import expand, load_config

    doc = config_module.__doc__
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    config = load_config(yaml.safe_load(textwrap.dedent(block)))
    tasks = expand(config)
    assert {t.label for t in tasks} >= {"DTC"} and len(tasks) > 1
