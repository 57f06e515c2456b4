"""Negative-transfer monitor and no-transfer reference.

The policies are unit-tested on a scripted stand-in of DTC that implements the documented
callback interface (``transfer_scale_``, ``stop_training_``, ``get_state`` / ``set_state``,
``history_``, ``transform_target``); one end-to-end test runs the real DTC on the digits
default with a tiny budget.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from dtc.data import Domain, DomainPair, make_digits_pair
from dtc.metrics import cluster_acc
from dtc.monitor import negative_transfer
from dtc.monitor.base import Callback
from dtc.monitor.calibration import random_relabel, score_slope, source_bias
from dtc.monitor.negative_transfer import NegativeTransferMonitor, knn_agreement
from dtc.monitor.partition_score import (
    COLLAPSED,
    common_space_score,
    scored_space,
    student_t_assignments,
    usable_scores,
)
from dtc.monitor.reference import NoTransferReference, clear_reference_cache
from dtc.monitor.scores import PROB_SCORES, information_maximization

K = 3
# The real-DTC test: the default network, a small budget.
BUDGET = {"pretrain_epochs": 10, "adapt_epochs": 10, "self_training_rounds": 2, "n_threads": 1}


def monitor(policy="warn", **kwargs):
    # One reference budget for every scripted test, so the cached reference is shared.
    return NegativeTransferMonitor(policy, reference_epochs=20, **kwargs)


def blobs(n_per=40, d=6, seed=0):
    """Three well-separated Gaussian blobs ``(3 n_per, d)`` and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (K, d))
    y = np.repeat(np.arange(K), n_per)
    return (centres[y] + rng.normal(0, 0.5, (len(y), d))).astype(np.float32), y


def good(X, rng):
    return X + rng.normal(0, 0.05, X.shape)


def bad(X, rng):
    # An embedding unrelated to the target's structure: a clustering of it is arbitrary.
    return rng.normal(0, 1, (len(X), 4))


class ScriptedDTC:
    """A stand-in of :class:`dtc.pipeline.DTC` whose target embedding at adaptation epoch
    ``e`` is ``script[e](X)``; its state is the epoch whose embedding is current."""

    def __init__(self, script, discrepancy, callbacks, n_clusters=K, start_discrepancy=None):
        self.script, self.discrepancies, self.callbacks = script, discrepancy, callbacks
        self.start_discrepancy = start_discrepancy
        self.n_clusters = n_clusters
        self.adapt_epochs = len(script)
        self.hidden, self.n_latent, self.pretrain_epochs, self.batch_size = (16,), 4, 10, 32
        self.restored = []

    def get_state(self):
        return {"epoch": self._state}

    def discrepancy(self):  # DTC's, before any epoch: the scripted start's (None: unknown)
        return self.start_discrepancy

    def set_state(self, state):
        self.restored.append(state["epoch"])
        self._state = state["epoch"]

    def transform_target(self, X, preprocessed=False):  # the script preprocesses nothing
        fn = self.script[max(self._state, 0)]
        return fn(X, np.random.default_rng(100 + self._state))

    def fit(self, pair):
        self.history_, self.transfer_scale_, self.stop_training_ = [], 1.0, False
        self.scales = []
        self._state = -1
        X = pair.target.X
        for cb in self.callbacks:
            cb.on_fit_begin(self, pair.mask_target_labels())
        for cb in self.callbacks:
            cb.on_adapt_begin(self, self.get_state())
        for epoch in range(self.adapt_epochs):
            self._state = epoch
            self.scales.append(self.transfer_scale_)
            logs = {"stage": "adapt", "epoch": epoch, "discrepancy": self.discrepancies[epoch]}
            self.history_.append(logs)
            for cb in self.callbacks:
                cb.on_adapt_epoch_end(self, epoch, logs)
            if self.stop_training_:
                break
        for cb in self.callbacks:
            cb.on_adapt_end(self)
        self.embedding_ = self.transform_target(X)
        km = KMeans(self.n_clusters, n_init=3, random_state=0).fit(self.embedding_)
        self.labels_, self.cluster_centers_ = km.labels_, km.cluster_centers_
        self.cluster_classes_ = np.arange(self.n_clusters)
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self


@pytest.fixture()
def pair():
    X, y = blobs()
    Xs, ys = blobs(seed=1)
    return DomainPair(Domain(Xs, ys), Domain(X, y), n_clusters=K)


# -- scores in a common space -------------------------------------------------------
def test_common_space_score_is_the_mean_of_sklearn_silhouettes():
    X, y = blobs()
    Z = np.random.default_rng(3).normal(size=(len(X), 2))
    X = X.astype(np.float64)
    expected = (silhouette_score(X, y) + silhouette_score(Z, y)) / 2
    assert common_space_score("silhouette", y, [X, Z]) == pytest.approx(expected, rel=1e-9)


def test_student_t_assignments_name_features_that_are_no_numbers():
    # one NaN spread into every row, and the error blamed all rows' soft assignments
    X = np.random.default_rng(0).normal(size=(40, 3))
    X[5, 1] = np.nan
    with pytest.raises(
        ValueError,
        match=r"^student_t_assignments: X must be finite, found NaN or Inf in 1 row\(s\)",
    ):
        student_t_assignments(X, np.arange(40) % 2)


def test_student_t_assignments_by_hand():
    X = np.array([[0.0], [2.0], [4.0], [6.0]])
    labels = np.array([0, 0, 1, 1])
    # Centred X: -3, -1, 1, 3; mean squared norm 5 -> scaled by sqrt(5); centres -2, 2.
    x, c = np.array([-3, -1, 1, 3]) / np.sqrt(5), np.array([-2, 2]) / np.sqrt(5)
    q = 1 / (1 + (x[:, None] - c[None]) ** 2)
    np.testing.assert_allclose(student_t_assignments(X, labels), q / q.sum(1, keepdims=True))
    score = common_space_score("information_maximization", labels, [X])
    assert score == pytest.approx(information_maximization(q / q.sum(1, keepdims=True)))


def test_knn_agreement_is_a_score_of_the_common_space():
    Xb, yb = blobs()
    assert knn_agreement(Xb, yb) == pytest.approx(1.0)
    assert common_space_score("knn_agreement", yb, [Xb]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        knn_agreement(Xb, np.zeros(len(Xb)))


# -- the reference ------------------------------------------------------------------
def test_reference_is_cached_in_memory_and_on_disk(tmp_path):
    X, y = blobs()
    clear_reference_cache()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 20, "batch_size": 32, "cache_dir": tmp_path}
    first = NoTransferReference(K, **kw).fit(X)
    assert not first.from_cache_ and cluster_acc(y, first.labels_) == 1.0
    again = NoTransferReference(K, **kw).fit(X)
    assert again.from_cache_ and np.array_equal(again.labels_, first.labels_)
    clear_reference_cache()
    from_disk = NoTransferReference(K, **kw).fit(X)
    assert from_disk.from_cache_ and np.array_equal(from_disk.embedding_, first.embedding_)
    other = NoTransferReference(K, **{**kw, "seed": 1}).fit(X)
    assert not other.from_cache_ and other.key_ != first.key_
    # a refused refit is no fit: the previous partition (of other rows) looked fitted
    with pytest.raises(ValueError):
        other.fit(X[: K - 1])
    assert not hasattr(other, "labels_") and not hasattr(other, "key_")


def test_references_trained_on_other_thread_counts_are_cached_apart():
    """One key stood for the references of 1 and 2 threads, which differ (float
    reductions split by thread): a fit got whichever its process computed first."""
    import torch

    X, _ = blobs()
    clear_reference_cache()
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32}
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = NoTransferReference(K, **kw).fit(X)
        torch.set_num_threads(2)
        two = NoTransferReference(K, **kw).fit(X)
        assert not two.from_cache_ and two.key_ != one.key_
        torch.set_num_threads(1)
        assert NoTransferReference(K, **kw).fit(X).key_ == one.key_
    finally:
        torch.set_num_threads(threads)
        clear_reference_cache()


def test_references_of_other_cpu_kernels_are_cached_apart(monkeypatch):
    """Nor the kernels' instruction set and the CPU: a reference of scalar kernels was
    taken from the cache by an AVX2 process (4 labels apart)."""
    from dtc.monitor import reference

    X, _ = blobs()
    clear_reference_cache()
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32}
    here = NoTransferReference(K, **kw).fit(X)
    monkeypatch.setattr(reference, "cpu_kernels", lambda: "DEFAULT:AuthenticAMD")
    there = NoTransferReference(K, **kw).fit(X)
    assert not there.from_cache_ and there.key_ != here.key_
    clear_reference_cache()


def test_a_reference_found_in_memory_is_stored_in_its_cache_dir_too(tmp_path):
    # cache_dir: "also store the reference there". A reference computed earlier in the
    # process (without a cache_dir, or for another one) was a memory hit and never written:
    # the directory stayed empty and another process trained it again.
    X, _ = blobs()
    clear_reference_cache()
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32}
    first = NoTransferReference(K, **kw).fit(X)
    hit = NoTransferReference(K, **kw, cache_dir=tmp_path).fit(X)
    assert hit.from_cache_
    assert [p.name for p in tmp_path.iterdir()] == [f"reference-{first.key_}.npz"]
    clear_reference_cache()
    from_disk = NoTransferReference(K, **kw, cache_dir=tmp_path).fit(X)
    assert from_disk.from_cache_ and np.array_equal(from_disk.embedding_, first.embedding_)
    clear_reference_cache()


def test_settings_that_train_the_same_reference_share_its_cache_entry():
    # weight_decay=0 (a config's) and 0.0 (the default), and an image shape that the fully
    # connected architecture never reads, trained the reference again
    X, _ = blobs()
    clear_reference_cache()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 2, "batch_size": 32}
    first = NoTransferReference(K, **kw).fit(X)
    same = NoTransferReference(K, **kw, weight_decay=0, noise=0, n_init=np.int64(10)).fit(X)
    shaped = NoTransferReference(K, **kw).fit(X, image_shape=(2, 3))
    assert same.from_cache_ and shaped.from_cache_ and shaped.key_ == first.key_
    assert not NoTransferReference(K, **kw, weight_decay=1e-4).fit(X).from_cache_
    # ... but a value the network builder refuses is no key of the cached one
    with pytest.raises(ValueError, match="n_latent: expected an int >= 1, got 4.5"):
        NoTransferReference(K, **{**kw, "n_latent": 4.5}).fit(X)


def test_the_reference_refuses_labels_or_a_malformed_image_shape_by_name():
    # fit(X, y), scikit-learn's habit, read the labels as image_shape: ignored by a fully
    # connected network (a fit "with labels" that read none), and with "conv" an error not
    # naming the reference; a string or a non-integer size failed in int()'s words, or was
    # truncated unread
    X, y = blobs()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 1, "batch_size": 32}
    for architecture in ("mlp", "conv"):
        with pytest.raises(
            ValueError,
            match=r"^NoTransferReference\.fit: image_shape must be \(H, W\) or \(C, H, W\) of "
            rf"positive ints, got {len(y)} values \(fit reads no labels",
        ):
            NoTransferReference(K, **kw, architecture=architecture).fit(X, y)
    for bad in ("ab", (3, "x"), (2.5, 2), (2, -3), 6, (6,)):
        with pytest.raises(ValueError, match=r"^NoTransferReference\.fit: image_shape must be"):
            NoTransferReference(K, **kw).fit(X, bad)
    # a well-formed shape is taken, as the monitor passes it
    assert NoTransferReference(K, **kw).fit(X, image_shape=(2, 3)).labels_.shape == (len(X),)


def test_the_reference_memory_keeps_the_most_recent_entries_only(monkeypatch):
    # Unbounded, a notebook looping over seeds kept an entry per fit for the life of the
    # process (its key holds the seed): 0.65 MiB each at 5,000 rows.
    from dtc.monitor import reference

    X, _ = blobs()
    clear_reference_cache()
    monkeypatch.setattr(reference, "_MEMORY_SIZE", 2)
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32}
    fits = [NoTransferReference(K, **kw, seed=s).fit(X) for s in (0, 1, 2)]
    assert list(reference._MEMORY) == [fits[1].key_, fits[2].key_]  # seed 0 is out
    again = NoTransferReference(K, **kw, seed=1).fit(X)  # a hit, now the most recent
    assert again.from_cache_ and list(reference._MEMORY) == [fits[2].key_, fits[1].key_]
    redone = NoTransferReference(K, **kw, seed=0).fit(X)  # computed again: the same
    assert not redone.from_cache_ and np.array_equal(redone.labels_, fits[0].labels_)
    monkeypatch.setattr(reference, "_MEMORY_BYTES", 1)  # larger than the bound: not kept
    NoTransferReference(K, **kw, seed=3).fit(X)
    assert len(reference._MEMORY) == 2
    clear_reference_cache()


@pytest.mark.parametrize(
    "setting",
    [
        {"seed": 1},
        {"epochs": 2},
        {"batch_size": 16},
        {"lr": 1e-2},
        {"weight_decay": 1e-4},
        {"noise": 0.1},
        {"mask": 0.1},
        {"n_init": 2},
        {"n_latent": 3},
        {"hidden": (6,)},
    ],
)
def test_every_setting_that_changes_the_reference_is_in_its_cache_key(setting):
    # "keyed by ... every setting that changes the result": a setting left out of the key
    # returned the reference trained under the other value from the cache
    X, _ = blobs()
    clear_reference_cache()
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32}
    first = NoTransferReference(K, **kw).fit(X)
    other = NoTransferReference(K, **{**kw, **setting}).fit(X)
    assert not other.from_cache_ and other.key_ != first.key_
    clear_reference_cache()


