"""Warnings that point at the caller's line, not at a line inside the toolkit.

``warnings.warn(..., stacklevel=2)`` names the line that called the warning function,
which for most of dtc's warnings is another line of dtc (``DTC.fit`` calls its stages,
which call the clustering back ends, which warn): the warning named
``dtc/methods.py:97`` or ``dtc/pipeline.py:2109`` whichever call of the user's set it
off, and a filter on the user's module (``module=``) missed it. :func:`warn` names the
first line outside dtc and ``baselines`` instead (what Python 3.12's
``skip_file_prefixes`` does, and pandas' ``find_stack_level``).

Standard library only, like the other helpers every room may use.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn"]

_DTC_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Where dtc is the program: the command (its caller is typer), and a --jobs worker's entry
# (its caller is the standard library's process pool)
_CLI = _DTC_DIR + "cli.py"
_WORKER = (os.path.join(_DTC_DIR, "experiment", "backends.py"), "_execute_in_worker")


# dtc's baselines package, installed beside dtc (dtc._plugins.own_package_dir): by its
# place, not by the module named "baselines", which may be a user's (whose folder, holding
# the script that called dtc, then counted as dtc's)
_BASELINES_DIR = os.path.join(os.path.dirname(os.path.dirname(_DTC_DIR)), "baselines") + os.sep
_INTERNAL = (_DTC_DIR, _BASELINES_DIR)
# torch.nn.Module.__call__, between a user's ``loss(source, target)`` and dtc's forward: the
# warning named torch's module.py, not the user's line (by the path's end, so that this
# module needs no torch)
_MODULE_CALL = os.path.join("torch", "nn", "modules", "module.py")


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the innermost caller outside
    dtc and ``baselines`` (and torch's ``Module.__call__``, through which a loss is called);
    under the ``dtc`` command (whose caller is its command-line library, typer, not a
    user's line) and in a ``--jobs`` worker (the process pool's), to the line of dtc that
    called the warning function, as ``stacklevel=2`` does."""
    frame = sys._getframe(1)  # the function that warns: stacklevel 2
    level, via_cli = 2, False
    while frame.f_back is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_INTERNAL) and not filename.endswith(_MODULE_CALL):
            break
        # dtc is the program
        via_cli = via_cli or filename == _CLI or (filename, frame.f_code.co_name) == _WORKER
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=2 if via_cli else level)
