"""Domain / DomainPair validation: every bad input names what was expected."""

import dataclasses

import numpy as np
import pytest

from dtc.data import Domain, DomainPair


def _domain(n=6, d=3, labels=True, name="d"):
    rng = np.random.default_rng(0)
    return Domain(rng.normal(size=(n, d)), np.arange(n) % 2 if labels else None, name=name)


def test_domain_casts_to_float32_and_int64():
    dom = Domain(np.arange(6, dtype=np.float64).reshape(3, 2), np.array([1.0, 0.0, 1.0]))
    assert dom.X.dtype == np.float32 and dom.y.dtype == np.int64
    assert dom.n_classes == 2 and dom.n_samples == 3 and dom.n_features == 2


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.zeros((0, 3)), None, "at least 1 sample"),
        (np.zeros(3), None, "2-d"),
        (np.array([[1.0, np.nan]]), None, "NaN or Inf"),
        (np.array([[1.0, np.inf]]), None, "NaN or Inf"),
        (np.zeros((3, 2)), np.array([0, 1]), "expected 3 labels"),
        (np.zeros((3, 2)), np.array([0.5, 1, 2]), "integer"),
        (np.zeros((3, 2)), np.array(["a", "b", "c"]), "integer"),
        (np.zeros((3, 2)), np.array([0, -1, 2]), "non-negative"),
    ],
)
def test_domain_rejects_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        Domain(X, y, name="bad")


def test_image_shape_must_match_features():
    with pytest.raises(ValueError, match="image_shape"):
        Domain(np.zeros((2, 10)), image_shape=(3, 3))


def test_pair_rejects_mismatched_dimensions_unless_heterogeneous():
    s, t = _domain(d=3, name="s"), _domain(d=4, name="t")
    with pytest.raises(ValueError, match="same feature dimension"):
        DomainPair(s, t)
    assert DomainPair(s, t, heterogeneous=True).heterogeneous


def test_mask_target_labels_keeps_source_labels():
    pair = DomainPair(_domain(name="s"), _domain(name="t"), n_clusters=2)
    masked = pair.mask_target_labels()
    assert masked.target.y is None and masked.source.y is not None
    np.testing.assert_array_equal(masked.target.X, pair.target.X)
    assert pair.target.y is not None  # the original is unchanged


def test_mask_target_labels_drops_the_imbalance_record_of_the_target():
    from dtc.data import load_pair

    pair = load_pair("digits", imbalance={"ratio": 10, "seed": 0})
    masked = pair.mask_target_labels()
    # Nothing derived from the target labels: the ratio and profile asked for would give
    # the exact class sizes back with the target's size and number of clusters.
    assert "imbalance" in pair.target.meta
    assert set(masked.target.meta) == set(pair.target.meta) - {"imbalance"}
    for key, value in masked.target.meta.items():
        assert value == pair.target.meta[key]  # the protocol's settings stay
    # the unmasked pair (the evaluation side) keeps the true per-class sizes
    labels, counts = np.unique(pair.target.y, return_counts=True)
    sizes = pair.target.meta["imbalance"]["class_sizes"]
    assert sizes == dict(zip(labels.tolist(), counts.tolist()))
    # a target whose labels were dropped by hand kept the record: the method saw it
    unlabelled = dataclasses.replace(pair, target=dataclasses.replace(pair.target, y=None))
    assert "imbalance" not in unlabelled.mask_target_labels().target.meta


@pytest.mark.parametrize("shape", [(-8, -8), (8.9, 8.2), (64,), (1, 1, 8, 8), ("8", "8"), 64])
def test_image_shape_must_be_two_or_three_positive_ints(shape):
    """Only the product was checked, after int(): (-8, -8) and (8.9, 8.2) passed for 64
    features (the latter truncated to (8, 8)), as did shapes of 1 or 4 axes."""
    with pytest.raises(ValueError, match=r"image_shape must be \(H, W\) or \(C, H, W\)"):
        Domain(np.zeros((2, 64)), image_shape=shape)
    assert Domain(np.zeros((2, 64)), image_shape=np.array([1, 8, 8])).image_shape == (1, 8, 8)


def test_mask_target_labels_drops_the_target_class_names():
    # A file's class names are its labels' sorted values (which classes, how many): a
    # method must not see them, with the labels or after they were dropped by hand.
    names = ["cat", "dog"]
    src = Domain(np.ones((4, 2)), [0, 1, 0, 1], meta={"classes": names, "file": "s.csv"})
    tar = Domain(np.ones((4, 2)), [1, 0, 1, 0], meta={"classes": names, "file": "t.csv"})
    masked = DomainPair(src, tar).mask_target_labels()
    assert masked.target.y is None and masked.target.meta == {"file": "t.csv"}
    assert masked.source.meta["classes"] == names  # the source's are the model's names
    assert tar.without_labels().meta == {"file": "t.csv"}
    hand = dataclasses.replace(tar, y=None)
    assert "classes" not in DomainPair(src, hand).mask_target_labels().target.meta
