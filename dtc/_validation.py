"""Argument checks shared by dtc and the baselines (which re-export them from
``baselines._validation``; dtc never imports ``baselines``)."""

from __future__ import annotations

import numpy as np

__all__ = ["check_bool"]


def check_bool(value, *, method: str, name: str) -> bool:
    """``value`` as a ``bool``; only ``True`` / ``False`` (numpy's too) are accepted, since
    the truthiness of a string such as ``"no"`` would silently mean ``True``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{method}: {name} must be True or False, got {value!r}")
    return bool(value)
