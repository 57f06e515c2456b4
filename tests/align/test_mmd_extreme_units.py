"""MMD / JMMD losses with the median heuristic do not depend on the features' units."""

import pytest
import torch

from dtc.align import get


@pytest.mark.parametrize("name", ["mmd", "mmd_linear", "jmmd"])
@pytest.mark.parametrize(
    ("exponent", "dtype"),
    [(-100, torch.float32), (-600, torch.float64), (600, torch.float64)],
)
def test_median_heuristic_losses_do_not_depend_on_the_units(name, exponent, dtype):
    # Float32 features of 1e-30 (float64 of 1e-181): their squared distances underflowed
    # and the loss raised "the median heuristic gave bandwidth 0.0 (source samples
    # coincide?)" of distinct rows; float64 of 1e180 overflowed. A power of two is exact:
    # the value is the same, and the gradient scaled by its inverse.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=g, dtype=torch.float64)
    y = torch.randn(32, 6, generator=g, dtype=torch.float64) + 0.3
    ctx = {}
    if name == "jmmd":
        probs = torch.randn(64, 3, generator=g, dtype=torch.float64).softmax(1).to(dtype)
        ctx = {"source_probs": probs[:32], "target_probs": probs[32:]}
    a = x.to(dtype).clone().requires_grad_()
    want = get(name)(a, y.to(dtype), **ctx)
    want.backward()
    b = torch.ldexp(x, torch.tensor(exponent)).to(dtype).clone().requires_grad_()
    got = get(name)(b, torch.ldexp(y, torch.tensor(exponent)).to(dtype), **ctx)
    got.backward()
    assert got.item() == want.item()
    torch.testing.assert_close(torch.ldexp(b.grad, torch.tensor(exponent)), a.grad)
