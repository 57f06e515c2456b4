"""Peak resident memory of this process, for the benchmark scripts' subprocess workers.

``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is not this process's own peak on Linux when
it was started by fork + exec: at exec the kernel folds the forked copy of the parent's
high-water mark into the process's ``maxrss``, so a worker started by a parent of 320 MB
(torch and pytorch-adapt imported) reads 320 MB until its own memory passes that, and a
difference of two readings hides whatever it used below. ``VmHWM`` in
``/proc/self/status`` is the high-water mark of the process's own address space, which
starts afresh at exec.
"""

from __future__ import annotations

import resource
import sys

__all__ = ["peak_rss_mib"]


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` where ``/proc`` has it
    (Linux), else ``ru_maxrss`` (KiB on Linux, bytes on macOS), which may include the
    parent's peak (module docstring)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # "VmHWM:   12345 kB"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