def test_a_memory_hit_becomes_the_most_recent_entry_before_the_memory_is_full(monkeypatch):
    # "the least recently used entry first out": a hit moves to the end even while there is
    # room, so that the next entry past the bound evicts the entry not used since
    from dtc.monitor import reference

    X, _ = blobs()
    clear_reference_cache()
    monkeypatch.setattr(reference, "_MEMORY_SIZE", 3)
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32}
    fits = [NoTransferReference(K, **kw, seed=s).fit(X) for s in (0, 1)]
    assert NoTransferReference(K, **kw, seed=0).fit(X).from_cache_
    assert list(reference._MEMORY) == [fits[1].key_, fits[0].key_]
    third = NoTransferReference(K, **kw, seed=2).fit(X)
    fourth = NoTransferReference(K, **kw, seed=3).fit(X)  # past the bound: seed 1 goes
    assert list(reference._MEMORY) == [fits[0].key_, third.key_, fourth.key_]
    clear_reference_cache()


def test_reference_cache_is_read_without_unpickling(tmp_path, monkeypatch):
    # A cache file is data: np.load is told explicitly not to unpickle objects from it,
    # whatever NumPy's default, and an entry holding pickled objects is refused.
    X, _ = blobs()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 2, "batch_size": 32, "cache_dir": tmp_path}
    clear_reference_cache()
    first = NoTransferReference(K, **kw).fit(X)
    clear_reference_cache()
    load, calls = np.load, []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    assert NoTransferReference(K, **kw).fit(X).from_cache_
    assert calls == [{"allow_pickle": False}]
    path = next(tmp_path.iterdir())
    np.savez(path, labels=np.array([object()]), embedding=first.embedding_, centres=first.labels_)
    clear_reference_cache()
    # refused (never unpickled), named, and computed again
    with pytest.warns(UserWarning, match="cached reference cannot be read .*allow_pickle=False"):
        again = NoTransferReference(K, **kw).fit(X)
    assert not again.from_cache_ and np.array_equal(again.embedding_, first.embedding_)


def test_a_damaged_or_misshapen_cache_entry_is_computed_again(tmp_path):
    # numpy's error about pickled data for garbage bytes; an entry of other shapes was read
    X, _ = blobs()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 2, "batch_size": 32, "cache_dir": tmp_path}
    clear_reference_cache()
    first = NoTransferReference(K, **kw).fit(X)
    path = next(tmp_path.iterdir())
    raw = path.read_bytes()
    entry = raw.index(b"PK\x01\x02")
    # zipfile's NotImplementedError for a damaged version field failed the fit
    version = raw[: entry + 6] + b"\xff\x00" + raw[entry + 8 :]

    def headless():  # a member without a .npy header: returned as bytes, without a shape
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            for name in ("labels", "embedding", "centres"):
                archive.writestr(f"{name}.npy", b"no header")

    for write, problem in [
        (lambda: path.write_bytes(b"not an archive"), "cannot be read"),
        (lambda: path.write_bytes(version), "cannot be read"),
        (headless, "cannot be read"),
        (
            lambda: np.savez(
                path,
                labels=first.labels_[:5],
                embedding=first.embedding_[:5],
                centres=first.cluster_centers_,
            ),
            "holds arrays of other shapes",
        ),
        (  # the rows right, the centres of other clusters than K (mutation-test gap)
            lambda: np.savez(
                path,
                labels=first.labels_,
                embedding=first.embedding_,
                centres=first.cluster_centers_[:-1],
            ),
            "holds arrays of other shapes",
        ),
        (  # centres of another width than the embedding
            lambda: np.savez(
                path,
                labels=first.labels_,
                embedding=first.embedding_,
                centres=first.cluster_centers_[:, :-1],
            ),
            "holds arrays of other shapes",
        ),
    ]:
        write()
        clear_reference_cache()
        with pytest.warns(UserWarning, match=problem):
            again = NoTransferReference(K, **kw).fit(X)
        assert not again.from_cache_ and np.array_equal(again.labels_, first.labels_)
        clear_reference_cache()  # another process: read from the rewritten file
        assert NoTransferReference(K, **kw).fit(X).from_cache_  # rewritten


def test_a_damaged_entry_in_a_cache_dir_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    # Before the damaged entry was rewritten, such a folder (a shared, read-only cache) only
    # warned; once rewritten, the write's PermissionError failed the fit after its training
    from dtc.monitor import reference

    X, _ = blobs()
    kw = {"hidden": (8,), "n_latent": 2, "epochs": 1, "batch_size": 32, "cache_dir": tmp_path}
    clear_reference_cache()
    first = NoTransferReference(K, **kw).fit(X)
    next(tmp_path.iterdir()).write_bytes(b"not an archive")
    clear_reference_cache()

    def read_only(path, arrays):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(reference, "_write_atomically", read_only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = NoTransferReference(K, **kw).fit(X)
    # the damaged entry is named, then the copy that cannot be stored
    read, stored = (str(w.message) for w in caught)
    assert read.endswith(
        "the cached reference cannot be read (not an .npz archive: it starts with b'not '); "
        "computing it again"
    )
    assert "computed again cannot be stored" in stored
    assert not again.from_cache_ and np.array_equal(again.labels_, first.labels_)
    clear_reference_cache()


def test_reference_with_a_user_network_is_keyed_by_its_weights_and_leaves_it_untouched():
    # A user encoder: the key holds its structure and initial weights, so another init is
    # another reference, and the user's module is copied before training, never trained.
    import torch
    from torch import nn

    X, _ = blobs()
    clear_reference_cache()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(X.shape[1], 8), nn.ReLU(), nn.Linear(8, 3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    kw = {"epochs": 2, "batch_size": 32}
    first = NoTransferReference(K, architecture=net, **kw).fit(X)
    assert first.embedding_.shape == (len(X), 3) and not first.from_cache_
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert NoTransferReference(K, architecture=net, **kw).fit(X).from_cache_
    with torch.no_grad():
        net[0].weight.add_(0.1)
    other = NoTransferReference(K, architecture=net, **kw).fit(X)
    assert other.key_ != first.key_ and not other.from_cache_


def test_reference_with_a_lazily_sized_user_network_is_keyed_and_leaves_it_lazy():
    # A lazy encoder (nn.LazyLinear) is a network DTC accepts: its weights exist only after
    # a first call, so the key cannot hash them; it was a torch ValueError ("uninitialized
    # parameter") before the reference was trained.
    from torch import nn

    X, _ = blobs()
    clear_reference_cache()
    net = nn.Sequential(nn.LazyLinear(3))
    kw = {"epochs": 1, "batch_size": 32}
    first = NoTransferReference(K, architecture=net, **kw).fit(X)
    assert first.embedding_.shape == (len(X), 3) and not first.from_cache_
    assert isinstance(net[0], nn.LazyLinear)  # the user's module is still uninitialised
    again = NoTransferReference(K, architecture=nn.Sequential(nn.LazyLinear(3)), **kw).fit(X)
    assert again.from_cache_ and np.array_equal(again.embedding_, first.embedding_)
    wider = NoTransferReference(K, architecture=nn.Sequential(nn.LazyLinear(4)), **kw).fit(X)
    assert wider.key_ != first.key_ and wider.embedding_.shape == (len(X), 4)


def test_reference_cache_write_leaves_no_partial_file(tmp_path, monkeypatch):
    X, _ = blobs()
    clear_reference_cache()

    def broken(f, **arrays):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 1, "batch_size": 32, "cache_dir": tmp_path}
    with pytest.raises(OSError, match="disk full"):
        NoTransferReference(K, **kw).fit(X)
    assert list(tmp_path.iterdir()) == []


def test_a_reference_fitted_alone_trains_under_the_callers_torch_modes():
    # Inside a DTC fit (or from the cache) it trained; fitted alone, in the caller's
    # no_grad or inference_mode it failed at the first backward, and after a float64
    # default it refused "the network" it had built itself.
    import torch

    X, _ = blobs()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 2, "batch_size": 32}
    clear_reference_cache()
    alone = NoTransferReference(K, **kw).fit(X)
    for mode in (torch.no_grad, torch.inference_mode):
        clear_reference_cache()
        with mode():
            np.testing.assert_array_equal(
                NoTransferReference(K, **kw).fit(X).labels_, alone.labels_
            )
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        clear_reference_cache()
        ref = NoTransferReference(K, **kw).fit(X)
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(default)
    np.testing.assert_array_equal(ref.embedding_, alone.embedding_)


def test_a_failed_reference_fit_is_no_fit(monkeypatch):
    # key_ was set before the training: a failed refit left a new key beside the last
    # fit's labels, which that key does not describe; the last fit's labels then still
    # looked fitted, of other rows (a failed fit is no fit, as for every method).
    X, _ = blobs()
    clear_reference_cache()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 1, "batch_size": 32}
    ref = NoTransferReference(K, **kw).fit(X)
    key, labels = ref.key_, ref.labels_.copy()

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(NoTransferReference, "_compute", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        ref.fit(X[:-1])
    assert not [a for a in vars(ref) if a.endswith("_") and not a.startswith("_")]
    monkeypatch.undo()
    refit = ref.fit(X)  # and a refit is the fit it was (from the cache)
    assert refit.key_ == key and refit.from_cache_
    np.testing.assert_array_equal(refit.labels_, labels)


@pytest.mark.parametrize(
    ("kw", "X_shape", "match"),
    [
        ({"n_clusters": 1}, (20, 3), "n_clusters must be an int >= 2, got 1"),
        ({"n_clusters": True}, (20, 3), "n_clusters must be an int >= 2, got True"),
        ({"n_clusters": 3}, (3, 3), r"more than n_clusters=3 samples, got shape \(3, 3\)"),
        ({"n_clusters": 3}, (20,), r"got shape \(20,\)"),
        ({"n_clusters": 3, "epochs": -1}, (20, 3), "epochs must be an int >= 0, got -1"),
        ({"n_clusters": 3, "n_init": 0}, (20, 3), "n_init must be an int >= 1, got 0"),
    ],
)
def test_reference_bad_input_is_named(kw, X_shape, match):
    n_clusters = kw.pop("n_clusters")
    X = np.zeros(X_shape, dtype=np.float32)
    with pytest.raises(ValueError, match=f"NoTransferReference: .*{match}"):
        NoTransferReference(n_clusters, **kw).fit(X)


def test_reference_cache_key_holds_the_image_shape():
    # One target, two image shapes: two convolutional networks, never one cached result.
    X = np.random.default_rng(0).uniform(size=(40, 64)).astype(np.float32)
    clear_reference_cache()
    kw = {"architecture": "conv", "epochs": 1, "batch_size": 32}
    square = NoTransferReference(K, **kw).fit(X, image_shape=(8, 8))
    wide = NoTransferReference(K, **kw).fit(X, image_shape=(4, 16))
    assert wide.key_ != square.key_ and not wide.from_cache_
    again = NoTransferReference(K, **kw).fit(X, image_shape=(8, 8))
    assert again.key_ == square.key_ and again.from_cache_


@pytest.mark.parametrize("library", ["torch", "scikit-learn"])
def test_reference_cache_key_holds_the_library_versions(tmp_path, monkeypatch, library):
    # A disk entry written under another torch or scikit-learn is not taken: torch's kernels
    # may train other weights, another K-means release may partition them otherwise.
    import dtc.monitor.reference as reference

    X, _ = blobs()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 2, "batch_size": 32, "cache_dir": tmp_path}
    clear_reference_cache()
    now = NoTransferReference(K, **kw).fit(X)
    installed = reference._library_versions()
    monkeypatch.setattr(reference, "_library_versions", lambda: {**installed, library: "0.0.0"})
    older = NoTransferReference(K, **kw).fit(X)
    assert older.key_ != now.key_ and not older.from_cache_
    assert len(list(tmp_path.iterdir())) == 2


def test_two_writers_of_one_reference_do_not_collide(tmp_path, monkeypatch):
    X, _ = blobs()
    kw = {"hidden": (16,), "n_latent": 4, "epochs": 2, "batch_size": 32, "cache_dir": tmp_path}
    clear_reference_cache()
    savez, second = np.savez, []

    def interleaved_savez(file, **arrays):
        savez(file, **arrays)
        if not second:  # while the first write is open, another process writes the same key
            second.append(True)
            NoTransferReference(K, **kw).fit(X)

    monkeypatch.setattr(np, "savez", interleaved_savez)
    first = NoTransferReference(K, **kw).fit(X)
    monkeypatch.undo()
    assert second and not first.from_cache_
    # one complete file, no temporary left behind
    assert [p.name for p in tmp_path.iterdir()] == [f"reference-{first.key_}.npz"]
    clear_reference_cache()
    from_disk = NoTransferReference(K, **kw).fit(X)
    assert from_disk.from_cache_ and np.array_equal(from_disk.embedding_, first.embedding_)


def test_reference_budget_matches_the_estimators_gradient_steps():
    est = ScriptedDTC([good] * 3, [0.0] * 3, [])
    # pretrain: 10 epochs x ceil(100/32)=4 steps; adapt: 3 epochs x ceil(100/32)=4 steps
    # = 52 steps; the target (50 rows) has 2 steps an epoch -> 26 epochs.
    ref = NoTransferReference.from_estimator(est, K, n_source=100, n_target=50)
    assert ref.epochs == 26
    # pretraining on the target: with source labels DTC's head also sees the 100 source
    # rows (10 x ceil(150/32)=5 steps), without them the 50 target rows alone (10 x 2)
    est.pretrain_on = "target"
    assert NoTransferReference.from_estimator(est, K, n_source=100, n_target=50).epochs == 31
    unl = NoTransferReference.from_estimator(
        est, K, n_source=100, n_target=50, labelled_source=False
    )
    assert unl.epochs == 16
    est.pretrain_on = "both"
    assert NoTransferReference.from_estimator(est, K, n_source=100, n_target=50).epochs == 31
    # a heterogeneous pair: the source alone (10 x 4), adaptation (3 x 4) and the target's
    # own autoencoder (10 x 2) = 72 steps -> 36 epochs; it counted 26 (no target
    # autoencoder, and "both" as if the domains were stacked: 31)
    het = NoTransferReference.from_estimator(est, K, n_source=100, n_target=50, heterogeneous=True)
    assert het.epochs == 36


