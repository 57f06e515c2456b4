"""scripts/baseline_costs.py's command line and its consensus rows: ``main`` reports each
configuration as it ends, prints the table (or JSON lines) and exits 1 when one did not
finish; an ``ensemble`` row counts the distinct rows of its members' labels, every row on
the target of noise and about the clusters on the clustered one."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def costs(load_script):
    return load_script("baseline_costs")


def _fake_runs(costs, monkeypatch, status="ok"):
    seen = []

    def run(config, timeout):
        seen.append((config, timeout))
        row = {**config, "status": status}
        if status == "ok":
            row.update(wall_s=1.0, wall_raw_s=1.0, extra_mib=2.0)
        return row

    monkeypatch.setattr(costs, "run_in_subprocess", run)
    return seen


def test_main_runs_the_selected_configurations_and_prints_the_table(costs, monkeypatch, capsys):
    seen = _fake_runs(costs, monkeypatch)
    assert costs.main(["--quick", "--only", "agglomerative", "--threads", "1"]) == 0
    assert [(c["method"], c["n_t"], t) for c, t in seen] == [
        ("agglomerative", 1_000, 900.0),
        ("agglomerative", 2_000, 900.0),
    ]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("done 1/2: agglomerative n_s=100 n_t=1000: {")
    assert out[1].startswith("done 2/2: agglomerative n_s=100 n_t=2000: {")
    assert out[2].split()[:3] == ["method", "n_s", "n_t"]
    # 8 n_t^2 bytes: 7.6 MiB at 1,000 rows, 30.5 at 2,000; 2 MiB measured over each
    assert out[4].split() == [
        "agglomerative",
        "100",
        "1000",
        "ok",
        "1.0",
        "2.0",
        "7.6",
        "0.26",
        "-",
    ]
    assert out[5].split()[6:8] == ["30.5", "0.07"]


def test_main_json_lines_go_to_stdout_and_the_progress_to_stderr(costs, monkeypatch, capsys):
    _fake_runs(costs, monkeypatch)
    assert costs.main(["--quick", "--only", "tca", "--json", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["method"], r["n_s"], r["n_t"]) for r in rows] == [("tca", 200, 200)]
    assert rows[0]["projected_mib"] == round(8 * 400**2 / 2**20, 1)
    assert captured.err.startswith("done 1/1: tca n_s=200 n_t=200: {")


def test_main_exits_1_when_a_configuration_did_not_finish(costs, monkeypatch, capsys):
    _fake_runs(costs, monkeypatch, status="timeout > 900 s")
    assert costs.main(["--quick", "--only", "ot_sinkhorn", "--threads", "1"]) == 1
    assert "timeout > 900 s" in capsys.readouterr().out


def test_the_noise_target_makes_every_row_distinct_in_the_consensus(costs):
    config = {
        "method": "ensemble",
        "n_s": 60,
        "n_t": 80,
        "d": 64,
        "threads": 1,
        "params": {"members": ["kmeans"], "n_member_seeds": 15, "consensus": "average"},
    }
    pair = costs.make_pair({**config, "noise_target": True})
    assert pair.target.X.shape == (80, 64) and pair.target.X.dtype == np.float32
    assert abs(float(pair.target.X.mean())) < 0.3  # noise around 0, not the shifted clusters
    noise = costs.worker({**config, "noise_target": True})
    clustered = costs.worker(config)
    assert noise["status"] == clustered["status"] == "ok"
    assert noise["distinct_rows"] >= 72  # m ~ n_t: the members disagree on (nearly) every row
    assert clustered["distinct_rows"] <= 20  # they agree: m is about the 10 clusters
