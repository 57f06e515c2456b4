"""Clustering ensemble: a consensus partition of the target from several members
(different methods and seeds), through the co-association matrix.

Strehl & Ghosh, "Cluster ensembles -- a knowledge reuse framework for combining
multiple partitions", JMLR 2002. Every member partition ``r = 1..R`` of the ``n``
target samples is a binary indicator matrix ``H_r`` ``(n x k_r)``; with
``H = [H_1 ... H_R]`` the **co-association** matrix ``S = H H' / R`` holds in
``S[i, j]`` the fraction of members that put ``i`` and ``j`` together. The consensus is
a partition of the graph with weights ``S`` (the paper's CSPA), here by one of

``"average"``   average-linkage agglomerative clustering of the distance ``1 - S``
                (the evidence-accumulation consensus of Fred & Jain, TPAMI 2005). Samples
                that every member puts together (equal rows of ``H``) are at distance 0
                and merge first whatever the order, so the linkage starts from the ``m``
                distinct rows, weighted by their counts, and keeps each pair of clusters'
                summed disagreements as integers: the distance is one division of exact
                integers, so averages that are equal compare equal. Co-association
                distances are multiples of ``1/R`` and tie at every level; scipy's
                nn-chain linkage of ``1 - S`` rounds them apart and then returned an
                invalid tree (a cluster merged twice) on a 2,000-sample target of 3
                members. Its ``(m, m)`` arrays (``m <= n``) peak at about ``40 m^2``
                bytes (the disagreement counts and their temporaries; measured by
                ``scripts/baseline_costs.py``: 86 MiB at ``m = 1,500``, 0.94 GiB at
                5,000, the default ``max_dense``), so it is refused above ``max_dense``
                samples;
``"spectral"``  normalised spectral partition of ``S`` (Ng, Jordan & Weiss, NIPS 2001),
                where the paper uses METIS. ``S`` is never formed: the top eigenvectors
                of ``D^-1/2 S D^-1/2`` are the left singular vectors of ``D^-1/2 H``
                (``D = diag(S 1)``, computed as ``H (H' 1)``), so memory is
                ``O(n * sum_r k_r)`` and it scales to any ``n`` at a few clusters (its
                members need not: the ``spectral`` baseline's cost grows about as
                ``n^3`` past ~10,000 rows, see :mod:`baselines.spectral`); its
                dense SVD takes time ``O(n (sum_r k_r)^2)`` (15 members: about 10 s at
                ``n = 2,000`` and 100 clusters, 4x per doubling of ``k``); K-means
                (:func:`dtc.cluster.kmeans.kmeans`) of the unit-length rows gives the labels.
                ``S`` keeps its unit diagonal (each sample with itself), where Ng et al.
                set the affinity's diagonal to 0: ``S - I`` has no such factor ``H H'``
                (on 20 sets of 6 noisy members of 200 samples, the two partitions agreed
                to an ARI of 0.97 or more).

Members are registered method names (``dtc.methods.get``) or method instances; a
member with a ``seed`` parameter is fitted once per member seed, one without it once.
The member seeds follow the ensemble's ``seed`` (``n_member_seeds`` consecutive seeds
from ``seed * n_member_seeds``), so runs with different seeds fit different members, as
a spread over seeds needs; ``seeds`` fixes them instead. Members get the ensemble's ``n_clusters`` (when they have the parameter),
see the same pair and so may use the source; a member needing a labelled source
raises its own error without one, which the ensemble passes on naming the member.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import contextmanager

import numpy as np
from scipy import sparse
from sklearn.base import clone

from baselines._arrays import one_hot, unit_rows
from baselines._validation import SEED_MAX, check_choice, check_positive_int, check_seed
from dtc import methods
from dtc._warnings import warn
from dtc.cluster.kmeans import kmeans
from dtc.methods import TransferClusterer

__all__ = [
    "CONSENSUS",
    "ClusterEnsemble",
    "average_linkage",
    "co_association",
    "consensus",
    "indicator_matrix",
]

CONSENSUS = ("average", "spectral")


@contextmanager
def _naming_member(name: str, label: str):
    """Pass a member's ``ValueError`` on with the member named: its own message names its
    class and parameters (``n_neighbors`` of ``"spectral"``), which the ensemble's user
    may not have set."""
    try:
        yield
    except ValueError as err:
        raise ValueError(f"{name}: member {label}: {err}") from err


def _check_partitions(partitions) -> np.ndarray:
    P = np.asarray(partitions)
    if P.ndim != 2 or P.shape[0] < 1 or P.shape[1] < 1:
        raise ValueError(
            f"consensus: expected partitions of shape (n_members, n_samples), got shape {P.shape}"
        )
    if P.dtype.kind not in "iu" or P.min() < 0:
        raise ValueError("consensus: expected non-negative integer cluster labels")
    return P.astype(np.int64)


def indicator_matrix(partitions) -> sparse.csr_matrix:
    """``H = [H_1 ... H_R]`` of shape ``(n, sum_r k_r)``: one 0/1 column per cluster of
    every member (``partitions`` of shape ``(R, n)``)."""
    P = _check_partitions(partitions)
    blocks = []
    for labels in P:
        _, inv = np.unique(labels, return_inverse=True)
        blocks.append(one_hot(inv, int(inv.max()) + 1))
    return sparse.hstack(blocks, format="csr")


def co_association(partitions) -> np.ndarray:
    """Dense ``(n, n)`` co-association matrix ``S = H H' / R`` (``partitions``: ``(R, n)``)."""
    P = _check_partitions(partitions)
    H = indicator_matrix(P)
    return np.asarray((H @ H.T).toarray(), dtype=np.float64) / P.shape[0]


