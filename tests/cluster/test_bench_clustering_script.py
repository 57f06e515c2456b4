"""scripts/bench_clustering.py: scikit-learn's dense default is refused by a stated memory
limit (at n = 100,000, not at --quick's 10,000), its projected memory is in the unit of the
measured peaks (MiB), and --threads limits every configuration before its timed call."""

import json

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits


@pytest.fixture
def bench(load_script):
    return load_script("bench_clustering")


def test_the_dense_default_is_refused_above_the_memory_limit_only(bench):
    def refused(scale):
        return sorted({c["n"] for c in bench.configurations(scale) if c.get("refuse")})

    assert refused(1.0) == [100_000]  # 76,294 MiB of affinity
    assert refused(0.1) == []  # 10,000: 763 MiB, under the limit (it used to be refused)
    assert bench.dense_mib(10_000) < bench.DENSE_LIMIT_MIB < bench.dense_mib(100_000)
    assert bench.dense_mib(100_000) == pytest.approx(76_293.9, abs=0.1)
    assert {c["threads"] for c in bench.configurations(0.1, threads=3)} == {3}


def test_the_refused_memory_ratio_is_mib_over_mib(bench):
    config = {"task": "spectral", "n": 100_000, "d": 10, "method": "sklearn-spectral-default"}
    refused = bench.run_in_subprocess({**config, "refuse": True, "threads": 1}, timeout=1)
    assert refused["status"] == "refused" and refused["projected_mb"] == 76_293.9
    dtc = {**config, "method": "dtc-spectral", "status": "ok", "wall_s": 1.0, "peak_mb": 1150.0}
    dtc["extra_mb"] = 1000.0
    bench._ratios([dtc, refused])
    assert refused["peer_over_dtc_mem"] == 76.3  # decimal GB over MiB read 80.0
    assert "~76294" in bench._table([dtc, refused])


def test_memory_ratios_are_of_what_each_method_added_to_the_baseline(bench):
    """Peaks include ~120-150 MiB of imports and data: their ratio read ~0.9 for a peer that
    added nothing (n = 500); the ratio is of the memory each clustering added."""
    row = {"task": "spectral", "n": 500, "d": 64, "status": "ok", "wall_s": 1.0}
    dtc = {**row, "method": "dtc-spectral", "peak_mb": 150.0, "extra_mb": 6.0}
    peer = {**row, "method": "sklearn-spectral-knn", "peak_mb": 144.0, "extra_mb": 0.0}
    big = {**row, "n": 10_000, "method": "sklearn-spectral-knn", "peak_mb": 220.6}
    big_dtc = {**big, "method": "dtc-spectral", "peak_mb": 182.8, "extra_mb": 39.0}
    big_peer = {**big, "extra_mb": 78.0}
    bench._ratios([dtc, peer, big_dtc, big_peer])
    assert big_peer["peer_over_dtc_mem"] == 2.0  # the peaks' ratio read 1.21
    assert peer["peer_over_dtc_mem"] == 0.0 and peer["peer_over_dtc_wall"] == 1.0
    tiny = {**dtc, "extra_mb": 0.4}
    peer2 = dict(peer)
    del peer2["peer_over_dtc_mem"]
    bench._ratios([tiny, peer2])
    assert "peer_over_dtc_mem" not in peer2 and "1.0x, -x" in bench._table([tiny, peer2])


def test_threads_limit_the_worker_before_its_timed_call(bench, monkeypatch):
    seen = {}

    def run(X):
        seen["pools"] = {i["num_threads"] for i in threadpool_info()}
        seen["torch"] = torch.get_num_threads()
        return X[:, 0] > 0

    monkeypatch.setattr(bench, "_method", lambda method: run)
    config = {"task": "kmeans", "n": 50, "d": 2, "method": "dtc-kmeans", "threads": 1}
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with threadpool_limits(limits=2):  # what a worker would have without --threads
            row = bench.worker(config)
    finally:
        torch.set_num_threads(old)
    assert row["status"] == "ok" and row["threads"] == 1
    assert seen == {"pools": {1}, "torch": 1}


