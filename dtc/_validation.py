"""Argument checks shared by dtc and the baselines (which re-export them from
``baselines._validation``; dtc never imports ``baselines``)."""

from __future__ import annotations

import argparse
import contextlib
import math
import numbers
import os
import sys
from pathlib import Path

import numpy as np

from dtc._warnings import warn

__all__ = [
    "SAFE_LOG2",
    "SEED_MAX",
    "check_bool",
    "check_image_shape",
    "check_seed",
    "float_array",
    "forget_fit",
    "host_array",
    "is_int_at_least",
    "path_argument",
    "pow2_exponent",
    "seed_argument",
    "times_pow2",
    "user_path",
]

#: Largest seed: scikit-learn's ``random_state`` (numpy's ``RandomState``) takes 32 bits.
SEED_MAX = 2**32 - 1

#: Data whose largest |value| lies outside ``[2**-SAFE_LOG2, 2**SAFE_LOG2]`` are brought to
#: unit scale by a power of two (:func:`pow2_exponent`) wherever squared distances are taken
#: of them (K-means, the neighbour graphs, the Sinkhorn cost, MMD's median heuristic, ...):
#: beyond, float32 squares underflow (features ~1e-30 all at distance 0) or overflow.
SAFE_LOG2 = 40


def pow2_exponent(*arrays) -> int:
    """0 when the largest |value| of ``arrays`` (NumPy arrays or torch tensors; empty ones
    are skipped) is 0, not finite, or within ``2**+-SAFE_LOG2``; else the ``e`` for which
    ``2**e`` times it lies in ``[0.5, 1)``. Multiplying by a power of two is exact in
    floating point (:func:`times_pow2`), and the computations that use it are equivariant
    or invariant to it: in range the data are used as given, bit for bit."""
    # max / -min: no |X| copy of a large array; a tensor detached (its value is read only)
    arrays = [a.detach() if hasattr(a, "detach") else a for a in arrays]
    sizes = (a.numel() if hasattr(a, "numel") else a.size for a in arrays)
    tops = [max(float(a.max()), -float(a.min())) for a, n in zip(arrays, sizes) if n]
    top = max(tops, default=0.0)
    if top == 0 or not math.isfinite(top) or 2.0**-SAFE_LOG2 <= top <= 2.0**SAFE_LOG2:
        return 0
    return -math.frexp(top)[1]


def times_pow2(x, e: int):
    """``x`` (a NumPy array or a torch tensor) times ``2**e``, exactly, differentiably for
    a tensor; ``x`` itself when ``e`` is 0. In two steps: below the dtype's normal range
    the factor alone overflowed (float32 at 1e-40: ``2**133`` is inf; float64 at 1e-310,
    ``2.0**1030`` an ``OverflowError``), while each half is finite and the product exact."""
    if not e:
        return x
    return x * 2.0 ** (e // 2) * 2.0 ** (e - e // 2)


def forget_fit(estimator) -> None:
    """Delete ``estimator``'s fitted attributes (public names ending in ``_``): a fit that
    fails is no fit, and the previous fit's results would make the estimator look fitted
    (``check_is_fitted``) and describe other data."""
    for name in [a for a in vars(estimator) if a.endswith("_") and not a.startswith("_")]:
        delattr(estimator, name)


def user_path(value) -> Path:
    """``value`` (str or os.PathLike) as a ``Path``, a leading ``~`` or ``~user``
    expanded as a shell would. The shell leaves ``--results=~/runs.jsonl`` and a quoted
    ``DTC_DATA="~/data"`` alone, and pathlib does not expand them either: outputs went
    to a folder named ``~`` in the working directory."""
    return Path(os.path.expanduser(os.fspath(value)))


#: What an empty path argument is refused with: ``--out "$OUT"`` with ``OUT`` unset is
#: ``Path("")``, the working directory, where a sweep then wrote its results.
EMPTY_PATH = "expected a path, got an empty string (an unset shell variable?)"


def path_argument(value: str) -> Path:
    """:func:`user_path` of a command-line path (argparse's ``type=``), refusing an empty
    one (:data:`EMPTY_PATH`): argparse names the option."""
    if value == "":
        raise argparse.ArgumentTypeError(EMPTY_PATH)
    return user_path(value)


def seed_argument(reserve: int = 0):
    """An argparse ``type``: a seed in ``[0, SEED_MAX - reserve]``, as :func:`check_seed`
    takes it (``reserve``: the seeds above it the run also uses), else a usage error
    naming the option. Only ``>= 0`` was checked in the scripts: 2**32 passed, and failed
    the first fit with a traceback."""
    top = SEED_MAX - reserve

    def parse(value: str) -> int:
        try:
            seed = int(value)
        except ValueError:
            seed = -1
        if seed < 0:
            raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value!r}")
        if seed > top:
            used = f"seed + 1 to seed + {reserve} are" if reserve > 1 else "seed + 1 is"
            why = f" - {reserve}: {used} used too" if reserve else ""
            raise argparse.ArgumentTypeError(
                f"expected a seed <= {top} (2**32 - 1{why}), got {value!r}"
            )
        return seed

    parse.__name__ = "seed"  # argparse's "invalid seed value" for an error it raises itself
    return parse