def consensus(partitions, n_clusters: int, *, method: str = "average", seed: int = 0) -> np.ndarray:
    """Consensus labels ``(n,)`` of ``partitions`` ``(R, n)`` into ``n_clusters`` groups
    (fewer, with a warning, when the members separate fewer groups of samples).

    ``method`` is ``"average"`` (average linkage on ``1 - S``) or ``"spectral"``
    (normalised spectral partition of ``S`` from the SVD of ``D^-1/2 H``); see the module
    docstring.
    """
    P = _check_partitions(partitions)
    n = P.shape[1]
    k = check_positive_int(n_clusters, method="consensus", name="n_clusters")
    method = check_choice(method, CONSENSUS, method="consensus", name="method")
    seed = check_seed(seed, method="consensus")
    if k > n:
        raise ValueError(f"consensus: n_clusters={k} exceeds the {n} samples")
    # Co-association ties at every level (multiples of 1/R) and the spectrum of S is
    # often degenerate, so both consensus steps break ties by the order of their input:
    # the members' cluster ids and the members' order, which are arbitrary. Renaming a
    # member's clusters or reordering the members changed the consensus partition.
    P = _canonical(P)
    rows, group, counts = np.unique(P.T, axis=0, return_inverse=True, return_counts=True)
    m = rows.shape[0]
    if m < k:
        # Both methods: spectral's K-means split samples that every member puts together
        # by the rounding of their (equal) SVD rows.
        warn(
            f"consensus: the members separate only {m} groups of samples, fewer than "
            f"n_clusters={k}; returning {m} clusters (no member tells how to split a group)",
        )
        k = m
    if method == "average":
        H = indicator_matrix(rows.T)
        disagree = P.shape[0] - np.rint((H @ H.T).toarray()).astype(np.int64)
        owner, _ = average_linkage(disagree * np.outer(counts, counts), counts, k)
        return np.unique(owner[group.reshape(-1)], return_inverse=True)[1].astype(np.int64)
    if method == "spectral":
        H = indicator_matrix(P)
        degree = np.asarray(H @ np.asarray(H.sum(axis=0)).ravel()).ravel()  # S 1 (times R)
        Hn = sparse.diags(1.0 / np.sqrt(degree)) @ H
        # Left singular vectors of D^-1/2 H = eigenvectors of D^-1/2 S D^-1/2.
        U, s, _ = np.linalg.svd(Hn.toarray(), full_matrices=False)
        # Only directions of S: rank(H) can fall below k (at most sum_r k_r - R + 1), and
        # the columns of singular value 0 are arbitrary null-space vectors, which differ
        # between samples of equal rows (K-means split samples every member puts together).
        top = np.argsort(s)[::-1][:k]
        top = top[s[top] > s.max() * max(Hn.shape) * np.finfo(np.float64).eps]
        # Rows shorter than 1e-12 are left short: no member evidence to scale up.
        U = unit_rows(U[:, top], floor=1e-12)
        return np.asarray(kmeans(U, k, n_init=10, seed=seed)[0], dtype=np.int64)