def test_threads_reach_the_worker_process_and_are_checked(bench, monkeypatch, capsys):
    # imported by main (not by its workers) before subprocess.run is faked: an import on
    # the way asks the platform module, which runs a subprocess
    import dtc.experiment.store  # noqa: F401

    calls = []

    class Done:
        returncode, stderr = 0, ""

        def __init__(self, config):
            self.stdout = json.dumps({**config, "status": "ok"})

    def fake_run(cmd, env, **kwargs):
        calls.append((json.loads(cmd[-1]), {v: env[v] for v in bench.THREAD_VARIABLES}))
        return Done(json.loads(cmd[-1]))

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")  # --threads wins over the environment
    argv = ["--quick", "--only", "dtc-kmeans", "--threads", "2", "--json", "--repeats", "1"]
    assert bench.main(argv) == 0
    out = capsys.readouterr()
    # stdout: the rows alone, as JSON; the progress of each configuration on stderr
    assert [json.loads(line)["method"] for line in out.out.splitlines()] == ["dtc-kmeans"] * 2
    assert out.err.count("done: dtc-kmeans") == 2
    # each progress line carries its row: what an interrupted run has measured survives
    done = [line for line in out.err.splitlines() if line.startswith("done: ")]
    assert all(json.loads(line.split(" ok ", 1)[1])["status"] == "ok" for line in done)
    assert [c["threads"] for c, _ in calls] == [2, 2]
    assert {tuple(env.values()) for _, env in calls} == {("2", "2", "2")}
    with pytest.raises(SystemExit) as exc:
        bench.main(["--threads", "0"])
    assert exc.value.code == 2
    assert "--threads: expected a number of threads of at least 1, got 0" in capsys.readouterr().err


def test_the_timed_call_follows_an_untimed_warm_up_on_a_few_rows(bench, monkeypatch):
    calls = []

    def run(X):
        calls.append(len(X))
        return X[:, 0] > 0

    monkeypatch.setattr(bench, "_method", lambda method: run)
    config = {"task": "kmeans", "n": 500, "d": 2, "method": "dtc-kmeans", "threads": 1}
    row = bench.worker(config)
    assert calls == [bench.WARMUP_ROWS, 500]  # the first call's set-up was timed
    assert row["status"] == "ok" and row["warmup_s"] >= 0
    assert 0 <= row["extra_mb"] <= row["peak_mb"]
    calls.clear()
    bench.worker({**config, "n": 50})
    assert calls == [50, 50]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--only", "dtcc"], "--only: 'dtcc' is in no method's name; the methods: dtc-spectral,"),
        (["--timeout", "0"], "--timeout: expected a finite number of seconds > 0, got 0.0"),
        (["--repeats", "0"], "--repeats: expected a number of runs of at least 1, got 0"),
        # inf and nan ended in a traceback
        (["--timeout", "inf"], "--timeout: expected a finite number of seconds > 0, got inf"),
        (["--timeout", "nan"], "--timeout: expected a finite number of seconds > 0, got nan"),
    ],
)
def test_options_that_run_nothing_are_usage_errors(bench, monkeypatch, capsys, argv, error):
    """--only matching no method ran nothing and printed an empty table (exit 0); --timeout 0
    timed every configuration out."""
    monkeypatch.setattr(bench, "run_in_subprocess", lambda *a: pytest.fail("a worker ran"))
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--quick", *argv])
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_configuration_that_cannot_run_gets_a_row_saying_why(bench, monkeypatch):
    """faiss missing: a "no faiss" row, no worker; a worker that failed: "error" and the
    last line of its stderr; one over --timeout: a row saying so."""
    import importlib
    import subprocess

    # the module (``dtc.cluster.kmeans`` the attribute is the function)
    kmeans = importlib.import_module("dtc.cluster.kmeans")
    config = {"task": "kmeans", "n": 50, "d": 2, "threads": 1}
    monkeypatch.setattr(kmeans, "faiss_available", lambda: False)
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: pytest.fail("a worker ran"))
    faiss = {**config, "method": "faiss-kmeans"}
    assert bench.run_in_subprocess(faiss, 5) == {**faiss, "status": "no faiss"}

    def fails(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "Traceback\nMemoryError: big\n")

    monkeypatch.setattr(bench.subprocess, "run", fails)
    ours = {**config, "method": "dtc-kmeans"}
    assert bench.run_in_subprocess(ours, 5) == {
        **ours,
        "status": "error",
        "stderr": ["MemoryError: big"],
    }

    def slow(cmd, timeout, **kwargs):
        raise subprocess.TimeoutExpired(cmd, timeout)

    monkeypatch.setattr(bench.subprocess, "run", slow)
    assert bench.run_in_subprocess(ours, 5) == {**ours, "status": "timeout > 5 s"}