def test_the_reference_budget_counts_the_self_training_epochs():
    # "adaptation and self-training steps (max(n_source, n_target) rows per epoch;
    # self_training_rounds x self_training_epochs epochs)"
    est = ScriptedDTC([good] * 3, [0.0] * 3, [])
    est.self_training_rounds, est.self_training_epochs = 2, 3
    # pretrain 10 x ceil(100/32)=4 = 40 steps; adapt + self-training (3 + 2 x 3) x 4 = 36
    # steps; 76 steps over the target's 2 steps an epoch -> 38 epochs
    ref = NoTransferReference.from_estimator(est, K, n_source=100, n_target=50)
    assert ref.epochs == 38


def test_the_monitors_default_reference_budget_is_the_estimators_gradient_steps():
    # reference_epochs=None is not pretrain + adapt epochs: the source (240 rows) is twice
    # the target (120), so each of the estimator's epochs is 8 steps against the target's 4.
    X, y = blobs()
    Xs, ys = blobs(n_per=80, seed=1)
    mon = NegativeTransferMonitor(calibrate=False, check_features=False)
    est = ScriptedDTC([good], [0.1], [mon]).fit(DomainPair(Domain(Xs, ys), Domain(X, y)))
    assert est.pretrain_epochs + est.adapt_epochs == 11
    assert mon.reference_.epochs == (10 * 8 + 1 * 8) // 4 == 22


# -- policies -------------------------------------------------------------------------
def test_warn_flags_negative_transfer_and_records_the_trail(pair):
    mon = monitor("warn")
    est = ScriptedDTC([bad] * 3, [0.3, 0.2, 0.1], [mon]).fit(pair)
    assert est.negative_transfer_ and not est.fell_back_to_reference_
    assert [e["epoch"] for e in est.monitor_trail_] == [-1, 0, 1, 2, "final"]
    assert est.monitor_trail_[-1]["decision"] == "flag"
    assert all(e["score"] < e["reference"] for e in est.monitor_trail_)
    assert est.history_[-1]["stage"] == "monitor" and est.history_[-1]["negative"]
    assert "monitor_score" in est.history_[0] and est.history_[0]["discrepancy"] == 0.3
    assert est.restored == [] and est.scales == [1.0, 1.0, 1.0]  # warn only watches


def test_the_monitor_draws_with_the_estimators_seed_unless_given_one(pair):
    # seed was 0 whatever the fit's: a config's monitor (seeds: [0, 1, 2]) drew the same
    # subsample and K-means for every run where the harness gives it the run's seed, and
    # the spread over seeds left the monitor's draws out
    from dtc.monitor import scores

    n = pair.target.n_samples
    runs = {}
    for est_seed, mon_seed, drawn in ((7, None, 7), (7, 7, 7), (7, 2, 2), (None, None, 0)):
        mon = monitor("warn", max_samples=60, seed=mon_seed)
        est = ScriptedDTC([good] * 2, [0.2, 0.1], [mon])
        if est_seed is not None:
            est.seed = est_seed
        est.fit(pair)
        np.testing.assert_array_equal(mon._idx, scores.subsample_index(n, 60, drawn))
        runs[est_seed, mon_seed] = est.monitor_trail_
    assert runs[7, None] == runs[7, 7]  # the harness's monitor (seed=args.seed)
    # a DTC seed near 2**32 - 1 is DTC's to take: folded into the range whose restarts fit
    # (seed + 1 to seed + n_restarts), not refused
    mon = monitor("warn", max_samples=60)
    est = ScriptedDTC([good], [0.1], [mon])
    est.seed = 2**32 - 1
    est.fit(pair)
    folded = (2**32 - 1) % (2**32 - mon.n_restarts)
    np.testing.assert_array_equal(mon._idx, scores.subsample_index(n, 60, folded))
    with pytest.raises(ValueError, match=r"seed=None: the estimator's seed\): seed must be an"):
        est = ScriptedDTC([good], [0.1], [monitor("warn")])
        est.seed = -1
        est.fit(pair)


def test_warn_does_not_flag_positive_transfer(pair):
    mon = monitor("warn", every=2)
    est = ScriptedDTC([good] * 3, [0.3, 0.2, 0.1], [mon]).fit(pair)
    assert not est.negative_transfer_
    # every=2: epoch 1, and the last epoch (2) always
    assert [e["epoch"] for e in est.monitor_trail_] == [-1, 1, 2, "final"]
    assert cluster_acc(pair.target.y, est.labels_) == 1.0


def test_adapt_damps_lambda_when_score_falls_while_discrepancy_falls(pair):
    mon = monitor("adapt", adapt_factor=0.5)
    est = ScriptedDTC([good, good, bad, bad], [0.4, 0.3, 0.2, 0.1], [mon]).fit(pair)
    # The score falls at epoch 2 (good -> bad) while the discrepancy falls: damp once.
    assert est.scales == [1.0, 1.0, 1.0, 0.5]
    assert est.transfer_scale_ == 0.5
    assert [e["decision"] for e in est.monitor_trail_][3] == "below_reference+damp"


def test_adapt_damps_at_its_first_check_against_the_start(pair):
    # The start check had no discrepancy, so the first check could never see it fall:
    # with every >= adapt_epochs (one check) adapt never damped at all.
    mon = monitor("adapt", adapt_factor=0.5, every=2)
    est = ScriptedDTC([good, bad, bad], [0.25, 0.2, 0.1], [mon], start_discrepancy=0.3).fit(pair)
    assert est.monitor_trail_[0]["discrepancy"] == 0.3
    assert est.scales == [1.0, 1.0, 0.5]
    assert est.monitor_trail_[1]["epoch"] == 1 and est.monitor_trail_[1]["decision"].endswith(
        "damp"
    )
    rising = ScriptedDTC(
        [good, bad, bad], [0.35, 0.4, 0.5], [monitor("adapt", every=2)], start_discrepancy=0.3
    )
    assert rising.fit(pair).transfer_scale_ == 1.0


def test_adapt_keeps_lambda_when_the_discrepancy_rises(pair):
    mon = monitor("adapt")
    est = ScriptedDTC([good, good, bad, bad], [0.1, 0.2, 0.3, 0.4], [mon]).fit(pair)
    assert est.transfer_scale_ == 1.0


def test_adapt_takes_no_fall_smaller_than_min_delta(pair):
    # "A score change smaller than this is no fall": k-NN agreement lies in [-1, 1], so no
    # fall reaches min_delta=2 and the falling discrepancy alone damps nothing.
    mon = monitor("adapt", adapt_factor=0.5, min_delta=2.0)
    est = ScriptedDTC([good, good, bad, bad], [0.4, 0.3, 0.2, 0.1], [mon]).fit(pair)
    trail = est.monitor_trail_
    assert trail[3]["score"] < trail[2]["score"]  # the score falls (by less than 2)
    assert est.scales == [1.0] * 4 and est.transfer_scale_ == 1.0
    assert not any("damp" in e["decision"] for e in trail)


def test_adapt_keeps_lambda_when_the_discrepancy_stays(pair):
    # damped only when the discrepancy falls too: an unchanged one is no alignment bought
    mon = monitor("adapt", adapt_factor=0.5)
    est = ScriptedDTC([good, good, bad, bad], [0.2, 0.2, 0.2, 0.2], [mon]).fit(pair)
    assert est.monitor_trail_[3]["score"] < est.monitor_trail_[2]["score"] - mon.min_delta
    assert est.scales == [1.0] * 4 and est.transfer_scale_ == 1.0


def test_rollback_restores_the_best_state(pair):
    mon = monitor("rollback")
    est = ScriptedDTC([bad, good, bad, bad], [0.4, 0.3, 0.2, 0.1], [mon]).fit(pair)
    assert est.restored == [1]  # the good epoch, restored after the last one
    assert est.monitor_trail_[-2]["decision"].endswith("restore_epoch_1")
    assert not est.negative_transfer_ and not est.fell_back_to_reference_
    assert cluster_acc(pair.target.y, est.labels_) == 1.0
    assert hasattr(est, "cluster_classes_")


def test_a_restore_brings_back_the_transfer_strength_of_its_checkpoint(pair):
    mon = monitor("adapt+rollback", adapt_factor=0.5)
    est = ScriptedDTC([bad, good, bad, bad], [0.4, 0.3, 0.2, 0.1], [mon]).fit(pair)
    # damped after epoch 2 (the score falls while the discrepancy falls): epoch 3 ran damped
    assert est.scales == [1.0, 1.0, 1.0, 0.5] and est.monitor_trail_[3]["decision"].endswith("damp")
    restore, best = est.monitor_trail_[-2], est.monitor_trail_[2]  # best: the good epoch 1
    assert best["epoch"] == 1 and best["score"] == max(e["score"] for e in est.monitor_trail_)
    assert est.restored == [1] and restore["decision"].endswith("restore_epoch_1")
    # the strength the restored networks were trained with, not the later damped one
    assert est.transfer_scale_ == 1.0 and restore["transfer_scale"] == 1.0
    # the kept checkpoint's score; the entry's score is the discarded last state's
    assert restore["restored_score"] == best["score"]
    assert restore["score"] < restore["restored_score"]
    assert all("restored_score" not in e for e in est.monitor_trail_ if e is not restore)


def test_rollback_keeps_the_last_state_when_the_best_leads_by_too_little(pair):
    # k-NN agreement lies in [-1, 1]: no checkpoint can lead the last one by more than 2.
    mon = monitor("rollback", min_restore_gain=2.0)
    est = ScriptedDTC([bad, good, bad, bad], [0.4, 0.3, 0.2, 0.1], [mon]).fit(pair)
    assert est.restored == [] and mon.restore_gain_ == 2.0
    assert not any("restore" in e["decision"] for e in est.monitor_trail_)
    assert est.negative_transfer_ and est.fell_back_to_reference_  # the last state is bad


class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_adapt_epoch_end(self, estimator, epoch, logs):
        estimator.stop_training_ = epoch == self.epoch


@pytest.mark.parametrize("every", [1, 2])
def test_rollback_restores_at_a_stop_set_by_a_later_callback(pair, every):
    """The last epoch was taken from ``stop_training_`` when the monitor was called, so a
    stop set by a callback after it was missed (no restore; with ``every=2`` epoch 2 not
    even scored). Monitor before or after the stopping callback: the same decisions."""
    script, disc = [bad, good, bad, bad, bad], [0.5, 0.4, 0.3, 0.2, 0.1]
    runs = {}
    for order in ("monitor_first", "monitor_last"):
        mon = monitor("rollback", every=every)
        cbs = [mon, StopAt(2)] if order == "monitor_first" else [StopAt(2), mon]
        est = ScriptedDTC(script, disc, cbs).fit(pair)
        assert [h["epoch"] for h in est.history_ if h["stage"] == "adapt"] == [0, 1, 2]
        assert est.restored == [1] and cluster_acc(pair.target.y, est.labels_) == 1.0
        assert est.monitor_trail_[-2]["epoch"] == 2
        assert est.monitor_trail_[-2]["decision"].endswith("restore_epoch_1")
        assert est.history_[2]["monitor_decision"] == est.monitor_trail_[-2]["decision"]
        runs[order] = [{k: e[k] for k in ("epoch", "decision")} for e in est.monitor_trail_]
    assert runs["monitor_first"] == runs["monitor_last"]


def test_a_restore_at_a_later_callbacks_stop_records_the_restored_transfer_strength(pair):
    # "an entry that restores ... its transfer_scale the restored one": also when the stop
    # came from a callback after the monitor (the restore then happens in on_adapt_end)
    mon = monitor("adapt+rollback", adapt_factor=0.5)
    script, disc = [bad, good, bad, bad, bad], [0.5, 0.4, 0.3, 0.2, 0.1]
    est = ScriptedDTC(script, disc, [mon, StopAt(3)]).fit(pair)
    restore = est.monitor_trail_[-2]
    assert restore["epoch"] == 3 and restore["decision"].endswith("restore_epoch_1")
    assert 0.5 in est.scales  # damped after the checkpoint
    assert est.transfer_scale_ == 1.0 and restore["transfer_scale"] == 1.0


@pytest.mark.parametrize("calibrate", [True, False])
def test_the_spread_restore_gain_is_the_noise_between_equal_partitions(pair, calibrate):
    mon = monitor("rollback", min_restore_gain="spread", tolerance=0.01, calibrate=calibrate)
    est = ScriptedDTC([bad, good, bad, bad], [0.4, 0.3, 0.2, 0.1], [mon]).fit(pair)
    spread = mon.calibration_["restart_spread"] if calibrate else 0.0
    assert mon.restore_gain_ == pytest.approx(0.01 + 2 * spread)
    assert 0 < mon.restore_gain_ < 0.5
    assert est.restored == [1]  # the good epoch leads the bad last one by far more


def collapsed(X, rng):
    # An embedding collapsed to one point: K-means finds one cluster (and warns so).
    return np.zeros((len(X), 4))


