"""The sliced Wasserstein distance of features in extreme units scales with them."""

import pytest
import torch

from dtc.align.ot import sliced_wasserstein


@pytest.mark.parametrize(
    ("exponent", "dtype"),
    [(-100, torch.float32), (-600, torch.float64), (600, torch.float64)],
)
def test_sliced_wasserstein_scales_with_the_features(exponent, dtype):
    # Float32 features of 1e-30: |x|^2 underflowed and SW read 0 ("aligned") for 5.2e-31;
    # float64 of 1e180 overflowed (an error). SW_p is homogeneous of degree 1 and a power
    # of two scales exactly, so the value is the unit-scale one times 2**exponent.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    y = torch.randn(30, 6, generator=g, dtype=torch.float64) + 1.0
    a = x.to(dtype).clone().requires_grad_()
    want = sliced_wasserstein(a, y.to(dtype))
    want.backward()
    two = torch.tensor(exponent)
    b = torch.ldexp(x, two).to(dtype).clone().requires_grad_()
    got = sliced_wasserstein(b, torch.ldexp(y, two).to(dtype))
    got.backward()
    assert float(torch.ldexp(got.detach().double(), -two)) == pytest.approx(want.item(), rel=1e-6)
    torch.testing.assert_close(b.grad, a.grad)  # degree 0: the same gradient
    # SW_p^p (root=False) scales by 2**(p exponent): exact where that is representable
    power = sliced_wasserstein(
        torch.ldexp(x, torch.tensor(-300)), torch.ldexp(y, torch.tensor(-300)), root=False
    )
    want_power = sliced_wasserstein(x, y, root=False)
    assert float(torch.ldexp(power, torch.tensor(600))) == pytest.approx(float(want_power))
