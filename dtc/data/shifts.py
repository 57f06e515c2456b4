"""Controlled image shifts: turn a domain into a shifted copy of itself.

Used to build the embedded default pair (:mod:`dtc.data.digits`) and usable on
any image domain (one with ``image_shape``) whose pixel values lie in ``[0, 1]``.

The composite :func:`apply_shift` has one knob, the strength ``s`` in ``[0, 1]``;
at strength ``s`` it applies, in this order:

1. **rotation** by ``s * MAX_ROTATION`` degrees (30 at ``s = 1``), counter-clockwise
   and the same for every image: a systematic change of pose, like the pose split
   of COIL1/COIL2 in Long et al., ICCV 2013;
2. **stroke thickening**: a blend ``(1 - s) * x + s * dilate(x)`` with a grey
   dilation over a 2x2 window, i.e. a writer with a thicker pen;
3. **contrast change**: ``0.5 + (1 - s * MAX_CONTRAST_LOSS) * (x - 0.5)``, grey
   levels pulled towards mid-grey (factor 0.5 at ``s = 1``), a different sensor;
4. **additive Gaussian noise** with standard deviation ``s * MAX_NOISE_STD``
   (0.15 at ``s = 1``), then clipping to ``[0, 1]``.

``s = 0`` is the identity (but for the final clipping of values within the 1e-6
tolerance below 0 or above 1). The shift is not continuous there: at any ``s > 0`` the
rotation blacks out the frame's outer pixels (see :func:`rotate`). Input outside ``[0, 1]`` (beyond float rounding) is
refused rather than clipped: a z-scored domain would otherwise come out destroyed. All
randomness (the noise) comes from the ``seed`` argument, so a result is
reproducible bit for bit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from dtc._validation import float_array
from dtc.data.domain import Domain

__all__ = [
    "MAX_CONTRAST_LOSS",
    "MAX_NOISE_STD",
    "MAX_ROTATION",
    "add_noise",
    "apply_shift",
    "change_contrast",
    "rotate",
    "shift_domain",
    "thicken",
]

MAX_ROTATION = 30.0
MAX_CONTRAST_LOSS = 0.5
MAX_NOISE_STD = 0.15


def _check_images(images, func: str, *, finite: bool = True) -> np.ndarray:
    """``images`` as float64 ``(n, H, W)``; ``ValueError`` naming ``func`` for another
    shape or (``finite``) a NaN or Inf, which every step would pass on silently."""
    arr = float_array(images, func, "images")  # a tensor that requires grad: detached
    if arr.ndim != 3:
        raise ValueError(f"{func}: images must have shape (n, H, W), got shape {arr.shape}")
    if finite and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=(1, 2)).sum())
        raise ValueError(f"{func}: images must hold finite values, found NaN or Inf in {bad}")
    return arr


def _check_finite(value, func: str, name: str, *, minimum: float | None = None) -> float:
    """``value`` as a float, or ``ValueError`` naming ``func`` and ``name`` unless it is a
    finite real number (``>= minimum`` when given): a NaN angle rotates every image to
    black and a NaN contrast factor or noise std makes every pixel NaN, silently."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not np.isfinite(value) or (minimum is not None and value < minimum):
        expected = "a finite number" if minimum is None else f"a finite number >= {minimum:g}"
        raise ValueError(f"{func}: {name} must be {expected}, got {value!r}")
    return float(value)


# Pixels may stray this far outside [0, 1] by float rounding (a float32 domain, a
# division by 255) and still count as in range; anything further is refused.
_RANGE_TOLERANCE = 1e-6


def _check_unit_range(arr: np.ndarray, func: str, name: str) -> None:
    """``ValueError`` naming ``func`` and ``name`` when ``arr`` has a value outside
    ``[0, 1]`` (beyond ``_RANGE_TOLERANCE``) or a NaN: the shift's contrast change and
    final clipping assume pixels in ``[0, 1]``, and clipping a z-scored domain there
    would silently destroy it."""
    if arr.size == 0:
        return
    lo, hi = float(arr.min()), float(arr.max())
    # written so that NaN (every comparison False) is refused too
    if not (lo >= -_RANGE_TOLERANCE and hi <= 1.0 + _RANGE_TOLERANCE):
        raise ValueError(
            f"{func}: {name} must hold pixel values in [0, 1], found range [{lo:.4g}, {hi:.4g}] "
            "(a standardised or 0-255 domain? shift the raw [0, 1] pixels instead)"
        )


def _check_strength(strength, func: str, name: str = "strength") -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.number)):
        raise ValueError(f"{func}: {name} must be a number in [0, 1], got {strength!r}")
    s = float(strength)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"{func}: {name} must be in [0, 1], got {strength!r}")
    return s


