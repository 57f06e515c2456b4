"""scripts/negative_transfer.py's ``digit_corpora`` cases (``usps8->digits`` and the like):
the shared 16x16 USPS / MNIST images, 2x2 mean-pooled to 8x8 and divided by their maximum,
beside scikit-learn's 8x8 digits / 16, a pair of the DTC digits family."""

import numpy as np
from sklearn.datasets import load_digits

from dtc.data import load_domain


def test_usps8_to_digits_is_the_pooled_usps_beside_sklearns_digits(load_script, data_dir):
    script = load_script("negative_transfer")
    pair = script.load_benchmark_pair("digit_corpora", "usps8", "digits", data_dir)
    assert (pair.n_clusters, pair.benchmark) == (10, "digits")
    assert (pair.source.name, pair.target.name) == ("usps8", "digits")
    usps = load_domain("mnist_usps", "usps", data_dir, preprocess="raw")
    n = len(usps.X)
    pooled = usps.X.reshape(n, 8, 2, 8, 2).mean(axis=(2, 4)).reshape(n, 64)
    np.testing.assert_allclose(pair.source.X, pooled / pooled.max(), atol=1e-6)
    np.testing.assert_array_equal(pair.source.y, usps.y)
    assert tuple(pair.source.image_shape) == (8, 8)
    X, y = load_digits(return_X_y=True)
    np.testing.assert_allclose(pair.target.X, X / 16.0)
    np.testing.assert_array_equal(pair.target.y, y)
    assert pair.source.X.max() == 1.0 and pair.target.X.max() == 1.0
