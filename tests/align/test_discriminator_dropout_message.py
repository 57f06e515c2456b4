"""DomainDiscriminator's dropout is refused with the bound it enforces, [0, 1): 1.5, -0.1
and NaN were refused as "in [0.0, 1.0]", which named 1.0 allowed while 1.0 is refused."""

import math

import pytest

from dtc.align.dann import DANNLoss
from dtc.align.discriminator import DomainDiscriminator


@pytest.mark.parametrize("dropout", [1.0, 1.5, -0.1, math.nan, math.inf])
def test_every_refused_dropout_names_the_half_open_range(dropout):
    for build in (DomainDiscriminator, DANNLoss):
        with pytest.raises(ValueError, match=r"dropout must be a number in \[0\.0, 1\.0\), got"):
            build(4, dropout=dropout)


@pytest.mark.parametrize("dropout", [0.0, 0.5, math.nextafter(1.0, 0.0)])
def test_dropout_within_the_stated_range_is_taken(dropout):
    disc = DomainDiscriminator(4, (8,), dropout=dropout)
    assert [m.p for m in disc.modules() if hasattr(m, "p")] == ([dropout] if dropout else [])
