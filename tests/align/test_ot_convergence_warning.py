"""sinkhorn_cost says in its own argument names when Sinkhorn stops short of ``tol``.

POT's warning asked for a larger ``numItermax``, an argument dtc's users do not pass; it is
now off, and the same test (the L2 error of the plan's target marginal against ``tol``, POT's
stopping rule) is made on the returned plan.
"""

from __future__ import annotations

import warnings

import ot
import pytest
import torch

from dtc.align.ot import SinkhornLoss, sinkhorn_cost

GRADS = ["autodiff", "envelope"]
METHODS = ["sinkhorn_log", "sinkhorn", "sinkhorn_stabilized"]


def _pair():
    g = torch.Generator().manual_seed(0)
    source = torch.randn(12, 3, generator=g, dtype=torch.float64)
    return source, torch.randn(9, 3, generator=g, dtype=torch.float64) + 1.0


def _marginal_error(source, target, reg, method, max_iter):
    """POT's own plan at the same iterations, and its target marginal's L2 error."""
    cost = torch.cdist(source, target).square()
    cost = cost / cost.mean()
    a = torch.full((len(source),), 1 / len(source), dtype=torch.float64)
    b = torch.full((len(target),), 1 / len(target), dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plan = ot.sinkhorn(a, b, cost, reg, method=method, numItermax=max_iter, stopThr=0.0)
    return float(torch.linalg.vector_norm(plan.sum(0) - b))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("grad", GRADS)
def test_a_plan_stopped_at_max_iter_is_warned_in_dtcs_words(method, grad):
    source, target = _pair()
    error = _marginal_error(source, target, 0.05, method, max_iter=3)
    assert error > 1e-3  # three iterations are far from the marginals
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sinkhorn_cost(source, target, reg=0.05, method=method, max_iter=3, tol=1e-9, grad=grad)
    messages = [str(w.message) for w in caught]
    assert not any("numItermax" in m for m in messages), messages
    (message,) = messages
    assert message.startswith("sinkhorn_cost: Sinkhorn stopped at max_iter=3 ")
    assert f"off by {error:.3g} (L2), above tol=1e-09 (method '{method}'" in message
    assert message.endswith("raise max_iter or reg, or loosen tol")


@pytest.mark.parametrize("method", METHODS)
def test_a_plan_within_tol_is_not_warned(method):
    source, target = _pair()
    # the same batch, to the same tolerance POT reaches within the iteration budget
    assert _marginal_error(source, target, 0.5, method, max_iter=1000) < 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sinkhorn_cost(source, target, reg=0.5, method=method, tol=1e-9)
        SinkhornLoss(reg=0.5, method=method, tol=1e-9, grad="envelope")(source, target)


def test_the_warning_names_the_callers_line():
    source, target = _pair()
    with pytest.warns(UserWarning, match="stopped at max_iter=2") as record:
        SinkhornLoss(reg=0.05, max_iter=2)(source, target)
    assert record[0].filename == __file__
