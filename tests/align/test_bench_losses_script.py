"""scripts/bench_losses.py: a peer is skipped, with a row saying why, when its package is
missing or the machine lacks the memory it needs at that n (not at every n), and never run."""

import json
import re

import pytest

import dtc._memory


@pytest.fixture
def bench(load_script):
    # What main imports (the results store, dtc.experiment) imported here: h5py, which it
    # pulls in, runs `uname -p` in a subprocess on import, which the tests below forbid.
    import dtc.experiment.store  # noqa: F401

    return load_script("bench_losses")


def test_pytorch_adapts_quadratic_mmd_is_skipped_only_where_it_would_not_fit(
    bench, pa_layers, monkeypatch
):
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

    fn, row = bench._build("jmmd", 32)
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
        # every configuration timed out at once, and --out kept (and reused) the rows
        (["--timeout", "0"], "--timeout: expected a finite number of seconds > 0, got '0'"),
        (["--timeout", "-5"], "--timeout: expected a finite number of seconds > 0, got '-5'"),
        # inf and nan ended in a traceback from the selectors module
        (["--timeout", "inf"], "--timeout: expected a finite number of seconds > 0, got 'inf'"),
        (["--losses", "coral,mdd"], "--losses: unknown key(s) 'mdd'; expected some of mmd,"),
        # a misspelt class started one worker per (n, d), each failing on it, and exited 0
        (["--losses", "dtc.align:MMDLos"], "unknown key(s) 'dtc.align:MMDLos' (could not"),
        # "" ran every loss (hours on the default grid); a duplicate was measured twice
        (["--losses", ""], "--losses: expected comma-separated loss keys, got ''"),
        (["--losses", "mmd,"], "--losses: expected comma-separated loss keys, got 'mmd,'"),
        (["--losses", "mmd, coral,mmd"], "--losses: mmd given twice (measured twice)"),
        # a size given twice: its blocks were measured twice
        (["--n", "8,16,8"], "argument --n: 8 given twice (measured twice), in '8,16,8'"),
        (["--d", "4,4"], "argument --d: 4 given twice (measured twice), in '4,4'"),
        # torch's "Overflow when unpacking long" in every worker, and exit 0
        (
            ["--threads", "100000000000"],
            "--threads: expected an integer <= 256, got '100000000000'",
        ),
    ],
)
def test_bad_arguments_are_one_line_before_any_worker(bench, monkeypatch, capsys, args, error):
    """--n abc was a ValueError traceback; --repeats 0, --threads 0 or an unknown loss started
    a worker per (loss, n, d) that failed on it, each a 'failed' row, and exited 0; --timeout
    0 timed each out, a 'timeout' row, and exited 0."""
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


@pytest.mark.parametrize("status", ["failed (exit 1): ValueError: Overflow", "timeout: over 1 s"])
def test_a_failed_configuration_exits_1_and_says_so(bench, monkeypatch, capsys, status):
    """Every worker failed (--threads 10**11, before it was refused) and the exit was 0."""
    statuses = {"coral": "ok", "swd": status}

    def run_one(key, n, d, args):
        seconds = 0.1 if statuses[key] == "ok" else None
        return dict(loss=key, impl="x", estimator=None, kernels=None, n=n, d=d, seconds=seconds,
                    cpu_seconds=seconds, peak_mb=1.0, status=statuses[key])  # fmt: skip

    monkeypatch.setattr(bench, "_run_one", run_one)
    assert bench.main(["--losses", "coral,swd", "--n", "8,16", "--d", "4"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "bench_losses.py: 2 of 4 configurations failed or timed out (swd n=8 d=4, swd n=16 d=4):"
        " exit 1"
    )
    statuses["swd"] = "skipped: test"  # a skip is by design: not a failure
    assert bench.main(["--losses", "coral,swd", "--n", "8,16", "--d", "4", "--json"]) == 0


def test_the_failure_line_names_five_and_counts_the_rest(bench, monkeypatch, capsys):
    """Five failures are named; a sixth is "and 1 more"."""

    def run_one(key, n, d, args):
        return dict(loss=key, impl="?", n=n, d=d, seconds=None, peak_mb=None, status="failed")

    monkeypatch.setattr(bench, "_run_one", run_one)
    named = ", ".join(f"coral n={n} d=4" for n in range(1, 6))
    for ns, more in (("1,2,3,4,5", ""), ("1,2,3,4,5,6", " and 1 more")):
        assert bench.main(["--losses", "coral", "--n", ns, "--d", "4", "--json"]) == 1
        total = len(ns.split(","))
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"bench_losses.py: {total} of {total} configurations failed or timed out "
            f"({named}{more}): exit 1"
        )