def _json_trail(est) -> list:
    # The trail is written to JSON lines by the scripts: strict JSON, no -inf or NaN.
    return json.loads(json.dumps(est.monitor_trail_, allow_nan=False))


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
@pytest.mark.parametrize(("policy", "decision"), [("warn", "flag"), ("rollback", "fallback")])
def test_a_collapsed_transfer_partition_is_flagged_with_its_reason(pair, policy, decision):
    # One cluster has no label-free score: the monitor raised ValueError at the first check.
    mon = monitor(policy, calibrate=False, check_features=False)
    est = ScriptedDTC([collapsed] * 2, [0.2, 0.1], [mon]).fit(pair)
    assert est.negative_transfer_ and est.fell_back_to_reference_ == (policy == "rollback")
    trail = _json_trail(est)
    assert [e["decision"] for e in trail] == ["start", COLLAPSED, COLLAPSED, decision]
    assert all(e["score"] is None and e["negative"] for e in trail)
    assert trail[-1]["reason"] == COLLAPSED and est.restored == []
    assert [h["monitor_score"] for h in est.history_ if "monitor_score" in h] == [None, None]


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_a_collapsed_state_is_never_the_best_and_a_good_one_is_restored_over_it(pair):
    mon = monitor("rollback", calibrate=False, check_features=False)
    # the start (epoch -1) and epoch 0 share script[0]: collapsed; epoch 1 good, 2 collapsed
    est = ScriptedDTC([collapsed, good, collapsed], [0.3, 0.2, 0.1], [mon]).fit(pair)
    trail = _json_trail(est)
    assert est.restored == [1]  # the good epoch, not the collapsed start
    assert trail[-2]["decision"] == f"{COLLAPSED}+restore_epoch_1"
    assert trail[-2]["restored_score"] == trail[2]["score"] == pytest.approx(1.0)
    assert trail[-1]["decision"] == "keep" and not est.negative_transfer_
    assert cluster_acc(pair.target.y, est.labels_) == 1.0


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_a_collapsed_partition_is_negative_where_the_score_does_not_count(pair):
    # The score's verdict does not count at this resolution; a collapse is flagged anyway.
    mon = monitor("warn", tolerance=0.05, max_resolution=1e-9, check_features=False)
    est = ScriptedDTC([collapsed], [0.1], [mon]).fit(pair)
    assert not mon.score_counts_ and est.negative_transfer_
    assert _json_trail(est)[-1]["reason"] == COLLAPSED


def test_a_collapsed_final_partition_of_a_good_embedding_is_flagged(pair):
    class CollapsedHead(Callback):
        # the networks embed the target well, the final labels put it in one cluster
        def on_fit_end(self, estimator):
            estimator.labels_ = np.zeros_like(estimator.labels_)

    est = ScriptedDTC([good] * 2, [0.2, 0.1], [CollapsedHead(), monitor("rollback")]).fit(pair)
    final = _json_trail(est)[-1]
    assert final["decision"] == "fallback" and final["reason"] == COLLAPSED
    assert final["score"] is None and est.negative_transfer_
    assert np.unique(est.transfer_labels_).size == 1


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_a_collapsed_partition_is_named_so_after_a_failed_source_check():
    # "A collapsed partition ... the worst negative transfer ... with reason
    # collapsed_partition": a source that failed a check does not hide the collapse
    mon = monitor("warn", calibrate=False)
    est = ScriptedDTC([collapsed] * 2, [0.2, 0.1], [mon]).fit(wide_pair(permute_source=True))
    assert not mon.correspondence_["related"]  # the source failed its check too
    assert [e["decision"] for e in est.monitor_trail_] == ["start", COLLAPSED, COLLAPSED, "flag"]
    assert est.monitor_trail_[-1]["reason"] == COLLAPSED


def test_rollback_falls_back_to_the_reference_when_transfer_never_beats_it(pair):
    mon = monitor("adapt+rollback")
    est = ScriptedDTC([bad] * 3, [0.4, 0.3, 0.2], [mon]).fit(pair)
    assert est.negative_transfer_ and est.fell_back_to_reference_
    assert est.monitor_trail_[-1]["decision"] == "fallback"
    np.testing.assert_array_equal(est.labels_, est.reference_.labels_)
    np.testing.assert_array_equal(est.embedding_, est.reference_.embedding_)
    assert not hasattr(est, "cluster_classes_")  # no longer named by source classes
    assert cluster_acc(pair.target.y, est.labels_) == 1.0
    # the rejected transfer partition is kept: K-means of the last (bad) embedding, which
    # the estimator's networks still give (documented: a fallback replaces no network)
    Z_transfer = est.transform_target(pair.target.X)
    bad_labels = KMeans(K, n_init=3, random_state=0).fit(Z_transfer)
    np.testing.assert_array_equal(est.transfer_labels_, bad_labels.labels_)
    assert not np.allclose(Z_transfer, est.embedding_)


def test_rollback_keeps_the_last_state_when_the_best_only_ties_it(pair):
    # Every state embeds the blobs: each check finds the same partition and the same score.
    # A checkpoint must lead the last state by more than min_restore_gain (0) to replace it.
    mon = monitor("rollback")
    est = ScriptedDTC([good, good], [0.2, 0.1], [mon]).fit(pair)
    assert len({e["score"] for e in est.monitor_trail_}) == 1
    assert est.restored == [] and not any("restore" in e["decision"] for e in est.monitor_trail_)


def test_rollback_among_checkpoints_of_equal_score_restores_the_earliest(pair):
    # The start and the first two epochs give one partition (one score), the last a worse
    # one: of the tied checkpoints the earliest, the least adapted, is the one restored.
    mon = monitor("rollback")
    est = ScriptedDTC([good, good, bad], [0.3, 0.2, 0.1], [mon]).fit(pair)
    trail = est.monitor_trail_
    assert len({e["score"] for e in trail[:3]}) == 1 and trail[3]["score"] < trail[0]["score"]
    assert est.restored == [-1] and trail[3]["decision"].endswith("restore_epoch_-1")


class GoodStart(ScriptedDTC):
    """The pretrained start (before adaptation) embeds the target well; the script then
    gives the adaptation epochs' embeddings."""

    def transform_target(self, X, preprocessed=False):
        if self._state == -1:
            return good(X, np.random.default_rng(99))
        return super().transform_target(X, preprocessed)


def test_rollback_restores_the_pretrained_start_when_adaptation_only_hurts(pair):
    mon = monitor("rollback")
    est = GoodStart([bad, bad], [0.2, 0.1], [mon]).fit(pair)
    trail = est.monitor_trail_
    assert trail[0]["decision"] == "start" and trail[0]["score"] > max(
        e["score"] for e in trail[1:3]
    )
    assert est.restored == [-1] and trail[-2]["decision"].endswith("restore_epoch_-1")
    assert trail[-2]["restored_score"] == trail[0]["score"]
    assert not est.negative_transfer_ and not est.fell_back_to_reference_


# -- calibrated margin -------------------------------------------------------------------
def two_structures(n, class_sep, seed):
    """``(n, 2)`` rows with two strong clusters along feature 0 and two classes (the
    labels) along feature 1, separated by ``class_sep`` standard deviations."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    blob = rng.integers(0, 2, n)
    X = np.c_[12.0 * blob + rng.normal(0, 1, n), class_sep * y + rng.normal(0, 1, n)]
    return X.astype(np.float32), y


def along_classes(X, rng):
    # the transfer model's embedding keeps only the class direction
    return X[:, [1]] + rng.normal(0, 0.01, (len(X), 1))


def test_calibration_spares_a_class_partition_the_score_is_biased_against():
    Xs, ys = two_structures(300, 3.0, seed=1)  # classes less geometric on the source ...
    Xt, yt = two_structures(300, 4.0, seed=2)  # ... than on the target
    pair = DomainPair(Domain(Xs, ys), Domain(Xt, yt), n_clusters=2)
    plain = monitor("warn", calibrate=False)
    est = ScriptedDTC([along_classes] * 2, [0.2, 0.1], [plain], n_clusters=2).fit(pair)
    # the transfer partition is right, the reference follows the strong clusters, and
    # the score prefers the reference: without calibration that is a false alarm
    assert cluster_acc(yt, est.labels_) > 0.95 > cluster_acc(yt, est.reference_.labels_)
    assert est.negative_transfer_ and est.monitor_margin_ == 0.0
    # The target's K-means follows the strong clusters, not the classes, so the class
    # agreement (a source classifier against those clusters) is near 0 and the default
    # check (rule #20) flags this source: a known cost of that check, kept apart here.
    judged = monitor("warn")
    est = ScriptedDTC([along_classes] * 2, [0.2, 0.1], [judged], n_clusters=2).fit(pair)
    assert judged.class_agreement_["agreement"] < judged.min_class_agreement
    assert est.monitor_trail_[-1]["reason"] == "unmatched_classes"
    calibrated = monitor("warn", min_class_agreement=None)
    est = ScriptedDTC([along_classes] * 2, [0.2, 0.1], [calibrated], n_clusters=2).fit(pair)
    bias = calibrated.calibration_["source_bias"]
    final = est.monitor_trail_[-1]
    assert final["reference"] - final["score"] > 0  # still below the reference ...
    assert bias > final["reference"] - final["score"]  # ... by less than on the source
    assert est.monitor_margin_ == pytest.approx(
        2 * calibrated.calibration_["restart_spread"] + bias
    )
    assert not est.negative_transfer_


def test_the_joint_restart_spread_counts_the_reference_embedding_once(pair):
    # A target without clusters, so that single-start K-means restarts differ.
    noise = np.random.default_rng(5).normal(size=(120, 6)).astype(np.float32)
    mon = monitor("warn", space="joint", n_restarts=5)
    ScriptedDTC([good], [0.1], [mon]).fit(DomainPair(pair.source, Domain(noise), n_clusters=K))
    X, Z_ref = noise[mon._idx].astype(np.float64), mon.reference_.embedding_[mon._idx]
    values = []
    for r in range(5):  # the restarts' seeds: seed + 1 + r
        labels = KMeans(K, n_init=1, random_state=1 + r).fit(Z_ref).labels_
        # the raw rows and the reference embedding, each once: a restart has no transfer one
        values.append((knn_agreement(X, labels) + knn_agreement(Z_ref, labels)) / 2)
    assert np.std(values) > 0
    assert mon.calibration_["restart_spread"] == pytest.approx(np.std(values, ddof=1))


def test_calibration_on_clean_blobs_adds_almost_nothing(pair):
    mon = monitor("warn", tolerance=0.01)
    ScriptedDTC([good], [0.1], [mon]).fit(pair)
    # every restart finds the blobs, and K-means = the learned classes on the source
    assert mon.calibration_["restart_spread"] == pytest.approx(0.0, abs=1e-12)
    assert mon.calibration_["source_bias"] == pytest.approx(0.0, abs=1e-12)
    assert mon.margin_ == pytest.approx(0.01)


def test_calibration_gives_no_credit_for_unlearnable_source_labels():
    Xs, _ = two_structures(300, 3.0, seed=1)
    ys = np.random.default_rng(5).integers(0, 2, 300)  # labels unrelated to the features
    Xt, yt = two_structures(300, 4.0, seed=2)
    mon = monitor("warn")
    ScriptedDTC([along_classes], [0.1], [mon], n_clusters=2).fit(
        DomainPair(Domain(Xs, ys), Domain(Xt, yt), n_clusters=2)
    )
    assert mon.calibration_["source_bias"] == 0.0


def test_calibration_without_source_labels_uses_no_labels(pair):
    class NoLabels(ScriptedDTC):
        use_source_labels = False

    mon = monitor("warn")
    NoLabels([good], [0.1], [mon]).fit(pair)
    assert mon.calibration_["source_bias"] is None


@pytest.mark.parametrize("bias", [-0.2, 0.2])
def test_the_margin_is_tolerance_twice_the_restart_spread_and_a_positive_source_bias(
    pair, monkeypatch, bias
):
    # A target without clusters, so that single-start K-means restarts differ; the source
    # bias set by hand. margin = tolerance + 2 * spread + max(0, bias): a negative bias
    # (the score favours class partitions) never narrows the margin.
    noise = np.random.default_rng(5).normal(size=(120, 6)).astype(np.float32)
    asked = []

    def stub(*args, **kwargs):
        asked.append(kwargs)
        return bias

    monkeypatch.setattr(negative_transfer, "source_bias", stub)
    mon = monitor("warn", tolerance=0.01, n_restarts=5, check_features=False)
    ScriptedDTC([good], [0.1], [mon]).fit(DomainPair(pair.source, Domain(noise), n_clusters=K))
    X, Z_ref = noise[mon._idx].astype(np.float64), mon.reference_.embedding_[mon._idx]
    values = [
        knn_agreement(X, KMeans(K, n_init=1, random_state=1 + r).fit(Z_ref).labels_)
        for r in range(5)
    ]
    spread = np.std(values, ddof=1)
    assert spread > 0.01
    assert mon.calibration_["source_bias"] == bias
    assert mon.margin_ == pytest.approx(0.01 + 2 * spread + max(0.0, bias), abs=1e-12)
    # the bias's K-means fits are seeded as the restarts are (rule #11): seeds 1 to 5
    (kwargs,) = asked
    assert list(kwargs["kmeans_seeds"]) == [1 + r for r in range(5)]
    assert kwargs["n_init"] == mon.n_init and kwargs["score"] == mon.score


def test_source_bias_scores_the_learned_partition_not_the_noisy_labels():
    # Two far-apart blobs whose labels are the blobs with 10 % of them flipped. A classifier
    # learns the blobs, K-means finds them: the two partitions are the same (up to names),
    # so the bias is exactly 0. The noisy labels themselves would score lower than the
    # blobs and show a bias the classifier smooths out (calibration's docstring).
    rng = np.random.default_rng(0)
    blob = np.repeat([0, 1], 100)
    X = 20.0 * blob[:, None] * np.ones((1, 4)) + rng.normal(0, 1, (200, 4))
    y = blob.copy()
    flip = rng.choice(200, 20, replace=False)
    y[flip] = 1 - y[flip]
    assert source_bias(X, y) == pytest.approx(0.0, abs=1e-12)
    # NaN features: scikit-learn's error named neither source_bias nor X
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^source_bias: X contains NaN or infinite"):
        source_bias(X, y)


def test_source_bias_by_hand_on_strips_k_means_cuts_across():
    # Three long parallel strips (the classes): K-means cuts them across their length, a
    # classifier learns them. Recomputed with scikit-learn's K-means per seed and its
    # cross-validated logistic regression, scored by the k-NN agreement (itself tested
    # against a brute-force count in test_scores.py).
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    def knn(X, labels):
        return knn_agreement(X, labels, max_samples=None)

    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 70)
    X = np.c_[rng.uniform(0, 20, 210), 1.5 * y + rng.normal(0, 0.3, 210)]
    seeds = (0, 1, 2, 3, 4)
    # one start each: the seeds find two different partitions, so the mean is over both
    kmeans = [knn(X, KMeans(3, n_init=1, random_state=s).fit(X).labels_) for s in seeds]
    assert len({round(v, 12) for v in kmeans}) == 2
    learned = cross_val_predict(LogisticRegression(max_iter=1000), X, y, cv=5)
    expected = np.mean(kmeans) - knn(X, learned)
    got = source_bias(X, y, n_init=1, kmeans_seeds=seeds)
    assert got == pytest.approx(expected, abs=1e-12)
    assert got > 0.2  # not the trivial 0 of the other tests


def test_source_bias_is_zero_for_labels_no_better_than_the_largest_class():
    # Features that carry nothing about imbalanced labels (90 % one class): a classifier
    # that always answers the largest class is right 90 % of the time, which is chance here,
    # not evidence that the labels are learnable (one-sided binomial test against 0.9).
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1, (200, 4))
    y = np.r_[np.zeros(180, dtype=int), np.ones(20, dtype=int)]
    assert source_bias(X, y) == 0.0


def test_source_bias_is_zero_for_labels_predicted_worse_than_chance(monkeypatch):
    # The test is one-sided: a classifier wrong more often than guessing the largest class
    # learned no class information either (a two-sided test read it as learnable and
    # measured a bias on it). Cross-validated predictions that are all wrong, each row sent
    # to one of the two other classes at random (a scrambled partition, not a renaming),
    # stand in for such a source: measured, their bias against K-means is far above 0.
    from dtc.monitor import calibration

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    X = rng.normal(0, 0.3, (90, 2)) + 4.0 * np.eye(3)[y, :2]
    wrong = (y + rng.integers(1, 3, size=y.size)) % 3
    monkeypatch.setattr(calibration, "cross_val_predict", lambda est, X, y, cv: wrong)
    assert source_bias(X, y) == 0.0
    # the same partition judged learnable (every row right but these): a large bias
    learnable = np.where(np.arange(y.size) % 3 == 0, wrong, y)
    monkeypatch.setattr(calibration, "cross_val_predict", lambda est, X, y, cv: learnable)
    assert source_bias(X, y) > 0.1


def test_source_bias_takes_a_class_of_exactly_five_rows():
    # None only for "a class with fewer than 5 rows" (the 5 folds): 5 rows is a bias
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [5, 20])
    X = rng.normal(0, 1, (25, 3)) + 5.0 * y[:, None]
    assert source_bias(X, y) == pytest.approx(0.0, abs=1e-12)
    assert source_bias(X[1:], y[1:]) is None  # 4 rows of class 0


# -- resolution (rule #14) ---------------------------------------------------------------
def test_random_relabel_moves_the_stated_share_of_rows_to_other_classes():
    y = np.repeat(np.arange(4), 25)
    z = random_relabel(y, 0.2, np.random.default_rng(0))
    assert (z != y).sum() == 20 and set(z) <= set(range(4))
    np.testing.assert_array_equal(z, random_relabel(y, 0.2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="fraction must be in"):
        random_relabel(y, 1.5, np.random.default_rng(0))


def test_random_relabel_moves_rows_only_among_the_classes_y_holds():
    # labels with gaps passed as classes 0..9: rows moved to classes the data lack, and of
    # two classes {3, 7} a moved row could land on 0, 1, 5 or 6
    for labels in ([0, 5, 9], [3, 7], [-2, 4]):
        y = np.repeat(labels, 20)
        z = random_relabel(y, 1.0, np.random.default_rng(0))
        assert set(z) <= set(labels) and (z != y).all()
        # the draws of the same classes numbered 0..k-1
        codes = np.repeat(np.arange(len(labels)), 20)
        np.testing.assert_array_equal(
            z, np.array(labels)[random_relabel(codes, 1.0, np.random.default_rng(0))]
        )


def test_random_relabel_draws_the_new_class_uniformly_among_the_other_classes():
    """The class a moved row gets, against its closed form: uniform over the ``k - 1``
    classes other than its own, so the shift ``(z - y) mod k`` of the 5 000 moved rows
    (half of 4 balanced classes of 2 500) takes 1, 2 and 3 a third of the time each
    (within 4 standard errors), and a moved row's class is never its old one."""
    k = 4
    y = np.repeat(np.arange(k), 2500)
    z = random_relabel(y, 0.5, np.random.default_rng(1))
    moved = z != y
    assert moved.sum() == 5000
    shares = np.bincount((z[moved] - y[moved]) % k, minlength=k) / moved.sum()
    se = np.sqrt((1 / 3) * (2 / 3) / moved.sum())
    assert shares[0] == 0.0
    np.testing.assert_allclose(shares[1:], 1 / 3, atol=4 * se)
    # every class loses about half its rows, whatever its label value
    np.testing.assert_allclose(np.bincount(y[moved], minlength=k) / 2500, 0.5, atol=0.05)


