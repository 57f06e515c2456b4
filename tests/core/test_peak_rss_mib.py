"""dtc._memory.peak_rss_mib: a /proc/self/status without a VmHWM line (a kernel or
sandbox that omits it) falls back to ru_maxrss, as a missing file does."""

from __future__ import annotations

import io
import sys

import dtc._memory
from dtc._memory import peak_rss_mib


def test_a_status_without_vmhwm_falls_back_to_ru_maxrss(monkeypatch):
    status = "Name:\tpython\nVmRSS:\t 1024 kB\n"
    monkeypatch.setattr(dtc._memory, "open", lambda *a, **k: io.StringIO(status), raising=False)
    fake = type("Usage", (), {"ru_maxrss": 3 * 2**20})
    monkeypatch.setattr(dtc._memory.resource, "getrusage", lambda who: fake)
    # KiB on Linux, bytes on macOS
    assert peak_rss_mib() == (3.0 if sys.platform == "darwin" else 3072.0)