def test_a_busy_machine_is_named_before_threads_that_would_wait_on_each_other(
    bench, monkeypatch, capsys
):
    # two threads beside other jobs read CORAL at n=512 at 0.26 s for 0.003 s on one
    import os

    monkeypatch.setattr(
        bench,
        "_run_one",
        lambda key, n, d, args: dict(
            loss=key, impl="?", n=n, d=d, seconds=None, peak_mb=None, status="skipped: test"
        ),
    )
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    cases = ((2.5, 2, True), (0.9, 2, False), (2.5, 1, False), (0.0, 4, False), (2.5, 4, True))
    for load, threads, warned in cases:
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        args = ["--losses", "coral", "--n", "8", "--d", "4", "--threads", str(threads)]
        assert bench.main(args) == 0
        err = capsys.readouterr().err
        assert ("the machine is busy" in err) is warned, err
        if warned:
            assert f"(1-minute load {load} on 2 cores)" in err


def _fake_runs(bench, monkeypatch) -> list[tuple]:
    """``_run_one`` replaced by a fake that records its calls ``(key, n, d, repeats)`` and
    returns an "ok" row whose ``seconds`` tells the calls apart."""
    calls = []

    def run_one(key, n, d, args):
        calls.append((key, n, d, args.repeats))
        return dict(
            loss=key,
            impl="dtc" if key == "coral" else "pytorch-adapt",
            estimator="",
            kernels=0,
            n=n,
            d=d,
            seconds=float(len(calls)),
            cpu_seconds=float(len(calls)),
            peak_mb=1.0,
            status="ok",
        )

    monkeypatch.setattr(bench, "_run_one", run_one)
    return calls


def _rows(out: str) -> list[dict]:
    import json

    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")  # said: test_store