def test_score_slope_matches_the_closed_form_on_separated_blobs():
    # Every row's 10 neighbours share its class. When a share f of rows move to random other
    # classes, a (row, neighbour) pair still agrees when neither moved, (1 - f)^2, or both
    # moved to the same class, f^2 / (k - 1); chance agreement stays 1 / k (balanced), and
    # the ACC falls by 100 f points (f < 1/2: the identity matching stays optimal).
    k, fractions = 4, (0.05, 0.1, 0.2)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(k), 150)
    X = 50.0 * np.eye(k)[y] + rng.normal(0, 1, (len(y), k))

    def loss(f):
        return 1.0 - ((1 - f) ** 2 + f**2 / (k - 1) - 1 / k) / (1 - 1 / k)

    a = 100 * np.array(fractions)
    expected = float(a @ [loss(f) for f in fractions] / (a @ a))
    slope = score_slope(X, y, fractions=fractions, draws=5, seed=0)
    assert slope == pytest.approx(expected, rel=0.01)


def test_score_slope_needs_two_classes_and_valid_fractions():
    X = np.random.default_rng(0).normal(size=(30, 3))
    assert score_slope(X, np.zeros(30, dtype=int)) is None
    with pytest.raises(ValueError, match=r"fractions must lie in \(0, 1\)"):
        score_slope(X, np.arange(30) % 2, fractions=(0.0,))
    for bad in (None, "a", (), "0.5", ["0.1", "0.2"], b"0.3", (True,)):
        with pytest.raises(ValueError, match=r"fractions must lie in \(0, 1\)"):
            score_slope(X, np.arange(30) % 2, fractions=bad)
    # an array is a sequence of fractions (its truth value was asked: ambiguous)
    y = np.arange(30) % 2
    as_array = score_slope(X, y, fractions=np.array([0.1, 0.2]), draws=2)
    assert as_array == score_slope(X, y, fractions=(0.1, 0.2), draws=2)


def test_the_score_does_not_count_where_it_cannot_resolve_a_loss(pair):
    # A tolerance of 0.05 on clean blobs: the margin stands for a few ACC points.
    seen = monitor("warn", tolerance=0.05, max_resolution=10.0)
    est = ScriptedDTC([bad] * 2, [0.2, 0.1], [seen]).fit(pair)
    cal = seen.calibration_
    assert cal["resolution"] == pytest.approx(seen.margin_ / cal["source_slope"])
    assert cal["resolution"] < 10.0 and seen.score_counts_ and est.negative_transfer_
    blind = monitor("warn", tolerance=0.05, max_resolution=0.5 * cal["resolution"])
    est = ScriptedDTC([bad] * 2, [0.2, 0.1], [blind]).fit(pair)
    assert not blind.score_counts_ and not est.negative_transfer_
    final = est.monitor_trail_[-1]
    assert final["score_below"] and final["decision"] == "keep" and final["reason"] is None
    always = monitor("warn", tolerance=0.05, max_resolution=None)
    assert ScriptedDTC([bad] * 2, [0.2, 0.1], [always]).fit(pair).negative_transfer_


def test_without_source_labels_there_is_no_resolution_and_the_score_counts(pair):
    class NoLabels(ScriptedDTC):
        use_source_labels = False

    mon = monitor("warn", tolerance=0.05, max_resolution=1e-9)
    est = NoLabels([bad], [0.1], [mon]).fit(pair)
    assert mon.calibration_["resolution"] is None and mon.score_counts_
    assert est.negative_transfer_


def test_a_score_that_does_not_fall_on_scrambled_classes_resolves_nothing(pair, monkeypatch):
    # "A score that does not fall when the classes are scrambled resolves nothing": its
    # resolution is infinite and its verdict does not count, however far below it falls
    monkeypatch.setattr(negative_transfer, "score_slope", lambda *args, **kwargs: -0.1)
    mon = monitor("warn", check_features=False)
    est = ScriptedDTC([bad] * 2, [0.2, 0.1], [mon]).fit(pair)
    assert mon.calibration_["resolution"] == float("inf") and not mon.score_counts_
    assert est.monitor_trail_[-1]["score_below"] and not est.negative_transfer_


def test_random_relabel_moves_the_rounded_share_of_rows():
    # round(0.29 * 10) = 3 rows (truncating would move 2); round(0.71 * 7) = round(4.97) = 5
    y = np.arange(10) % 3
    assert (random_relabel(y, 0.29, np.random.default_rng(0)) != y).sum() == 3
    y = np.arange(7) % 2
    assert (random_relabel(y, 0.71, np.random.default_rng(0)) != y).sum() == 5


def test_the_score_counts_at_a_resolution_equal_to_max_resolution(pair):
    # "at most max_resolution": the resolution measured by a first fit, given as the bound
    measured = monitor("warn", tolerance=0.05, max_resolution=None)
    ScriptedDTC([bad] * 2, [0.2, 0.1], [measured]).fit(pair)
    resolution = measured.calibration_["resolution"]
    assert 0 < resolution < np.inf
    at = monitor("warn", tolerance=0.05, max_resolution=resolution)
    est = ScriptedDTC([bad] * 2, [0.2, 0.1], [at]).fit(pair)
    assert at.calibration_["resolution"] == resolution
    assert at.score_counts_ and est.negative_transfer_


# -- feature correspondence ------------------------------------------------------------
def wide_pair(permute_source: bool) -> DomainPair:
    """Blobs in 20 features (enough for the correspondence test); the source is the
    target's blobs with fresh noise, its features permuted or not."""
    X, y = blobs(d=20)
    Xs = X + np.random.default_rng(3).normal(0, 0.5, X.shape).astype(np.float32)
    if permute_source:
        Xs = Xs[:, np.random.default_rng(4).permutation(20)]
    return DomainPair(Domain(Xs, y), Domain(X, y), n_clusters=K)


def test_a_source_with_permuted_features_is_negative_whatever_the_score():
    mon = monitor("rollback")
    est = ScriptedDTC([good, good], [0.2, 0.1], [mon]).fit(wide_pair(permute_source=True))
    assert not mon.correspondence_["related"] and mon.correspondence_["p_value"] > 0.01
    assert est.source_correspondence_ is mon.correspondence_
    # the partition itself is as good as the reference's: only the test flags it
    final = est.monitor_trail_[-1]
    assert final["score"] >= final["reference"] - est.monitor_margin_
    assert final["reason"] == "unrelated_source" and final["decision"] == "fallback"
    assert est.negative_transfer_ and est.fell_back_to_reference_
    assert [e["decision"] for e in est.monitor_trail_][1] == "unrelated_source"


def test_a_source_with_the_targets_features_passes_the_correspondence_test():
    mon = monitor("rollback")
    est = ScriptedDTC([good, good], [0.2, 0.1], [mon]).fit(wide_pair(permute_source=False))
    assert mon.correspondence_["related"] and mon.correspondence_["p_value"] == 0.01
    assert not est.negative_transfer_ and est.monitor_trail_[-1]["reason"] is None


def related_but_dissimilar_pair() -> DomainPair:
    """The target's blobs in 20 features; the source keeps the target's first 10 features
    (plus noise) and takes its last 10 from blobs with other centres: the features
    correspond (p = 0.01) but only half of the correlation structure is shared
    (structural similarity 0.40)."""
    X, y = blobs(d=20)
    Xs = X + np.random.default_rng(3).normal(0, 0.5, X.shape).astype(np.float32)
    Xs[:, 10:] = blobs(d=20, seed=7)[0][:, 10:]
    return DomainPair(Domain(Xs, y), Domain(X, y), n_clusters=K)


def test_a_related_source_with_another_structure_is_negative_whatever_the_score():
    mon = monitor("rollback", min_similarity=0.5)
    est = ScriptedDTC([good, good], [0.2, 0.1], [mon]).fit(related_but_dissimilar_pair())
    c = mon.correspondence_
    assert c["related"] and not c["similar"]
    assert c["similarity"] == pytest.approx(0.40, abs=0.01)
    final = est.monitor_trail_[-1]
    assert final["score"] >= final["reference"] - est.monitor_margin_  # the score is fine
    assert final["reason"] == "dissimilar_source" and final["decision"] == "fallback"
    assert est.negative_transfer_ and est.fell_back_to_reference_
    # the default, "family" (rule #13): a pair of no known benchmark family is not judged;
    # the similarity is reported, with the threshold that applied (none)
    off = monitor("rollback")
    assert off.min_similarity == "family"
    est = ScriptedDTC([good, good], [0.2, 0.1], [off]).fit(related_but_dissimilar_pair())
    assert not est.negative_transfer_ and "similar" not in off.correspondence_
    assert off.correspondence_["similarity"] == pytest.approx(c["similarity"])
    assert off.correspondence_["min_similarity"] is None
    # the same pair as a SURF pair is judged by that family's threshold, 0.50
    surf = monitor("rollback")
    pair = dataclasses.replace(related_but_dissimilar_pair(), benchmark="office_caltech10_surf")
    est = ScriptedDTC([good, good], [0.2, 0.1], [surf]).fit(pair)
    assert surf.correspondence_["min_similarity"] == 0.50 and not surf.correspondence_["similar"]
    assert est.monitor_trail_[-1]["reason"] == "dissimilar_source"
    # a source with the target's structure passes
    same = monitor("rollback", min_similarity=0.5)
    ScriptedDTC([good, good], [0.2, 0.1], [same]).fit(wide_pair(permute_source=False))
    assert same.correspondence_["similar"] and same.correspondence_["similarity"] > 0.9


