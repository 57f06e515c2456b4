"""Label-free scores of a target clustering: what a monitor can see without target labels.

Every score is oriented so that **higher is better** (Davies-Bouldin is negated), which
lets monitors and model selection compare candidates with one rule. Scores on
features are computed on a fixed, seeded subsample of at most ``max_samples`` rows,
so they stay cheap and the same rows are scored at every epoch (all rows by default for
:func:`knn_agreement`, whose exact neighbour search costs ``O(n^2 d)``: a minute at 128,000
rows; the monitor and model selection pass it at most 1,000). Compare values taken
at one ``max_samples``: Calinski-Harabasz, whose ratio carries the factor
``(n - k) / (k - 1)``, grows with the rows scored (about five times from 1,000 to all
5,000 rows of one clustering).

Scores:

``knn_agreement``       chance-corrected share of k-NN pairs in one cluster (Cohen's kappa form; the monitor's default)
``silhouette``          mean silhouette coefficient (Rousseeuw, J. Comput. Appl. Math. 1987)
``calinski_harabasz``   between/within dispersion ratio (Calinski & Harabasz, Comm. Stat. 1974)
``davies_bouldin``      minus the Davies-Bouldin index (Davies & Bouldin, IEEE TPAMI 1979)
``information_maximization``  H(mean p) - mean H(p) of soft assignments (SHOT: Liang, Hu & Feng, ICML 2020)
``soft_neighborhood_density`` entropy of the soft-neighbourhood distribution (SND: Saito et al., ICCV 2021)
``clustering_stability``      agreement of clusterings of overlapping subsamples (Ben-Hur, Elisseeff & Guyon, PSB 2002)
"""

from __future__ import annotations

import hashlib
import inspect
import math
import numbers
import sys
from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import pdist
from sklearn import metrics as skm
from sklearn.cluster import KMeans

from dtc._validation import (
    check_number,
    check_seed,
    float_array,
    host_array,
    pow2_exponent,
    real_array,
)
from dtc.cluster.kmeans import check_int

__all__ = [
    "KNN_NEIGHBORS",
    "LABEL_SCORES",
    "PROB_SCORES",
    "calinski_harabasz",
    "clustering_stability",
    "davies_bouldin",
    "information_maximization",
    "knn_agreement",
    "score",
    "silhouette",
    "soft_neighborhood_density",
    "subsample_index",
]


def subsample_index(
    n: int, max_samples: int | None, seed: int = 0, *, name: str | None = None
) -> np.ndarray:
    """Sorted indices of a seeded subsample of ``min(n, max_samples)`` of ``range(n)``;
    ``name`` (the caller) prefixes the error on a bad ``max_samples``."""
    n = check_int(n, "n", minimum=0)
    # checked when every row is kept too: a bad seed is bad whatever the data's size
    seed = check_seed(seed, owner=name or "subsample_index")
    if max_samples is not None and (
        isinstance(max_samples, bool)
        or not isinstance(max_samples, numbers.Integral)
        or max_samples < 1
    ):
        raise ValueError(
            f"{name + ': ' if name else ''}max_samples: expected None or an int >= 1, "
            f"got {max_samples!r}"
        )
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def _missing_ids(labels: np.ndarray) -> int:
    """How many of ``labels`` are no cluster id: NaN or Inf, also in an object array
    (where ``np.isfinite`` fails, and ``np.unique`` left every NaN a cluster of its own,
    unsorted among the others), and ``None``."""
    if labels.dtype.kind in "fc":
        return int((~np.isfinite(labels)).sum())
    if labels.dtype.kind == "O":
        return sum(
            v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v))
            for v in labels.ravel()
        )
    return 0