def test_out_reuses_whole_n_d_blocks_measured_under_the_same_settings(
    bench, monkeypatch, capsys, tmp_path
):
    """Nothing kept the rows: an interrupted grid (hours) started over. With --out a block of
    (n, d) is reused only whole, as measured in one stretch: a ratio dtc/peer compares rows
    measured back to back."""
    import json

    calls = _fake_runs(bench, monkeypatch)
    out = tmp_path / "bench.jsonl"
    argv = ["--losses", "coral,pa_coral", "--n", "8,16", "--d", "4", "--out", str(out)]
    assert bench.main([*argv, "--json"]) == 0
    first = _rows(capsys.readouterr().out)
    assert [c[:3] for c in calls] == [
        ("coral", 8, 4),
        ("pa_coral", 8, 4),
        ("coral", 16, 4),
        ("pa_coral", 16, 4),
    ]
    assert len(out.read_text().splitlines()) == 4

    # the same command again: every block is whole, nothing is measured; --json and the table
    # give the recorded rows
    calls.clear()
    assert bench.main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    assert calls == [] and _rows(captured.out) == first
    assert "4 reused from" in captured.err and "0 to do" in captured.err
    assert bench.main(argv) == 0
    table = capsys.readouterr().out
    assert calls == [] and "pa_coral: 0.500x time" in table  # 1 s / 2 s, both of run one

    # a block missing a row is measured again whole, and its new rows are the ones shown
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2] + lines[3:]))  # coral at n = 16 deleted
    assert bench.main([*argv, "--json"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [c[:3] for c in calls] == [("coral", 16, 4), ("pa_coral", 16, 4)]
    assert rows[:2] == first[:2] and [r["seconds"] for r in rows[2:]] == [1.0, 2.0]
    assert rows[2]["stretch"] == rows[3]["stretch"] != first[3]["stretch"]
    # the older peer row stays in the file, but a rerun takes the latest whole stretch
    assert len(out.read_text().splitlines()) == 5
    calls.clear()
    assert bench.main([*argv, "--json"]) == 0
    assert calls == [] and _rows(capsys.readouterr().out) == rows

    # rows measured with other --repeats are not reused, nor deleted
    assert bench.main([*argv, "--json", "--repeats", "1"]) == 0
    captured = capsys.readouterr()
    assert len(calls) == 4 and {c[3] for c in calls} == {1}
    assert "5 rows there are of other settings, not reused" in captured.err
    assert len(out.read_text().splitlines()) == 9

    # a last line cut short (no newline) is no row: its block is measured again, and the
    # next row is not glued onto it
    calls.clear()
    text = out.read_text()
    out.write_text(text[: len(text) - 20])
    assert bench.main([*argv, "--json", "--repeats", "1"]) == 0
    capsys.readouterr()
    assert [c[:3] for c in calls] == [("coral", 16, 4), ("pa_coral", 16, 4)]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 10 and out.read_text().endswith("\n")


def test_out_reuses_a_block_only_from_one_stretch_holding_every_key(
    bench, monkeypatch, capsys, tmp_path
):
    """A block whose keys were measured in different stretches (two commands, two --losses)
    is measured again: rows of two stretches are not put side by side."""
    calls = _fake_runs(bench, monkeypatch)
    out = tmp_path / "bench.jsonl"
    base = ["--n", "8", "--d", "4", "--out", str(out), "--json"]
    assert bench.main(["--losses", "coral", *base]) == 0
    assert bench.main(["--losses", "pa_coral", *base]) == 0
    capsys.readouterr()
    calls.clear()
    assert bench.main(["--losses", "coral,pa_coral", *base]) == 0
    assert [c[0] for c in calls] == ["coral", "pa_coral"]
    latest = _rows(capsys.readouterr().out)[1]
    calls.clear()
    assert bench.main(["--losses", "pa_coral", *base]) == 0  # whole in two stretches
    assert calls == [] and _rows(capsys.readouterr().out) == [latest]  # the latest one


def test_out_measures_again_a_block_skipped_for_the_memory_free_then(
    bench, pa_layers, monkeypatch, capsys, tmp_path
):
    """A peer skipped because the machine had too little memory free at the time (another
    job running) is not a finished row: its block is measured again on the next run."""
    calls = _fake_runs(bench, monkeypatch)
    real_run_one = bench._run_one
    free = {"gb": 1.0}
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: free["gb"])

    def run_one(key, n, d, args):
        reason = bench._skip_reason(key, n)
        if reason is not None:
            return dict(loss=key, impl="?", n=n, d=d, seconds=None, peak_mb=None, status=reason)
        return real_run_one(key, n, d, args)

    monkeypatch.setattr(bench, "_run_one", run_one)
    out = tmp_path / "bench.jsonl"
    argv = ["--losses", "coral,pa_mmd_q33", "--n", "1024", "--d", "4", "--out", str(out)]
    assert bench.main([*argv, "--json"]) == 0
    (_, skipped) = _rows(capsys.readouterr().out)
    assert skipped["status"].startswith("skipped: only 1.0 GB available")
    assert [c[0] for c in calls] == ["coral"]
    # still short of that memory: the block is reused (measuring it again would skip the
    # peer again, and every resume redid the block for nothing)
    assert bench.main([*argv, "--json"]) == 0
    assert [c[0] for c in calls] == ["coral"]
    assert [r["status"] for r in _rows(capsys.readouterr().out)] == ["ok", skipped["status"]]
    free["gb"] = 64.0
    assert bench.main([*argv, "--json"]) == 0
    assert [c[0] for c in calls] == ["coral", "coral", "pa_mmd_q33"]
    assert [r["status"] for r in _rows(capsys.readouterr().out)] == ["ok", "ok"]


def test_out_measures_again_a_users_loss_after_an_edit_to_its_file(
    bench, monkeypatch, capsys, tmp_path
):
    """A module:Class loss's rows were reused after its file was edited: the timings of the
    old code shown as the new code's (dtc run and bench-losses re-run such a loss)."""
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))  # main puts the working directory in
    monkeypatch.chdir(tmp_path)
    module = tmp_path / "dtc_bench_edit_loss.py"
    module.write_text(
        "from torch import nn\n\n\nclass L(nn.Module):\n"
        "    def forward(self, s, t, **context):\n        return (s - t).mean()\n"
    )
    calls = _fake_runs(bench, monkeypatch)
    out = tmp_path / "bench.jsonl"
    argv = ["--losses", "dtc_bench_edit_loss:L,coral", "--n", "8", "--d", "4"]
    argv += ["--out", str(out), "--json"]
    assert bench.main(argv) == 0
    assert bench.main(argv) == 0  # reused
    assert [c[0] for c in calls] == ["dtc_bench_edit_loss:L", "coral"]
    module.write_text(module.read_text().replace("mean()", "mean() * 2"))
    assert bench.main(argv) == 0  # its block measured again, whole
    assert [c[0] for c in calls[2:]] == ["dtc_bench_edit_loss:L", "coral"]
    rows = _rows(capsys.readouterr().out)
    assert rows[4]["code"] != rows[0]["code"] and "code" not in rows[5]
    calls.clear()
    assert bench.main(argv) == 0  # the new rows are reused
    assert calls == []


