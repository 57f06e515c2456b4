"""pa_mmd names the cause of pytorch-adapt's NaN on features far from the origin."""

import pytest
import torch

from dtc.align import get


def test_pa_mmd_names_features_far_from_the_origin_not_identical_rows(pa_layers):
    # pa_layers: pytorch-adapt is optional, but under CI a missing install fails (conftest)
    # pytorch-adapt expands its squared distances (|x|^2 + |y|^2 - 2 x.y) in the inputs'
    # dtype: float32 rows at 1e4 +- 1 gave NaN, and the error said "identical source rows
    # make its median bandwidth 0?" of 32 distinct rows.
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 6, generator=g), torch.randn(32, 6, generator=g) + 0.3
    assert torch.isfinite(get("pa_mmd")(x, y))
    with pytest.raises(ValueError, match=r"far from the origin \(column means up to 1e\+04\)"):
        get("pa_mmd")(x + 1e4, y + 1e4)
    # rows that do coincide keep the bandwidth's explanation
    with pytest.raises(ValueError, match="identical source rows"):
        get("pa_mmd")(torch.ones(32, 6), y)
