"""Self-taught Clustering (STC): co-cluster the target and an auxiliary (source) data set
that share one clustering of the features.

Dai, Yang, Xue & Yu, "Self-taught clustering", ICML 2008. The target ``X`` and the
auxiliary data ``Y`` are two non-negative instance-feature matrices over the same
features ``Z``, read as joint distributions ``p(X, Z)`` and ``q(Y, Z)`` (each matrix
divided by its sum). STC looks for a clustering ``C_X`` of the target instances, a
clustering ``C_Y`` of the auxiliary instances and **one** clustering ``C_Z`` of the
features that minimise the loss of mutual information

    J = [I(X; Z) - I(X~; Z~)] + lambda * [I(Y; Z) - I(Y~; Z~)],

so a small or noisy target is clustered with feature clusters that the auxiliary data
helps to find. With ``p^(x, z) = p(x~, z~) p(x | x~) p(z | z~)`` (information-theoretic
co-clustering, Dhillon, Mallela & Modha, KDD 2003), ``I(X; Z) - I(X~; Z~) = KL(p || p^)``,
and the paper's alternating algorithm (its Algorithm 1) decreases ``J`` monotonically:

1. ``C_X(x) = argmin_x~ KL(p(Z | x) || p^(Z | x~))`` with ``p^(z | x~) = p(z | z~) p(z~ | x~)``;
2. ``C_Y(y)``: the same with ``q``;
3. ``C_Z(z) = argmin_z~ p(z) KL(p(X | z) || p^(X | z~)) + lambda q(z) KL(q(Y | z) || q^(Y | z~))``;

recomputing ``p^`` and ``q^`` after every step, until no assignment changes or
``max_iter`` rounds. The initial clusterings (not specified by the paper) are K-means
(:func:`dtc.cluster.kmeans.kmeans`) of the rows' conditional distributions ``p(Z | x)``,
``q(Z | y)``, then of the features' cluster profiles ``[p(X~ | z), lambda q(Y~ | z)]``
for ``C_Z``, then once more of the target rows' ``p(Z~ | x)`` for ``C_X`` (the target
seen through the feature clusters the auxiliary data helped to find).

The auxiliary data are used unlabelled (STC is unsupervised on both sides). The
features must be **non-negative** (counts, frequencies, intensities): a negative value
raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np

from baselines._arrays import one_hot
from baselines._validation import (
    check_non_negative,
    check_number,
    check_positive_int,
    check_seed,
)
from dtc.cluster.kmeans import kmeans
from dtc.methods import TransferClusterer

__all__ = ["SelfTaughtClustering", "cocluster_loss", "mutual_information"]

_TINY = 1e-300


def _safe_div(a, b):
    return np.divide(a, b, out=np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b))), where=b > 0)


def mutual_information(P: np.ndarray) -> float:
    """Mutual information (nats) of the joint distribution ``P`` of shape ``(n, m)``
    (non-negative, sum 1) between its row and column variables."""
    P = np.asarray(P, dtype=np.float64)
    outer = P.sum(axis=1, keepdims=True) * P.sum(axis=0, keepdims=True)
    nz = P > 0
    return float(np.sum(P[nz] * np.log(P[nz] / outer[nz])))


def _compress(P: np.ndarray, rows: np.ndarray, cols: np.ndarray, kr: int, kc: int) -> np.ndarray:
    """``P~[a, b] = sum_{x in a, z in b} P[x, z]`` of shape ``(kr, kc)``."""
    return np.asarray(np.asarray(one_hot(rows, kr).T @ P) @ one_hot(cols, kc))


def _reassign(scores: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Row-wise argmax of ``scores``, keeping ``current`` where it ties with the best
    (so the loop stops instead of cycling between equally good assignments)."""
    best = np.argmax(scores, axis=1)
    rows = np.arange(scores.shape[0])
    keep = scores[rows, current] >= scores[rows, best] - 1e-12 * np.abs(scores[rows, best])
    return np.where(keep, current, best)