def _ok_row(key: str, **fields) -> dict:
    """A measured ("ok") row of dtc's loss ``key`` at n = 8, d = 4, as the table reads it."""
    row = dict(loss_key=key, impl="dtc", estimator="", kernels=0, n=8, d=4, peak_mb=1.0)
    return {**row, "status": "ok", **fields}


def test_the_table_keeps_a_long_loss_name_in_its_column(bench):
    """A module:Class key longer than 14 characters ran into the impl column
    ("my_losses:MeanDifferencedtc")."""
    row = _ok_row("my_losses:MeanDifference", seconds=0.5, cpu_seconds=0.5)
    header, line = bench._table([row]).splitlines()
    assert line.split()[:2] == ["my_losses:MeanDifference", "dtc"]
    assert header.index("impl") == line.index("dtc")


def test_the_table_shows_a_time_under_a_millisecond(bench):
    """A loss taking 0.1 ms read "0.000" seconds, as if it took no time."""
    row = _ok_row("coral", seconds=0.000107, cpu_seconds=2.5)
    line = bench._table([row]).splitlines()[1]
    assert line.split()[6:8] == ["1.1e-04", "2.500"]


def test_seconds_read_with_three_decimals_from_a_millisecond(bench):
    """Three decimals from 1 ms up (1 ms itself included), two significant digits below."""
    assert [bench._secs(s) for s in (0.005, 0.001, 0.00099, 12.3456)] == [
        "0.005",
        "0.001",
        "9.9e-04",
        "12.346",
    ]


def test_a_long_loss_name_is_followed_by_two_spaces_as_a_short_one(bench):
    """The loss column is two wider than its longest key, as for dtc's names (14 for
    pa_mmd_lin33's 12)."""
    key = "my_losses:MeanDifference"
    header, line = bench._table([_ok_row(key, seconds=0.5, cpu_seconds=0.5)]).splitlines()
    assert line.startswith(key + "  dtc") and header.startswith(
        "loss" + " " * (len(key) + 2 - 4) + "impl"
    )


def test_the_time_ratio_is_of_wall_seconds_not_cpu_seconds(bench):
    """dtc 0.5 s (0.5 s of CPU) against the peer's 2.0 s (1.0 s of CPU): 0.250x, where the
    CPU times' ratio reads 0.500x (the test above has both ratios at 0.25)."""
    ours = _ok_row("coral", seconds=0.5, cpu_seconds=0.5)
    peer = _ok_row("pa_coral", seconds=2.0, cpu_seconds=1.0)
    assert (
        bench._table([ours, peer]).splitlines()[1].endswith("  pa_coral: 0.250x time, 1.000x mem")
    )


def test_threads_up_to_the_maximum_are_taken(bench):
    import argparse

    assert bench.thread_count(str(bench.MAX_THREADS)) == bench.MAX_THREADS == 256
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer <= 256, got '257'"):
        bench.thread_count("257")


def test_the_size_limits_skip_above_them_only(bench, pa_layers, monkeypatch):
    """The limits of the module docstring, hand-set: pytorch-adapt's quadratic MMD runs when
    the memory free is exactly its need (11 GB at n = 4096, S = 33, plus 3 GB); its linear
    estimate and dtc's quadratic losses are skipped above n = 16384, not at it."""
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: 14.0)
    assert bench._skip_reason("pa_mmd_q33", 4096) is None
    for key in ("pa_mmd_lin33", "mmd", "mmd_1k", "jmmd", "sinkhorn"):
        assert bench._skip_reason(key, 16384) is None, key
    linear = "skipped: pytorch-adapt's linear estimate still builds n x n distances"
    assert bench._skip_reason("pa_mmd_lin33", 16385) == linear
    for key in ("mmd", "mmd_1k", "jmmd", "sinkhorn"):
        assert bench._skip_reason(key, 16385) == "skipped: quadratic in n", key
    assert bench._skip_reason("mmd_linear", 10**6) is None
    assert bench._skip_reason("coral", 10**6) is None


def test_the_memory_available_is_read_in_gb_from_meminfo(bench, monkeypatch):
    """/proc/meminfo's MemAvailable is in kB: 12 * 2**20 kB is 12 GB (no file: no limit)."""
    import io

    text = "MemTotal:       33554432 kB\nMemFree:         1048576 kB\nMemAvailable:   12582912 kB\n"
    monkeypatch.setattr(bench, "open", lambda path: io.StringIO(text), raising=False)
    assert bench._mem_available_gb() == 12.0

    def no_file(path):
        raise OSError(path)

    monkeypatch.setattr(bench, "open", no_file, raising=False)
    assert bench._mem_available_gb() == float("inf")


