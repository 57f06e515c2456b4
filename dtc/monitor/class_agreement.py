"""Do the target's clusters correspond to the source's classes? A label-free check.

Transfer from a labelled source assumes that the target holds the source's classes. When
it holds other classes -- the source's classes disjoint from the target's, crossed,
another half of a benchmark's classes -- a source classifier still names every target
row, but the names do not follow the target's own groups: rows of one target cluster are
spread over several source classes, and one source class takes rows of several clusters.
When the classes are the target's, the names follow the clusters, as far as the domain
shift lets the classifier generalise.

:func:`class_agreement` measures this. A multinomial logistic regression learns the source
classes from the source rows; K-means partitions the target rows into ``n_clusters``; the
agreement is the adjusted mutual information between the classifier's names of the target
rows and the target's clusters (AMI: Vinh, Epps & Bailey, JMLR 2010; 0 when the names are
independent of the clusters, 1 when they are a relabelling of them). The adjustment for
chance makes targets with 5, 10 and 20 clusters comparable. No target label is used.

The idea is that of the negative conditional entropy (NCE) transferability score of Tran,
Nguyen & Hassner (ICCV 2019), the conditional entropy of the target labels given the
source labels on the same inputs, with the target's labels replaced by its clusters and the
source labels of the target rows by a source classifier's predictions. Putting clusters
in place of labels follows N-LEEP (Li et al., CVPR 2021), which puts a Gaussian mixture's
clusters of the features in place of the *source* model's predictions and still reads the
target labels; here it is the target's labels that the clusters replace.

Each domain is standardised on its own (zero mean, unit variance per feature; features
constant in a domain are zero there) before both steps, so the result does not depend on
per-feature affine scaling of either domain -- raw features and DTC's per-domain scaling
give the same agreement.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_mutual_info_score

from dtc._validation import check_number, check_seed, float_array, is_int_at_least

__all__ = ["CLASSIFIER_C", "class_agreement", "source_names"]

#: Inverse L2 strength of the source classifier: strong enough a prior that 800 sparse
#: bag-of-words features and a 157-row source (SURF DSLR) give a classifier that
#: generalises past the source's own rows.
CLASSIFIER_C = 0.1


def _standardise(X: np.ndarray) -> np.ndarray:
    # each column over its largest magnitude first (standardising is scale-free): squares
    # of 1e-200 underflowed to a zero std and of 1e200 overflowed to an infinite one, and
    # either column came out all zeros
    top = np.abs(X).max(axis=0) if len(X) else np.ones(X.shape[1])
    X = X / np.where(top > 0, top, 1.0)
    sd = X.std(axis=0)
    return np.where(sd > 0, (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)


def _rows(X, name: str) -> np.ndarray:
    X = float_array(X, "class_agreement", name)
    if X.ndim != 2:
        raise ValueError(f"class_agreement: {name} must have shape (n, d), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"class_agreement: {name} contains NaN or infinite values")
    return X


def source_names(Xs, ys, Xt, *, C: float = CLASSIFIER_C) -> np.ndarray:
    """The source classes ``(n_t,)`` a multinomial logistic regression fitted on the source
    rows ``Xs`` ``(n_s, d)`` with classes ``ys`` ``(n_s,)`` gives the target rows ``Xt``
    ``(n_t, d)``, each domain standardised on its own (inputs checked by the caller)."""
    model = LogisticRegression(C=C, max_iter=500).fit(_standardise(Xs), ys)
    return model.predict(_standardise(Xt))


def class_agreement(
    Xs, ys, Xt, n_clusters: int, *, n_init: int = 4, seed: int = 0, C: float = CLASSIFIER_C
) -> dict:
    """How far a source classifier's names of the target rows follow the target's clusters.

    Parameters
    ----------
    Xs : array ``(n_s, d)``
        Source rows.
    ys : array ``(n_s,)``
        Source class labels, at least 2 classes.
    Xt : array ``(n_t, d)``
        Target rows, the same ``d`` features; ``n_t > n_clusters``.
    n_clusters : int >= 2
        Clusters of the target (K-means, ``n_init`` starts, ``random_state=seed``).
    C : float > 0
        Inverse L2 strength of the multinomial logistic regression fitted on the source.
    n_init : int, default 4
        K-means starts of the target clustering.
    seed : int, default 0
        ``random_state`` of that K-means.

    Returns
    -------
    dict with
        ``agreement``: adjusted mutual information between the classifier's names of the
        target rows ``(n_t,)`` and the target's K-means clusters ``(n_t,)``; about 0 for
        names independent of the clusters, 1 for names that relabel them.
        ``n_named``: how many source classes name at least one target row.
        ``n_clusters``: the clusters K-means found in the target (fewer than asked where it
        has fewer distinct rows; at least 2: identical rows are a ``ValueError`` naming
        ``Xt``).
        ``n_classes``: of the source.
    """
    Xs, Xt = _rows(Xs, "Xs"), _rows(Xt, "Xt")
    ys = np.asarray(ys)
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(
            "class_agreement: Xs and Xt must have the same number of features, got "
            f"{Xs.shape[1]} and {Xt.shape[1]}"
        )
    if ys.shape != (Xs.shape[0],):
        raise ValueError(
            f"class_agreement: ys must have shape ({Xs.shape[0]},) like Xs' rows, got {ys.shape}"
        )
    classes = np.unique(ys)
    if classes.size < 2:
        raise ValueError(f"class_agreement: ys needs at least 2 classes, got {classes.size}")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise ValueError(f"class_agreement: n_clusters must be an int, got {n_clusters!r}")
    if not 2 <= n_clusters < Xt.shape[0]:
        raise ValueError(
            f"class_agreement: n_clusters must be in [2, n_t) = [2, {Xt.shape[0]}), "
            f"got {n_clusters} (the target needs more rows than clusters)"
        )
    # C="a" was numpy's TypeError, n_init=0 and seed=-1 scikit-learn's words
    C = check_number(C, "class_agreement: C", low=0.0, strict=True)
    if not is_int_at_least(n_init, 1):
        raise ValueError(f"class_agreement: n_init must be an int >= 1, got {n_init!r}")
    seed = check_seed(seed, owner="class_agreement")
    Zt = _standardise(Xt)  # what K-means clusters
    if not np.ptp(Zt, axis=0).any():
        # identical rows: one cluster, one name, and scikit-learn's AMI of two constant
        # labellings is 1 by convention (0 / 0: undefined), read as perfect agreement.
        # Checked before the fits (K-means warned first that it found one cluster), on
        # the standardised rows: a column of 1e-200 and zeros standardises to zeros.
        raise ValueError(
            f"class_agreement: Xt: its rows are identical once standardised, so K-means "
            f"finds 1 cluster of the {n_clusters} asked; agreement needs at least 2"
        )
    names = source_names(Xs, ys, Xt, C=C)
    clusters = KMeans(int(n_clusters), n_init=int(n_init), random_state=seed).fit_predict(Zt)
    # >= 2: k-means++ draws its second centre where the first is not, and Lloyd keeps both
    found = int(np.unique(clusters).size)
    return {
        "agreement": float(adjusted_mutual_info_score(clusters, names)),
        "n_named": int(np.unique(names).size),
        "n_clusters": found,
        "n_classes": int(classes.size),
    }
