"""Find alignment losses by name: ``dtc.align.get("mmd", sigmas=...)``.

Built-in losses are registered in :mod:`dtc.align`. A user's loss plugs in with no
change to dtc, three ways:

* the entry-point group ``dtc.losses`` (``myloss = "my_pkg.my_mod:MyLoss"``);
* a ``"package.module:ClassName"`` string wherever a name is accepted;
* :func:`register` at run time.

Any ``torch.nn.Module`` called as ``loss(source, target, **context)`` qualifies. An entry
point cannot replace a built-in name (the built-in wins); ``register(name, cls,
overwrite=True)`` can, at run time.

Examples
--------
>>> from dtc.align import get
>>> get("coral")
CORALLoss()
>>> get("mmd", estimator="biased")
MMDLoss(estimator='biased', kernel=33 scales, bandwidth=median)
>>> get("mdd")
Traceback (most recent call last):
    ...
ValueError: unknown loss 'mdd'; available: ..., coral, dann, jmmd, log_coral, mmd, ...
"""

from __future__ import annotations

from torch import nn

from dtc._plugins import PluginRegistry

__all__ = ["ENTRY_POINT_GROUP", "available", "get", "get_class", "register"]

ENTRY_POINT_GROUP = "dtc.losses"

_LOSSES = PluginRegistry(
    ENTRY_POINT_GROUP,
    nn.Module,
    "loss",
    # what to give instead: a loss of one's own (a name dtc.align.register gave in a
    # script is unknown to the dtc command), or none
    hint="; a loss of your own: 'package.module:Class', or a name of the entry-point group "
    "dtc.losses (one given by dtc.align.register is known in its own process only)"
    "; no alignment is loss=None (null in a config or in --set loss=null)",
    # bench-losses reads "none" as no alignment: a loss of that name was ranked as none
    reserved=("none",),
)
register = _LOSSES.register
available = _LOSSES.available
get_class = _LOSSES.get_class
get = _LOSSES.get
