"""Parameter and input validation shared by the baselines (:mod:`baselines._validation`).

Every error names the estimator (or the public function), the argument and what was
expected; numpy scalars are accepted wherever a Python number is, and ``bool``, NaN and
infinity are refused where a number is expected.
"""

from __future__ import annotations

import numpy as np
import pytest

from baselines._arrays import one_hot, unit_rows
from baselines._validation import (
    check_bool,
    check_choice,
    check_domains,
    check_number,
    check_seed,
)
from baselines.coral import CORAL, coral_transform
from baselines.dec import DEC
from baselines.ensemble import ClusterEnsemble
from baselines.gmm import TargetGMM
from baselines.jda import JDA
from baselines.kmeans import TargetKMeans
from baselines.model_transfer import ModelTransfer
from baselines.ot_da import OTSinkhorn, ot_transform
from baselines.resampling import ResampledTransfer
from baselines.self_taught import SelfTaughtClustering
from baselines.spectral import TargetSpectral
from baselines.subspace_alignment import SubspaceAlignment, subspace_alignment_transform
from baselines.tca import TCA, joint_features, tca_transform
from baselines.transfer_spectral import TransferSpectralClustering
from dtc import methods
from dtc.data import Domain, DomainPair, make_digits_pair


@pytest.fixture(scope="module")
def digits():
    """A small labelled, non-negative pair (60 + 60 digits, 10 classes): every baseline
    accepts it."""
    pair = make_digits_pair(seed=0)
    return DomainPair(
        pair.source.subset(np.arange(0, pair.source.n_samples, 15)),
        pair.target.subset(np.arange(0, pair.target.n_samples, 15)),
        n_clusters=10,
    )


# -- the checks themselves -------------------------------------------------------------


def test_check_number_accepts_numpy_scalars_and_returns_python_numbers():
    assert check_number(np.int64(5), method="M", name="n", low=1, integer=True) == 5
    assert type(check_number(np.int64(5), method="M", name="n", integer=True)) is int
    assert check_number(np.float32(0.5), method="M", name="x") == 0.5
    assert type(check_number(np.float32(0.5), method="M", name="x")) is float
    assert check_number(3, method="M", name="x", low=3) == 3.0
    assert check_number(10**30, method="M", name="n", integer=True) == 10**30


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (True, {"integer": True}, "M: n must be an int >= 0, got True"),
        (np.True_, {}, "M: n must be a number >= 0, got"),
        (float("nan"), {}, "M: n must be a number >= 0, got nan"),
        (np.float32("inf"), {}, "M: n must be a number >= 0, got"),
        ("1", {}, "M: n must be a number >= 0, got '1'"),
        (2.0, {"integer": True}, "M: n must be an int >= 0, got 2.0"),
        (0.0, {"strict": True}, "M: n must be a number > 0, got 0.0"),
        (-1, {"low": 0}, "M: n must be a number >= 0, got -1"),
    ],
)
def test_check_number_refuses(value, kwargs, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(")):
        check_number(value, method="M", name="n", **kwargs)


def test_check_seed():
    assert check_seed(np.uint32(2**32 - 1), method="M") == 2**32 - 1
    for bad, expected in [
        (-1, "an int >= 0"),
        (2**32, r"an int in \[0, 2\*\*32 - 1\]"),
        (1.0, "an int >= 0"),
        (True, "an int >= 0"),
    ]:
        with pytest.raises(ValueError, match=f"M: seed must be {expected}"):
            check_seed(bad, method="M")


def test_check_choice_and_check_bool():
    assert check_choice(None, (None, "max"), method="M", name="c") is None
    assert check_choice("max", (None, "max"), method="M", name="c") == "max"
    with pytest.raises(ValueError, match=r"M: c must be one of \('a', 'b'\), got None"):
        check_choice(None, ("a", "b"), method="M", name="c")
    with pytest.raises(ValueError, match="M: c must be one of"):
        check_choice(np.array(["a"]), ("a", "b"), method="M", name="c")
    assert check_bool(np.True_, method="M", name="b") is True
    for bad in ("no", 1, None):
        with pytest.raises(ValueError, match="M: b must be True or False"):
            check_bool(bad, method="M", name="b")


@pytest.mark.parametrize(
    ("Xs", "Xt", "expected"),
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), r"expected Xs \(n_s, d\) and Xt"),
        (np.zeros(5), np.zeros((5, 1)), r"expected Xs \(n_s, d\) and Xt"),
        (np.zeros((0, 3)), np.zeros((5, 3)), "non-empty"),
        (np.zeros((5, 3)), np.full((5, 3), np.nan), "Xt must hold finite values"),
        (np.full((5, 3), np.inf), np.zeros((5, 3)), "Xs must hold finite values"),
    ],
)
def test_check_domains(Xs, Xt, expected):
    with pytest.raises(ValueError, match=f"M: .*{expected}"):
        check_domains(Xs, Xt, method="M")


