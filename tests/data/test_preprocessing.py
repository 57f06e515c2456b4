"""Preprocessing transforms (dtc.data.preprocessing) against scikit-learn on the same input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler, normalize

import dtc.data as data


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    Xs = rng.normal(1.0, 2.0, size=(30, 4))
    Xs[:, 3] = 5.0  # a constant feature: must be centred, not divided by zero
    Xt = rng.normal(-1.0, 0.5, size=(20, 4)) ** 2
    source = data.Domain(Xs, rng.integers(0, 3, 30), name="s", image_shape=(2, 2))
    target = data.Domain(Xt, rng.integers(0, 3, 20), name="t", image_shape=(2, 2))
    return data.DomainPair(source, target, n_clusters=3, benchmark="toy")


def test_standardize_per_domain(pair):
    out = data.standardize(pair)
    for before, after in ((pair.source, out.source), (pair.target, out.target)):
        np.testing.assert_allclose(after.X, StandardScaler().fit_transform(before.X), atol=1e-5)
        assert after.image_shape == (2, 2) and after.name == before.name
        np.testing.assert_array_equal(after.y, before.y)
    assert out.n_clusters == 3 and out.benchmark == "toy"
    np.testing.assert_allclose(out.source.X[:, 3], 0.0)


def test_standardize_joint(pair):
    out = data.standardize(pair, mode="joint")
    scaler = StandardScaler().fit(np.vstack([pair.source.X, pair.target.X]))
    np.testing.assert_allclose(out.source.X, scaler.transform(pair.source.X), atol=1e-5)
    np.testing.assert_allclose(out.target.X, scaler.transform(pair.target.X), atol=1e-5)


def test_a_column_constant_up_to_rounding_is_only_centred():
    # 0.1 repeated: numpy's std is 1.4e-15 of rounding error, and dividing by it would
    # turn the error into unit variance; the values 0.1 + k eps vary only by rounding too.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    X[:, 0] = 0.1
    X[:, 1] = 0.1 + np.finfo(float).eps * rng.integers(0, 2, 1000)
    assert X[:, 0].std() > 0 and X[:, 1].std() > 0
    np.testing.assert_array_equal(data.column_std(X)[:2], 0.0)
    assert data.column_std(X)[2] == pytest.approx(X[:, 2].std(), rel=1e-12)
    out = data.zscore_columns(X)
    np.testing.assert_allclose(out, StandardScaler().fit_transform(X), atol=1e-12)
    assert np.abs(out[:, :2]).max() < 1e-12
    # a column that varies, however little against its mean, is still scaled
    X[:, 1] = 1e6 + 1e-4 * rng.normal(size=1000)
    assert data.zscore_columns(X)[:, 1].std() == pytest.approx(1.0)


def test_standardize_domain_and_input_untouched(pair):
    before = pair.source.X.copy()
    out = data.standardize(pair.source)
    assert isinstance(out, data.Domain)
    np.testing.assert_array_equal(pair.source.X, before)


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_normalize_rows_matches_sklearn(pair, norm):
    out = data.normalize_rows(pair, norm=norm)
    np.testing.assert_allclose(out.source.X, normalize(pair.source.X, norm=norm), atol=1e-6)
    np.testing.assert_allclose(out.target.X, normalize(pair.target.X, norm=norm), atol=1e-6)


def test_row_sum_normalisation_hand_computed():
    dom = data.Domain(np.array([[1.0, 3.0], [2.0, -1.0], [0.0, 0.0]]))
    out = data.normalize_rows(dom, norm="sum")
    # Signed sums 4 and 1; the zero row is kept as is.
    np.testing.assert_allclose(out.X, [[0.25, 0.75], [2.0, -1.0], [0.0, 0.0]])


@pytest.mark.parametrize("fit_on", ["both", "source", "target"])
def test_pca_matches_sklearn(pair, fit_on):
    out = data.pca(pair, 2, fit_on=fit_on)
    fit_X = {
        "both": np.vstack([pair.source.X, pair.target.X]),
        "source": pair.source.X,
        "target": pair.target.X,
    }[fit_on]
    model = PCA(2, svd_solver="full").fit(fit_X.astype(np.float64))
    np.testing.assert_allclose(out.source.X, model.transform(pair.source.X), atol=1e-4)
    np.testing.assert_allclose(out.target.X, model.transform(pair.target.X), atol=1e-4)
    assert out.source.image_shape is None and out.source.n_features == 2


def test_pca_on_domain_whiten(pair):
    out = data.pca(pair.target, 3, whiten=True)
    np.testing.assert_allclose(
        out.X, PCA(3, whiten=True, svd_solver="full").fit_transform(pair.target.X), atol=1e-4
    )


def test_pca_refuses_a_component_past_the_rows_directions():
    # 20 centred rows of 500 features span 19 directions: the 20th component was rounding
    # noise (singular value 6e-15), whitened to unit variance and different for every
    # order of the same rows.
    X = np.random.default_rng(0).standard_normal((20, 500)).astype(np.float32)
    with pytest.raises(ValueError, match=r"n_components must be in \[1, 19\] \(the 20 rows"):
        data.pca(data.Domain(X), 20, whiten=True)
    Z = data.pca(data.Domain(X), 19, whiten=True).X
    Z_rev = data.pca(data.Domain(X[::-1].copy()), 19, whiten=True).X[::-1]
    # every kept component is the same up to sign whatever the row order
    np.testing.assert_allclose(np.abs(Z), np.abs(Z_rev), atol=1e-3)
    with pytest.raises(ValueError, match="needs at least 2 rows to fit on"):
        data.pca(data.Domain(X[:1]), 1)


def test_errors(pair):
    with pytest.raises(ValueError, match="mode must be one of"):
        data.standardize(pair, mode="global")
    with pytest.raises(ValueError, match="norm must be one of"):
        data.normalize_rows(pair, norm="max")
    with pytest.raises(ValueError, match=r"n_components must be in \[1, 4\]"):
        data.pca(pair, 5)
    with pytest.raises(ValueError, match="n_components must be an int"):
        data.pca(pair, 2.5)
    with pytest.raises(ValueError, match="fit_on must be one of"):
        data.pca(pair, 2, fit_on="all")
    with pytest.raises(ValueError, match="expected a dtc.data.Domain or DomainPair"):
        data.standardize(np.zeros((3, 3)))
    hetero = data.DomainPair(pair.source, data.Domain(np.ones((5, 2))), heterogeneous=True)
    with pytest.raises(ValueError, match="heterogeneous"):
        data.standardize(hetero, mode="joint")
    with pytest.raises(ValueError, match="heterogeneous"):
        data.pca(hetero, 1)


def test_floored_std_by_hand():
    # column stds (ddof=0): 0, 0.5, 1, 2, 4 -> non-zero median 1.5
    X = np.array([[7.0, 0.0, 0.0, 0.0, 0.0], [7.0, 1.0, 2.0, 4.0, 8.0]])
    np.testing.assert_allclose(data.floored_std(X), [0, 0.5, 1, 2, 4])
    np.testing.assert_allclose(data.floored_std(X, 0.5), [1.5, 1.5, 1.5, 2, 4])
    np.testing.assert_allclose(data.floored_std(X, 0.0), [0.5, 0.5, 1, 2, 4])
    np.testing.assert_allclose(data.floored_std(X, 1.0), [4, 4, 4, 4, 4])
    assert np.array_equal(data.floored_std(np.ones((3, 2)), 0.5), [0, 0])  # nothing varies
    with pytest.raises(ValueError, match=r"quantile \(or None\) must be a number in \[0.0, 1.0\]"):
        data.floored_std(X, 1.5)
    # float() parsed "0.5" and read True as 1.0
    for bad in ("0.5", True):
        with pytest.raises(ValueError, match=r"^floored_std: quantile \(or None\) must be"):
            data.floored_std(X, bad)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        # a negative std flipped the column's sign, a NaN one made it NaN
        (lambda X: data.zscore_columns(X, std=[-1.0, 1.0]), r"std finite and >= 0"),
        (lambda X: data.zscore_columns(X, std=[np.nan, 1.0]), r"std finite and >= 0"),
        (lambda X: data.zscore_columns(X, mean=[np.inf, 0.0]), r"mean must be finite"),
        (lambda X: data.zscore_columns(X, std=["1", "1"]), r"^zscore_columns: std must be a"),
        # text was cast to numbers; a NaN gave a NaN std; 1-D X a scalar one
        (lambda X: data.zscore_columns(X.astype(str)), r"^zscore_columns: X must be a numeric"),
        (lambda X: data.column_std(np.where(X > 3, np.nan, X)), r"^column_std: X contains NaN"),
        (lambda X: data.column_std(X[:, 0]), r"^column_std: X must have shape \(n, d\)"),
        (lambda X: data.column_std(X[:0]), r"with n >= 1, got \(0, 2\)"),
    ],
)
def test_zscoring_refuses_statistics_and_rows_it_cannot_use(call, match):
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    with pytest.raises(ValueError, match=match):
        call(X)


def test_size_normalize_images_by_hand():
    from dtc.data.preprocessing import size_normalize_images

    square = np.zeros((8, 8))
    square[3:5, 2:4] = 1.0  # a 2 x 2 blob: scaled 4x it fills the frame
    tall = np.zeros((8, 8))
    tall[2:6, 3:5] = 1.0  # 4 x 2: scaled 2x to 8 x 4, centred (columns 2..5)
    tall[0, 0] = 0.1  # faint background, below 0.2 x the maximum: not ink
    empty = np.zeros((8, 8))
    out = size_normalize_images(np.stack([square, tall, empty]).reshape(3, 64), (8, 8))
    np.testing.assert_allclose(out[0], np.ones(64))
    expected = np.zeros((8, 8))
    expected[:, 2:6] = 1.0
    np.testing.assert_allclose(out[1].reshape(8, 8), expected)
    np.testing.assert_array_equal(out[2], 0.0)  # no ink: unchanged
    with pytest.raises(ValueError, match=r"image_shape \(h, w\)"):
        size_normalize_images(np.zeros((2, 60)), (8, 8))
    # errors name the function, as the rest of the module's
    with pytest.raises(ValueError, match=r"^size_normalize_images: threshold must be in"):
        size_normalize_images(np.zeros((2, 64)), (8, 8), threshold=1.0)
    with pytest.raises(ValueError, match=r"^size_normalize_images: mass_quantile must be in"):
        size_normalize_images(np.zeros((2, 64)), (8, 8), mass_quantile=0.5)


def test_size_normalize_images_clips_negative_values_to_zero():
    """The docstring's "negative values are clipped to 0": a 2 x 2 blob with one pixel at
    -1 (not ink, but inside the ink's box) scaled 4x. Bilinearly, at t = i / 7, u = j / 7
    over [[1, -1], [1, 1]] the value is 1 - 2 (1 - t) u, negative near the -1 corner."""
    from dtc.data.preprocessing import size_normalize_images

    img = np.zeros((8, 8))
    img[3:5, 2:4] = [[1.0, -1.0], [1.0, 1.0]]
    out = size_normalize_images(img.reshape(1, 64), (8, 8))[0].reshape(8, 8)
    t, u = np.mgrid[:8, :8] / 7
    np.testing.assert_allclose(out, np.clip(1 - 2 * (1 - t) * u, 0.0, None), atol=1e-12)


def test_size_normalize_images_threshold_is_relative_to_each_images_maximum():
    """Ink is what exceeds ``threshold`` x the image's own maximum: the hand cases above
    all peak at 1, where an absolute threshold gives the same boxes. The tall blob of
    intensity 0.25 (background 0.025) has the same box as at full intensity: rescaled 2x to
    8 x 4, centred; an absolute threshold of 0.3 would see no ink and leave it unchanged."""
    from dtc.data.preprocessing import size_normalize_images

    tall = np.zeros((8, 8))
    tall[2:6, 3:5] = 0.25
    tall[0, 0] = 0.025
    expected = np.zeros((8, 8))
    expected[:, 2:6] = 0.25
    out = size_normalize_images(tall.reshape(1, 64), (8, 8))
    np.testing.assert_allclose(out[0].reshape(8, 8), expected)


def test_size_normalize_images_undoes_a_change_of_size():
    from scipy.ndimage import zoom

    from dtc.data.preprocessing import size_normalize_images

    # a ring filling a 16 x 16 frame, and the same ring drawn at 60 % in the centre
    yy, xx = np.mgrid[:16, :16] - 7.5
    big = np.clip(1.0 - np.abs(np.hypot(yy, xx) - 6.0) / 1.5, 0.0, None)
    small = np.zeros((16, 16))
    shrunk = np.clip(zoom(big, 0.6, order=1), 0.0, None)
    r = (16 - shrunk.shape[0]) // 2
    small[r : r + shrunk.shape[0], r : r + shrunk.shape[1]] = shrunk
    before = np.corrcoef(big.ravel(), small.ravel())[0, 1]
    a, b = size_normalize_images(np.stack([big.ravel(), small.ravel()]), (16, 16))
    after = np.corrcoef(a, b)[0, 1]
    # bilinear resampling blurs the thin ring, so not 1; the rings overlap again
    assert before < 0.0 and after > 0.6


def test_size_normalize_images_ignores_scattered_noise_pixels():
    from dtc.data.preprocessing import size_normalize_images

    img = np.zeros((16, 16))
    img[5:11, 6:10] = 1.0  # a 6 x 4 block
    noisy = img.copy()
    noisy[0, 0] = noisy[15, 15] = noisy[0, 15] = 0.6  # isolated bright pixels at the corners
    clean, dirty = size_normalize_images(np.stack([img.ravel(), noisy.ravel()]), (16, 16))
    # the box is the block's, not the frame: a 16 x 11 block (6 x 4 scaled by 16/6) centred
    expected = np.zeros((16, 16))
    expected[:, 2:13] = 1.0
    np.testing.assert_allclose(clean.reshape(16, 16), expected)
    np.testing.assert_allclose(dirty, clean)


def test_mean_pool_images_by_hand():
    from dtc.data.preprocessing import mean_pool_images

    img = np.arange(16, dtype=float).reshape(4, 4)  # rows 0..3, 4..7, 8..11, 12..15
    pooled, shape = mean_pool_images(np.stack([img.ravel(), 2 * img.ravel()]), (4, 4), 2)
    # top-left block (0, 1, 4, 5) -> 2.5; top-right (2, 3, 6, 7) -> 4.5; and so on.
    np.testing.assert_allclose(pooled[0], [2.5, 4.5, 10.5, 12.5])
    np.testing.assert_allclose(pooled[1], 2 * pooled[0])
    assert shape == (2, 2)
    same, shape1 = mean_pool_images(img.reshape(1, -1), (4, 4), 1)
    np.testing.assert_array_equal(same[0], img.ravel())
    assert shape1 == (4, 4)


def test_mean_pool_images_errors():
    from dtc.data.preprocessing import mean_pool_images

    with pytest.raises(ValueError, match=r"^mean_pool_images: factor must divide"):
        mean_pool_images(np.zeros((2, 36)), (6, 6), 4)
    with pytest.raises(ValueError, match=r"^mean_pool_images: factor must be an int"):
        mean_pool_images(np.zeros((2, 16)), (4, 4), 0)
    with pytest.raises(ValueError, match=r"shape \(n, h \* w\)"):
        mean_pool_images(np.zeros((2, 15)), (4, 4), 2)


def test_pca_whiten_must_be_a_bool(pair):
    with pytest.raises(ValueError, match="^pca: whiten must be True or False, got 'no'"):
        data.pca(pair.target, 3, whiten="no")


def test_the_ink_box_at_mass_quantile_zero_is_the_tight_bounding_box():
    # The cumulative fraction at the last inked column could round to 0.9999999999999998 < 1:
    # the box then ran to the frame's edge (2,379 of 20,000 random profiles; 193 of 4,000
    # MNIST rows and columns)
    from dtc.data.preprocessing import _mass_span

    rng = np.random.default_rng(0)
    for _ in range(2000):
        mass = rng.random(16) * (rng.random(16) < 0.6)
        if not mass.any():
            continue
        nonzero = np.flatnonzero(mass)
        assert _mass_span(mass, 0.0) == (nonzero[0], nonzero[-1])


def test_zscore_columns_checks_the_shapes_of_its_statistics():
    """A (d, 1) column of statistics broadcast against an (n, d) X with n == d gave other
    numbers without an error, and otherwise numpy's broadcast error."""
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(10, 3)), rng.normal(size=(3, 3))
    mean, std = X.mean(0), X.std(0)
    np.testing.assert_allclose(data.zscore_columns(T, mean=mean, std=std), (T - mean) / std)
    with pytest.raises(ValueError, match=r"zscore_columns: mean must have shape \(d,\) = \(3,\)"):
        data.zscore_columns(T, mean=mean[:, None], std=std)
    with pytest.raises(ValueError, match=r"zscore_columns: std must have shape \(d,\) = \(3,\)"):
        data.zscore_columns(T, mean=mean, std=std[:, None])
    with pytest.raises(ValueError, match=r"zscore_columns: X must have shape \(n, d\)"):
        data.zscore_columns(T[0])
