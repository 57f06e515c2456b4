"""Pseudo-labels of dtc.self_training, checked against scikit-learn and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from dtc.self_training import (
    TINY,
    anchored_kmeans,
    confident_mask,
    has_direction,
    pseudo_labels,
    unit_rows,
)


def _blobs(rng, n=60):
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    y = np.repeat(np.arange(3), n)
    return centres[y] + rng.normal(size=(3 * n, 2)), y, centres


def test_euclidean_mode_is_lloyd_from_the_given_centres_like_sklearn():
    rng = np.random.default_rng(0)
    X, _, centres = _blobs(rng)
    init = centres + rng.normal(scale=2.0, size=centres.shape)
    labels, C, sim = anchored_kmeans(X, init, spherical=False)
    ref = KMeans(3, init=init, n_init=1, tol=0, max_iter=300).fit(X)
    assert np.array_equal(labels, ref.labels_)  # same index for the same anchor
    np.testing.assert_allclose(C, ref.cluster_centers_, atol=1e-8)
    dist = ((X[:, None, :] - C[None]) ** 2).sum(-1)
    np.testing.assert_allclose(sim, -dist, atol=1e-8)


def test_spherical_mode_clusters_directions_whatever_the_norms():
    rng = np.random.default_rng(1)
    angles = np.repeat([0.0, 2.0, 4.0], 40) + rng.normal(scale=0.1, size=120)
    radii = rng.uniform(0.1, 10.0, size=120)  # the norm carries no class information
    X = np.c_[np.cos(angles), np.sin(angles)] * radii[:, None]
    init = np.c_[np.cos([0.3, 2.3, 4.3]), np.sin([0.3, 2.3, 4.3])] * 5.0
    labels, C, sim = anchored_kmeans(X, init, spherical=True)
    assert np.array_equal(labels, np.repeat(np.arange(3), 40))
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0)
    # a fixed point: every centre is the normalised mean of its unit-norm members
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    for c in range(3):
        m = U[labels == c].mean(0)
        np.testing.assert_allclose(C[c], m / np.linalg.norm(m), atol=1e-12)
    np.testing.assert_allclose(sim, U @ C.T, atol=1e-12)


def test_an_emptied_anchor_keeps_its_name_and_place():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    init = np.array([[0.0, 0.0], [5.0, 5.0], [100.0, -100.0]])
    labels, C, _ = anchored_kmeans(X, init, spherical=False)
    assert labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(C[2], init[2])


def test_confident_mask_keeps_the_top_margin_fraction_of_every_cluster():
    rng = np.random.default_rng(2)
    S = rng.normal(size=(50, 4))
    labels = S.argmax(1)
    keep = confident_mask(labels, S, 0.3)
    srt = np.sort(S, axis=1)
    margin = srt[:, -1] - srt[:, -2]  # brute force: best minus runner-up
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        m = int(np.ceil(0.3 * len(idx)))
        assert keep[idx].sum() == m
        assert set(idx[keep[idx]]) == set(idx[np.argsort(-margin[idx])[:m]])
    assert confident_mask(labels, S, 1.0).all()


def test_tensors_are_read_like_arrays_also_with_grad():
    # np.asarray refused an encoder's output that requires grad ("Can't call numpy() on
    # Tensor that requires grad"; a GPU tensor: "can't convert cuda:0 device type tensor"),
    # where dtc's other clustering functions take it
    import torch

    rng = np.random.default_rng(3)
    X, _, centres = _blobs(rng)
    Z = torch.tensor(X, requires_grad=True)
    labels, C, sim = anchored_kmeans(Z, torch.tensor(centres), spherical=False)
    ref = anchored_kmeans(X, centres, spherical=False)
    np.testing.assert_array_equal(labels, ref[0])
    np.testing.assert_array_equal(C, ref[1])
    S = torch.tensor(sim, requires_grad=True)
    np.testing.assert_array_equal(
        confident_mask(torch.tensor(labels), S, 0.5), confident_mask(labels, sim, 0.5)
    )
    with pytest.raises(ValueError, match="anchored_kmeans: Z: got a tensor on the 'meta'"):
        anchored_kmeans(torch.empty(3, 2, device="meta"), centres)


def test_pseudo_labels_recover_shifted_blobs_from_source_means():
    rng = np.random.default_rng(3)
    Xs, ys, _ = _blobs(rng)
    Xt, yt, _ = _blobs(rng)
    Xt = Xt + np.array([1.5, 1.0])  # a shifted target
    means = np.stack([Xs[ys == c].mean(0) for c in range(3)])
    labels, keep, centres = pseudo_labels(Xt, means, fraction=0.5, spherical=False)
    assert (labels == yt).mean() > 0.95 and (labels[keep] == yt[keep]).all()
    assert centres.shape == (3, 2) and 0.5 <= keep.mean() <= 0.52


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="same d"):
        anchored_kmeans(np.zeros((4, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="max_iter"):
        anchored_kmeans(np.zeros((4, 2)), np.zeros((2, 2)), max_iter=0)
    with pytest.raises(ValueError, match="fraction"):
        confident_mask(np.zeros(3, int), np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match="shape"):
        confident_mask(np.zeros(3, int), np.zeros((4, 2)), 0.5)


def test_non_finite_embeddings_or_anchors_are_refused():
    # Before: the NaN row took label 0 (argmax of NaN), centre 0 became NaN and every
    # point was then labelled 0, silently.
    Z = np.random.default_rng(0).normal(size=(20, 3))
    Z[3, 1] = np.nan
    with pytest.raises(ValueError, match="Z must be finite"):
        anchored_kmeans(Z, np.eye(3)[:2])
    with pytest.raises(ValueError, match="init must be finite"):
        anchored_kmeans(np.ones((4, 2)), np.array([[0.0, np.inf], [1.0, 0.0]]))


def test_confident_mask_refuses_labels_outside_the_similarity_columns():
    S = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.4]])
    # Before: -1 indexed the last column and was kept as a "confident" pseudo-label.
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        confident_mask(np.array([0, 1, -1]), S, 0.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        confident_mask(np.array([0, 1, 2]), S, 0.5)
    with pytest.raises(ValueError, match="int vector"):
        confident_mask(np.array([0.0, 1.0, 1.0]), S, 0.5)
    np.testing.assert_array_equal(confident_mask(np.array([0, 1, 1]), S, 0.5), [1, 1, 0])


def _spherical_lloyd(X, init, n_iter=100):
    """Plain spherical K-means (Dhillon & Modha): unit rows, unit anchors, cosine argmax."""
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = init / np.linalg.norm(init, axis=1, keepdims=True)
    for _ in range(n_iter):
        labels = (U @ C.T).argmax(1)
        C = np.stack([U[labels == c].mean(0) if (labels == c).any() else C[c] for c in range(3)])
        C /= np.linalg.norm(C, axis=1, keepdims=True)
    return (U @ C.T).argmax(1), C


def test_default_mode_is_spherical_and_ignores_the_anchors_norms():
    # Anchors pointing the same ways but with norms 0.01, 1 and 100: only their directions
    # may count (the default is spherical). Unnormalised anchors gave the largest one more
    # points in the first assignment, and 6 of these 200 points ended in another cluster;
    # a Euclidean default moved far more.
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 200)
    X = np.c_[np.cos(angles), np.sin(angles)] * rng.uniform(0.5, 2.0, 200)[:, None]
    dirs = np.c_[np.cos([0.0, 2.0, 4.0]), np.sin([0.0, 2.0, 4.0])]
    labels, C, _ = anchored_kmeans(X, dirs * np.array([[0.01], [1.0], [100.0]]))
    ref_labels, ref_C = _spherical_lloyd(X, dirs)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(C, ref_C, atol=1e-12)


def test_pseudo_labels_keep_half_of_every_cluster_by_default():
    # The documented default fraction is 0.5: ceil(0.5 * size) points per cluster.
    rng = np.random.default_rng(4)
    X, _, centres = _blobs(rng, n=41)
    labels, keep, _ = pseudo_labels(X, centres, spherical=False)
    for c in range(3):
        size = int((labels == c).sum())
        assert keep[labels == c].sum() == int(np.ceil(0.5 * size))


@pytest.mark.parametrize(
    ("fraction", "size", "kept"), [(0.07, 100, 7), (0.14, 50, 7), (0.28, 25, 7)]
)
def test_confident_mask_keeps_the_ceiling_of_the_fraction_typed(fraction, size, kept):
    # 0.07 * 100 is 7.000000000000001 in floats: its ceiling kept 8 for the documented 7
    labels = np.zeros(size, dtype=int)
    similarity = np.c_[np.linspace(1, 2, size), np.zeros(size)]
    assert confident_mask(labels, similarity, fraction).sum() == kept


def test_a_zero_row_is_never_kept_and_a_zero_anchor_takes_no_point_when_spherical():
    # A zero row's cosine is 0 to every centre: it was labelled 0 by the tie and kept as
    # a confident pseudo-label (the first of its cluster); a zero anchor took every point
    # at an obtuse angle from the other anchor.
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.9, 0.1]])
    labels, keep, _ = pseudo_labels(Z, np.array([[-1.0, 0.0], [1.0, 0.0]]), fraction=0.5)
    assert labels.tolist() == [0, 1, 1] and keep.tolist() == [False, True, False]
    Z = np.array([[1.0, 0.0], [-1.0, 0.0], [-1.0, 0.1]])
    labels, C, sim = anchored_kmeans(Z, np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert labels.tolist() == [0, 0, 0]  # cosines 1 and -1 to anchor 0 beat its -2
    np.testing.assert_array_equal(sim[:, 1], [-2.0, -2.0, -2.0])
    np.testing.assert_array_equal(C[1], [0.0, 0.0])  # empty: it stays where it was
    # shorter than TINY: no direction either, and returned as given (it came back 1e12
    # longer, a live anchor of the next round)
    _, C, sim = anchored_kmeans(Z, np.array([[1.0, 0.0], [1e-13, 0.0]]))
    np.testing.assert_array_equal(C[1], [1e-13, 0.0])
    np.testing.assert_array_equal(sim[:, 1], [-2.0, -2.0, -2.0])
    # none with a direction: the first anchor took every point by the tie, and the first
    # half of the rows in order were kept as confident
    with pytest.raises(ValueError, match="no row of init has a direction"):
        pseudo_labels(Z, np.zeros((2, 2)))
    # the Euclidean mode measures from the zero anchor as from any other point
    labels, _, _ = anchored_kmeans(
        np.array([[1.0, 0.0], [0.1, 0.0]]), np.array([[1.0, 0.0], [0.0, 0.0]]), spherical=False
    )
    assert labels.tolist() == [0, 1]


def test_a_spherical_centre_whose_points_cancel_keeps_its_direction():
    # two opposite points, tied between the centres, go to the first: their unit rows
    # average to zero, and the centre was that zero (a cosine of 0 to every point)
    Z = np.array([[0.0, 1.0], [0.0, -1.0], [1.0, 0.01], [1.0, -0.01]])
    init = np.array([[-1.0, 0.0], [1.0, 0.0]])
    labels, C, sim = anchored_kmeans(Z, init)
    assert labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(C[0], [-1.0, 0.0])
    np.testing.assert_allclose(sim[:, 0], [0.0, 0.0, -1.0, -1.0], atol=1e-4)


def test_euclidean_mode_labels_do_not_move_with_the_data():
    # |z|^2 - 2 z.c + |c|^2 cancels to rounding far from the origin: offset by 1e8 the
    # "negative squared distances" came out positive and the points in one cluster
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.01, (50, 2)), rng.normal(0.05, 0.01, (50, 2))]
    init = np.array([[0.0, 0.0], [0.05, 0.05]])
    labels, C, sim = anchored_kmeans(X, init, spherical=False)
    for offset in (1e7, 1e8):
        moved, C_moved, sim_moved = anchored_kmeans(X + offset, init + offset, spherical=False)
        assert np.array_equal(moved, labels)
        np.testing.assert_allclose(C_moved - offset, C, atol=1e-7)
        np.testing.assert_allclose(sim_moved, sim, atol=1e-8)  # squared distances ~1e-3
        ref = KMeans(2, init=init + offset, n_init=1, tol=0).fit(X + offset)
        assert np.array_equal(ref.labels_, labels)


def test_anchors_iterations_fraction_and_similarity_are_checked_by_name():
    Z, init = np.eye(3), np.eye(3)[:2]
    with pytest.raises(ValueError, match="init must hold at least one centre"):
        anchored_kmeans(Z, np.zeros((0, 3)))
    for max_iter in (2.5, True, "3"):
        with pytest.raises(ValueError, match="max_iter must be an int >= 1"):
            anchored_kmeans(Z, init, max_iter=max_iter)
    labels, S = np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    for fraction in ("0.5", True, float("nan")):
        with pytest.raises(ValueError, match="fraction must be a number in"):
            confident_mask(labels, S, fraction)
    S[1, 0] = np.nan  # its margin sorted last: dropped, or kept as a cluster's only point
    with pytest.raises(ValueError, match="similarity must be finite"):
        confident_mask(labels, S, 0.5)


@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
def test_dtc_self_trains_an_encoder_that_maps_target_rows_to_zero():
    # a width-1 encoder ending in a ReLU: target rows at zero made K-means centres at
    # zero, the anchors of the first self-training round (a review found the refusal of
    # zero anchors failed this fit, which had run)
    import torch
    from torch import nn

    from dtc.data import make_digits_pair
    from dtc.pipeline import DTC

    pair = make_digits_pair(seed=0)
    torch.manual_seed(1)  # an initialisation whose first round had 8 zero anchors
    encoder = nn.Sequential(nn.Linear(pair.source.n_features, 1), nn.ReLU())
    est = DTC(
        architecture=encoder, use_source_labels=False, clusterer="kmeans", spherical=True,
        pretrain_epochs=1, adapt_epochs=1, self_training_rounds=2, self_training_epochs=1, seed=1,
    )  # fmt: skip
    labels = est.fit(pair).labels_
    assert labels.shape == (pair.target.n_samples,)
    rounds = [h for h in est.history_ if h.get("stage") == "self_train"]
    assert len(rounds) == 2 and all(0 < h["kept"] <= 1 for h in rounds)


@pytest.mark.filterwarnings("ignore:.*distinct rows:RuntimeWarning")
@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
def test_dtc_stops_self_training_of_a_collapsed_encoder_with_a_warning():
    # every ReLU dead: all rows at zero, so no anchor has a direction; pseudo_labels
    # refuses them, and the fit (which the final clustering lets finish with a warning)
    # failed in self-training in anchored_kmeans's words
    from torch import nn

    from dtc.data import Domain, DomainPair
    from dtc.pipeline import DTC

    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(120, 10)).astype("float32"), np.repeat([0, 1, 2], 40)
    Xt = rng.normal(size=(90, 10)).astype("float32")
    dead = nn.Linear(10, 4)
    nn.init.zeros_(dead.weight)
    nn.init.constant_(dead.bias, -1.0)
    est = DTC(
        architecture=nn.Sequential(dead, nn.ReLU()), pretrain_epochs=1, adapt_epochs=1,
        self_training_rounds=2, self_training_epochs=1, seed=0, n_threads=1,
    )  # fmt: skip
    with pytest.warns(RuntimeWarning, match="self-training stopped at round 0: every anchor is"):
        est.fit(DomainPair(Domain(Xs, ys), Domain(Xt)))
    assert est.labels_.shape == (90,)
    assert not [h for h in est.history_ if h.get("stage") == "self_train"]


@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
def test_dtc_gives_a_dead_anchor_no_mass_in_a_conditional_loss():
    # The fit of the test above (width one, seed 1, CORAL: 8 of 10 anchors zero in the
    # first round), its loss made conditional. A dead anchor stays a zero centre that takes
    # no pseudo-label; the Student-t kernel gave it mass (every unit row lies one away from
    # zero), so the loss was conditioned on classes no point was given.
    import torch
    from torch import nn

    from dtc.align import CORALLoss
    from dtc.data import make_digits_pair
    from dtc.pipeline import DTC

    class Recorder(CORALLoss):
        conditional = True

        def __init__(self):
            super().__init__()
            self.target_probs = []

        def forward(self, source, target, *, source_probs, target_probs, progress):
            self.target_probs.append(target_probs.detach().clone())
            return super().forward(source, target)

    pair = make_digits_pair(seed=0)
    torch.manual_seed(1)
    encoder = nn.Sequential(nn.Linear(pair.source.n_features, 1), nn.ReLU())
    est = DTC(
        architecture=encoder, loss=Recorder(), use_source_labels=False, clusterer="kmeans",
        spherical=True, pretrain_epochs=1, adapt_epochs=1, self_training_rounds=1,
        self_training_epochs=1, seed=1,
    )  # fmt: skip
    est.fit(pair)
    steps = est._steps_per_epoch()  # the last epoch's batches are self-training's
    probs = torch.cat(est._loss.target_probs[-steps:])  # the fit's copy of the loss
    dead = (probs == 0).all(0)
    assert 0 < int(dead.sum()) < probs.shape[1]  # the dead anchors' columns, in every row
    assert torch.equal(probs == 0, dead.expand_as(probs))  # the live ones take all the mass
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)))


def test_unit_rows_are_sklearn_normalize_and_leave_rows_without_direction_short():
    from sklearn.preprocessing import normalize

    Z = np.random.default_rng(0).normal(size=(6, 4))
    Z[1], Z[2] = 0.0, TINY / 10
    U, live = unit_rows(Z), has_direction(Z)
    assert np.array_equal(live, [True, False, False, True, True, True])
    np.testing.assert_allclose(U[live], normalize(Z[live]), rtol=1e-15, atol=0)
    # normalize scales a row of norm 1e-13 to one (a direction out of rounding noise)
    assert not U[1].any() and np.linalg.norm(U[2]) < 1


@pytest.mark.parametrize("spherical", [False, True])
def test_max_iter_counts_lloyd_iterations(spherical):
    # max_iter=1: one assignment to init and one update of the centres (the returned
    # centres are the means of the rows init took), not init itself; max_iter=2 one more
    # of each. Rows whose second assignment differs from the first (row 3 moves to
    # cluster 1), so that one iteration more or less shows (the earlier rows had converged
    # after one: a loop of max_iter + 1 iterations passed)
    Z = np.array([[0.2, 1.0], [0.8, 0.5], [0.8, 0.6], [0.7, 0.9], [0.1, 0.8]])
    init = np.array([[0.0, 1.0], [1.0, 0.0]])
    rows = unit_rows(Z) if spherical else Z

    def update(labels):
        means = np.stack([rows[labels == c].mean(0) for c in range(2)])
        return unit_rows(means) if spherical else means

    def nearest(centres):  # init's rows are unit rows already
        sim = rows @ centres.T if spherical else -((rows[:, None] - centres[None]) ** 2).sum(-1)
        return sim.argmax(1)

    first = np.array([0, 1, 1, 0, 0])  # nearest init row, by distance and by cosine
    second = np.array([0, 1, 1, 1, 0])
    np.testing.assert_array_equal(nearest(init), first)
    np.testing.assert_array_equal(nearest(update(first)), second)
    for max_iter, labels in ((1, first), (2, second)):
        _, centres, _ = anchored_kmeans(Z, init, spherical=spherical, max_iter=max_iter)
        np.testing.assert_allclose(centres, update(labels), rtol=1e-12)
