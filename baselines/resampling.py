"""Resampled transfer for imbalanced data: rebalance the labelled source, learn a
classifier from it and transfer it to the target (optionally refined by clustering).

Class imbalance biases what a model learns from the source towards its majority
classes. This baseline first rebalances the labelled source with imbalanced-learn
(Lemaitre, Nogueira & Aridas, JMLR 2017):

* ``"random_over"``: random over-sampling of the minority classes (with replacement);
* ``"random_under"``: random under-sampling of every class to the smallest one (a
  warning when that leaves fewer than 5 samples per class);
* ``"smote"``: SMOTE (Chawla, Bowyer, Hall & Kegelmeyer, JAIR 2002), synthetic
  minority samples interpolated between a sample and one of its ``k_neighbors``
  nearest same-class neighbours;
* ``"none"``: no resampling (the reference that shows what resampling adds),

then transfers to the target:

1. a multinomial logistic regression is fitted on the resampled source, standardised
   with its own statistics, and predicts a class for every target sample, standardised
   with *the target's own* statistics (``standardize="per_domain"``, the default: each
   feature's mean and variance are matched across domains, which undoes brightness /
   contrast shifts; ``"source"`` applies the source's scaler to both). Matching the
   moments of two domains is only right when their class proportions agree, and this
   is where resampling matters twice: a rebalanced source has the proportions of a
   balanced target. (*Model transfer*: the classifier is the part the imbalance biases,
   and the part resampling corrects.) By default (``refine=False``) the predicted
   classes *are* the clusters: cluster ``c`` stands for source class
   ``cluster_classes_[c]``, and no clustering algorithm runs (a classifier transfer;
   the registered ``resampled_transfer`` and its README results row are this).
2. only with ``refine=True``: the target is clustered by K-means
   (:func:`dtc.cluster.kmeans`, one run) started at the target centroids of the
   predicted classes (a class predicted for no target sample starts at its resampled
   source mean), so the clusters follow the target's own geometry but keep the names of
   the source classes.

The resampling papers evaluate classifiers; step 2 is the adaptation to clustering. Why
not plain source class means as the K-means start: a class mean is (in expectation)
unchanged by random over- / under-sampling and by SMOTE's within-class interpolation, so
resampling would have nothing to correct there.

Needs a labelled source, and the number of clusters must equal the number of source
classes.
"""

from __future__ import annotations

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from baselines._validation import (
    check_bool,
    check_choice,
    check_number,
    check_positive_int,
    check_seed,
)
from dtc._validation import real_array
from dtc._warnings import warn
from dtc.cluster.kmeans import kmeans
from dtc.data.domain import _check_labels
from dtc.methods import TransferClusterer

__all__ = ["SAMPLERS", "ResampledTransfer", "resample"]

SAMPLERS = ("smote", "random_over", "random_under", "none")
# random_under cuts every class to the smallest one: fewer samples per class than this
# leave a classifier almost nothing to learn from, so it warns
MIN_UNDER_SAMPLES = 5
STANDARDIZE = ("per_domain", "source")


