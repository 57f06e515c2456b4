"""The method contract and the registry."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from dtc import methods
from dtc.data import Domain, DomainPair
from dtc.methods import TransferClusterer


class Spy(TransferClusterer):
    """Records the pair it was fitted on."""

    def __init__(self, n_clusters=None):
        self.n_clusters = n_clusters

    def _fit(self, pair):
        self.seen_ = pair
        self.labels_ = np.zeros(pair.target.n_samples, dtype=int)


class NeedsLabels(Spy):
    requires_source_labels = True


def _pair(n=20, d=4, k=2, source_labels=True):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    y = np.arange(n) % k
    return DomainPair(
        Domain(X, y if source_labels else None, name="s"), Domain(X + 1, y, name="t"), n_clusters=k
    )


class ForgetsLabels(Spy):
    def _fit(self, pair):
        self.seen_ = pair  # no labels_


def test_a_fit_that_sets_no_labels_is_named_not_a_bare_attribute_error():
    # `dtc run --method my_mod:ForgetsLabels` printed an AttributeError traceback before
    with pytest.raises(ValueError, match=r"ForgetsLabels._fit set no labels_"):
        ForgetsLabels().fit_predict(_pair())


def test_a_fit_that_sets_no_labels_leaves_no_fitted_attribute():
    # a failed fit is no fit: seen_ would make the estimator look fitted to check_is_fitted
    est = ForgetsLabels()
    with pytest.raises(ValueError, match="set no labels_"):
        est.fit(_pair())
    assert not hasattr(est, "seen_")
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_fit_never_shows_target_labels():
    pair = _pair()
    spy = Spy().fit(pair)
    assert spy.seen_.target.y is None
    assert spy.seen_.source.y is not None  # source labels are allowed


class NamesClusters(Spy):
    """Names its clusters only when the source is labelled (as model transfer does)."""

    def _fit(self, pair):
        super()._fit(pair)
        if pair.source.y is not None:
            self.cluster_classes_ = np.arange(2)


def test_a_refit_keeps_no_fitted_attribute_of_the_last_fit():
    est = NamesClusters().fit(_pair())
    assert hasattr(est, "cluster_classes_")
    est.fit(_pair(source_labels=False))
    assert not hasattr(est, "cluster_classes_") and hasattr(est, "labels_")
    assert est.n_clusters is None  # parameters are kept


class FailsHalfway(Spy):
    """Sets a history, then fails (as a fit that diverges after some epochs)."""

    def _fit(self, pair):
        self.history_ = [{"epoch": 0}]
        raise RuntimeError("diverged")


def test_a_failed_fit_leaves_no_fitted_attribute():
    """Neither the last fit's attributes nor what the failed one set before failing: with
    either, scikit-learn's check_is_fitted took the estimator for fitted."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    est = Spy().fit(_pair())
    est.__class__ = FailsHalfway
    with pytest.raises(RuntimeError, match="diverged"):
        est.fit(_pair())
    assert not hasattr(est, "history_") and not hasattr(est, "labels_")
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_fit_refuses_y_and_a_y_refused_forgets_the_last_fit():
    est = Spy().fit(_pair())
    with pytest.raises(ValueError, match="never used for fitting.*source labels go in pair"):
        est.fit(_pair(), y=np.zeros(20))
    assert not hasattr(est, "labels_")  # it kept the last fit's, of another pair maybe


def test_fit_of_arrays_says_how_to_build_a_pair():
    # fit(Xs, Xt), scikit-learn's habit, was told it had passed target labels
    X = np.zeros((3, 3))
    for args in ((X, X), (X,)):
        with pytest.raises(ValueError, match=r"expected one dtc.data.DomainPair, got ndarray; "):
            Spy().fit(*args)
    with pytest.raises(ValueError, match=r"build it as DomainPair\(Domain\(Xs, ys\), Domain"):
        Spy().fit_predict(X)


def test_fit_predict_and_clone():
    spy = Spy(n_clusters=3)
    assert spy.fit_predict(_pair()).shape == (20,)
    copy = clone(spy)
    assert copy.get_params() == {"n_clusters": 3} and not hasattr(copy, "labels_")


