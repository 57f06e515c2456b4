"""Alignment losses (torch) and discrepancy measures.

One module per family; every loss follows :class:`dtc.align.base.AlignmentLoss`'s
call signature ``loss(source, target, **context) -> scalar`` and is found by name
with :func:`get`.
"""

from dtc.align.base import AlignmentLoss, check_pair_inputs
from dtc.align.coral import CORALLoss, LogCORALLoss, coral, log_coral
from dtc.align.jmmd import JMMDLoss, jmmd2
from dtc.align.mmd import (
    LinearTimeMMDLoss,
    MMDLoss,
    mmd2,
    mmd2_biased,
    mmd2_linear,
    mmd2_unbiased,
)
from dtc.align.registry import available, get, get_class, register

__all__ = ["AlignmentLoss", "available", "check_pair_inputs", "get", "get_class", "register"]


def _builtin(name, cls):
    # overwrite=True: register() refuses a name that an installed package's ``dtc.losses``
    # entry point holds, and raising here made ``import dtc.align`` itself fail. A built-in
    # takes precedence over an entry point of the same name, as run-time names always do.
    register(name, cls, overwrite=True)


__all__ += ["CORALLoss", "LogCORALLoss", "coral", "log_coral"]

_builtin("coral", CORALLoss)
_builtin("log_coral", LogCORALLoss)
# By "module:Class" so that `import dtc.align` stays light; resolved on first get().
_builtin("dann", "dtc.align.dann:DANNLoss")
_builtin("cdan", "dtc.align.cdan:CDANLoss")
_builtin("cdan_e", "dtc.align.cdan:CDANELoss")
_builtin("swd", "dtc.align.ot:SlicedWassersteinLoss")
_builtin("sinkhorn", "dtc.align.ot:SinkhornLoss")
# pytorch-adapt (optional, not a dependency: `make venv` installs it) is imported only
# when one of these is built.
_builtin("pytorch_adapt", "dtc.align.interop:PytorchAdaptLoss")
_builtin("pa_mmd", "dtc.align.interop:PAMMDLoss")
_builtin("pa_coral", "dtc.align.interop:PACORALLoss")
__all__ += ["LinearTimeMMDLoss", "MMDLoss", "mmd2", "mmd2_biased", "mmd2_linear", "mmd2_unbiased"]
_builtin("mmd", MMDLoss)
_builtin("mmd_linear", LinearTimeMMDLoss)
__all__ += ["JMMDLoss", "jmmd2"]
_builtin("jmmd", JMMDLoss)
