"""A script whose reader stops early (``python scripts/NAME.py ... | head``) ends quietly with
the status of a program that SIGPIPE stopped (141), not with a ``BrokenPipeError``
traceback; otherwise a script exits with its ``main()``'s status (``dtc._entry``)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dtc._entry import BROKEN_PIPE, run_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))

# far more than a pipe's buffer (64 KiB on Linux), printed line by line as a table is
PRINTS_A_LOT = "def main():\n    for i in range(100_000):\n        print('row', i)\n"


def _into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` with standard output a pipe whose reading end is already closed:
    the first write fails, as after ``head`` has exited, whatever the timing."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write)


def test_broken_pipe_status_is_the_shell_s():
    assert BROKEN_PIPE == 141  # 128 + SIGPIPE (13), as `yes | head` gives


@pytest.mark.parametrize(("returned", "status"), [(None, 0), (0, 0), (2, 2)])
def test_the_script_exits_with_main_s_status(returned, status):
    with pytest.raises(SystemExit) as exc:
        run_script(lambda: returned)
    assert (exc.value.code or 0) == status


def test_a_closed_pipe_ends_the_script_quietly():
    # the setting itself: without run_script, the same program's output into the closed
    # pipe is a traceback
    bare = _into_closed_pipe(["-c", PRINTS_A_LOT + "main()\n"])
    assert bare.returncode != 0 and "BrokenPipeError" in bare.stderr
    done = _into_closed_pipe(
        ["-c", PRINTS_A_LOT + "from dtc._entry import run_script\nrun_script(main)\n"]
    )
    assert (done.returncode, done.stderr) == (BROKEN_PIPE, "")


def test_a_closed_pipe_at_the_interpreter_s_last_flush():
    # a short output sits in the buffer until the end; the failed write was the
    # interpreter's flush at exit ("Exception ignored ... BrokenPipeError", status 120)
    short = "def main():\n    print('one line')\n"
    bare = _into_closed_pipe(["-c", short + "main()\n"])
    assert "BrokenPipeError" in bare.stderr
    done = _into_closed_pipe(
        ["-c", short + "from dtc._entry import run_script\nrun_script(main)\n"]
    )
    assert (done.returncode, done.stderr) == (BROKEN_PIPE, "")


def test_a_script_s_table_cut_short():
    records = sorted(str(p) for p in (ROOT / "experiments" / "records").glob("fresh14_s*.jsonl"))
    assert records, "experiments/records/fresh14_s*.jsonl: the recorded runs are missing"
    done = _into_closed_pipe(["scripts/guard_tradeoff.py", *records])
    assert (done.returncode, done.stderr) == (BROKEN_PIPE, "")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_script_ends_through_run_script(path):
    last = ast.parse(path.read_text()).body[-1]
    expected = 'if __name__ == "__main__":\n    run_script(main)'
    assert ast.unparse(last).replace("'", '"') == expected, (
        f"{path.name}: its __main__ block should be `run_script(main)` (dtc._entry), "
        "which ends the script quietly when its reader closes the pipe"
    )
