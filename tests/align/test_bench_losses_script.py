"""scripts/bench_losses.py: a peer is skipped, with a row saying why, when its package is
missing or the machine lacks the memory it needs at that n (not at every n), and never run."""

import pytest


@pytest.fixture
def bench(load_script):
    return load_script("bench_losses")


def test_pytorch_adapts_quadratic_mmd_is_skipped_only_where_it_would_not_fit(bench, monkeypatch):
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: 8.0)
    # 0.7 GB at n = 1024: it used to be skipped at every n below 14 GB available
    assert bench._skip_reason("pa_mmd_q33", 256) is None
    assert bench._skip_reason("pa_mmd_q33", 1024) is None
    assert bench._skip_reason("pa_mmd_q1", 4096) is None
    reason = bench._skip_reason("pa_mmd_q33", 4096)
    assert reason == "skipped: only 8.0 GB available, needs ~14.0 GB"
    assert bench.pa_quadratic_gb(1024, 33) == pytest.approx(0.69, abs=0.01)
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: 20.0)
    assert bench._skip_reason("pa_mmd_q33", 4096) is None
    assert bench._skip_reason("pa_mmd_q33", 8192).startswith("skipped: pytorch-adapt quadratic")


def test_a_peer_whose_package_is_missing_is_skipped_by_name(bench, monkeypatch, capsys):
    real = bench.importlib.util.find_spec
    monkeypatch.setattr(
        bench.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("pytorch_adapt", "ot") else real(name, *a),
    )

    def no_subprocess(*args, **kwargs):
        raise AssertionError("a skipped peer was run")

    monkeypatch.setattr(bench.subprocess, "run", no_subprocess)
    args = ["--losses", "pa_coral,pot_swd", "--n", "32", "--d", "4", "--json"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "skipped: pytorch-adapt is not installed (the peer pa_coral needs it)" in out
    assert "skipped: POT is not installed (the peer pot_swd needs it)" in out
    rows = [
        {**r, "loss_key": r["loss"]}
        for r in (
            dict(
                loss="coral",
                impl="dtc",
                estimator="",
                kernels=0,
                n=32,
                d=4,
                seconds=0.1,
                cpu_seconds=0.1,
                peak_mb=1.0,
                status="ok",
            ),
            bench._run_one("pa_coral", 32, 4, None),
        )
    ]
    assert "pa_coral: skipped: pytorch-adapt is not installed (the peer pa_coral" in (
        bench._table(rows)
    )
