"""dtc._memory: a subprocess's own peak memory, not its parent's."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dtc import _memory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_a_child_reads_its_own_peak_not_the_parents():
    # ru_maxrss starts at the parent's peak after fork + exec: the benchmark scripts'
    # workers read the ~320 MB of their parent (torch, pytorch-adapt imported) and their
    # own use below it as 0.
    held = np.ones(60_000_000)  # 458 MiB touched: the parent's peak is above it
    code = (
        "import resource; from dtc._memory import peak_rss_mib; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, peak_rss_mib())"
    )
    inherited, own = map(float, _run(code).split())
    assert held.sum() == 60_000_000
    assert inherited > 458 and own < 200


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_the_peak_rises_by_what_the_process_touches():
    # in a fresh process, whose peak before the block is its imports'
    code = (
        "import numpy as np; from dtc._memory import peak_rss_mib; before = peak_rss_mib(); "
        "block = np.ones(30_000_000); print(peak_rss_mib() - before)"
    )
    added = float(_run(code))
    assert 228 < added < 240  # 30e6 float64 = 228.9 MiB, and a few pages besides


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux 4.0+")
def test_reset_peak_forgets_a_freed_temporary():
    # The benchmarks' baseline kept the peak of the inputs' temporaries (freed before it),
    # and up to that much of the measured call read as nothing: 1e6 x 64 floats, 244 MiB.
    code = (
        "import numpy as np; from dtc._memory import peak_rss_mib, reset_peak; "
        "tmp = np.ones(30_000_000); del tmp; kept = peak_rss_mib(); ok = reset_peak(); "
        "base = peak_rss_mib(); block = np.ones(30_000_000); "
        "print(ok, kept - base, peak_rss_mib() - base)"
    )
    ok, forgotten, added = _run(code).split()
    assert ok == "True"
    assert float(forgotten) > 220  # the freed 229 MiB left the high-water mark
    assert 228 < float(added) < 240  # and the next block reads in full


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout


def _fake_open(files):
    def fake_open(path, *args, **kwargs):
        if path not in files or isinstance(files[path], Exception):
            raise files.get(path, FileNotFoundError(path))
        return io.StringIO(files[path])

    return fake_open


def test_the_peak_is_vmhwm_in_mib_else_ru_maxrss_in_the_platforms_unit(monkeypatch):
    # mutation-test gaps: the unit (kB / 1024) and the fallback's per-platform unit
    status = "Name:\tpython\nVmPeak:\t 99999 kB\nVmHWM:\t    3072 kB\nVmRSS:\t 1024 kB\n"
    monkeypatch.setattr(_memory, "open", _fake_open({"/proc/self/status": status}), raising=False)
    assert _memory.peak_rss_mib() == 3.0
    monkeypatch.setattr(_memory, "open", _fake_open({}), raising=False)
    monkeypatch.setattr(_memory.resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=2**21))
    monkeypatch.setattr(_memory, "sys", SimpleNamespace(platform="linux"))
    assert _memory.peak_rss_mib() == 2048.0  # KiB
    monkeypatch.setattr(_memory, "sys", SimpleNamespace(platform="darwin"))
    assert _memory.peak_rss_mib() == 2.0  # bytes


def test_reset_peak_says_false_where_clear_refs_cannot_be_written(monkeypatch):
    denied = {"/proc/self/clear_refs": PermissionError("read-only /proc")}
    monkeypatch.setattr(_memory, "open", _fake_open(denied), raising=False)
    assert _memory.reset_peak() is False
