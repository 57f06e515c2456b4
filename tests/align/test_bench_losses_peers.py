"""scripts/bench_losses.py's peers (pytorch-adapt's MMD and CORAL, POT's sliced Wasserstein):
the callable each builds computes what its row says, the value of the dtc variant it is
the peer of in the table (so the ratios compare one quantity), and a worker times it."""

import ot
import pytest
import torch


@pytest.fixture
def bench(load_script):
    return load_script("bench_losses")


def _inputs(n=64, d=8):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen) + 0.5


@pytest.mark.parametrize("variant", ["mmd", "mmd_1k", "mmd_linear", "coral"])
def test_a_peer_computes_its_dtc_variants_value(bench, pa_layers, variant):
    peer = bench.DTC_VARIANTS[variant][4]
    x, y = _inputs()
    ours, _ = bench._build(variant, 64)
    theirs, row = bench._build(peer, 64)
    assert float(theirs(x, y)) == pytest.approx(float(ours(x, y)), rel=1e-4)
    loss, impl, estimator, kernels = bench.PEERS[peer]
    assert row == dict(loss=loss, impl=impl, estimator=estimator, kernels=kernels)


def test_pytorch_adapts_coral_is_the_deep_coral_formula(bench, pa_layers):
    x, y = _inputs()
    fn, _ = bench._build("pa_coral", 64)
    d = x.shape[1]
    by_hand = (torch.cov(x.T) - torch.cov(y.T)).pow(2).sum() / (4 * d * d)
    assert float(fn(x, y)) == pytest.approx(float(by_hand), rel=1e-4)


def test_pots_sliced_wasserstein_is_50_projections_of_seed_0(bench):
    x, y = _inputs()
    fn, row = bench._build("pot_swd", 64)
    expected = ot.sliced_wasserstein_distance(x, y, n_projections=50, seed=0)
    assert float(fn(x, y)) == pytest.approx(float(expected))
    assert row == dict(loss="swd", impl="pot", estimator="", kernels=0)


@pytest.mark.parametrize("peer", ["pa_mmd_q1", "pa_mmd_lin33", "pa_coral", "pot_swd"])
def test_a_worker_times_each_peer(bench, pa_layers, peer):
    row = bench._worker(peer, 32, 4, repeats=1, threads=1)
    assert row["status"] == "ok" and (row["n"], row["d"]) == (32, 4)
    assert row["impl"] == bench.PEERS[peer][1] and row["seconds"] >= 0
