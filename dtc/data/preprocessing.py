"""Feature transforms usable on any :class:`Domain` or :class:`DomainPair`.

The transforms (``standardize``, ``normalize_rows``, ``pca``) take a ``Domain`` or a
``DomainPair`` and return a new object of the same kind (inputs are never modified);
labels, names and metadata are kept. Row-wise transforms keep ``image_shape``; PCA drops
it (its components are no longer pixels).

The other public functions work on arrays ``X`` ``(n, d)``: ``column_std``,
``floored_std``, ``zscore_columns``, ``unit_l2_rows``, ``unit_sum_rows``, and for gray
images stored as rows ``(n, h * w)``, ``size_normalize_images`` and ``mean_pool_images``.
``zscore_columns``, ``unit_l2_rows`` and ``unit_sum_rows`` are what the benchmark loaders
use to apply the literature's protocols, so the same arithmetic lives in exactly one
place.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.ndimage import zoom
from sklearn.decomposition import PCA

from dtc._validation import check_bool, check_number, float_array, is_finite_number
from dtc.data.domain import Domain, DomainPair

__all__ = [
    "PCA_FIT_ON",
    "column_std",
    "floored_std",
    "mean_pool_images",
    "normalize_rows",
    "pca",
    "size_normalize_images",
    "standardize",
    "unit_l2_rows",
    "unit_sum_rows",
    "zscore_columns",
]

PCA_FIT_ON = ("both", "source", "target")
_ROW_NORMS = ("l2", "l1", "sum")
_STANDARDIZE_MODES = ("per_domain", "joint")


# -- array helpers ----------------------------------------------------------
def _safe_divide(X: np.ndarray, denom: np.ndarray) -> np.ndarray:
    # A zero denominator (an all-zero row, a constant column) leaves the values
    # unchanged, as sklearn.preprocessing.normalize / StandardScaler do, instead of
    # producing NaN that would poison every distance computed later.
    denom = np.where(denom == 0, 1.0, denom)
    return X / denom


def _matrix(X, func: str) -> np.ndarray:
    """``X`` as a finite float64 ``(n, d)`` array with ``n >= 1``, else ``ValueError``
    naming ``func``: text cast to numbers, a NaN gave a NaN statistic, 1-D a scalar one."""
    X = float_array(X, func)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{func}: X must have shape (n, d) with n >= 1, got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{func}: X contains NaN or infinite values")
    return X


def column_std(X) -> np.ndarray:
    """Population standard deviation (``ddof=0``) of each column of ``X`` ``(n, d)`` ->
    ``(d,)``, 0 for a column that is constant up to floating-point rounding.

    Why: the computed variance of a constant column is rounding error, not 0 (0.1 repeated
    1,000 times: std 1.4e-15), and dividing by it would blow that error up to unit variance.
    A column counts as constant when its variance is within the error bound of the
    two-pass variance, ``n eps var + (n eps mean)^2`` (Chan, Golub & LeVeque, The American
    Statistician, 1983), the test scikit-learn's ``StandardScaler`` applies.
    """
    X = _matrix(X, "column_std")
    mean, var = X.mean(axis=0), X.var(axis=0)
    eps, n = np.finfo(np.float64).eps, X.shape[0]
    constant = var <= n * eps * var + (n * eps * mean) ** 2
    return np.where(constant, 0.0, np.sqrt(var))


def zscore_columns(X, *, mean=None, std=None) -> np.ndarray:
    """Z-score each column of ``X`` of shape ``(n, d)``; returns ``(n, d)`` float64.

    Uses the population standard deviation (``ddof=0``, MATLAB ``zscore(X, 1)``,
    as ``sklearn.preprocessing.StandardScaler``). ``mean`` and ``std`` of shape
    ``(d,)`` default to the statistics of ``X`` (:func:`column_std`). Zero-variance
    columns are only centred (divided by 1).
    """
    X = _matrix(X, "zscore_columns")
    mean = X.mean(axis=0) if mean is None else float_array(mean, "zscore_columns", "mean")
    std = column_std(X) if std is None else float_array(std, "zscore_columns", "std")
    for name, value in (("mean", mean), ("std", std)):
        # a (d, 1) column broadcast against an (n, d) X with n == d without an error
        if value.shape != (X.shape[1],):
            raise ValueError(
                f"zscore_columns: {name} must have shape (d,) = ({X.shape[1]},), got {value.shape}"
            )
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std >= 0).all()):
        # a negative std flipped the column's sign, a NaN one made it NaN, without a word
        raise ValueError("zscore_columns: mean must be finite and std finite and >= 0")
    return _safe_divide(X - mean, std)


def floored_std(X, quantile: float | None = None) -> np.ndarray:
    """Column standard deviations ``(d,)`` of ``X`` ``(n, d)`` (population, ``ddof=0``),
    each raised to at least the ``quantile`` of the non-zero ones (``None``: no floor).

    Why a floor: z-scoring divides a nearly constant feature -- the border pixel of a digit
    image that a few samples touch -- by its tiny spread, which turns those rare values
    into outliers of tens of standard deviations that dominate every distance. With the
    floor at the median (``quantile=0.5``), features that vary less than the typical one
    keep their small spread instead of being inflated to unit variance; constant columns
    stay constant (their std 0 is floored too, and centring makes them 0).
    """
    std = column_std(X)
    if quantile is None:
        return std
    # check_number: float() parsed "0.5" and took True as 1.0
    q = check_number(quantile, "floored_std: quantile (or None)", low=0.0, high=1.0)
    varying = std[std > 0]
    return np.maximum(std, np.quantile(varying, q)) if varying.size else std


def unit_l2_rows(X) -> np.ndarray:
    """Scale each row of ``X`` of shape ``(n, d)`` to unit Euclidean norm (zero rows kept)."""
    X = np.asarray(X, dtype=np.float64)
    return _safe_divide(X, np.linalg.norm(X, axis=1, keepdims=True))


def unit_sum_rows(X) -> np.ndarray:
    """Divide each row of ``X`` of shape ``(n, d)`` by its sum (histograms -> frequencies).

    Rows summing to zero are left unchanged. For non-negative data (counts) this
    equals L1 normalisation.
    """
    X = np.asarray(X, dtype=np.float64)
    return _safe_divide(X, X.sum(axis=1, keepdims=True))


# -- transforms on domains and pairs -----------------------------------------
def _mass_span(mass: np.ndarray, q: float) -> tuple[int, int]:
    """First and last index between the ``q`` and ``1 - q`` quantiles of ``mass`` ``(m,)``:
    the first index whose cumulative mass exceeds ``q``, and the last whose mass from it to
    the end does (``q = 0``: the first and last non-zero entries)."""
    total = mass.sum()
    first = int(np.searchsorted(np.cumsum(mass) / total, q, side="right"))
    # From the other end, not as the cumulative fraction reaching 1 - q: the cumulative
    # sum rounds otherwise than the total, and at q = 0 the fraction at the last inked
    # column could be 0.9999999999999998, which stretched the box to the frame's edge.
    tail = np.cumsum(mass[::-1]) / total
    last = len(mass) - 1 - int(np.searchsorted(tail, q, side="right"))
    return first, max(first, last)


def _gray_images(X, image_shape, fn: str) -> tuple[np.ndarray, tuple[int, int]]:
    """``X`` as float64 ``(n, h * w)`` rows of ``image_shape = (h, w)`` gray images, or a
    ``ValueError`` prefixed ``fn``."""
    X = np.asarray(X, dtype=np.float64)
    shape = tuple(int(v) for v in image_shape)
    if X.ndim != 2 or len(shape) != 2 or X.shape[1] != shape[0] * shape[1]:
        raise ValueError(
            f"{fn}: expected X of shape (n, h * w) for image_shape (h, w), "
            f"got X {X.shape} and image_shape {image_shape!r}"
        )
    return X, shape


def size_normalize_images(
    X, image_shape, *, threshold: float = 0.3, mass_quantile: float = 0.05
) -> np.ndarray:
    """Scale every image so that its ink's bounding box fills the frame.

    Each row of ``X`` ``(n, h * w)`` is an ``image_shape = (h, w)`` gray image (ink bright).
    Its ink is the intensity above ``threshold`` x the image's maximum (a faint background
    does not count); the bounding box spans the rows (columns) between the
    ``mass_quantile`` and ``1 - mass_quantile`` quantiles of the ink's row (column) mass,
    so that scattered noise pixels do not stretch it to the frame. The box is cropped,
    resized bilinearly with its aspect ratio kept until it spans the frame in one direction
    (its longer side, in a square frame),
    and centred; the rest is 0 (negative values are clipped to 0). Images without ink
    (maximum <= 0) are returned unchanged. Returns
    ``(n, h * w)`` float64.

    This is the size normalisation digit databases were built with (USPS: Hull, IEEE
    TPAMI 1994, digits fill the 16 x 16 frame; MNIST: LeCun, Bottou, Bengio & Haffner,
    Proc. IEEE 1998, digits fitted into a 20 x 20 box inside 28 x 28). Applied to both
    domains it removes a difference of digit size between them by construction, whatever
    the classes.
    """
    X, shape = _gray_images(X, image_shape, "size_normalize_images")
    # float() failed on None naming nothing, and read the string "0.3" as a number
    if not is_finite_number(threshold) or not 0.0 <= threshold < 1.0:
        raise ValueError(f"size_normalize_images: threshold must be in [0, 1), got {threshold!r}")
    if not is_finite_number(mass_quantile) or not 0.0 <= mass_quantile < 0.5:
        raise ValueError(
            f"size_normalize_images: mass_quantile must be in [0, 0.5), got {mass_quantile!r}"
        )
    h, w = shape
    out = X.copy()
    for i, row in enumerate(X):
        img = row.reshape(h, w)
        top = img.max()
        ink = np.clip(img - float(threshold) * top, 0.0, None)
        if top <= 0 or not ink.any():
            continue
        r0, r1 = _mass_span(ink.sum(1), mass_quantile)
        c0, c1 = _mass_span(ink.sum(0), mass_quantile)
        crop = img[r0 : r1 + 1, c0 : c1 + 1]
        scale = min(h / crop.shape[0], w / crop.shape[1])
        size = (
            min(h, max(1, round(crop.shape[0] * scale))),
            min(w, max(1, round(crop.shape[1] * scale))),
        )
        # zoom factors from the target size, so the output has exactly that size
        resized = zoom(crop, (size[0] / crop.shape[0], size[1] / crop.shape[1]), order=1)
        resized = resized[: size[0], : size[1]]
        frame = np.zeros((h, w))
        r0, c0 = (h - resized.shape[0]) // 2, (w - resized.shape[1]) // 2
        frame[r0 : r0 + resized.shape[0], c0 : c0 + resized.shape[1]] = np.clip(resized, 0, None)
        out[i] = frame.ravel()
    return out


def mean_pool_images(X, image_shape, factor: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Average ``factor x factor`` blocks of pixels: a lower resolution of the same images.

    ``X`` ``(n, h * w)``, each row an ``image_shape = (h, w)`` gray image with ``h`` and
    ``w`` divisible by ``factor``. Returns ``(X_pooled, (h // factor, w // factor))`` with
    ``X_pooled`` of shape ``(n, (h // factor) * (w // factor))`` float64. Block pooling
    is how scikit-learn's 8x8 digits were made from 32x32 bitmaps (Alpaydin & Kaynak,
    UCI optdigits, 1998: the on pixels of each 4x4 block counted, i.e. 16 x the block
    mean), so pooled 16x16 MNIST or USPS images compare with them pixel for pixel, up to
    that scale.
    """
    X, shape = _gray_images(X, image_shape, "mean_pool_images")
    f = factor
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 1:
        raise ValueError(f"mean_pool_images: factor must be an int >= 1, got {factor!r}")
    h, w = shape
    if h % f or w % f:
        raise ValueError(f"mean_pool_images: factor must divide the image's sides {shape}, got {f}")
    pooled = X.reshape(len(X), h // f, f, w // f, f).mean(axis=(2, 4))
    return pooled.reshape(len(X), -1), (h // f, w // f)


def _check_data(data, func: str):
    if not isinstance(data, (Domain, DomainPair)):
        raise ValueError(f"{func}: expected a dtc.data.Domain or DomainPair, got {type(data)!r}")


def _map_rows(data, fn, *, keep_shape: bool = True):
    """Apply a row-wise array function to a Domain or to both domains of a pair."""
    if isinstance(data, DomainPair):
        return replace(
            data,
            source=_map_rows(data.source, fn, keep_shape=keep_shape),
            target=_map_rows(data.target, fn, keep_shape=keep_shape),
        )
    shape = data.image_shape if keep_shape else None
    return data.with_features(fn(data.X), image_shape=shape)


def standardize(data, *, mode: str = "per_domain"):
    """Z-score every feature (population std; zero-variance features only centred).

    Parameters
    ----------
    data : Domain or DomainPair
        Features ``X`` of shape ``(n, d)`` (each domain's).
    mode : {"per_domain", "joint"}
        For a pair: ``"per_domain"`` (default, the usual protocol of the feature
        benchmarks, e.g. Gong et al., CVPR 2012) uses each domain's own mean and
        std, which already removes each feature's shift of mean and of scale between
        the domains (not a shift of their correlations);
        ``"joint"`` uses the statistics of the stacked ``(n_s + n_t, d)`` data,
        keeping the shift between the domains. Ignored for a single Domain.

    Returns
    -------
    Domain or DomainPair
        Same kind as ``data``, features standardised, ``image_shape`` kept.
    """
    _check_data(data, "standardize")
    if mode not in _STANDARDIZE_MODES:
        raise ValueError(f"standardize: mode must be one of {_STANDARDIZE_MODES}, got {mode!r}")
    if isinstance(data, DomainPair) and mode == "joint":
        if data.heterogeneous:
            raise ValueError(
                "standardize: mode='joint' needs one feature space; the pair is heterogeneous"
            )
        both = np.vstack([data.source.X, data.target.X]).astype(np.float64)
        mean, std = both.mean(axis=0), column_std(both)
        return _map_rows(data, lambda X: zscore_columns(X, mean=mean, std=std))
    return _map_rows(data, zscore_columns)


def normalize_rows(data, *, norm: str = "l2"):
    """Rescale every sample (row).

    Parameters
    ----------
    data : Domain or DomainPair
        Features ``X`` of shape ``(n, d)``.
    norm : {"l2", "l1", "sum"}
        ``"l2"``: unit Euclidean norm (the JDA/TCA protocol for MNIST-USPS and
        COIL, Long et al., ICCV 2013); ``"l1"``: unit sum of absolute values;
        ``"sum"``: divide by the plain row sum (bag-of-words histograms to
        frequencies, Gong et al., CVPR 2012). Rows with zero norm are kept.

    Returns
    -------
    Domain or DomainPair
        Same kind as ``data``, ``image_shape`` kept.
    """
    _check_data(data, "normalize_rows")
    if norm not in _ROW_NORMS:
        raise ValueError(f"normalize_rows: norm must be one of {_ROW_NORMS}, got {norm!r}")
    if norm == "l2":
        fn = unit_l2_rows
    elif norm == "sum":
        fn = unit_sum_rows
    else:

        def fn(X):
            X = np.asarray(X, dtype=np.float64)
            return _safe_divide(X, np.abs(X).sum(axis=1, keepdims=True))

    return _map_rows(data, fn)


def pca(data, n_components: int, *, fit_on: str = "both", whiten: bool = False):
    """Project onto the first ``n_components`` principal components.

    Parameters
    ----------
    data : Domain or DomainPair
        Features ``X`` of shape ``(n, d)``.
    n_components : int
        Output dimension ``k``, ``1 <= k <= min(n_fit - 1, d)``: ``n_fit`` centred rows
        span at most ``n_fit - 1`` directions, and a component past them is an arbitrary
        direction of rounding noise (``whiten=True`` scaled it to unit variance).
    fit_on : {"both", "source", "target"}
        Which samples of a pair define the components (ignored for a Domain).
        ``"both"`` (default) fits on the stacked source and target, so neither
        domain's variance directions dominate by construction; ``"source"`` is the
        classic inductive choice; ``"target"`` keeps the directions that matter
        for clustering the target. Fitting on the target uses its features only,
        never its labels.
    whiten : bool
        Scale components to unit variance (as ``sklearn.decomposition.PCA``).

    Returns
    -------
    Domain or DomainPair
        Same kind, features of shape ``(n, k)``, ``image_shape`` dropped.
        Uses ``PCA(svd_solver="full")`` so the result is deterministic.
    """
    _check_data(data, "pca")
    if fit_on not in PCA_FIT_ON:
        raise ValueError(f"pca: fit_on must be one of {PCA_FIT_ON}, got {fit_on!r}")
    if isinstance(data, DomainPair):
        if data.heterogeneous:
            raise ValueError("pca: needs one feature space; the pair is heterogeneous")
        fit_X = {
            "both": np.vstack([data.source.X, data.target.X]),
            "source": data.source.X,
            "target": data.target.X,
        }[fit_on]
    else:
        fit_X = data.X
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise ValueError(f"pca: n_components must be an int, got {n_components!r}")
    n_fit, d = fit_X.shape
    if n_fit < 2:
        raise ValueError(f"pca: needs at least 2 rows to fit on (fit_on={fit_on!r}), got {n_fit}")
    limit = min(n_fit - 1, d)
    if not 1 <= n_components <= limit:
        raise ValueError(
            f"pca: n_components must be in [1, {limit}] (the {n_fit} rows fitted on span at "
            f"most {n_fit - 1} directions once centred; {d} features), got {n_components}"
        )
    whiten = check_bool(whiten, method="pca", name="whiten")
    model = PCA(n_components=int(n_components), whiten=whiten, svd_solver="full")
    model.fit(fit_X.astype(np.float64))
    return _map_rows(data, model.transform, keep_shape=False)