def cocluster_loss(P: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """``I(X; Z) - I(X~; Z~)`` (nats) for the joint ``P`` co-clustered by ``rows`` and ``cols``.

    Parameters
    ----------
    P : array of shape (n, m)
        Joint distribution of the instances ``X`` (rows) and features ``Z`` (columns),
        non-negative, summing to 1.
    rows : int array of shape (n,)
        Cluster of each instance, in ``[0, k_r)`` with ``k_r = rows.max() + 1``.
    cols : int array of shape (m,)
        Cluster of each feature, in ``[0, k_c)`` with ``k_c = cols.max() + 1``.

    Returns
    -------
    float
        The loss in mutual information, ``>= 0``: ``KL(p || p^)`` to the co-clustered
        model (Dhillon, Mallela & Modha, KDD 2003). Nothing is validated.
    """
    kr, kc = int(rows.max()) + 1, int(cols.max()) + 1
    return mutual_information(P) - mutual_information(_compress(P, rows, cols, kr, kc))


class _Side:
    """One data set's joint distribution and its row clustering (target or auxiliary)."""

    def __init__(self, P: np.ndarray, rows: np.ndarray, k: int):
        self.P = P
        self.rows = rows
        self.k = k
        self.px = P.sum(axis=1)
        self.pz = P.sum(axis=0)
        self.cond = _safe_div(P, self.px[:, None])  # p(Z | x)

    def compressed_rows(self, cols: np.ndarray, kz: int) -> np.ndarray:
        """``p(Z~ | x)`` of shape ``(n, kz)``."""
        return _safe_div(np.asarray(self.P @ one_hot(cols, kz)), self.px[:, None])

    def row_scores(self, cols: np.ndarray, kz: int) -> np.ndarray:
        """``sum_z p(z | x) log p^(z | x~)`` of shape ``(n, k)``: the higher, the closer."""
        Pc = _compress(self.P, self.rows, cols, self.k, kz)
        pz_given_zt = _safe_div(self.pz, Pc.sum(axis=0)[cols])  # p(z | z~(z))
        pzt_given_xt = _safe_div(Pc, Pc.sum(axis=1, keepdims=True))  # p(z~ | x~)
        q = pzt_given_xt[:, cols] * pz_given_zt[None, :]  # p^(z | x~), (k, m)
        return self.cond @ np.log(np.maximum(q, _TINY)).T

    def feature_scores(self, cols: np.ndarray, kz: int) -> np.ndarray:
        """``sum_x p(x, z) log p^(x | z~)`` of shape ``(m, kz)``."""
        Pc = _compress(self.P, self.rows, cols, self.k, kz)
        px_given_xt = _safe_div(self.px, Pc.sum(axis=1)[self.rows])  # p(x | x~(x))
        pxt_given_zt = _safe_div(Pc, Pc.sum(axis=0, keepdims=True))  # p(x~ | z~)
        q = pxt_given_zt[self.rows, :] * px_given_xt[:, None]  # p^(x | z~), (n, kz)
        return self.P.T @ np.log(np.maximum(q, _TINY))

    def loss(self, cols: np.ndarray, kz: int) -> float:
        return mutual_information(self.P) - mutual_information(
            _compress(self.P, self.rows, cols, self.k, kz)
        )


def _joint(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X / X.sum()


class SelfTaughtClustering(TransferClusterer):
    """Self-taught clustering (Dai et al., ICML 2008) of the target with the source as
    unlabelled auxiliary data.

    Parameters
    ----------
    n_clusters : int, optional
        Target clusters; ``None`` takes the pair's ``n_clusters``.
    n_source_clusters : int, optional
        Clusters of the auxiliary (source) data; ``None``: the same as the target's.
    n_feature_clusters : int, optional
        Clusters of the shared features; ``None``: ``min(n_features, 4 * n_clusters)``.
    trade_off : float, default 1.0
        ``lambda``, the weight of the auxiliary co-clustering in ``J``; ``0`` is
        information-theoretic co-clustering of the target alone.
    max_iter : int, default 30
        Rounds of the three updates; the loop stops earlier when no assignment changes.
    n_init : int, default 10
        K-means restarts of the initialisation.
    seed : int, default 0

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
        ``C_X``. A cluster can empty during the updates (as in the paper's algorithm),
        so fewer than ``n_clusters`` distinct labels are possible.
    source_labels_ : ndarray of shape (n_source,)
        ``C_Y``.
    feature_labels_ : ndarray of shape (n_features,)
        ``C_Z``.
    embedding_ : ndarray of shape (n_target, n_feature_clusters)
        ``p(Z~ | x)``: each target row's distribution over the feature clusters.
    history_ : list of dict
        Per round: ``iteration``, ``objective`` (``J``), ``target_loss``,
        ``source_loss`` and ``changed`` (assignments that moved); entry 0 is the
        initialisation (``initial: True``). ``objective`` never increases.
    n_iter_ : int
        Rounds run.
    """

    requires_non_negative = True

    uses_source = True

    def __init__(
        self,
        n_clusters=None,
        n_source_clusters=None,
        n_feature_clusters=None,
        trade_off=1.0,
        max_iter=30,
        n_init=10,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.n_source_clusters = n_source_clusters
        self.n_feature_clusters = n_feature_clusters
        self.trade_off = trade_off
        self.max_iter = max_iter
        self.n_init = n_init
        self.seed = seed

    def check_params(self) -> None:
        self._check_n_clusters()
        self._check_params()

    def _check_params(self) -> tuple[int | None, int | None]:
        """The data-free checks; returns the validated ``(n_source_clusters,
        n_feature_clusters)`` (``None`` where the data decides)."""
        name = type(self).__name__
        ks, kz = self.n_source_clusters, self.n_feature_clusters
        if ks is not None:
            ks = check_positive_int(ks, method=name, name="n_source_clusters")
        if kz is not None:
            kz = check_positive_int(kz, method=name, name="n_feature_clusters")
        check_number(self.trade_off, method=name, name="trade_off", low=0.0)
        check_positive_int(self.max_iter, method=name, name="max_iter", low=0)
        check_positive_int(self.n_init, method=name, name="n_init")
        check_seed(self.seed, method=name)
        return ks, kz

    def _check_data(self, pair) -> tuple[int, int, int]:
        """``(k, n_source_clusters, n_feature_clusters)`` resolved and checked against
        ``pair``, after the data-free checks."""
        name = type(self).__name__
        k = self._n_clusters(pair)
        ks, kz = self._check_params()
        ks = k if ks is None else ks
        if ks > pair.source.n_samples:
            raise ValueError(
                f"{name}: n_source_clusters={ks} but the source has {pair.source.n_samples} samples"
            )
        m = pair.target.n_features
        if m < 2:
            # p(Z | x) over one feature is 1 for every row: one cluster, with only
            # scikit-learn's "duplicate points" warning
            raise ValueError(
                f"{name}: the domains have {m} feature; expected at least 2 (a row's "
                "distribution over one feature is the same for every row)"
            )
        kz = min(m, 4 * k) if kz is None else kz
        if kz > m:
            raise ValueError(f"{name}: n_feature_clusters={kz} exceeds the {m} features")
        check_non_negative(pair.target.X, method=name, role="target")
        check_non_negative(pair.source.X, method=name, role="source")
        return k, ks, kz

    def _fit(self, pair):
        k, ks, kz = self._check_data(pair)
        lam = float(self.trade_off)
        tgt = _Side(_joint(pair.target.X), None, k)
        aux = _Side(_joint(pair.source.X), None, ks)
        # Initialisation: K-means of the rows' conditionals p(Z | x), q(Z | y); features by
        # how they spread over those row clusters, [p(X~ | z), lambda q(Y~ | z)]; then the
        # target rows again, by K-means of p(Z~ | x) (the noisy rows seen through the feature
        # clusters that the auxiliary data helped to find).
        tgt.rows = kmeans(tgt.cond, k, n_init=self.n_init, seed=self.seed)[0]
        aux.rows = kmeans(aux.cond, ks, n_init=self.n_init, seed=self.seed)[0]
        profile = np.hstack(
            [
                w * _safe_div(np.asarray(one_hot(s.rows, s.k).T @ s.P).T, s.pz[:, None])
                for w, s in ((1.0, tgt), (lam, aux))
            ]
        )
        cols = kmeans(profile, kz, n_init=self.n_init, seed=self.seed)[0]
        tgt.rows = kmeans(tgt.compressed_rows(cols, kz), k, n_init=self.n_init, seed=self.seed)[0]

        def record(it, changed):
            lt, ls = tgt.loss(cols, kz), aux.loss(cols, kz)
            self.history_.append(
                {
                    "iteration": it,
                    "objective": lt + lam * ls,
                    "target_loss": lt,
                    "source_loss": ls,
                    "changed": int(changed),
                    **({"initial": True} if it == 0 else {}),
                }
            )

        self.history_ = []
        record(0, 0)
        it = 0
        for it in range(1, self.max_iter + 1):
            changed = 0
            for side in (tgt, aux):
                new = _reassign(side.row_scores(cols, kz), side.rows)
                changed += int(np.sum(new != side.rows))
                side.rows = new
            scores = tgt.feature_scores(cols, kz) + lam * aux.feature_scores(cols, kz)
            new = _reassign(scores, cols)
            changed += int(np.sum(new != cols))
            cols = new
            record(it, changed)
            if changed == 0:
                break
        self.n_iter_ = it
        self.labels_ = tgt.rows.astype(np.int64)
        self.source_labels_ = aux.rows.astype(np.int64)
        self.feature_labels_ = cols.astype(np.int64)
        self.embedding_ = tgt.compressed_rows(cols, kz)
