"""check_source's advice for too few permutations names the fewest its own test takes:
ceil(1 / alpha) - 1 rounded up at alpha = 1/49 (1 / alpha is 49.00000000000001) and
advised n_permutations >= 49, while 48 is taken (1/49 <= alpha)."""

import numpy as np
import pytest

from dtc.monitor.relatedness import check_source


def _pair():
    rng = np.random.default_rng(0)
    Z, W = rng.normal(size=(60, 3)), rng.normal(size=(3, 20))
    noise = 0.1 * rng.normal(size=(60, 20))
    X = Z @ W + noise
    return X[:30], X[30:]


@pytest.mark.parametrize(("alpha", "fewest"), [(1 / 49, 48), (0.01, 99), (0.05, 19), (1 / 3, 2)])
def test_the_advised_count_is_the_fewest_taken(alpha, fewest):
    Xs, Xt = _pair()
    off = {"min_similarity": None, "min_signal_ratio": None}
    with pytest.raises(ValueError, match=rf"use n_permutations >= {fewest}$"):
        check_source(Xs, Xt, n_permutations=fewest - 1, alpha=alpha, **off)
    # the advised count is taken, and the test can then reach alpha
    result = check_source(Xs, Xt, n_permutations=fewest, alpha=alpha, **off)
    assert result["p_value"] <= alpha
