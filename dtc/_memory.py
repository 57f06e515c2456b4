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

__all__ = ["peak_rss_mib", "reset_peak"]


def reset_peak() -> bool:
    """Set this process's high-water mark (``VmHWM``) back to its current resident memory
    (Linux 4.0+: ``5`` written to ``/proc/self/clear_refs``); ``False`` where that cannot be
    done. A baseline read after building the inputs otherwise keeps the peak of their
    temporaries (``torch.randn(n, d) + 0.5`` is two n x d arrays for a moment), and up to
    that much of what is measured after it read as nothing."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


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
