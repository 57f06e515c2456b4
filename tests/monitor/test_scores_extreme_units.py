"""Label-free scores of data in extreme units: the same as in ordinary ones."""

import numpy as np
import pytest

from dtc.monitor.partition_score import scored_space, student_t_assignments
from dtc.monitor.scores import clustering_stability, information_maximization


def _blobs():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(30, 4)) + 4.0 * c for c in range(3)])
    return X, np.repeat(np.arange(3), 30)


@pytest.mark.parametrize("exponent", [600, -600, -1000])
def test_student_t_assignments_do_not_depend_on_the_units(exponent):
    # The squares of features beyond ~1e154 overflowed (and below ~1e-154 underflowed):
    # every row came out at distance 0 from every centroid, the assignments uniform and
    # information maximisation 9e-15 for 0.26, without an error. A power of two is exact.
    X, labels = _blobs()
    want = student_t_assignments(X, labels)
    got = student_t_assignments(np.ldexp(X, exponent), labels)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert information_maximization(got) == pytest.approx(information_maximization(want))


@pytest.mark.parametrize("exponent", [600, -600])
def test_clustering_stability_does_not_depend_on_the_units(exponent):
    # The default K-means' squared distances overflowed at 1e180 (underflowed at 1e-180):
    # every row fell in one cluster and the error blamed cluster_fn.
    X, _ = _blobs()
    want = clustering_stability(X, 3, n_pairs=2)
    assert clustering_stability(np.ldexp(X, exponent), 3, n_pairs=2) == want


@pytest.mark.parametrize("exponent", [600, -600])
def test_cosine_space_does_not_depend_on_the_units(exponent):
    # The rows' norms overflowed beyond ~1e154 (every row came out 0, and the scores called
    # the space collapsed) and underflowed below ~1e-154 (the rows stayed as they were).
    X, _ = _blobs()
    X[0] = 0.0  # a zero row stays zero
    want = scored_space(X, "cosine")
    np.testing.assert_array_equal(scored_space(np.ldexp(X, exponent), "cosine"), want)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_array_equal(want, X / np.where(n > 0, n, 1.0))  # bit for bit as before
