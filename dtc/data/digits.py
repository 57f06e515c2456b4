"""The embedded default pair: scikit-learn's 8x8 handwritten digits, source vs shifted target.

Needs no data files: ``sklearn.datasets.load_digits`` ships with scikit-learn
(the UCI "Optical Recognition of Handwritten Digits" test set, E. Alpaydin and
C. Kaynak, 1998; 1,797 images, 10 classes, grey levels 0..16).

The 1,797 images are split into two disjoint, stratified halves (seeded): the
first half is the ``source`` domain as is, the second becomes the ``target``
after :func:`dtc.data.shifts.apply_shift` of strength ``shift`` (rotation,
stroke thickening, contrast loss and noise; see that module for what each is at
strength ``s``). Pixels are divided by 16, so features lie in ``[0, 1]``.

Measured with ``seed=0`` (1-NN, Euclidean, fitted on the labelled source and
scored on the target; K-means on the target alone, ``n_init=10``,
``random_state=0``, accuracy after Hungarian matching)::

    shift   1-NN source->target   K-means ACC on target
    0.0     98.8 %                77.1 %
    0.5     75.9 %                70.9 %
    1.0     28.5 %                62.5 %

(K-means ACC on the unshifted source: 80.0 %.) The 1-NN drop is what a source
model loses to the shift; ``tests/data/test_digits.py`` checks it is monotone.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from dtc.data.domain import Domain, DomainPair
from dtc.data.shifts import _check_strength, apply_shift

__all__ = ["DIGITS_IMAGE_SHAPE", "check_digits_options", "make_digits_pair"]

DIGITS_IMAGE_SHAPE = (8, 8)
_N_CLASSES = 10
_N_IMAGES = 1797  # load_digits' images
_MAX_SEED = 2**32 - 1  # scikit-learn's random_state range


def check_digits_options(
    shift: float = 0.5, seed: int = 0, *, source_fraction: float = 0.5
) -> None:
    """Check the arguments of :func:`make_digits_pair` without building the pair (a
    config is checked with it at load time); ``ValueError`` naming the first wrong one."""
    _check_strength(shift, "make_digits_pair", "shift")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"make_digits_pair: seed must be an int, got {seed!r}")
    if not 0 <= int(seed) <= _MAX_SEED:
        raise ValueError(f"make_digits_pair: seed must be in [0, 2**32 - 1], got {seed!r}")
    if (
        isinstance(source_fraction, bool)
        or not isinstance(source_fraction, (int, float, np.number))
        or not 0.0 < float(source_fraction) < 1.0
    ):
        raise ValueError(
            f"make_digits_pair: source_fraction must be a number in (0, 1), got {source_fraction!r}"
        )
    # the stratified split puts floor(fraction * 1797) images in the source and needs at
    # least one image per class on each side
    n_source = math.floor(float(source_fraction) * _N_IMAGES)
    if not _N_CLASSES <= n_source <= _N_IMAGES - _N_CLASSES:
        low, high = _N_CLASSES / _N_IMAGES, (_N_IMAGES - _N_CLASSES + 1) / _N_IMAGES
        raise ValueError(
            f"make_digits_pair: source_fraction={source_fraction!r} puts {n_source} of the "
            f"{_N_IMAGES} images in the source and {_N_IMAGES - n_source} in the target; the "
            f"stratified split needs at least {_N_CLASSES} (one per class) on each side: "
            f"source_fraction in [{low:.5g}, {high:.5g}) (10/1797 to 1788/1797)"
        )


def make_digits_pair(
    shift: float = 0.5, seed: int = 0, *, source_fraction: float = 0.5
) -> DomainPair:
    """Build the default pair from scikit-learn's bundled digits.

    Parameters
    ----------
    shift : float in [0, 1], default 0.5
        Strength of the target's shift (0: same distribution as the source).
    seed : int, default 0
        Seeds the stratified split and the noise; equal seeds give identical pairs.
    source_fraction : float in (0, 1), default 0.5
        Fraction of the 1,797 images that go to the source.

    Returns
    -------
    DomainPair
        ``source`` (labelled, ``X`` of shape ``(n_s, 64)``) and ``target``
        (labelled, for evaluation; ``X`` of shape ``(n_t, 64)``), both with
        ``image_shape=(8, 8)`` and values in ``[0, 1]``; ``n_clusters=10``,
        ``benchmark="digits"``.

    Examples
    --------
    >>> pair = make_digits_pair()
    >>> pair.source.X.shape, pair.target.X.shape, pair.n_clusters
    ((898, 64), (899, 64), 10)
    """
    check_digits_options(shift, seed, source_fraction=source_fraction)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_s, X_t, y_s, y_t = train_test_split(
        X, y, train_size=float(source_fraction), stratify=y, random_state=int(seed)
    )
    # apply_shift validates `shift`; the noise seed is derived from `seed` so one
    # number fixes the whole pair.
    images = apply_shift(X_t.reshape(-1, *DIGITS_IMAGE_SHAPE), shift, seed=int(seed))
    meta = {"benchmark": "digits", "shift": float(shift), "seed": int(seed)}
    # each domain its own dict (one shared, a change to one domain's meta changed both);
    # "shift" is the pair's parameter, the source's own images are unshifted
    source = Domain(X_s, y_s, name="source", image_shape=DIGITS_IMAGE_SHAPE, meta=dict(meta))
    target = Domain(
        images.reshape(len(y_t), -1), y_t, name="target", image_shape=DIGITS_IMAGE_SHAPE, meta=meta
    )
    return DomainPair(source, target, n_clusters=_N_CLASSES, benchmark="digits")
