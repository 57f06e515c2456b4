"""The rooms of ``dtc`` and what each may import (the architecture sketch the project was
built to), checked on the source: every ``import`` of a ``dtc`` module, lazy ones inside
functions included, must be allowed below or listed as an exception with its reason.

``dtc._validation``, ``dtc._memory``, ``dtc._plugins``, ``dtc._torch_state`` and
``dtc._warnings`` are the shared helpers (numpy and the standard library only) that every
room may use. Nothing in ``dtc`` imports ``baselines``:
methods are found through the registry.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dtc"
HELPERS = {"_validation", "_memory", "_plugins", "_torch_state", "_warnings"}

# room -> the rooms it may import (besides itself and the helpers)
ALLOWED = {
    "data": set(),
    "metrics": {"data"},
    "align": set(),
    "nn": set(),
    "cluster": set(),
    "self_training": set(),
    "monitor": {"align", "cluster", "metrics", "data"},
    "pipeline": {"align", "nn", "cluster", "monitor", "data", "methods", "self_training"},
    "methods": {"data"},
    "experiment": {"methods", "metrics", "data"},
    "cli": {"experiment", "data"},
    "__main__": {"cli"},  # `python -m dtc`: the command itself, as the console script
}

# Crossings beyond the sketch, each needed by what the room delivers.
EXCEPTIONS = {
    ("monitor", "nn"): "the negative-transfer monitor's no-transfer reference trains a "
    "target-only autoencoder (lazily, only when it is not cached)",
    ("monitor", "pipeline"): "source and model selection rank candidates by a short DTC "
    "adaptation (imported lazily: the pipeline imports the monitor)",
    ("experiment", "align"): "a config or a leaderboard names a registered loss (imported "
    "lazily, only then: torch)",
    ("cli", "methods"): "`dtc run` and `dtc datasets` list the registered methods",
}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "dtc" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: Path):
    """(imported dtc room or 'baselines', line) for each import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from dtc import align``: the room is the name imported
            names = [f"dtc.{a.name}" for a in node.names] if node.module == "dtc" else [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "baselines":
                yield "baselines", node.lineno
            elif (room := _room(name)) is not None:
                yield room, node.lineno


def _crossings() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        room = _room(".".join(rel.with_suffix("").parts))
        if room is None or room in HELPERS:
            continue
        for target, line in _imports(path):
            if target != room and target not in HELPERS:
                found.setdefault((room, target), []).append(f"{rel}:{line}")
    return found


def test_every_room_imports_only_what_it_may():
    crossings = _crossings()
    assert set(ALLOWED) >= {room for room, _ in crossings}, "a room the rules do not know"
    bad = {
        edge: where
        for edge, where in crossings.items()
        if edge[1] not in ALLOWED[edge[0]] and edge not in EXCEPTIONS
    }
    assert not bad, f"imports across rooms the architecture does not allow: {bad}"


def test_every_listed_exception_is_still_needed():
    # an exception nobody uses any longer is a hole left open in the rules
    assert set(EXCEPTIONS) <= set(_crossings())


def test_dtc_never_imports_baselines():
    assert not any(target == "baselines" for _, target in _crossings())


@pytest.mark.parametrize(
    "module", ["dtc", "dtc.data", "dtc.metrics", "dtc.cluster", "dtc.monitor", "dtc.methods"]
)
def test_rooms_without_networks_import_no_torch(module):
    """A fresh interpreter (conftest has imported torch in this one): a label-free score or a
    cached reference needs no torch. ``dtc.monitor`` loaded it through a number check of
    ``dtc.align`` (2 s per import)."""
    code = f"import sys, {module}; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
