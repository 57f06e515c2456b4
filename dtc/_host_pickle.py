"""Pickles of fitted estimators that load on a machine without the fit's GPU.

A fit on a GPU leaves its networks and data there, and ``pickle`` (``joblib``) stores each
tensor with its device: unpickling calls ``torch.load`` without a ``map_location``, so an
estimator fitted on a GPU could not be loaded on a machine without one ("Attempting to
deserialize object on a CUDA device"), not even to read its encoder. Its state travels
as one ``torch.save`` blob instead (:func:`pack_device_state`), which unpickles as the
state dict loaded onto the devices this machine has, the CPU for the others (as skorch does
for its CUDA-dependent attributes). A fit on the CPU pickles as before.

The whole state goes into the blob once an entry is seen to hold a GPU tensor, not only
that entry: a tensor held where the walk does not look (a callback's snapshot, a plain
attribute of a loss) failed the load, and an object two entries share came back as two.
Copies (``copy.copy``, ``copy.deepcopy``) do not pickle: they keep the devices.

Standard library only at import (torch is used where it is already loaded), as
:mod:`dtc._torch_state`: the method contract (:mod:`dtc.methods`) uses it.
"""

from __future__ import annotations

import io
import sys

from dtc._warnings import warn

__all__ = ["pack_device_state"]


def _off_host(value) -> bool:
    """Whether ``value`` (a tensor, a module, or a dict / list / tuple of them) holds a
    tensor on another device than the CPU."""
    torch = sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        return value.device.type != "cpu"
    if isinstance(value, torch.nn.Module):
        held = [*value.parameters(), *value.buffers()]
        return any(t.device.type != "cpu" for t in held)
    if isinstance(value, dict):
        return any(_off_host(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_off_host(v) for v in value)
    return False


class _DeviceState:
    """An estimator's state in the pickle stream as a ``torch.save`` blob, which unpickles
    as the state dict itself (:func:`_load_state`): every ``__setstate__``, a subclass's
    too, gets the dict."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes):
        self.blob = blob

    def __reduce__(self):
        return (_load_state, (self.blob,))


def pack_device_state(state):
    """``state`` (the state an estimator pickles, after every ``__getstate__``) as a
    :class:`_DeviceState` when an entry holds a tensor on a GPU; ``state`` itself when none
    does (or it is no dict)."""
    if "torch" not in sys.modules or not isinstance(state, dict):  # no tensor can exist
        return state
    if not any(_off_host(v) for v in state.values()):
        return state
    buffer = io.BytesIO()
    sys.modules["torch"].save(state, buffer)
    return _DeviceState(buffer.getvalue())


def _here(device) -> bool:
    """Whether this machine has ``device`` (a CUDA one: only the CPU and CUDA are used)."""
    torch = sys.modules["torch"]
    device = torch.device(device)
    if device.type != "cuda":
        return True
    return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()


def _load_state(blob: bytes) -> dict:
    """The state dict of a blob, each tensor loaded onto the device it was on where this
    machine has it, else onto the CPU (with a warning); a ``_device`` entry (DTC's fit
    device) on a device this machine lacks set to the CPU."""
    import torch

    missing = set()

    def location(storage, where: str):
        # None: torch's own restore, onto the device named; the storage itself (read on
        # the CPU) where this machine lacks that device
        if _here(where):
            return None
        missing.add(where)
        return storage

    # weights_only=False: the blob holds networks (modules), which only a full unpickling
    # rebuilds. It loads nothing the enclosing pickle could not: it is part of that pickle,
    # whose loading runs the code it names already (never unpickle an untrusted estimator).
    state = torch.load(io.BytesIO(blob), map_location=location, weights_only=False)
    if missing:
        warn(
            f"this estimator was fitted on {', '.join(sorted(missing))}, which this machine "
            "lacks: its networks and data are loaded onto the CPU"
        )
    device = state.get("_device")  # DTC's fit device, where a refit's state starts
    if isinstance(device, torch.device) and not _here(device):
        state["_device"] = torch.device("cpu")
    return state
