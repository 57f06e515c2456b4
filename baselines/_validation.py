"""Parameter and input checks shared by every baseline.

The scikit-learn estimator contract: ``__init__`` stores its arguments verbatim
(:func:`store_params`) and ``fit`` validates them with the checks here. Every check
raises ``ValueError`` naming the estimator (``method``), the argument (``name``) and what
was expected. Numbers are tested against :class:`numbers.Integral` /
:class:`numbers.Real` plus ``isfinite``, so numpy scalars (what config grids and
``np.arange`` produce) pass, while ``bool`` (an ``int`` subclass: ``n_init=True`` is a
mistake, not a 1), NaN and infinity are refused.
"""

from __future__ import annotations

import numbers

import numpy as np

from dtc._validation import SEED_MAX, check_bool, is_finite_number
from dtc._validation import check_seed as _check_seed

__all__ = [
    "SEED_MAX",
    "check_bool",
    "check_choice",
    "check_domains",
    "check_non_negative",
    "check_number",
    "check_positive_int",
    "check_seed",
    "store_params",
]


def store_params(est, params: dict) -> None:
    """Store ``__init__``'s arguments (``locals()``) on ``est`` verbatim, as the
    scikit-learn estimator contract asks (``self`` and ``__class__`` are skipped)."""
    for key, value in params.items():
        if key not in ("self", "__class__"):
            setattr(est, key, value)


def check_number(value, *, method: str, name: str, low=0.0, integer=False, strict=False):
    """``value`` validated as a finite number ``>= low`` (``> low`` with ``strict``), an
    int with ``integer``; returned as ``int`` / ``float``. ``ValueError`` naming ``method``
    and ``name`` otherwise."""
    kind = numbers.Integral if integer else numbers.Real
    bad = isinstance(value, bool) or not isinstance(value, kind)
    # Integers are always finite (and math.isfinite overflows on huge ones, whichever kind
    # was asked for: lam=10**400 raised an OverflowError).
    bad = bad or (not integer and not is_finite_number(value))
    bad = bad or (value <= low if strict else value < low)
    if bad:
        what = "an int" if integer else "a number"
        raise ValueError(
            f"{method}: {name} must be {what} {'>' if strict else '>='} {low:g}, got {value!r}"
        )
    return int(value) if integer else float(value)


def check_positive_int(value, *, method: str, name: str, low: int = 1) -> int:
    """``value`` as an int ``>= low`` (a count: ``n_init``, ``max_iter``, ...)."""
    return check_number(value, method=method, name=name, low=low, integer=True)


def check_seed(value, *, method: str, name: str = "seed") -> int:
    """``value`` as an int in ``[0, SEED_MAX]``; checked here so that a bad seed is
    reported against the estimator, not deep inside scikit-learn or numpy."""
    return _check_seed(value, owner=method, name=name)


def check_choice(value, choices, *, method: str, name: str):
    """``value`` if it is one of ``choices`` (strings, or ``None`` where listed), else
    ``ValueError`` naming ``method``. Non-strings are refused before ``in`` so that an
    array or a number cannot compare equal to a choice by accident."""
    if not (value is None or isinstance(value, str)) or value not in choices:
        raise ValueError(f"{method}: {name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_non_negative(X: np.ndarray, *, method: str, role: str) -> None:
    """Raise ``ValueError`` naming ``method`` and ``role`` when ``X`` ``(n, d)`` has a
    NaN or infinite entry, a negative entry or no positive entry at all (a co-clustering
    needs a non-empty bipartite graph)."""
    if not np.isfinite(X).all():
        # NaN compares False both ways and would pass as "all zero" below
        raise ValueError(f"{method}: the {role} must hold finite values, found NaN or infinity")
    lowest = float(X.min())
    if lowest < 0:
        raise ValueError(
            f"{method}: requires non-negative features (they are the weights of an "
            f"instance-feature graph), but the {role} has a minimum of {lowest:.4g}; use "
            "counts, frequencies or intensities (a shared benchmark's stored features: "
            "preprocess='raw', `--data preprocess=raw` or `data: {preprocess: raw}` in a "
            "config), or shift / min-max scale the features"
        )
    if not float(X.max()) > 0:
        raise ValueError(
            f"{method}: the {role} features are all zero; expected some positive values"
        )


def check_domains(Xs, Xt, *, method: str) -> tuple[np.ndarray, np.ndarray]:
    """``Xs`` ``(n_s, d)`` and ``Xt`` ``(n_t, d)`` as float64 arrays: both 2-d with the same
    ``d``, at least one sample each and finite values; else ``ValueError`` naming
    ``method``."""
    Xs = np.asarray(Xs, dtype=np.float64)
    Xt = np.asarray(Xt, dtype=np.float64)
    if Xs.ndim != 2 or Xt.ndim != 2 or Xs.shape[1] != Xt.shape[1] or 0 in Xs.shape + Xt.shape:
        raise ValueError(
            f"{method}: expected Xs (n_s, d) and Xt (n_t, d), non-empty, with the same d, got "
            f"{Xs.shape} and {Xt.shape}"
        )
    for role, X in (("Xs", Xs), ("Xt", Xt)):
        if not np.isfinite(X).all():
            raise ValueError(f"{method}: {role} must hold finite values, found NaN or infinity")
    return Xs, Xt
