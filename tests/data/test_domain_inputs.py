"""Bad input to the containers every loader returns (dtc.data.domain)."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

import dtc.data as data


def test_mismatched_feature_dimensions():
    with pytest.raises(ValueError, match="source has 3 features and target has 2"):
        data.DomainPair(data.Domain(np.zeros((4, 3))), data.Domain(np.zeros((4, 2))))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf(bad):
    X = np.zeros((3, 2))
    X[1, 0] = bad
    with pytest.raises(ValueError, match=r"'d'.*NaN or Inf in 1 row"):
        data.Domain(X, name="d")


def test_empty_domain():
    with pytest.raises(ValueError, match="empty domain"):
        data.Domain(np.zeros((0, 5)))
    with pytest.raises(ValueError, match="at least one feature"):
        data.Domain(np.zeros((3, 0)))


@pytest.mark.parametrize("labels", [[0, 1.5, 2], ["a", "b", "c"], [0, -1, 2]])
def test_non_integer_or_negative_labels(labels):
    with pytest.raises(ValueError, match="class labels"):
        data.Domain(np.zeros((3, 2)), np.array(labels))


def test_wrong_image_shape_and_label_count():
    with pytest.raises(ValueError, match="image_shape"):
        data.Domain(np.zeros((2, 6)), image_shape=(2, 2))
    with pytest.raises(ValueError, match="expected 2 labels"):
        data.Domain(np.zeros((2, 6)), [0, 1, 1])


def test_non_numeric_features_and_label_shapes():
    with pytest.raises(ValueError, match=r"X: expected numbers, got text"):
        data.check_features([["a", "b"]])
    with pytest.raises(ValueError, match=r"X: expected a numeric array of shape \(n, d\)"):
        data.check_features([[1.0, 2.0], [3.0]])  # ragged
    # objects: the message named the ndarray the list became, the type it asks for
    with pytest.raises(ValueError, match=r"got <class 'list'> holding date objects"):
        data.check_features([[1.0, datetime.date(2024, 1, 1)], [2.0, datetime.date(2024, 1, 2)]])
    # only the objects that are no numbers: numpy scalars and None (NaN) cast
    with pytest.raises(ValueError, match=r"got <class 'list'> holding date objects$"):
        data.check_features([[np.int64(1), None, datetime.date(2024, 1, 1)]])
    with pytest.raises(ValueError, match=r"X: values beyond float32's range"):
        data.check_features([[10**400, 1]])  # OverflowError, naming nothing
    with pytest.raises(ValueError, match=r"X: values beyond float32's range"):
        data.check_features([[10**39, 1.0]])  # read "NaN or Inf"
    # A column vector of labels is a label vector; a matrix of them is not.
    d = data.Domain(np.zeros((3, 2)), np.array([[0], [1], [1]]))
    np.testing.assert_array_equal(d.y, [0, 1, 1])
    with pytest.raises(ValueError, match=r"expected a 1-d label vector of shape \(n,\)"):
        data.Domain(np.zeros((3, 2)), np.zeros((3, 2), dtype=int))


def test_pair_members_and_cluster_count_are_checked():
    d = data.Domain(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="DomainPair: source must be a Domain"):
        data.DomainPair(np.zeros((4, 2)), d)
    with pytest.raises(ValueError, match="n_clusters must be an int >= 1, got 0"):
        data.DomainPair(d, d, n_clusters=0)
    for bad in (2.7, True, "3"):  # never rounded or read as 1
        with pytest.raises(ValueError, match=f"n_clusters must be an int >= 1, got {bad!r}"):
            data.DomainPair(d, d, n_clusters=bad)
    assert data.DomainPair(d, d, n_clusters=np.int64(2)).n_clusters == 2


def test_finite_values_beyond_float32_are_named_as_such():
    with pytest.raises(ValueError, match=r"'d': X: values beyond float32's range .* in 1 row"):
        data.Domain(np.array([[1e39, 1.0], [0.0, 1.0]]), name="d")


def test_a_pair_is_of_its_targets_benchmark_by_default():
    # built by hand (after select_source, from Domain.subset) a pair had no benchmark, and
    # the monitor's min_similarity="family" then judged no source: a digits source of
    # disjoint classes was kept (ACC 61.6 where the fallback gives 84.8)
    pair = data.make_digits_pair()
    src, tgt = (
        pair.source.subset(pair.source.y % 2 == 0),
        pair.target.subset(pair.target.y % 2 == 1),
    )
    assert data.DomainPair(src, tgt).benchmark == "digits"
    assert data.DomainPair(src, tgt, benchmark="mine").benchmark == "mine"  # given: kept
    # the target sets the scale, whatever the source names (another benchmark, or none)
    for source in (data.Domain(src.X, meta={"benchmark": "coil20"}), data.Domain(src.X)):
        assert data.DomainPair(source, tgt).benchmark == "digits"
    for target in (data.Domain(tgt.X), data.Domain(tgt.X, meta={"benchmark": ["x"]})):
        assert data.DomainPair(src, target).benchmark is None


def test_masking_an_unlabelled_target_returns_the_pair_itself():
    d = data.Domain(np.zeros((4, 2)), [0, 1, 0, 1])
    pair = data.DomainPair(d, d)
    masked = pair.mask_target_labels()
    assert masked.target.y is None and pair.target.y is not None
    assert masked.mask_target_labels() is masked


def test_complex_features_are_refused_not_cut_to_their_real_part():
    # the float32 cast dropped the imaginary parts with a ComplexWarning only
    with pytest.raises(ValueError, match=r"'d': X: expected a real numeric array.*complex"):
        data.Domain(np.array([[1 + 2j, 3.0], [0.0, 1.0]]), name="d")
    with pytest.raises(ValueError, match=r"feats: expected a real numeric array"):
        data.check_features([[1j, 0.0]], name="feats")
    assert data.check_features(np.array([[1 + 0j]]).real).dtype == np.float32


def test_text_features_are_refused_not_parsed():
    # "1_000" became 1000.0 without a word, where DTC.transform_target refused the array
    for X in (np.array([["1_000", " 2 "], ["3e2", "4"]]), np.array([[b"1", b"2"]])):
        with pytest.raises(ValueError, match=r"'d': X: expected numbers, got text"):
            data.Domain(X, name="d")
    with pytest.raises(ValueError, match=r"feats: expected numbers, got text \(dtype object\)"):
        data.check_features(np.array([[1.0, "2"]], dtype=object), name="feats")
    assert data.check_features(np.array([[1.0, 2]], dtype=object)).dtype == np.float32
    with pytest.raises(ValueError, match=r"'d': X: expected numbers, got text"):
        data.Domain([["1", "2"], ["3", "4"]], name="d")  # a list too, not only an array
    assert data.check_features([[1.0, 2.0]]).dtype == np.float32


def test_torch_tensors_are_read_whatever_their_autograd_state_and_meta_is_named():
    torch = pytest.importorskip("torch")
    X = torch.arange(12.0).reshape(6, 2).requires_grad_()
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    d = data.Domain(X, y, name="d")  # torch's "Can't call numpy() on Tensor that requires grad"
    np.testing.assert_array_equal(d.X, X.detach().numpy())
    np.testing.assert_array_equal(d.y, [0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"^Domain 'd': X: got a tensor on the 'meta' device"):
        data.Domain(torch.zeros(6, 2, device="meta"), name="d")
    with pytest.raises(ValueError, match=r"^Domain 'd': y: got a tensor on the 'meta' device"):
        data.Domain(np.zeros((6, 2)), torch.zeros(6, device="meta"), name="d")


def test_pair_heterogeneous_and_domain_meta_are_checked():
    d = data.Domain(np.zeros((4, 3)))
    # the string "no" is truthy: it used to make a heterogeneous pair
    with pytest.raises(ValueError, match="DomainPair: heterogeneous must be True or False"):
        data.DomainPair(d, d, heterogeneous="no")
    with pytest.raises(ValueError, match="meta must be a dict, got None"):
        data.Domain(np.zeros((4, 3)), meta=None)


def test_float64_values_below_float32_range_are_refused_like_those_above():
    from dtc.cluster import kmeans
    from dtc.data.domain import check_features

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 6]
    # the cast made them subnormal or 0: an inertia 18 % off at 1e-44, one cluster at 1e-50
    for scale in (1e-44, 1e-50):
        with pytest.raises(ValueError, match="X: values below float32's normal range"):
            kmeans(X * scale, 2, seed=0)
    # still clustered at full precision where float32 holds them (the clusterers rescale)
    _, _, inertia = kmeans(X * 1e-30, 2, seed=0)
    assert inertia == pytest.approx(kmeans(X, 2, seed=0)[2] * 1e-60, rel=1e-5)
    assert check_features(np.zeros((3, 2))).sum() == 0  # all zeros: nothing lost


def test_a_domain_holds_its_own_features_and_meta():
    # float32 C-contiguous input (and CPU tensors) was kept as is: a NaN written into the
    # caller's array after the check reached every method; meta was shared with subsets
    # and the preprocessings' outputs, so an edit of one domain's meta edited another's
    X = np.ones((4, 2), dtype=np.float32)
    dom = data.Domain(X, meta={"note": "a"})
    X[0, 0] = np.nan
    assert np.isfinite(dom.X).all()
    sub = dom.subset(np.arange(2))
    sub.meta["note"] = "b"
    # an index held in a tensor that numpy cannot read directly (a GPU's: "can't convert
    # cuda:0 device type tensor"; meta holds no values and is refused by name)
    import torch

    np.testing.assert_array_equal(dom.subset(torch.tensor([0, 2])).X, dom.X[[0, 2]])
    with pytest.raises(ValueError, match="Domain.subset: index: got a tensor on the 'meta'"):
        dom.subset(torch.tensor([0, 2], device="meta"))
    assert dom.meta["note"] == "a"
    out = data.standardize(data.DomainPair(dom, data.Domain(np.zeros((3, 2)))))
    out.source.meta["note"] = "c"
    assert dom.meta["note"] == "a"


def test_class_names_held_in_an_array_pair_and_combine():
    # `None not in names` compared the array element-wise: "truth value ... ambiguous"
    from dtc.monitor.selection import combine_sources

    names = np.array(["cat", "dog"])
    y = np.array([0, 1, 0, 1])
    src = data.Domain(np.ones((4, 2)), y, meta={"classes": names})
    data.DomainPair(src, data.Domain(np.ones((4, 2))))
    data.DomainPair(src, data.Domain(np.ones((4, 2)), y, meta={"classes": names.copy()}))
    with pytest.raises(ValueError, match="the source numbers its classes"):
        data.DomainPair(src, data.Domain(np.ones((4, 2)), y, meta={"classes": names[::-1]}))
    combined = combine_sources([src, src], [1, 1])
    assert list(combined.meta["classes"]) == ["cat", "dog"]


def test_labels_beyond_int64_are_named_as_such():
    # the cast wrapped them, and "expected non-negative class labels, got minimum
    # -9223372036854775808" blamed a negative label nobody gave
    for y in (np.array([0, 2**63], dtype=np.uint64), np.array([0.0, 1e19])):
        with pytest.raises(ValueError, match="expected labels within int64's range"):
            data.Domain(np.ones((2, 2)), y)


def test_too_few_rows_are_no_empty_domain():
    """ "(empty domain?)" was said of 2 rows where 3 are needed."""
    from dtc.data.domain import check_features

    with pytest.raises(ValueError, match=r"^X: expected at least 3 sample\(s\), got 2$"):
        check_features(np.ones((2, 3)), min_samples=3)
    with pytest.raises(ValueError, match=r"got 0 \(empty domain\?\)$"):
        check_features(np.ones((0, 3)))


def test_masked_values_are_refused_not_read_as_their_hidden_data():
    # np.asarray drops a masked array's mask: the hidden values (a fill, or the cell's old
    # value) were clustered and scored as data, where a NaN is refused
    from dtc.data.preprocessing import zscore_columns

    X = np.ma.masked_array(np.arange(6.0).reshape(3, 2), mask=[[1, 0], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match=r"Domain 'a': X: got a masked array with 1 masked"):
        data.Domain(X, name="a")
    with pytest.raises(ValueError, match=r"zscore_columns: X: got a masked array with 1"):
        zscore_columns(X)
    y = np.ma.masked_array([0, 1, 1], mask=[0, 0, 1])
    with pytest.raises(ValueError, match=r"Domain 'a': y: got a masked array with 1 masked"):
        data.Domain(X.filled(0.0), y, name="a")
    # a masked array with nothing masked is its data
    whole = data.Domain(np.ma.masked_array(np.ones((2, 2))), np.ma.masked_array([0, 1]))
    assert whole.X.tolist() == [[1.0, 1.0], [1.0, 1.0]] and whole.y.tolist() == [0, 1]
