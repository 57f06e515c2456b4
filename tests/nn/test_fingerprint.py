"""dtc.nn.fingerprint: a network's fingerprint changes with whatever changes its results."""

from __future__ import annotations

import torch
from torch import nn

from dtc.nn.fingerprint import module_fingerprint


def test_the_code_of_a_users_class_counts(encoders_of_one_name):
    relu_cls, tanh_cls = encoders_of_one_name
    torch.manual_seed(0)
    relu = relu_cls(8, 3)
    torch.manual_seed(0)
    tanh = tanh_cls(8, 3)
    assert repr(relu) == repr(tanh)
    pairs = zip(relu.state_dict().values(), tanh.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)
    assert module_fingerprint(relu) != module_fingerprint(tanh)
    torch.manual_seed(0)
    assert module_fingerprint(relu_cls(8, 3)) == module_fingerprint(relu)  # the same network


def test_weights_buffers_and_plain_settings_count():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    base = module_fingerprint(net)
    net[1].running_mean += 1.0  # a buffer
    assert module_fingerprint(net) != base
    net[1].running_mean -= 1.0
    assert module_fingerprint(net) == base
    net[1].momentum = 0.5  # a plain attribute that repr shows neither... nor its weights
    assert module_fingerprint(net) != base
