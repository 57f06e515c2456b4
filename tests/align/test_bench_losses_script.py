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


def test_the_losses_context_is_drawn_before_the_timed_calls(bench, monkeypatch):
    """dtc's rows drew their soft assignments inside the timed call (two softmaxes of random
    draws, ~12 ms a call: CORAL read 90x slower than pytorch-adapt's at n = 64, 0.7x
    without); they are inputs, made once as x and y are."""
    import torch

    fn, row = bench._build("jmmd", 32, 4)
    assert row["impl"] == "dtc"
    drawn = []
    for name in ("randn", "softmax", "rand"):
        real = getattr(torch, name)
        monkeypatch.setattr(
            torch,
            name,
            lambda *a, _real=real, _name=name, **k: drawn.append(_name) or _real(*a, **k),
        )
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 4, generator=gen), torch.randn(32, 4, generator=gen) + 0.5
    drawn.clear()
    first, second = fn(x, y), fn(x, y)
    assert drawn == [] and torch.equal(first, second)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--n", "abc"], "argument --n: expected comma-separated integers >= 1, got 'abc'"),
        (["--d", "64,0"], "argument --d: expected comma-separated integers >= 1, got '64,0'"),
        (["--repeats", "0"], "argument --repeats: expected an integer >= 1, got '0'"),
        (["--threads", "0"], "argument --threads: expected an integer >= 1, got '0'"),
        (["--losses", "coral,mdd"], "--losses: unknown key(s) mdd; expected some of mmd,"),
    ],
)
def test_bad_arguments_are_one_line_before_any_worker(bench, monkeypatch, capsys, args, error):
    """--n abc was a ValueError traceback; --repeats 0, --threads 0 or an unknown loss started
    a worker per (loss, n, d) that failed on it, each a 'failed' row, and exited 0."""
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: pytest.fail("a worker ran"))
    with pytest.raises(SystemExit) as exit_:
        bench.main(args)
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_table_mode_reports_each_configuration_as_it_ends(bench, monkeypatch, capsys):
    """Without --json nothing was printed until the whole grid (up to ~2 h) had run."""
    monkeypatch.setattr(
        bench,
        "_run_one",
        lambda key, n, d, args: dict(
            loss=key, impl="?", n=n, d=d, seconds=None, peak_mb=None, status="skipped: test"
        ),
    )
    assert bench.main(["--losses", "coral,swd", "--n", "8,16", "--d", "4"]) == 0
    err = capsys.readouterr().err
    assert "[1/4" in err and "[4/4" in err and "swd n=16 d=4: skipped: test" in err
