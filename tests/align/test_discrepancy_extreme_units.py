"""Scale-invariant discrepancy measures on features in extreme units: the same values."""

import numpy as np
import pytest

from dtc.align.discrepancy import mmd_permutation_test, proxy_a_distance


def _domains():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 4)), rng.normal(size=(50, 4)) * 1.3 + 0.5


@pytest.mark.parametrize("exponent", [-560, 560])
def test_mmd_permutation_test_does_not_depend_on_the_units(exponent):
    # Features of 1e-170: the squared distances underflowed, the median heuristic read
    # "all points equal", and the test returned MMD 0 with p = 1 (no difference) without a
    # word; at 1e170 they overflowed (an error). A power of two is exact.
    s, t = _domains()
    want = mmd_permutation_test(s, t, n_permutations=30)
    got = mmd_permutation_test(np.ldexp(s, exponent), np.ldexp(t, exponent), n_permutations=30)
    assert got.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert got.p_value == want.p_value
    assert got.sigma == pytest.approx(np.ldexp(want.sigma, exponent), rel=1e-12)
    # a given sigma in the same units gives the same test
    fixed = mmd_permutation_test(
        np.ldexp(s, exponent),
        np.ldexp(t, exponent),
        n_permutations=30,
        sigma=np.ldexp(want.sigma, exponent),
    )
    assert fixed.statistic == pytest.approx(want.statistic, rel=1e-12)


@pytest.mark.parametrize("exponent", [-560, 560])
def test_proxy_a_distance_does_not_depend_on_the_units(exponent):
    # Standardised features: at 1e-170 their variances underflowed, the scaler left them
    # as they were and the classifier saw nothing (PAD 0 for 0.69); at 1e170 every fit
    # failed ("All the 5 fits failed").
    s, t = _domains()
    want = proxy_a_distance(s, t)
    assert want > 0.3
    assert proxy_a_distance(np.ldexp(s, exponent), np.ldexp(t, exponent)) == want
