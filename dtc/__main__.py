"""The ``dtc`` command: its console script and ``python -m dtc`` (for an environment whose
scripts folder is not on the PATH: a venv not activated, a cluster job's bare interpreter)."""

from __future__ import annotations

import sys

#: The exit status of a Ctrl-C (128 + SIGINT), as the commands give it.
INTERRUPTED = 130


def main() -> None:
    """Load the command and run it.

    A Ctrl-C in the seconds the command's modules load (typer, then scikit-learn and scipy
    through the rooms every command shares) ends with one line and exit status 130, as one
    within a command does: it was a traceback of whichever import it cut, though nothing
    had run yet.
    """
    try:
        from dtc.cli import app, prepare

        prepare()
    except KeyboardInterrupt:
        print("dtc: interrupted while loading; nothing ran", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    app()


if __name__ == "__main__":
    main()