def test_configurations_run_in_rounds_and_rows_take_the_median_time(bench, monkeypatch, capsys):
    """A single run per configuration gave each method's time one draw of the machine's
    noise; the rounds interleave the methods, the row's time is the median of its runs."""
    calls = []
    walls = {"dtc-kmeans": [3.0, 1.0, 2.0], "sklearn-kmeans-default": [4.0, 9.0, 5.0]}
    peaks = {"dtc-kmeans": [10.0, 12.0, 11.0], "sklearn-kmeans-default": [20.0, 20.0, 20.0]}

    def run(config, timeout):
        method = config["method"]
        calls.append(method)
        # d = 10 and d = 64 alike
        i = (calls.count(method) - 1) // 2 if method != "faiss-kmeans" else 0
        if method == "faiss-kmeans":
            return {**config, "status": "no faiss"}
        wall = walls[method][i]
        row = {**config, "status": "ok", "wall_s": round(wall, 2), "wall_raw_s": wall}
        row |= {"cpu_s": 2 * wall, "peak_mb": 100 + peaks[method][i], "data_peak_mb": 90.0}
        return row | {"extra_mb": peaks[method][i], "acc": 0.9}

    monkeypatch.setattr(bench, "run_in_subprocess", run)
    assert bench.main(["--quick", "--only", "kmeans", "--json"]) == 0
    # round by round, each configuration once a round; "no faiss" is not asked again
    kmeans = ["dtc-kmeans", "sklearn-kmeans-default"]
    assert calls == [*kmeans, "faiss-kmeans"] * 2 + kmeans * 4
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    ours, peer, faiss = rows[:3]
    assert (ours["wall_s"], ours["cpu_s"], ours["wall_runs_s"]) == (2.0, 4.0, [3.0, 1.0, 2.0])
    assert (ours["extra_mb"], ours["peak_mb"], ours["repeats"]) == (12.0, 112.0, 3)
    assert peer["wall_s"] == 5.0 and peer["peer_over_dtc_wall"] == 2.5  # 5 / 2, medians
    assert peer["peer_over_dtc_mem"] == round(20 / 12, 2)
    assert faiss["status"] == "no faiss"
    assert "(round 3 of 3): ok" in out.err


def test_a_run_that_fails_in_a_later_round_is_the_row(bench):
    ok = {"method": "dtc-kmeans", "status": "ok", "wall_s": 1.0, "cpu_s": 1.0}
    ok |= {"peak_mb": 5.0, "extra_mb": 1.0, "data_peak_mb": 4.0}
    timed_out = {"method": "dtc-kmeans", "status": "timeout > 5 s"}
    assert bench.combine_runs([ok, timed_out]) == timed_out
    assert bench.combine_runs([ok]) == ok  # one run: the row as it came


def test_time_ratios_come_from_the_unrounded_times(bench):
    # The rows' times are rounded to 0.01 s for the table: dtc's 0.0049 s read 0.0, and the
    # ratio 1e7 (the 1e-9 floor), for 2.45; 0.02 s against 0.03 s read 0.67 for 1.00.
    row = {"task": "kmeans", "n": 100, "d": 8, "status": "ok", "extra_mb": 0.0}
    for dtc_s, peer_s, ratio in ((0.0049, 0.012, 2.45), (0.0249, 0.0249, 1.0)):
        ours = {**row, "method": "dtc-kmeans", "wall_s": round(dtc_s, 2), "wall_raw_s": dtc_s}
        peer = {**row, "method": "sklearn-kmeans", "wall_s": round(peer_s, 2), "wall_raw_s": peer_s}
        bench._ratios([ours, peer])
        assert peer["peer_over_dtc_wall"] == ratio


def test_ratios_pair_each_peer_with_the_finished_dtc_row_of_its_task_n_and_d(bench):
    """Hand-computed ratios, each of the dtc row of the same d; none beside a dtc row that did
    not finish, nor a memory ratio of a refused peer beside dtc's under 1 MiB."""
    row = {"task": "kmeans", "n": 100, "status": "ok"}
    ours = {**row, "method": "dtc-kmeans", "wall_s": 2.0, "extra_mb": 10.0}
    peer = {**row, "method": "sklearn-kmeans-default", "wall_s": 3.0, "extra_mb": 5.0}
    rows = [
        {**ours, "d": 10},
        {**peer, "d": 10},
        {**ours, "d": 64, "wall_s": 4.0},
        {**peer, "d": 64},
    ]
    bench._ratios(rows)
    assert [(r.get("peer_over_dtc_wall"), r.get("peer_over_dtc_mem")) for r in rows] == [
        (None, None),
        (1.5, 0.5),
        (None, None),
        (0.75, 0.5),
    ]
    timed_out = {**ours, "d": 10, "status": "timeout > 300 s"}
    del timed_out["wall_s"], timed_out["extra_mb"]
    peer10 = {**peer, "d": 10}
    bench._ratios([timed_out, peer10])
    assert "peer_over_dtc_wall" not in peer10 and "peer_over_dtc_mem" not in peer10
    refused = {**peer, "d": 10, "status": "refused", "projected_mb": 763.0}
    bench._ratios([{**ours, "d": 10, "extra_mb": 0.5}, refused])
    assert "peer_over_dtc_mem" not in refused


