"""The appends' lock (``locked_file``) closes its descriptor when taking the lock fails:
a wait for another writer's lock cut short by a Ctrl-C (or a sweep's SIGTERM), or a lock
refused (``ENOLCK`` on some network file systems), left one descriptor of the results file
open for the rest of the process, a bare number that nothing ever closes."""

import errno
import os
import signal
from pathlib import Path

import pytest

from dtc.experiment import store

fcntl = pytest.importorskip("fcntl")
pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc/self/fd"
)


def _open_on(path: Path) -> int:
    """How many of this process's descriptors are open on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:  # the listing's own descriptor, closed since
            pass
    return count


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def test_an_interrupted_wait_for_the_lock_leaves_no_descriptor_open(tmp_path):
    path = tmp_path / "results.jsonl"
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another writer holds the appends' lock
        for i in range(3):
            signal.setitimer(signal.ITIMER_REAL, 0.1)  # a Ctrl-C while the append waits
            with pytest.raises(KeyboardInterrupt):
                store.append_record(path, {"run": i})
        assert _open_on(path) == 1  # the holder's own
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(holder)
    assert path.read_bytes() == b""  # and nothing was appended


def test_a_refused_lock_leaves_no_descriptor_open(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"

    def refused(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(store.fcntl, "flock", refused)
    for readonly in (False, True):
        with (
            pytest.raises(OSError, match="No locks available"),
            store.locked_file(path, readonly=readonly),
        ):
            pass
    assert _open_on(path) == 0
