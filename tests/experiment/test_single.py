"""fit_evaluate: the method is fitted without the target labels, which then score it.

A spy method stands in for a real one, so that every metric is computed by hand on a
four-sample target."""

import importlib
import sys

import numpy as np
import pytest

from dtc.data import Domain, DomainPair
from dtc.experiment import single

SOURCE_Y = np.array([0, 0, 0, 1])  # scored against these, ACC would read 0.75
TARGET_Y = np.array([0, 0, 1, 1])


class _Spy:
    """Puts every target sample in cluster 0, which it names source class 0."""

    def get_params(self, deep=False):
        return {}

    def fit(self, pair):
        self.seen = pair
        self.labels_ = np.zeros(pair.target.n_samples, dtype=int)
        self.cluster_classes_ = np.array([0])
        return self


def _fit(monkeypatch, **kwargs):
    spy = _Spy()
    monkeypatch.setattr(single, "configured_method", lambda spec: spy)
    X = np.arange(8, dtype=np.float32).reshape(4, 2)
    pair = DomainPair(Domain(X, SOURCE_Y, name="src"), Domain(X + 1, TARGET_Y, name="tgt"))
    record, method = single.fit_evaluate(single.RunSpec("spy", seed=3), pair, **kwargs)
    assert method is spy
    return record, spy, pair


def test_the_method_sees_no_target_labels_and_is_scored_on_them(monkeypatch):
    record, spy, pair = _fit(monkeypatch)
    assert spy.seen.target.y is None  # removed before fit
    np.testing.assert_array_equal(spy.seen.source.y, SOURCE_Y)  # the source keeps its own
    np.testing.assert_array_equal(spy.seen.target.X, pair.target.X)
    np.testing.assert_array_equal(pair.target.y, TARGET_Y)  # the caller's pair is untouched
    # one cluster over classes 0, 0, 1, 1: by hand, ACC = purity = 2/4, NMI = ARI = 0;
    # cluster 0 named class 0 without matching: 2/4 right
    m = record["metrics"]
    assert (m["acc"], m["purity"], m["acc_unmatched"]) == pytest.approx((0.5, 0.5, 0.5))
    assert (m["nmi"], m["ari"]) == pytest.approx((0.0, 0.0))
    assert "balanced_acc" not in m
    assert (record["source"], record["target"], record["seed"]) == ("src", "tgt", 3)


def test_a_record_says_which_stages_were_read_from_checkpoints(monkeypatch):
    # a resumed stage was read from a checkpoint, not computed by this run
    assert "resumed_stages" not in _fit(monkeypatch)[0]
    monkeypatch.setattr(_Spy, "resumed_stages_", ["pretrain", "adapt"], raising=False)
    assert _fit(monkeypatch)[0]["resumed_stages"] == ["pretrain", "adapt"]


def test_imbalance_metrics_are_on_the_target_labels(monkeypatch):
    m = _fit(monkeypatch, imbalance=True)[0]["metrics"]
    # cluster 0 matched to class 0: recalls 1 (class 0) and 0 (class 1); F1 2/3 and 0
    assert (m["balanced_acc"], m["min_recall"]) == pytest.approx((0.5, 0.0))
    assert m["macro_f1"] == pytest.approx(1 / 3)


def test_seconds_per_epoch_by_hand():
    # the epochs' own times when each has one, else the fit time over the epochs
    assert single.seconds_per_epoch([{"seconds": 1.0}, {"seconds": 3.0}], 10.0) == 2.0
    assert single.seconds_per_epoch([{"loss": 1.0}, {"loss": 0.5}], 4.0) == 2.0
    assert single.seconds_per_epoch([{"seconds": 1.0}, {"loss": 0.5}], 5.0) == 2.5


def test_the_code_hash_covers_the_baselines(tmp_path, monkeypatch):
    # Built-in methods' code is not part of their run ids, so the records' dtc_source is
    # where an edit shows; it hashed dtc/ alone, and an edited baseline left no trace.
    fake = tmp_path / "baselines"
    fake.mkdir()
    (fake / "kmeans.py").write_text("MAX_ITER = 300\n")
    real = single.own_package_dir
    monkeypatch.setattr(single, "own_package_dir", lambda p: fake if p == "baselines" else real(p))
    hashes = []
    for text in ("MAX_ITER = 300\n", "MAX_ITER = 1\n", "MAX_ITER = 300\n"):
        (fake / "kmeans.py").write_text(text)
        single.dtc_source_hash.cache_clear()
        hashes.append(single.dtc_source_hash())
    single.dtc_source_hash.cache_clear()
    assert hashes[0] != hashes[1] and hashes[0] == hashes[2]


