"""Class-imbalanced versions of a labelled domain.

Two profiles of per-class sizes, as in the long-tailed recognition literature
(exponential: Cui, Jia, Lin, Song, Belongie, *Class-Balanced Loss Based on
Effective Number of Samples*, CVPR 2019; step: Buda, Maki, Mazurowski, *A
systematic study of the class imbalance problem in convolutional neural
networks*, Neural Networks 2018). With classes in increasing label order
``c = 0..C-1`` and ``n_max`` the size of the smallest class of the input (so every
class can supply it):

``exponential``  ``n_c = round(n_max * ratio ** (-c / (C - 1)))``: class 0 keeps
                 ``n_max``, the last class gets ``n_max / ratio``;
``step``         the last ``n_minor`` classes get ``round(n_max / ratio)`` samples,
                 the others ``n_max``, where ``n_minor = floor(minority_fraction * C
                 + 0.5)`` (the product rounded half up: fraction 0.5 makes 2 of 3
                 classes minorities, 3 of 5) clipped to ``[1, C - 1]`` (at least one
                 minority and one majority class, so the ratio is realised).

``ratio`` is the imbalance ratio, largest class / smallest class, at most ``n_max``
(the smallest class keeps at least one sample); the realised ratio equals it up to
rounding of the minority size (half to even). Which samples are kept is
drawn with ``seed``; their original order is preserved. Which classes are minorities is
not: always the highest labels (under ``exponential`` the last class is a smallest one,
whatever the seed; rounding can tie the last few, e.g. DSLR at ratio 5 keeps 2 samples of
each of classes 7 to 9, and a "minority recall" then averages their recalls). The subsets
of two ratios are not nested: the draw of every class depends on the ratio.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from fractions import Fraction

import numpy as np

from dtc.data.domain import Domain, _check_labels

__all__ = ["PROFILES", "check_imbalance", "class_sizes", "imbalanced_rows", "make_imbalanced"]

PROFILES = ("exponential", "step")


def check_imbalance(
    ratio: float,
    profile: str = "exponential",
    seed: int = 0,
    minority_fraction: float = 0.5,
    *,
    prefix: str = "",
) -> None:
    """Check the arguments of :func:`make_imbalanced` that do not depend on the domain
    (a config is checked with it before any data is loaded); ``ValueError`` naming the
    first wrong one, as ``prefix`` + its name (``prefix="imbalance_"`` names the data
    parameters a config or ``dtc run --data`` sets, ``imbalance_seed``...)."""
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):  # not complex
        raise ValueError(f"{prefix}ratio: expected a number >= 1, got {ratio!r}")
    try:  # float(): a Fraction or an int past float64 failed in numpy's isfinite, unnamed
        finite = math.isfinite(float(ratio))
    except OverflowError:
        finite = False
    if not (finite and ratio >= 1):
        raise ValueError(
            f"{prefix}ratio: expected the imbalance ratio (largest/smallest) >= 1, got {ratio!r}"
        )
    if profile not in PROFILES:
        raise ValueError(f"{prefix}profile: expected one of {PROFILES}, got {profile!r}")
    # numpy's generators refuse a negative seed, with an error that names nothing
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{prefix}seed: expected an int >= 0, got {seed!r}")
    # Checked whatever the profile, though only "step" uses it: a wrong value is an error
    # wherever it is given (a config sweeping the profile keeps one minority_fraction).
    if (
        isinstance(minority_fraction, bool)
        or not isinstance(minority_fraction, numbers.Real)  # np.number took complex
        or not 0.0 < minority_fraction < 1.0  # NaN fails this too
    ):
        raise ValueError(
            f"{prefix}minority_fraction: expected a number in (0, 1), got {minority_fraction!r}"
        )


def class_sizes(
    n_classes: int,
    n_max: int,
    ratio: float,
    profile: str = "exponential",
    minority_fraction: float = 0.5,
) -> np.ndarray:
    """Target size of each class, shape ``(n_classes,)`` int, following ``profile``
    (see the module docstring). Raises ``ValueError`` when ``ratio > n_max``: the
    smallest class would then need fewer than one sample, so the ratio (largest /
    smallest) could not be realised."""
    check_imbalance(ratio, profile, minority_fraction=minority_fraction)
    # ints: 2.5 classes gave 3 sizes on the exponent of 1.5
    for value in (n_classes, n_max):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"class_sizes: n_classes and n_max must be ints, got {value!r}")
    if n_classes < 2:
        raise ValueError(f"class_sizes: expected at least 2 classes, got {n_classes}")
    if n_max < 1:
        raise ValueError(f"class_sizes: n_max must be >= 1, got {n_max}")
    # Both profiles give the smallest class n_max / ratio samples before rounding. Below
    # 1 it would be rounded up to 1 (up to ratio 2 * n_max) and the realised ratio would
    # be n_max, not the one recorded, or down to 0 (an empty class): both refused.
    if ratio > n_max:
        raise ValueError(
            f"class_sizes: ratio={ratio} cannot be realised with n_max={n_max} (the largest "
            f"class's size, at most the input's smallest class): the smallest class would "
            f"hold fewer than one sample, so the ratio can be at most {n_max}"
        )
    # The smallest class, n_max / ratio rounded half to even, on the decimal the user wrote
    # (as minority_fraction below): in binary 23 * 9.2**-1 is 2.5000000000000004 (3, where
    # the step profile gave 2) and 33 / 4.4 is 7.499999999999999 (7, not 8).
    smallest = round(Fraction(n_max) / Fraction(str(float(ratio))))
    if profile == "exponential":
        sizes = np.round(n_max * float(ratio) ** (-np.arange(n_classes) / (n_classes - 1)))
        sizes[-1] = smallest
    else:
        # At least one minority and one majority class, so the ratio is realised.
        # Half up, not Python's round (half to even: 0.5 of 3 classes gave 2, of 5 gave 2),
        # on the decimal the user wrote: in binary 0.58 * 25 is 14.499999999999998, which
        # floor(x + 0.5) took to 14, not 15.
        exact = Fraction(str(float(minority_fraction))) * n_classes
        n_minor = int(np.clip(math.floor(exact + Fraction(1, 2)), 1, n_classes - 1))
        sizes = np.full(n_classes, float(n_max))
        # the minority's size rounds half to even (round): n_max 5, ratio 2 gives 2
        sizes[n_classes - n_minor :] = smallest
    return sizes.astype(np.int64)


def make_imbalanced(
    domain: Domain,
    ratio: float,
    profile: str = "exponential",
    seed: int = 0,
    minority_fraction: float = 0.5,
) -> Domain:
    """A class-imbalanced subset of a labelled ``domain``.

    Parameters
    ----------
    domain : Domain
        Labelled, ``X`` of shape ``(n, d)``, at least two classes.
    ratio : float in [1, n_max]
        Largest class size / smallest class size (1 gives a balanced subset with
        every class cut to the smallest class's size); at most ``n_max``, the size of
        the smallest class of ``domain``.
    profile : {"exponential", "step"}
    seed : int >= 0
        Seeds which samples of each class are kept.
    minority_fraction : float in (0, 1)
        For ``"step"``: fraction of the classes that are minorities. The other profile
        ignores it, but a value outside (0, 1) is refused whatever the profile.

    Returns
    -------
    Domain
        Rows of ``domain`` (order kept) with ``meta["imbalance"]`` recording the
        ratio asked for, the ratio realised after rounding the class sizes
        (``realised_ratio``), the profile and per-class sizes (label -> count).

    Cut a domain *before* preprocessing it: a domain already z-scored keeps the
    statistics of the rows this drops. The loaders' ``imbalance=`` argument
    (:func:`dtc.data.load_pair`) cuts first.
    """
    if not isinstance(domain, Domain):
        raise ValueError(f"make_imbalanced: expected a dtc.data.Domain, got {type(domain)!r}")
    if domain.y is None:
        raise ValueError(
            f"make_imbalanced: domain {domain.name!r} is unlabelled; class imbalance needs labels"
        )
    index, record = imbalanced_rows(domain.y, ratio, profile, seed, minority_fraction)
    return replace(domain.subset(index), meta={**domain.meta, "imbalance": record})


def imbalanced_rows(
    y, ratio: float, profile: str = "exponential", seed: int = 0, minority_fraction: float = 0.5
) -> tuple[np.ndarray, dict]:
    """The rows that :func:`make_imbalanced` keeps of a domain with labels ``y`` ``(n,)``
    (non-negative integers, as a :class:`~dtc.data.Domain`'s), sorted, and the record it
    puts in ``meta["imbalance"]``: ``(index, record)``. ``ValueError`` naming ``y`` for
    labels of another shape or kind.

    The draw depends on the labels and ``seed`` only, so the benchmark loaders use it to
    subsample a domain before preprocessing it (its statistics then come from the rows
    kept)."""
    check_imbalance(ratio, profile, seed, minority_fraction)
    y = _check_labels(y, None, name="y")
    if y.size == 0:
        raise ValueError("y: expected the labels of at least 2 classes, got an empty vector")
    labels, counts = np.unique(y, return_counts=True)
    # Checked here, on the arguments the caller gave (y, ratio), not left to class_sizes,
    # whose errors name a function the caller of make_imbalanced / load_pair never called.
    if labels.size < 2:
        raise ValueError(
            f"y: expected the labels of at least 2 classes, got 1 class ({int(labels[0])})"
        )
    n_max = int(counts.min())
    if ratio > n_max:
        raise ValueError(
            f"ratio={ratio} cannot be realised: the smallest class of y (class "
            f"{int(labels[counts.argmin()])}) holds {n_max} sample(s) and every class is cut to "
            f"at most that size, so the ratio can be at most {n_max}"
        )
    sizes = class_sizes(len(labels), n_max, ratio, profile, minority_fraction)
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(np.flatnonzero(y == label), size=size, replace=False)
        for label, size in zip(labels, sizes)
    ]
    record = {
        "ratio": float(ratio),
        # the sizes are rounded: ratio 7 over 10 samples a class keeps 10 and 1, a ratio of 10
        "realised_ratio": float(sizes.max() / sizes.min()),
        "profile": profile,
        "class_sizes": {int(c): int(s) for c, s in zip(labels, sizes)},
        "seed": int(seed),
    }
    if profile == "step":  # what draws the same rows again, with the above
        record["minority_fraction"] = float(minority_fraction)
    return np.sort(np.concatenate(keep)), record
