"""dtc: deep transfer clustering.

Cluster an unlabelled target domain better by transferring what was learned on a
source domain whose distribution differs. See README.md for the tour.
"""

from importlib import import_module

__version__ = "0.1.0"

__all__ = ["DTC", "__version__"]


def __getattr__(name):
    # DTC pulls in torch; import it lazily so `import dtc` stays cheap for the CLI.
    if name == "DTC":
        return import_module("dtc.pipeline").DTC
    raise AttributeError(f"module 'dtc' has no attribute {name!r}")