def _canonical(P: np.ndarray) -> np.ndarray:
    """``P`` ``(R, n)`` with every member's clusters renamed ``0, 1, ...`` in the order of
    their first sample and the members sorted (lexicographically): the same array for
    any renaming of each member's clusters and any order of the members."""
    out = np.empty_like(P)
    for r, labels in enumerate(P):
        _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
        rank = np.empty(first.size, dtype=np.int64)
        rank[np.argsort(first)] = np.arange(first.size)
        out[r] = rank[inv.reshape(-1)]
    return out[np.lexsort(out.T[::-1])]


def average_linkage(totals, sizes, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Average-linkage (UPGMA) merges of ``m`` weighted groups down to ``n_clusters``.

    ``totals`` ``(m, m)``: non-negative integers, ``totals[a, b]`` the sum of the
    dissimilarities between the samples of group ``a`` and those of group ``b``;
    ``sizes`` ``(m,)``: samples per group. The distance of clusters ``A`` and ``B`` is
    ``totals[A, B] / (|A| |B|)`` (UPGMA: Sokal & Michener, Univ. Kansas Sci. Bull. 1958),
    merged totals are summed as integers and every step merges a closest pair (the same
    one among ties on every run), so the result does not depend on rounding. Each group keeps a nearest neighbour; a merge
    of ``a`` and ``b`` only moves the neighbours of ``a``, ``b`` and the merged cluster,
    since an average distance is never below the smaller of the two it averages.

    Returns ``owner`` ``(m,)``, the lowest group index of each group's cluster, and
    ``merges`` ``(m - n_clusters, 2)``, the pairs of clusters (by lowest group index)
    in the order they merged.
    """
    # checked, not cast: int64 truncated 1.9 to 1 (a silent other tree) and kept negatives
    totals, sizes = np.asarray(totals), np.asarray(sizes)
    for name, a, low in (("totals", totals, 0), ("sizes", sizes, 1)):
        if a.dtype.kind not in "iu" and not (
            a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all()
        ):
            raise ValueError(f"average_linkage: {name} must hold integers, got dtype {a.dtype}")
        if a.size and a.min() < low:
            raise ValueError(f"average_linkage: {name} must be >= {low}, got {a.min()}")
    totals, sizes = totals.astype(np.int64), sizes.astype(np.int64)
    if sizes.ndim != 1:
        raise ValueError(f"average_linkage: sizes must have shape (m,), got {sizes.shape}")
    m = sizes.shape[0]
    if totals.shape != (m, m):
        raise ValueError(f"average_linkage: totals must have shape ({m}, {m}), got {totals.shape}")
    if not np.array_equal(totals, totals.T):
        raise ValueError("average_linkage: totals must be symmetric (totals[a, b] == totals[b, a])")
    if not 1 <= n_clusters <= m:
        raise ValueError(f"average_linkage: n_clusters must be in 1..{m}, got {n_clusters}")
    active = np.ones(m, dtype=bool)
    owner = np.arange(m)

    def nearest(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = totals[rows] / np.outer(sizes[rows], sizes)
        d[:, ~active] = np.inf
        d[np.arange(rows.size), rows] = np.inf
        j = d.argmin(axis=1)
        return j, d[np.arange(rows.size), j]

    nn, nd = nearest(np.arange(m))
    merges = np.empty((m - n_clusters, 2), dtype=np.int64)
    for step in range(m - n_clusters):
        a = int(np.argmin(nd))
        a, b = sorted((a, int(nn[a])))
        merges[step] = a, b
        totals[a] += totals[b]
        totals[:, a] += totals[:, b]
        sizes[a] += sizes[b]
        active[b], nd[b] = False, np.inf
        owner[owner == b] = a
        d = totals[a] / (sizes[a] * sizes)
        d[~active] = np.inf
        d[a] = np.inf
        # Average linkage is reducible (the merged group's mean distance to k is between
        # a's and b's, neither below k's nearest), so this can only catch float rounding
        closer = d < nd
        nn[closer], nd[closer] = a, d[closer]
        stale = np.flatnonzero(active & ((nn == a) | (nn == b) | (np.arange(m) == a)))
        nn[stale], nd[stale] = nearest(stale)
    return owner, merges


def _is_sequence(value) -> bool:
    """Whether ``value`` can be a list of members or seeds: a collection, not any iterable
    (a generator was used up by the first fit, or by check_params, and the estimator then
    refused its own parameter), nor text or a 0-d array (``list()`` of it a TypeError)."""
    return (
        isinstance(value, Collection)
        and not isinstance(value, str)
        and getattr(value, "ndim", 1) != 0
    )


class ClusterEnsemble(TransferClusterer):
    """Consensus clustering (cluster ensembles: Strehl & Ghosh, JMLR 2002; co-association:
    Fred & Jain, TPAMI 2005) of the target over several members and seeds.

    Parameters
    ----------
    n_clusters : int, optional
        Clusters of the consensus (and of the members); ``None`` takes the pair's.
    members : sequence of str or TransferClusterer, default ("kmeans", "gmm", "spectral")
        Registered method names or method instances (cloned, never modified).
    seeds : sequence of int, optional
        Seeds of the members that have a ``seed`` parameter. ``None`` (default): the
        ``n_member_seeds`` seeds ``seed * n_member_seeds, ..., seed * n_member_seeds +
        n_member_seeds - 1`` (0 to 4 at ``seed=0``), so that every run seed fits its own
        members.
    n_member_seeds : int, default 5
        How many seeds each seeded member gets when ``seeds`` is None.
    consensus : {"average", "spectral"}, default "average"
    max_dense : int, default 5000
        Largest target for ``consensus="average"`` (its arrays over the distinct rows
        of ``H`` peak at about ``40 n^2`` bytes: about 1 GB at 5,000); use
        ``"spectral"`` above it.
    seed : int, default 0
        Seed of the run: of the members (unless ``seeds`` is given) and of the
        consensus step.

    Attributes
    ----------
    labels_ : ndarray of shape (n_target,)
    member_labels_ : ndarray of shape (n_members, n_target)
        The members' partitions, one row per fitted member.
    member_names_ : list of str
        ``"name[seed=s]"`` for every row of ``member_labels_`` (``"name"`` for a member
        without a ``seed`` parameter, fitted once).
    """

    uses_source = True  # members may use it
    # each member checks the pair itself, named by _naming_member: K-means, GMM and
    # spectral clustering (the default members) read the target alone, and a heterogeneous
    # pair was refused as if they needed one feature space
    accepts_heterogeneous = True

    def __init__(
        self,
        n_clusters=None,
        members=("kmeans", "gmm", "spectral"),
        seeds=None,
        n_member_seeds=5,
        consensus="average",
        max_dense=5000,
        seed=0,
    ):
        self.n_clusters = n_clusters
        self.members = members
        self.seeds = seeds
        self.n_member_seeds = n_member_seeds
        self.consensus = consensus
        self.max_dense = max_dense
        self.seed = seed

    def _member_seeds(self, seed: int) -> list[int]:
        name = type(self).__name__
        if self.seeds is None:
            m = check_positive_int(self.n_member_seeds, method=name, name="n_member_seeds")
            if seed * m + m - 1 > SEED_MAX:
                raise ValueError(
                    f"{name}: seed={seed} with n_member_seeds={m} gives member seeds up to "
                    f"{seed * m + m - 1}, above 2**32 - 1; use a seed <= {(SEED_MAX + 1) // m - 1} "
                    "or give the member seeds with seeds="
                )
            return list(range(seed * m, seed * m + m))
        iterable = _is_sequence(self.seeds)
        seeds = list(self.seeds) if iterable else []
        if not seeds:
            raise ValueError(
                f"{name}: seeds must be a non-empty sequence of ints, got {self.seeds!r}"
            )
        return [check_seed(s, method=name, name="every entry of seeds") for s in seeds]

    def _member_estimators(self, k: int, seeds: list[int]):
        name = type(self).__name__
        # as for seeds: a number (members=3) is no sequence, and len() of it a TypeError
        iterable = _is_sequence(self.members)
        members = list(self.members) if iterable else []
        if not members:
            raise ValueError(
                f"{name}: members must be a non-empty sequence of method names or instances, "
                f"got {self.members!r}"
            )
        for member in members:
            if isinstance(member, str):
                if member == "ensemble":
                    raise ValueError(f"{name}: an ensemble cannot be its own member")
                try:
                    base = methods.get(member)
                except ValueError as err:
                    # the registry's words named neither the ensemble nor its parameter
                    raise ValueError(f"{name}: members: {err}") from err
                label = member
            elif isinstance(member, TransferClusterer):
                base, label = clone(member), type(member).__name__
            else:
                raise ValueError(
                    f"{name}: a member must be a method name or a TransferClusterer, got {member!r}"
                )
            params = base.get_params()
            if "n_clusters" in params:
                base.set_params(n_clusters=k)
            if "seed" in params:
                for s in seeds:
                    yield f"{label}[seed={int(s)}]", clone(base).set_params(seed=int(s))
            else:
                yield label, base

    def check_params(self) -> None:
        """The ensemble's own data-free checks, then each member's (``check_params`` of
        every member estimator the fit would build, seeds set)."""
        self._check_n_clusters()
        _, _, seeds = self._check_params()
        for label, est in self._member_estimators(self.n_clusters, seeds):
            with _naming_member(type(self).__name__, label):
                est.check_params()

    def _check_params(self) -> tuple[int, int, list[int]]:
        """Validated ``(seed, max_dense, member seeds)``."""
        name = type(self).__name__
        check_choice(self.consensus, CONSENSUS, method=name, name="consensus")
        seed = check_seed(self.seed, method=name)
        max_dense = check_positive_int(self.max_dense, method=name, name="max_dense")
        return seed, max_dense, self._member_seeds(seed)

    def _fit(self, pair):
        name = type(self).__name__
        k = self._n_clusters(pair)
        seed, max_dense, seeds = self._check_params()
        n = pair.target.n_samples
        if self.consensus == "average" and n > max_dense:
            raise ValueError(
                f"{name}: consensus='average' needs the dense (up to {n} x {n}) co-association matrix "
                f"(more than max_dense={max_dense} samples); use consensus='spectral', which "
                "never forms it"
            )
        names, partitions = [], []
        for label, est in self._member_estimators(k, seeds):
            names.append(label)
            with _naming_member(name, label):
                est.fit(pair)
            partitions.append(np.asarray(est.labels_, dtype=np.int64))
        self.member_names_ = names
        self.member_labels_ = np.stack(partitions)
        self.labels_ = consensus(self.member_labels_, k, method=self.consensus, seed=seed)