def rotate(images, angle: float) -> np.ndarray:
    """Rotate every image of ``images`` ``(n, H, W)`` by ``angle`` degrees (counter-clockwise
    in the ``(H, W)`` grid as stored).

    Bilinear interpolation, output of the same ``(n, H, W)`` shape, zero (black) fill
    outside the original frame, as scipy's ``ndimage.rotate(mode="constant")`` does it: an
    output pixel whose pre-image falls outside the frame, by however little, is 0, not a
    blend with the fill. So any angle other than 0 blacks out part of the outer ring of
    pixels (on the 8x8 digits, 12 % of the ink at 1e-6 degrees, 16 % at 15; scipy's
    ``"grid-constant"`` would keep 100 % and 99 %). The embedded digits pair and every
    figure measured on it use this rotation, so it is kept.
    """
    images = _check_images(images, "rotate")
    angle = _check_finite(angle, "rotate", "angle")
    if angle == 0:
        return images.copy()
    # axes: the (H, W) plane of each image (scipy sorts the pair, so its order does not
    # set the direction); a positive angle turns counter-clockwise as displayed (tested
    # against np.rot90).
    return ndimage.rotate(images, angle, axes=(2, 1), reshape=False, order=1, mode="constant")


def thicken(images, amount: float) -> np.ndarray:
    """Thicken strokes: ``(1 - amount) * x + amount * grey_dilation(x, 2x2)``.

    ``images`` ``(n, H, W)``; ``amount`` in ``[0, 1]``; returns ``(n, H, W)``.
    The dilation acts on each image separately (size 1 along the sample axis).
    """
    images = _check_images(images, "thicken")
    amount = _check_strength(amount, "thicken", "amount")
    dilated = ndimage.grey_dilation(images, size=(1, 2, 2))
    return (1.0 - amount) * images + amount * dilated


def change_contrast(images, factor: float) -> np.ndarray:
    """Scale grey levels around mid-grey: ``0.5 + factor * (x - 0.5)``; shape kept."""
    images = _check_images(images, "change_contrast")
    factor = _check_finite(factor, "change_contrast", "factor")
    if factor == 1.0:  # exactly the identity (0.5 + (x - 0.5) rounds: 0.1 -> 0.0999...98)
        return images.copy()
    return 0.5 + factor * (images - 0.5)


def add_noise(images, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add i.i.d. Gaussian noise of standard deviation ``std`` drawn from ``rng``; shape kept."""
    images = _check_images(images, "add_noise")
    std = _check_finite(std, "add_noise", "std", minimum=0.0)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"add_noise: rng must be a numpy.random.Generator, got {type(rng)!r}")
    return images + std * rng.standard_normal(images.shape)


def _check_seed(seed, func: str) -> int:
    """``seed`` as an int >= 0, or ``ValueError`` naming ``func`` and ``seed``: ``None``
    would let numpy draw fresh entropy (a different result at every call) and a negative
    or non-integer seed fails in numpy with an error that names nothing."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{func}: seed must be an int >= 0, got {seed!r}")
    return int(seed)


def apply_shift(images, strength: float, *, seed: int = 0) -> np.ndarray:
    """The composite shift of strength ``strength`` (see the module docstring).

    Parameters
    ----------
    images : array of shape (n, H, W)
        Pixel values in ``[0, 1]`` (up to 1e-6 of float rounding; ``ValueError``
        otherwise).
    strength : float in [0, 1]
    seed : int >= 0
        Seed of the noise (``None`` is refused: the result would not be reproducible).

    Returns
    -------
    array of shape (n, H, W), values in ``[0, 1]``.
    """
    images = _check_images(images, "apply_shift", finite=False)  # NaN: named as out of range
    _check_unit_range(images, "apply_shift", "images")
    s = _check_strength(strength, "apply_shift")
    rng = np.random.default_rng(_check_seed(seed, "apply_shift"))
    out = rotate(images, s * MAX_ROTATION)
    out = thicken(out, s)
    out = change_contrast(out, 1.0 - s * MAX_CONTRAST_LOSS)
    out = add_noise(out, s * MAX_NOISE_STD, rng)
    return np.clip(out, 0.0, 1.0)


def shift_domain(domain: Domain, strength: float, *, seed: int = 0) -> Domain:
    """A copy of an image ``domain`` (``image_shape`` ``(H, W)``, pixels in ``[0, 1]``:
    ``ValueError`` otherwise) with :func:`apply_shift` applied; labels and name kept,
    ``meta["shift"]`` recorded.

    The images are the rows reshaped row-major to ``image_shape``, as stored: COIL20's rows
    are column-major (see :mod:`dtc.data.benchmarks`), so a COIL image, seen upright, is
    rotated clockwise (the other steps look alike either way)."""
    if not isinstance(domain, Domain):
        raise ValueError(f"shift_domain: expected a dtc.data.Domain, got {type(domain)!r}")
    if domain.image_shape is None or len(domain.image_shape) != 2:
        raise ValueError(
            f"shift_domain: domain {domain.name!r} needs image_shape (H, W), "
            f"got {domain.image_shape}"
        )
    _check_seed(seed, "shift_domain")
    _check_unit_range(domain.X, "shift_domain", f"domain {domain.name!r}: X")
    images = domain.X.reshape((-1, *domain.image_shape))
    shifted = apply_shift(images, strength, seed=seed).reshape(domain.n_samples, -1)
    meta = {**domain.meta, "shift": float(strength), "shift_seed": int(seed)}
    return replace(domain, X=shifted, meta=meta)
