"""Deep baselines: autoencoder + K-means (target-trained and source-trained), DEC, IDEC.

Synthetic shift for feature transfer: four classes on a 2-d square inside R^30 (a
random rotation). In the target, three more directions carry a strong *bimodal
nuisance* (e.g. a background that is on or off), so target-only K-means, and an
autoencoder fitted to the target, group by the nuisance. The source has the same class
structure without the nuisance: an autoencoder trained on it encodes the class
directions and, applied to the target, lets K-means find the classes.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

from baselines.autoencoder import SourceAEKMeans, TargetAEKMeans, train_autoencoder
from baselines.dec import DEC, centred_share, mean_square_scale
from baselines.idec import IDEC
from dtc import methods
from dtc.cluster.dec import soft_assignment
from dtc.cluster.kmeans import kmeans
from dtc.data import Domain, DomainPair
from dtc.metrics import cluster_acc

SMALL = {"hidden": (32,), "n_latent": 4, "batch_size": 64}


def nuisance_pair(seed=0, d=30, n_s=400, n_t=200, nuisance=3, amplitude=4.0):
    rng = np.random.default_rng(seed)
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    centers = 3.0 * np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])

    def draw(n, amp, offset):
        y = np.arange(n) % 4
        coords = np.zeros((n, d))
        coords[:, :2] = centers[y] + offset + 0.6 * rng.standard_normal((n, 2))
        coords[:, 2 : 2 + nuisance] = amp * rng.choice([-1, 1], size=(n, nuisance))
        coords[:, 2 + nuisance :] = 0.3 * rng.standard_normal((n, d - 2 - nuisance))
        return coords @ rotation.T, y

    Xs, ys = draw(n_s, 0.0, 0.0)
    Xt, yt = draw(n_t, amplitude, np.array([0.5, -0.3]))
    return DomainPair(Domain(Xs, ys, name="source"), Domain(Xt, yt, name="target"), n_clusters=4)


@pytest.fixture(scope="module")
def pair():
    return nuisance_pair()


@pytest.fixture(scope="module")
def kmeans_acc(pair):
    acc = cluster_acc(pair.target.y, methods.get("kmeans").fit(pair).labels_)
    assert acc < 0.5  # the nuisance wins on the raw target
    return acc


# -- autoencoder + K-means -------------------------------------------------------------


def _crowded_pair():
    # 60 clusters of 5 rows that overlap (std 15 around centres in [-10, 10]^4): the argmax
    # of the Student-t assignments leaves some clusters without a row
    from sklearn.datasets import make_blobs

    from dtc.data import Domain, DomainPair

    X, y = make_blobs(300, centers=60, n_features=4, cluster_std=15.0, random_state=0)
    X = X.astype(np.float32)
    return DomainPair(Domain(X, y), Domain(X.copy()), n_clusters=60)


def test_dec_says_when_it_returns_fewer_clusters_than_asked():
    # 57 of 60 came back without a word (gmm and co-clustering already warned)
    with pytest.warns(UserWarning, match=r"DEC: the rows fall in \d+ of the 60 clusters"):
        est = DEC(pretrain_epochs=2, max_epochs=30, seed=0).fit(_crowded_pair())
    assert np.unique(est.labels_).size < 60


def test_dtc_refinement_says_when_it_returns_fewer_clusters_than_asked():
    from dtc import DTC

    settings = {"pretrain_epochs": 2, "adapt_epochs": 1, "refine_epochs": 30}
    with pytest.warns(UserWarning, match=r"DTC\(refine='dec'\): the rows fall in \d+ of the 60"):
        est = DTC(refine="dec", hidden=(16,), n_latent=4, seed=0, **settings).fit(_crowded_pair())
    assert np.unique(est.labels_).size < 60


def test_source_ae_kmeans_beats_target_kmeans(pair, kmeans_acc):
    est = SourceAEKMeans(epochs=30, **SMALL).fit(pair)
    acc = cluster_acc(pair.target.y, est.labels_)
    assert acc >= kmeans_acc + 0.3, (acc, kmeans_acc)
    # Trained on the source only: the same model as an AE fitted to the source alone.
    alone = TargetAEKMeans(epochs=30, **SMALL).fit(
        DomainPair(pair.target, pair.source, n_clusters=4)
    )
    for a, b in zip(est.autoencoder_.parameters(), alone.autoencoder_.parameters()):
        torch.testing.assert_close(a, b)


def test_ae_kmeans_is_kmeans_of_the_embedding(pair):
    est = TargetAEKMeans(epochs=5, **SMALL).fit(pair)
    assert est.embedding_.shape == (pair.target.n_samples, 4)
    assert [h["epoch"] for h in est.history_] == list(range(5))
    assert est.history_[-1]["recon"] < est.history_[0]["recon"]
    labels, _, _ = kmeans(est.embedding_, 4, n_init=10, seed=0)
    np.testing.assert_array_equal(est.labels_, labels)
    # Same seed, same result; the target-only AE ignores the source entirely.
    again = TargetAEKMeans(epochs=5, **SMALL).fit(
        DomainPair(pair.target, pair.target, n_clusters=4)
    )
    np.testing.assert_array_equal(est.labels_, again.labels_)
    assert not TargetAEKMeans.uses_source and SourceAEKMeans.uses_source


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("method", [TargetAEKMeans, SourceAEKMeans])
def test_ae_kmeans_warns_by_name_when_the_embedding_collapses(pair, method):
    # features of 1e-30 do not move a float32 layer's output off its biases: every row was
    # embedded at one point and put in one cluster, with only scikit-learn's generic
    # warning of duplicate points
    tiny = DomainPair(
        Domain(pair.source.X * 1e-30, pair.source.y), Domain(pair.target.X * 1e-30), n_clusters=4
    )
    with pytest.warns(UserWarning, match=f"{method.__name__}: the rows fall in 1 of the 4"):
        est = method(epochs=2, **SMALL).fit(tiny)
    assert np.unique(est.embedding_, axis=0).shape[0] == 1


# -- DEC / IDEC ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=4.0, size=(3, 10))
    y = np.arange(150) % 3
    X = centers[y] + rng.normal(size=(150, 10))
    return DomainPair(Domain(X[:30], y[:30]), Domain(X, y), n_clusters=3)


FINE_TUNE = {"pretrain_epochs": 15, "max_epochs": 20, "tol": 0.0, **SMALL}


@pytest.fixture(scope="module")
def fitted(blobs):
    """DEC and IDEC with tol=0 (never converged: they run to max_epochs)."""
    return DEC(**FINE_TUNE).fit(blobs), IDEC(**FINE_TUNE).fit(blobs)


def _scaled(domain):
    """``domain`` with its features scaled as ``rescale=True`` does (mean squared entry 1),
    computed here independently of :func:`baselines.dec.mean_square_scale`."""
    X = domain.X.astype(np.float64)
    return domain.with_features(X / np.sqrt((X**2).sum() / X.size))


def _mean_max_q(Z, centers):
    q = soft_assignment(torch.as_tensor(Z), torch.as_tensor(np.asarray(centers)))
    return float(q.max(1).values.mean())


def _recon(ae, X):
    with torch.no_grad():
        x = torch.as_tensor(X, dtype=torch.float32)
        return float(torch.mean((ae(x)[1] - x) ** 2))


def test_dec_self_training_with_dtc_cluster_head(blobs, fitted):
    dec, _ = fitted
    fine = [h for h in dec.history_ if h["stage"] == "cluster"]
    assert len(fine) == 20 and dec.n_epochs_ == 20  # tol=0: ran to the cap
    # Self-training sharpens the soft assignments: their mean max_j q_ij grows from the
    # pretrained embedding at its K-means centres (the start) to the end. (KL(P || Q) is no
    # monotone record of it: P is re-sharpened every epoch.)
    pretrained, _ = train_autoencoder(DEC(**FINE_TUNE), _scaled(blobs.target), epochs=15, stage="p")
    z0 = pretrained.encoder(torch.as_tensor(_scaled(blobs.target).X)).detach().numpy()
    _, centers0, _ = kmeans(z0, 3, n_init=10, seed=0)
    assert _mean_max_q(dec.embedding_, dec.cluster_centers_) > _mean_max_q(z0, centers0) + 0.05
    # Labels are argmax of the Student-t q of dtc.cluster at the final centres.
    q = soft_assignment(torch.from_numpy(dec.embedding_), torch.from_numpy(dec.cluster_centers_))
    np.testing.assert_array_equal(dec.labels_, q.argmax(1).numpy())
    assert cluster_acc(blobs.target.y, dec.labels_) == 1.0
    # The initial centres came from K-means of the pretrained embedding.
    assert cluster_acc(blobs.target.y, dec.initial_labels_) == 1.0


def test_idec_keeps_reconstruction(blobs, fitted):
    dec, idec = fitted
    # The pretrained autoencoder both started from (same seed, same loop).
    # (on the target as rescale=True gives it to them)
    target = _scaled(blobs.target)
    pretrained, _ = train_autoencoder(DEC(**FINE_TUNE), target, epochs=15, stage="pretrain")
    # DEC drops the decoder: its weights stay as pretrained; IDEC trains them.
    for a, b in zip(dec.autoencoder_.decoder.parameters(), pretrained.decoder.parameters()):
        torch.testing.assert_close(a, b)
    # by far more than the rounding between the two scalings of the input (~1e-7, which
    # made the decoder's weights unequal even when the fine-tuning never stepped them)
    moved = max(
        float((a - b).detach().abs().max())
        for a, b in zip(idec.autoencoder_.decoder.parameters(), pretrained.decoder.parameters())
    )
    assert moved > 1e-3
    X = target.X
    start, r_dec, r_idec = (
        _recon(pretrained, X),
        _recon(dec.autoencoder_, X),
        _recon(idec.autoencoder_, X),
    )
    assert r_idec < r_dec  # the embedding still represents the data
    assert r_idec <= 1.05 * start
    assert IDEC().get_params()["gamma"] is None and IDEC._default_gamma == 0.1
    assert cluster_acc(blobs.target.y, idec.labels_) == 1.0


def test_fine_tuning_is_sgd_with_momentum(blobs, monkeypatch):
    # the paper's optimiser for the KL stage: one SGD, with the estimator's lr and momentum
    made = []
    real = torch.optim.SGD

    def spy(params, **kwargs):
        made.append(kwargs)
        return real(params, **kwargs)

    monkeypatch.setattr(torch.optim, "SGD", spy)
    DEC(finetune_lr=0.05, momentum=0.5, **{**FINE_TUNE, "max_epochs": 1}).fit(blobs)
    assert made == [{"lr": 0.05, "momentum": 0.5}]


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_stopping_tolerance_is_honoured(blobs, cls):
    # tol = 1: any change fraction is below it, so training stops at the first update
    # after the initial one (epoch 1), having trained a single epoch.
    est = cls(pretrain_epochs=5, max_epochs=50, tol=1.0, **SMALL).fit(blobs)
    assert est.n_epochs_ == 1
    assert [h["stage"] for h in est.history_].count("cluster") == 1


def test_stopping_at_a_moderate_tolerance():
    # Blobs that overlap, and a faster fine-tuning, so that updates keep moving labels: on
    # the well-separated blobs the first update changed none and the check below held for
    # an empty list.
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=1.5, size=(3, 10))
    y = np.arange(150) % 3
    X = centers[y] + rng.normal(size=(150, 10))
    pair = DomainPair(Domain(X[:30], y[:30]), Domain(X, y), n_clusters=3)
    est = DEC(pretrain_epochs=5, max_epochs=50, tol=0.02, finetune_lr=0.1, **SMALL).fit(pair)
    # The first entry is the start (no check); every later update, each before the stop,
    # changed at least tol of the labels, and the one that changed fewer stopped it.
    changed = [h["changed"] for h in est.history_ if h["stage"] == "cluster"][1:]
    assert len(changed) >= 3 and all(c >= 0.02 for c in changed)
    assert est.n_epochs_ == len(changed) + 1 < 50


def test_dec_takes_numpy_scalars_for_tol_and_alpha(blobs):
    # Validation accepts numpy scalars (config grids, np.arange); the validated floats
    # must reach the Student-t head and the stopping rule too, which refuse numpy
    # scalars (they raised after pretraining, naming neither DEC nor the cause).
    params = {"pretrain_epochs": 2, "max_epochs": 3, **SMALL}
    ref = DEC(tol=0.5, alpha=2.0, **params).fit(blobs)
    est = DEC(tol=np.float32(0.5), alpha=np.float32(2.0), **params).fit(blobs)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    assert est.n_epochs_ == ref.n_epochs_


def test_dec_starts_from_kmeans_with_the_papers_20_restarts(blobs, monkeypatch):
    # Xie et al. (ICML 2016, Sec. 3.2) and the authors' code: k-means with 20 restarts (10
    # before, undocumented among the listed deviations).
    import baselines.dec as dec_module

    seen = []

    def spy(Z, k, **kw):
        seen.append((kw.get("n_init"), kw.get("seed")))
        return kmeans(Z, k, **kw)

    monkeypatch.setattr(dec_module, "kmeans", spy)
    for cls in (DEC, IDEC):
        assert cls().n_init == 20
        cls(pretrain_epochs=1, max_epochs=1, seed=3).fit(blobs)
    assert seen == [(20, 3), (20, 3)]  # seeded by the estimator's seed


def test_dec_bad_parameters(blobs):
    with pytest.raises(ValueError, match="DEC: tol is a fraction"):
        DEC(tol=2.0).fit(blobs)
    with pytest.raises(ValueError, match="IDEC: gamma must be"):
        IDEC(gamma=-1.0).fit(blobs)
    with pytest.raises(ValueError, match="DEC: finetune_lr must be a number > 0"):
        DEC(finetune_lr=0).fit(blobs)
    with pytest.raises(ValueError, match=r"IDEC: momentum must be in \[0, 1\)"):
        IDEC(momentum=1.0).fit(blobs)
    with pytest.raises(ValueError, match="TargetAEKMeans: lr must be"):
        TargetAEKMeans(lr=0).fit(blobs)
    with pytest.raises(ValueError, match="SourceAEKMeans: architecture='conv' needs"):
        SourceAEKMeans(architecture="conv").fit(blobs)
    # the parameter is named as the user set it (was "pretrain epochs", "pretrain (target) epochs")
    with pytest.raises(ValueError, match="DEC: pretrain_epochs must be an int >= 0, got -1"):
        DEC(pretrain_epochs=-1).fit(blobs)
    with pytest.raises(ValueError, match="TargetAEKMeans: epochs must be an int >= 0, got -1"):
        TargetAEKMeans(epochs=-1).fit(blobs)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("ae_kmeans", TargetAEKMeans),
        ("source_ae_kmeans", SourceAEKMeans),
        ("dec", DEC),
        ("idec", IDEC),
    ],
)
def test_registered_and_clonable(name, cls):
    assert methods.get_class(name) is cls
    est = methods.get(name, n_latent=3)
    assert clone(est).get_params() == est.get_params()
    assert not cls.requires_source_labels


def test_idec_loss_is_mse_plus_gamma_kl_by_hand(blobs, monkeypatch):
    # The first fine-tuning loss (one epoch, one batch of all 150 rows), caught where the
    # baseline checks it for finiteness, against the objective composed here from the
    # pretrained autoencoder and K-means centres it started from.
    import baselines.dec as dec_module

    losses = []
    real = dec_module.check_finite

    def spy(loss, **kwargs):
        losses.append(float(loss.detach()))
        return real(loss, **kwargs)

    monkeypatch.setattr(dec_module, "check_finite", spy)
    params = {"pretrain_epochs": 5, "max_epochs": 1, "tol": 0.0, "n_init": 3, "alpha": 2.0}
    params |= {**SMALL, "batch_size": 150}
    gamma = 0.1  # IDEC's default
    IDEC(**params).fit(blobs)
    assert len(losses) == 1

    target = _scaled(blobs.target)  # rescale=True: mean squared entry 1
    ae, _ = train_autoencoder(IDEC(**params), target, epochs=5, stage="pretrain")
    X = target.X
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        ae.eval()
        z_eval = ae.encoder(x).double()
        _, centers, _ = kmeans(z_eval.float().numpy(), 3, n_init=3, seed=0)
        ae.train()  # the loss is computed in training mode, the target P in eval mode
        z, x_hat = ae(x)
    mu = torch.as_tensor(np.asarray(centers), dtype=torch.float64)

    def student_t(z):  # q_ij ∝ (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2)
        alpha = params["alpha"]
        q = (1 + ((z[:, None, :] - mu[None]) ** 2).sum(-1) / alpha) ** (-(alpha + 1) / 2)
        return q / q.sum(1, keepdim=True)

    q_target = student_t(z_eval)
    p = q_target**2 / q_target.sum(0)  # p_ij ∝ q_ij^2 / f_j, f_j = sum_i q_ij
    p = p / p.sum(1, keepdim=True)
    q = student_t(z.double())
    kl = float((p * torch.log(p / q)).sum() / len(X))  # KL(P || Q), mean over rows
    recon = float(((x_hat.double() - x.double()) ** 2).mean())  # MSE over all entries
    assert kl > 1e-3 and recon > 1e-3
    assert losses[0] == pytest.approx(recon + gamma * kl, rel=1e-5)


def test_centred_share_by_hand_and_a_mostly_offset_target_warns(blobs):
    # columns [1, 3] and [2, 2]: centred spread sqrt(mean [1, 1, 0, 0]) = sqrt(1/2), mean
    # square (1 + 9 + 4 + 4) / 4 = 4.5: share sqrt(0.5 / 4.5) = 1/3
    assert centred_share(np.array([[1.0, 2.0], [3.0, 2.0]])) == pytest.approx(1 / 3)
    assert centred_share(np.zeros((3, 2))) == 1.0
    # columns of different means, each centred on its own: [0, 2] -> [-1, 1] and [10, 10]
    # -> [0, 0], so sqrt((1 + 1) / 4 / ((0 + 100 + 4 + 100) / 4)) = sqrt(2 / 204); centred on
    # the mean of all entries (5.5) it would be sqrt(83 / 204)
    assert centred_share(np.array([[0.0, 10.0], [2.0, 10.0]])) == pytest.approx(np.sqrt(2 / 204))
    # +1e4 on the digits left a spread of 1e-4 after rescaling: every row in cluster 0,
    # without a word
    far = DomainPair(blobs.source, Domain(blobs.target.X + 100.0), n_clusters=3)
    with pytest.warns(RuntimeWarning, match=r"DEC: the target's features are mostly offset"):
        DEC(pretrain_epochs=1, max_epochs=0, **SMALL).fit(far)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        DEC(pretrain_epochs=1, max_epochs=0, **SMALL).fit(blobs)
        DEC(pretrain_epochs=1, max_epochs=0, rescale=False, **SMALL).fit(far)


def test_mean_square_scale_by_hand():
    # rows of unit norm in d = 4: mean squared entry 1/4, factor 2
    X = np.array([[1.0, 0, 0, 0], [0, 0.6, 0.8, 0]])
    assert mean_square_scale(X) == pytest.approx(2.0)
    assert mean_square_scale(3 * X) == pytest.approx(2.0 / 3)
    assert mean_square_scale(np.zeros((3, 2))) == 1.0
    assert isinstance(mean_square_scale(X), float)


def test_rescale_is_fitting_the_scaled_features(blobs):
    # DEC with rescale=True on X is DEC with rescale=False on s * X, s = sqrt(d / mean |x|^2)
    params = {"pretrain_epochs": 5, "max_epochs": 5, "tol": 0.0, **SMALL}
    est = DEC(**params).fit(blobs)
    scaled = DomainPair(blobs.source, _scaled(blobs.target), n_clusters=3)
    ref = DEC(rescale=False, **params).fit(scaled)
    X = blobs.target.X.astype(np.float64)
    assert est.input_scale_ == pytest.approx(1 / np.sqrt((X**2).mean()))
    assert ref.input_scale_ == 1.0
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    np.testing.assert_allclose(est.embedding_, ref.embedding_, rtol=1e-5, atol=1e-6)


def test_rescale_brings_unit_rows_to_the_student_t_scale():
    # Rows of unit norm (the l2 preprocessing) in d = 64: the embedding is so small that
    # every q_ij is close to 1/k at the start, and DEC barely moves; rescaled, the same
    # clusters are told apart by the kernel.
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(4, 64))
    y = np.arange(200) % 4
    X = centers[y] + 0.5 * rng.normal(size=(200, 64))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    pair = DomainPair(Domain(X[:20], y[:20]), Domain(X, y), n_clusters=4)
    params = {"pretrain_epochs": 20, "max_epochs": 10, "tol": 0.0, **SMALL}
    flat = DEC(rescale=False, **params).fit(pair)
    scaled = DEC(**params).fit(pair)
    assert scaled.input_scale_ == pytest.approx(8.0)  # sqrt(64)
    assert _mean_max_q(flat.embedding_, flat.cluster_centers_) < 0.35  # 1/k = 0.25
    assert _mean_max_q(scaled.embedding_, scaled.cluster_centers_) > 0.6


def test_rescale_must_be_a_bool(blobs):
    with pytest.raises(ValueError, match="DEC: rescale must be True or False, got 'yes'"):
        DEC(rescale="yes").fit(blobs)


@pytest.mark.parametrize("cls", [TargetAEKMeans, DEC, IDEC])
def test_a_users_architecture_module_is_not_trained_in_place(blobs, cls):
    # the baselines trained the instance given: a refit with the same seed started from
    # trained weights and gave other labels, and get_params carried the weights
    from dtc.nn import MLPAutoencoder

    torch.manual_seed(0)
    arch = MLPAutoencoder(10, (16,), 4)
    before = {k: v.clone() for k, v in arch.state_dict().items()}
    est = (
        cls(architecture=arch, pretrain_epochs=3, max_epochs=2, batch_size=64)
        if cls is not TargetAEKMeans
        else cls(architecture=arch, epochs=3, batch_size=64)
    )
    first = est.fit(blobs).labels_.copy()
    assert all(torch.equal(before[k], v) for k, v in arch.state_dict().items())
    np.testing.assert_array_equal(est.fit(blobs).labels_, first)


@pytest.mark.parametrize("cls", [DEC, IDEC, TargetAEKMeans, SourceAEKMeans])
def test_a_fit_leaves_the_callers_torch_random_numbers_alone(blobs, cls):
    # DEC's clustering layer drew its (overwritten) initial centres from torch's global
    # generator, outside the seeded pretraining: unseeded code after a DEC / IDEC fit got
    # other random numbers than without it.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    kw = {"epochs": 1} if cls in (TargetAEKMeans, SourceAEKMeans) else {"pretrain_epochs": 1}
    if cls in (DEC, IDEC):
        kw["max_epochs"] = 1
    cls(batch_size=64, n_latent=4, hidden=(16,), **kw).fit(blobs)
    assert torch.equal(torch.rand(3), expected)


def test_the_architecture_presets_take_their_own_sizes(blobs):
    # the defaults (128, 64) / 10 overrode them: architecture="dec" built d-128-64-10
    def widths(est):
        return [
            m.out_features for m in est.autoencoder_.encoder.modules() if isinstance(m, nn.Linear)
        ]

    kw = {"epochs": 0, "batch_size": 64}
    assert widths(TargetAEKMeans(**kw).fit(blobs)) == [128, 64, 10]  # "mlp": this baseline's
    assert widths(TargetAEKMeans(architecture="dec", **kw).fit(blobs)) == [500, 500, 2000, 10]
    assert widths(TargetAEKMeans(architecture="small", **kw).fit(blobs)) == [256, 128, 32]
    assert widths(TargetAEKMeans(architecture="dec", n_latent=5, **kw).fit(blobs))[-1] == 5
    dec = DEC(architecture="dec", pretrain_epochs=0, max_epochs=1, batch_size=64).fit(blobs)
    assert widths(dec) == [500, 500, 2000, 10]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"architecture": "conv", "hidden": (32,)}, "hidden sets the MLP architectures' widths"),
        ({"architecture": nn.Linear(10, 3), "hidden": (32,)}, "fixes its own, so hidden"),
        ({"architecture": nn.Linear(10, 3), "n_latent": 3}, "n_latent must be None with a module"),
        ({"hidden": (0,)}, "hidden must be an int >= 1"),
        ({"hidden": 5}, "hidden must be None or a non-empty list"),
        ({"hidden": (32.5,)}, "hidden must be an int >= 1"),
    ],
)
def test_sizes_an_architecture_would_ignore_or_cannot_build_are_refused_before_the_fit(
    params, match
):
    for cls in (TargetAEKMeans, DEC):
        with pytest.raises(ValueError, match=match):
            cls(**params).check_params()


@pytest.mark.parametrize("cls", [TargetAEKMeans, SourceAEKMeans, DEC, IDEC])
def test_the_fitted_autoencoder_is_left_in_evaluation_mode(blobs, cls):
    # as DTC's: left in training mode, a forward pass of the fitted network drew dropout
    # (another embedding than embedding_) and moved batch norm's running statistics
    torch.manual_seed(0)
    enc = nn.Sequential(
        nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5)),
        nn.Linear(16, 4),
    )
    kw = {"epochs": 1} if cls in (TargetAEKMeans, SourceAEKMeans) else {"pretrain_epochs": 1}
    if cls in (DEC, IDEC):
        kw.update(max_epochs=1, rescale=False)
    est = cls(architecture=enc, batch_size=64, **kw).fit(blobs)
    assert not any(m.training for m in est.autoencoder_.modules())
    X = torch.as_tensor(blobs.target.X, dtype=torch.float32)
    with torch.no_grad():
        est.autoencoder_(X)  # e.g. to look at the reconstructions
        z = est.autoencoder_.encoder(X).numpy()
    np.testing.assert_allclose(z, est.embedding_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [TargetAEKMeans, SourceAEKMeans, DEC])
def test_training_settings_reach_the_pretraining_loop(blobs, cls, monkeypatch):
    # lr, noise, batch_size, the epochs and the seed of the estimator, not the defaults
    import baselines.autoencoder as autoencoder

    seen = []
    real = autoencoder.pretrain_autoencoder

    def spy(ae, X, **kw):
        seen.append({key: kw[key] for key in ("epochs", "batch_size", "lr", "noise", "seed")})
        return real(ae, X, **kw)

    monkeypatch.setattr(autoencoder, "pretrain_autoencoder", spy)
    epochs = {"pretrain_epochs": 2, "max_epochs": 0} if cls is DEC else {"epochs": 2}
    params = {"lr": 3e-3, "noise": 0.2, "seed": 5, "hidden": (32,), "n_latent": 4}
    cls(batch_size=16, **params, **epochs).fit(blobs)
    assert seen == [{"epochs": 2, "batch_size": 16, "lr": 3e-3, "noise": 0.2, "seed": 5}]
