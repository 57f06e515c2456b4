"""Loading CDAN's state: a lazy loss's state saved before its first call (sizes None), a
state without the sizes under strict=False, and a randomized map's matrices into a map
that has drawn its own."""

from __future__ import annotations

import torch

from dtc.align.cdan import CDANLoss, RandomizedMultilinearMap


def _call(loss, d=3, k=2, n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    s, t = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen)
    p = torch.softmax(torch.randn(n, k, generator=gen), 1)
    return loss(s, t, source_probs=p, target_probs=p, progress=0.5)


def test_the_state_of_an_uncalled_lazy_loss_leaves_the_sizes_to_the_next_call():
    fresh = CDANLoss()
    loaded = CDANLoss()
    loaded.load_state_dict(fresh.state_dict())
    assert loaded._sizes is None
    assert torch.isfinite(_call(loaded, d=5, k=3))
    assert loaded._sizes == (5, 3)


def test_a_state_without_sizes_loads_under_strict_false():
    called = CDANLoss(in_features=3, n_clusters=2)
    _call(called)
    state = {k: v for k, v in called.state_dict().items() if not k.endswith("_extra_state")}
    other = CDANLoss(in_features=3, n_clusters=2)
    _call(other, seed=1)
    result = other.load_state_dict(state, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert other._sizes is None  # those of its next call, as a fresh lazy loss's
    for key, value in state.items():
        assert torch.equal(other.state_dict()[key], value)


def test_a_randomized_maps_matrices_load_into_a_map_that_drew_its_own():
    saved = RandomizedMultilinearMap(3, 2, out_dim=4, seed=1)
    drawn = RandomizedMultilinearMap(3, 2, out_dim=4, seed=2)
    assert not torch.equal(saved.features_matrix, drawn.features_matrix)
    drawn.load_state_dict(saved.state_dict())
    assert torch.equal(drawn.features_matrix, saved.features_matrix)
    assert torch.equal(drawn.probs_matrix, saved.probs_matrix)
