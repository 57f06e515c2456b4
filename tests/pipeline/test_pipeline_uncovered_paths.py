"""Paths of dtc.pipeline no other test reached: argument messages, the refine stage resumed
from its checkpoint, and the private helpers' hand cases (weights compared, signatures read,
checkpoint-key text of deep parameters)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import dtc.pipeline as pipeline
from dtc.data import Domain, DomainPair
from dtc.monitor.base import Callback
from dtc.pipeline import DTC, family_config


def test_family_config_names_an_unknown_benchmark():
    with pytest.raises(ValueError) as info:
        family_config("svhn")
    assert str(info.value) == (
        "family_config: unknown benchmark 'svhn'; known: "
        "['coil20', 'digits', 'mnist_usps', 'office_caltech10_surf']"
    )


def test_benchmark_defaults_of_a_benchmark_without_a_family_are_none():
    assert DTC().benchmark_defaults("no_such_benchmark", {"use_source_labels": False}) == {}
    assert DTC().benchmark_defaults(None, {}) == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mask": 1.0}, "DTC: mask must be in [0, 1), got 1.0"),
        ({"loss_params": [1]}, "DTC: loss_params must be a dict or None, got [1]"),
        (
            {"callbacks": [Callback(), 3]},
            "DTC: callbacks must be dtc.monitor.base.Callback instances, got 3",
        ),
    ],
)
def test_argument_messages(miniature_dtc, two_blob_pair, params, message):
    with pytest.raises(ValueError) as info:
        DTC(**miniature_dtc, **params).fit(two_blob_pair)
    assert str(info.value) == message


class _Misspelt:
    def on_adapt_epoch_ends(self, estimator, epoch, logs):  # one s too many
        pass


class _MixedIn(_Misspelt, Callback):
    """The misspelt hook is the mixin's, not the class's own."""


def test_a_misspelt_hook_of_a_base_class_is_named(miniature_dtc, two_blob_pair):
    with pytest.raises(ValueError, match=r"^DTC: callback _MixedIn defines on_adapt_epoch_ends,"):
        DTC(**miniature_dtc, callbacks=[_MixedIn()]).fit(two_blob_pair)


class _OddAnnotations(Callback):
    """Annotations inspect cannot read (not a dict): the hook is still found."""

    __annotations__ = ("not", "a", "dict")

    def on_adapt_epoch_ends(self, estimator, epoch, logs):
        pass


def test_a_misspelt_hook_is_named_where_the_annotations_cannot_be_read(
    miniature_dtc, two_blob_pair
):
    with pytest.raises(
        ValueError, match=r"^DTC: callback _OddAnnotations defines on_adapt_epoch_e"
    ):
        DTC(**miniature_dtc, callbacks=[_OddAnnotations()]).fit(two_blob_pair)


def test_n_clusters_cannot_be_estimated_from_two_target_rows(miniature_dtc):
    rng = np.random.default_rng(0)
    pair = DomainPair(Domain(rng.normal(size=(4, 3))), Domain(rng.normal(size=(2, 3))))
    with pytest.raises(ValueError) as info:
        DTC(**miniature_dtc).fit(pair)
    assert str(info.value) == (
        "DTC: cannot estimate n_clusters from 2 target samples (the silhouette needs at "
        "least 3); pass n_clusters"
    )


def test_the_refine_stage_is_resumed_from_its_checkpoint(
    miniature_dtc, two_blob_pair, tmp_path, monkeypatch
):
    params = {**miniature_dtc, "refine": "dec", "refine_epochs": 2, "checkpoint_dir": tmp_path}
    first = DTC(**params).fit(two_blob_pair)
    assert first.resumed_stages_ == []

    def no_refining(self):
        raise AssertionError("the refine stage was run again instead of loaded")

    monkeypatch.setattr(DTC, "_refine", no_refining)
    again = DTC(**params).fit(two_blob_pair)
    assert again.resumed_stages_ == ["pretrain", "adapt", "cluster", "refine"]
    assert np.array_equal(again.labels_, first.labels_)
    assert np.array_equal(again.cluster_centers_, first.cluster_centers_)
    assert again.n_clusters_ == first.n_clusters_ == 2
    # an unlabelled source names no clusters by classes, fresh or resumed
    assert not hasattr(first, "cluster_classes_") and not hasattr(again, "cluster_classes_")


def test_same_weights_by_hand():
    same = pipeline._same_weights
    a = torch.tensor([1.0, float("nan")])
    # entries that are no tensors, or missing on one side, are not compared
    assert same({"n": 3, "w": a}, {"n": 4, "w": a.clone()})
    assert same({"w": a}, {})
    # lazy (uninitialised) parameters are not compared
    lazy = nn.LazyLinear(2).weight
    assert same({"w": lazy}, {"w": torch.zeros(2, 2)})
    assert not same({"w": torch.zeros(2)}, {"w": torch.zeros(3)})
    assert not same({"i": torch.tensor([1, 2])}, {"i": torch.tensor([1, 3])})
    assert same({"w": a}, {"w": torch.tensor([1.0, float("nan")])})
    assert not same({"w": a}, {"w": torch.tensor([2.0, float("nan")])})
    assert not same({"w": a}, {"w": torch.tensor([float("nan"), 1.0])})


def test_signature_of_a_builtin_is_unreadable_and_takes_any_call():
    assert pipeline._signature(dict.fromkeys) is not None  # a readable builtin
    assert pipeline._signature(object.__init_subclass__) is None
    assert pipeline._takes(object.__init_subclass__, 1, 2, x=3)
    assert not pipeline._takes(lambda a: a, 1, 2)


def test_has_submodule_by_hand():
    net = nn.Sequential(nn.Linear(1, 1))
    assert pipeline._has_submodule(net, "") and pipeline._has_submodule(net, "0")
    assert not pipeline._has_submodule(net, "1")
    assert not pipeline._has_submodule(net, "0.bias")  # a parameter, no module


def test_param_text_of_a_set_of_strings_is_sorted():
    # a set's repr follows the strings' hashes (PYTHONHASHSEED): sorted, by hand
    assert pipeline._param_text({"b", "a"}) == "{'a', 'b'}"
    assert pipeline._param_text(frozenset(["zz", "a", "m"])) == "{'a', 'm', 'zz'}"
    assert pipeline._param_text({"k": {"y", "x"}}) == "{'k': {'x', 'y'}}"
