"""K-means (Lloyd, IEEE Trans. Information Theory 1982; k-means++ seeding: Arthur & Vassilvitskii, SODA 2007).

:func:`kmeans` is a plain function on top of scikit-learn's ``KMeans`` (or faiss, when
installed and the problem is large) with the settings that keep a million points in
seconds on a laptop:

* the data stay ``float32`` (scikit-learn then runs its Lloyd kernels in single
  precision: half the memory traffic);
* with a string ``init`` and more than :data:`SUBSAMPLE_RESTARTS_ABOVE` samples, the
  ``n_init`` restarts run on a fixed seeded subsample of :data:`RESTART_SUBSAMPLE`
  points and only the best one is refined by full Lloyd iterations on all points
  (restarts mainly choose among seedings, and a 100,000-point sample ranks them as
  well as the full set while costing ``n / 100,000`` times less);
* with an explicit ``init`` array a single run is made (restarts from the same
  centres would repeat it);
* with faiss (``backend="faiss"``, or ``"auto"`` from :data:`FAISS_MIN_SAMPLES` samples
  on when faiss is importable) the seeding and restarts are still scikit-learn's, on
  that subsample when there are more than :data:`RESTART_SUBSAMPLE` points and on all
  of them otherwise (faiss only seeds at random, which lands in poor local optima), and
  faiss runs the full-data Lloyd iterations. faiss is optional (the ``faiss`` extra, which
  ``make venv`` installs for the tests), never a core dependency.

The centre index is kept throughout: row ``c`` of the returned centres is the
centre that started at ``init[c]`` (scikit-learn relocates an emptied centre in
place), which is what model transfer relies on (:mod:`dtc.cluster.transfer`).

:class:`KMeans` wraps the function as a scikit-learn estimator.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import numbers
import threading

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans as _SkKMeans
from sklearn.exceptions import NotFittedError
from sklearn.metrics import pairwise_distances_argmin_min
from threadpoolctl import ThreadpoolController

from dtc._validation import SEED_MAX, check_features, forget_fit, pow2_exponent
from dtc._warnings import warn

__all__ = [
    "FAISS_MIN_SAMPLES",
    "RESTART_ROWS_PER_CLUSTER",
    "RESTART_SUBSAMPLE",
    "SUBSAMPLE_RESTARTS_ABOVE",
    "KMeans",
    "assign_nearest",
    "faiss_available",
    "kmeans",
    "squared_differences",
    "warn_if_fewer_clusters",
]

#: ``backend="auto"`` uses faiss from this many samples on, when faiss is importable.
#: Below it scikit-learn is as fast and is the reference implementation.
FAISS_MIN_SAMPLES = 500_000
#: Restarts (``n_init > 1``) run on a subsample when there are more samples than this.
SUBSAMPLE_RESTARTS_ABOVE = 200_000
#: Size of that subsample, or :data:`RESTART_ROWS_PER_CLUSTER` rows per cluster when that
#: is more (a subsample of fewer rows than clusters could not be clustered at all).
RESTART_SUBSAMPLE = 100_000
RESTART_ROWS_PER_CLUSTER = 10

#: Below this many samples scikit-learn runs on one thread: its OpenMP workers cost more
#: than they save on small problems (ten times more on a busy machine).
SINGLE_THREAD_BELOW = 20_000

_BACKENDS = ("auto", "sklearn", "faiss")


def faiss_available() -> bool:
    """Whether the optional ``faiss`` package can be imported."""
    return importlib.util.find_spec("faiss") is not None


@functools.cache
def _controller() -> ThreadpoolController:
    # Scanning the loaded libraries costs ~0.1 s: do it once.
    return ThreadpoolController()


#: threadpoolctl's limits are the process's, not a thread's: two threads limiting at once
#: each saved the other's limit as the one to restore, and the session kept one BLAS
#: thread for good. One limited section at a time.
_LIMIT_LOCK = threading.RLock()


@contextlib.contextmanager
def limit_threads(single: bool):
    """Context limiting OpenMP / BLAS to one thread when ``single`` (small problems)."""
    if not single:
        yield
        return
    with _LIMIT_LOCK, _controller().limit(limits=1):
        yield


# -- validation shared by the cluster modules -------------------------------
def check_int(value, name: str, *, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum``, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def check_n_clusters(n_clusters, n_samples: int, name: str = "n_clusters") -> int:
    """``n_clusters`` validated as an int in ``[1, n_samples]``."""
    k = check_int(n_clusters, name)
    if k > n_samples:
        raise ValueError(
            f"{name}={k} but there are only {n_samples} samples; expected at most as many "
            "clusters as samples"
        )
    return k


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int in ``[0, 2**32 - 1]`` (every routine here is seeded, never global
    state; scikit-learn refuses a larger one as ``random_state``, after the work before it)."""
    seed = check_int(seed, name, minimum=0)
    if seed > SEED_MAX:
        raise ValueError(f"{name}: expected an int in [0, 2**32 - 1], got {seed!r}")
    return seed


