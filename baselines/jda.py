"""Joint Distribution Adaptation (JDA), then K-means on the target.

M. Long, J. Wang, G. Ding, J. Sun, P. S. Yu. "Transfer Feature Learning with Joint
Distribution Adaptation". ICCV 2013. JDA extends TCA (:mod:`baselines.tca`) with one
conditional MMD term per class: ``M = M_0 + sum_c M_c``, ``M_c`` matching the mean of
source class ``c`` with the mean of the target samples *pseudo-labelled* ``c``. It
iterates ``n_iter`` times: embed (the first time with ``M_0`` only, i.e. TCA), then
pseudo-label the target in the new space, then embed again. Implementation as the
authors' code: unit-L2 samples, ``M_0 = C e e^T``, ``M`` divided by its Frobenius norm,
embedded samples L2-normalised, 1-NN pseudo-labels, ``k = 100``, ``T = 10``, ``lam = 1``
on Office-Caltech SURF and ``0.1`` on MNIST-USPS and COIL (the values of the paper's
Section 5.2 and of the authors' demo). With ``kernel="auto"`` (primal when
``n >= d``, else the linear kernel, the same solution space) this reproduces the
paper's Table 2 *exactly* on C->A (44.78), W->D (89.17), MNIST->USPS (67.28) and
COIL1->COIL2 (89.31) (``tests/baselines/test_paper.py``). The primal form on W->D
(``n = 452 < d = 800``, a singular ``X^T H X``) gives 85.35 instead.

Pseudo-labels (``pseudo_labels``):

``"nn"``      1-NN classifier trained on the embedded labelled source (the paper);
``"kmeans"``  clustering pseudo-labels: K-means on the embedded target started at the
              embedded source class means (labelled source) or, without source labels,
              at the means of the source *clusters* (a K-means of the input source
              features, computed once), so target cluster ``c`` is matched to source
              class / cluster ``c`` and the conditional terms stay well defined;
``"auto"``    ``"nn"`` with a labelled source, ``"kmeans"`` otherwise.

Adaptation to clustering: the final target embedding is clustered by K-means
(``init`` as in :mod:`baselines._adapt_then_cluster`). Without source labels JDA is
fitted on source cluster labels, so it needs no labelled source.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from baselines._adapt_then_cluster import AdaptThenCluster
from baselines._validation import check_choice, check_number
from baselines.tca import (
    KERNELS,
    check_embedding_params,
    check_mmd_params,
    embed,
    joint_features,
    marginal_mmd_vector,
)
from dtc.cluster import class_means, kmeans, transfer_kmeans
from dtc.data.domain import _check_labels

__all__ = ["JDA", "PSEUDO_LABELS", "jda_transform"]

PSEUDO_LABELS = ("auto", "nn", "kmeans")


def _conditional_vectors(ys, yt_pseudo, n_classes: int, ns: int, nt: int) -> np.ndarray:
    """MMD vectors ``(n_s + n_t, C)`` of the class-conditional terms (a class absent from
    the target pseudo-labels keeps only its source part, as ``e(isinf(e)) = 0`` does)."""
    E = np.zeros((ns + nt, n_classes))
    for c in range(n_classes):
        src, tar = ys == c, yt_pseudo == c
        E[:ns][src, c] = 1.0 / max(src.sum(), 1)
        if tar.any():
            E[ns:][tar, c] = -1.0 / tar.sum()
    return E


def _check_n_iter(n_iter) -> int:
    return check_number(n_iter, method="JDA", name="n_iter", low=1, integer=True)


def jda_transform(
    Xs,
    ys,
    Xt,
    *,
    n_components=None,
    lam=1.0,
    kernel="auto",
    gamma=1.0,
    n_iter=10,
    pseudo_labels="nn",
    normalize=True,
    seed=0,
):
    """JDA embedding (Long et al., ICCV 2013) of ``Xs`` ``(n_s, d)`` with labels ``ys``
    ``(n_s,)`` and of ``Xt`` ``(n_t, d)``.

    ``pseudo_labels`` is ``"nn"`` or ``"kmeans"`` (see the module docstring; ``ys`` may be
    source *cluster* labels); ``ys`` must be non-negative integers, one per source row
    (``ValueError`` naming ``ys`` otherwise). Returns ``(Zs, Zt, yt_pseudo)``: the
    embeddings of the last iteration, ``(n_s, p)`` and ``(n_t, p)``, and the target
    pseudo-labels ``(n_t,)`` computed from them, in ``ys``'s labels (what the paper reports
    as JDA's prediction with ``"nn"``). ``C`` is the number of distinct labels in ``ys``
    (the authors' ``length(unique(Y_src))``): it weighs the marginal term, so labels with
    gaps (``{0, 2, 5}``) give the embedding of ``{0, 1, 2}``.
    """
    # The cheap checks first, then the (possibly n x n) joint features.
    if ys is None:
        raise ValueError("JDA: ys is required (source class or cluster labels, shape (n_s,))")
    ys = _check_labels(ys, np.shape(Xs)[0] if np.ndim(Xs) == 2 else None, name="JDA: ys")
    check_mmd_params(n_components, lam, kernel, gamma, normalize, method="JDA")
    n_iter = _check_n_iter(n_iter)
    mode = check_choice(pseudo_labels, ("nn", "kmeans"), method="JDA", name="pseudo_labels")
    F = joint_features(Xs, Xt, kernel=kernel, gamma=gamma, normalize=normalize, caller="JDA")
    p, lam, _ = check_embedding_params(n_components, lam, kernel, min(F.shape), method="JDA")
    ns, nt = len(Xs), len(Xt)
    classes, ys = np.unique(ys, return_inverse=True)
    C = len(classes)
    if mode == "kmeans" and nt < C:
        # else transfer_kmeans's "source_centers: 5 centres for 4 target rows (Z_target)",
        # naming neither JDA nor an argument
        raise ValueError(
            f"JDA: pseudo_labels='kmeans' starts one centre per source class ({C}) and the "
            f"target has only {nt} samples; expected at most as many classes as target "
            "samples (or pseudo_labels='nn')"
        )
    e0 = marginal_mmd_vector(ns, nt, C)[:, None]
    yt = None
    for it in range(n_iter):
        E = e0 if yt is None else np.hstack([e0, _conditional_vectors(ys, yt, C, ns, nt)])
        Zs, Zt = embed(F, E, ns, p, lam, normalize)
        if mode == "nn":
            yt = KNeighborsClassifier(n_neighbors=1).fit(Zs, ys).predict(Zt)
        else:
            # warned of once, for the pseudo-labels returned (every iteration repeated it)
            last = it == n_iter - 1
            means = class_means(Zs, ys, C)
            yt = transfer_kmeans(Zt, means, seed=seed, classes=classes, warn_empty=last).labels
    return Zs, Zt, classes[yt].astype(np.int64)


class JDA(AdaptThenCluster):
    """Joint Distribution Adaptation (Long et al., ICCV 2013), then K-means on the embedded
    target.

    Parameters
    ----------
    n_clusters : int, optional
    n_components : int, optional
        ``None``: ``min(100, n_s + n_t, q)`` (the paper's k = 100; ``q`` as in
        :func:`baselines.tca.tca_transform`).
    lam : float, default 1.0
        Ridge (the authors' code: 1.0 on Office-Caltech SURF, 0.1 on images).
    kernel : {"auto", "primal", "linear", "rbf"}, default "auto"
        ``"auto"``: primal when ``n_s + n_t >= d``, else the linear kernel.
    gamma : float, default 1.0
        rbf width (``exp(-gamma ||x - x'||^2)``); read only with ``kernel="rbf"``.
    n_iter : int, default 10
        Rounds of embedding and pseudo-labelling (the paper's ``T``); the first embeds
        with the marginal term alone (TCA).
    pseudo_labels : {"auto", "nn", "kmeans"}, default "auto"
        How the target is pseudo-labelled each round (module docstring): 1-NN from the
        embedded source, K-means from the embedded source class (or cluster) means, or
        ``"nn"`` with a labelled source and ``"kmeans"`` without.
    normalize : bool, default True
        L2-normalise samples before and embedded samples after (the JDA/TCA code).
    init : {"k-means++", "source"}, default "k-means++"
        Seeding of the final K-means (:mod:`baselines._adapt_then_cluster`).
    n_init : int, default 10
    seed : int, default 0

    Attributes
    ----------
    labels_ (n_t,), embedding_ (n_t, p), source_embedding_ (n_s, p), cluster_centers_
    (k, p), pseudo_labels_ (n_t,) the last pseudo-labels (source class labels with a
    labelled source, source cluster indices without), cluster_classes_ (k,)
    (``init="source"``, labelled source).
    """

    _clusters_unlabelled_source = True  # its K-means labels stand in for the classes

    def __init__(
        self,
        n_clusters=None,
        n_components=None,
        lam=1.0,
        kernel="auto",
        gamma=1.0,
        n_iter=10,
        pseudo_labels="auto",
        normalize=True,
        init="k-means++",
        n_init=10,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.lam = lam
        self.kernel = kernel
        self.gamma = gamma
        self.n_iter = n_iter
        self.pseudo_labels = pseudo_labels
        self.normalize = normalize
        self.init = init
        self.n_init = n_init
        self.seed = seed

    def _check_adapt_params(self) -> None:
        check_choice(self.kernel, KERNELS, method="JDA", name="kernel")
        check_choice(self.pseudo_labels, PSEUDO_LABELS, method="JDA", name="pseudo_labels")
        check_mmd_params(
            self.n_components, self.lam, self.kernel, self.gamma, self.normalize, method="JDA"
        )
        _check_n_iter(self.n_iter)

    def _adapt(self, Xs, ys, Xt, k):
        mode = self.pseudo_labels  # checked by _check_adapt_params
        if mode == "nn" and ys is None:
            raise ValueError(
                "JDA: pseudo_labels='nn' needs a labelled source (pair.source.y is None); "
                "use 'kmeans' or 'auto'"
            )
        if mode == "auto":
            mode = "nn" if ys is not None else "kmeans"
        if ys is None:  # source cluster labels stand in for the classes
            ys, _, _ = kmeans(Xs, k, n_init=self.n_init, seed=self.seed)
        Zs, Zt, self.pseudo_labels_ = jda_transform(
            Xs,
            ys,
            Xt,
            n_components=self.n_components,
            lam=self.lam,
            kernel=self.kernel,
            gamma=self.gamma,
            n_iter=self.n_iter,
            pseudo_labels=mode,
            normalize=self.normalize,
            seed=self.seed,
        )
        return Zs, Zt
