"""Array helpers shared by several baselines: one-hot membership matrices and unit rows."""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["one_hot", "unit_rows"]


def one_hot(labels, k: int) -> sparse.csr_matrix:
    """Sparse ``(n, k)`` 0/1 membership matrix of ``labels`` ``(n,)`` in ``0 .. k-1``."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    return sparse.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, k))


def unit_rows(Z, *, floor: float = np.finfo(np.float64).tiny) -> np.ndarray:
    """``Z`` ``(n, p)`` with every row divided by ``max(its L2 norm, floor)``: rows of unit
    length, zero rows left at zero (and, with a larger ``floor``, near-zero rows left
    short instead of being blown up to unit length from rounding noise)."""
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.maximum(norms, floor)