def test_a_workers_outcome_becomes_its_row(bench, monkeypatch):
    """The worker's command carries --repeats and --threads; its row is the last JSON line
    of a worker that exited 0; a worker that failed or timed out is a row saying so (the
    last line of its stderr)."""
    import argparse
    import subprocess

    args = argparse.Namespace(repeats=5, threads=3, timeout=7.5)
    seen, result = [], {}

    def run(cmd, timeout, **kwargs):
        seen.append((cmd[2:], timeout))
        if result.get("timeout"):
            raise subprocess.TimeoutExpired(cmd, timeout)
        return subprocess.CompletedProcess(cmd, result["rc"], result["out"], result["err"])

    monkeypatch.setattr(bench.subprocess, "run", run)
    result.update(
        rc=0, out='{"status": "early"}\nnoise\n{"status": "ok", "seconds": 1.0}\n', err=""
    )
    assert bench._run_one("coral", 8, 4, args) == {"status": "ok", "seconds": 1.0}
    assert seen == [(["--worker", "coral", "8", "4", "--repeats", "5", "--threads", "3"], 7.5)]
    failed = dict(loss="coral", impl="?", n=8, d=4, seconds=None, peak_mb=None)
    result.update(rc=1, out='{"status": "ok"}\n', err="Traceback\n  ...\nMemoryError: big\n")
    row = bench._run_one("coral", 8, 4, args)
    assert row == {**failed, "status": "failed (exit 1): MemoryError: big"}
    result.update(rc=-9, out="", err="")
    assert bench._run_one("coral", 8, 4, args) == {**failed, "status": "failed (exit -9): exit -9"}
    result["timeout"] = True
    assert bench._run_one("coral", 8, 4, args) == {**failed, "status": "timeout: over 7.5 s"}


def test_the_worker_takes_medians_after_a_warm_up_and_the_added_peak(bench, monkeypatch):
    """A fake clock and peak memory: seconds and cpu_seconds are the medians of the timed calls
    after one untimed warm-up (a warm-up over 10 s is the only, timed, call); peak_mb is
    the high-water mark the calls added to the baseline, in MB."""
    from types import SimpleNamespace

    import torch

    calls = []

    def build(key, n):
        def fn(x, y):
            calls.append(key)
            return (x - y).pow(2).sum()

        return fn, dict(loss=key, impl="dtc", estimator="", kernels=0)

    def fake(walls, cpus, peaks_mib):
        # each call reads (start, end) of both clocks: start at 0, end at its duration
        wall = iter(v for w in walls for v in (0.0, w))
        cpu = iter(v for c in cpus for v in (0.0, c))
        monkeypatch.setattr(
            bench, "time", SimpleNamespace(perf_counter=wall.__next__, process_time=cpu.__next__)
        )
        monkeypatch.setattr(dtc._memory, "peak_rss_mib", iter(peaks_mib).__next__)

    monkeypatch.setattr(bench, "_build", build)
    threads = torch.get_num_threads()
    fake([0.2, 1.0, 3.0, 2.0], [0.1, 0.5, 0.9, 0.7], [100.0, 150.0])
    row = bench._worker("coral", 8, 4, 3, threads)
    assert len(calls) == 4  # the warm-up and 3 repeats
    assert row == dict(
        loss="coral", impl="dtc", estimator="", kernels=0, n=8, d=4, seconds=2.0,
        cpu_seconds=0.7, peak_mb=50.0, status="ok",
    )  # fmt: skip
    calls.clear()
    fake([12.0], [11.0], [100.0, 100.0])
    row = bench._worker("coral", 8, 4, 3, threads)
    assert len(calls) == 1 and (row["seconds"], row["cpu_seconds"], row["peak_mb"]) == (
        12.0,
        11.0,
        0.0,
    )


def test_the_worker_takes_the_median_not_the_mean_of_skewed_times(bench, monkeypatch):
    """Timed calls of 1, 6 and 2 s (CPU 0.5, 3.0, 0.7): the medians 2 and 0.7, where the
    means read 3 and 1.4 (the times of the test above are symmetric: their mean is their
    median)."""
    from types import SimpleNamespace

    import torch

    def build(key, n):
        return (lambda x, y: (x - y).pow(2).sum()), dict(loss=key, impl="dtc")

    walls = iter(v for w in (0.2, 1.0, 6.0, 2.0) for v in (0.0, w))
    cpus = iter(v for c in (0.1, 0.5, 3.0, 0.7) for v in (0.0, c))
    clock = SimpleNamespace(perf_counter=walls.__next__, process_time=cpus.__next__)
    monkeypatch.setattr(bench, "time", clock)
    monkeypatch.setattr(dtc._memory, "peak_rss_mib", iter([100.0, 100.0]).__next__)
    monkeypatch.setattr(bench, "_build", build)
    row = bench._worker("coral", 8, 4, 3, torch.get_num_threads())
    assert (row["seconds"], row["cpu_seconds"]) == (2.0, 0.7)