def test_requirements_are_checked():
    with pytest.raises(ValueError, match="labelled source"):
        NeedsLabels().fit(_pair(source_labels=False))
    rng = np.random.default_rng(0)
    het = DomainPair(
        Domain(rng.normal(size=(5, 3))), Domain(rng.normal(size=(5, 4))), heterogeneous=True
    )
    with pytest.raises(ValueError, match="heterogeneous"):
        Spy().fit(het)
    with pytest.raises(ValueError, match="DomainPair"):
        Spy().fit(np.zeros((3, 3)))


def test_n_clusters_resolution():
    pair = _pair(n=5, k=2)
    assert Spy()._n_clusters(pair) == 2
    assert Spy(n_clusters=4)._n_clusters(pair) == 4
    with pytest.raises(ValueError, match="only 5 samples"):
        Spy(n_clusters=6)._n_clusters(pair)
    with pytest.raises(ValueError, match="positive int"):
        Spy(n_clusters=0)._n_clusters(pair)
    bare = DomainPair(pair.source, pair.target)
    with pytest.raises(ValueError, match="n_clusters is None"):
        Spy()._n_clusters(bare)


PLUGIN = """
import numpy as np
from dtc.methods import TransferClusterer

class AllOnes(TransferClusterer):
    def __init__(self, n_clusters=None):
        self.n_clusters = n_clusters

    def _fit(self, pair):
        self.labels_ = np.ones(pair.target.n_samples, dtype=int)
"""


def test_registry_finds_entry_points_and_strings(tmp_path, monkeypatch):
    assert {"kmeans", "spectral"} <= set(methods.available())
    assert type(methods.get("kmeans", n_init=2)).__name__ == "TargetKMeans"
    # A user's method plugs in as "module:Class" with no change to dtc.
    (tmp_path / "my_plugin_mod.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    labels = methods.get("my_plugin_mod:AllOnes").fit_predict(_pair())
    assert labels.tolist() == [1] * 20


@pytest.mark.parametrize("order", ["theirs last", "theirs first"])
def test_an_entry_point_claiming_a_builtin_name_does_not_replace_it(monkeypatch, order):
    # the last entry point read won, and which is read last depends on sys.path: another
    # package's "kmeans" replaced dtc's, or not, without a word
    from importlib.metadata import EntryPoint, entry_points

    import dtc._plugins

    theirs = EntryPoint("kmeans", "someone_elses_pkg:Evil", "dtc.methods")

    def eps(*, group):
        found = list(entry_points(group=group))
        if group != "dtc.methods":
            return found
        return [*found, theirs] if order == "theirs last" else [theirs, *found]

    monkeypatch.setattr(dtc._plugins, "entry_points", eps)
    with pytest.warns(RuntimeWarning, match="registered as 'kmeans'.*someone_elses_pkg:Evil"):
        cls = methods.get_class("kmeans")
    assert cls.__name__ == "TargetKMeans"


def test_registry_register_and_errors(monkeypatch):
    # A fresh run-time registry, so the registration does not leak into other tests.
    monkeypatch.setattr(methods._METHODS, "_registered", {})
    methods.register("spy-test", Spy)
    assert methods.get("spy-test", n_clusters=2).n_clusters == 2
    with pytest.raises(ValueError, match="already registered"):
        methods.register("spy-test", Spy)
    with pytest.raises(ValueError, match="unknown method 'nope'.*kmeans"):
        methods.get("nope")
    with pytest.raises(ValueError, match="not a|expected a subclass"):
        methods.get_class("numpy:ndarray")
    with pytest.raises(ValueError, match="could not import"):
        methods.get_class("no_such_module:X")
    # a class or an instance, as an ensemble's members or DTC's loss take them: it was
    # "TypeError: argument of type 'Spy' is not iterable"
    for wrong in (Spy, Spy(), None):
        with pytest.raises(ValueError, match="method: expected a registered name or 'module:Cl"):
            methods.get(wrong)


# Blobs 8 standard deviations apart have a nearest-neighbour graph of one component per
# blob, which is what spectral clustering should find; scikit-learn warns about it.
@pytest.mark.filterwarnings("ignore:Graph is not fully connected:UserWarning")
@pytest.mark.parametrize("name", ["kmeans", "spectral"])
def test_target_only_baselines_recover_blobs(name):
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [8, 0], [0, 8]], dtype=float)
    y = np.repeat(np.arange(3), 30)
    Xt = centres[y] + rng.normal(scale=0.5, size=(90, 2))
    pair = DomainPair(Domain(Xt, y, name="s"), Domain(Xt, y, name="t"), n_clusters=3)
    from dtc.metrics import cluster_acc

    labels = methods.get(name).fit_predict(pair)
    assert cluster_acc(y, labels) == 1.0


