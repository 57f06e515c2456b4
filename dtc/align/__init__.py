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
__all__ += ["CORALLoss", "LogCORALLoss", "coral", "log_coral"]

register("coral", CORALLoss)
register("log_coral", LogCORALLoss)
# By "module:Class" so that `import dtc.align` stays light; resolved on first get().
register("dann", "dtc.align.dann:DANNLoss")
register("cdan", "dtc.align.cdan:CDANLoss")
register("cdan_e", "dtc.align.cdan:CDANELoss")
register("swd", "dtc.align.ot:SlicedWassersteinLoss")
register("sinkhorn", "dtc.align.ot:SinkhornLoss")
# pytorch-adapt (optional, not a dependency: `make venv` installs it) is imported only
# when one of these is built.
register("pytorch_adapt", "dtc.align.interop:PytorchAdaptLoss")
register("pa_mmd", "dtc.align.interop:PAMMDLoss")
register("pa_coral", "dtc.align.interop:PACORALLoss")
__all__ += ["LinearTimeMMDLoss", "MMDLoss", "mmd2", "mmd2_biased", "mmd2_linear", "mmd2_unbiased"]
register("mmd", MMDLoss)
register("mmd_linear", LinearTimeMMDLoss)
__all__ += ["JMMDLoss", "jmmd2"]
register("jmmd", JMMDLoss)