def test_pytorch_adapts_one_scale_mmd_needs_memory_for_its_one_scale(bench, pa_layers, monkeypatch):
    """The need scales with S + 2 (the distances and the S exponentials, 10.8 GB measured at
    S = 33): at n = 4096 and one scale 11 * 3 / 35 = 0.94 GB, plus 3 GB for the rest."""
    assert bench.pa_quadratic_gb(4096, 1) == pytest.approx(11 * 3 / 35)
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: 3.9)
    assert bench._skip_reason("pa_mmd_q1", 4096) == "skipped: only 3.9 GB available, needs ~3.9 GB"
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: 4.0)
    assert bench._skip_reason("pa_mmd_q1", 4096) is None


def test_the_default_keys_and_the_known_keys(bench, monkeypatch):
    """The default grid: dtc's variants, the registry's other losses but dtc's wrappers of the
    peers (measured directly), then the peers; a module:Class key is imported (as the
    worker would), and named with why where it fails."""
    import dtc.align as align

    registry = ["mmd", "coral", "pa_mmd", "pytorch_adapt", "pa_coral", "jmmd"]
    monkeypatch.setattr(align, "available", lambda: registry)
    assert bench.default_keys() == [
        *("mmd", "mmd_1k", "mmd_linear", "coral", "swd", "jmmd"),
        *("pa_mmd_q33", "pa_mmd_q1", "pa_mmd_lin33", "pa_coral", "pot_swd"),
    ]
    keys = ["dtc.align:CORALLoss", "jmmd", "pa_mmd_q1", "mmd_1k", "nosuch", "no_mod_xyz:L"]
    unknown = bench.unknown_keys(keys)
    assert unknown[0] == "'nosuch'" and len(unknown) == 2
    assert unknown[1].startswith("'no_mod_xyz:L' (could not import loss 'no_mod_xyz:L'")


def test_a_table_row_and_its_ratios_to_the_peer_by_hand(bench):
    """Each column at its width, the ratios dtc / peer of seconds and of peak MB (n/a for a
    peer that added no memory), and a row that did not run."""
    ours = _ok_row("coral", seconds=0.5, cpu_seconds=0.25, peak_mb=3.0)
    peer = {**_ok_row("pa_coral", seconds=2.0, cpu_seconds=1.0, peak_mb=4.0), "impl": "pa"}
    lines = bench._table([ours, peer]).splitlines()
    assert lines[1] == (
        "coral         dtc            -           0        8    4    0.500    0.250      3.0"
        "  pa_coral: 0.250x time, 0.750x mem"
    )
    assert lines[2] == (
        "pa_coral      pa             -           0        8    4    2.000    1.000      4.0"
    )
    lines = bench._table([ours, {**peer, "peak_mb": 0.0}]).splitlines()
    assert lines[1].endswith("  pa_coral: 0.250x time, n/ax mem")
    skipped = {**_ok_row("pa_coral"), "status": "skipped: test"}
    lines = bench._table([ours, skipped]).splitlines()
    assert lines[1].endswith("  pa_coral: skipped: test")
    assert lines[2] == "pa_coral" + " " * 34 + "        8    4  skipped: test"


def test_the_settings_hold_the_options_versions_and_cpu(bench, monkeypatch):
    """A row is reused only under the same --repeats, --threads, --timeout, versions
    (pytorch-adapt's included, None when it is missing) and CPU model and count."""
    import argparse

    import dtc.experiment.single as single

    monkeypatch.setattr(single, "package_versions", lambda: {"python": "3.x", "torch": "2.x"})
    monkeypatch.setattr(bench, "version", lambda name: {"pytorch-adapt": "0.0.9"}[name])
    monkeypatch.setattr(bench, "_cpu_model", lambda: "Test CPU")
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 6)
    args = argparse.Namespace(repeats=3, threads=2, timeout=120.0)
    assert bench.measurement_settings(args) == {
        "repeats": 3,
        "threads": 2,
        "timeout": 120.0,
        "versions": {"python": "3.x", "torch": "2.x", "pytorch-adapt": "0.0.9"},
        "cpu": "Test CPU",
        "cpus": 6,
    }

    def missing(name):
        raise bench.PackageNotFoundError(name)

    monkeypatch.setattr(bench, "version", missing)
    assert bench.measurement_settings(args)["versions"]["pytorch-adapt"] is None


