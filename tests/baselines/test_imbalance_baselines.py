"""Resampled transfer for imbalanced data.

Synthetic shift: three elongated Gaussian classes (std 3 along x, 0.4 along y) stacked
along y. K-means prefers to cut along the long axis, so target-only K-means is near
chance; a classifier learned on the labelled source cuts along y. The source is
strongly imbalanced (500 / 20 / 20), the target balanced (100 each) and translated.
With per-domain standardisation (the default) the unbalanced source's moments do not
match the balanced target's, so transfer without resampling fails; resampling fixes it.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from baselines.resampling import SAMPLERS, ResampledTransfer, resample
from dtc import methods
from dtc.data import Domain, DomainPair
from dtc.metrics import acc_unmatched, cluster_acc


def elongated_pair(seed=0, sizes_s=(500, 20, 20), sizes_t=(100, 100, 100), gap=0.8):
    rng = np.random.default_rng(seed)

    def draw(sizes, offset):
        X = np.vstack(
            [
                np.array([0.0, c * gap]) + offset + rng.standard_normal((n, 2)) * [3.0, 0.4]
                for c, n in enumerate(sizes)
            ]
        )
        return X, np.repeat(np.arange(len(sizes)), sizes)

    Xs, ys = draw(sizes_s, 0.0)
    Xt, yt = draw(sizes_t, np.array([0.5, 0.2]))
    return DomainPair(Domain(Xs, ys, name="source"), Domain(Xt, yt, name="target"), n_clusters=3)


@pytest.fixture(scope="module")
def pair():
    return elongated_pair()


@pytest.fixture(scope="module")
def accuracies(pair):
    out = {"kmeans": cluster_acc(pair.target.y, methods.get("kmeans").fit(pair).labels_)}
    for sampler in SAMPLERS:
        est = ResampledTransfer(sampler=sampler).fit(pair)
        out[sampler] = cluster_acc(pair.target.y, est.labels_)
        # Clusters are named by source classes: no matching needed.
        assert acc_unmatched(pair.target.y, est.labels_, est.cluster_classes_) == pytest.approx(
            out[sampler]
        )
    return out


@pytest.mark.parametrize("sampler", ["smote", "random_over", "random_under"])
def test_resampled_transfer_beats_target_kmeans(accuracies, sampler):
    assert accuracies["kmeans"] < 0.45
    assert accuracies[sampler] >= accuracies["kmeans"] + 0.2, accuracies


@pytest.mark.parametrize("sampler", ["smote", "random_over", "random_under"])
def test_resampling_helps_on_an_imbalanced_source(accuracies, sampler):
    # Without resampling the 25:1:1 source is standardised around its majority class.
    assert accuracies[sampler] >= accuracies["none"] + 0.2, accuracies


def test_source_standardisation_without_resampling(pair, accuracies):
    # Scaling both domains with the source's statistics avoids the prior-shift trap, and
    # the classifier still beats target-only K-means, but less than with resampling.
    est = ResampledTransfer(sampler="none", standardize="source").fit(pair)
    acc = cluster_acc(pair.target.y, est.labels_)
    assert accuracies["kmeans"] + 0.2 <= acc < accuracies["random_over"]


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [("smote", 500), ("random_over", 500), ("random_under", 20), ("none", None)],
)
def test_source_is_rebalanced(pair, sampler, expected):
    est = ResampledTransfer(sampler=sampler).fit(pair)
    counts = est.source_class_counts_
    if expected is None:
        assert counts == {0: 500, 1: 20, 2: 20}
    else:
        assert counts == {0: expected, 1: expected, 2: expected}


@pytest.mark.parametrize("standardize", ["per_domain", "source"])
def test_predictions_are_the_logistic_regression_of_the_documented_recipe(pair, standardize):
    # sampler="none": a logistic regression (inverse regularisation C) on the standardised
    # source, applied to the target standardised by its own or the source's statistics.
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    Xs, ys, Xt = pair.source.X, pair.source.y, pair.target.X
    scaler = StandardScaler().fit(Xs)
    target_scaler = StandardScaler().fit(Xt) if standardize == "per_domain" else scaler
    for C in (1e-3, 1.0):
        clf = LogisticRegression(C=C, max_iter=1000).fit(scaler.transform(Xs), ys)
        expected = clf.predict(target_scaler.transform(Xt))
        est = ResampledTransfer(sampler="none", standardize=standardize, C=C).fit(pair)
        np.testing.assert_array_equal(est.labels_, expected)
    weak = ResampledTransfer(sampler="none", standardize=standardize, C=1e-3).fit(pair).labels_
    assert not np.array_equal(weak, est.labels_)  # C matters here


def test_k_neighbors_and_seed_reach_the_sampler(pair, monkeypatch):
    import baselines.resampling as resampling

    seen = []
    real = resampling.resample

    def spy(X, y, sampler, **kw):
        seen.append((sampler, kw))
        return real(X, y, sampler, **kw)

    monkeypatch.setattr(resampling, "resample", spy)
    ResampledTransfer(sampler="smote", k_neighbors=2, seed=3).fit(pair)
    assert seen == [("smote", {"k_neighbors": 2, "seed": 3})]


@pytest.mark.parametrize("k", [1, 3])
def test_smote_samples_lie_between_a_sample_and_one_of_its_k_neighbours(k):
    # SMOTE (Chawla et al., 2002): every synthetic sample is x + u (x_nn - x), u in [0, 1],
    # with x_nn one of the k nearest minority neighbours of the minority sample x; checked
    # by hand (brute-force neighbours) for one minority class, so k_neighbors must count.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(30, 2)), rng.normal(5, 1, size=(6, 2))])
    y = np.repeat([0, 1], [30, 6])
    Xr, yr = resample(X, y, "smote", k_neighbors=k, seed=0)
    minority = X[y == 1]
    d2 = ((minority[:, None] - minority[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    neighbours = np.argsort(d2, axis=1)[:, :k]
    synthetic = Xr[len(X) :]
    assert (yr[len(X) :] == 1).all() and len(synthetic) == 24

    def on_segment(s, a, b):
        d = b - a
        u = np.dot(s - a, d) / np.dot(d, d)
        return -1e-9 <= u <= 1 + 1e-9 and np.allclose(a + u * d, s, atol=1e-9)

    for s in synthetic:
        assert any(
            on_segment(s, minority[i], minority[j])
            for i in range(len(minority))
            for j in neighbours[i]
        )


def test_refinement_runs_kmeans_from_the_predicted_classes(pair):
    est = ResampledTransfer(refine=True).fit(pair)
    assert est.labels_.shape == (pair.target.n_samples,)
    # Lloyd's fixed point: every target sample is at its nearest centre.
    d = ((pair.target.X[:, None, :] - est.cluster_centers_[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(axis=1), est.labels_)
    plain = ResampledTransfer(refine=False).fit(pair)
    np.testing.assert_array_equal(plain.labels_, plain.initial_labels_)


def test_refinement_gets_max_iter_and_the_seed(pair, monkeypatch):
    import baselines.resampling as resampling

    seen = []
    real = resampling.kmeans

    def spy(X, k, **kw):
        seen.append({key: kw[key] for key in ("n_init", "seed", "max_iter")})
        return real(X, k, **kw)

    monkeypatch.setattr(resampling, "kmeans", spy)
    ResampledTransfer(refine=True, max_iter=2, seed=4).fit(pair)
    assert seen == [{"n_init": 1, "seed": 4, "max_iter": 2}]


def test_needs_a_labelled_source(pair):
    unlabelled = DomainPair(pair.source.without_labels(), pair.target, n_clusters=3)
    with pytest.raises(ValueError, match="ResampledTransfer: this method needs a labelled source"):
        ResampledTransfer().fit(unlabelled)


def test_bad_input(pair):
    with pytest.raises(
        ValueError,
        match=r"ResampledTransfer: .*n_clusters \(4\) must equal the number of source classes \(3\)",
    ):
        ResampledTransfer(n_clusters=4).fit(pair)
    # None takes the pair's n_clusters (as DTC's): the message named a 4 never given
    wider = DomainPair(pair.source, pair.target, n_clusters=4)
    with pytest.raises(ValueError, match=r"n_clusters=None takes the pair's n_clusters: give n_"):
        ResampledTransfer().fit(wider)
    # a one-class source is refused as such, not advised n_clusters=1 (refused next)
    one = pair.source.subset(np.flatnonzero(pair.source.y == pair.source.y[0]))
    with pytest.raises(ValueError, match="needs a labelled source with at least 2 classes"):
        ResampledTransfer().fit(DomainPair(one, pair.target, n_clusters=2))
    with pytest.raises(ValueError, match="ResampledTransfer: standardize must be"):
        ResampledTransfer(standardize="robust").fit(pair)
    with pytest.raises(ValueError, match="ResampledTransfer: sampler must be one of"):
        ResampledTransfer(sampler="adasyn").fit(pair)
    with pytest.raises(ValueError, match="resample: sampler must be one of"):
        resample(pair.source.X, pair.source.y, "tomek")


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize(
    ("y", "match"),
    [
        # np.bincount's "'list' argument must have no negative elements"
        (np.repeat([-1, 0, 1], [10, 4, 4]), "resample: y: expected non-negative class labels"),
        # a numpy cast TypeError
        (np.repeat([0.5, 1.0, 2.0], [10, 4, 4]), "resample: y: expected integer class labels"),
        (np.zeros((18, 2), dtype=int), r"resample: y: expected a 1-d label vector"),
    ],
)
def test_resample_names_bad_labels(sampler, y, match):
    X = np.random.default_rng(0).normal(size=(18, 2))
    with pytest.raises(ValueError, match=match):
        resample(X, y, sampler)


@pytest.mark.parametrize("sampler", ["none", "smote"])
def test_resample_refuses_features_and_labels_of_other_lengths(sampler):
    # "none" (and SMOTE on classes already balanced) returned them mismatched
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"resample: X must have shape \(n, d\) with one row"):
        resample(X, [0, 1, 0, 1], sampler)


@pytest.mark.filterwarnings("ignore:resample. random_under cuts every class")
@pytest.mark.parametrize("sampler", ["none", "random_over", "random_under", "smote"])
def test_resample_returns_arrays_and_names_non_finite_features(sampler):
    # a list of rows came back a list (no .shape); NaN failed in imbalanced-learn's words
    X = np.random.default_rng(0).normal(size=(31, 3))
    y = np.repeat([0, 1, 2], [20, 8, 3])
    Xr, yr = resample(X.tolist(), y.tolist(), sampler)
    assert isinstance(Xr, np.ndarray) and Xr.dtype == np.float64 and Xr.shape == (len(yr), 3)
    assert resample(X.astype(np.float32), y, sampler)[0].dtype == np.float32
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="^resample: X must be finite, found NaN or Inf"):
        resample(X, y, sampler)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k_neighbors": True}, "resample: k_neighbors must be"),
        ({"k_neighbors": None}, "resample: k_neighbors must be"),
        ({"seed": -1}, "resample: seed must be"),
    ],
)
def test_resample_checks_its_parameters_as_resampled_transfer_does(kwargs, match):
    # True ran as k = 1; None and seed=-1 failed inside imbalanced-learn
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.repeat([0, 1], [14, 6])
    with pytest.raises(ValueError, match=match):
        resample(X, y, "smote", **kwargs)


def test_resample_takes_integer_valued_float_labels():
    # As a Domain does: 0.0, 1.0 are the classes 0, 1 (returned as int64).
    X = np.random.default_rng(0).normal(size=(14, 2))
    y = np.repeat([0, 1], [10, 4])
    Xr, yr = resample(X, y.astype(float), "smote", k_neighbors=3, seed=0)
    Xi, yi = resample(X, y, "smote", k_neighbors=3, seed=0)
    np.testing.assert_array_equal(Xr, Xi)
    assert yr.dtype == np.int64 and np.array_equal(yr, yi)
    assert np.bincount(yr).tolist() == [10, 10]


@pytest.mark.parametrize("sampler", ["random_over", "random_under", "smote"])
def test_resample_is_imbalanced_learns_sampler_at_the_given_seed(sampler):
    # every class larger than k_neighbors: the plain imbalanced-learn sampler
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.repeat([0, 1, 2], [40, 12, 8])
    make = {
        "random_over": lambda s: RandomOverSampler(random_state=s),
        "random_under": lambda s: RandomUnderSampler(random_state=s),
        "smote": lambda s: SMOTE(k_neighbors=5, random_state=s),
    }[sampler]
    out = {}
    for seed in (0, 1):
        Xr, yr = resample(X, y, sampler, seed=seed)
        Xe, ye = make(seed).fit_resample(X, y)
        np.testing.assert_array_equal(Xr, Xe)
        np.testing.assert_array_equal(yr, ye)
        out[seed] = Xr
    assert not np.array_equal(out[0], out[1])  # the seed matters


def test_registered_and_clonable():
    assert methods.get_class("resampled_transfer") is ResampledTransfer
    est = methods.get("resampled_transfer", sampler="random_under")
    assert clone(est).get_params() == est.get_params()
    assert ResampledTransfer.requires_source_labels


def test_smote_over_samples_only_a_single_sample_class_at_random():
    # A class of one sample has no neighbour for SMOTE. The whole source was then
    # over-sampled at random (copies in every minority class), not only that class.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(20, 2)), rng.normal(5, 1, size=(6, 2)), [[9.0, 9.0]]])
    y = np.repeat([0, 1, 2], [20, 6, 1])
    Xr, yr = resample(X, y, "smote", k_neighbors=5, seed=0)
    assert np.bincount(yr).tolist() == [20, 20, 20]
    np.testing.assert_array_equal(Xr[: len(X)], X)  # the originals first, unchanged
    new, new_y = Xr[len(X) :], yr[len(X) :]
    # class 2: copies of its one sample
    np.testing.assert_array_equal(new[new_y == 2], np.tile([9.0, 9.0], (19, 1)))
    # class 1: SMOTE's interpolations, none a copy of an original sample
    synthetic = new[new_y == 1]
    assert len(synthetic) == 14
    copies = (np.abs(synthetic[:, None, :] - X[None, y == 1, :]).sum(-1) < 1e-12).any(1)
    assert not copies.any()
    # every class a single sample: already balanced, returned as it is
    Xs, ys = resample(np.eye(3), [0, 1, 2], "smote")
    np.testing.assert_array_equal(Xs, np.eye(3))
    assert ys.tolist() == [0, 1, 2]


def test_smote_on_a_class_of_two_samples_interpolates_between_them():
    # k_neighbors=5 is lowered to 1 (the class's other sample): every synthetic sample
    # lies on the segment between the two, strictly inside it.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(12, 2)), [[4.0, 4.0], [6.0, 8.0]]])
    y = np.repeat([0, 1], [12, 2])
    Xr, yr = resample(X, y, "smote", k_neighbors=5, seed=0)
    assert np.bincount(yr).tolist() == [12, 12]
    np.testing.assert_array_equal(Xr[: len(X)], X)
    t = (Xr[len(X) :, 0] - 4.0) / 2.0  # position along the segment
    np.testing.assert_allclose(Xr[len(X) :], np.array([4.0, 4.0]) + t[:, None] * [2.0, 4.0])
    assert np.all((t > 0) & (t < 1))


def test_random_under_warns_when_it_leaves_fewer_than_five_samples_per_class():
    # Every class is cut to the smallest: a class of 1 sample left one per class, silently.
    X = np.arange(62.0).reshape(31, 2)
    y = np.repeat([0, 1, 2], [20, 10, 1])
    with pytest.warns(UserWarning, match=r"class 2 of 1 sample\(s\): 1 sample\(s\) per class"):
        _, yr = resample(X, y, "random_under", seed=0)
    assert np.bincount(yr).tolist() == [1, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 5 per class: no warning
        _, yr = resample(X, np.repeat([0, 1, 2], [20, 6, 5]), "random_under", seed=0)
    assert np.bincount(yr).tolist() == [5, 5, 5]


@pytest.mark.parametrize("sampler", ["smote", "random_over", "random_under"])
def test_source_labels_are_resampled_and_named_as_given(sampler):
    # The source was renumbered 0..k-1 before resampling: random_under's warning named
    # "class 2" for the user's class 9. Resampled under the given labels now, with the
    # same result as under contiguous ones (the samplers take classes in sorted order).
    contiguous = elongated_pair(sizes_s=(60, 30, 3))
    relabelled = np.array([0, 5, 9])[contiguous.source.y]
    given = DomainPair(Domain(contiguous.source.X, relabelled), contiguous.target, n_clusters=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ResampledTransfer(sampler=sampler).fit(contiguous)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = ResampledTransfer(sampler=sampler).fit(given)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    assert est.cluster_classes_.tolist() == [0, 5, 9]
    assert list(est.source_class_counts_.values()) == list(ref.source_class_counts_.values())
    messages = [str(w.message) for w in caught if "random_under cuts" in str(w.message)]
    assert len(messages) == (sampler == "random_under")
    if messages:
        assert "class 9 of 3 sample(s)" in messages[0]


def test_smote_takes_a_smallest_class_of_exactly_k_neighbors_samples():
    # k_neighbors neighbours need k_neighbors + 1 samples: a class of exactly 5 with k=5
    # is lowered to k=4 (imbalanced-learn's SMOTE with k=5 refuses it, naming neither
    # resample nor the class); the same draws as imbalanced-learn's own at k=4
    from imblearn.over_sampling import SMOTE

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(20, 2)), rng.normal(5, 1, (5, 2))])
    y = np.repeat([0, 1], [20, 5])
    Xr, yr = resample(X, y, "smote", k_neighbors=5, seed=3)
    Xref, yref = SMOTE(sampling_strategy={1: 20}, k_neighbors=4, random_state=3).fit_resample(X, y)
    np.testing.assert_array_equal(yr, yref)
    np.testing.assert_allclose(Xr, Xref)


def test_smote_lowers_k_neighbors_only_for_the_classes_too_small_for_it():
    # SMOTE (Chawla et al., 2002): a synthetic sample lies on the segment from a minority
    # sample to one of its k nearest same-class neighbours. A class of 3 samples lowered k
    # to 2 for every class: class 1 (20 samples) then used only its 2 nearest neighbours.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(40, 2)), rng.normal(5, 1, (20, 2)), rng.normal(-5, 1, (3, 2))])
    y = np.repeat([0, 1, 2], [40, 20, 3])
    Xr, yr = resample(X, y, "smote", k_neighbors=5, seed=0)
    assert np.bincount(yr).tolist() == [40, 40, 40]
    np.testing.assert_array_equal(Xr[: len(X)], X)

    def neighbour_ranks(c, k):
        """For every synthetic sample of class c: the rank (1..k) of the neighbour whose
        segment from a class-c sample holds it (asserting there is one)."""
        own = X[y == c]
        order = np.argsort(((own[:, None] - own[None]) ** 2).sum(-1), axis=1)[:, 1 : k + 1]
        ranks = []
        for s in Xr[len(X) :][yr[len(X) :] == c]:
            found = [
                r + 1
                for i, a in enumerate(own)
                for r, j in enumerate(order[i])
                if np.allclose(
                    a
                    + np.clip(np.dot(s - a, own[j] - a) / np.dot(own[j] - a, own[j] - a), 0, 1)
                    * (own[j] - a),
                    s,
                    atol=1e-9,
                )
            ]
            assert found, "a synthetic sample off every segment to a k-nearest neighbour"
            ranks.append(min(found))
        return ranks

    assert max(neighbour_ranks(1, 5)) == 5  # class 1 keeps k=5 (not 2, nor 4)
    assert len(neighbour_ranks(2, 2)) == 37  # class 2 (3 samples) gets k=2


def test_a_class_predicted_for_no_target_sample_keeps_its_source_mean():
    # The target holds classes 0 and 1 only: class 2 is predicted for no target sample,
    # so its centre is its (resampled) source mean; the others are the target centroids
    # of their predicted classes. sampler="none": the resampled source is the source.
    rng = np.random.default_rng(3)
    means = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    ys = np.repeat([0, 1, 2], 20)
    Xs = means[ys] + 0.5 * rng.standard_normal((60, 2))
    Xt = means[np.repeat([0, 1], 15)] + 0.5 * rng.standard_normal((30, 2))
    pair = DomainPair(Domain(Xs, ys), Domain(Xt), n_clusters=3)
    est = ResampledTransfer(sampler="none", standardize="source").fit(pair)
    pred = est.initial_labels_
    assert set(pred.tolist()) == {0, 1}
    Xs, Xt = pair.source.X.astype(np.float64), pair.target.X.astype(np.float64)  # as stored
    expected = np.stack([Xt[pred == 0].mean(0), Xt[pred == 1].mean(0), Xs[ys == 2].mean(0)])
    np.testing.assert_allclose(est.cluster_centers_, expected, rtol=1e-12)


def test_smote_takes_large_label_values_as_the_other_samplers_do():
    """Classes were counted with np.bincount: a label of 10**10 asked for 75 GiB. The same
    data with labels 0, 1, 2 (in the same order) gives the same rows, class for class."""
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.r_[[0] * 20, [1] * 7, [2] * 3]
    big = np.array([0, 10**10, 10**10 + 1])
    Xr, yr = resample(X, y, "smote", k_neighbors=2, seed=0)
    Xb, yb = resample(X, big[y], "smote", k_neighbors=2, seed=0)
    np.testing.assert_array_equal(Xb, Xr)
    np.testing.assert_array_equal(yb, big[yr])
