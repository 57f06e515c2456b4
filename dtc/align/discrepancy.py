"""Discrepancy measures between two domains, for monitors and reports (no gradient).

Inputs are NumPy arrays or torch tensors ``(n_s, d)`` / ``(n_t, d)``; results are Python
floats, computed in float64.

* :func:`mmd_permutation_test` — squared MMD with a permutation-test p-value
  (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012), through
  :func:`dtc.align.mmd.mmd2`.
* :func:`coral_distance` — the (log-Euclidean) CORAL distance of :mod:`dtc.align.coral`.
* :func:`proxy_a_distance` — ``2 (1 - 2 err)`` with ``err`` the cross-validated error of
  a linear domain classifier (Ben-David, Blitzer, Crammer & Pereira, "Analysis of
  Representations for Domain Adaptation", NIPS 2006).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from dtc._validation import (
    check_bool,
    check_seed,
    float_array,
    is_int_at_least,
    pow2_exponent,
    real_array,
    times_pow2,
)
from dtc.align.base import check_pair_inputs
from dtc.align.coral import _check_eps, _coral, _log_coral
from dtc.align.kernels import median_sq_dist, pairwise_sq_dists
from dtc.align.mmd import mmd2

__all__ = [
    "CLASSIFIERS",
    "MMDTest",
    "coral_distance",
    "mmd_permutation_test",
    "proxy_a_distance",
]

CLASSIFIERS = ("logistic", "svm")


class MMDTest(NamedTuple):
    """Result of :func:`mmd_permutation_test`."""

    statistic: float  # MMD^2 of the observed split
    p_value: float  # (1 + #{permuted >= observed}) / (1 + n_permutations)
    sigma: float  # the Gaussian bandwidth used


def _as_tensor(x, role: str, owner: str, widen: bool = True) -> torch.Tensor:
    """``x`` as a float64 tensor, or (``widen=False``) in its own floating dtype, for a
    caller that widens only the rows it draws."""
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise ValueError(
            f"{owner}: {role} must be a NumPy array or a torch.Tensor, got {type(x)!r}"
        )
    # One rule for arrays and tensors (a bool tensor was taken, the same array refused) and
    # through host_array: a meta tensor, a sparse one or bfloat16 failed in torch's words.
    # Contiguous: torch.from_numpy refuses a negative stride (``x[::-1]``).
    arr = (float_array if widen else real_array)(x, owner, role)
    if arr.dtype not in _TORCH_FLOATS:  # long double: torch has no such dtype
        arr = arr.astype(np.float64)
    arr = np.ascontiguousarray(arr)
    if arr.flags.writeable:
        return torch.from_numpy(arr)
    # A read-only array (np.load's mmap_mode="r") is shared, not copied: the tensor is only
    # read, so torch's warning that writing to it is undefined does not apply.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(arr)


_TORCH_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _pair(source, target, owner: str, min_samples: int = 1, widen: bool = True):
    """``source`` and ``target`` as checked tensors: float64, or (``widen=False``) each in
    its own floating dtype, for a caller that widens only the rows it draws (a float32
    domain beside a float64 one is not copied whole to float64)."""
    s, t = _as_tensor(source, "source", owner, widen), _as_tensor(target, "target", owner, widen)
    check_pair_inputs(s, t, min_samples=min_samples, name=owner, same_dtype=widen)
    return s, t


def _positive_int(value, name: str, low: int = 1) -> int:
    if not is_int_at_least(value, low):
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _positive_number(value) -> bool:
    """Whether ``value`` is a finite real number > 0 (not a bool): an infinite ``sigma`` or
    ``C`` otherwise failed later, in a callee, under another name or none."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _unit_scaled(s: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``s`` and ``t`` times ``2**e``, and ``e`` (:func:`dtc._validation.pow2_exponent`: 0,
    the tensors as given, within ``2**+-SAFE_LOG2``). The measures scaled here do not
    change when both domains are scaled; beyond, their float64 squares under- or overflowed
    (features of 1e-170: the permutation test's MMD 0 with p = 1, the proxy A-distance 0)."""
    e = pow2_exponent(s, t)
    return times_pow2(s, e), times_pow2(t, e), e


def _subsample(x: torch.Tensor, max_samples: int, rng: np.random.Generator) -> torch.Tensor:
    if x.shape[0] <= max_samples:
        return x
    return x[torch.from_numpy(rng.choice(x.shape[0], max_samples, replace=False))]


@torch.no_grad()
def mmd_permutation_test(
    source,
    target,
    *,
    n_permutations: int = 200,
    estimator: str = "unbiased",
    sigma: float | None = None,
    max_samples: int = 1000,
    seed: int = 0,
) -> MMDTest:
    """Squared MMD and its permutation-test p-value.

    ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)``. The Gaussian kernel
    ``exp(-||x - y||^2 / (2 sigma^2))`` uses ``sigma``, or by default the median
    heuristic ``sigma^2 = median / 2`` over distinct pairs of the pooled sample (the same
    for every permutation, as the pooled sample does not change). The null distribution
    comes from ``n_permutations`` random re-splits of the pooled sample into groups of
    ``n_s`` and ``n_t``; ``p = (1 + #{permuted >= observed}) / (1 + n_permutations)``,
    which is a valid p-value (never 0). Each domain is first subsampled to at most
    ``max_samples`` rows; for ``estimator="linear"``, whose value depends on the row
    order, the rows of each domain are then put in a random order. Everything random
    comes from ``seed``.
    """
    owner = "mmd_permutation_test"
    n_permutations = _positive_int(n_permutations, f"{owner}: n_permutations")
    max_samples = _positive_int(max_samples, f"{owner}: max_samples", low=2)
    min_samples = 1 if estimator == "biased" else 2
    # widened after the draw: a float64 copy of every row came first (255 MiB more at
    # 256,000 float32 rows of 64 features, for 200 drawn)
    s, t = _pair(source, target, owner, min_samples=min_samples, widen=False)
    rng = np.random.default_rng(check_seed(seed, owner=owner))
    s, t = _subsample(s, max_samples, rng).double(), _subsample(t, max_samples, rng).double()
    if estimator == "linear":
        # The linear-time estimate pairs rows (2p, 2p + 1) in the order given: on rows
        # sorted by class (every shared benchmark but USPS) those pairs share a class, the
        # observed statistic is not drawn like the shuffled ones and the test rejected
        # equal distributions every time. The other estimators do not depend on row order.
        s = s[torch.from_numpy(rng.permutation(s.shape[0]))]
        t = t[torch.from_numpy(rng.permutation(t.shape[0]))]
    # the MMD does not change when the features and sigma are scaled alike
    s, t, e = _unit_scaled(s, t)
    if sigma is not None and _positive_number(sigma):
        sigma = math.ldexp(float(sigma), e)
    if sigma is None:
        median = median_sq_dist(s, t, mode="pooled").item()
        if not math.isfinite(median):
            # squared distances past float64: every statistic would be NaN, and no NaN
            # exceeds the observed one, so p came out as small as it can be
            raise ValueError(
                f"{owner}: the pooled sample's squared distances overflow (median "
                f"{median}); rescale the features"
            )
        # All points equal: any bandwidth gives MMD 0; 1 avoids dividing by 0.
        sigma = (median / 2) ** 0.5 if median > 0 else 1.0
    elif not _positive_number(sigma):
        raise ValueError(
            f"{owner}: sigma must be a positive number (finite) or None, got {sigma!r}"
        )

    def statistic(a, b):
        return mmd2(a, b, estimator=estimator, sigmas=float(sigma)).item()

    observed = statistic(s, t)
    if not math.isfinite(observed):
        raise ValueError(
            f"{owner}: the MMD statistic is {observed} (sigma={sigma}); rescale the features"
        )
    pooled, n_s = torch.cat([s, t]), s.shape[0]
    if estimator != "linear" and pooled.shape[0] <= _GRAM_MAX:
        # The pooled sample and sigma are the same for every permutation, so is its kernel
        # matrix: built once, each split's statistic is three block sums, O(N^2) instead
        # of O(N^2 d) (200 permutations of 1000 + 1000 rows of 800: ~35 s -> ~2 s). The
        # observed split is scored the same way, so that ties round alike.
        split = _split_statistic(pooled, float(sigma), n_s, estimator)
        observed = split(torch.arange(pooled.shape[0]))
    else:

        def split(idx):
            return statistic(pooled[idx[:n_s]], pooled[idx[n_s:]])

    exceed = 0
    for _ in range(n_permutations):
        idx = torch.from_numpy(rng.permutation(pooled.shape[0]))
        # A small tolerance: a permutation reproducing the observed split must count.
        exceed += split(idx) >= observed - 1e-12
    return MMDTest(observed, (1 + exceed) / (1 + n_permutations), math.ldexp(float(sigma), -e))


#: The largest pooled sample whose kernel matrix the permutation test holds (128 MiB).
_GRAM_MAX = 4096


def _split_statistic(pooled: torch.Tensor, sigma: float, n_s: int, estimator: str):
    """``idx -> MMD^2`` of the split ``idx[:n_s]`` / ``idx[n_s:]`` of ``pooled`` ``(N, d)``
    from its Gaussian kernel matrix ``K`` ``(N, N)``, built once: ``mean K_ss + mean K_tt
    - 2 mean K_st``, the diagonal (``k(x, x) = 1``) left out of the within-domain means
    for the unbiased estimate."""
    K = torch.exp(-pairwise_sq_dists(pooled) / (2.0 * sigma * sigma))  # centred, diagonal 0
    n_t = pooled.shape[0] - n_s
    total = float(K.sum())

    def statistic(idx: torch.Tensor) -> float:
        a = torch.zeros(pooled.shape[0], dtype=K.dtype)
        a[idx[:n_s]] = 1.0
        Ka = K @ a
        ss = float(a @ Ka)
        st = float(Ka.sum()) - ss
        tt = total - ss - 2.0 * st
        if estimator == "biased":
            return ss / n_s**2 + tt / n_t**2 - 2.0 * st / (n_s * n_t)
        return (
            (ss - n_s) / (n_s * (n_s - 1)) + (tt - n_t) / (n_t * (n_t - 1)) - 2.0 * st / (n_s * n_t)
        )

    return statistic


@torch.no_grad()
def coral_distance(source, target, *, log: bool = False, eps: float = 1e-3) -> float:
    """CORAL distance ``||C_s - C_t||_F^2 / (4 d^2)`` (``log=True``: between
    ``log(C + eps I)``); ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)``, ``n >= 2``.
    See :func:`dtc.align.coral.coral` and :func:`dtc.align.coral.log_coral`.

    Cost: two ``(d, d)`` covariances whatever the rows, and with ``log=True`` their
    eigendecompositions, O(d^3): measured 102 MiB / 0.2 s, and 267 MiB / 5.4 s with
    ``log=True``, at d = 2,000 (60 rows a domain); each grows 4x (8x in time for the log)
    per doubling of d. Raw features of many thousands need a reduction first."""
    s, t = _pair(source, target, "coral_distance", min_samples=2)
    eps = _check_eps(eps)  # also without log: eps=-1 was accepted there
    if check_bool(log, method="coral_distance", name="log"):
        return _log_coral(s, t, eps, "coral_distance").item()
    return _coral(s, t, "coral_distance").item()


def proxy_a_distance(
    source,
    target,
    *,
    classifier: str = "logistic",
    n_splits: int = 5,
    max_samples: int = 2000,
    C: float = 1.0,
    seed: int = 0,
) -> float:
    """Proxy A-distance ``2 (1 - 2 err)`` (Ben-David et al., NIPS 2006).

    ``source`` ``(n_s, d)``, ``target`` ``(n_t, d)``. ``err`` is the ``n_splits``-fold
    stratified cross-validated error of a linear domain classifier on standardised
    features: ``"logistic"`` regression or a linear ``"svm"``, regularisation ``C``. Both
    domains are subsampled to the same size ``min(n_s, n_t, max_samples)``, so chance
    level is ``err = 1/2``: about 0 for one distribution (slightly negative values are
    noise), 2 for linearly separable domains. Seeded by ``seed``. Rows shared by both
    domains (a target that holds copies of source rows) bias it down, below zero for two
    copies of one sample: each held-out copy is classified as its twin's domain. How far
    depends on the size and dimension: -0.54, -0.19, -0.12 for 100, 500, 2,000 Gaussian
    rows of 5 features; -1.40, -0.63, -0.39 of 50 (seed 0).
    """
    owner = "proxy_a_distance"
    if classifier not in CLASSIFIERS:
        raise ValueError(f"{owner}: classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    n_splits = _positive_int(n_splits, f"{owner}: n_splits", low=2)
    max_samples = _positive_int(max_samples, f"{owner}: max_samples", low=n_splits)
    if not _positive_number(C):
        raise ValueError(f"{owner}: C must be a positive number (finite), got {C!r}")
    s, t = _pair(source, target, owner, min_samples=n_splits, widen=False)  # as above
    rng = np.random.default_rng(check_seed(seed, owner=owner))
    m = min(s.shape[0], t.shape[0], max_samples)
    s, t = _subsample(s, m, rng).double(), _subsample(t, m, rng).double()
    s, t, _ = _unit_scaled(s, t)  # standardised: the scale does not matter, if representable
    x = torch.cat([s, t]).numpy()
    y = np.r_[np.ones(m), np.zeros(m)]
    seed_int = int(rng.integers(2**31 - 1))
    if classifier == "logistic":
        model = LogisticRegression(C=C, max_iter=1000)
    else:
        model = LinearSVC(C=C, max_iter=10_000, random_state=seed_int)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed_int)
    accuracy = cross_val_score(make_pipeline(StandardScaler(), model), x, y, cv=folds).mean()
    return float(2.0 * (1.0 - 2.0 * (1.0 - accuracy)))
