"""The embedded default pair (dtc.data.digits) and the image shifts (dtc.data.shifts)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

import dtc.data as data
from dtc.data import shifts


def _nn_accuracy(pair):
    clf = KNeighborsClassifier(n_neighbors=1).fit(pair.source.X, pair.source.y)
    return float(np.mean(clf.predict(pair.target.X) == pair.target.y))


def test_default_pair_structure():
    pair = data.make_digits_pair()
    assert pair.benchmark == "digits" and pair.n_clusters == 10
    assert pair.source.n_samples + pair.target.n_samples == 1797
    for dom in (pair.source, pair.target):
        assert dom.image_shape == (8, 8) and dom.n_features == 64
        assert dom.X.min() >= 0.0 and dom.X.max() <= 1.0
    # Stratified halves: every class count differs by at most one between domains.
    counts_s = np.bincount(pair.source.y, minlength=10)
    counts_t = np.bincount(pair.target.y, minlength=10)
    assert np.abs(counts_s - counts_t).max() <= 1


def test_source_rows_are_disjoint_original_digits():
    X = load_digits().data / 16.0
    pair = data.make_digits_pair(shift=0.0, seed=3)
    # shift=0: both halves are original images, and together they are all of them.
    both = np.vstack([pair.source.X, pair.target.X]).astype(np.float64)
    np.testing.assert_allclose(np.sort(both, axis=0), np.sort(X, axis=0), atol=1e-6)


def test_nn_accuracy_drops_monotonically_with_shift():
    acc = [_nn_accuracy(data.make_digits_pair(shift=s, seed=0)) for s in (0.0, 0.5, 1.0)]
    assert acc[0] > acc[1] > acc[2]
    # Strong enough that transfer matters: measured 0.988, 0.759, 0.285 with seed 0.
    assert acc[0] > 0.95 and acc[2] < 0.5


def test_equal_seeds_identical_and_different_seeds_differ():
    a, b = data.make_digits_pair(0.7, seed=5), data.make_digits_pair(0.7, seed=5)
    np.testing.assert_array_equal(a.target.X, b.target.X)
    np.testing.assert_array_equal(a.source.y, b.source.y)
    c = data.make_digits_pair(0.7, seed=6)
    assert not np.array_equal(a.target.X, c.target.X)


def test_load_pair_digits_matches_make_and_swaps():
    pair = data.load_pair("digits", shift=0.3, seed=1)
    direct = data.make_digits_pair(shift=0.3, seed=1)
    np.testing.assert_array_equal(pair.target.X, direct.target.X)
    swapped = data.load_pair("digits", source="target", target="source", shift=0.3, seed=1)
    np.testing.assert_array_equal(swapped.source.X, direct.target.X)
    dom = data.load_domain("digits", "target", preprocess="l2", shift=0.3, seed=1)
    np.testing.assert_allclose(np.linalg.norm(dom.X, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "strong", True])
def test_bad_shift_strength(bad):
    with pytest.raises(ValueError, match="make_digits_pair: shift must be"):
        data.make_digits_pair(shift=bad)


def test_bad_seed_and_fraction():
    with pytest.raises(ValueError, match="seed must be an int"):
        data.make_digits_pair(seed=0.5)
    with pytest.raises(ValueError, match="source_fraction"):
        data.make_digits_pair(source_fraction=1.0)


# -- the shift components, against hand-computed cases -----------------------------------
def test_rotate_quarter_turn_is_rot90():
    rng = np.random.default_rng(0)
    img = rng.random((2, 8, 8))
    # 90 degrees counter-clockwise with bilinear interpolation is exact on the pixel grid.
    np.testing.assert_allclose(shifts.rotate(img, 90), np.rot90(img, k=1, axes=(1, 2)), atol=1e-12)


def test_rotate_blacks_out_the_outer_ring_at_any_angle():
    # As documented (scipy's mode="constant"): a pixel whose pre-image is outside the
    # frame by however little is 0; the centre pixel, whose pre-image stays inside, is not.
    out = shifts.rotate(np.ones((1, 5, 5)), 1e-6)[0]
    assert out[2, 2] == pytest.approx(1.0) and (out == 0).sum() >= 4
    assert np.all(out[1:-1, 1:-1] == pytest.approx(1.0))


def test_thicken_names_its_amount():
    with pytest.raises(ValueError, match=r"thicken: amount must be in \[0, 1\], got 2"):
        shifts.thicken(np.zeros((1, 2, 2)), 2)


def test_thicken_single_pixel():
    img = np.zeros((1, 4, 4))
    img[0, 1, 1] = 1.0
    out = shifts.thicken(img, 0.5)
    # Hand-computed: scipy centres an even 2x2 window so that a pixel spreads up and
    # left, to (0,0), (0,1), (1,0) and itself; the blend halves the new ink and keeps 1
    # where the original stroke was.
    expected = np.zeros((4, 4))
    expected[0:2, 0:2] = 0.5
    expected[1, 1] = 1.0
    np.testing.assert_allclose(out[0], expected)


def test_contrast_and_noise():
    img = np.array([[[0.0, 1.0], [0.5, 0.25]]])
    np.testing.assert_allclose(shifts.change_contrast(img, 0.5), [[[0.25, 0.75], [0.5, 0.375]]])
    big = np.zeros((50, 20, 20))
    noisy = shifts.add_noise(big, 0.1, np.random.default_rng(0))
    assert abs(noisy.std() - 0.1) < 0.002 and abs(noisy.mean()) < 0.002


def test_apply_shift_composes_the_documented_steps_at_an_intermediate_strength():
    """At strength s = 0.4 the module docstring's composite is, in this order: a rotation
    by 0.4 * 30 = 12 degrees counter-clockwise (bilinear, zero fill), the blend
    0.6 x + 0.4 dilate(x) with a 2x2 grey dilation of each image on its own, the contrast
    0.5 + (1 - 0.4 * 0.5) (x - 0.5), Gaussian noise of standard deviation 0.4 * 0.15 = 0.06
    drawn from the seed, and clipping to [0, 1]; rebuilt here image by image with scipy."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    img = rng.random((3, 8, 8))
    img[1] = 0.0  # one pixel of ink between two random images: the dilation of each
    img[1, 4, 4] = 1.0  # image on its own spreads it to a 2x2 square, and takes no other ink
    expected = []
    for one in img:
        x = ndimage.rotate(one, 12.0, reshape=False, order=1, mode="constant")
        x = 0.6 * x + 0.4 * ndimage.grey_dilation(x, size=(2, 2))
        expected.append(0.5 + 0.8 * (x - 0.5))
    noise = 0.06 * np.random.default_rng(7).standard_normal(img.shape)
    expected = np.clip(np.asarray(expected) + noise, 0.0, 1.0)
    np.testing.assert_allclose(shifts.apply_shift(img, 0.4, seed=7), expected, atol=1e-12)


