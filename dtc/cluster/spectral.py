"""Spectral clustering on a sparse k-nearest-neighbour graph; never an ``n x n`` dense matrix.

Steps (Ng, Jordan & Weiss, "On Spectral Clustering: Analysis and an algorithm", NIPS 2001):

1. **kNN graph** (:func:`knn_graph`): exact (scikit-learn ``NearestNeighbors``) up to
   :data:`EXACT_KNN_MAX` samples; above, an inverted-file search (points bucketed by a
   coarse K-means into ``~sqrt(n)`` cells, each point compared with the points of its
   ``n_probe`` nearest cells only, as faiss' IVF-Flat does). It is approximate, but what
   spectral clustering needs from it is that neighbours come from the same cluster,
   which the cells preserve; it is ``~sqrt(n) / n_probe`` times cheaper than brute force.
2. **Affinity** (:func:`affinity_matrix`), symmetrised with ``max(W, W^T)`` (an edge
   exists when either end lists the other). Default ``"self-tuning"``: Gaussian weights
   with local scaling, ``w_ij = exp(-d_ij^2 / (sigma_i sigma_j))``, ``sigma_i`` the
   distance of ``i`` to its 7th neighbour (Zelnik-Manor & Perona, "Self-Tuning Spectral
   Clustering", NIPS 2004): no global bandwidth to tune, and it adapts to clusters of
   different densities (a point with 7 or more exact copies, whose 7th neighbour is at
   distance 0, takes its farthest neighbour's distance instead). ``"connectivity"``
   gives 0/1 weights (as scikit-learn's ``affinity="nearest_neighbors"``, which averages
   ``(G + G^T) / 2`` instead, so that one-way edges weigh 1/2, and keeps each point as its
   own neighbour, a diagonal of 1).
3. **Embedding** (:func:`spectral_embedding`): the top eigenvectors of the normalised
   adjacency ``D^-1/2 W D^-1/2`` (the bottom ones of the normalised Laplacian), per
   connected component (so an eigenvalue 1 of multiplicity > 1 is never asked of a
   Krylov solver): ARPACK ``eigsh(which="LA")`` with a seeded start vector, dense
   ``eigh`` for components of at most :data:`DENSE_EIGEN_MAX` nodes.
4. Rows normalised to unit length (NJW) and clustered by K-means.

Disconnected graphs: components smaller than ``min_component_size`` (by default a
tenth of the average cluster size; isolated points always) would each take an
eigenvector of eigenvalue 1 and hence a cluster of their own. They are left out of the
eigen-problem and their points take the label of their nearest retained point. If more
large components remain than clusters are asked for, no good cut crosses a component,
so whole components are grouped: K-means on their size-weighted means (with a warning).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans as _SkKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors

from dtc._validation import (
    check_bool,
    check_features,
    check_number,
    float_array,
    host_array,
    pow2_exponent,
)
from dtc._warnings import warn
from dtc.cluster.kmeans import (
    check_int,
    check_n_clusters,
    check_seed,
    kmeans,
    limit_threads,
)

__all__ = [
    "AFFINITIES",
    "DENSE_EIGEN_MAX",
    "EXACT_KNN_MAX",
    "KNN_NEIGHBOURS",
    "affinity_matrix",
    "eigengap",
    "knn_graph",
    "normalized_adjacency",
    "spectral_clustering",
    "spectral_embedding",
]

#: Neighbours per point of the kNN graphs (spectral clustering, label spreading) by default.
KNN_NEIGHBOURS = 10

#: ``knn="auto"`` is exact up to this many samples, inverted-file search above.
EXACT_KNN_MAX = 20_000
#: Components up to this size are eigen-decomposed densely.
DENSE_EIGEN_MAX = 1_000
AFFINITIES = ("self-tuning", "connectivity")
#: Zelnik-Manor & Perona's local scale is the distance to the 7th neighbour.
_LOCAL_SCALE_NEIGHBOUR = 7
_KNN_METHODS = ("auto", "exact", "ivf")
# Rows of the (queries x candidates) distance block computed at once in the IVF search.
_BLOCK = 4096


# -- 1. kNN ---------------------------------------------------------------
def knn_graph(
    X, n_neighbors: int = KNN_NEIGHBOURS, *, method: str = "auto", n_probe: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_neighbors`` nearest neighbours of every row of ``X`` (itself excluded).

    Parameters
    ----------
    X : array of shape (n, d)
    n_neighbors : int, 1 <= n_neighbors < n
    method : "auto", "exact" or "ivf"
        See the module docstring; ``"auto"`` is exact up to :data:`EXACT_KNN_MAX` rows.
    n_probe : int
        Cells searched per point by ``"ivf"`` (more: slower, closer to exact).
    seed : int
        Seed of the coarse K-means of ``"ivf"``.

    Returns
    -------
    distances : float32 array of shape (n, n_neighbors), ascending along each row
    indices : int64 array of shape (n, n_neighbors)
    """
    X = check_features(X, name="X", min_samples=2)
    n = X.shape[0]
    k = check_int(n_neighbors, "n_neighbors")
    if k >= n:
        raise ValueError(f"n_neighbors={k}: expected fewer neighbours than samples (n={n})")
    check_knn_method(method, "method")
    n_probe = check_int(n_probe, "n_probe")
    seed = check_seed(seed)
    if method == "exact" or (method == "auto" and n <= EXACT_KNN_MAX):
        return _knn_exact(X, k)
    return _knn_ivf(X, k, n_probe, seed)