def test_a_source_drowned_in_noise_is_negative_whatever_the_score():
    wide = wide_pair(permute_source=False)
    Xs = wide.source.X
    noisy = Xs + np.random.default_rng(5).normal(0, 2 * Xs.std(), Xs.shape).astype(np.float32)
    mon = monitor("rollback")
    est = ScriptedDTC([good, good], [0.2, 0.1], [mon]).fit(
        DomainPair(Domain(noisy, wide.source.y), wide.target, n_clusters=K)
    )
    c = mon.correspondence_
    assert c["related"] and c["similarity"] > 0.9  # its structure is the target's, under the noise
    assert c["signal_ratio"] < mon.min_signal_ratio and not c["clean"]
    final = est.monitor_trail_[-1]
    assert final["reason"] == "noisy_source" and est.fell_back_to_reference_
    off = monitor("rollback", min_signal_ratio=None)
    ScriptedDTC([good, good], [0.2, 0.1], [off]).fit(
        DomainPair(Domain(noisy, wide.source.y), wide.target, n_clusters=K)
    )
    assert "clean" not in off.correspondence_


def twice_as_wide_source() -> DomainPair:
    """A heterogeneous pair: :func:`wide_pair`'s source with its features given twice."""
    wide = wide_pair(permute_source=False)
    source = Domain(np.c_[wide.source.X, wide.source.X], wide.source.y)
    return DomainPair(source, wide.target, heterogeneous=True, n_clusters=K)


def test_the_correspondence_test_is_not_run_where_it_does_not_apply(pair):
    few = monitor()  # 6 features: too few for the test's power
    ScriptedDTC([good], [0.1], [few]).fit(pair)
    off = monitor(check_features=False)
    ScriptedDTC([good], [0.1], [off]).fit(wide_pair(permute_source=True))
    hetero = monitor()
    ScriptedDTC([good], [0.1], [hetero]).fit(twice_as_wide_source())
    assert few.correspondence_ is off.correspondence_ is hetero.correspondence_ is None


def classes_pair(target_axes) -> DomainPair:
    """Three source classes that differ in features 0-2 against a target of three blobs
    that differ in the features ``target_axes`` (6 features: too few for the
    correspondence test, so only the class agreement can judge the source)."""
    y = np.repeat(np.arange(K), 60)

    def domain(axes, seed):
        X = np.random.default_rng(seed).normal(0, 1, (len(y), 6))
        X[np.arange(len(y)), np.asarray(axes)[y]] += 12.0
        return X.astype(np.float32)

    return DomainPair(
        Domain(domain((0, 1, 2), 1), y), Domain(domain(target_axes, 2), y), n_clusters=K
    )


def test_a_source_whose_classes_the_target_does_not_hold_is_negative_when_judged():
    judged = monitor("rollback", min_class_agreement=0.3)
    est = ScriptedDTC([good, good], [0.2, 0.1], [judged]).fit(classes_pair((3, 4, 5)))
    assert judged.correspondence_ is None  # only the class agreement judges here
    assert judged.class_agreement_["agreement"] < 0.1
    assert est.source_class_agreement_ is judged.class_agreement_
    final = est.monitor_trail_[-1]
    assert final["reason"] == "unmatched_classes" and est.fell_back_to_reference_
    # the default (rule #20) judges it too
    default = monitor("rollback")
    assert default.min_class_agreement == 0.15
    est = ScriptedDTC([good, good], [0.2, 0.1], [default]).fit(classes_pair((3, 4, 5)))
    assert est.monitor_trail_[-1]["reason"] == "unmatched_classes"
    # None: reported, not judged
    unjudged = monitor("rollback", min_class_agreement=None)
    est = ScriptedDTC([good, good], [0.2, 0.1], [unjudged]).fit(classes_pair((3, 4, 5)))
    assert unjudged.class_agreement_["agreement"] < 0.1 and not est.negative_transfer_
    # a source with the target's classes passes
    same = monitor("rollback", min_class_agreement=0.3)
    est = ScriptedDTC([good, good], [0.2, 0.1], [same]).fit(classes_pair((0, 1, 2)))
    assert same.class_agreement_["agreement"] == pytest.approx(1.0)
    assert est.monitor_trail_[-1]["reason"] is None


def test_a_source_at_the_class_agreement_threshold_is_not_flagged(pair):
    # "below min_class_agreement" is negative; the measured agreement itself is not below
    measured = monitor("rollback", min_class_agreement=None)
    ScriptedDTC([good, good], [0.2, 0.1], [measured]).fit(pair)
    agreement = measured.class_agreement_["agreement"]
    at = monitor("rollback", min_class_agreement=agreement)
    est = ScriptedDTC([good, good], [0.2, 0.1], [at]).fit(pair)
    assert at.class_agreement_["agreement"] == agreement
    assert not est.negative_transfer_ and est.monitor_trail_[-1]["reason"] is None


def test_the_class_agreement_is_judged_after_the_other_source_checks():
    # "negative, reason unmatched_classes, after the other source checks": a source that
    # already failed the correspondence test keeps that reason whatever its class agreement
    mon = monitor("rollback", min_class_agreement=1.0)
    est = ScriptedDTC([good, good], [0.2, 0.1], [mon]).fit(wide_pair(permute_source=True))
    assert mon.class_agreement_["agreement"] < 1.0  # below the threshold as well
    assert [e["decision"] for e in est.monitor_trail_[1:3]] == ["unrelated_source"] * 2
    assert est.monitor_trail_[-1]["reason"] == "unrelated_source"


