"""GMM clustering does not move with a shift of the features (EM is translation-equivariant)."""

import numpy as np
import pytest

from dtc.cluster import class_means, gmm
from dtc.data import make_digits_pair


def _shifted(A: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """``A + c`` rounded to float32 and the same rows less ``c`` again (exact), so that the
    two arrays hold the same points up to a shift of ``c``, bit for bit."""
    far = (A.astype(np.float64) + c).astype(np.float32)
    near = (far.astype(np.float64) - c).astype(np.float32)
    assert np.array_equal(near.astype(np.float64) + c, far.astype(np.float64))
    return near, far


@pytest.mark.parametrize("covariance_type", ["diag"])
def test_gmm_partition_does_not_move_with_a_shift_of_the_features(covariance_type):
    # scikit-learn's EM expands the squared distances and the variances (E[x^2] - mu^2):
    # the digits target 8 units off the origin (pixels in [0, 1]), started from the source
    # class means, gave a partition at ARI 0.74 (diag; tied: 0.99) of the same rows at
    # the origin.
    pair = make_digits_pair()
    X, Xf = _shifted(pair.target.X, 8.0)
    M, Mf = _shifted(class_means(pair.source.X, pair.source.y, 10), 8.0)
    near, _ = gmm(X, 10, covariance_type=covariance_type, means_init=M)
    far, _, model = gmm(Xf, 10, covariance_type=covariance_type, means_init=Mf, return_model=True)
    np.testing.assert_array_equal(far, near)
    # the returned model is in the caller's coordinates
    np.testing.assert_array_equal(model.predict(Xf.astype(np.float64)), far)
    np.testing.assert_allclose(model.means_init, Mf, rtol=1e-12)