def check_labelled(X, labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, labels)`` checked as a partition a label score can take: ``X`` ``(n, d)``
    finite, ``labels`` ``(n,)`` cluster ids (no NaN, Inf or ``None``), at least 2
    clusters and more rows than clusters; else ``ValueError`` naming ``name``."""
    # in its own floating dtype: the subsample is widened, not all of X (a float64 copy of
    # 400,000 float32 rows preceded a score of 2,000)
    X = real_array(X, name)
    labels = np.asarray(host_array(labels, f"{name}: labels"))
    if X.ndim != 2 or X.shape[1] < 1:
        raise ValueError(f"{name}: X must have shape (n, d) with d >= 1, got {X.shape}")
    if labels.shape != (X.shape[0],):
        raise ValueError(f"{name}: labels must have shape ({X.shape[0]},), got {labels.shape}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(f"{name}: X must be finite, found NaN or Inf in {bad} row(s)")
    bad = _missing_ids(labels)
    if bad:
        # np.unique counts every NaN as one cluster, but NaN == NaN is False: a NaN label
        # would be scored as a cluster whose members never agree
        raise ValueError(
            f"{name}: labels must be finite cluster ids, found {bad} NaN or Inf / None"
        )
    k = np.unique(labels).size
    if k < 2 or X.shape[0] <= k:
        raise ValueError(
            f"{name}: needs at least 2 clusters and more samples than clusters; "
            f"got {X.shape[0]} samples in {k} cluster(s)"
        )
    return X, labels


def _labelled_subsample(X, labels, max_samples, seed, name: str):
    """The checked ``(X, labels)`` on a seeded subsample of at most ``max_samples`` rows."""
    X, labels = check_labelled(X, labels, name)
    idx = subsample_index(X.shape[0], max_samples, seed, name=name)
    # The full set was checked above; a small subsample can still hold too few rows for
    # the clusters it draws (scikit-learn needs 2 <= clusters < rows).
    k = np.unique(labels[idx]).size
    if k < 2 or idx.size <= k:
        raise ValueError(
            f"{name}: the subsample of max_samples={max_samples} rows holds {k} cluster(s); "
            "it needs at least 2 clusters and more rows than clusters: raise max_samples"
        )
    return np.asarray(X[idx], dtype=np.float64), labels[idx]


def _unit_exponent(X: np.ndarray) -> int:
    """The power of two that brings the largest magnitude of ``X`` into [1, 2) when it is
    below 1 (subnormal included) or above 2**64, else 0. Scaling by it is exact, so a ratio
    of distances is unchanged to the last bit, while scikit-learn's absolute tolerances
    (Davies-Bouldin's ``allclose(.., 0)``, 1e-8) and :func:`_rounding`'s floor of 1 no
    longer take data in small units for one point (every partition of it scored
    Davies-Bouldin's best, 0, at 1e-8), and squared distances no longer overflow on data in
    large ones (at 1e170 silhouette gave 0 and the other scores NaN). Data in between are
    left as they are (their scores as they always were)."""
    top = float(np.abs(X).max()) if X.size else 0.0
    if not (0.0 < top < 1.0 or 2.0**64 < top < math.inf):
        return 0
    # frexp: top = m 2**e with m in [0.5, 1); 2**-e as a float overflowed below 2**-1022
    return 1 - math.frexp(top)[1]


def _conditioned(X: np.ndarray) -> tuple[np.ndarray, float]:
    """``X`` ``(n, d)`` as the scores compute on it, and the distance below which two of
    its points are one (:func:`_rounding` of ``X`` as given, in the same units): brought to
    unit scale (:func:`_unit_exponent`), centred where far off the origin
    (:func:`_near_origin`) and brought to unit scale again. The scale comes first: the
    column spread of data in 1e168 units overflowed, so they were not centred (k-NN
    agreement 0.90 for 1.0); and again after, since centring small spread far from the
    origin (1e-9 around 1) left data in small units (Davies-Bouldin's best, 0, for every
    partition)."""
    X = np.ldexp(X, _unit_exponent(X)).astype(X.dtype, copy=False)
    # the rounding of the data as given: centred, points that coincide up to the rounding
    # of their far-off values looked apart (Calinski-Harabasz 7.6e18; k-NN agreement scored
    # the residue)
    tol = _rounding(X)
    X = _near_origin(X)
    e = _unit_exponent(X)
    return np.ldexp(X, e).astype(X.dtype, copy=False), math.ldexp(tol, e)


def _near_origin(X: np.ndarray) -> np.ndarray:
    """``X`` less its column means where they are large against its spread (over 2**10
    times the largest column std): scikit-learn's squared distances, ||x||^2 + ||y||^2 -
    2 x.y, lose the spread to rounding there (at an offset of 1e8, silhouette 0.163 for
    0.150 and Davies-Bouldin -0.65 for -6.89). Data nearer the origin are left as they are,
    their scores to the last bit as they were."""
    if X.size == 0:
        return X
    mean = X.mean(0)
    if np.abs(mean).max() > 2.0**10 * X.std(0).max():
        return X - mean
    return X


def _on_subsample(fn, name: str, what: str):
    def scorer(X, labels, *, max_samples: int | None = 2000, seed: int = 0) -> float:
        X, labels = _labelled_subsample(X, labels, max_samples, seed, name)
        unit, tol = _conditioned(X)
        return float(fn(unit, labels, tol))

    scorer.__name__ = name
    scorer.__doc__ = (
        f"{what} of ``labels`` ``(n,)`` on features ``X`` ``(n, d)`` (higher is better), "
        "on a seeded subsample of at most ``max_samples`` rows."
    )
    return scorer


def _centroids(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([X[labels == c].mean(axis=0) for c in np.unique(labels)])


def _rounding(X: np.ndarray) -> float:
    """The distance below which two points of ``X`` (``(n, d)``) are one point up to the
    rounding of a mean: exact equality let a mean such as (0.1 + 0.1 + 0.1) / 3 =
    0.10000000000000002 through, and scikit-learn made the residue an extreme score."""
    eps = np.finfo(X.dtype if X.dtype.kind == "f" else np.float64).eps
    return 16 * eps * max(float(np.abs(X).max()), 1.0)


def _calinski_harabasz(X: np.ndarray, labels: np.ndarray, tol: float) -> float:
    # scikit-learn returns 1.0 -- its worst value -- when no cluster has any spread, so a
    # partition of coinciding points would rank below any noisy one: undefined, refused.
    # (Up to rounding: a residue of 1e-32 made it 1e32, the best score there is.)
    spread = max(
        float(np.abs(X[labels == c] - X[labels == c].mean(axis=0)).max()) for c in np.unique(labels)
    )
    if spread <= tol:
        raise ValueError(
            "calinski_harabasz: X has no spread within any cluster (each cluster's rows "
            "coincide); the score is undefined"
        )
    return skm.calinski_harabasz_score(X, labels)


def _davies_bouldin(X: np.ndarray, labels: np.ndarray, tol: float) -> float:
    # scikit-learn returns 0.0 -- its best value -- when every centroid coincides, so a
    # collapsed space would rank first: undefined, refused.
    centroids = _centroids(X, labels)
    # tol: centroids that differ by the rounding of their means alone
    if np.ptp(centroids, axis=0).max() <= tol:
        raise ValueError(
            "davies_bouldin: every cluster of X has the same centroid (a collapsed space); "
            "the score is undefined"
        )
    # Likewise for any two: their ratio (s_i + s_j) / d_ij is infinite (0 / 0 without spread),
    # but scikit-learn counts the pair as 0, perfectly separated.
    # Chebyshev distance: the largest coordinate difference, pair by pair in triu order,
    # without the (k^2 / 2, d) differences (318 MiB at 800 clusters of 64 features)
    i, j = np.triu_indices(len(centroids), 1)
    same = pdist(centroids, "chebyshev") <= tol
    if same.any():
        names = np.unique(labels)
        raise ValueError(
            f"davies_bouldin: clusters {names[i[same][0]]} and {names[j[same][0]]} of X "
            "have the same centroid; the score is undefined"
        )
    return -skm.davies_bouldin_score(X, labels)


def _check_spread(X: np.ndarray, tol: float, name: str) -> None:
    # every row one point: each distance 0, a score of ties (silhouette's 0 / 0 read as 0,
    # the k-NN agreement's neighbours picked by row order): undefined, refused
    if np.ptp(X, axis=0).max() <= tol:
        raise ValueError(
            f"{name}: every scored row of X is the same point (a collapsed space); "
            "the score is undefined"
        )


def _silhouette(X: np.ndarray, labels: np.ndarray, tol: float) -> float:
    _check_spread(X, tol, "silhouette")
    return skm.silhouette_score(X, labels)


silhouette = _on_subsample(
    _silhouette,
    "silhouette",
    "The mean silhouette coefficient (Rousseeuw, J. Comput. Appl. Math. 1987)",
)
calinski_harabasz = _on_subsample(
    _calinski_harabasz,
    "calinski_harabasz",
    "The Calinski-Harabasz between/within dispersion ratio (Calinski & Harabasz, Comm. Stat. 1974)",
)
davies_bouldin = _on_subsample(
    _davies_bouldin,
    "davies_bouldin",
    "Minus the Davies-Bouldin index (Davies & Bouldin, IEEE TPAMI 1979; the index is lower "
    "for better partitions)",
)


def _input_eps(value) -> float:
    """Machine epsilon of ``value``'s floating dtype (a tensor's or an array's; 0 otherwise)."""
    torch = sys.modules.get("torch")  # a tensor exists only once torch is loaded
    if torch is not None and isinstance(value, torch.Tensor):
        return float(torch.finfo(value.dtype).eps) if value.is_floating_point() else 0.0
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        return float(np.finfo(dtype).eps)
    return 0.0


def _check_probs(probs, name: str) -> np.ndarray:
    # A softmax in float16 / bfloat16 rounds each of its k entries: its rows sum to 1 within
    # about the dtype's epsilon (3e-4 and 2e-3 seen), past the 1e-4 that float32 meets.
    eps = _input_eps(probs)
    P = float_array(probs, name, "probs (soft assignments)")
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(
            f"{name}: soft assignments must have shape (n, k) with k >= 2, got {P.shape}"
        )
    if P.shape[0] < 2:
        raise ValueError(f"{name}: needs at least 2 samples, got {P.shape[0]}")
    if not np.isfinite(P).all():
        bad = int((~np.isfinite(P)).any(axis=1).sum())
        raise ValueError(
            f"{name}: probs (soft assignments) must be finite, found NaN or Inf in {bad} row(s)"
        )
    atol = max(1e-4, 2 * eps)
    if (P < 0).any() or not np.allclose(P.sum(1), 1.0, atol=atol):
        raise ValueError(
            f"{name}: probs (soft assignments) must be non-negative rows summing to 1, got "
            f"minimum {P.min():.4g} and row sums in [{P.sum(1).min():.4g}, {P.sum(1).max():.4g}]"
        )
    if atol > 1e-4:  # half precision: the scores take probabilities, not their rounding
        P = P / P.sum(1, keepdims=True)
    return P


def _entropy(P: np.ndarray) -> np.ndarray:
    # Entropy of each distribution along the last axis; 0 log 0 read as 0.
    return -np.sum(P * np.log(np.clip(P, 1e-12, None)), axis=-1)


def information_maximization(probs) -> float:
    """IM score of soft assignments ``probs`` ``(n, k)``: ``H(mean_i p_i) - mean_i H(p_i)``
    (the information maximisation of SHOT: Liang, Hu & Feng, ICML 2020).

    Confident (low conditional entropy) and diverse (high marginal entropy)
    assignments score high: ``log k`` at best (confident and balanced), 0 when every
    sample gets the same distribution.
    """
    P = _check_probs(probs, "information_maximization")
    return float(_entropy(P.mean(0)) - _entropy(P).mean())


def soft_neighborhood_density(
    probs, *, temperature: float = 0.05, max_samples: int | None = 2000, seed: int = 0
) -> float:
    """SND of soft assignments ``probs`` ``(n, k)`` (Saito et al., ICCV 2021).

    Rows are L2-normalised, their cosine similarities (self excluded) turned into a
    neighbourhood distribution by a softmax at ``temperature``, and the mean entropy
    of those distributions returned: dense neighbourhoods (well-clustered
    assignments) give high entropy. Its known blind spot: rows that all coincide --
    uniform assignments, or a collapsed space's -- make every neighbourhood uniform and
    give the maximum, ``log(n - 1)``; read a high SND together with a score that sees
    collapse (information maximisation is 0 there). Computed on a seeded subsample of at
    most ``max_samples`` rows (``n`` above is its size; ``None``: every row), as the
    similarity matrix is ``(n, n)``.
    """
    # NaN fails the comparison; inf makes every neighbourhood uniform (the maximum entropy
    # whatever the assignments)
    # check_number: a string or None failed in a bare comparison, True read as 1
    temperature = check_number(
        temperature, "soft_neighborhood_density: temperature", low=0.0, strict=True
    )
    # a subnormal one: similarities / it overflow (5e-309's reciprocal does). The bound is
    # the one stated: only the reciprocal was tested, which took 1e-308, and the stated
    # bound was rounded (:g) below float64's smallest normal number.
    tiny = float(np.finfo(np.float64).tiny)
    if temperature < tiny:
        raise ValueError(
            f"soft_neighborhood_density: temperature must be at least {tiny!r} (float64's "
            f"smallest normal number), got {temperature!r}"
        )
    P = _check_probs(probs, "soft_neighborhood_density")
    P = P[subsample_index(P.shape[0], max_samples, seed, name="soft_neighborhood_density")]
    if P.shape[0] < 2:  # a single row has no neighbour: its distribution is undefined
        raise ValueError(
            f"soft_neighborhood_density: needs a subsample of at least 2 rows, got "
            f"max_samples={max_samples}"
        )
    Z = P / np.linalg.norm(P, axis=1, keepdims=True)
    S = Z @ Z.T / temperature
    np.fill_diagonal(S, -np.inf)
    S -= S.max(axis=1, keepdims=True)
    W = np.exp(S)
    W /= W.sum(axis=1, keepdims=True)
    return float(_entropy(W).mean())


def _min_stability_rows(n_clusters: int, fraction: float) -> int:
    """The fewest rows whose resamples of ``round(fraction * rows)`` rows (Python's
    ``round``, half to even, as :func:`clustering_stability` draws them) hold more rows
    than ``n_clusters``."""
    # round(x) > n_clusters needs x >= n_clusters + 0.5: start just below that and step up
    # (round of fraction * rows never decreases as rows grows).
    rows = max(1, math.floor((n_clusters + 0.5) / fraction) - 1)
    while round(fraction * rows) <= n_clusters:
        rows += 1
    return rows


def clustering_stability(
    X,
    n_clusters: int,
    *,
    cluster_fn: Callable[[np.ndarray, int, int], np.ndarray] | None = None,
    n_pairs: int = 5,
    fraction: float = 0.8,
    max_samples: int | None = 2000,
    seed: int = 0,
) -> float:
    """Stability of a clustering algorithm on ``X`` ``(n, d)`` (after Ben-Hur, Elisseeff &
    Guyon, PSB 2002).

    ``n_pairs`` times, two random subsamples of ``round(fraction * m)`` rows, ``m =
    min(n, max_samples)`` (a seeded subsample of ``X`` is drawn first), are clustered
    independently (``cluster_fn(X_sub, n_clusters, seed) -> labels``; K-means by
    default) and compared by the adjusted Rand index on the rows they share. Returns
    the mean ARI: 1 when every resample gives the same partition, near 0 when their
    partitions are unrelated. Stable is not the same as clustered: K-means cuts data
    with no clusters the same way each time once their shape breaks its symmetry
    (uniform noise in the unit square: 0.95 to 0.96 at ``n_clusters=4``, three seeds;
    a round Gaussian: 0.65 to 0.72), a limit of stability itself (Ben-David, von
    Luxburg & Pal, COLT 2006).

    The resampling scheme is Ben-Hur et al.'s; the comparison is not. They compare two
    clusterings on their shared points with similarity measures of the pairs of points
    co-clustered (matching coefficient, Jaccard coefficient, a correlation) and read the
    distribution of those similarities over many pairs; this returns one number, the mean
    ARI. An implementation choice, for which the code records no reason; the scale above
    relies on it: the ARI is corrected for chance (unrelated partitions score near 0 for
    any ``n_clusters``), the paper's unadjusted coefficients are not. Values are therefore
    not comparable with the paper's figures.
    """
    X = real_array(X, "clustering_stability")
    if X.ndim != 2:
        raise ValueError(f"clustering_stability: X must have shape (n, d), got {X.shape}")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(
            f"clustering_stability: X must be finite, found NaN or Inf in {bad} row(s)"
        )
    for arg, value, low in (("n_clusters", n_clusters, 2), ("n_pairs", n_pairs, 1)):
        # One cluster is "perfectly stable" on any data; zero pairs leave nothing to average.
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"clustering_stability: {arg} must be an int >= {low}, got {value!r}")
    # check_number: None failed in a bare comparison, True read as 1
    fraction = check_number(fraction, "clustering_stability: fraction", low=0.0, strict=True)
    if fraction > 1:
        raise ValueError(f"clustering_stability: fraction must be in (0, 1], got {fraction}")
    if cluster_fn is not None and not callable(cluster_fn):
        raise ValueError(
            "clustering_stability: cluster_fn must be None or a callable "
            f"(X_sub, n_clusters, seed) -> labels, got {cluster_fn!r}"
        )
    # the default K-means of pair p takes seeds seed + 2p and seed + 2p + 1
    seed = check_seed(seed, owner="clustering_stability", reserve=2 * int(n_pairs) - 1)
    n = X.shape[0]
    X = np.asarray(
        X[subsample_index(n, max_samples, seed, name="clustering_stability")], dtype=np.float64
    )
    m = round(fraction * X.shape[0])
    if m <= n_clusters:
        need = _min_stability_rows(n_clusters, fraction)
        cause = f"X has {n} samples" if n < need else f"max_samples={max_samples} is too small"
        raise ValueError(
            f"clustering_stability: a subsample of {m} rows (round(fraction * {X.shape[0]}), "
            f"fraction={fraction}) cannot hold {n_clusters} clusters; it needs at least {need} "
            f"rows to draw from, min(n, max_samples) = {X.shape[0]}: {cause}"
        )
    distinct = np.unique(X, axis=0).shape[0]
    if distinct <= n_clusters:
        # K-means on fewer distinct points than clusters finds the same partition every
        # time (ARI 1): "perfectly stable" data with no structure, so refused
        raise ValueError(
            f"clustering_stability: X has {distinct} distinct row(s), not more than "
            f"n_clusters={n_clusters}: no structure to be stable about"
        )
    if cluster_fn is None:
        # K-means is equivariant to a power of two, which is exact: data beyond 2**+-40 are
        # clustered at unit scale, as dtc.cluster.kmeans does. At 1e170 (or 1e-170) its
        # squared distances overflowed (underflowed), every row fell in one cluster and the
        # error blamed cluster_fn.
        X = np.ldexp(X, pow2_exponent(X))

        def cluster_fn(Xs, k, s):
            return KMeans(k, n_init=3, random_state=s).fit_predict(Xs)

    rng = np.random.default_rng(seed)
    scores = []
    for p in range(n_pairs):
        a = rng.choice(X.shape[0], m, replace=False)
        b = rng.choice(X.shape[0], m, replace=False)
        shared, ia, ib = np.intersect1d(a, b, return_indices=True)
        la = np.asarray(cluster_fn(X[a], n_clusters, seed + 2 * p))
        lb = np.asarray(cluster_fn(X[b], n_clusters, seed + 2 * p + 1))
        for got in (la, lb):
            if got.shape != (m,):
                raise ValueError(
                    f"clustering_stability: cluster_fn must return labels of shape ({m},) for "
                    f"a subsample of {m} rows, got shape {got.shape}"
                )
            if np.unique(got).size < 2:
                # two one-cluster partitions agree perfectly (ARI 1): a collapsed clusterer
                # would read as the most stable structure there is
                raise ValueError(
                    f"clustering_stability: cluster_fn put all {m} rows of a subsample in "
                    f"one cluster (n_clusters={n_clusters}); its stability is not defined"
                )
        if shared.size < 2:
            # two partitions of one shared row agree trivially; counting the pair as 0 (or
            # 1) would say something about the data that was never measured
            # max_samples only where it cut the rows: above n, raising it changes nothing
            more = " or max_samples" if X.shape[0] < n else ""
            raise ValueError(
                f"clustering_stability: two subsamples of {m} of {X.shape[0]} rows share "
                f"{shared.size} row(s); raise fraction (got {fraction}){more}"
            )
        scores.append(skm.adjusted_rand_score(la[ia], lb[ib]))
    return float(np.mean(scores))


#: Neighbours of :func:`knn_agreement` as the monitor and model selection score with it.
KNN_NEIGHBORS = 10

# The monitor scores many partitions of the same rows (restarts, checks, the source bias):
# their k-NN graph is computed once per content of X. Keyed by a digest of the bytes, so an
# array changed in place is never served a stale graph.
# Bounded in entries and in bytes: the monitor's subsamples take kilobytes, but a public
# call on every row of 10^5 points kept 7.6 MiB per entry for the life of the process.
_NEIGHBOUR_CACHE: dict[tuple, np.ndarray] = {}
_NEIGHBOUR_CACHE_SIZE = 8
_NEIGHBOUR_CACHE_BYTES = 64 * 2**20


def _neighbours(X: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Indices ``(n, n_neighbors)`` of each row's nearest other rows of ``X`` (Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    X = np.ascontiguousarray(X, dtype=np.float64)
    key = (X.shape, int(n_neighbors), hashlib.blake2b(X.view(np.uint8), digest_size=16).digest())
    if key not in _NEIGHBOUR_CACHE:
        idx = (
            NearestNeighbors(n_neighbors=n_neighbors + 1)
            .fit(X)
            .kneighbors(X, return_distance=False)
        )
        # Drop each row's own index (not always in column 0 when points are duplicated).
        neigh = np.array([[j for j in row if j != i][:n_neighbors] for i, row in enumerate(idx)])
        neigh.setflags(write=False)
        if neigh.nbytes > _NEIGHBOUR_CACHE_BYTES:
            return neigh  # computed, not kept
        while _NEIGHBOUR_CACHE and (
            len(_NEIGHBOUR_CACHE) >= _NEIGHBOUR_CACHE_SIZE
            or sum(v.nbytes for v in _NEIGHBOUR_CACHE.values()) + neigh.nbytes
            > _NEIGHBOUR_CACHE_BYTES
        ):
            _NEIGHBOUR_CACHE.pop(next(iter(_NEIGHBOUR_CACHE)))  # the oldest entry
        _NEIGHBOUR_CACHE[key] = neigh
    return _NEIGHBOUR_CACHE[key]


def knn_agreement(
    X, labels, *, n_neighbors: int = KNN_NEIGHBORS, max_samples: int | None = None, seed: int = 0
) -> float:
    """Chance-corrected agreement of a partition with the neighbourhoods of ``X``.

    ``X`` ``(n, d)``, ``labels`` ``(n,)``. The fraction ``a`` of (point, one of its
    ``n_neighbors`` nearest neighbours in ``X``, Euclidean, itself excluded) pairs in the
    same cluster, corrected for the agreement ``c = sum_j p_j^2`` of a random partition
    with the same cluster proportions ``p``: ``(a - c) / (1 - c)``, Cohen's kappa form
    (Cohen, Educ. Psychol. Meas. 1960). 1: every neighbourhood lies inside one cluster;
    about 0: no better than chance. ``c`` is the chance agreement of a neighbour drawn
    *with* replacement; a neighbour is another point, so a partition drawn at random
    scores ``-1 / (n - 1)`` on average (-0.001 on the monitor's 1,000 rows), whatever its
    proportions. With the exact chance ``sum_j n_j (n_j - 1) / (n (n - 1))`` the score
    would be ``(n - 1) / n * kappa + 1 / n``: the same order of any partitions scored on
    the same rows, which is how the monitor and the selectors use it; the calibrated
    monitor's evaluation was made with this form, so it stays.

    Unlike the silhouette it asks clusters to be locally coherent, not convex, so it
    suits manifold-shaped classes (the k-NN consistency of a clustering, as in the
    neighbourhood-based criteria of Ding & He, ACM SAC 2004).
    ``max_samples``: score a seeded subsample of at most that many rows (None: every row,
    the default, since the monitor passes its own fixed subsample).
    """
    # 0 would index with an empty float array, -1 reach scikit-learn as n_neighbors=0.
    n_neighbors = check_int(n_neighbors, "knn_agreement: n_neighbors")
    n_all = np.shape(labels)[0] if np.ndim(labels) == 1 else None
    X, labels = _labelled_subsample(X, labels, max_samples, seed, "knn_agreement")
    n = X.shape[0]
    _, sizes = np.unique(labels, return_counts=True)
    if sizes.size < 2 or n <= n_neighbors:
        # the subsample's rows, not the data's, when max_samples is what falls short
        cause = (
            f"; the subsample of max_samples={max_samples} rows is too small (X has {n_all} "
            "samples): raise max_samples"
            if n_all is not None and n < n_all and n_all > n_neighbors
            else ""
        )
        raise ValueError(
            f"knn_agreement: needs at least 2 clusters and more than n_neighbors={n_neighbors} "
            f"samples; got {n} samples in {sizes.size} cluster(s){cause}"
        )
    # at unit scale, as the other scores: distances of data in 1e-170 units underflowed to
    # ties (-0.018 for 0.552), and in 1e170 units overflowed
    unit, tol = _conditioned(X)
    _check_spread(unit, tol, "knn_agreement")
    neigh = _neighbours(unit, n_neighbors)
    agree = float((labels[neigh] == labels[:, None]).mean())
    chance = float(((sizes / n) ** 2).sum())
    return (agree - chance) / (1.0 - chance)


#: Scores of hard labels on features, by name.
LABEL_SCORES = {
    "knn_agreement": knn_agreement,
    "silhouette": silhouette,
    "calinski_harabasz": calinski_harabasz,
    "davies_bouldin": davies_bouldin,
}
#: Scores of soft assignments, by name.
PROB_SCORES = {
    "information_maximization": information_maximization,
    "soft_neighborhood_density": soft_neighborhood_density,
}


def _keywords(fn: Callable) -> list[str]:
    """The keyword-only parameters of ``fn`` (a score's options)."""
    params = inspect.signature(fn).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def score(name: str, X=None, labels=None, probs=None, **kwargs) -> float:
    """Compute the label-free score ``name`` with its options ``kwargs``.

    Raises ``ValueError`` when the inputs it needs are missing (features ``X`` ``(n, d)``
    and ``labels`` ``(n,)`` for ``LABEL_SCORES``, soft assignments ``probs`` ``(n, k)``
    for ``PROB_SCORES``: e.g. from a method that produces none) or when ``kwargs`` holds
    an option the score does not take (``information_maximization`` takes none).
    """
    if name in LABEL_SCORES:
        if X is None or labels is None:
            raise ValueError(f"score {name!r} needs features X and cluster labels")
        fn, args = LABEL_SCORES[name], (X, labels)
    elif name in PROB_SCORES:
        if probs is None:
            raise ValueError(
                f"score {name!r} needs soft assignments: pass probs, an (n, k) array of "
                "cluster probabilities (a method's, e.g. DEC's q, or "
                "dtc.monitor.partition_score.student_t_assignments of a partition)"
            )
        fn, args = PROB_SCORES[name], (probs,)
    elif name == "clustering_stability":
        raise ValueError(
            "score 'clustering_stability' scores a clustering algorithm, not a partition: "
            "call dtc.monitor.scores.clustering_stability(X, n_clusters) directly"
        )
    else:
        raise ValueError(
            f"unknown score {name!r}; available: "
            f"{', '.join(sorted({**LABEL_SCORES, **PROB_SCORES}))}"
        )
    accepted = _keywords(fn)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"score {name!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options: {', '.join(accepted) or 'none'}"
        )
    return fn(*args, **kwargs)