def test_the_class_agreement_needs_the_source_labels_the_estimator_uses():
    class NoLabels(ScriptedDTC):
        use_source_labels = False

    mon = monitor("rollback", min_class_agreement=0.3)
    est = NoLabels([good, good], [0.2, 0.1], [mon]).fit(classes_pair((3, 4, 5)))
    assert mon.class_agreement_ is None and not est.negative_transfer_


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"policy": "panic"}, "policy must be one of"),
        ({"score": "clustering_stability"}, "scores a clustering algorithm"),
        ({"score": "accuracy"}, "score must be one of"),
        ({"space": "latent"}, "space must be one of"),
        ({"every": 0}, "every must be an int >= 1"),
        ({"adapt_factor": 1.5}, r"adapt_factor must be in \(0, 1\)"),
        ({"adapt_factor": "0.5"}, r"adapt_factor must be in \(0, 1\), got '0.5'"),
        ({"tolerance": -1}, "tolerance must be a finite number >= 0"),
        ({"tolerance": True}, "tolerance must be a finite number >= 0"),
        ({"min_delta": True}, "min_delta must be a finite number >= 0"),
        ({"calibrate": "yes"}, "calibrate must be a bool"),
        ({"check_features": 1}, "check_features must be a bool"),
        ({"n_restarts": 1}, "n_restarts must be an int >= 2"),
        ({"min_similarity": 1.5}, r"min_similarity must be None, 'family' or in \[0, 1\]"),
        ({"min_similarity": True}, r"min_similarity must be None, 'family' or in \[0, 1\]"),
        ({"min_signal_ratio": -0.1}, "min_signal_ratio must be None or a finite number >= 0"),
        ({"max_resolution": 0}, "max_resolution must be a finite number > 0 or None"),
        ({"max_resolution": float("inf")}, "max_resolution must be a finite number > 0 or None"),
        ({"max_resolution": True}, "max_resolution must be a finite number > 0 or None"),
        ({"metric": "manhattan"}, "metric must be one of"),
        ({"min_restore_gain": -0.1}, "min_restore_gain must be a finite number >= 0 or 'spread'"),
        ({"min_restore_gain": "margin"}, "min_restore_gain must be a finite number >= 0 or"),
        ({"min_restore_gain": float("nan")}, "min_restore_gain must be a finite number >= 0"),
        ({"min_class_agreement": 1.5}, r"min_class_agreement must be None or a number in"),
        ({"min_class_agreement": True}, r"min_class_agreement must be None or a number in"),
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
        ({"seed": 1.0}, "seed must be an int >= 0, got 1.0"),
        # its restarts' K-means take seed + 1 to seed + n_restarts, in scikit-learn's 32 bits
        ({"seed": 2**32 - 3, "n_restarts": 3}, r"seed must be an int in \[0, 2\*\*32 - 1 - 3\]"),
    ],
)
def test_bad_parameters_are_refused(pair, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ScriptedDTC([good], [0.1], [monitor(**kwargs)]).fit(pair)
    # and by DTC's check of its parameters, before any data (a config's load)
    from dtc.pipeline import DTC

    with pytest.raises(ValueError, match=match):
        DTC(callbacks=[monitor(**kwargs)]).check_params()


def test_the_reference_is_a_scikit_learn_estimator_and_checks_its_seed():
    ref = NoTransferReference(K, epochs=2, seed=5)
    assert clone(ref).get_params() == ref.get_params()
    assert repr(ref) == "NoTransferReference(epochs=2, n_clusters=3, seed=5)"
    X = np.random.default_rng(0).normal(size=(20, 4))
    # a seed past 32 bits failed in scikit-learn's K-means, after the training
    with pytest.raises(ValueError, match=r"NoTransferReference: seed must be an int in \[0, 2"):
        NoTransferReference(K, epochs=1, seed=2**32).fit(X)


class _ReferenceTrained(Exception):
    """Raised in place of training the reference: every check before it passed."""


def _no_training(self, X, image_shape=None):
    raise _ReferenceTrained


@pytest.mark.parametrize(
    ("score", "n", "max_samples", "k", "match"),
    [
        ("knn_agreement", 3, 1000, K, r"at least 11 .*n_neighbors=10.*the target has 3 samples"),
        # more rows than clusters, not more than knn_agreement's 10 neighbours
        ("knn_agreement", 9, 1000, K, r"at least 11 .*n_neighbors=10.*the target has 9 samples"),
        ("knn_agreement", 120, 10, K, r"at least 11 .*max_samples=10 is too small"),
        ("knn_agreement", 120, 12, 12, r"at least 13 .*the 12 clusters.*max_samples=12 is too"),
        ("silhouette", 120, 4, 5, r"at least 6 .*the 5 clusters.*max_samples=4 is too small"),
        ("information_maximization", 3, 1000, K, r"at least 4 .*the target has 3 samples"),
    ],
)
def test_a_target_too_small_for_the_score_is_refused_before_the_reference_is_trained(
    pair, monkeypatch, score, n, max_samples, k, match
):
    monkeypatch.setattr(NoTransferReference, "fit", _no_training)
    small = DomainPair(pair.source, pair.target.subset(np.arange(n)), n_clusters=K)
    mon = monitor(score=score, max_samples=max_samples)
    with pytest.raises(ValueError, match=match):
        ScriptedDTC([good], [0.1], [mon], n_clusters=k).fit(small)


@pytest.mark.parametrize(("score", "need"), [("knn_agreement", 11), ("silhouette", K + 1)])
def test_the_scored_rows_the_monitor_asks_for_are_those_the_score_needs(
    pair, monkeypatch, score, need
):
    # The score itself: defined on `need` rows of a K-cluster partition, not on one fewer.
    X, y = pair.target.X[:need], np.arange(need) % K
    assert np.isfinite(common_space_score(score, y, [X]))
    with pytest.raises(ValueError):
        common_space_score(score, y[:-1], [X[:-1]])
    # The monitor: `need` rows pass its checks (the reference's training is reached) ...
    monkeypatch.setattr(NoTransferReference, "fit", _no_training)
    with pytest.raises(_ReferenceTrained):
        ScriptedDTC([good], [0.1], [monitor(score=score, max_samples=need)]).fit(pair)
    # ... one fewer does not
    with pytest.raises(ValueError, match=f"at least {need} scored target samples"):
        ScriptedDTC([good], [0.1], [monitor(score=score, max_samples=need - 1)]).fit(pair)


def _source_of(n, n_classes, name="small"):
    X = np.random.default_rng(5).normal(size=(n, 6)).astype(np.float32)
    return Domain(X, np.arange(n) % n_classes, name=name)


@pytest.mark.parametrize(
    ("score", "n", "n_classes", "max_samples", "match"),
    [
        # the probe: 10 rows of 2 classes failed in source_bias, after the reference's training
        ("knn_agreement", 10, 2, 1000, r"at least 11 scored source .*the source has 10 samples"),
        # the target's 120 rows pass max_samples=5 (4 needed), the source's 5 classes do not
        ("silhouette", 120, 5, 5, r"of 5 clusters needs at least 6 scored source .*max_samples=5"),
    ],
)
def test_a_labelled_source_too_small_for_calibration_is_refused_before_the_reference(
    pair, monkeypatch, score, n, n_classes, max_samples, match
):
    monkeypatch.setattr(NoTransferReference, "fit", _no_training)
    small = DomainPair(_source_of(n, n_classes), pair.target, n_clusters=K)
    mon = monitor(score=score, max_samples=max_samples, check_features=False)
    with pytest.raises(ValueError, match=match) as info:
        ScriptedDTC([good], [0.1], [mon]).fit(small)
    assert "source 'small' calibrates the margin" in str(info.value)


class _NoSourceLabels(ScriptedDTC):
    use_source_labels = False


@pytest.mark.parametrize(
    ("estimator", "calibrate", "n_classes"),
    [(ScriptedDTC, False, 2), (_NoSourceLabels, True, 2), (ScriptedDTC, True, 1)],
)
def test_a_small_source_passes_where_calibration_does_not_score_it(
    pair, monkeypatch, estimator, calibrate, n_classes
):
    # no calibration, labels the estimator does not use, or one class (no class partition)
    monkeypatch.setattr(NoTransferReference, "fit", _no_training)
    small = DomainPair(_source_of(10, n_classes), pair.target, n_clusters=K)
    mon = monitor(calibrate=calibrate, check_features=False)
    with pytest.raises(_ReferenceTrained):
        estimator([good], [0.1], [mon]).fit(small)


@pytest.mark.parametrize("score", sorted(set(PROB_SCORES) & set(usable_scores())))
def test_a_soft_assignment_score_needs_no_probabilities_from_the_estimator(pair, score):
    # The scripted estimator has only an embedding; the monitor scores Student-t assignments
    # of the rows it scores to the partition's centroids.
    mon = monitor("warn", score=score)
    est = ScriptedDTC([good] * 2, [0.2, 0.1], [mon]).fit(pair)
    assert not any(hasattr(est, name) for name in ("predict_proba", "probs_", "soft_labels_"))
    X = pair.target.X[mon._idx].astype(np.float64)
    probs = student_t_assignments(X, est.labels_[mon._idx])
    assert est.monitor_trail_[-1]["score"] == pytest.approx(PROB_SCORES[score](probs))


def test_an_estimator_that_cannot_embed_the_target_is_refused(pair):
    class Opaque(ScriptedDTC):
        transform_target = None

    with pytest.raises(ValueError, match="exposes neither transform_target"):
        Opaque([good], [0.1], [monitor()]).fit(pair)


def test_the_monitor_is_a_dtc_callback():
    assert isinstance(NegativeTransferMonitor(), Callback)


# -- end to end on the real DTC ---------------------------------------------------------
def test_dtc_on_digits_flags_a_permuted_source_and_not_the_true_one():
    from dtc.pipeline import DTC

    pair = make_digits_pair()
    s = pair.source
    permuted = s.with_features(s.X[:, np.random.default_rng(0).permutation(s.n_features)])
    flags = {}
    for name, source in (("related", s), ("permuted", permuted)):
        mon = NegativeTransferMonitor("rollback", every=10)
        est = DTC(seed=0, **BUDGET, callbacks=[mon])
        est.fit(DomainPair(source, pair.target, n_clusters=10))
        flags[name] = est.monitor_trail_[-1]["reason"]
    assert flags == {"related": None, "permuted": "unrelated_source"}


class _Keep(Callback):
    def on_fit_begin(self, estimator, pair):
        self.pair = pair


def test_the_monitor_embeds_the_rows_dtc_trains_on():
    # Callbacks get the pair as DTC preprocessed it (z-scored pixels here); the monitor's
    # checks must encode those rows as they are, not preprocess them a second time.
    from dtc.monitor.negative_transfer import current_target_embedding
    from dtc.pipeline import DTC

    pair = make_digits_pair()
    keep = _Keep()
    est = DTC(seed=0, **{**BUDGET, "adapt_epochs": 1}, callbacks=[keep]).fit(pair)
    seen = keep.pair.target.X
    assert not np.allclose(seen, pair.target.X)  # z-scored by DTC
    np.testing.assert_array_equal(current_target_embedding(est, seen), est.embedding_)
    np.testing.assert_array_equal(est.transform_target(pair.target.X), est.embedding_)


# -- the harness's constructed negative cases ------------------------------------------------
def test_harness_constructs_the_negative_cases(load_script):
    script = load_script("negative_transfer")
    pair = make_digits_pair()
    s, t = pair.source, pair.target

    perm = script.construct_negative(pair, "permuted", None)
    assert perm.target is t and np.array_equal(np.sort(perm.source.X, 1), np.sort(s.X, 1))
    assert not np.array_equal(perm.source.X, s.X)

    wide = script.construct_negative(pair, "wide_gap", None)
    assert wide.target.meta["shift"] == 1.0 and np.array_equal(wide.source.X, s.X)

    disj = script.construct_negative(pair, "disjoint", None)
    assert set(disj.source.y) == {0, 1, 2, 3, 4} and disj.n_clusters == 5
    # target classes 5..9, renumbered 0..4 for evaluation: the rows are those of 5..9
    assert disj.target.n_samples == int((t.y >= 5).sum())

    corr = script.construct_negative(pair, "corrupted", None)
    assert corr.source.X.shape == s.X.shape
    assert 0.4 < np.mean(corr.source.y != s.y) < 0.5  # half replaced, some by the same label
    assert np.std(corr.source.X - s.X) == pytest.approx(2 * s.X.std(), rel=0.05)

    X, y = blobs(n_per=30, d=80)
    y10 = np.arange(len(X)) % 10  # as many classes as the target's clusters
    other = script.construct_negative(pair, "other", DomainPair(Domain(X, y10), Domain(X, y10)))
    assert other.source.X.shape == (90, 64) and other.source.X.mean() == pytest.approx(
        t.X.mean(), abs=1e-5
    )
    assert set(other.source.y) == set(range(10))
    # Folding cannot add classes, and DTC's model transfer would refuse the pair: the
    # construction refuses it first (fresh set 10's USPS source for COIL20's 20 clusters).
    with pytest.raises(ValueError, match="has 3 classes, fewer than the target's 10 clusters"):
        script.construct_negative(pair, "other", DomainPair(Domain(X, y), Domain(X, y)))


def test_harness_negative_sources_take_the_targets_scale_and_all_its_labels(load_script):
    """Mutation-tested details of the constructions: the other benchmark's source gets the
    target's overall spread as well as its mean (only the mean was checked), and the
    corrupted source's replaced labels are drawn over every class 0 .. k - 1 (an upper
    bound of ``y.max()`` never drew the last class)."""
    script = load_script("negative_transfer")
    pair = make_digits_pair()
    s, t = pair.source, pair.target
    X, _ = blobs(n_per=30, d=80)
    y10 = np.arange(len(X)) % 10
    other = script.construct_negative(pair, "other", DomainPair(Domain(X, y10), Domain(X, y10)))
    assert other.source.X.std() == pytest.approx(t.X.std(), rel=1e-4)
    corr = script.construct_negative(pair, "corrupted", None)
    changed = corr.source.y != s.y
    assert set(corr.source.y[changed].tolist()) == set(range(10))


def test_harness_class_splits_cluster_the_targets_classes_for_odd_k(load_script):
    """A class split at k // 2 gives halves of different sizes when k is odd: the pair's
    clusters are the target's classes (the benchmarks' even k hid a split that counted the
    source's)."""
    script = load_script("negative_transfer")
    digits = make_digits_pair()
    five = [script.restrict_classes(d, range(5)) for d in (digits.source, digits.target)]
    pair = DomainPair(*five, n_clusters=5, benchmark="digits")
    t = five[1]
    disj = script.construct_negative(pair, "disjoint", None)  # source 0, 1; target 2, 3, 4
    assert disj.n_clusters == 3 and set(disj.source.y.tolist()) == {0, 1}
    np.testing.assert_array_equal(disj.target.X, t.X[t.y >= 2])
    np.testing.assert_array_equal(disj.target.y, t.y[t.y >= 2] - 2)
    rev = script.construct_negative(pair, "reverse_disjoint", None)  # source 2, 3, 4; target 0, 1
    assert rev.n_clusters == 2 and set(rev.source.y.tolist()) == {0, 1, 2}


# -- metric ---------------------------------------------------------------------------
def test_scored_space_ranks_neighbours_as_cosine_distances_do():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5))
    X[3] = 0.0  # a zero row stays zero
    U = scored_space(X, "cosine")
    assert np.allclose(np.linalg.norm(np.delete(U, 3, 0), axis=1), 1.0) and not U[3].any()
    from sklearn.metrics.pairwise import cosine_distances

    rows = np.delete(np.arange(30), 3)
    d_unit = ((U[rows, None] - U[None, rows]) ** 2).sum(-1)  # = 2 * cosine distance
    np.testing.assert_allclose(d_unit, 2 * cosine_distances(X[rows]), atol=1e-12)
    np.testing.assert_array_equal(scored_space(X, "euclidean"), X)
    with pytest.raises(ValueError, match="metric must be one of"):
        scored_space(X, "l1")