def test_apply_shift_zero_is_identity_and_range():
    img = np.random.default_rng(0).random((3, 8, 8))
    np.testing.assert_allclose(shifts.apply_shift(img, 0.0), img)
    out = shifts.apply_shift(img, 1.0, seed=2)
    assert out.shape == img.shape and out.min() >= 0.0 and out.max() <= 1.0


def test_shift_refuses_pixels_outside_unit_range_instead_of_clipping():
    # A z-scored domain was clipped to [0, 1] silently: most of it became 0 or 1.
    img = np.random.default_rng(0).random((3, 4, 4))
    zscored = data.standardize(data.Domain(img.reshape(3, -1), name="z", image_shape=(4, 4)))
    assert zscored.X.min() < 0  # the case is out of range
    with pytest.raises(
        ValueError,
        match=r"shift_domain: domain 'z': X must hold pixel values in \[0, 1\], found range \[-",
    ):
        shifts.shift_domain(zscored, 0.5)
    bad = img.copy()
    bad[0, 0, 0], bad[1, 1, 1] = -0.5, 2.0
    with pytest.raises(ValueError, match=r"apply_shift: images .* found range \[-0\.5, 2\]"):
        shifts.apply_shift(bad, 0.5)
    bad[0, 0, 0], bad[1, 1, 1] = 0.5, np.nan
    with pytest.raises(ValueError, match=r"apply_shift: images .* found range"):
        shifts.apply_shift(bad, 0.0)
    # Float rounding (1e-7 beyond either end) is still accepted, and clipped as before.
    near = img.copy()
    near[0, 0, 0], near[1, 1, 1] = -1e-7, 1 + 1e-7
    out = shifts.apply_shift(near, 0.0)
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out, np.clip(near, 0, 1))


def test_shift_domain_needs_image_shape():
    dom = data.Domain(np.zeros((3, 4)), name="flat")
    with pytest.raises(ValueError, match="needs image_shape"):
        shifts.shift_domain(dom, 0.5)
    img = data.Domain(np.zeros((3, 4)), np.arange(3), name="img", image_shape=(2, 2))
    out = shifts.shift_domain(img, 0.5, seed=1)
    assert out.meta["shift"] == 0.5 and out.image_shape == (2, 2)
    np.testing.assert_array_equal(out.y, img.y)
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        shifts.rotate(np.zeros((4, 4)), 10)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_sklearn_range_is_refused_early(seed):
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32 - 1\]"):
        data.check_digits_options(seed=seed)
    data.check_digits_options(seed=2**32 - 1)


@pytest.mark.parametrize("fraction", [0.001, 9.999 / 1797, 1788 / 1797, 0.999])
def test_source_fraction_too_small_or_large_for_a_stratified_split_is_refused(fraction):
    with pytest.raises(ValueError, match="source_fraction=.*one per class"):
        data.make_digits_pair(source_fraction=fraction)


def test_extreme_valid_source_fractions_build():
    small = data.make_digits_pair(source_fraction=10 / 1797)
    large = data.make_digits_pair(source_fraction=1787 / 1797)
    assert small.source.n_samples == 10 and large.target.n_samples == 10