def test_reusable_blocks_by_hand(bench):
    """Records of other settings, or without a stretch, are counted in ``other``; a row of
    a user's loss under another code is neither reused nor counted; a block is reused only
    with a row of every key."""
    settings, new, old = {"repeats": 3}, {"file": "new"}, {"file": "old"}

    def rec(key, n, stretch, **fields):
        row = dict(loss_key=key, n=n, d=4, stretch=stretch, settings=settings, status="ok")
        return {**row, **fields}

    records = [
        rec("a", 8, "s1", code=new),
        rec("b", 8, "s1"),
        rec("a", 16, "s2", code=new, settings={"repeats": 1}),  # other settings
        dict(loss_key="a", n=16, d=4, settings=settings),  # no stretch: not this script's
        rec("a", 16, "s3", code=old),  # "a" edited since
        rec("b", 16, "s3"),
    ]
    blocks, other = bench.reusable_blocks(records, settings, ["a", "b"], {"a": new})
    assert blocks == {(8, 4): {"a": records[0], "b": records[1]}} and other == 2


def test_reusable_blocks_keeps_other_skips_and_drops_a_code_no_longer_there(bench):
    """A row skipped for a missing package is reused as such (only a memory skip is measured
    again); a row recorded with a code, where the key now has none, is not reused (its code
    is not ``codes.get(key, {})``)."""
    settings = {"repeats": 3}

    def rec(key, n, **fields):
        row = dict(loss_key=key, n=n, d=4, stretch="s", settings=settings, status="ok")
        return {**row, **fields}

    missing = rec("b", 8, status="skipped: pytorch-adapt is not installed (the peer b needs it)")
    records = [rec("a", 8), missing, rec("a", 16, code={"file": "old"}), rec("b", 16)]
    blocks, other = bench.reusable_blocks(records, settings, ["a", "b"], {}, lambda k, n: False)
    assert blocks == {(8, 4): {"a": records[0], "b": missing}} and other == 0


def test_out_reuses_only_the_blocks_asked_for_and_says_so(bench, monkeypatch, capsys, tmp_path):
    """Blocks of FILE outside --n / --d are not counted as reused (counted, they would read
    "-2 to do"); the blocks run with d outer, n inner."""
    calls = _fake_runs(bench, monkeypatch)
    out = tmp_path / "bench.jsonl"
    argv = ["--losses", "coral,pa_coral", "--d", "4", "--out", str(out), "--json"]
    assert bench.main([*argv, "--n", "8"]) == 0
    capsys.readouterr()
    assert bench.main([*argv, "--n", "8,16"]) == 0
    err = capsys.readouterr().err
    said = "4 configurations in 2 (n, d) blocks: 2 reused from {} (1 whole block), 2 to do"
    assert said.format(out) in err
    calls.clear()
    assert bench.main([*argv, "--n", "16"]) == 0
    said = "2 configurations in 1 (n, d) block: 2 reused from {} (1 whole block), 0 to do"
    assert calls == [] and said.format(out) in capsys.readouterr().err
    assert bench.main(["--losses", "coral", "--n", "8,16", "--d", "4,2", "--json"]) == 0
    assert [c[1:3] for c in calls] == [(8, 4), (16, 4), (8, 2), (16, 2)]


def test_out_refuses_a_file_another_script_wrote(bench, monkeypatch, capsys, tmp_path):
    """A sweep's results.jsonl given as --out took the bench rows too, and `dtc report`
    then refused the file."""
    calls = _fake_runs(bench, monkeypatch)
    out = tmp_path / "results.jsonl"
    out.write_text(json.dumps({"method": "kmeans", "seed": 0, "metrics": {"acc": 0.5}}) + "\n")
    with pytest.raises(SystemExit):
        bench.main(["--losses", "coral", "--n", "8", "--d", "4", "--out", str(out)])
    assert "line 1 is not a run record (no loss_key, n, d, status)" in capsys.readouterr().err
    assert calls == [] and len(out.read_text().splitlines()) == 1


