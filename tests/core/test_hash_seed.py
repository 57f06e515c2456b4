"""Keys and ids that must be the same in every process do not follow Python's per-process
string hashing (``PYTHONHASHSEED``), which orders the items of a set of strings."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

# A user's class without a file (a notebook's, python -c), with a set default and a set
# literal; a run whose parameters hold a set; a DTC parameter holding a set.
CODE = """
import numpy as np, torch
from dtc._plugins import class_text
from dtc.experiment.config import run_id
from dtc.experiment.single import RunSpec
from dtc.nn.fingerprint import module_fingerprint
from dtc.pipeline import _param_text
import hashlib

class Moments(torch.nn.Module):
    NAMES = {"mean", "var", "skew", "kurt", "max"}
    SCALES = [1.0, 2.0]

    def forward(self, zs, zt, which=frozenset({"mean", "var", "skew", "kurt", "max"})):
        return zs.mean() if "mean" in {"mean", "median", "mode", "min", "max"} else zt.mean()

print(hashlib.sha256(class_text(Moments)).hexdigest())
print(module_fingerprint(Moments()))
print(run_id("ens", RunSpec("ensemble", params={"members": {"kmeans", "gmm", "spectral", "agglo", "dec"}})))
print(_param_text({"which": {"a", "b", "c", "d", "e"}, "v": np.array([1.0])}))
print(_param_text({"a", "b", "c", "d", "e"}))
# not only strings: an enum member's, a path's and a date's hashes follow the hash seed too
import datetime, enum, pathlib
Stage = enum.Enum("Stage", "PRETRAIN ADAPT SELF_TRAIN CLUSTER REFINE")
print(_param_text({"stages": set(Stage)}))
print(run_id("d", RunSpec("kmeans", params={"days": {datetime.date(2024, 1, d) for d in range(1, 9)}})))
print(_param_text({"roots": {pathlib.Path(f"/d/{c}") for c in "abcdefg"}}))
"""


def _run(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_keys_and_ids_are_the_same_under_every_hash_seed():
    # the set's repr differed (a class's hash, a run id, a checkpoint key): checkpoints were
    # not resumed, finished runs set aside and run again
    outputs = {_run(seed) for seed in ("1", "2")}
    assert len(outputs) == 1, outputs


def test_a_fileless_classs_container_constants_are_its_code():
    # only plain constants were hashed: SCALES = [1.0, 1.0] and [1.0, 100.0] were one code
    from dtc._plugins import class_text

    texts = set()
    for scales in ("[1.0, 1.0]", "[1.0, 100.0]", "{'a': 1}", "{'a': 2}"):
        namespace = {"__name__": "nb"}
        exec(f"class Loss:\n    SCALES = {scales}\n", namespace)  # no file, as in a notebook
        texts.add(class_text(namespace["Loss"]))
    assert len(texts) == 4


def test_sets_whose_order_is_the_same_in_every_process_keep_their_keys():
    # A set of numbers has one order in every process: its keys and ids stay what they were
    # (re-keyed, finished runs would run again); only sets of strings are sorted.
    from dtc._plugins import _value_text
    from dtc.experiment.config import _id_text
    from dtc.pipeline import _param_text

    for value in ({2, 10}, frozenset({1, 2, 3}), {True, 2}):
        assert _id_text(value) == str(value)
        assert _value_text(value) == repr(value)
        assert _param_text({"drop": value}) == repr({"drop": value})
    # a default that holds itself: a key, not a RecursionError
    loop = [frozenset({"a", "b"})]
    loop.append(loop)
    assert _value_text(loop).startswith("list(frozenset({'a', 'b'})")


def test_source_hash_sees_edits_and_skips_lock_files(tmp_path):
    from dtc._plugins import source_hash

    assert source_hash(tmp_path) is None  # no source files (a zip, .pyc only)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_text("x = 1\n")
    before = source_hash(tmp_path)
    # an editor's lock file: a hidden link to nothing (reading it failed every fit)
    (tmp_path / "sub" / ".#a.py").symlink_to(tmp_path / "nowhere")
    assert source_hash(tmp_path) == before
    (tmp_path / "sub" / "a.py").write_text("x = 2\n")
    assert source_hash(tmp_path) != before


def test_a_numpy_scalar_setting_is_keyed_whatever_the_print_options():
    import torch

    from dtc.nn.fingerprint import module_fingerprint

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = np.float64(0.5)

    before = module_fingerprint(Scaled())
    with np.printoptions(legacy="1.25"):
        assert module_fingerprint(Scaled()) == before
    # and the reference cache's key: n_clusters=np.int64(3) is the reference of 3
    from dtc.monitor.reference import fingerprint

    X = np.zeros((4, 2))
    with np.printoptions(legacy="1.25"):
        assert fingerprint(X, {"n_clusters": np.int64(3)}) == fingerprint(X, {"n_clusters": 3})