def test_a_users_module_named_baselines_is_no_built_in_method(tmp_path, monkeypatch):
    # The CLI puts the working directory first on sys.path: a user's baselines.py there
    # failed every built-in baseline ("No module named 'baselines.kmeans'; 'baselines' is
    # not a package") and was hashed as dtc's code (records told of a change of dtc's).
    from dtc import methods

    single.dtc_source_hash.cache_clear()
    code = single.dtc_source_hash()
    importlib.import_module("baselines.kmeans")  # so that the deletions below are undone
    for name in [m for m in sys.modules if m == "baselines" or m.startswith("baselines.")]:
        monkeypatch.delitem(sys.modules, name)
    (tmp_path / "baselines.py").write_text("# a script of my own\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"'baselines' is dtc's package .*baselines\.py of "):
        methods.get_class("kmeans")
    single.dtc_source_hash.cache_clear()
    assert single.dtc_source_hash() == code
    # imported before (a script of the user's imported it): known by its module's spec
    monkeypatch.syspath_prepend(str(tmp_path))
    import baselines

    assert baselines.__file__ == str(tmp_path / "baselines.py")
    with pytest.raises(ValueError, match="rename it"):
        methods.get_class("kmeans")


def test_n_epochs_counts_the_epochs_that_trained(monkeypatch):
    # DTC's refinement logs the check that stopped it (at the epoch that did not run) and a
    # negative-transfer monitor closes with an entry of its own: neither is an epoch, and
    # the record's history (numbers only) cannot tell them apart, so both were counted
    # (n_epochs 4 for 2 epochs here) and the fit time divided among them.
    history = [
        {"stage": "adapt", "epoch": 0, "recon": 0.5},
        {"stage": "refine", "epoch": 0, "changed": 1.0, "kl": 0.1},
        {"stage": "refine", "epoch": 1, "changed": 0.0, "stopped": True},
        {"stage": "monitor", "epoch": 1, "score": 0.4, "reference": 0.3},
    ]
    monkeypatch.setattr(_Spy, "history_", history, raising=False)
    record = _fit(monkeypatch)[0]
    assert record["n_epochs"] == 2
    assert record["seconds_per_epoch"] == pytest.approx(record["seconds"] / 2, abs=1e-3)
    assert len(record["history"]) == 4  # every entry is still kept
    assert single.trained_epochs(history) == history[:2]
    # the state an iterative method starts from (STC's, TSC's entry 0) is marked; a method
    # of a user's that counts its iterations from 0 keeps its first
    rounds = [{"iteration": i, "objective": 1.0 / (i + 1)} for i in range(3)]
    assert single.trained_epochs(rounds) == rounds
    rounds[0]["initial"] = True
    assert single.trained_epochs(rounds) == rounds[1:]


def test_a_method_that_sets_its_thread_count_is_recorded_with_it(monkeypatch):
    # DTC trains on n_threads (1 by default) whatever the process's count: records of one
    # fit made by --jobs 1 (2 threads here) and --jobs 2 (1) read as two platforms
    import torch

    from dtc.pipeline import DTC

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert _fit(monkeypatch)[0]["versions"]["torch_threads"] == 2  # the process's
        monkeypatch.setattr(_Spy, "fit_threads_", 1, raising=False)
        assert _fit(monkeypatch)[0]["versions"]["torch_threads"] == 1  # the fit's
        X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
        pair = DomainPair(Domain(X, np.arange(40) % 2), Domain(X + 1), n_clusters=2)
        small = {"hidden": (8,), "n_latent": 2, "pretrain_epochs": 1, "adapt_epochs": 1}
        assert DTC(**small).fit(pair).fit_threads_ == 1
        assert DTC(**small, n_threads=None).fit(pair).fit_threads_ == 2
        assert torch.get_num_threads() == 2  # restored after the fit
    finally:
        torch.set_num_threads(old)


def test_epochs_read_from_checkpoints_take_no_share_of_the_fit_time(monkeypatch):
    # a resumed DTC fit's history holds its loaded stages' epochs too: divided among them,
    # its fit time read 32 times faster per epoch, and the leaderboard averaged that in
    history = [
        {"stage": "pretrain", "epoch": 0, "recon": 0.9},
        {"stage": "pretrain_target", "epoch": 0, "recon": 0.8},
        {"stage": "adapt", "epoch": 0, "recon": 0.5},
        {"stage": "adapt", "epoch": 1, "recon": 0.4},
    ]
    monkeypatch.setattr(_Spy, "history_", history, raising=False)
    monkeypatch.setattr(_Spy, "resumed_stages_", ["pretrain"], raising=False)
    record = _fit(monkeypatch)[0]
    assert record["n_epochs"] == 4  # the fit's epochs, as resumed_stages says
    assert record["seconds_per_epoch"] == pytest.approx(record["seconds"] / 2, abs=1e-3)
    monkeypatch.setattr(_Spy, "resumed_stages_", ["pretrain", "adapt", "cluster"], raising=False)
    assert "seconds_per_epoch" not in _fit(monkeypatch)[0]  # no epoch ran


@pytest.mark.parametrize("name", ["stc", "tsc"])
def test_the_iterative_baselines_mark_the_state_they_start_from(name):
    from dtc import methods
    from dtc.data import make_digits_pair

    pair = make_digits_pair()
    est = methods.get(name, n_clusters=10, max_iter=2)
    fitted = est.fit(DomainPair(pair.source, pair.target.without_labels(), n_clusters=10))
    assert fitted.history_[0].get("initial") is True
    assert not any(h.get("initial") for h in fitted.history_[1:])
