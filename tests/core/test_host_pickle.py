"""A fitted estimator pickled on a GPU loads on a machine without one (dtc._host_pickle).

Without a GPU here, a pickle "from a GPU" is written as a CUDA process writes it: every
storage tagged ``cuda:0`` (torch's ``location_tag``), and the estimator's torch entries
taken as held on the GPU. That this reproduces the failure is checked first: a tensor so
pickled cannot be loaded on this machine, as on any machine without CUDA.
"""

from __future__ import annotations

import copy
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import dtc._host_pickle as host_pickle
from baselines.dec import DEC
from dtc.data import DomainPair, make_digits_pair
from dtc.pipeline import DTC

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


@pytest.fixture(scope="module")
def pair() -> DomainPair:
    full = make_digits_pair(0.5, 0)
    rng = np.random.default_rng(0)
    s = rng.choice(full.source.n_samples, 150, replace=False)
    t = rng.choice(full.target.n_samples, 150, replace=False)
    return DomainPair(full.source.subset(s), full.target.subset(t), n_clusters=10)


@pytest.fixture(scope="module")
def fitted(pair):
    tiny = {"hidden": (16,), "n_latent": 4, "batch_size": 64, "seed": 0}
    return {
        "DTC": DTC(**tiny, pretrain_epochs=1, adapt_epochs=1, self_training_rounds=0).fit(pair),
        "DEC": DEC(**tiny, pretrain_epochs=1, max_epochs=2).fit(pair),
    }


def _holds_torch(value) -> bool:
    if isinstance(value, (torch.Tensor, torch.nn.Module)):
        return True
    if isinstance(value, dict):
        return any(_holds_torch(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_torch(v) for v in value)
    return False


def _embeds_as(loaded, est, pair) -> None:
    """``loaded`` encodes as ``est`` does (DTC: its target embedding; DEC, which keeps no
    encoder of new rows, its autoencoder's weights), on the CPU."""
    if isinstance(est, DTC):
        np.testing.assert_array_equal(loaded.transform_target(pair.target.X), est.embedding_)
        return
    got, expected = loaded.autoencoder_.state_dict(), est.autoencoder_.state_dict()
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k].device.type == "cpu"
        torch.testing.assert_close(got[k], v, rtol=0, atol=0)


def _as_if_on_a_gpu(monkeypatch):
    monkeypatch.setattr(host_pickle, "_off_host", _holds_torch)
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")


def test_a_tensor_pickled_as_on_a_gpu_does_not_load_here(monkeypatch):
    _as_if_on_a_gpu(monkeypatch)
    blob = pickle.dumps(torch.ones(3))
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="deserialize object on a CUDA device"):
        pickle.loads(blob)


@pytest.mark.parametrize("name", ["DTC", "DEC"])
def test_an_estimator_pickled_on_a_gpu_loads_on_the_cpu(fitted, pair, name, monkeypatch):
    est = fitted[name]
    gpu_fit = copy.copy(est)
    if name == "DTC":
        gpu_fit._device = torch.device("cuda:0")
    # a tensor held where the walk does not look (a callback's snapshot, say) travels too
    gpu_fit.kept_ = SimpleNamespace(snapshot=torch.arange(3.0))
    _as_if_on_a_gpu(monkeypatch)
    blob = pickle.dumps(gpu_fit)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match=r"fitted on cuda:0, which this machine lacks"):
        loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.labels_, est.labels_)
    _embeds_as(loaded, est, pair)
    assert loaded.kept_.snapshot.tolist() == [0.0, 1.0, 2.0]
    if name == "DTC":
        assert loaded._device == torch.device("cpu")


def test_a_cpu_fit_pickles_as_before(fitted, pair):
    est = fitted["DTC"]
    state = est.__reduce_ex__(4)[2]
    assert isinstance(state, dict) and "_src_ae" in state
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.transform_target(pair.target.X), est.embedding_)


def test_copies_of_a_gpu_fit_do_not_pickle(fitted, pair, monkeypatch):
    # copy went through the pickling: a shallow copy duplicated the networks (through the
    # host), and a deep one lost the objects it shares with what is copied beside it
    monkeypatch.setattr(host_pickle, "_off_host", _holds_torch)
    est = fitted["DEC"]
    assert isinstance(est.__reduce_ex__(4)[2], host_pickle._DeviceState)
    assert copy.copy(est).autoencoder_ is est.autoencoder_
    both = copy.deepcopy({"est": est, "net": est.autoencoder_})
    assert both["est"].autoencoder_ is both["net"] and both["net"] is not est.autoencoder_
    _embeds_as(both["est"], est, pair)


def test_the_blob_keeps_an_object_two_entries_share():
    shared = torch.nn.Linear(2, 2)
    state = {"a": shared, "b": [shared], "c": 1}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(host_pickle, "_off_host", _holds_torch)
        packed = host_pickle.pack_device_state(state)
    assert isinstance(packed, host_pickle._DeviceState)
    loaded = pickle.loads(pickle.dumps(packed))  # the dict itself
    assert loaded["b"][0] is loaded["a"] and loaded["c"] == 1


class Slim(DEC):
    """A user's subclass that pickles without its history."""

    def __getstate__(self):
        state = super().__getstate__()
        del state["history_"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)


def test_a_subclass_state_methods_see_the_dict(fitted, monkeypatch):
    # packed inside __getstate__, a subclass's __getstate__ met the blob (KeyError on an
    # attribute it drops) and its __setstate__ the blob's dict (the networks lost)
    est = copy.copy(fitted["DEC"])
    est.__class__ = Slim
    _as_if_on_a_gpu(monkeypatch)
    blob = pickle.dumps(est)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="fitted on cuda:0"):
        loaded = pickle.loads(blob)
    assert not hasattr(loaded, "history_") and loaded.autoencoder_ is not None