def test_a_method_declaring_nothing_gets_the_documented_defaults():
    # The class docstring: only target-only baselines set uses_source = False, and only
    # graph / count methods set requires_non_negative = True (runners then hand them the
    # raw features), so a plain subclass must read as a source-using, any-feature method.
    assert Spy.uses_source is True and Spy.requires_non_negative is False
    assert Spy.requires_source_labels is False and Spy.accepts_heterogeneous is False


def test_n_clusters_boundaries():
    pair = _pair(n=5, k=2)
    # as many clusters as samples is allowed (each sample its own cluster) ...
    assert Spy(n_clusters=5)._n_clusters(pair) == 5
    assert Spy(n_clusters=np.int64(5))._n_clusters(pair) == 5
    # ... but a bool is no count, though True == 1 and isinstance(True, int)
    for bad in (True, 2.0):
        with pytest.raises(ValueError, match=f"n_clusters must be a positive int, got {bad!r}"):
            Spy(n_clusters=bad)._n_clusters(pair)
        with pytest.raises(ValueError, match="positive int"):
            Spy(n_clusters=bad)._check_n_clusters()  # the data-free check too


class KeepsPrivateState(Spy):
    """Sets a private attribute ending in ``_`` at construction (not a fitted attribute)."""

    def __init__(self, n_clusters=None):
        super().__init__(n_clusters)
        self._cache_ = {"built": True}


def test_a_refit_forgets_fitted_attributes_only():
    # Fitted attributes are public names ending in "_" (scikit-learn's convention); a
    # private "_name_" is the estimator's own state and must survive fit and re-fit.
    est = KeepsPrivateState().fit(_pair())
    est.fit(_pair())
    assert est._cache_ == {"built": True} and hasattr(est, "labels_")


def test_a_refused_pair_leaves_no_fitted_attribute_of_the_last_fit():
    """``_validate_pair`` ran before the last fit's attributes were forgotten: a refit on a
    pair the method refuses kept the last fit's ``labels_`` and passed check_is_fitted."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    est = NeedsLabels().fit(_pair())
    with pytest.raises(ValueError, match="labelled source"):
        est.fit(_pair(source_labels=False))
    assert not hasattr(est, "labels_")
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("name", methods.available())
def test_every_method_refuses_a_one_row_target_by_its_name(name):
    """n = k = 1 passed the count check: GMM and agglomerative clustering failed in
    scikit-learn's words ("Found array with 1 sample(s)"), DTC's spectral clusterer named an
    internal X; K-means alone returned [0]."""
    rng = np.random.default_rng(0)
    # non-negative: co-clustering, STC and TSC refuse negative features first
    pair = DomainPair(
        Domain(np.abs(rng.normal(size=(20, 4))), np.arange(20) % 2, name="s"),
        Domain(np.abs(rng.normal(size=(1, 4))), name="t"),
        n_clusters=1,
    )
    with pytest.raises(ValueError, match=r": the target has 1 sample\(s\); expected at least 2"):
        methods.get(name).fit(pair)


class _Users(methods.TransferClusterer):
    """A user's method that breaks the contract the way ``mode`` says."""

    requires_non_negative = False

    def __init__(self, n_clusters=None, mode="ok"):
        self.n_clusters, self.mode = n_clusters, mode

    def _fit(self, pair):
        n = pair.target.n_samples
        labels = np.arange(n) % 2
        self.labels_ = {"ok": labels, "short": labels[:-1], "none": None}.get(self.mode, labels)
        self.labels_ = labels + 0.5 if self.mode == "fractional" else self.labels_
        if self.mode == "history":
            self.history_ = [1.0, 0.5]
        if self.mode == "sets_param":
            self.n_clusters = self._n_clusters(pair)


