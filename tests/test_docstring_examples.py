"""The ``Examples`` sections of the docstrings run and print what they show (doctest).

Every module of ``dtc`` and ``baselines`` whose source holds a ``>>>`` line is collected,
so an example added anywhere is tested without being listed here.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    found = []
    for package in ("dtc", "baselines"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if ">>> " in path.read_text():
                parts = path.relative_to(ROOT).with_suffix("").parts
                found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


MODULES = _modules_with_examples()


def test_the_examples_are_found():
    # the collection itself: these modules show examples
    for name in ("dtc.metrics", "dtc.align.mmd", "dtc.align.coral", "dtc.align.base"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=OPTIONS, verbose=False, report=True)
    assert result.attempted > 0, f"{name}: a '>>> ' line that doctest does not run"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