def test_one_hot_and_unit_rows_by_hand():
    np.testing.assert_array_equal(
        one_hot(np.array([2, 0, 2]), 4).toarray(),
        [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]],
    )
    Z = np.array([[3.0, 4.0], [0.0, 0.0], [1e-13, 0.0]])
    np.testing.assert_array_equal(unit_rows(Z), [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]])
    # With a floor, a row shorter than it is divided by the floor, not blown up.
    np.testing.assert_allclose(unit_rows(Z, floor=1e-12), [[0.6, 0.8], [0, 0], [0.1, 0]])


# -- the public transforms validate their inputs ---------------------------------------

TRANSFORMS = {
    "coral_transform": lambda Xs, Xt: coral_transform(Xs, Xt),
    "joint_features": lambda Xs, Xt: joint_features(Xs, Xt),
    "tca_transform": lambda Xs, Xt: tca_transform(Xs, Xt, n_components=2),
    "subspace_alignment_transform": lambda Xs, Xt: subspace_alignment_transform(Xs, Xt, 2),
    "ot_transform": lambda Xs, Xt: ot_transform(Xs, Xt),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("shape", r"expected Xs \(n_s, d\) and Xt \(n_t, d\), non-empty, with the same d"),
        ("nan", "Xs must hold finite values"),
    ],
)
def test_transforms_validate_their_inputs(name, bad, expected):
    rng = np.random.default_rng(0)
    Xs, Xt = rng.random((6, 3)), rng.random((5, 3 if bad == "nan" else 4))
    if bad == "nan":
        Xs[2, 1] = np.nan
    with pytest.raises(ValueError, match=f"{name}: {expected}"):
        TRANSFORMS[name](Xs, Xt)


@pytest.mark.parametrize(
    ("p", "expected"),
    [(4, "n_components=4 but at most 3 components exist"), (0, "n_components must be an int")],
)
def test_subspace_alignment_transform_checks_n_components(p, expected):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=f"subspace_alignment_transform: {expected}"):
        subspace_alignment_transform(rng.random((6, 3)), rng.random((5, 3)), p)


def test_subspace_alignment_keeps_to_the_centred_domains_rank():
    """4 source rows centred span 3 directions: a 4th is an arbitrary vector of the
    null space (it was allowed: the limit counted rows, not rows less one); each of the
    3 kept target coordinates carries variance."""
    rng = np.random.default_rng(0)
    Xs, Xt = rng.random((4, 6)), rng.random((5, 6))
    with pytest.raises(ValueError, match="n_components=4 but at most 3 components exist"):
        subspace_alignment_transform(Xs, Xt, 4)
    Zs, Zt, M = subspace_alignment_transform(Xs, Xt)
    assert Zs.shape == (4, 3) and Zt.shape == (5, 3) and M.shape == (3, 3)
    assert (Zt.var(axis=0) > 1e-6).all()
    with pytest.raises(ValueError, match="no component exists here"):
        subspace_alignment_transform(Xs[:1], Xt)


# -- estimators: errors name the estimator ---------------------------------------------


def _baselines_with_a_seed():
    for name in methods.available():
        cls = methods.get_class(name)
        if cls.__module__.startswith("baselines.") and "seed" in cls().get_params():
            yield name


@pytest.mark.parametrize("name", sorted(_baselines_with_a_seed()))
@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_every_baseline_validates_its_seed(digits, name, seed):
    est = methods.get(name, seed=seed)
    with pytest.raises(ValueError, match=f"^{type(est).__name__}: seed must be an int"):
        est.fit(digits)


