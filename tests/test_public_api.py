"""The public names: what each package's ``__all__`` lists exists, and every public module
of ``dtc`` and ``baselines`` says what it exports."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import baselines
import dtc

PACKAGES = [
    "dtc",
    "dtc.align",
    "dtc.cluster",
    "dtc.data",
    "dtc.experiment",
    "dtc.methods",
    "dtc.metrics",
    "dtc.monitor",
    "dtc.nn",
]
# command-line entry points, not libraries: nothing is imported from them
NO_ALL = {"dtc.__main__", "dtc.cli"}


def _public_modules():
    for package in (dtc, baselines):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                yield info.name


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists(package):
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("name", sorted(set(_public_modules()) - NO_ALL))
def test_every_public_module_declares_its_names(name):
    # without __all__, `from baselines.kmeans import *` gave scikit-learn's KMeans, numpy
    # and the validation helpers beside TargetKMeans
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_exports_only_what_its_modules_export(package):
    # dtc.data exported data_dir_problem and domain_files, which dtc.data.benchmarks, where
    # they are defined, did not list
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        home = obj.__module__
        if home == package or not home.startswith(package + ".") or "._" in home:
            continue
        assert name in importlib.import_module(home).__all__, f"{name} not in {home}.__all__"


def _assignment_comment(package: str, name: str) -> str | None:
    """The ``#:`` comment right above the module-level assignment of ``name`` in
    ``package`` or one of its modules, '' when it has none, None when none assigns it."""
    import re

    root = importlib.import_module(package)
    names = [package]
    if hasattr(root, "__path__"):
        names += [i.name for i in pkgutil.walk_packages(root.__path__, package + ".")]
    pattern = re.compile(rf"^{re.escape(name)}\s*(:[^=]*)?=")
    for module_name in names:
        lines = inspect.getsource(importlib.import_module(module_name)).splitlines()
        for i, line in enumerate(lines):
            if pattern.match(line):
                comment = []
                while i > 0 and lines[i - 1].startswith("#:"):
                    i -= 1
                    comment.insert(0, lines[i][2:].strip())
                return " ".join(comment)
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_constant_is_documented(package):
    # a constant has no docstring: the `#:` comment above it is its documentation (as
    # KNN_NEIGHBOURS had); DATA_ENV, PREPROCESSINGS, MLP_PRESETS and
    # dtc.methods.ENTRY_POINT_GROUP had none
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj) or inspect.ismodule(obj) or name == "__version__":
            continue
        assert _assignment_comment(package, name), f"{package}.{name} has no #: comment"


def _public_classes():
    import dtc.align
    from dtc import methods

    classes = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                classes[f"{obj.__module__}.{obj.__qualname__}"] = obj
    for registry in (dtc.align, methods):
        for name in registry.available():
            cls = registry.get_class(name)
            classes[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return classes


def test_every_public_method_of_a_public_class_has_a_docstring():
    # Autoencoder.forward and ClusteringLayer.forward showed torch's "Define the
    # computation performed at every call" (what they take and return: nowhere), and
    # ConvAutoencoder.encoder_blocks and DTC.accepts_heterogeneous had none at all
    import torch.nn as nn

    generic = inspect.getdoc(nn.Module.forward)
    undocumented = []
    for qualname, cls in _public_classes().items():
        for name in dir(cls):
            if name.startswith("_") or name == "extra_repr":  # extra_repr: torch's repr hook
                continue
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is None or not owner.__module__.startswith(("dtc", "baselines")):
                continue
            attr = vars(owner)[name]
            if isinstance(attr, property):
                doc = attr.fget.__doc__
            elif isinstance(attr, (classmethod, staticmethod)) or inspect.isfunction(attr):
                doc = inspect.getdoc(getattr(cls, name))  # an override inherits its doc
            else:
                continue
            if not doc or inspect.cleandoc(doc) == generic:
                undocumented.append(f"{qualname}.{name}")
    assert undocumented == []


def test_every_method_and_loss_names_its_paper():
    # help() shows the class docstring: TargetKMeans, TargetAgglomerative, SourceNearest-
    # Neighbour, ModelTransfer, SourceAEKMeans, CORALLoss, LogCORALLoss and PAMMDLoss cited
    # their papers only in their modules' docstrings (or, for the last, nowhere)
    import re

    import dtc.align
    from dtc import methods

    uncited = []
    for registry, exempt in ((methods, set()), (dtc.align, {"pytorch_adapt"})):
        for name in set(registry.available()) - exempt:  # pytorch_adapt: any layer of it
            if not re.search(r"\b(19|20)\d\d\b", inspect.getdoc(registry.get_class(name))):
                uncited.append(name)
    assert uncited == []