def test_the_configurations_at_full_and_quick_scale(bench):
    """The sizes of the module docstring; only scikit-learn's default spectral clustering is
    refused, at n = 100,000."""
    full = bench.configurations(1.0)
    assert len(full) == 18
    assert [(c["n"], c["d"], c["method"]) for c in full if c.get("refuse")] == [
        (100_000, 10, "sklearn-spectral-default"),
        (100_000, 64, "sklearn-spectral-default"),
    ]
    assert sorted({(c["task"], c["n"]) for c in full}) == [
        ("kmeans", 1_000_000),
        ("spectral", 5_000),
        ("spectral", 100_000),
    ]
    quick = sorted({(c["task"], c["n"]) for c in bench.configurations(0.1)})
    assert quick == [("kmeans", 100_000), ("spectral", 500), ("spectral", 10_000)]


def test_the_worker_measures_what_the_clustering_added_and_its_acc(bench, monkeypatch):
    """Faked peaks: 300 MiB once the data exist, 250 once their temporaries are gone (the
    baseline), 400 after the call: extra_mb is 400 - 250, not 400 - 300. One cluster for
    every point: ACC is the largest class's share (computed from the labels by hand)."""
    import numpy as np

    import dtc._memory

    peaks = iter([300.0, 250.0, 400.0])
    monkeypatch.setattr(dtc._memory, "peak_rss_mib", lambda: next(peaks))
    monkeypatch.setattr(dtc._memory, "reset_peak", lambda: True)
    monkeypatch.setattr(bench, "_method", lambda method: lambda X: np.zeros(len(X), dtype=int))
    config = {"task": "kmeans", "n": 50, "d": 2, "method": "dtc-kmeans", "threads": 1}
    row = bench.worker(config)
    _, y = bench.make_data(50, 2)
    assert (row["data_peak_mb"], row["peak_mb"], row["extra_mb"]) == (300.0, 400.0, 150.0)
    assert row["acc"] == round(np.bincount(y).max() / 50, 4) < 1


def test_each_method_clusters_into_ten_with_its_back_end(bench, monkeypatch):
    """The calls of the methods, faked: dtc's spectral and K-means ask for N_CLUSTERS with
    seed 0, dtc-kmeans on scikit-learn's back end and faiss-kmeans on faiss's; scikit-learn's
    models are built with N_CLUSTERS and random_state 0."""
    import sys
    import types

    import numpy as np

    import dtc.cluster

    calls = []

    def kmeans(X, k, seed, backend):
        calls.append(("kmeans", k, seed, backend))
        return np.zeros(len(X), dtype=int), None

    def spectral(X, k, seed):
        calls.append(("spectral", k, seed))
        return np.zeros(len(X), dtype=int)

    monkeypatch.setattr(dtc.cluster, "kmeans", kmeans)
    monkeypatch.setattr(dtc.cluster, "spectral_clustering", spectral)
    monkeypatch.setitem(sys.modules, "faiss", types.ModuleType("faiss"))
    X = np.zeros((3, 2), dtype=np.float32)
    for method in ("dtc-spectral", "dtc-kmeans", "faiss-kmeans"):
        assert bench._method(method)(X).shape == (3,)
    assert calls == [
        ("spectral", 10, 0),
        ("kmeans", 10, 0, "sklearn"),
        ("kmeans", 10, 0, "faiss"),
    ]
    for method in ("sklearn-spectral-knn", "sklearn-spectral-default", "sklearn-kmeans-default"):
        model = bench._method(method).__self__
        assert (model.n_clusters, model.random_state) == (10, 0)
    assert bench._method("sklearn-spectral-knn").__self__.affinity == "nearest_neighbors"
    assert bench._method("sklearn-spectral-default").__self__.affinity == "rbf"
    with pytest.raises(ValueError, match="method: unknown 'nope'"):
        bench._method("nope")