def is_int_at_least(value, low: int) -> bool:
    """Whether ``value`` is an int >= ``low``, Python's or numpy's (a bool is not)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= low


def check_image_shape(value, name: str) -> tuple[int, ...]:
    """``value`` as ``(H, W)`` or ``(C, H, W)`` of positive ints (Python's or numpy's), else
    ``ValueError`` naming ``name``: ``int()`` would truncate 8.9 to 8 and keep ``(-8, -8)``,
    whose product is 64 too."""
    given = tuple(value) if np.ndim(value) == 1 else None
    if given is None or len(given) not in (2, 3) or not all(is_int_at_least(s, 1) for s in given):
        raise ValueError(f"{name} must be (H, W) or (C, H, W) of positive ints, got {value!r}")
    return tuple(int(s) for s in given)


def check_bool(value, *, method: str, name: str) -> bool:
    """``value`` as a ``bool``; only ``True`` / ``False`` (numpy's too) are accepted, since
    the truthiness of a string such as ``"no"`` would silently mean ``True``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{method}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(value, *, owner: str, name: str = "seed", reserve: int = 0) -> int:
    """``value`` as an int in ``[0, SEED_MAX - reserve]``, else ``ValueError`` naming
    ``owner`` and ``name``: numpy fails on a negative or fractional seed, and scikit-learn
    on one above 32 bits, with errors that name neither (and often after training).
    ``reserve``: how many seeds above ``value`` the routine also uses (``value + 1`` to
    ``value + reserve``, e.g. one per K-means restart), which must fit too."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, got {value!r}")
    if value > SEED_MAX - reserve:
        top = "2**32 - 1" + (f" - {reserve}" if reserve else "")
        why = f" ({name} + 1 to {name} + {reserve} seed it too)" if reserve else ""
        raise ValueError(f"{owner}: {name} must be an int in [0, {top}]{why}, got {value!r}")
    return int(value)


def is_finite_number(value) -> bool:
    """Whether ``value`` is a real number (a bool is not) that a float holds finitely: an
    int past a float's range is not (``math.isfinite`` and ``float`` overflow on it, and
    ``np.isfinite`` raises a TypeError past 2**64)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


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
    value = value.detach().cpu()
    if value.layout != torch.strided:  # sparse: numpy reads dense memory only
        value = value.to_dense()
    if value.is_floating_point() and value.dtype not in (
        torch.float16,
        torch.float32,
        torch.float64,
    ):
        # bfloat16 / float8, which numpy has no type for ("unsupported ScalarType"):
        # float32 holds every one of their values
        value = value.float()
    return value


