"""Scale benchmark of dtc's clustering back ends beside scikit-learn's defaults.

Configurations (synthetic, seeded: 10 Gaussian clusters with centres uniform in
[-10, 10]^d and within-cluster standard deviation 2.5, so the clusters touch):

* spectral, n = 100,000, d in {10, 64}: ``dtc.cluster.spectral_clustering`` beside
  scikit-learn's ``SpectralClustering(affinity="nearest_neighbors")`` (time-limited) and
  its default ``SpectralClustering()`` (affinity "rbf": a dense n x n float64 matrix);
* spectral, n = 5,000: the same three;
* K-means, n = 1,000,000, d in {10, 64}: ``dtc.cluster.kmeans`` (n_init=10, the
  scikit-learn back end) beside scikit-learn's ``KMeans()`` defaults (n_init="auto", i.e.
  one k-means++ run) and, where faiss is installed, ``dtc.cluster.kmeans`` with
  ``backend="faiss"`` (what ``backend="auto"`` picks at this size; its row,
  ``faiss-kmeans``, is compared with the scikit-learn back end's as a peer's is).

scikit-learn's default spectral clustering is run only where its dense affinity fits in
``DENSE_LIMIT_MIB`` (2048 MiB; a lower bound of its memory, the Laplacian copies it);
above, it is refused and its projected memory reported instead: at n = 100,000 (76,294
MiB), not at 5,000 (191 MiB) nor, with ``--quick``, at 10,000 (763 MiB) and 500.

Every configuration runs in its own subprocess (``--worker``) with a timeout, on
``--threads`` threads (default: every core this process may use): OpenMP / BLAS (through
the environment and threadpoolctl) and torch are limited before the timed call, whatever
``OMP_NUM_THREADS`` says. Peak memory is that process's own high-water mark in MiB
(``VmHWM``, :func:`dtc._memory.peak_rss_mib`: ``ru_maxrss`` would start at this script's
peak, which the worker inherits; data included); ``extra_mb`` is what the clustering added
to the memory held once the data and the imports exist (the mark reset then,
:func:`dtc._memory.reset_peak`: the data's temporaries no longer count), and the ratios,
peer / dtc, are of ``extra_mb`` (of the projection, for a refused configuration; none where
dtc added under 1 MiB) and of the unrounded wall times; time is wall and CPU time of the
clustering call alone, after an untimed warm-up
call on the first ``WARMUP_ROWS`` (200) rows, ACC is Hungarian-matched accuracy
(``dtc.metrics``).

The machine is noisy: every configuration is run ``--repeats`` times (default 3), in
rounds (each round runs every configuration once, so a spell of load falls on dtc and its
peers alike, not on one method's runs), each run in a fresh worker; a row's times are the
median of its runs (``wall_runs_s`` lists them, the table their range) and its memory the
highest of its runs' (the memory the call needs). A configuration that timed out or failed
is not run again.

    python scripts/bench_clustering.py            # table
    python scripts/bench_clustering.py --json     # one JSON object per configuration
    python scripts/bench_clustering.py --quick    # sizes / 10, for a smoke test
    python scripts/bench_clustering.py --threads 1 --only dtc   # dtc's default back ends, one thread
    python scripts/bench_clustering.py --repeats 1   # one run of each (a third of the time)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

from dtc._entry import run_script

N_CLUSTERS = 10
DENSE_BYTES_PER_ENTRY = 8  # scikit-learn's rbf affinity is a float64 n x n array
#: scikit-learn's default spectral clustering is refused where its dense affinity alone
#: would exceed this (MiB, the unit of every memory figure here).
DENSE_LIMIT_MIB = 2048
MIB = 2**20
#: Rows of the untimed warm-up call each worker makes before its timed call.
WARMUP_ROWS = 200
#: The thread pools the worker limits through the environment before any library starts
#: (an OpenMP runtime reads its variable once); threadpoolctl limits the loaded ones too.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def dense_mib(n: int) -> float:
    """MiB of scikit-learn's dense n x n float64 rbf affinity."""
    return n * n * DENSE_BYTES_PER_ENTRY / MIB


