"""Every registered method's output is blind to the target's labels.

``TransferClusterer.fit`` masks ``pair.target.y`` before ``_fit`` runs; these tests guard
that contract for each method actually registered (a subclass overriding ``fit``, or a
``_fit`` reaching the labels some other way, would fail them): fitted with the target's
labels as given, removed, or permuted, a method returns the same ``labels_``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dtc import methods
from dtc.data import DomainPair, make_digits_pair
from dtc.methods import TransferClusterer

# Small budgets: the point is the invariance, not the accuracy.
_BUDGETS = {
    "ae_kmeans": {"epochs": 2, "n_init": 2},
    "source_ae_kmeans": {"epochs": 2, "n_init": 2},
    "dec": {"pretrain_epochs": 2, "max_epochs": 2, "n_init": 2},
    "idec": {"pretrain_epochs": 2, "max_epochs": 2, "n_init": 2},
    "dtc": {
        "pretrain_epochs": 2,
        "adapt_epochs": 2,
        "self_training_rounds": 1,
        "self_training_epochs": 1,
        "n_threads": 1,
    },
    "ensemble": {"n_member_seeds": 2},
    "stc": {"max_iter": 3, "n_init": 2},
    "tsc": {"max_iter": 5, "n_init": 2},
    "jda": {"n_iter": 2, "n_init": 2},
}


@pytest.fixture(scope="module")
def pairs():
    """The same small labelled, non-negative digits pair (60 + 60 rows, 10 classes) with
    the target's labels as given, removed and permuted."""
    full = make_digits_pair(seed=0)
    pair = DomainPair(
        full.source.subset(np.arange(0, full.source.n_samples, 15)),
        full.target.subset(np.arange(0, full.target.n_samples, 15)),
        n_clusters=10,
        benchmark="digits",
    )
    rng = np.random.default_rng(0)
    shuffled = pair.target.subset(np.arange(pair.target.n_samples))
    object.__setattr__(shuffled, "y", rng.permutation(pair.target.y))
    assert not np.array_equal(shuffled.y, pair.target.y)
    return {
        "given": pair,
        "removed": pair.mask_target_labels(),
        "permuted": DomainPair(pair.source, shuffled, n_clusters=10, benchmark="digits"),
    }


def _params(name: str) -> dict:
    params = dict(_BUDGETS.get(name, {}))
    defaults = methods.get_class(name)().get_params()
    if "seed" in defaults:
        params["seed"] = 0
    return {k: v for k, v in params.items() if k in defaults}


def test_no_registered_method_overrides_fit():
    # fit is where the target labels are masked: a method customises _fit only.
    for name in methods.available():
        cls = methods.get_class(name)
        for attr in ("fit", "fit_predict"):
            assert getattr(cls, attr) is getattr(TransferClusterer, attr), (name, attr)


def test_validate_pair_sees_no_target_label():
    # _validate_pair is a method's own hook too, and it was handed the unmasked pair
    import numpy as np

    from dtc.data import Domain, DomainPair

    seen = []

    class Peek(TransferClusterer):
        def __init__(self, n_clusters=None):
            self.n_clusters = n_clusters

        def _validate_pair(self, pair):
            seen.append(pair.target.y)
            return super()._validate_pair(pair)

        def _fit(self, pair):
            self.labels_ = np.zeros(pair.target.n_samples, dtype=np.int64)

    X = np.random.default_rng(0).normal(size=(10, 3))
    Peek().fit(DomainPair(Domain(X, np.arange(10) % 2), Domain(X, np.arange(10) % 2)))
    assert seen == [None]


def _fit_recording_warnings(name, pair):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = methods.get(name, **_params(name)).fit(pair)
    return fitted, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("name", methods.available())
def test_target_labels_do_not_change_the_labels(pairs, name):
    # nor the warnings (on this small pair, co-clustering's empty co-clusters and a
    # source class nearest to no target row): they come from the features alone
    fits = {how: _fit_recording_warnings(name, p) for how, p in pairs.items()}
    given, given_warnings = np.asarray(fits["given"][0].labels_), fits["given"][1]
    assert given.shape == (pairs["given"].target.n_samples,)
    for how in ("removed", "permuted"):
        assert np.array_equal(np.asarray(fits[how][0].labels_), given), how
        assert fits[how][1] == given_warnings, how


def test_guarded_dtc_is_blind_to_the_target_labels(pairs):
    # The monitor's decisions (flags, rollback, fallback) come from the masked pair too.
    from dtc.monitor import NegativeTransferMonitor

    out = {}
    for how, p in pairs.items():
        monitor = NegativeTransferMonitor("rollback", every=1, seed=0)
        est = methods.get("dtc", **_params("dtc"), callbacks=[monitor]).fit(p)
        out[how] = (np.asarray(est.labels_), est.negative_transfer_, monitor.trail_)
    for how in ("removed", "permuted"):
        assert np.array_equal(out[how][0], out["given"][0]), how
        assert out[how][1:] == out["given"][1:], how


def test_source_checks_read_no_target_label(pairs):
    # The harness (scripts/negative_transfer.py --checks-only) hands them a labelled target.
    from dtc.monitor.selection import check_domains

    runs = {how: check_domains(p.source, p.target, benchmark="digits") for how, p in pairs.items()}
    assert runs["given"] is not None
    for how in ("removed", "permuted"):
        assert repr(runs[how]) == repr(runs["given"]), how


def test_masked_target_keeps_no_class_names(tmp_path):
    # A file's class names are its labels' sorted values: they said which classes (and how
    # many) the target holds, and they turned a source ranking into a refusal.
    from baselines.kmeans import TargetKMeans
    from dtc.data import Domain, load_csv
    from dtc.monitor import rank_sources

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    names = np.array(["cat", "dog", "eel"])[np.arange(40) % 3]
    path = tmp_path / "target.csv"
    rows = [",".join([*map(str, x), n]) for x, n in zip(X, names, strict=True)]
    path.write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    target = load_csv(path)
    assert list(target.meta["classes"]) == ["cat", "dog", "eel"]
    source = Domain(rng.normal(size=(40, 3)), np.arange(40) % 4, meta={"classes": list("wxyz")})

    seen = []

    class Peek(TransferClusterer):
        def __init__(self, n_clusters=None):
            self.n_clusters = n_clusters

        def _fit(self, pair):
            seen.append(dict(pair.target.meta))
            self.labels_ = np.zeros(pair.target.n_samples, dtype=np.int64)

    Peek().fit(DomainPair(Domain(source.X), target, n_clusters=4))
    assert "classes" not in seen[0]

    def rank(t):
        fit = lambda p: TargetKMeans(seed=0).fit(p)  # noqa: E731
        return rank_sources(t, {"s": source}, fit_fn=fit, n_clusters=4, seed=0)

    assert repr(rank(target)) == repr(rank(target.without_labels()))