def resample(X, y, sampler: str, *, k_neighbors: int = 5, seed: int = 0):
    """Rebalance ``(X, y)`` with ``sampler`` (one of :data:`SAMPLERS`); returns ``(X, y)``,
    arrays of shapes ``(n', d)`` (X's float dtype; float64 for other numbers) and ``(n',)``.

    ``X`` ``(n, d)``; ``y`` ``(n,)`` non-negative integer class labels, as a
    :class:`~dtc.data.Domain`'s (``ValueError`` naming ``y`` otherwise; returned as
    int64). ``"random_under"`` cuts every class to the smallest one and warns when that
    leaves fewer than :data:`MIN_UNDER_SAMPLES` (5) samples per class. SMOTE's
    ``k_neighbors`` is lowered, class by class, to (class size - 1) for a class of at
    most ``k_neighbors`` samples (the other classes keep ``k_neighbors``); a class of a
    single sample is over-sampled at random.
    """
    sampler = check_choice(sampler, SAMPLERS, method="resample", name="sampler")
    # as ResampledTransfer checks them: True ran as k = 1, None and -1 failed inside
    # imbalanced-learn naming neither resample nor the argument
    k_neighbors = check_positive_int(k_neighbors, method="resample", name="k_neighbors")
    seed = check_seed(seed, method="resample")
    # Checked here (negative labels, floats), not by imbalanced-learn or a numpy cast, whose
    # errors name neither the function nor the argument.
    y = _check_labels(y, None, name="resample: y")
    # an array of X's own float dtype: a list came back a list (no shape) from every sampler
    X = real_array(X, "resample")
    if np.ndim(X) != 2 or len(X) != len(y):  # the "none" path returned them mismatched
        raise ValueError(
            f"resample: X must have shape (n, d) with one row per label, got shape "
            f"{np.shape(X)} for {len(y)} labels"
        )
    if not np.isfinite(X).all():  # imbalanced-learn's error named neither resample nor X
        raise ValueError("resample: X must be finite, found NaN or Inf")
    if sampler == "none":
        return X, y
    if sampler == "random_over":
        return RandomOverSampler(random_state=seed).fit_resample(X, y)
    if sampler == "random_under":
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() < MIN_UNDER_SAMPLES:
            smallest = int(labels[counts.argmin()])
            warn(
                f"resample: random_under cuts every class to the smallest, class {smallest} "
                f"of {int(counts.min())} sample(s): {int(counts.min())} sample(s) per class "
                f"left (fewer than {MIN_UNDER_SAMPLES}); 'smote' or 'random_over' keep "
                "every sample",
                UserWarning,
            )
        return RandomUnderSampler(random_state=seed).fit_resample(X, y)
    # SMOTE from here on. Counted by class, not np.bincount: a label of 10**10 asked for
    # 75 GiB of counters.
    classes, sizes = np.unique(y, return_counts=True)
    counts = dict(zip(classes.tolist(), sizes.tolist()))
    if int(sizes.min()) > k_neighbors:  # every class has k_neighbors neighbours
        return SMOTE(k_neighbors=k_neighbors, random_state=seed).fit_resample(X, y)
    # Each class its own k: min(k_neighbors, its size - 1). One k lowered to the smallest
    # class's for all of them (a class of 3: k=2) interpolated every larger class with its
    # 2 nearest neighbours only, not the k_neighbors SMOTE draws from for every sample.
    top = int(sizes.max())
    by_k: dict[int, dict[int, int]] = {}
    for c, size in counts.items():
        if 2 <= size < top:
            by_k.setdefault(min(k_neighbors, size - 1), {})[int(c)] = top
    for k, strategy in sorted(by_k.items()):
        X, y = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed).fit_resample(
            X, y
        )
    # A class of one sample has no neighbour to interpolate with: only it is over-sampled
    # at random, the other minority classes still by SMOTE (not the whole source at random).
    single = {int(c): top for c, size in counts.items() if size == 1 and top > 1}
    if not single:
        return X, y
    return RandomOverSampler(sampling_strategy=single, random_state=seed).fit_resample(X, y)


