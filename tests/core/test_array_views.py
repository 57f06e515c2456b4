"""Views of valid arrays -- negative strides (``X[::-1]``, ``np.flip``) -- are data like any
other: every entry that hands numpy to torch takes them, with the values of a copy.

``torch.from_numpy`` / ``torch.as_tensor`` refuse a negative stride, and ``np.asarray`` keeps
the view when the dtype already matches: these entries raised torch's "At least one stride in
the given numpy array is negative" for a float64 (float32) view only.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dtc.align.discrepancy import coral_distance, mmd_permutation_test, proxy_a_distance
from dtc.align.ot import sliced_wasserstein
from dtc.cluster.dec import ClusteringLayer
from dtc.nn.autoencoder import MLPAutoencoder
from dtc.nn.training import embed

RNG = np.random.default_rng(0)
S, T = RNG.normal(size=(30, 4)), RNG.normal(size=(30, 4)) + 0.3


@pytest.mark.parametrize(
    "measure",
    [
        coral_distance,
        lambda s, t: mmd_permutation_test(s, t, n_permutations=20, seed=0),
        lambda s, t: proxy_a_distance(s, t, seed=0),
    ],
    ids=["coral_distance", "mmd_permutation_test", "proxy_a_distance"],
)
def test_discrepancies_take_reversed_views(measure):
    flipped_rows, flipped_cols = np.flip(S, 0), S[:, ::-1]
    assert measure(flipped_rows, T) == measure(flipped_rows.copy(), T)
    assert measure(flipped_cols, T[:, ::-1]) == measure(flipped_cols.copy(), T[:, ::-1].copy())


def test_embed_takes_a_reversed_float32_view():
    torch.manual_seed(0)
    enc = MLPAutoencoder(4, hidden=[8], n_latent=2).encoder
    X = S.astype(np.float32)
    np.testing.assert_array_equal(embed(enc, X[::-1]), embed(enc, X[::-1].copy()))


def test_init_centers_takes_a_reversed_view():
    C = RNG.normal(size=(3, 4)).astype(np.float32)
    layer = ClusteringLayer(3, 4)
    layer.init_centers(C[::-1])
    np.testing.assert_array_equal(layer.centers.detach().numpy(), C[::-1])


@pytest.mark.filterwarnings("error")
def test_init_centers_takes_a_read_only_array_without_torch_s_warning():
    # torch warned "The given NumPy array is not writable" of the array it would share
    C = RNG.normal(size=(3, 4)).astype(np.float32)
    C.setflags(write=False)
    layer = ClusteringLayer(3, 4)
    layer.init_centers(C)
    np.testing.assert_array_equal(layer.centers.detach().numpy(), C)


def test_sliced_wasserstein_takes_reversed_projections():
    P = RNG.normal(size=(4, 5))
    P /= np.linalg.norm(P, axis=0)
    s, t = torch.from_numpy(S), torch.from_numpy(T)
    expected = sliced_wasserstein(s, t, projections=P[:, ::-1].copy())
    assert sliced_wasserstein(s, t, projections=P[:, ::-1]) == expected
