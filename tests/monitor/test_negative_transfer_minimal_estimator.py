"""NegativeTransferMonitor on an estimator with only the documented callback interface: no
``history_`` and no ``cluster_classes_`` (clusters not named by source classes), next to
an unlabelled source although the estimator uses source labels where there are any; and an
epoch that a later callback made the last, finished in on_adapt_end."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from dtc.data import Domain, DomainPair
from dtc.monitor.base import Callback
from dtc.monitor.negative_transfer import NegativeTransferMonitor
from dtc.monitor.partition_score import COLLAPSED

K = 3


def _blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(0, 6, (K, 6))
    y = np.repeat(np.arange(K), 40)
    return (centres[y] + rng.normal(0, 0.5, (len(y), 6))).astype(np.float32), y


class MinimalEstimator:
    """Adapts nothing: its target embedding collapses to one point at every epoch."""

    use_source_labels = True  # DTC's default: uses source labels where the pair has any
    hidden, n_latent, pretrain_epochs, adapt_epochs, batch_size = (16,), 4, 10, 2, 32

    def __init__(self, callbacks):
        self.callbacks = callbacks

    def get_state(self):
        return {}

    def set_state(self, state):
        pass

    def transform_target(self, X, preprocessed=False):
        return np.zeros((len(X), 4), dtype=np.float32)

    def discrepancy(self):
        return None

    def fit(self, pair):
        self.transfer_scale_, self.stop_training_ = 1.0, False
        for cb in self.callbacks:
            cb.on_fit_begin(self, pair.mask_target_labels())
        for cb in self.callbacks:
            cb.on_adapt_begin(self, self.get_state())
        for epoch in range(self.adapt_epochs):
            for cb in self.callbacks:
                cb.on_adapt_epoch_end(self, epoch, {"stage": "adapt", "epoch": epoch})
            if self.stop_training_:
                break
        for cb in self.callbacks:
            cb.on_adapt_end(self)
        self.embedding_ = self.transform_target(pair.target.X)
        self.labels_ = np.zeros(pair.target.n_samples, dtype=np.int64)
        self.cluster_centers_ = np.zeros((1, 4))
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_a_collapsed_fit_of_a_minimal_estimator_falls_back(tmp_path):
    Xt, yt = _blobs(0)
    Xs, _ = _blobs(1)
    pair = DomainPair(Domain(Xs), Domain(Xt, yt), n_clusters=K)
    mon = NegativeTransferMonitor(
        "rollback", reference_epochs=20, check_features=False, cache_dir=tmp_path
    )
    est = MinimalEstimator([mon]).fit(pair)
    assert mon.class_agreement_ is None  # an unlabelled source has no classes to agree
    assert est.negative_transfer_ and est.fell_back_to_reference_
    assert est.monitor_trail_[-1]["decision"] == "fallback"
    assert est.monitor_trail_[-1]["reason"] == COLLAPSED
    assert not hasattr(est, "history_") and not hasattr(est, "cluster_classes_")
    np.testing.assert_array_equal(est.labels_, est.reference_.labels_)
    np.testing.assert_array_equal(est.transfer_labels_, np.zeros(len(Xt), dtype=np.int64))
    # the reference's partition of well-separated blobs: the target's classes
    assert adjusted_rand_score(yt, est.labels_) == 1.0


class StopAfterFirstEpoch(Callback):
    def on_adapt_epoch_end(self, estimator, epoch, logs):
        estimator.stop_training_ = True


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_an_epoch_stopped_by_a_later_callback_is_finished_without_a_restore(tmp_path):
    # the monitor scored epoch 0 not knowing it was the last: on_adapt_end finishes it;
    # under "warn" no state is restored
    Xt, yt = _blobs(0)
    Xs, ys = _blobs(1)
    pair = DomainPair(Domain(Xs, ys), Domain(Xt, yt), n_clusters=K)
    mon = NegativeTransferMonitor(
        "warn", reference_epochs=20, check_features=False, calibrate=False, cache_dir=tmp_path
    )
    est = MinimalEstimator([mon, StopAfterFirstEpoch()]).fit(pair)
    decisions = [e["decision"] for e in est.monitor_trail_]
    assert decisions == ["start", COLLAPSED, "flag"]
    assert est.negative_transfer_ and not getattr(est, "fell_back_to_reference_", False)