def check_number(
    value, name: str, *, low: float, high: float | None = None, strict: bool = False
) -> float:
    """``value`` as a float if it is a finite real number in ``[low, high]`` (``> low``
    with ``strict``); else ``ValueError`` (an infinite coefficient, say, would turn every
    gradient into inf or NaN: ``inf * 0``)."""
    torch = sys.modules.get("torch")  # a tensor exists only once torch is loaded
    if torch is not None and isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    elif (
        isinstance(value, np.ndarray)  # np.load's memmap too
        and not np.ma.is_masked(value)  # a masked value's item() is the hidden number
        and value.ndim == 0
        and value.dtype.kind in "biufO"  # a datetime64's item() is an int (nanoseconds)
    ):
        # a 0-d array (a value read from an .npz file, np.asarray(0.5)): a number, as a
        # 0-d tensor is, and as float() and the comparisons this replaced took it
        value = value.item()
    # is_finite_number: math.isfinite and float() overflow on ints past a float's range
    ok = is_finite_number(value) and (value > low if strict else value >= low)
    if not ok or (high is not None and value > high):
        op = ">" if strict else ">="
        lower = "(" if strict else "["  # a strict range does not hold low: "in [0.0, 1.0], got 0.0"
        bounds = f"in {lower}{low}, {high}]" if high is not None else f"{op} {low} and finite"
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")
    return float(value)


def check_probability_rows(probs, name: str):
    """``probs``, a floating-point tensor of shape ``(n, k)``, checked to hold rows of
    probabilities (finite, non-negative, each row summing to 1); else ``ValueError`` naming
    ``name``. Row sums are taken in float64 with a tolerance of the tensor's own precision:
    a bfloat16 softmax (8-bit mantissa) sums to 1 only within a few 1e-3."""
    if not bool(probs.isfinite().all()) or bool((probs < 0).any()):
        raise ValueError(f"{name} must be finite and non-negative")
    row_sums = probs.detach().double().sum(dim=1)
    eps = sys.modules["torch"].finfo(probs.dtype).eps if probs.is_floating_point() else 0.0
    atol = max(1e-4, 2 * eps)
    if not bool(((row_sums - 1).abs() <= atol).all()):
        raise ValueError(f"{name} rows must sum to 1 within {atol:g} (soft cluster assignments)")
    return probs


def _uncastable_types(values) -> set[type]:
    """The types among ``values`` whose (first) value float32 does not take (numpy scalars
    and ``None``, which reads as NaN, it does)."""
    first: dict[type, object] = {}
    for v in values:
        first.setdefault(type(v), v)
    bad = set()
    for t, v in first.items():
        try:
            np.asarray([v], dtype=np.float32)
        except (TypeError, ValueError, OverflowError):
            bad.add(t)
    return bad