class ResampledTransfer(TransferClusterer):
    """Resample the labelled source (SMOTE: Chawla et al., JAIR 2002, by default) and
    transfer a classifier to the target; with
    ``refine=True``, K-means on the target then refines its predicted classes.

    Parameters
    ----------
    n_clusters : int, optional
        Must equal the number of source classes; ``None``: the pair's ``n_clusters``,
        else the number of source classes (as DTC's).
    sampler : {"smote", "random_over", "random_under", "none"}, default "smote"
    standardize : {"per_domain", "source"}, default "per_domain"
        Scale the target with its own statistics, or with the (resampled) source's.
    k_neighbors : int, default 5
        SMOTE's neighbours.
    C : float, default 1.0
        Inverse L2 regularisation of the logistic regression.
    refine : bool, default False
        ``False``: the classifier's predicted classes are the clusters (no clustering
        step). ``True``: run K-means on the target from the predicted classes'
        centroids.
    max_iter : int, default 300
        K-means iterations (``refine=True`` only).
    seed : int, default 0

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    cluster_classes_ : ndarray of shape (n_clusters,)
        Source class of every cluster.
    cluster_centers_ : ndarray of shape (n_clusters, d)
        Target centroids of the predicted classes (``refine=False``) or the K-means
        centres (``refine=True``).
    source_class_counts_ : dict
        Samples per source class after resampling.
    initial_labels_ : ndarray of shape (n_target,)
        The classifier's predictions (cluster indices); equal to ``labels_`` unless
        ``refine=True``.
    """

    requires_source_labels = True
    uses_source = True

    def __init__(
        self,
        n_clusters=None,
        sampler="smote",
        standardize="per_domain",
        k_neighbors=5,
        C=1.0,
        refine=False,
        max_iter=300,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.sampler = sampler
        self.standardize = standardize
        self.k_neighbors = k_neighbors
        self.C = C
        self.refine = refine
        self.max_iter = max_iter
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> tuple[str, str, int, int, float, bool, int]:
        """Validated ``(standardize, sampler, k_neighbors, max_iter, C, refine, seed)``."""
        name = type(self).__name__
        return (
            check_choice(self.standardize, STANDARDIZE, method=name, name="standardize"),
            check_choice(self.sampler, SAMPLERS, method=name, name="sampler"),
            check_positive_int(self.k_neighbors, method=name, name="k_neighbors"),
            check_positive_int(self.max_iter, method=name, name="max_iter"),
            check_number(self.C, method=name, name="C", strict=True),
            check_bool(self.refine, method=name, name="refine"),
            check_seed(self.seed, method=name),
        )

    def _fit(self, pair):
        name = type(self).__name__
        classes = np.unique(pair.source.y)
        if self.n_clusters is None and pair.n_clusters is None:
            k = classes.size
        else:
            k = self._n_clusters(pair)
        if classes.size < 2:  # first: the advice below would name a refused n_clusters=1
            raise ValueError(f"{name}: needs a labelled source with at least 2 classes")
        if k != classes.size:
            # n_clusters=None took the pair's: the message named a value the user never set
            hint = (
                f"; n_clusters=None takes the pair's n_clusters: give n_clusters={classes.size}"
                if self.n_clusters is None
                else ""
            )
            raise ValueError(
                f"{name}: clusters are named by source classes, so n_clusters ({k}) must equal "
                f"the number of source classes ({classes.size}){hint}"
            )
        standardize, sampler, k_nn, max_iter, C, refine, seed = self._check_params()

        # Resampled under the source's own labels (a warning names the user's class; the
        # samplers take the classes in sorted order either way), then class indices
        # 0..k-1 (source labels need not be contiguous).
        Xs, ys = resample(
            pair.source.X.astype(np.float64), pair.source.y, sampler, k_neighbors=k_nn, seed=seed
        )
        ys = np.searchsorted(classes, ys)
        self.source_class_counts_ = {
            int(classes[c]): int(n) for c, n in enumerate(np.bincount(ys, minlength=k))
        }
        Xt = pair.target.X.astype(np.float64)
        scaler = StandardScaler().fit(Xs)
        target_scaler = StandardScaler().fit(Xt) if standardize == "per_domain" else scaler
        clf = LogisticRegression(C=C, max_iter=1000).fit(scaler.transform(Xs), ys)
        pred = clf.predict(target_scaler.transform(Xt)).astype(np.int64)
        self.initial_labels_ = pred
        centers = np.stack(
            [
                Xt[pred == c].mean(axis=0) if np.any(pred == c) else Xs[ys == c].mean(axis=0)
                for c in range(k)
            ]
        )
        if refine:
            labels, centers, _ = kmeans(Xt, k, init=centers, n_init=1, seed=seed, max_iter=max_iter)
        else:
            labels = pred
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.cluster_centers_ = np.asarray(centers)
        self.cluster_classes_ = classes.astype(np.int64)