def test_combine_runs_by_hand(bench):
    """Three skewed runs: the median of the unrounded walls (0.005 s, where the rounded ones'
    median reads 0.01), the median CPU time (2.0, not the mean 3.0), the highest memory,
    and the first run's other fields (its ACC)."""
    runs = [
        {"status": "ok", "wall_s": 0.0, "wall_raw_s": 0.004, "cpu_s": 1.0, "acc": 0.9},
        {"status": "ok", "wall_s": 0.01, "wall_raw_s": 0.006, "cpu_s": 6.0, "acc": 0.8},
        {"status": "ok", "wall_s": 0.01, "wall_raw_s": 0.005, "cpu_s": 2.0, "acc": 0.8},
    ]
    for i, r in enumerate(runs):
        r |= {"peak_mb": 10.0 + i, "extra_mb": 5.0 - i, "data_peak_mb": 3.0}
    row = bench.combine_runs(runs)
    assert row["wall_raw_s"] == 0.005 and row["wall_s"] == 0.01
    assert row["wall_runs_s"] == [0.0, 0.01, 0.01] and row["cpu_s"] == 2.0
    assert (row["peak_mb"], row["extra_mb"], row["data_peak_mb"]) == (12.0, 5.0, 3.0)
    assert (row["acc"], row["repeats"]) == (0.9, 3)


def test_a_configuration_that_times_out_in_round_two_is_not_run_in_round_three(bench, monkeypatch):
    calls = []

    def run(config, timeout):
        calls.append(config["method"])
        if len(calls) == 1:
            return {**config, "status": "ok", "wall_s": 1.0, "cpu_s": 1.0}
        return {**config, "status": "timeout > 5 s"}

    monkeypatch.setattr(bench, "run_in_subprocess", run)
    rows = bench.run_rounds([{"method": "dtc-kmeans"}], 5, 3, lambda row, round_: None)
    assert calls == ["dtc-kmeans"] * 2 and rows == [
        {"method": "dtc-kmeans", "status": "timeout > 5 s"}
    ]


def test_a_workers_row_is_its_last_line_of_output(bench, monkeypatch):
    """A library's warning printed on stdout before the row (the row is the last line)."""
    import subprocess

    row = {"method": "dtc-kmeans", "status": "ok", "wall_s": 1.0}

    def done(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, "a warning\n" + json.dumps(row) + "\n", "")

    monkeypatch.setattr(bench.subprocess, "run", done)
    assert bench.run_in_subprocess({"method": "dtc-kmeans", "threads": 1}, 5) == row


def test_the_table_shows_the_range_of_the_runs_and_a_memory_ratio_alone(bench):
    """A row's range is its fastest to its slowest run, whatever their order; a refused
    peer has a memory ratio and no time ratio, shown as such."""
    row = {"task": "spectral", "n": 500, "d": 10, "status": "ok", "wall_s": 2.0}
    row |= {"cpu_s": 2.0, "peak_mb": 150.0, "extra_mb": 6.0, "acc": 0.9}
    ours = {**row, "method": "dtc-spectral", "wall_runs_s": [3.0, 1.0, 2.0]}
    refused = {"task": "spectral", "n": 500, "d": 10, "method": "sklearn-spectral-default"}
    refused |= {"status": "refused", "projected_mb": 1.9, "peer_over_dtc_mem": 0.3}
    _, _, mine, peer = bench._table([ours, refused]).splitlines()
    assert mine.split()[6] == "1.0-3.0"
    assert peer.endswith("  -x, 0.3x") and "~2" in peer.split()


def test_quick_runs_the_sizes_over_ten(bench, monkeypatch, capsys):
    sizes = []

    def run(config, timeout):
        sizes.append(config["n"])
        return {**config, "status": "no faiss"}

    monkeypatch.setattr(bench, "run_in_subprocess", run)
    assert bench.main(["--quick", "--only", "dtc-", "--repeats", "1", "--json"]) == 0
    assert sorted(set(sizes)) == [500, 10_000, 100_000]


def test_a_memory_ratio_from_one_mib_added_by_dtc(bench):
    """None where dtc added under 1 MiB (module docstring): at exactly 1 MiB there is one."""
    row = {"task": "kmeans", "n": 100, "d": 8, "status": "ok", "wall_s": 1.0}
    ours = {**row, "method": "dtc-kmeans", "extra_mb": 1.0}
    peer = {**row, "method": "sklearn-kmeans-default", "extra_mb": 3.0}
    refused = {**row, "method": "sklearn-spectral", "status": "refused", "projected_mb": 763.0}
    bench._ratios([ours, peer, refused])
    assert peer["peer_over_dtc_mem"] == 3.0 and refused["peer_over_dtc_mem"] == 763.0