def test_every_baseline_but_agglomerative_has_a_seed():
    # The parametrisation above covers every registered baseline but the deterministic one.
    baselines = {
        n for n in methods.available() if methods.get_class(n).__module__.startswith("baselines.")
    }
    assert baselines - set(_baselines_with_a_seed()) == {"agglomerative"}


@pytest.mark.parametrize(
    ("est", "expected"),
    [
        (TargetKMeans(n_init=True), "TargetKMeans: n_init must be an int >= 1, got True"),
        (
            TargetSpectral(n_neighbors=60),
            r"TargetSpectral: n_neighbors must be an int in \[2, 59\]",
        ),
        (TargetGMM(reg_covar=np.nan), "TargetGMM: reg_covar must be a number >= 0"),
        (TargetGMM(covariance_type=None), "TargetGMM: covariance_type must be one of"),
        (ResampledTransfer(C=np.inf), "ResampledTransfer: C must be a number > 0"),
        (ResampledTransfer(refine="yes"), "ResampledTransfer: refine must be True or False"),
        (DEC(alpha=np.inf), "DEC: alpha must be a number > 0"),
        (
            TransferSpectralClustering(tol=float("nan")),
            "TransferSpectralClustering: tol must be a number >= 0",
        ),
        (SelfTaughtClustering(trade_off=np.inf), "SelfTaughtClustering: trade_off must be"),
        (
            TransferSpectralClustering(metric="precomputed"),
            "TransferSpectralClustering: metric must be one of",
        ),
        (TCA(normalize="no"), "TCA: normalize must be True or False, got 'no'"),
        (CORAL(match_means=1), "CORAL: match_means must be True or False"),
        (TCA(kernel="rbf", gamma=-1.0), "TCA: gamma must be a number > 0"),
        (TCA(n_components=10**6), "TCA: n_components=1000000 but at most"),
        (JDA(kernel="rbf", gamma=0), "JDA: gamma must be a number > 0"),
        (JDA(normalize="yes"), "JDA: normalize must be True or False"),
        (OTSinkhorn(reg_e=np.nan), "OTSinkhorn: reg_e must be a number > 0"),
        (SubspaceAlignment(n_components=np.inf), "SubspaceAlignment: n_components must be"),
        (ClusterEnsemble(seeds=(0, -1)), "ClusterEnsemble: every entry of seeds must be an int"),
        (ClusterEnsemble(seeds=3), "ClusterEnsemble: seeds must be a non-empty sequence"),
        (ClusterEnsemble(n_member_seeds=0), "ClusterEnsemble: n_member_seeds must be"),
        (ClusterEnsemble(seed=2**32 - 1), "ClusterEnsemble: seed=4294967295 with n_member_seeds=5"),
    ],
)
def test_bad_parameters_name_the_estimator(digits, est, expected):
    with pytest.raises(ValueError, match=f"^{expected}"):
        est.fit(digits)


@pytest.mark.parametrize(
    ("name", "params", "plain"),
    [
        ("kmeans", {"n_init": np.int64(3)}, {"n_init": 3}),
        ("spectral", {"n_neighbors": np.int32(5)}, {"n_neighbors": 5}),
        ("gmm", {"reg_covar": np.float64(1e-3), "n_init": np.int64(1)}, {"reg_covar": 1e-3}),
        ("resampled_transfer", {"C": np.float32(0.5)}, {"C": 0.5}),
        ("tsc", {"trade_off": np.float64(2.0), "seed": np.int64(1)}, {"trade_off": 2.0, "seed": 1}),
        ("tca", {"n_components": np.int64(5), "normalize": np.True_}, {"n_components": 5}),
        ("coral", {"reg": np.float32(0.5), "match_means": np.False_}, {"reg": 0.5}),
        ("ensemble", {"seeds": np.arange(2), "members": ("kmeans",)}, {"seeds": (0, 1)}),
    ],
)
def test_numpy_scalars_are_accepted_and_mean_the_same(digits, name, params, plain):
    got = methods.get(name, **params).fit(digits).labels_
    base = {k: v for k, v in params.items() if k not in plain}
    if name == "coral":
        base["match_means"] = False
    if name == "gmm":
        base["n_init"] = 1
    expected = methods.get(name, **base, **plain).fit(digits).labels_
    np.testing.assert_array_equal(got, expected)


