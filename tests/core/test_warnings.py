"""dtc._warnings.warn: a warning names the caller's line, not a line inside the toolkit."""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from dtc._warnings import warn
from dtc.cluster.transfer import transfer_kmeans
from dtc.data import Domain, DomainPair


def _recorded(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.filename, w.lineno, w.category) for w in caught]


def _line_of_call() -> int:
    return inspect.currentframe().f_back.f_lineno


def test_a_warning_names_the_users_line_through_every_layer_of_dtc_and_baselines():
    # stacklevel=2 named the line of dtc that called the warning function: through a
    # baseline's fit, "baselines/_adapt_then_cluster.py:161" (methods.fit -> _fit ->
    # _cluster -> transfer_kmeans), so a filter on the user's module missed it
    from baselines.model_transfer import ModelTransfer

    rng = np.random.default_rng(0)
    blobs = [rng.normal(0, 1, (30, 2)), rng.normal(10, 1, (30, 2)), rng.normal(80, 1, (30, 2))]
    pair = DomainPair(
        Domain(np.vstack(blobs), np.repeat([0, 1, 2], 30)),
        Domain(np.vstack(blobs[:2])),
        n_clusters=3,
    )
    line = _line_of_call() + 1
    caught = _recorded(lambda: ModelTransfer().fit(pair))
    assert caught == [(__file__, line, UserWarning)]
    # called directly, the same
    line = _line_of_call() + 1
    caught = _recorded(lambda: transfer_kmeans(pair.target.X, [[0, 0], [10, 10], [80, 80]]))
    assert caught == [(__file__, line, UserWarning)]


def test_a_caller_outside_the_toolkit_is_named_at_any_depth():
    def plugin():  # a user's own code that warns through dtc's helper
        warn("from a plugin", RuntimeWarning)

    def called_by_the_user():
        plugin()

    line = _line_of_call() - 5
    assert _recorded(called_by_the_user) == [(__file__, line, RuntimeWarning)]


def test_a_users_module_named_baselines_does_not_make_their_folder_dtcs(tmp_path, monkeypatch):
    # dtc's baselines were known by sys.modules["baselines"]: a user's baselines.py made
    # its whole folder count as the toolkit's, and their own line was skipped
    import importlib
    import sys

    importlib.import_module("baselines")  # dtc's, put back after the test
    monkeypatch.delitem(sys.modules, "baselines")
    (tmp_path / "baselines.py").write_text("")
    (tmp_path / "my_helper.py").write_text(
        "from dtc._warnings import warn\n\ndef check():\n    warn('mine')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("baselines")
    monkeypatch.delitem(sys.modules, "my_helper", raising=False)
    helper = importlib.import_module("my_helper")
    assert _recorded(helper.check) == [(str(tmp_path / "my_helper.py"), 4, UserWarning)]
    sys.modules.pop("my_helper")


def test_under_the_dtc_command_a_warning_names_dtcs_own_line(tmp_path):
    # the first frame outside dtc was typer's ("typer/main.py: ... return
    # callback(**use_params)"): the command's caller is its command-line library
    import subprocess
    import sys

    folder = tmp_path / "fold"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.csv").write_text("x,2,label\n" + "0.5,1.5,0\n1.5,0.5,1\n" * 3)
    out = subprocess.run(
        [sys.executable, "-m", "dtc", "datasets", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "is taken as a header" in out.stderr
    assert "typer" not in out.stderr and "dtc/data/" in out.stderr.replace("\\", "/")


def test_in_a_jobs_worker_a_warning_names_dtcs_own_line(tmp_path):
    # the first frame outside dtc was the standard library's process pool
    # ("concurrent/futures/process.py: r = call_item.fn(...)")
    import subprocess
    import sys

    folder = tmp_path / "fold"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.csv").write_text("x,2,label\n" + "0.5,1.5,0\n1.5,0.5,1\n" * 3)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: c\nbenchmarks: [{{benchmark: {folder}, pairs: [[a, b]]}}]\n"
        "methods: {km: {method: kmeans}}\nseeds: [0, 1]\n"
    )
    command = ["run", str(config), "--out", str(tmp_path / "o"), "--jobs", "2"]
    out = subprocess.run(
        [sys.executable, "-m", "dtc", *command],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "is taken as a header" in out.stderr
    assert "concurrent" not in out.stderr and "typer" not in out.stderr
