"""dtc installed from a wheel (``pip install git+...``, not editable) works without its source
tree: every file the packages read at run time is in the wheel, and the loss leaderboard's
protocol is found from a folder outside any checkout (it was looked up in the repository's
``experiments/``, so ``dtc bench-losses`` failed with "protocol not found" once installed)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dtc", "baselines")
PIP = (sys.executable, "-m", "pip", "-q", "--disable-pip-version-check")


def _pip(*args):
    """pip in this venv; its own words on failure (the wheel is built without isolation, by
    this venv's setuptools, >= 77 for pyproject's license string: torch 2.13 requires it)."""
    done = subprocess.run([*PIP, *args], capture_output=True, text=True)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stderr}"


def _package_files():
    """Source-tree files of the packages, relative to the root, bytecode left out."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path.relative_to(ROOT).as_posix()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # Built from a copy, so that the build's egg-info and build/ stay out of the checkout;
    # without build isolation, from this venv's setuptools (torch requires it): no download.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src))
    (path,) = out.glob("dtc-*.whl")
    return path


def test_the_wheel_holds_every_file_of_the_packages(wheel):
    with zipfile.ZipFile(wheel) as zf:
        held = set(zf.namelist())
    missing = [name for name in _package_files() if name not in held]
    assert not missing, f"not in the wheel (declare them in pyproject's package-data): {missing}"
    assert "dtc/experiment/bench_losses.yaml" in held


def test_the_installed_leaderboard_finds_its_protocol(wheel, tmp_path):
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--target", str(site), str(wheel))
    away = tmp_path / "away"
    away.mkdir()
    code = (
        "import dtc\n"
        "from dtc.experiment import leaderboard\n"
        "config = leaderboard.leaderboard_config(['coral'], quick=True)\n"
        "print(dtc.__file__)\n"
        "print(leaderboard.PROTOCOL)\n"
        "print(sorted(config.raw['methods']))\n"
    )
    # the installed copy first on the path, run from a folder with no checkout in it
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=away, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    module, protocol, methods = done.stdout.splitlines()
    assert Path(module).is_relative_to(site)
    assert Path(protocol) == site / "dtc" / "experiment" / "bench_losses.yaml"
    assert methods == "['coral']"


def test_a_tree_of_links_to_the_checkouts_files_is_dtc_itself(tmp_path):
    # A strict editable install (pip install -e . --config-settings editable_mode=strict)
    # imports from folders of links to the checkout's files: resolved, dtc's own folder was
    # the checkout's, and every built-in method was refused as shadowed by dtc itself.
    links = tmp_path / "links"
    for name in _package_files():
        link = links / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT / name)
    code = (
        "import dtc\n"
        "from dtc import methods\n"
        "print(dtc.__file__)\n"
        "print(methods.get_class('kmeans').__name__, methods.get_class('dtc').__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(links), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    module, classes = done.stdout.splitlines()
    assert Path(module).parent == links / "dtc"
    assert classes == "TargetKMeans DTC"