def test_dec_accepts_a_numpy_tolerance(digits):
    est = DEC(tol=np.float32(1e-3), pretrain_epochs=1, max_epochs=1).fit(digits)
    assert est.labels_.shape == (digits.target.n_samples,)


# -- a source too small to initialise the clustering -----------------------------------


@pytest.mark.parametrize(
    "est",
    [
        ModelTransfer(),
        JDA(n_components=3),
        TCA(init="source", n_components=3),
        SubspaceAlignment(),
        CORAL(init="source"),
    ],
    ids=lambda est: type(est).__name__,
)
def test_unlabelled_source_with_fewer_samples_than_clusters(digits, est):
    pair = DomainPair(
        digits.source.subset(np.arange(5)).without_labels(), digits.target, n_clusters=10
    )
    name = type(est).__name__
    with pytest.raises(
        ValueError, match=f"^{name}: the unlabelled source has 5 samples, fewer than n_clusters=10"
    ):
        est.fit(pair)
    # Target-only seeding never clusters the source: CORAL with k-means++ fits.
    assert CORAL().fit(pair).labels_.shape == (digits.target.n_samples,)


# -- check_params: the data-free checks, without data --------------------------------


def _baselines():
    return sorted(
        n for n in methods.available() if methods.get_class(n).__module__.startswith("baselines.")
    )


def test_every_registered_method_but_dtc_is_a_baseline():
    assert set(_baselines()) == set(methods.available()) - {"dtc"}


#: One wrong value per baseline, refused by ``check_params`` as by ``fit``.
WRONG = {
    "ae_kmeans": {"n_init": 0},
    "agglomerative": {"linkage": "median"},
    "coclustering": {"svd_method": "qr"},
    "coral": {"direction": "both"},
    "dec": {"tol": 2},
    "ensemble": {"consensus": "vote"},
    "gmm": {"covariance_type": "wide"},
    "idec": {"momentum": 1.0},
    "jda": {"pseudo_labels": "svm"},
    "kmeans": {"n_init": 0},
    "model_transfer": {"n_init": 0},
    "ot_emd": {"cost_norm": "sum"},
    "ot_l1l2": {"reg_cl": -1.0},
    "ot_sinkhorn": {"reg_e": 0},
    "resampled_transfer": {"sampler": "adasyn"},
    "source_ae_kmeans": {"lr": 0},
    "source_nn": {"seed": -1},
    "spectral": {"n_neighbors": 0},
    "stc": {"n_feature_clusters": 0},
    "subspace_alignment": {"n_components": 0},
    "tca": {"lam": 0},
    "tsc": {"metric": "precomputed"},
}


def test_every_baseline_has_a_wrong_value_here():
    assert set(WRONG) == set(_baselines())


@pytest.mark.parametrize("name", _baselines())
def test_check_params_passes_the_defaults_without_fitting(name, monkeypatch):
    def no_fit(self, pair):
        raise AssertionError("check_params must not fit")

    for cls in {methods.get_class(n) for n in methods.available()}:
        monkeypatch.setattr(cls, "_fit", no_fit)
    est = methods.get(name)
    assert type(est).check_params is not methods.TransferClusterer.check_params
    est.check_params()
    assert not [a for a in vars(est) if a.endswith("_") and not a.startswith("_")]


