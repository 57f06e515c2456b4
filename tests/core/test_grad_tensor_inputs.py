"""A tensor that requires grad (embeddings straight from a model) is read as the array it
holds: ``np.asarray`` refuses one, with torch's "Can't call numpy() on Tensor that requires
grad", which names no argument. Each entry here raised it; each now gives the value the
numpy input gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dtc.cluster.dec import has_converged, label_change_fraction
from dtc.cluster.spectral import affinity_matrix, knn_graph
from dtc.data.shifts import apply_shift

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
DIST, IDX = knn_graph(X, 5)
IMAGES = RNG.random((4, 8, 8))
PREVIOUS, CURRENT = np.array([0.0, 1.0, 2.0, 2.0]), np.array([0, 1, 1, 2])


def _grad(a) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize(
    "call, given",
    [
        (lambda d: affinity_matrix(d, IDX).toarray(), DIST),
        (lambda images: apply_shift(images, 0.5, seed=0), IMAGES),
        (lambda previous: label_change_fraction(previous, CURRENT), PREVIOUS),
        (lambda current: has_converged(PREVIOUS, current, tol=0.3), CURRENT.astype(float)),
    ],
    ids=["affinity_matrix", "apply_shift", "label_change_fraction", "has_converged"],
)
def test_a_tensor_that_requires_grad_gives_the_arrays_value(call, given):
    np.testing.assert_array_equal(call(_grad(given)), call(given))
