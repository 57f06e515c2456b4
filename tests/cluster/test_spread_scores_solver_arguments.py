"""``spread_scores`` refuses a ``tol`` or ``max_iter`` under which conjugate gradients
stop at their zero start: ``tol >= 1`` (the start's residual is ``|Y0|``, within ``tol``
of it) and ``max_iter <= 0`` returned every score 0 without a word, and ``tol <= 0`` was
"did not converge"."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.cluster.label_spreading import spread_scores
from dtc.cluster.spectral import affinity_matrix, knn_graph, normalized_adjacency


def graph():
    X = np.random.default_rng(4).normal(size=(30, 2))
    return normalized_adjacency(affinity_matrix(*knn_graph(X, 5))), np.eye(30)[:, :3]


@pytest.mark.parametrize("tol", [1.0, 1.5, float("inf"), "3", 0.0, -1.0, float("nan"), None, True])
def test_a_tol_outside_0_1_is_named(tol):
    S, Y0 = graph()
    with pytest.raises(ValueError, match=r"^tol: expected a relative residual in \(0, 1\)"):
        spread_scores(S, Y0, tol=tol)


@pytest.mark.parametrize("max_iter", [0, -1, 2.5, "10", None, True])
def test_a_max_iter_below_1_is_named(max_iter):
    S, Y0 = graph()
    with pytest.raises(ValueError, match=r"^max_iter: expected an int >= 1"):
        spread_scores(S, Y0, max_iter=max_iter)


def test_a_loose_tol_still_spreads():
    S, Y0 = graph()
    F = spread_scores(S, Y0, tol=0.5, max_iter=np.int64(50))
    assert np.abs(F).max() > 0