def _error(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize(
    ("name", "params"),
    [(name, params) for name, params in sorted(WRONG.items())]
    + [(name, {"seed": -1}) for name in sorted(_baselines_with_a_seed())]
    + [(name, {"n_clusters": 0}) for name in _baselines()]
    + [
        ("coclustering", {"n_clusters": 1}),
        ("spectral", {"seed": 2**32}),
        ("tca", {"kernel": "rbf", "gamma": -1.0}),
        ("jda", {"n_iter": 0}),
        ("subspace_alignment", {"n_components": 1.5}),
        ("coral", {"match_means": "no"}),
        ("ensemble", {"members": ()}),
        ("ensemble", {"members": ("ensemble",)}),
        ("ensemble", {"seeds": (0, -1)}),
        ("ensemble", {"members": (TargetKMeans(n_init=0),)}),
        ("ensemble", {"members": ("gmm",), "seeds": (0,)}),
        ("dec", {"pretrain_epochs": -1}),
        ("idec", {"batch_size": 0}),
        ("ae_kmeans", {"noise": -0.1}),
        ("ae_kmeans", {"architecture": "foo"}),
        ("idec", {"architecture": 3}),
        ("stc", {"trade_off": -1}),
        ("resampled_transfer", {"refine": "yes"}),
    ],
    ids=str,
)
def test_check_params_refuses_what_fit_refuses_with_the_same_message(digits, name, params):
    est = methods.get(name, **params)
    if params == {"members": ("gmm",), "seeds": (0,)}:  # valid: both pass the check
        est.check_params()
        return
    message = _error(est.check_params)
    # named: the estimator and the parameter (a member given as an estimator: the member
    # and its parameter)
    members = params.get("members", ())
    assert message.startswith(f"{type(est).__name__}: ")
    if members and not isinstance(members[0], str):
        words = [f"member TargetKMeans[seed=0]: {type(members[0]).__name__}: n_init"]
    else:
        words = [*params, "member"] if "members" in params else list(params)
    assert any(word in message for word in words), message
    assert message == _error(lambda: est.fit(digits))


def test_agglomerative_metric_spectral_neighbours_and_arpack_are_checked_before_the_fit():
    from baselines.agglomerative import TargetAgglomerative
    from baselines.coclustering import spectral_cocluster
    from baselines.spectral import TargetSpectral

    # a typo failed in the fit naming scikit-learn's class; "precomputed" read the target's
    # features as distances
    for metric in ("cosin", "precomputed"):
        with pytest.raises(ValueError, match="TargetAgglomerative: metric must be one of"):
            TargetAgglomerative(linkage="average", metric=metric).check_params()
    # the sample itself counts: one neighbour is a graph of self-loops
    with pytest.raises(ValueError, match="TargetSpectral: n_neighbors must be an int >= 2"):
        TargetSpectral(n_neighbors=1).check_params()
    # SciPy's "`k` must be an integer satisfying 0 < k < min(A.shape)"
    A = np.random.default_rng(0).random((40, 3))
    with pytest.raises(ValueError, match="needs 3 singular vectors .* at least 4 non-zero rows"):
        spectral_cocluster(A, 4, svd_method="arpack")
    assert len(np.unique(spectral_cocluster(A, 4)[0])) == 4  # randomized: 3 <= 3 columns
    # ARPACK's bound is strict: 3 vectors of 4 columns are enough (a boundary mutant survived)
    wider = np.random.default_rng(0).random((40, 4))
    assert len(np.unique(spectral_cocluster(wider, 4, svd_method="arpack")[0])) == 4


def test_cocluster_refuses_fewer_columns_than_its_singular_vectors_with_either_svd():
    # the randomized SVD returns at most min(n, m) vectors: 8 clusters of 2 features were
    # K-means on 1 non-trivial singular vector (Dhillon's embedding has 3), without a word
    from baselines.coclustering import spectral_cocluster

    A = np.random.default_rng(0).random((40, 2))
    for svd_method in ("randomized", "arpack"):
        with pytest.raises(ValueError, match=r"n_clusters=8 needs 4 singular vectors"):
            spectral_cocluster(A, 8, svd_method=svd_method)


def test_jda_kmeans_pseudo_labels_need_no_more_classes_than_target_samples():
    # transfer_kmeans's "source_centers: 5 centres for 4 target rows (Z_target)" named
    # neither JDA nor an argument
    rng = np.random.default_rng(0)
    pair = DomainPair(
        Domain(rng.random((10, 3)), np.arange(5).repeat(2)), Domain(rng.random((4, 3)))
    )
    with pytest.raises(ValueError, match=r"JDA: pseudo_labels='kmeans' starts one centre per"):
        JDA(n_clusters=2, pseudo_labels="kmeans").fit(pair)
    assert JDA(n_clusters=2, pseudo_labels="nn").fit(pair).labels_.shape == (4,)
