"""Argument checks shared by dtc and the baselines (which re-export them from
``baselines._validation``; dtc never imports ``baselines``)."""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["SEED_MAX", "check_bool", "host_array"]

#: Largest seed: scikit-learn's ``random_state`` (numpy's ``RandomState``) takes 32 bits.
SEED_MAX = 2**32 - 1


def check_bool(value, *, method: str, name: str) -> bool:
    """``value`` as a ``bool``; only ``True`` / ``False`` (numpy's too) are accepted, since
    the truthiness of a string such as ``"no"`` would silently mean ``True``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{method}: {name} must be True or False, got {value!r}")
    return bool(value)


def host_array(value, name: str):
    """``value`` unchanged, unless it is a torch tensor: then detached from autograd and
    copied to host memory, so that numpy can read it (``np.asarray`` refuses a tensor that
    requires grad or lives on a GPU, with torch's error naming no argument). A tensor on
    the ``meta`` device holds shapes but no values: ``ValueError`` naming ``name``.

    Tensor subclasses count (their class lives outside torch). Importing this module never
    imports torch: a tensor exists only once torch is loaded.
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return value
    if value.device.type == "meta":
        raise ValueError(
            f"{name}: got a tensor on the 'meta' device, which holds no values; expected "
            "data (a numpy array or a CPU / GPU tensor)"
        )
    return value.detach().cpu()