def test_cosine_knn_agreement_sees_classes_that_differ_in_direction_not_length():
    """Two classes along two close directions, each row scaled by a random length: by
    Euclidean distance rows of both classes at similar lengths are neighbours, by cosine
    distance they are not."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 100)
    directions = np.array([[1.0, 0.2], [1.0, 0.35]])
    X = directions[y] * rng.uniform(0.05, 5.0, (200, 1)) + rng.normal(0, 0.001, (200, 2))
    euclid = knn_agreement(scored_space(X, "euclidean"), y)
    cosine = knn_agreement(scored_space(X, "cosine"), y)
    assert cosine == pytest.approx(1.0) and euclid < 0.9


def test_the_monitor_scores_every_space_in_its_metric(pair):
    mon = monitor("warn", metric="cosine")
    est = ScriptedDTC([good] * 2, [0.2, 0.1], [mon]).fit(pair)
    labels = est.labels_[mon._idx]
    expected = knn_agreement(scored_space(pair.target.X[mon._idx], "cosine"), labels)
    assert est.monitor_trail_[-1]["score"] == pytest.approx(expected)
    euclid = monitor("warn")
    ScriptedDTC([good] * 2, [0.2, 0.1], [euclid]).fit(pair)
    # the calibration sees the same geometry: the source's slope is measured on unit rows
    Xs, ys = mon._source_rows(pair.source)
    slope = score_slope(scored_space(Xs, "cosine"), ys, seed=0)
    assert mon.calibration_["source_slope"] == pytest.approx(slope)
    assert euclid.calibration_["source_slope"] == pytest.approx(score_slope(Xs, ys, seed=0))


def test_the_monitor_shows_its_settings_and_clones_like_an_estimator():
    from sklearn.base import clone

    from dtc.pipeline import DTC

    monitor = NegativeTransferMonitor(policy="rollback", every=5)
    assert repr(DTC(callbacks=[monitor])) == (
        "DTC(callbacks=[NegativeTransferMonitor(every=5, policy='rollback')])"
    )
    again = clone(monitor)
    assert again is not monitor and again.get_params() == monitor.get_params()


def test_without_n_clusters_the_monitor_takes_one_cluster_per_source_class():
    """A pair of one's own, built without n_clusters: DTC takes k from the labelled source,
    and the monitor does the same; an unlabelled source leaves it nothing to go by."""
    from dtc.pipeline import DTC

    pair = make_digits_pair()
    own = DomainPair(pair.source, pair.target)
    assert own.n_clusters is None
    monitor = NegativeTransferMonitor(max_samples=200)
    est = DTC(**{**BUDGET, "adapt_epochs": 1}, callbacks=[monitor]).fit(own)
    assert monitor.reference_.n_clusters == 10 == est.n_clusters_
    bare = DomainPair(pair.source.without_labels(), pair.target)
    with pytest.raises(ValueError, match="needs the number of clusters before training"):
        DTC(**BUDGET, callbacks=[NegativeTransferMonitor()]).fit(bare)


def test_two_user_encoders_of_one_repr_do_not_share_a_cached_reference(encoders_of_one_name):
    # The cache key held the architecture's repr and weights: an encoder whose forward
    # differed (ReLU vs tanh, one class name) was served the other's reference.
    import torch

    def make(cls):
        torch.manual_seed(0)
        return cls(4, 2)  # an encoder: the reference builds its decoder

    relu_cls, tanh_cls = encoders_of_one_name
    X = np.random.default_rng(0).normal(size=(30, 4))
    keys = [
        NoTransferReference(K, architecture=make(c), epochs=1)._settings()
        for c in (relu_cls, tanh_cls)
    ]
    assert keys[0]["architecture"] != keys[1]["architecture"]
    clear_reference_cache()
    relu = NoTransferReference(K, architecture=make(relu_cls), epochs=1).fit(X)
    tanh = NoTransferReference(K, architecture=make(tanh_cls), epochs=1).fit(X)
    assert not tanh.from_cache_ and relu.key_ != tanh.key_
    assert tanh.embedding_.min() < 0 <= relu.embedding_.min()


@pytest.mark.parametrize("arch", ["conv", "module"])
def test_the_reference_of_a_heterogeneous_pair_is_built_as_dtc_builds_the_target_network(arch):
    # The reference took the source's architecture as given: a "conv" on a target without
    # an image shape, or a module reading the source's 64 features, failed the fit that
    # DTC alone makes.
    from torch import nn

    from dtc.pipeline import DTC

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    Xs = rng.normal(size=(90, 64)).astype(np.float32) + y[:, None]
    Xt = rng.normal(size=(90, 20)).astype(np.float32) + y[:, None]
    pair = DomainPair(
        Domain(Xs, y, image_shape=(1, 8, 8)), Domain(Xt, y), heterogeneous=True, n_clusters=3
    )
    net = arch if arch == "conv" else nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
    mon = NegativeTransferMonitor(reference_epochs=1)
    est = DTC(
        architecture=net,
        encoder_mode="asymmetric",
        pretrain_epochs=1,
        adapt_epochs=1,
        self_training_rounds=0,
        callbacks=[mon],
    ).fit(pair)
    assert mon.reference_.architecture == "mlp"
    assert mon.reference_.embedding_.shape[1] == est.embedding_.shape[1]


def test_the_reference_of_one_feature_space_reads_images_as_dtc_does(monkeypatch):
    # On a pair of one feature space DTC builds its "conv" network for the source's image
    # shape and runs it on the target rows as well; the reference took the target's: a
    # target without one failed the fit that DTC alone makes ("needs the domain's
    # image_shape"). (A target of another layout DTC refuses: test_pipeline_dtc.py.)
    from dtc.pipeline import DTC

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    X = (rng.normal(size=(180, 64)) + np.r_[y, y][:, None]).astype(np.float32)
    pair = DomainPair(
        Domain(X[:90], y, image_shape=(8, 8)),
        Domain(X[90:], y),
        n_clusters=3,
    )
    shapes = []
    compute = NoTransferReference._compute

    def spy(self, X, image_shape):
        shapes.append(image_shape)
        return compute(self, X, image_shape)

    monkeypatch.setattr(NoTransferReference, "_compute", spy)
    clear_reference_cache()
    mon = NegativeTransferMonitor(reference_epochs=1, n_restarts=2)
    est = DTC(
        architecture="conv",
        pretrain_epochs=1,
        adapt_epochs=1,
        self_training_rounds=0,
        callbacks=[mon],
    ).fit(pair)
    assert est.autoencoder_.image_shape == (1, 8, 8)
    assert [tuple(s) for s in shapes] == [(8, 8)]


def test_reference_options_and_seeds_are_checked_before_any_fit():
    from dtc.monitor.selection import rank_sources, source_discrepancy
    from dtc.pipeline import DTC

    for kwargs, match in [
        ({"reference_epochs": -1}, "NegativeTransferMonitor: reference_epochs must be None or"),
        ({"reference_epochs": 2.5}, "reference_epochs must be None or an int >= 0, got 2.5"),
        ({"cache_dir": 5}, "NegativeTransferMonitor: cache_dir must be None or a path"),
    ]:
        with pytest.raises(ValueError, match=match):
            DTC(callbacks=[NegativeTransferMonitor(**kwargs)]).check_params()
    d = Domain(np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2)
    fits = []
    # the discrepancy's seed + 1 failed after the first candidate's adaptation
    with pytest.raises(
        ValueError, match=r"rank_sources: seed must be an int in \[0, 2\*\*32 - 1 - 1\]"
    ):
        rank_sources(d.without_labels(), [d], n_clusters=2, fit_fn=fits.append, seed=2**32 - 1)
    assert fits == []
    with pytest.raises(ValueError, match="source_discrepancy: seed must be"):
        source_discrepancy(d, d, seed=2**32 - 1)


def test_a_check_embeds_only_the_scored_rows(pair):
    # Every score reads the scored subsample alone, yet each check embedded the whole
    # target: O(n) per check (0.23 s of 0.23 at 40,000 rows).
    seen = []

    class Counting(ScriptedDTC):
        def transform_target(self, X, preprocessed=False):
            seen.append((self._state, len(X)))
            return super().transform_target(X, preprocessed)

    mon = monitor("warn", max_samples=60, every=1)
    Counting([good] * 3, [0.3, 0.2, 0.1], [mon]).fit(pair)
    during = [n for state, n in seen if state >= 0][:-1]  # the last: the fit's own embedding_
    assert during and set(during) == {60}
    assert len(mon._idx) == 60 < pair.target.n_samples


def test_student_t_assignments_by_hand_without_an_n_k_d_array():
    # The distances came from an (n, k, d) difference array: 6 GB at 10^5 rows of 800.
    import tracemalloc

    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    labels = np.array([0, 0, 1, 1])
    # centred, then scaled to unit mean squared distance to the mean (5: scale sqrt 5)
    Xc = (X - X.mean(0)) / np.sqrt(5.0)
    centres = np.array([Xc[:2].mean(0), Xc[2:].mean(0)])
    d2 = np.array([[np.sum((x - c) ** 2) for c in centres] for x in Xc])
    q = 1 / (1 + d2)
    np.testing.assert_allclose(student_t_assignments(X, labels), q / q.sum(1, keepdims=True))
    X = np.random.default_rng(0).normal(size=(200, 30))
    tracemalloc.start()
    student_t_assignments(X, np.arange(200) % 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 10 * 30 * 8  # below one (n, k, d) float64 array


def test_a_heterogeneous_source_does_not_calibrate_the_margin():
    # Its bias and slope are of data of another kind: a SURF source raised a digits
    # target's margin (0.08 -> 0.17) and switched the score off through the resolution.
    wide = wide_pair(permute_source=False)
    same = monitor()
    ScriptedDTC([good], [0.1], [same]).fit(wide)
    assert same.calibration_["source_bias"] is not None  # a homogeneous pair: calibrated
    hetero = monitor()
    ScriptedDTC([good], [0.1], [hetero]).fit(twice_as_wide_source())
    c = hetero.calibration_
    assert c["source_bias"] is c["source_slope"] is c["resolution"] is None
    assert hetero.margin_ == pytest.approx(hetero.tolerance + 2 * c["restart_spread"])
    assert hetero.score_counts_


def test_varying_features_refuses_two_widths():
    from dtc.monitor.relatedness import varying_features

    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^varying_features: Xs and Xt must have the same"):
        varying_features(rng.normal(size=(50, 1)), rng.normal(size=(50, 40)))


def test_the_monitors_parameters_are_checked_without_a_type_error():
    # np.isfinite raised a bare TypeError past 2**64 (a huge int is a finite number: taken
    # as one); a list score an unhashable-type error from the refusal's own lookup
    for param in ("tolerance", "min_delta", "max_resolution", "min_restore_gain"):
        NegativeTransferMonitor(**{param: 2**70}).check_params()
    with pytest.raises(ValueError, match=r"^NegativeTransferMonitor: score must be one of"):
        NegativeTransferMonitor(score=[]).check_params()
    with pytest.raises(ValueError, match=r"^NegativeTransferMonitor: tolerance must be a finite"):
        NegativeTransferMonitor(tolerance=float("inf")).check_params()


def test_the_reference_checks_its_features_as_a_domain_does():
    """``np.asarray(X, float32)``: complex features trained on their real parts with a mere
    warning, and a finite value past float32 was reported as "NaN or Inf"."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match="^NoTransferReference: X: .*got complex values"):
        NoTransferReference(K, epochs=1).fit(X + 1j)
    big = X.copy()
    big[0, 0] = 1e39
    with pytest.raises(ValueError, match="^NoTransferReference: X: .*float32"):
        NoTransferReference(K, epochs=1).fit(big)


def test_source_bias_refuses_a_column_of_labels():
    """``y`` of shape (n, 1) broadcast ``learned == y`` to (n, n): scipy's "k (1800) must not
    be greater than n (60)" instead of a word on ``y``."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 2
    assert source_bias(X, y, score="silhouette", kmeans_seeds=[0]) is not None
    with pytest.raises(ValueError, match=r"source_bias: .*y of shape \(n,\), got .*\(60, 1\)"):
        source_bias(X, y[:, None], score="silhouette", kmeans_seeds=[0])


def test_a_dtc_fit_failing_in_training_frees_the_monitors_snapshot():
    # The estimator forgot the failed fit, but the monitor kept its rollback snapshot (the
    # networks and the optimiser) until the next fit.
    from dtc import DTC

    class Boom(Callback):
        def on_adapt_epoch_end(self, estimator, epoch, logs):
            raise RuntimeError("boom")

    X, y = blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=K)
    mon = monitor("rollback")
    with pytest.raises(RuntimeError, match="boom"):
        DTC(callbacks=[mon, Boom()], **{**BUDGET, "adapt_epochs": 2}).fit(pair)
    assert mon._best is None and mon._pending is None
    assert mon.trail_[0]["decision"] == "start"  # the trail is kept, to inspect


def test_a_fit_without_adaptation_epochs_frees_the_monitors_snapshot():
    # on_adapt_end returned early with no epoch pending, and the start's snapshot stayed
    # for the life of the monitor (a pickled monitor 43 % larger)
    from dtc import DTC

    X, y = blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=K)
    mon = monitor("rollback")
    DTC(callbacks=[mon], **{**BUDGET, "adapt_epochs": 0}).fit(pair)
    assert mon._best is None and mon._pending is None


def test_two_monitors_on_one_fit_are_refused_by_name():
    # Each wrote the fit's verdict: the second judged the first one's fallback (the
    # reference's own partition against itself) and replaced the transfer partition.
    from dtc import DTC

    X, y = blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=K)
    one = monitor("rollback")
    for callbacks in ([one, monitor("warn")], [one, one]):
        with pytest.raises(ValueError, match="callbacks hold 2 NegativeTransferMonitor entries"):
            DTC(callbacks=callbacks, **BUDGET).fit(pair)


def test_a_failed_fit_leaves_no_mix_of_two_fits_in_the_monitor(pair, monkeypatch):
    """A refit whose reference failed (its cache not writable, a Ctrl-C in its training)
    left this fit's correspondence beside the last fit's reference, margin and trail."""
    mon = monitor("rollback")
    ScriptedDTC([good] * 2, [1.0, 0.5], [mon]).fit(pair)
    assert mon.reference_ is not None and mon.trail_

    def broken(*args, **kwargs):
        raise RuntimeError("cache not writable")

    monkeypatch.setattr(NoTransferReference, "fit", broken)
    with pytest.raises(RuntimeError, match="cache not writable"):
        ScriptedDTC([good] * 2, [1.0, 0.5], [mon]).fit(pair)
    left = [name for name in NegativeTransferMonitor._FIT_STATE if name in vars(mon)]
    assert left == []
    monkeypatch.undo()
    fresh = monitor("rollback")
    ScriptedDTC([good] * 2, [1.0, 0.5], [fresh]).fit(pair)
    ScriptedDTC([good] * 2, [1.0, 0.5], [mon]).fit(pair)  # the same monitor, reused
    assert mon.trail_ == fresh.trail_ and mon.margin_ == fresh.margin_


def test_an_estimator_seed_of_none_is_the_references_seed_0(pair):
    # the monitor took None as 0 (_fit_seed), its reference refused it ("seed must be an int")
    est = ScriptedDTC([good] * 3, [1.0, 0.9, 0.8], [monitor("warn", check_features=False)])
    est.seed = None
    est.fit(pair)
    mon = est.callbacks[0]
    assert mon.reference_.seed == 0 and mon.trail_


# scikit-learn's own word on the constant target's K-means (one distinct point)
@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
def test_a_reference_of_one_cluster_on_the_scored_rows_is_named_before_adapting():
    # a 95/5 target whose 5 rows the 11-row subsample missed: the score's "needs at least 2
    # clusters" at the first check, after pretraining, naming neither the reference nor
    # max_samples
    from dtc.pipeline import DTC

    def domain(n0, n1, seed):
        rng = np.random.default_rng(seed)
        y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
        X = np.array([[0.0] * 20, [8.0] * 20])[y] + rng.normal(0, 1, (len(y), 20))
        return X.astype(np.float32), y

    (Xs, ys), (Xt, _) = domain(60, 60, 1), domain(95, 5, 2)
    mon = NegativeTransferMonitor(
        "warn", reference_epochs=3, n_restarts=3, max_samples=11, check_features=False,
        calibrate=False,
    )  # fmt: skip
    est = DTC(pretrain_epochs=2, adapt_epochs=2, self_training_rounds=0, hidden=(16,), n_latent=4)
    est.set_params(seed=1, callbacks=[mon])
    with pytest.raises(ValueError, match="on the 11 scored rows .max_samples=11.; its other cl"):
        est.fit(DomainPair(Domain(Xs, ys), Domain(Xt), n_clusters=2))
    # every row scored and one cluster still: raising max_samples cannot help, not advised
    mon.set_params(max_samples=1000)
    constant = np.zeros_like(Xt[:60])
    with pytest.raises(ValueError, match="60 scored rows .max_samples=1000.; its K-means found"):
        est.fit(DomainPair(Domain(Xs, ys), Domain(constant), n_clusters=2))


def test_check_scored_rows_names_the_limit_at_exactly_the_rows_needed():
    from dtc.monitor.partition_score import check_scored_rows

    # 3 clusters need 4 rows: a target of exactly 4 rows is enough, so a max_samples of
    # 2 is what falls short, and the error says so
    with pytest.raises(
        ValueError,
        match=r"^own: score 'silhouette' of 3 clusters needs at least 4 scored target samples "
        r"\(more rows than the 3 clusters\), scored on a subsample of min\(n, max_samples\)=2 "
        r"rows; max_samples=2 is too small$",
    ):
        check_scored_rows("own", "silhouette", 3, 4, 2)
    with pytest.raises(ValueError, match=r"; the target has 3 samples$"):
        check_scored_rows("own", "silhouette", 3, 3, None)
    check_scored_rows("own", "silhouette", 3, 4, None)  # exactly enough
    # at as many clusters as its 10 neighbours the k-NN agreement's limit is its neighbours
    with pytest.raises(ValueError, match=r"at least 11 .*\(more rows than its n_neighbors=10\)"):
        check_scored_rows("own", "knn_agreement", 10, 10, None)


def test_check_scored_rows_refuses_a_max_samples_of_zero():
    from dtc.monitor.partition_score import check_scored_rows

    with pytest.raises(
        ValueError, match=r"^own: max_samples: expected None or an int >= 1, got 0$"
    ):
        check_scored_rows("own", "silhouette", 3, 100, 0)


def test_common_space_score_scores_every_row_past_the_scores_default_subsample():
    # a label score's own default scores 2,000 rows; the common space scores them all
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2100, 2))
    y = (X[:, 0] > 0).astype(int)
    assert common_space_score("silhouette", y, [X]) == pytest.approx(
        silhouette_score(X, y), abs=1e-12
    )


def test_score_slope_refuses_a_fraction_of_one_and_takes_one_that_moves_no_row():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.arange(30) % 2
    # "in (0, 1)": moving every row is refused
    with pytest.raises(ValueError, match=r"fractions must lie in \(0, 1\)"):
        score_slope(X, y, fractions=(0.5, 1.0))
    # refused only when no fraction moves a row: round(0.01 * 30) = 0 moves none, 0.5 does
    assert np.isfinite(score_slope(X, y, fractions=(0.01, 0.5), draws=1))
