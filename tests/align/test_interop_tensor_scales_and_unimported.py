"""pytorch-adapt interop: kernel_scales given as a tensor go to the layer as they are, and
the row check leaves alone a layer in a process that never imported pytorch-adapt's layers
(the layer is then none of its classes)."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

import dtc.align
from dtc.align import interop


def test_kernel_scales_as_a_tensor_match_the_layer_given_it(pa_layers):
    gen = torch.Generator().manual_seed(0)
    source, target = torch.randn(9, 3, generator=gen), torch.randn(7, 3, generator=gen) + 1
    scales = torch.tensor([0.5, 1.0, 2.0])
    reference = pa_layers.MMDLoss(kernel_scales=scales, mmd_type="quadratic")
    loss = dtc.align.get("pa_mmd", kernel_scales=scales, mmd_type="quadratic")
    assert loss(source, target).item() == pytest.approx(reference(source, target).item(), 1e-12)


def test_the_row_check_skips_layers_when_pytorch_adapt_was_never_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "pytorch_adapt.layers", raising=False)
    one = torch.zeros(1, 2)  # one row: too few for pytorch-adapt's MMD, no check here
    assert interop._check_rows(nn.Identity(), one, one, "L") is None
