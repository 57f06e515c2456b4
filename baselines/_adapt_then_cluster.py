"""Common base of the shallow domain-adaptation baselines: map the features, then cluster
the target.

A subclass implements :meth:`AdaptThenCluster._adapt`, which maps the source and the
target features ``X_s`` ``(n_s, d)`` and ``X_t`` ``(n_t, d)`` to ``Z_s`` ``(n_s, p)`` and
``Z_t`` ``(n_t, p)`` in one shared space (CORAL, Subspace Alignment, TCA, JDA, optimal
transport, or the identity for plain model transfer). The target is then clustered by
K-means on ``Z_t`` (:func:`dtc.cluster.kmeans`), seeded by ``init``:

``"k-means++"``  target-only seeding (``n_init`` restarts): the adaptation acts through
                 the geometry of ``Z_t`` only;
``"source"``     model transfer (:mod:`dtc.cluster.transfer`): one K-means run started at
                 the source **class means** in the adapted space when the source is
                 labelled (then cluster ``c`` is named by source class
                 ``cluster_classes_[c]``), or at the centres of a K-means of ``Z_s`` when
                 it is not (the unlabelled source then needs at least ``k`` samples;
                 so does JDA's, whose K-means labels stand in for the classes).

Fitted attributes: ``labels_`` ``(n_t,)``, ``embedding_`` = ``Z_t``,
``source_embedding_`` = ``Z_s``, ``cluster_centers_`` ``(k, p)`` and, with
``init="source"`` and a labelled source, ``cluster_classes_`` ``(k,)``.
"""

from __future__ import annotations

import numpy as np

from baselines._validation import check_choice, check_number, check_positive_int, check_seed
from dtc.cluster import class_means, kmeans, transfer_kmeans
from dtc.cluster.kmeans import limit_threads
from dtc.methods import TransferClusterer

__all__ = [
    "INITS",
    "AdaptThenCluster",
    "check_n_components",
    "dense_linalg_threads",
    "resolve_n_components",
]

INITS = ("k-means++", "source")

#: Dense eigen/singular value problems smaller than this run on one BLAS thread: on a
#: busy machine, threaded LAPACK on a few-hundred-wide matrix is up to 20x slower.
SINGLE_THREAD_BELOW = 2048


def dense_linalg_threads(size: int):
    """Context limiting BLAS to one thread for a dense problem of side ``size``."""
    return limit_threads(size < SINGLE_THREAD_BELOW)


def check_n_components(n_components, *, method: str) -> int | None:
    """``n_components`` as an int ``>= 1``, or ``None`` (a default the data decides);
    its upper limit is the data's (:func:`resolve_n_components`)."""
    if n_components is None:
        return None
    return check_number(n_components, method=method, name="n_components", low=1, integer=True)


def resolve_n_components(
    n_components,
    default: int,
    limit: int,
    *,
    method: str,
    why: str = "min of the feature dimension and the sample counts",
) -> int:
    """``n_components`` (``None``: ``min(default, limit)``) checked against ``limit``
    (``why`` says in the error where the limit comes from)."""
    if limit < 1:
        raise ValueError(f"{method}: no component exists here ({why}: {limit})")
    if n_components is None:
        return min(default, limit)
    p = check_n_components(n_components, method=method)
    if p > limit:
        raise ValueError(
            f"{method}: n_components={p} but at most {limit} components exist here ({why})"
        )
    return p


def source_class_index(ys, k: int, *, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Source labels re-indexed to ``0..k-1`` and the class names ``(k,)``; the source
    must have exactly ``k`` classes (one mean per cluster)."""
    classes, index = np.unique(ys, return_inverse=True)
    if classes.size != k:
        raise ValueError(
            f"{method}: init='source' with a labelled source needs n_clusters equal to the "
            f"number of source classes ({classes.size}), got n_clusters={k}"
        )
    return index.astype(np.int64), classes.astype(np.int64)


class AdaptThenCluster(TransferClusterer):
    """Base class: ``_adapt`` maps the features, then K-means clusters the adapted target.

    Subclasses store ``n_clusters``, ``init``, ``n_init`` and ``seed`` (plus their own
    parameters) in ``__init__`` and implement ``_adapt(Xs, ys, Xt, k)``; one that runs a
    K-means of an unlabelled source inside ``_adapt`` (JDA) sets
    ``_clusters_unlabelled_source``. A subclass checks its own parameters' values that
    need no data in ``_check_adapt_params`` (run by :meth:`check_params` and by the fit,
    before the data's checks); ``_adapt`` checks what needs the data.
    """

    _clusters_unlabelled_source = False

    def _init_mode(self) -> str:
        return check_choice(self.init, INITS, method=type(self).__name__, name="init")

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> tuple[str, int, int]:
        """Validated ``(init, n_init, seed)``, after the subclass's own data-free checks."""
        name = type(self).__name__
        init = self._init_mode()
        n_init = check_positive_int(self.n_init, method=name, name="n_init")
        seed = check_seed(self.seed, method=name)
        self._check_adapt_params()
        return init, n_init, seed

    def _check_adapt_params(self) -> None:
        """The subclass's parameters' data-free checks (none by default)."""

    def _adapt(self, Xs, ys, Xt, k):  # pragma: no cover - abstract
        """Map ``Xs`` ``(n_s, d)`` and ``Xt`` ``(n_t, d)`` to ``(Zs, Zt)``, ``(n_s, p)``, ``(n_t, p)``."""
        raise NotImplementedError

    def _fit(self, pair):
        name = type(self).__name__
        k = self._n_clusters(pair)
        init, n_init, seed = self._check_params()
        Xs = pair.source.X.astype(np.float64)
        Xt = pair.target.X.astype(np.float64)
        ys = pair.source.y
        # Fail before the (costly) adaptation: the source must provide k class means or
        # k cluster centres.
        if init == "source" and ys is not None:
            source_class_index(ys, k, method=name)
        if ys is None and (init == "source" or self._clusters_unlabelled_source) and len(Xs) < k:
            raise ValueError(
                f"{name}: the unlabelled source has {len(Xs)} samples, fewer than "
                f"n_clusters={k}; its K-means cannot give {k} centres"
            )
        Zs, Zt = self._adapt(Xs, ys, Xt, k)
        self.source_embedding_ = np.asarray(Zs)
        self.embedding_ = np.asarray(Zt)
        self._cluster(self.source_embedding_, ys, self.embedding_, k, init, n_init, seed)

    def _cluster(self, Zs, ys, Zt, k, init, n_init, seed) -> None:
        if init == "k-means++":
            self.labels_, self.cluster_centers_, _ = kmeans(Zt, k, n_init=n_init, seed=seed)
            return
        if ys is not None:
            index, classes = source_class_index(ys, k, method=type(self).__name__)
            centres = class_means(Zs, index, k)
        else:
            _, centres, _ = kmeans(Zs, k, n_init=n_init, seed=seed)
        named = {} if ys is None else {"classes": classes}
        result = transfer_kmeans(Zt, centres, seed=seed, **named)
        self.labels_, self.cluster_centers_ = result.labels, result.centers
        if ys is not None:
            self.cluster_classes_ = classes[result.cluster_classes]
