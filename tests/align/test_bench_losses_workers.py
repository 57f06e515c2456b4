"""scripts/bench_losses.py run whole, its workers real subprocesses (every other test fakes
them): a registered loss outside the variants and a user's ``module:Class`` loss from the
working directory are each measured, a row of what the worker found (estimator, kernels)."""

import json

import pytest


@pytest.fixture
def bench(load_script):
    return load_script("bench_losses")


def test_real_workers_measure_a_registered_and_a_users_loss(bench, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dtc_bench_worker_loss.py").write_text(
        "from torch import nn\n\n\nclass MeanGap(nn.Module):\n"
        "    def forward(self, s, t, **context):\n"
        "        return (s.mean(0) - t.mean(0)).pow(2).sum()\n"
    )
    argv = ["--losses", "jmmd,dtc_bench_worker_loss:MeanGap", "--n", "16", "--d", "3"]
    argv += ["--repeats", "1", "--threads", "1", "--timeout", "120", "--json"]
    assert bench.main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["loss_key"], r["status"], r["n"], r["d"]) for r in rows] == [
        ("jmmd", "ok", 16, 3),
        ("dtc_bench_worker_loss:MeanGap", "ok", 16, 3),
    ]
    jmmd, user = rows
    # JMMD's joint kernels: the 33 scales of the features times the one of the predictions
    assert (jmmd["impl"], jmmd["estimator"], jmmd["kernels"]) == ("dtc", "unbiased", 33)
    # a user's loss without dtc's kernels: no kernel count, not 0
    assert (user["impl"], user["kernels"]) == ("dtc", None)
    assert all(r["seconds"] > 0 and r["peak_mb"] >= 0 for r in rows)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("abc", "--timeout: expected a finite number of seconds > 0, got 'abc'"),
        ("0", "--timeout: expected a finite number of seconds > 0, got '0'"),
    ],
)
def test_a_timeout_that_is_no_positive_number_is_a_usage_error(bench, capsys, value, error):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--losses", "coral", "--timeout", value])
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err


def test_a_timeout_reaches_each_worker(bench, monkeypatch):
    seen = []

    def run(cmd, **kwargs):
        seen.append(kwargs["timeout"])
        raise bench.subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(bench.subprocess, "run", run)
    monkeypatch.setattr(bench, "_busy", lambda threads: None)
    argv = ["--losses", "coral", "--n", "8", "--d", "2", "--timeout", "2.5", "--json"]
    assert bench.main(argv) == 1  # a timeout is a failure
    assert seen == [2.5]