def check_centers(centers, n_clusters: int, n_features: int, name: str = "init") -> np.ndarray:
    """``centers`` as a float32 array of shape ``(n_clusters, n_features)``."""
    C = check_features(centers, name=name)
    if C.shape != (n_clusters, n_features):
        raise ValueError(
            f"{name}: expected an array of shape (n_clusters, d) = ({n_clusters}, {n_features}), "
            f"got {C.shape}"
        )
    return C


# -- the function -----------------------------------------------------------
def kmeans(
    X,
    n_clusters: int,
    *,
    init="k-means++",
    n_init: int = 10,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray, float]:
    """K-means clustering of ``X``.

    Parameters
    ----------
    X : array of shape (n, d)
    n_clusters : int, 1 <= n_clusters <= n
    init : "k-means++", "random" or array of shape (n_clusters, d)
        Seeding. With an array, one run is made from it (``n_init`` is ignored) and
        centre ``c`` of the result is the one that started at ``init[c]``.
    n_init : int
        Restarts for a string ``init``; the run of lowest inertia is kept. Above
        :data:`SUBSAMPLE_RESTARTS_ABOVE` samples (and always with faiss) they run with
        scikit-learn, on a seeded subsample of at most :data:`RESTART_SUBSAMPLE` rows (or
        :data:`RESTART_ROWS_PER_CLUSTER` per cluster, when more), and the best is refined
        on all points (see the module docstring).
    max_iter : int
        Lloyd iterations per run.
    tol : float
        Relative tolerance on the centre shift (scikit-learn's meaning).
    seed : int
        Seed of every random choice: the result is a function of the arguments.
    backend : "auto", "sklearn" or "faiss"
        ``"auto"`` is faiss from :data:`FAISS_MIN_SAMPLES` samples on when it is
        installed, scikit-learn otherwise.

    Returns
    -------
    labels : int64 array of shape (n,)
    centers : float32 array of shape (n_clusters, d)
    inertia : float
        Sum of squared distances of the points to their centre.
    """
    X = check_features(X, name="X")
    n, d = X.shape
    k = check_n_clusters(n_clusters, n)
    n_init = check_int(n_init, "n_init")
    max_iter = check_int(max_iter, "max_iter")
    seed = check_seed(seed)
    if isinstance(tol, bool) or not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ValueError(f"tol: expected a non-negative float, got {tol!r}")
    if isinstance(init, str):
        if init not in ("k-means++", "random"):
            raise ValueError(f"init: expected 'k-means++', 'random' or an array, got {init!r}")
    else:
        init = check_centers(init, k, d)
        n_init = 1
    if backend not in _BACKENDS:
        raise ValueError(f"backend: expected one of {_BACKENDS}, got {backend!r}")
    if backend == "faiss" and not faiss_available():
        raise ImportError(
            "backend='faiss' needs the optional faiss package (pip install faiss-cpu)"
        )
    use_faiss = backend == "faiss" or (
        backend == "auto" and n >= FAISS_MIN_SAMPLES and faiss_available()
    )
    e = pow2_exponent(X) if isinstance(init, str) else pow2_exponent(X, init)
    if e:
        labels, centers, inertia = kmeans(
            np.ldexp(X, e),
            k,
            init=init if isinstance(init, str) else np.ldexp(init, e),
            n_init=n_init,
            max_iter=max_iter,
            tol=tol,
            seed=seed,
            backend="faiss" if use_faiss else "sklearn",
        )
        return labels, np.ldexp(centers, -e), math.ldexp(inertia, -2 * e)

    if isinstance(init, str) and (use_faiss or (n_init > 1 and n > SUBSAMPLE_RESTARTS_ABOVE)):
        # Choose the best of the restarts on a subsample (scikit-learn, k-means++ seeding
        # included: faiss only seeds at random), then refine once on everything.
        sub = X
        size = max(RESTART_SUBSAMPLE, RESTART_ROWS_PER_CLUSTER * k)
        if n > size:
            rng = np.random.default_rng(seed)
            sub = X[np.sort(rng.choice(n, size, replace=False))]
        _, init, _ = _run(sub, k, init, n_init, max_iter, tol, seed, use_faiss=False)
        n_init = 1
    return _run(X, k, init, n_init, max_iter, tol, seed, use_faiss)


def _run(X, k, init, n_init, max_iter, tol, seed, use_faiss):
    if use_faiss:
        return _faiss_kmeans(X, k, init, max_iter, seed)
    km = _SkKMeans(
        n_clusters=k,
        init=init,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        random_state=seed,
        algorithm="lloyd",
    )
    with limit_threads(X.shape[0] < SINGLE_THREAD_BELOW):
        km.fit(X)
    return (
        km.labels_.astype(np.int64),
        km.cluster_centers_.astype(np.float32),
        float(km.inertia_),
    )