def test_short_of_memory_is_the_memory_skip_alone(bench, pa_layers, monkeypatch):
    """Only a skip for the memory free keeps a memory-skipped row: a peer skipped now for
    another reason (its package gone) is measured again, to get the row of that reason."""
    monkeypatch.setattr(bench, "_mem_available_gb", lambda: 1.0)
    assert bench._short_of_memory("pa_mmd_q33", 1024) is True
    assert bench._short_of_memory("coral", 1024) is False
    real = bench.importlib.util.find_spec
    monkeypatch.setattr(
        bench.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pytorch_adapt" else real(name, *a),
    )
    assert bench._skip_reason("pa_mmd_q33", 1024).startswith("skipped: pytorch-adapt is not")
    assert bench._short_of_memory("pa_mmd_q33", 1024) is False


def test_the_kernel_count_of_a_loss_outside_the_variants(bench):
    """S read 0 for every loss outside the script's own variants: the README's one-kernel
    subclass of MMDLoss, and JMMD's 33 feature kernels."""
    import torch

    import dtc.align as align

    class OneKernelMMD(align.MMDLoss):
        def __init__(self):
            super().__init__(scales=[1.0])

    class Mine(torch.nn.Module):
        def forward(self, source, target, **context):
            return (source.mean(0) - target.mean(0)).pow(2).sum()

    assert bench.kernel_count(OneKernelMMD()) == 1
    assert bench.kernel_count(align.get("jmmd")) == 33  # 33 feature x 1 probability kernel
    assert bench.kernel_count(align.get("mmd", sigmas=[1.0, 2.0])) == 2
    assert bench.kernel_count(align.get("dann")) == 0
    assert bench.kernel_count(Mine()) is None
    row = _ok_row("mine:Mine", kernels=None, seconds=1.0, cpu_seconds=1.0)
    assert bench._table([row]).splitlines()[1].split()[1:5] == ["dtc", "-", "-", "8"]


def test_the_kernel_count_of_dtcs_pytorch_adapt_wrappers(bench, pa_layers):
    import dtc.align as align

    assert bench.kernel_count(align.get("pa_mmd")) == 1
    assert bench.kernel_count(align.get("pa_mmd", kernel_scales=[1, 2, 4])) == 3
    assert bench.kernel_count(align.get("pa_coral")) == 0


def test_a_loss_gets_the_context_dtc_passes_it(bench, monkeypatch):
    """Every loss got source_probs and target_probs, where DTC passes them only to a
    conditional one: a loss taking (source, target, progress=0.0), which trains in DTC,
    failed here with a TypeError. Each now gets the keywords DTC gives it."""
    import torch
    from torch import nn

    from dtc.align import register, registry

    monkeypatch.setattr(registry._LOSSES, "_registered", dict(registry._LOSSES._registered))
    seen = {}

    class ProgressOnly(nn.Module):
        def forward(self, source, target, progress=0.0):
            seen["progress_only"] = {"progress"}
            return (1 + progress) * (source.mean(0) - target.mean(0)).pow(2).sum()

    class Conditional(ProgressOnly):
        conditional = True

        def forward(self, source, target, **context):
            seen["conditional"] = set(context)
            return (source.mean(0) - target.mean(0)).pow(2).sum()

    register("progress_only", ProgressOnly)
    register("conditional", Conditional)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    for key in ("progress_only", "conditional"):
        fn, _ = bench._build(key, 8)
        assert fn(x, y).shape == ()
    assert seen == {
        "progress_only": {"progress"},
        "conditional": {"progress", "source_probs", "target_probs"},
    }


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (lambda x, y: (x - y).mean(0), "must return a scalar tensor (one value for the batch), got shape (4,)"),
        (lambda x, y: (x - y).mean() * float("nan"), "returned nan, expected a finite value"),
        (lambda x, y: (x - y).mean().detach(), "returned a value without a gradient"),
        (lambda x, y: 1.0, "must return a scalar tensor (one value for the batch), got 1.0"),
    ],
    ids=["vector", "nan", "detached", "float"],
)  # fmt: skip
def test_a_loss_value_dtc_would_refuse_fails_its_row(bench, monkeypatch, value, error):
    """The script used what a loss returned unchecked: a vector failed with torch's bare
    "grad can be implicitly created only for scalar outputs", and a NaN was timed and
    reported "ok". The warm-up's value is checked as DTC checks it, naming the loss."""
    import torch

    def build(key, n):
        return value, dict(loss=key, impl="dtc", estimator="", kernels=0)

    monkeypatch.setattr(bench, "_build", build)
    with pytest.raises(ValueError, match="^" + re.escape(f"loss mine {error}")):
        bench._worker("mine", 8, 4, 1, torch.get_num_threads())
