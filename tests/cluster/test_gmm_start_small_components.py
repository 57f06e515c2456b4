"""A GMM started from given means keeps a component of fewer rows than dimensions.

``start_from_means`` held each mean at the given one but took the covariance around the
rows' own mean: with fewer rows than dimensions that covariance is singular along the
offset between the two means (a variance of ``reg_covar`` there), and the first E-step gave
the component no row. DTC's GMM from the source class means kept 6 of 10 clusters on SURF
amazon->webcam (20 to 39 target rows a class in 32 dimensions). The covariance is now the
M-step's with the mean held: the rows' second moment around the given mean."""

import warnings

import numpy as np

from dtc.cluster.gmm import gmm


def test_components_of_fewer_rows_than_dimensions_keep_their_rows():
    rng = np.random.default_rng(0)
    d, sizes = 16, [40, 40, 8, 8]  # two components of 8 rows in 16 dimensions
    centres = 3 * rng.normal(size=(4, d))
    y = np.repeat(np.arange(4), sizes)
    X = centres[y] + rng.normal(size=(len(y), d))
    means = centres + 0.5 * rng.normal(size=(4, d))  # another domain's class means
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "the rows fall in 2 of the 4 clusters asked for"
        labels, _ = gmm(X, 4, means_init=means, seed=0)
    np.testing.assert_array_equal(labels, y)
