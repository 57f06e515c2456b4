"""soft_neighborhood_density refuses a temperature below the bound its message states,
float64's smallest normal number: only 1 / temperature was tested, so 1e-308 (and down
to about 5.6e-309) was taken while the message said "at least 2.22507e-308", itself
rounded below the number meant."""

import numpy as np
import pytest

from dtc.monitor.scores import soft_neighborhood_density

TINY = float(np.finfo(np.float64).tiny)


def _probs():
    return np.random.default_rng(0).dirichlet(np.ones(3), size=20)


@pytest.mark.parametrize("temperature", [1e-308, 6e-309, float(np.nextafter(TINY, 0.0))])
def test_a_subnormal_temperature_is_refused_with_the_stated_bound(temperature):
    with pytest.raises(
        ValueError, match=rf"temperature must be at least {TINY!r} .*got {temperature!r}"
    ):
        soft_neighborhood_density(_probs(), temperature=temperature)


def test_the_stated_bound_itself_is_taken():
    assert np.isfinite(soft_neighborhood_density(_probs(), temperature=TINY))
