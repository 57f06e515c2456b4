"""dtc: deep transfer clustering.

Cluster an unlabelled target domain better by transferring what was learned on a
source domain whose distribution differs. See README.md for the tour.
"""

from importlib import import_module

from dtc._plugins import own_source_hash

__version__ = "0.1.0"

# Read as dtc's code is first imported (a few ms): the code this process runs, which the
# checkpoints it writes are keyed on. Read at the first checkpointed fit, a file edited in
# between keyed the imported (old) code's checkpoints as the new code's.
own_source_hash()

__all__ = ["DTC", "__version__"]


def __getattr__(name):
    # DTC pulls in torch; import it lazily so `import dtc` stays cheap for the CLI.
    if name == "DTC":
        return import_module("dtc.pipeline").DTC
    raise AttributeError(f"module 'dtc' has no attribute {name!r}")