def _faiss_kmeans(X, k, init, max_iter, seed):
    """Lloyd iterations by faiss from the centres ``init`` of shape ``(k, d)``."""
    import faiss

    # faiss works on the data as given, in float32 (scikit-learn centres them first): with
    # an offset its |x|^2 - 2 x.c + |c|^2 and centroid sums lose what the offset adds
    # (N(0, 0.2) + 1e5: centres 0.66 off, inertia 2.3 times too large). K-means is
    # translation-equivariant, so run it on centred data and shift the centres back.
    mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
    X = X - mean
    init = np.asarray(init, dtype=np.float32) - mean
    # faiss trains on at most max_points_per_centroid * k points by default; use all of
    # them so that both back ends solve the same problem.
    km = faiss.Kmeans(
        X.shape[1],
        k,
        niter=max_iter,
        # faiss's seed is a C int: seeds from 2**31 (which check_seed and scikit-learn take)
        # raised OverflowError; the start is given, the seed only picks an empty cluster's
        # refill, and seeds below 2**31 draw as before
        seed=seed & 0x7FFFFFFF,
        max_points_per_centroid=-(-X.shape[0] // k),
        verbose=False,
    )
    km.train(X, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
    sq, labels = km.index.search(X, 1)
    centers = km.centroids.astype(np.float32) + mean
    return labels[:, 0].astype(np.int64), centers, float(sq.sum(dtype=np.float64))


def assign_nearest(X, centers) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre of every row of ``X`` (chunked, never ``n x k`` at once).

    Parameters
    ----------
    X : array of shape (n, d)
    centers : array of shape (k, d)

    Returns
    -------
    labels : int64 array of shape (n,)
    sq_dist : float array of shape (n,), squared distance to that centre
    """
    X = check_features(X, name="X")
    C = check_features(centers, name="centers")
    if C.shape[1] != X.shape[1]:
        raise ValueError(
            f"centers: expected {X.shape[1]} columns (the dimension of X), got {C.shape[1]}"
        )
    e = pow2_exponent(X, C)  # see kmeans
    if e:
        X, C = np.ldexp(X, e), np.ldexp(C, e)
    labels, dist = pairwise_distances_argmin_min(X, C)
    return labels.astype(np.int64), np.ldexp(dist.astype(np.float64), -e) ** 2


def squared_differences(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``(n, m)`` squared Euclidean distances between the rows of ``A`` ``(n, d)`` and
    ``B`` ``(m, d)``, as ``((A[:, None] - B[None]) ** 2).sum(-1)`` (direct differences: no
    cancellation, unlike the ``|a|^2 + |b|^2 - 2 a.b`` form) in blocks of rows, so that at
    most about 4 M differences are alive (the ``(n, m, d)`` array at once was 320 MB at 800
    centres of 64 dimensions). Each block's sums are those of the one-shot formula, bit for
    bit."""
    step = max(1, (1 << 22) // max(1, B.shape[0] * B.shape[1]))
    return np.concatenate(
        # one (empty) block at least: no rows give (0, m)
        [
            ((A[s : s + step, None, :] - B[None]) ** 2).sum(-1)
            for s in range(0, max(len(A), 1), step)
        ]
    ).reshape(len(A), len(B))


def warn_if_fewer_clusters(labels: np.ndarray, k: int, who: str, why: str) -> None:
    """Warn (naming ``who`` and ``why``) when ``labels`` use fewer than the ``k``
    clusters the caller asked for: a method that can empty a cluster would otherwise
    return fewer without a word."""
    present = np.unique(labels).size
    if present < k:
        warn(
            f"{who}: the rows fall in {present} of the {k} clusters asked for ({len(labels)} "
            f"rows); {why}",
        )


class KMeans(ClusterMixin, BaseEstimator):
    """scikit-learn style estimator around :func:`kmeans` (same parameters).

    Fitted attributes: ``labels_`` ``(n,)``, ``cluster_centers_`` ``(k, d)``,
    ``inertia_``, ``n_features_in_`` (``d``). :meth:`predict` assigns new rows of
    ``d`` features to the nearest centre.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init="k-means++",
        n_init: int = 10,
        max_iter: int = 300,
        tol: float = 1e-4,
        seed: int = 0,
        backend: str = "auto",
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self.backend = backend

    def fit(self, X, y=None):
        """Cluster ``X`` ``(n, d)`` (``y`` ignored); sets ``labels_`` ``(n,)``,
        ``cluster_centers_`` ``(n_clusters, d)`` and ``inertia_``."""
        forget_fit(self)  # a refused refit left the previous fit's labels and centres
        # The parameters are exactly kmeans' keyword arguments.
        X = check_features(X, name="X")
        self.labels_, self.cluster_centers_, self.inertia_ = kmeans(X, **self.get_params())
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Index of the nearest fitted centre for each row of ``X`` ``(n, d)``: int64
        ``(n,)``."""
        if not hasattr(self, "cluster_centers_"):
            # NotFittedError is a ValueError and an AttributeError (scikit-learn's contract).
            raise NotFittedError("KMeans.predict: call fit first")
        X = check_features(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X: expected {self.n_features_in_} features (as in fit), got {X.shape[1]}"
            )
        return assign_nearest(X, self.cluster_centers_)[0]
