"""Is the source's feature space the target's? A label-free test of feature correspondence.

A shared encoder (DTC's symmetric mode, and every alignment loss applied to it) assumes
that feature ``j`` of the source means what feature ``j`` of the target means. When it
does not -- features in another order, another descriptor, another benchmark reduced to
the same width -- there is nothing to transfer, whatever the alignment loss makes of
the marginals, and a clustering that still looks fine owes nothing to the source.

Features that mean the same thing co-vary the same way in both domains, even under a
domain shift: neighbouring pixels of digit images are correlated in MNIST and in USPS,
visual words that fire together on Amazon product photos fire together on webcam
photos. :func:`feature_correspondence` compares the two feature-correlation matrices
entry by entry and tests the agreement against the agreement after a random relabelling
of the source's features (a permutation test; the Mantel test of two distance matrices,
Mantel, Cancer Research 1967, with correlation matrices in place of distances).

Measured with ``scripts/negative_transfer.py``'s cases (z-scored features, every row):
the statistic is 0.26 to 0.83 on the eight published benchmark pairs (lowest SURF
W->D, highest COIL1->COIL2), and within two permutation standard deviations of zero
(|r| <= 0.01) for every source with permuted features or taken from another benchmark.
"""

from __future__ import annotations

import numpy as np

__all__ = ["feature_correspondence", "varying_features"]


def _as_rows(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"feature_correspondence: {name} must have shape (n, d), got {X.shape}")
    if X.shape[0] < 3:
        raise ValueError(
            f"feature_correspondence: {name} needs at least 3 rows to estimate feature "
            f"correlations, got {X.shape[0]}"
        )
    if not np.isfinite(X).all():
        raise ValueError(f"feature_correspondence: {name} contains NaN or infinite values")
    return X


def varying_features(Xs, Xt, eps: float = 1e-8) -> np.ndarray:
    """``(d,)`` bool mask of the features whose standard deviation exceeds ``eps`` in both
    ``Xs`` ``(n_s, d)`` and ``Xt`` ``(n_t, d)``: the only ones that carry a correlation."""
    return (np.std(Xs, axis=0) > eps) & (np.std(Xt, axis=0) > eps)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a @ a) * (b @ b)))
    # No spread in either set of correlations (e.g. all features independent): nothing
    # to agree on, so no evidence of correspondence.
    return float(a @ b) / den if den > 0 else 0.0


def feature_correspondence(
    Xs, Xt, *, n_permutations: int = 99, seed: int = 0, eps: float = 1e-8
) -> dict:
    """Do the features of ``Xs`` correspond one-to-one, in order, to those of ``Xt``?

    Parameters
    ----------
    Xs : array ``(n_s, d)``
        Source rows.
    Xt : array ``(n_t, d)``
        Target rows, the same ``d`` features.
    n_permutations : int
        Random relabellings of the source's features that make the null distribution.
    seed : int
        Seeds the permutations.
    eps : float
        A feature whose standard deviation is at most ``eps`` in either domain carries no
        correlation and is left out.

    Returns
    -------
    dict with
        ``statistic``: Pearson correlation between the off-diagonal entries of the source's
        and the target's ``(m, m)`` feature-correlation matrices (``m`` non-constant
        features); 1 when both domains co-vary alike.
        ``null_mean``, ``null_std``: of the statistic after permuting the source's
        features (rows and columns of its correlation matrix together).
        ``p_value``: ``(1 + #{null >= statistic}) / (1 + n_permutations)``, the one-sided
        permutation p-value of "the features do not correspond".
        ``n_features``: ``m``.
    """
    Xs, Xt = _as_rows(Xs, "Xs"), _as_rows(Xt, "Xt")
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(
            "feature_correspondence: Xs and Xt must have the same number of features, got "
            f"{Xs.shape[1]} and {Xt.shape[1]} (a heterogeneous pair has no feature order to test)"
        )
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)):
        raise ValueError(
            f"feature_correspondence: n_permutations must be an int, got {n_permutations!r}"
        )
    if n_permutations < 1:
        raise ValueError(
            f"feature_correspondence: n_permutations must be >= 1, got {n_permutations}"
        )
    keep = varying_features(Xs, Xt, eps)
    m = int(keep.sum())
    if m < 3:
        raise ValueError(
            f"feature_correspondence: needs at least 3 features that vary in both domains, got {m}"
        )
    Cs = np.corrcoef(Xs[:, keep], rowvar=False)
    Ct = np.corrcoef(Xt[:, keep], rowvar=False)
    iu = np.triu_indices(m, 1)
    target_entries = Ct[iu]
    statistic = _pearson(Cs[iu], target_entries)
    rng = np.random.default_rng(seed)
    null = np.empty(int(n_permutations))
    for i in range(int(n_permutations)):
        p = rng.permutation(m)
        null[i] = _pearson(Cs[np.ix_(p, p)][iu], target_entries)
    return {
        "statistic": statistic,
        "null_mean": float(null.mean()),
        "null_std": float(null.std(ddof=1)) if null.size > 1 else 0.0,
        "p_value": float((1 + (null >= statistic).sum()) / (1 + null.size)),
        "n_features": m,
    }