def check_knn_method(value, name: str = "knn") -> str:
    """``value`` as one of :data:`_KNN_METHODS`, else ``ValueError`` naming ``name``."""
    if value not in _KNN_METHODS:
        raise ValueError(f"{name}: expected one of {_KNN_METHODS}, got {value!r}")
    return value


def _knn_exact(X, k):
    # Scaled by a power of two as the IVF search and kmeans are: float32 distances of
    # features ~1e-25 underflow to 0 (the self-tuning affinity silently turned into
    # connectivity) and of features ~1e20 overflow (an error about `distances`).
    e = pow2_exponent(X)
    dist, idx = NearestNeighbors(n_neighbors=k).fit(np.ldexp(X, e) if e else X).kneighbors()
    dist = dist.astype(np.float32)
    return (np.ldexp(dist, -e) if e else dist), idx.astype(np.int64)


def _sq_dist(A, sqA, B, sqB):
    return np.maximum(sqA[:, None] - 2.0 * (A @ B.T) + sqB[None, :], 0.0)


def _smallest(D, k):
    """Column indices of the ``k`` smallest entries of each row of ``D``, ascending."""
    part = (
        np.argpartition(D, k - 1, axis=1)[:, :k]
        if k < D.shape[1]
        else np.tile(np.arange(D.shape[1]), (D.shape[0], 1))
    )
    vals = np.take_along_axis(D, part, axis=1)
    order = np.argsort(vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _knn_ivf(X, k, n_probe, seed):
    # Distances here are expanded, |a|^2 - 2 a.b + |b|^2, in float32: centred, since the
    # expansion loses to cancellation what an offset adds to the norms (features ~1000 +
    # N(0, 1): recall 0.64 with every cell probed), and scaled by a power of two as in
    # kmeans (features ~1e-35 underflow to distance 0, ~1e20 overflow; the scaling is
    # exact, the centring rounds a value by at most half its float32 ulp). The distances
    # are scaled back on return.
    X = X - X.mean(axis=0, dtype=np.float64).astype(np.float32)
    e = pow2_exponent(X)
    if e:
        X = np.ldexp(X, e)
    dist, idx = _knn_ivf_centred(X, k, n_probe, seed)
    return (np.ldexp(dist, -e) if e else dist), idx


#: Distances per block of one IVF cell's queries (x its members): 16 MB of float32.
_CELL_BLOCK = 1 << 22


def _knn_ivf_centred(X, k, n_probe, seed):
    n = X.shape[0]
    n_cells = max(1, round(math.sqrt(n)))
    n_probe = min(n_probe, n_cells)
    rng = np.random.default_rng(seed)
    train = X[np.sort(rng.choice(n, min(n, 32 * n_cells), replace=False))]
    with warnings.catch_warnings():
        # the search's own cells (about sqrt(n)), not the user's clusters: scikit-learn's
        # "fewer distinct clusters than n_clusters (20)" on duplicated rows named a k the
        # user never asked for; cells left empty are handled below
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, cent, _ = kmeans(train, n_cells, init="random", n_init=1, max_iter=20, seed=seed)
    sq = np.einsum("ij,ij->i", X, X)
    sqc = np.einsum("ij,ij->i", cent, cent)
    # The n_probe nearest cells of every point; the first is the cell it belongs to.
    probe = np.empty((n, n_probe), dtype=np.int64)
    for s in range(0, n, _BLOCK):
        probe[s : s + _BLOCK] = _smallest(
            _sq_dist(X[s : s + _BLOCK], sq[s : s + _BLOCK], cent, sqc), n_probe
        )[0]
    # Inverted lists: the members of each cell, and the (query, slot) pairs probing it.
    members_order = np.argsort(probe[:, 0], kind="stable")
    member_starts = np.searchsorted(probe[:, 0][members_order], np.arange(n_cells + 1))
    pos_in_cell = np.empty(n, dtype=np.int64)
    pos_in_cell[members_order] = np.arange(n) - member_starts[probe[members_order, 0]]
    flat = probe.ravel()
    query_order = np.argsort(flat, kind="stable")
    query_starts = np.searchsorted(flat[query_order], np.arange(n_cells + 1))
    cand_d = np.full((n, n_probe * k), np.inf, dtype=np.float32)
    cand_i = np.zeros((n, n_probe * k), dtype=np.int64)
    for c in range(n_cells):
        members = members_order[member_starts[c] : member_starts[c + 1]]
        pairs = query_order[query_starts[c] : query_starts[c + 1]]
        if members.size == 0 or pairs.size == 0:
            continue
        kk = min(k, members.size)
        # In blocks of queries: a cell is not bounded by sqrt(n) when rows repeat (K-means
        # cannot split copies), and 16,000 copies made one 16,000 x 16,000 block (1.9 GB).
        step = max(1, _CELL_BLOCK // members.size)
        for s in range(0, pairs.size, step):
            block = pairs[s : s + step]
            queries, slots = block // n_probe, block % n_probe
            D = _sq_dist(X[queries], sq[queries], X[members], sq[members])
            own = slots == 0  # these queries live in cell c: exclude the point itself
            D[np.flatnonzero(own), pos_in_cell[queries[own]]] = np.inf
            col, val = _smallest(D, kk)
            cols = slots[:, None] * k + np.arange(kk)[None, :]
            cand_d[queries[:, None], cols] = val
            cand_i[queries[:, None], cols] = members[col]
    col, val = _smallest(cand_d, k)
    idx = np.take_along_axis(cand_i, col, axis=1)
    # Rows whose probed cells held fewer than k other points still have inf slots (whose
    # index is a placeholder, possibly the point itself): search those rows exactly.
    short = np.flatnonzero(np.isinf(val).any(axis=1))
    block = max(1, (1 << 24) // n)  # rows per (rows x n) distance block
    for s in range(0, short.size, block):
        rows = short[s : s + block]
        D = _sq_dist(X[rows], sq[rows], X, sq)
        D[np.arange(rows.size), rows] = np.inf  # never itself
        idx[rows], val[rows] = _smallest(D, k)
    # The chosen neighbours' distances computed directly, and re-sorted: the expansion
    # |a|^2 - 2 a.b + |b|^2 left exact copies at about sqrt(eps) |x| instead of 0, so the
    # many-copies rule of _local_scales never saw them on this path. O(n k d), in blocks.
    rows_per_block = max(1, (1 << 22) // (k * X.shape[1]))
    for s in range(0, n, rows_per_block):
        r = slice(s, s + rows_per_block)
        diff = X[r, None, :] - X[idx[r]]
        d2 = np.einsum("ijk,ijk->ij", diff, diff)
        order = np.argsort(d2, axis=1, kind="stable")
        val[r] = np.take_along_axis(d2, order, axis=1)
        idx[r] = np.take_along_axis(idx[r], order, axis=1)
    return np.sqrt(val).astype(np.float32), idx


# -- 2. affinity ----------------------------------------------------------
def affinity_matrix(distances, indices, *, affinity: str = "self-tuning") -> sp.csr_matrix:
    """Symmetric sparse affinity from a kNN graph.

    Parameters
    ----------
    distances, indices : arrays of shape (n, k), as returned by :func:`knn_graph`
    affinity : "self-tuning" or "connectivity" (see the module docstring)

    Returns
    -------
    W : float64 CSR matrix of shape (n, n), symmetric, zero diagonal, ``<= 2 n k`` entries;
        an edge lighter than ``eps`` (float64) times both its ends' degrees is left out
    """
    # host_array: a tensor that requires grad was torch's error, naming neither
    dist = float_array(distances, "affinity_matrix", "distances")
    idx = np.asarray(host_array(indices, "affinity_matrix: indices"))
    if dist.ndim != 2 or dist.shape != idx.shape:
        raise ValueError(
            f"distances, indices: expected two arrays of the same shape (n, k), got "
            f"{dist.shape} and {idx.shape}"
        )
    if affinity not in AFFINITIES:
        raise ValueError(f"affinity: expected one of {AFFINITIES}, got {affinity!r}")
    n, k = dist.shape
    if k < 1:
        # the local scales read the last neighbour: an IndexError, or (connectivity) an
        # empty graph
        raise ValueError(
            f"distances, indices: expected at least one neighbour per row, got shape {dist.shape}"
        )
    if not (np.isfinite(dist).all() and (dist >= 0).all()):
        raise ValueError("distances: expected finite non-negative values, found NaN, Inf or < 0")
    if idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= n):
        raise ValueError(
            f"indices: expected integer row indices in [0, {n}) (n = rows of distances), got "
            f"dtype {idx.dtype}"
            + (f", range [{idx.min()}, {idx.max()}]" if idx.dtype.kind in "iuf" else "")
        )
    if affinity == "connectivity":
        weights = np.ones_like(dist)
    else:
        sigma = _local_scales(dist)
        weights = np.exp(-(dist**2) / (sigma[:, None] * sigma[idx]))
    W = sp.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.setdiag(0.0)
    W.eliminate_zeros()
    return _drop_negligible_edges(W)


def _drop_negligible_edges(W: sp.csr_matrix) -> sp.csr_matrix:
    # An edge below float64's resolution of both its ends' degrees changes no degree and
    # no eigenvalue, yet it joins two components into one: a far pair of outliers (weights
    # ~1e-84) made one "component" of two blobs and itself, whose eigenvalue 1 came back
    # three times, and eigh's "leading" vector of that space lay on the outliers alone
    # (zero rows for a whole blob). Every node keeps its heaviest edge (at least its degree
    # over its number of edges, which symmetrisation can take past 2k: far above eps times
    # its degree all the same), so no node is isolated by this.
    deg = np.asarray(W.sum(axis=1)).ravel()
    rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    W.data[W.data < np.finfo(np.float64).eps * np.minimum(deg[rows], deg[W.indices])] = 0.0
    W.eliminate_zeros()
    return W


def _local_scales(dist: np.ndarray) -> np.ndarray:
    """Zelnik-Manor & Perona's local scale ``(n,)`` of every point from its ascending
    neighbour distances ``(n, k)``: the distance to its 7th neighbour (its ``k``-th when
    ``k < 7``, on targets of 7 rows or fewer), kept wherever it is positive.

    A point with at least 7 exact copies has scale 0. A floor near 0 would make its
    weights to every other point underflow to 0, so its copies would split off as a
    component of their own and could take a whole cluster. Such a point gets instead the
    distance to the farthest of its ``k`` neighbours (the nearest stand-in for its 7th
    *distinct* neighbour), and a point whose ``k`` neighbours are all copies the median
    positive scale of the graph (or 1 when no distance is positive: all weights are then
    ``exp(0)`` whatever the scale).
    """
    sigma = dist[:, min(_LOCAL_SCALE_NEIGHBOUR, dist.shape[1]) - 1]
    sigma = np.where(sigma > 0, sigma, dist[:, -1])
    positive = sigma[sigma > 0]
    return np.where(sigma > 0, sigma, np.median(positive) if positive.size else 1.0)


# -- 3. embedding ---------------------------------------------------------
def normalized_adjacency(W, *, allow_isolated: bool = False) -> sp.csr_matrix:
    """``D^-1/2 W D^-1/2`` of a sparse symmetric non-negative ``W`` of shape ``(n, n)``.

    Every degree must be positive, unless ``allow_isolated``: then an isolated node
    (degree 0) keeps an empty row and column (what label spreading needs; the spectral
    embedding never sees isolated nodes, :func:`spectral_clustering` sets them aside).
    """
    W = sp.csr_matrix(W, dtype=np.float64)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix of shape (n, n), got {W.shape}")
    if not (np.isfinite(W.data).all() and (W.data >= 0).all()):
        raise ValueError("W: expected finite non-negative weights, found NaN, Inf or < 0")
    deg = np.asarray(W.sum(axis=1)).ravel()
    isolated = deg <= 0
    allow = check_bool(allow_isolated, method="normalized_adjacency", name="allow_isolated")
    if isolated.any() and not allow:
        raise ValueError(f"W: expected positive degrees, {int(isolated.sum())} node(s) isolated")
    s = sp.diags(1.0 / np.sqrt(np.where(isolated, 1.0, deg)))
    return (s @ W @ s).tocsr()


def _top_eigenpairs(M, m, rng, tol):
    """The ``m`` largest eigenpairs of a symmetric sparse ``M`` (descending)."""
    size = M.shape[0]
    if size <= DENSE_EIGEN_MAX or m >= size - 1:
        # Small dense problems: one thread (BLAS workers only add overhead here).
        with limit_threads(True):
            dense = M.toarray()
            try:
                vals, vecs = eigh(dense, subset_by_index=[size - m, size - 1])
            except np.linalg.LinAlgError:
                vals = vecs = None
            if vals is None or vals.size != m:
                # LAPACK's subset solver (?syevr) can return fewer pairs than asked, or fail
                # ("Internal Error."), on tightly clustered eigenvalues (scipy issue
                # #13913): a complete graph of 21 nodes gave none and an all-zero
                # embedding. The full divide-and-conquer solve then, and its top m.
                vals, vecs = eigh(dense, driver="evd")
                vals, vecs = vals[size - m :], vecs[:, size - m :]
        vals, vecs = vals[::-1], vecs[:, ::-1]
    else:
        v0 = rng.uniform(-1.0, 1.0, size)
        vals, vecs = eigsh(M, k=m, which="LA", v0=v0, tol=tol, ncv=max(2 * m + 1, 20))
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
    return vals, vecs


def spectral_embedding(
    W, n_components: int, *, seed: int = 0, tol: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Top eigenvectors of the normalised adjacency of ``W``, computed per connected component.

    Parameters
    ----------
    W : sparse symmetric matrix of shape (n, n), non-negative, positive degrees
    n_components : int <= n
    seed : int, seed of the ARPACK start vectors
    tol : float, ARPACK's relative tolerance

    Returns
    -------
    embedding : float64 array of shape (n, n_components); column ``j`` is the eigenvector
        of ``eigenvalues[j]``, supported on one component. When there are at most
        ``n_components`` components, each one's leading eigenvector (eigenvalue 1) is
        included, so that no row is zero.
    eigenvalues : float64 array of shape (n_components,), descending
    """
    W = sp.csr_matrix(W)
    n = W.shape[0]
    m = check_n_clusters(n_components, n, "n_components")
    # ARPACK's: "x" failed as a SystemError, NaN ran 30,001 iterations, 10 gave wrong vectors
    tol = check_number(tol, "spectral_embedding: tol", low=0.0, high=1.0)
    rng = np.random.default_rng(check_seed(seed))
    M = normalized_adjacency(W)
    n_comp, comp = connected_components(M, directed=False)
    candidates = []  # (eigenvalue, is_leading, component nodes, vector)
    for c in range(n_comp):
        nodes = np.flatnonzero(comp == c)
        if nodes.size == 1:
            candidates.append((1.0, True, nodes, np.ones(1)))
            continue
        vals, vecs = _top_eigenpairs(M[nodes][:, nodes], min(m, nodes.size), rng, tol)
        candidates += [(v, j == 0, nodes, vecs[:, j]) for j, v in enumerate(vals)]
    # Leading vectors first (up to m of them), then the rest by eigenvalue.
    candidates.sort(key=lambda t: (not t[1], -t[0]))
    chosen = sorted(candidates[:m], key=lambda t: -t[0])
    emb = np.zeros((n, m))
    for j, (_, _, nodes, vec) in enumerate(chosen):
        emb[nodes, j] = vec
    return emb, np.array([t[0] for t in chosen], dtype=np.float64)


def eigengap(eigenvalues, *, k_max: int | None = None) -> int:
    """Number of clusters suggested by the largest gap in a spectrum.

    Parameters
    ----------
    eigenvalues : array of shape (m,), the top eigenvalues of a normalised adjacency
        in descending order (``1 - `` the bottom ones of the normalised Laplacian)
    k_max : int, optional, largest k considered (``m - 1`` by default)

    Returns
    -------
    k : int, ``argmax_k (lambda_k - lambda_{k+1})`` with 1-based ``k`` in ``[1, k_max]``
    """
    vals = float_array(eigenvalues, "eigengap", "eigenvalues")
    if vals.ndim != 1 or vals.size < 2:
        raise ValueError(
            f"eigenvalues: expected a 1-d array of at least 2 values, got {vals.shape}"
        )
    if not np.isfinite(vals).all():
        raise ValueError("eigenvalues: expected finite values, found NaN or Inf")
    if np.any(np.diff(vals) > 1e-8 * max(1.0, np.abs(vals).max())):
        raise ValueError("eigenvalues: expected them in descending order")
    k_max = vals.size - 1 if k_max is None else check_int(k_max, "k_max")
    if k_max > vals.size - 1:
        raise ValueError(f"k_max={k_max}: needs at least k_max + 1 = {k_max + 1} eigenvalues")
    gaps = vals[:k_max] - vals[1 : k_max + 1]
    return int(np.argmax(gaps)) + 1


# -- 4. the whole thing -----------------------------------------------------
def _retained_mask(W, n_clusters, min_component_size):
    """Which nodes lie in components of at least ``min_component_size`` nodes."""
    _, comp = connected_components(W, directed=False)
    sizes = np.bincount(comp)
    if min_component_size is None:
        min_component_size = math.ceil(0.1 * W.shape[0] / n_clusters)
    keep = sizes[comp] >= max(2, min_component_size)
    if not keep.any():  # all components are small: keep them all but isolated points
        keep = sizes[comp] >= 2
    return keep


def _n_distinct_rows(X: np.ndarray) -> int:
    """Number of distinct rows of ``X`` ``(n, d)``, bitwise (each row one opaque value:
    one sort of ``n`` keys). ``-0.0`` and ``0.0`` count apart, so a count can only be too
    high: a warning on it may be missed, never given wrongly."""
    rows = np.ascontiguousarray(X)
    return int(np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))).size)


def spectral_clustering(
    X,
    n_clusters: int,
    *,
    n_neighbors: int = KNN_NEIGHBOURS,
    affinity: str = "self-tuning",
    knn: str = "auto",
    min_component_size: int | None = None,
    n_init: int = 10,
    seed: int = 0,
    return_embedding: bool = False,
):
    """Spectral clustering of ``X`` on its sparse kNN graph (see the module docstring).

    Parameters
    ----------
    X : array of shape (n, d)
    n_clusters : int, 1 <= n_clusters <= n
    n_neighbors : int, neighbours per point of the kNN graph
    affinity : "self-tuning" (default) or "connectivity"
    knn : "auto", "exact" or "ivf", see :func:`knn_graph`
    min_component_size : int, optional
        Components with fewer nodes (and isolated points, whatever the value) are
        labelled by their nearest retained point instead of taking an eigenvector;
        default ``ceil(0.1 n / n_clusters)``.
    n_init : int, K-means restarts on the embedding
    seed : int
    return_embedding : bool
        Also return the row-normalised embedding of the retained points and their
        indices.

    Returns
    -------
    labels : int64 array of shape (n,)
    embedding : array of shape (n_retained, n_clusters), only with ``return_embedding``;
        None where no eigenvectors were taken: ``n_clusters=1``, or a graph of more large
        components than clusters (grouped by their means, with a warning)
    retained : int64 array of shape (n_retained,), only with ``return_embedding``
    """
    X = check_features(X, name="X", min_samples=2)
    n = X.shape[0]
    k = check_n_clusters(n_clusters, n)
    seed = check_seed(seed)
    distinct = _n_distinct_rows(X)
    if distinct < k:
        # The graph cannot tell copies apart, so they are split by their order: say so, as
        # K-means does ("Number of distinct clusters ... smaller than n_clusters").
        warn(
            f"X has {distinct} distinct rows for n_clusters={k}: identical points are split "
            "between clusters arbitrarily",
            RuntimeWarning,
        )
    if min_component_size is not None:
        check_int(min_component_size, "min_component_size")
    dist, idx = knn_graph(X, n_neighbors, method=check_knn_method(knn), seed=seed)
    W = affinity_matrix(dist, idx, affinity=affinity)
    keep = _retained_mask(W, k, min_component_size)
    retained = np.flatnonzero(keep)
    if retained.size < k:
        # Else spectral_embedding refused "n_components", an argument nobody passed.
        raise ValueError(
            f"n_clusters={k}: only {retained.size} of the {n} points lie in connected "
            f"components of the {n_neighbors}-NN graph that are kept (the others are isolated "
            "or in components below min_component_size); expected at most that many clusters "
            "(affinity='connectivity' or a smaller min_component_size keeps more)"
        )
    Wk = W[retained][:, retained]
    n_comp, comp = connected_components(Wk, directed=False)
    labels = np.full(n, -1, dtype=np.int64)
    emb = None
    if k == 1:
        labels[retained] = 0
    elif n_comp > k:
        warn(
            f"the {n_neighbors}-NN graph has {n_comp} large connected components for "
            f"n_clusters={k}: grouping whole components by K-means on their means "
            "(a larger n_neighbors connects them)",
            RuntimeWarning,
        )
        sizes = np.bincount(comp)
        means = np.zeros((n_comp, X.shape[1]))
        np.add.at(means, comp, X[retained])
        means /= sizes[:, None]
        groups = (
            _SkKMeans(k, n_init=n_init, random_state=seed).fit(means, sample_weight=sizes).labels_
        )
        labels[retained] = groups[comp]
    else:
        emb, _ = spectral_embedding(Wk, k, seed=seed)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        labels[retained] = kmeans(emb, k, n_init=n_init, seed=seed)[0]
    lost = np.flatnonzero(~keep)
    if lost.size:
        nearest = NearestNeighbors(n_neighbors=1).fit(X[retained]).kneighbors(X[lost])[1][:, 0]
        labels[lost] = labels[retained[nearest]]
    if check_bool(return_embedding, method="spectral_clustering", name="return_embedding"):
        return labels, emb, retained
    return labels