@pytest.mark.parametrize("seed", [None, -1, 1.5, "3", True])
def test_shift_seed_must_be_a_non_negative_int(seed):
    # seed=None drew fresh entropy: two calls gave different targets, though the module
    # promises a result reproducible bit for bit; the others failed inside numpy without
    # naming the seed (shift_domain: after shifting, in int(None)).
    img = np.random.default_rng(0).random((3, 4, 4))
    with pytest.raises(ValueError, match=r"apply_shift: seed must be an int >= 0"):
        shifts.apply_shift(img, 0.5, seed=seed)
    dom = data.Domain(img.reshape(3, -1), name="img", image_shape=(4, 4))
    with pytest.raises(ValueError, match=r"shift_domain: seed must be an int >= 0"):
        shifts.shift_domain(dom, 0.5, seed=seed)
    np.testing.assert_array_equal(
        shifts.apply_shift(img, 0.5, seed=np.int64(7)), shifts.apply_shift(img, 0.5, seed=7)
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda img: shifts.rotate(img, np.nan), r"rotate: angle must be a finite number"),
        (lambda img: shifts.rotate(img, "10"), r"rotate: angle must be a finite number"),
        (
            lambda img: shifts.change_contrast(img, np.inf),
            r"change_contrast: factor must be a finite number",
        ),
        (
            lambda img: shifts.add_noise(img, np.nan, np.random.default_rng(0)),
            r"add_noise: std must be a finite number >= 0",
        ),
        (
            lambda img: shifts.add_noise(img, -0.1, np.random.default_rng(0)),
            r"add_noise: std must be a finite number >= 0",
        ),
        (lambda img: shifts.add_noise(img, 0.1, 0), r"add_noise: rng must be a numpy"),
    ],
)
def test_shift_components_refuse_non_finite_parameters(call, message):
    # A NaN angle rotated every image to black, a NaN factor or std made every pixel NaN,
    # all without a word.
    img = np.random.default_rng(0).random((2, 4, 4))
    with pytest.raises(ValueError, match=message):
        call(img)


@pytest.mark.parametrize("func", ["rotate", "thicken", "change_contrast", "add_noise"])
def test_shift_components_refuse_nan_images(func):
    img = np.random.default_rng(0).random((2, 4, 4))
    img[1, 2, 2] = np.nan
    args = {"rotate": (10.0,), "thicken": (0.5,), "change_contrast": (0.5,)}
    args["add_noise"] = (0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=rf"{func}: images must hold finite values.* in 1"):
        getattr(shifts, func)(img, *args[func])


def test_a_zero_shift_is_exactly_the_identity_and_the_domains_own_their_meta():
    from dtc.data.shifts import apply_shift

    images = np.random.default_rng(0).random((3, 8, 8))
    images[0, 0, 0] = 0.1  # 0.5 + (0.1 - 0.5) is 0.09999999999999998
    np.testing.assert_array_equal(apply_shift(images, 0.0, seed=0), images)
    pair = data.make_digits_pair(shift=0.3, seed=1)
    assert pair.source.meta is not pair.target.meta  # one dict: a change reached both
    assert pair.source.meta == pair.target.meta == {"benchmark": "digits", "shift": 0.3, "seed": 1}


def test_a_pixel_below_zero_alone_is_refused():
    # values in [-0.5, 1]: the maximum is in range, the minimum is not (0-centred pixels)
    img = np.random.default_rng(0).random((3, 4, 4))
    img[2, 3, 3] = -0.5
    with pytest.raises(ValueError, match=r"apply_shift: images .* found range \[-0\.5, "):
        shifts.apply_shift(img, 0.5)
    dom = data.Domain(img.reshape(3, -1), name="c", image_shape=(4, 4))
    with pytest.raises(ValueError, match=r"shift_domain: domain 'c': X must hold pixel values"):
        shifts.shift_domain(dom, 0.5)


def test_shift_domain_draws_its_noise_from_its_seed():
    img = np.random.default_rng(0).random((3, 4, 4))
    dom = data.Domain(img.reshape(3, -1), name="c", image_shape=(4, 4))
    for seed in (0, 3):
        out = shifts.shift_domain(dom, 0.5, seed=seed)
        expected = shifts.apply_shift(dom.X.reshape(3, 4, 4), 0.5, seed=seed)
        np.testing.assert_array_equal(out.X, expected.reshape(3, -1).astype(np.float32))
        assert out.meta["shift_seed"] == seed
    assert not np.array_equal(
        shifts.shift_domain(dom, 0.5, seed=0).X, shifts.shift_domain(dom, 0.5, seed=3).X
    )


def test_the_digits_seed_seeds_the_targets_noise_as_well_as_the_split():
    # "seed: Seeds the stratified split and the noise" (one number fixes the whole pair)
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    _, X_t, _, y_t = train_test_split(X / 16.0, y, train_size=0.5, stratify=y, random_state=3)
    pair = data.make_digits_pair(0.5, seed=3)
    expected = shifts.apply_shift(X_t.reshape(-1, 8, 8), 0.5, seed=3).reshape(len(y_t), -1)
    np.testing.assert_array_equal(pair.target.y, y_t)
    np.testing.assert_array_equal(pair.target.X, expected.astype(np.float32))
