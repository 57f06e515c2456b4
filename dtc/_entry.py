"""How the scripts under ``scripts/`` end: their exit status, and a reader that stopped
reading.

``python scripts/guard_tradeoff.py records/*.jsonl | head -3`` ended in a traceback
(``BrokenPipeError``) once ``head`` had its lines and closed the pipe: Python ignores
SIGPIPE, so the next ``print`` raised, and a table cut short looked like a failed run.
:func:`run_script` ends such a script quietly with the status a shell gives a program
that SIGPIPE stopped (``yes | head`` gives 141), the remedy the Python documentation gives
in its note on SIGPIPE (library/signal.html). The ``dtc`` command needs none of this:
click, under typer, ends it quietly too (with status 1).

Standard library only, like the other helpers every room may use.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["BROKEN_PIPE", "run_script"]

#: The exit status of a script whose reader closed its standard output (128 + SIGPIPE).
BROKEN_PIPE = 128 + signal.SIGPIPE


def run_script(main: Callable[[], int | None]) -> None:
    """Run a script's ``main()`` and exit with its status (``None`` reads as 0).

    A reader that closed standard output early (``| head``) ends the script with
    :data:`BROKEN_PIPE` and nothing on stderr; what the script wrote to files until then
    (a resumable ``--out``) stays, as it would after a Ctrl-C.
    """
    try:
        status = main()
        # What is still buffered goes now, so a closed pipe is met here and not in the
        # interpreter's own flush at exit (which prints "Exception ignored ...")
        sys.stdout.flush()
    except BrokenPipeError:
        # Standard output now points at the null device: the interpreter flushes it again
        # at exit, and the buffered rest would raise once more
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        sys.exit(BROKEN_PIPE)
    sys.exit(status)