def default_threads() -> int:
    """Every core this process may use (its CPU affinity, where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def make_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of ``N_CLUSTERS`` Gaussian clusters in ``d`` dimensions (float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10.0, 10.0, size=(N_CLUSTERS, d)).astype(np.float32)
    y = rng.integers(0, N_CLUSTERS, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32) * np.float32(2.5)
    X += centers[y]
    return X, y


def _method(method: str):
    """The clustering call of ``method``, a function of ``X`` returning labels; its modules
    are imported here, so neither the timed call nor the thread limits miss them."""
    if method == "dtc-spectral":
        from dtc.cluster import spectral_clustering

        return lambda X: spectral_clustering(X, N_CLUSTERS, seed=0)
    if method == "sklearn-spectral-knn":
        from sklearn.cluster import SpectralClustering

        model = SpectralClustering(N_CLUSTERS, affinity="nearest_neighbors", random_state=0)
        return model.fit_predict
    if method == "sklearn-spectral-default":
        from sklearn.cluster import SpectralClustering

        return SpectralClustering(N_CLUSTERS, random_state=0).fit_predict
    if method in ("dtc-kmeans", "faiss-kmeans"):
        from dtc.cluster import kmeans

        backend = "faiss" if method == "faiss-kmeans" else "sklearn"
        if backend == "faiss":
            import faiss  # noqa: F401  (its OpenMP runtime loaded before the limits)
        return lambda X: kmeans(X, N_CLUSTERS, seed=0, backend=backend)[0]
    if method == "sklearn-kmeans-default":
        from sklearn.cluster import KMeans

        return KMeans(N_CLUSTERS, random_state=0).fit_predict
    raise ValueError(f"method: unknown {method!r}")


def worker(config: dict) -> dict:
    """Run one configuration in this process, on ``config["threads"]`` threads, and return
    its measurements."""
    from threadpoolctl import threadpool_limits

    from dtc._memory import peak_rss_mib, reset_peak
    from dtc.metrics import cluster_acc

    X, y = make_data(config["n"], config["d"])
    rss_data = peak_rss_mib()
    run = _method(config["method"])
    # the high-water mark of the data and every import: the clustering's own memory is
    # what the peak adds to it (the process's baseline, ~120-150 MiB, is most of a small
    # configuration's peak and would pull every ratio of peaks towards 1), set back to the
    # memory now held: the data's temporaries (two n x d arrays) are gone, and their peak
    # hid up to that much of the clustering's
    reset_peak()
    rss_base = peak_rss_mib()
    threads = config["threads"]
    if "torch" in sys.modules:  # no method imports it now; one that does gets the limit
        sys.modules["torch"].set_num_threads(threads)
    with threadpool_limits(limits=threads):
        # untimed warm-up on a few rows: lazy imports, thread pools, first-call set-up (at
        # --quick's sizes a large share of a first call); too few rows to raise the peak
        w0 = time.perf_counter()
        run(X[: min(len(X), WARMUP_ROWS)])
        warmup = time.perf_counter() - w0
        t0, c0 = time.perf_counter(), time.process_time()
        labels = run(X)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = peak_rss_mib()
    return {
        **config,
        "status": "ok",
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        # the ratios' inputs, unrounded: 0.0049 s rounded to 0.0 made a ratio of 1e7
        "wall_raw_s": wall,
        "warmup_s": round(warmup, 2),
        "peak_mb": round(peak, 1),
        "extra_mb": round(peak - rss_base, 1),
        "data_peak_mb": round(rss_data, 1),
        "acc": round(cluster_acc(y, labels), 4),
    }


def run_in_subprocess(config: dict, timeout: float) -> dict:
    if config["method"] == "faiss-kmeans":
        from dtc.cluster.kmeans import faiss_available

        if not faiss_available():
            return {**config, "status": "no faiss"}
    if config.get("refuse"):
        return {
            **config,
            "status": "refused",
            "projected_mb": round(dense_mib(config["n"]), 1),
            "note": f"dense n x n float64 affinity over {DENSE_LIMIT_MIB} MiB (a lower bound: "
            "the Laplacian copies it)",
        }
    return run_worker(__file__, config, timeout)


def run_worker(script: str, config: dict, timeout: float) -> dict:
    """``script --worker CONFIG`` in a fresh interpreter (its own high-water mark, with the
    thread pools limited through the environment before any library starts): the row it
    prints, or ``config`` with a ``status`` of timeout or error."""
    cmd = [sys.executable, os.path.abspath(script), "--worker", json.dumps(config)]
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(config["threads"]))}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return {**config, "status": f"timeout > {timeout:.0f} s"}
    if proc.returncode != 0:
        return {**config, "status": "error", "stderr": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_rounds(configs: list[dict], timeout: float, repeats: int, progress) -> list[dict]:
    """Each configuration's row over ``repeats`` rounds: every round runs every
    configuration once (each in its own worker, :func:`run_in_subprocess`), except those
    that did not finish before (timed out, failed, refused, no faiss), which keep that row.
    ``progress(row, round)`` is called after each run."""
    runs: list[list[dict]] = [[] for _ in configs]
    for round_ in range(repeats):
        for config, done in zip(configs, runs):
            if done and done[-1]["status"] != "ok":
                continue
            done.append(run_in_subprocess(config, timeout))
            progress(done[-1], round_)
    return [combine_runs(done) for done in runs]


def combine_runs(runs: list[dict]) -> dict:
    """One configuration's row from its runs ``runs`` (the first ``ok``): the median wall and
    CPU times, the highest peak and added memory, the first run's ACC (the calls are
    seeded); a last run that did not finish is the row (a timeout is not hidden by the
    median of the runs before it)."""
    last = runs[-1]
    if last["status"] != "ok" or len(runs) == 1:
        return last
    walls = [r.get("wall_raw_s", r["wall_s"]) for r in runs]
    row = {**runs[0], "repeats": len(runs)}
    row["wall_raw_s"] = float(np.median(walls))
    row["wall_s"] = round(row["wall_raw_s"], 2)
    row["wall_runs_s"] = [round(w, 2) for w in walls]
    row["cpu_s"] = round(float(np.median([r["cpu_s"] for r in runs])), 2)
    for key in ("peak_mb", "extra_mb", "data_peak_mb"):
        row[key] = max(r[key] for r in runs)
    return row


def configurations(scale: float, threads: int = 1) -> list[dict]:
    """The configurations at ``scale`` (1, or 0.1 for ``--quick``), each on ``threads``
    threads; scikit-learn's default spectral clustering is marked ``refuse`` where its dense
    affinity exceeds :data:`DENSE_LIMIT_MIB`."""
    big, small, huge = int(100_000 * scale), int(5_000 * scale), int(1_000_000 * scale)
    out = []
    for d in (10, 64):
        for n in (big, small):
            out += [
                {"task": "spectral", "n": n, "d": d, "method": "dtc-spectral"},
                {"task": "spectral", "n": n, "d": d, "method": "sklearn-spectral-knn"},
                {"task": "spectral", "n": n, "d": d, "method": "sklearn-spectral-default"},
            ]
            if dense_mib(n) > DENSE_LIMIT_MIB:
                out[-1]["refuse"] = True
        out += [
            {"task": "kmeans", "n": huge, "d": d, "method": "dtc-kmeans"},
            {"task": "kmeans", "n": huge, "d": d, "method": "sklearn-kmeans-default"},
            {"task": "kmeans", "n": huge, "d": d, "method": "faiss-kmeans"},
        ]
    return [{**c, "threads": threads} for c in out]


def _ratios(rows: list[dict]) -> None:
    """Add peer / dtc ratios (time and added memory) to each peer row of the same (task, n,
    d): above 1, the peer takes longer or more memory than dtc."""
    ours = {(r["task"], r["n"], r["d"]): r for r in rows if r["method"].startswith("dtc")}
    for r in rows:
        mine = ours.get((r["task"], r["n"], r["d"]))
        if r["method"].startswith("dtc") or mine is None or mine["status"] != "ok":
            continue
        if r["status"] == "ok":
            peer_s = r.get("wall_raw_s", r["wall_s"])
            dtc_s = mine.get("wall_raw_s", mine["wall_s"])
            r["peer_over_dtc_wall"] = round(peer_s / max(dtc_s, 1e-9), 2)
            if mine["extra_mb"] >= 1:  # below, the ratio is noise
                r["peer_over_dtc_mem"] = round(r["extra_mb"] / mine["extra_mb"], 2)
        elif r["status"] == "refused" and mine["extra_mb"] >= 1:
            # both in MiB; the projection is the affinity alone, the memory it would add
            r["peer_over_dtc_mem"] = round(r["projected_mb"] / mine["extra_mb"], 1)


def _table(rows: list[dict]) -> str:
    head = f"{'task':9}{'n':>9}{'d':>4}  {'method':26}{'status':>14}{'wall s':>9}"
    head += f"{'range':>13}{'cpu s':>8}"
    head += f"{'peak MiB':>10}{'+MiB':>8}{'ACC':>8}  peer/dtc (time, added mem)"
    lines = [head, "-" * len(head)]
    for r in rows:
        ok = r["status"] == "ok"
        peak = (
            f"{r['peak_mb']:.0f}"
            if ok
            else (f"~{r['projected_mb']:.0f}" if "projected_mb" in r else "-")
        )
        walls = r.get("wall_runs_s", [])
        spread = f"{min(walls)}-{max(walls)}" if len(walls) > 1 else "-"
        ratio = ""
        if "peer_over_dtc_wall" in r or "peer_over_dtc_mem" in r:
            ratio = f"{r.get('peer_over_dtc_wall', '-')}x, {r.get('peer_over_dtc_mem', '-')}x"
        lines.append(
            f"{r['task']:9}{r['n']:>9}{r['d']:>4}  {r['method']:26}{r['status']:>14}"
            f"{r.get('wall_s', '-'):>9}{spread:>13}{r.get('cpu_s', '-'):>8}{peak:>10}{r.get('extra_mb', '-'):>8}"
            f"{r.get('acc', '-'):>8}  {ratio}"
        )
    return "\n".join(lines)


def add_options(parser: argparse.ArgumentParser, timeout: float) -> None:
    """The options of a benchmark of configurations run in workers (this script's and
    ``baseline_costs.py``'s): ``--json``, ``--quick``, ``--timeout`` (default ``timeout``
    seconds), ``--only``, ``--threads`` and the hidden ``--worker``."""
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration")
    parser.add_argument("--quick", action="store_true", help="sizes / 10 (smoke test)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=timeout,
        help="seconds per configuration (default %(default)s)",
    )
    parser.add_argument("--only", default=None, help="run only methods containing this text")
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads(),
        help="threads of every configuration (default: every core this process may use, "
        "%(default)s here)",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)


def selected_configurations(parser, args, configurations) -> list[dict]:
    """The configurations :func:`add_options`' options choose from
    ``configurations(scale, threads)``; a usage error (exit 2) for ``--threads`` below 1, a
    ``--timeout`` that is no finite number > 0 (nan and inf were a traceback) or an
    ``--only`` in no method's name (it ran nothing and printed an empty table)."""
    if args.threads < 1:
        parser.error(f"--threads: expected a number of threads of at least 1, got {args.threads}")
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        parser.error(f"--timeout: expected a finite number of seconds > 0, got {args.timeout}")
    configs = configurations(0.1 if args.quick else 1.0, args.threads)
    if args.only and not any(args.only in c["method"] for c in configs):
        methods = ", ".join(dict.fromkeys(c["method"] for c in configs))
        parser.error(f"--only: {args.only!r} is in no method's name; the methods: {methods}")
    return [c for c in configs if not args.only or args.only in c["method"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_options(parser, timeout=300.0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each configuration, in rounds; a row's time is their median "
        "(default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    # here, not at the top: the workers (this script again) would import dtc.experiment,
    # ~150 modules, 1 s and 17 MiB of every configuration's reported peak
    from dtc.experiment.store import exit_on_interrupt

    if args.repeats < 1:
        parser.error(f"--repeats: expected a number of runs of at least 1, got {args.repeats}")
    configs = selected_configurations(parser, args, configurations)

    def progress(row: dict, round_: int) -> None:
        # on stderr with --json, whose stdout holds the rows alone (printed at the end: the
        # memory and time ratios are between rows). The run's measurements are on the
        # line: an interrupted run (no --out here) kept none of them before.
        print(
            f"done: {row['method']} n={row['n']} d={row['d']} "
            f"(round {round_ + 1} of {args.repeats}): {row['status']} "
            f"{json.dumps(row, sort_keys=True)}",
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )

    # no file keeps the runs (each "done:" line carries its run's row): a Ctrl-C is one
    # line, not a traceback
    with exit_on_interrupt(os.path.basename(__file__), None):
        rows = run_rounds(configs, args.timeout, args.repeats, progress)
    _ratios(rows)
    if args.json:
        print("\n".join(json.dumps(r) for r in rows))
    else:
        print(_table(rows))
    return 0


if __name__ == "__main__":
    run_script(main)