def _user_pair(sign=1.0):
    rng = np.random.default_rng(0)
    X = sign * np.abs(rng.normal(size=(10, 3)))
    return DomainPair(Domain(X, np.arange(10) % 2), Domain(X.copy()), n_clusters=2)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", r"_Users._fit: labels_ must be integer cluster labels of shape \(10,\)"),
        ("none", r"_Users._fit: labels_ must be integer cluster labels .* got shape \(\)"),
        ("fractional", r"non-integer or non-finite values \(dtype float64, first at row 0\)"),
        ("history", r"_Users._fit: history_ must be a list of per-epoch dicts, but entry 0 is a"),
        ("sets_param", r"_Users._fit changed its parameter 'n_clusters' \(None -> 2\)"),
    ],
)
def test_a_users_method_that_breaks_the_contract_is_named(mode, message):
    # Bad labels failed later in the metrics, naming y_pred; a history of floats lost the
    # fit with "'float' object has no attribute 'items'"; a parameter set in _fit made the
    # record describe the fit wrongly and every resume of its run stale.
    assert _Users(mode="ok").fit(_user_pair()).labels_.shape == (10,)
    with pytest.raises(ValueError, match=message):
        _Users(mode=mode).fit(_user_pair())


def test_labels_left_as_a_tensor_or_bools_are_labels_as_the_metrics_take_them():
    # np.asarray refused a tensor that requires grad ("Can't call numpy() ...") and
    # bfloat16; bools were refused, which the metrics take as labels
    import torch

    class Tensor(_Users):
        def _fit(self, pair):
            super()._fit(pair)
            self.labels_ = {
                "grad": torch.as_tensor(self.labels_, dtype=torch.float32).requires_grad_(),
                "bf16": torch.as_tensor(self.labels_).to(torch.bfloat16),
                "bool": np.asarray(self.labels_) == 1,
            }[self.mode]

    from dtc.metrics import evaluate

    truth = _Users(mode="ok").fit(_user_pair()).labels_
    for mode in ("grad", "bf16", "bool"):
        # kept as given, and the same partition to the metrics
        assert evaluate(truth, Tensor(mode=mode).fit(_user_pair()).labels_)["acc"] == 1.0


def test_a_method_that_breaks_the_init_contract_is_named():
    class Renamed(_Users):
        def __init__(self, k=2):
            self.n_clusters = k

    with pytest.raises(ValueError, match=r"Renamed: every __init__ parameter must be stored"):
        Renamed().fit(_user_pair())


def test_a_method_that_declares_non_negative_features_is_not_given_negative_ones():
    # the runners gave such a method of a user's z-scored features without a word
    class Counts(_Users):
        requires_non_negative = True

    Counts().fit(_user_pair())
    with pytest.raises(ValueError, match=r"Counts: requires non-negative .* the source has a min"):
        Counts().fit(_user_pair(sign=-1.0))


# The fewest epochs / restarts / iterations each registered method takes (those it has), so
# that every one is fitted in about a second; the contract does not depend on them.
_QUICK = {
    "epochs": 2,
    "pretrain_epochs": 2,
    "max_epochs": 2,
    "adapt_epochs": 1,
    "self_training_rounds": 1,
    "self_training_epochs": 1,
    "n_init": 2,
    "max_iter": 20,
    "n_iter": 2,
    "n_member_seeds": 2,
    "hidden": (8,),
    "n_latent": 3,
}


# three blobs far apart: a kNN graph of three components
@pytest.mark.filterwarnings("ignore:Graph is not fully connected:UserWarning")
@pytest.mark.parametrize("name", methods.available())
def test_every_method_keeps_the_scikit_learn_estimator_contract(name, three_blobs_pair):
    """The module docstring's contract, on every registered method (the per-module tests
    check only that ``clone`` copies the parameters): ``__init__`` stores its parameters
    and nothing else, ``set_params`` / ``clone`` give them back, ``fit`` returns ``self``
    and sets only attributes ending in ``_``, a clone of a fitted estimator is unfitted,
    and ``fit_predict`` is ``fit(...).labels_``."""
    import inspect

    cls = methods.get_class(name)
    accepted = inspect.signature(cls).parameters
    quick = {k: v for k, v in _QUICK.items() if k in accepted}
    est = cls(**quick)
    params = est.get_params(deep=False)
    # no work in __init__: exactly the parameters, stored as given
    assert set(vars(est)) == set(params) == set(accepted)
    assert all(getattr(est, k) is v for k, v in quick.items())
    assert cls().set_params(**params).get_params(deep=False) == params
    pair = three_blobs_pair
    assert est.fit(pair) is est
    fitted = set(vars(est)) - set(params)
    assert fitted and all(a.endswith("_") or a.startswith("_") for a in fitted), fitted
    check_is_fitted(est)
    assert est.get_params(deep=False) == params
    twin = clone(est)
    assert twin.get_params(deep=False) == params
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
    np.testing.assert_array_equal(twin.fit_predict(pair), est.labels_)