def check_features(X, *, name: str = "X", min_samples: int = 1) -> np.ndarray:
    """Return ``X`` as a C-contiguous float32 array of shape ``(n, d)``.

    Raises ``ValueError`` naming ``name`` when ``X`` is not two-dimensional, has
    fewer than ``min_samples`` rows, no columns, or holds complex, NaN or Inf values,
    text, times (datetime64, timedelta64) or records.
    """
    given = type(X)  # the caller's: a list is an ndarray below
    X = host_array(X, name)
    _check_unmasked(X, name)
    if not hasattr(X, "dtype"):  # a list: its kind, for the checks below
        try:
            X = np.asarray(X)
        except (TypeError, ValueError) as exc:  # ragged rows: numpy's words named nothing
            raise ValueError(
                f"{name}: expected a numeric array of shape (n, d), got {type(X)!r}"
            ) from exc
    kind = getattr(getattr(X, "dtype", None), "kind", "")
    if kind in ("m", "M", "V"):
        # float32 took timestamps for their counts since 1970 (1704067200.0 and one second
        # later: the same float32), and records have no numbers to take
        raise ValueError(
            f"{name}: expected a real numeric array of shape (n, d), got dtype {X.dtype}"
        )
    if kind in ("U", "S") or (
        kind == "O" and any(issubclass(t, (str, bytes)) for t in set(map(type, X.flat)))
    ):
        # the cast below read "1_000" as 1000.0 without a word, while float_array (the
        # embedding of new rows, as DTC.transform_target takes them) refused the same array
        raise ValueError(
            f"{name}: expected numbers, got text (dtype {X.dtype}); convert the features "
            "first (dtc.data.load_csv reads a CSV file)"
        )
    if np.iscomplexobj(X):
        # the cast below would drop the imaginary parts with a mere ComplexWarning
        raise ValueError(
            f"{name}: expected a real numeric array of shape (n, d), got complex values"
        )
    try:
        with np.errstate(over="ignore"):  # values beyond float32 are named below
            arr = np.asarray(X, dtype=np.float32)
    except OverflowError as exc:  # an int beyond float64: Python's words named nothing
        raise ValueError(
            f"{name}: values beyond float32's range (|x| > {np.finfo(np.float32).max:.3g}); "
            "rescale the features"
        ) from exc
    except (TypeError, ValueError) as exc:
        held = ""
        if kind == "O":  # the objects that are no numbers: "an ndarray" named nothing wrong
            types = sorted(t.__name__ for t in _uncastable_types(X.flat))
            held = f" holding {', '.join(types)} objects" if types else ""
        raise ValueError(
            f"{name}: expected a numeric array of shape (n, d), got {given!r}{held}"
        ) from exc
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d array of shape (n, d), got shape {arr.shape}")
    if arr.shape[0] < min_samples:
        # "empty domain?" only of an empty one: 2 rows where 3 are needed are no empty domain
        hint = " (empty domain?)" if arr.shape[0] == 0 else ""
        raise ValueError(
            f"{name}: expected at least {min_samples} sample(s), got {arr.shape[0]}{hint}"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one feature, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        given = np.asarray(X)
        if given.dtype.kind == "O":  # Python ints in a list: 10**39 is finite in float64
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                given = given.astype(np.float64)
        if given.dtype.kind in "iuf" and np.isfinite(given).all():
            # finite in the input, infinite once cast: beyond float32's range
            raise ValueError(
                f"{name}: values beyond float32's range (|x| > {np.finfo(np.float32).max:.3g}) "
                f"in {bad} row(s); rescale the features"
            )
        raise ValueError(f"{name}: expected finite values, found NaN or Inf in {bad} row(s)")
    given = np.asarray(X)
    if given.dtype.kind == "f" and given.dtype.itemsize > 4 and given.size:
        # Below float32's normal range the cast keeps fewer bits, down to none: data at
        # 1e-44 clustered with its inertia 18 % off, at 1e-50 as one point, without a word
        # (the power-of-two rescaling of the clusterers sees the cast values). Refused when
        # every value is there, as values beyond the range are above.
        top = float(np.max(np.abs(given)))
        if 0.0 < top < np.finfo(np.float32).tiny:
            raise ValueError(
                f"{name}: values below float32's normal range (the largest |x| is {top:.3g} < "
                f"{np.finfo(np.float32).tiny:.3g}); rescale the features"
            )
        _warn_if_cast_loses_spread(given, arr, name)
    return np.ascontiguousarray(arr)


#: Rows of a float64 input whose float32 rounding :func:`check_features` compares with its
#: spread (evenly spaced: the check costs O(d) rows' work whatever n).
_CAST_CHECK_ROWS = 4096
#: A float64 column whose standard deviation is within this many units in the last place
#: of its largest |value| is constant up to rounding for :func:`check_features`' cast check.
_FLOAT64_NOISE_ULPS = 256


def _warn_if_cast_loses_spread(given: np.ndarray, arr: np.ndarray, name: str) -> None:
    """Warn when the float32 cast of ``given`` (float64, ``(n, d)``) rounds a column by more
    than an eighth of its standard deviation (on up to :data:`_CAST_CHECK_ROWS` evenly
    spaced rows).

    Why: float32 keeps about 7 digits, so features far from the origin lose their spread,
    which is all a clusterer sees: three blobs of std 1, 6 apart, at an offset of 1e8 were
    clustered from values 8 apart (K-means ARI 0.58, GMM 0.61, spectral 0.66 for 1.0)
    without a word. The clusterers here are translation-equivariant: centring the features
    first keeps every digit. A column below float32's normal range is named apart: it
    needs rescaling, not centring."""
    if given.ndim != 2 or given.shape[0] < 2:
        return
    rows = np.unique(np.linspace(0, given.shape[0] - 1, _CAST_CHECK_ROWS).astype(np.int64))
    sample = np.asarray(given[rows], dtype=np.float64)
    std = sample.std(axis=0)
    rounding = np.abs(arr[rows].astype(np.float64) - sample).max(axis=0)
    # A column constant up to float64's own rounding (within _FLOAT64_NOISE_ULPS units in
    # the last place of its largest value, as a mean-normalised constant comes out) has no
    # spread to lose: it was warned of, with advice to centre it (std 5.6e-16 at a mean
    # of 0.75, 3 ulps), where float32 only rounds the noise away
    noise = _FLOAT64_NOISE_ULPS * np.finfo(np.float64).eps * np.abs(sample).max(axis=0)
    lost = (std > noise) & (rounding > std / 8)
    # A column whose every value lies below float32's normal range loses its digits for
    # want of exponent, not of mantissa: centring cannot help it (values of 1e-46 were said
    # to be "far from the origin", and said so again once centred), rescaling does
    below = np.abs(sample).max(axis=0) < np.finfo(np.float32).tiny
    for cols, cause in (
        (
            np.flatnonzero(lost & ~below),
            "values far from the origin lose their digits; centre the features first "
            "(subtract each column's mean)",
        ),
        (
            np.flatnonzero(lost & below),
            "values below float32's normal range (|x| < "
            f"{np.finfo(np.float32).tiny:.3g}) lose their digits; rescale those features first "
            "(multiply each by a power of ten)",
        ),
    ):
        if not cols.size:
            continue
        j = int(cols[np.argmax(rounding[cols] / std[cols])])
        warn(
            f"{name}: the cast to float32 rounds {cols.size} of its "
            f"{given.shape[1]} float64 feature(s) by more than an eighth of their spread "
            f"(column {j}: mean {sample[:, j].mean():.6g}, std {std[j]:.3g}, rounded by up to "
            f"{rounding[j]:.3g}): {cause}",
            RuntimeWarning,
        )


def _check_unmasked(value, name: str) -> None:
    """``ValueError`` naming ``name`` when ``value`` is a masked array with masked entries:
    ``np.asarray`` drops the mask, and the hidden values (a fill value, or whatever the
    cell held) were used as data without a word, where a NaN is refused."""
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        count = int(np.ma.count_masked(value))
        raise ValueError(
            f"{name}: got a masked array with {count} masked (missing) value(s); expected "
            "every value known (fill them, e.g. X.filled(...), or drop those rows)"
        )


def float_array(value, name: str, what: str = "X") -> np.ndarray:
    """``value`` (an array-like or a tensor) as a float64 array; ``ValueError`` naming
    ``name`` and ``what`` when it is not real numbers: the cast would drop imaginary parts
    with a mere ``ComplexWarning``, or fail in numpy's words."""
    return np.asarray(real_array(value, name, what), dtype=np.float64)


def real_array(value, name: str, what: str = "X") -> np.ndarray:
    """:func:`float_array`'s checks, but a floating array keeps its dtype (no copy): for
    callers that widen only the rows they use (a subsample of float32 data was preceded by
    a float64 copy of all of it). Other numbers come as float64."""
    value = host_array(value, f"{name}: {what}")
    _check_unmasked(value, f"{name}: {what}")
    try:
        arr = np.asarray(value)  # ragged lists fail here, in numpy's words: named below
        if np.iscomplexobj(arr):
            raise ValueError(f"{name}: {what} must be real numbers, got complex values")
        if arr.dtype.kind in "USVMm":
            # strings, bytes and dates cast to numbers ("1.5" -> 1.5) without a word
            raise TypeError(f"dtype {arr.dtype}")
        return arr if arr.dtype.kind == "f" else np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        if str(exc).startswith(f"{name}: "):
            raise
        raise ValueError(
            f"{name}: {what} must be a numeric array, got {type(value).__name__} ({exc})"
        ) from exc
