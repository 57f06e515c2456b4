"""Scale benchmark of dtc's clustering back ends beside scikit-learn's defaults.

Configurations (synthetic, seeded: 10 Gaussian clusters with centres uniform in
[-10, 10]^d and within-cluster standard deviation 2.5, so the clusters touch):

* spectral, n = 100,000, d in {10, 64}: ``dtc.cluster.spectral_clustering`` beside
  scikit-learn's ``SpectralClustering(affinity="nearest_neighbors")`` (time-limited) and
  its default ``SpectralClustering()`` (affinity "rbf": a dense n x n matrix, so only its
  projected memory is reported at this size);
* spectral, n = 5,000: the same three, all run (the rbf default fits at this size);
* K-means, n = 1,000,000, d in {10, 64}: ``dtc.cluster.kmeans`` (n_init=10, the
  scikit-learn back end) beside scikit-learn's ``KMeans()`` defaults (n_init="auto", i.e.
  one k-means++ run) and, where faiss is installed, ``dtc.cluster.kmeans`` with
  ``backend="faiss"`` (what ``backend="auto"`` picks at this size).

Every configuration runs in its own subprocess (``--worker``) with a timeout; peak
memory is that process's ``ru_maxrss`` (data included), time is wall and CPU time of
the clustering call alone, ACC is Hungarian-matched accuracy (``dtc.metrics``).

    python scripts/bench_clustering.py            # table
    python scripts/bench_clustering.py --json     # one JSON object per configuration
    python scripts/bench_clustering.py --quick    # sizes / 10, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

N_CLUSTERS = 10
DENSE_BYTES_PER_ENTRY = 8  # scikit-learn's rbf affinity is a float64 n x n array


def make_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of ``N_CLUSTERS`` Gaussian clusters in ``d`` dimensions (float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10.0, 10.0, size=(N_CLUSTERS, d)).astype(np.float32)
    y = rng.integers(0, N_CLUSTERS, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32) * np.float32(2.5)
    X += centers[y]
    return X, y


def _run_method(method: str, X: np.ndarray):
    if method == "dtc-spectral":
        from dtc.cluster import spectral_clustering

        return spectral_clustering(X, N_CLUSTERS, seed=0)
    if method == "sklearn-spectral-knn":
        from sklearn.cluster import SpectralClustering

        model = SpectralClustering(N_CLUSTERS, affinity="nearest_neighbors", random_state=0)
        return model.fit_predict(X)
    if method == "sklearn-spectral-default":
        from sklearn.cluster import SpectralClustering

        return SpectralClustering(N_CLUSTERS, random_state=0).fit_predict(X)
    if method in ("dtc-kmeans", "faiss-kmeans"):
        from dtc.cluster import kmeans

        backend = "faiss" if method == "faiss-kmeans" else "sklearn"
        return kmeans(X, N_CLUSTERS, seed=0, backend=backend)[0]
    if method == "sklearn-kmeans-default":
        from sklearn.cluster import KMeans

        return KMeans(N_CLUSTERS, random_state=0).fit_predict(X)
    raise ValueError(f"method: unknown {method!r}")


def worker(config: dict) -> dict:
    """Run one configuration in this process and return its measurements."""
    from dtc.metrics import cluster_acc

    X, y = make_data(config["n"], config["d"])
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    labels = _run_method(config["method"], X)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        **config,
        "status": "ok",
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "data_peak_mb": round(rss_data, 1),
        "acc": round(cluster_acc(y, labels), 4),
    }


def run_in_subprocess(config: dict, timeout: float) -> dict:
    if config["method"] == "faiss-kmeans":
        from dtc.cluster.kmeans import faiss_available

        if not faiss_available():
            return {**config, "status": "no faiss"}
    if config.get("refuse"):
        n = config["n"]
        return {
            **config,
            "status": "refused",
            "projected_gb": round(n * n * DENSE_BYTES_PER_ENTRY / 1e9, 1),
            "note": "dense n x n float64 affinity (a lower bound: the Laplacian copies it)",
        }
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(config)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**config, "status": f"timeout > {timeout:.0f} s"}
    if proc.returncode != 0:
        return {**config, "status": "error", "stderr": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def configurations(scale: float) -> list[dict]:
    big, small, huge = int(100_000 * scale), int(5_000 * scale), int(1_000_000 * scale)
    out = []
    for d in (10, 64):
        out += [
            {"task": "spectral", "n": big, "d": d, "method": "dtc-spectral"},
            {"task": "spectral", "n": big, "d": d, "method": "sklearn-spectral-knn"},
            {
                "task": "spectral",
                "n": big,
                "d": d,
                "method": "sklearn-spectral-default",
                "refuse": True,
            },
            {"task": "spectral", "n": small, "d": d, "method": "dtc-spectral"},
            {"task": "spectral", "n": small, "d": d, "method": "sklearn-spectral-knn"},
            {"task": "spectral", "n": small, "d": d, "method": "sklearn-spectral-default"},
            {"task": "kmeans", "n": huge, "d": d, "method": "dtc-kmeans"},
            {"task": "kmeans", "n": huge, "d": d, "method": "sklearn-kmeans-default"},
            {"task": "kmeans", "n": huge, "d": d, "method": "faiss-kmeans"},
        ]
    return out


def _ratios(rows: list[dict]) -> None:
    """Add dtc / peer ratios (time and memory) to each peer row of the same (task, n, d)."""
    ours = {(r["task"], r["n"], r["d"]): r for r in rows if r["method"].startswith("dtc")}
    for r in rows:
        mine = ours.get((r["task"], r["n"], r["d"]))
        if r["method"].startswith("dtc") or mine is None or mine["status"] != "ok":
            continue
        if r["status"] == "ok":
            r["peer_over_dtc_wall"] = round(r["wall_s"] / max(mine["wall_s"], 1e-9), 2)
            r["peer_over_dtc_mem"] = round(r["peak_mb"] / max(mine["peak_mb"], 1e-9), 2)
        elif r["status"] == "refused":
            r["peer_over_dtc_mem"] = round(r["projected_gb"] * 1e3 / mine["peak_mb"], 1)


def _table(rows: list[dict]) -> str:
    head = f"{'task':9}{'n':>9}{'d':>4}  {'method':26}{'status':>14}{'wall s':>9}{'cpu s':>8}"
    head += f"{'peak MB':>10}{'ACC':>8}  vs dtc (time, mem)"
    lines = [head, "-" * len(head)]
    for r in rows:
        ok = r["status"] == "ok"
        peak = (
            f"{r['peak_mb']:.0f}"
            if ok
            else (f"~{r['projected_gb']:.0f} GB" if "projected_gb" in r else "-")
        )
        ratio = ""
        if "peer_over_dtc_mem" in r:
            ratio = f"{r.get('peer_over_dtc_wall', '-')}x, {r['peer_over_dtc_mem']}x"
        lines.append(
            f"{r['task']:9}{r['n']:>9}{r['d']:>4}  {r['method']:26}{r['status']:>14}"
            f"{r.get('wall_s', '-'):>9}{r.get('cpu_s', '-'):>8}{peak:>10}"
            f"{r.get('acc', '-'):>8}  {ratio}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration")
    parser.add_argument("--quick", action="store_true", help="sizes / 10 (smoke test)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per configuration")
    parser.add_argument("--only", default=None, help="run only methods containing this text")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    rows = []
    for config in configurations(0.1 if args.quick else 1.0):
        if args.only and args.only not in config["method"]:
            continue
        row = run_in_subprocess(config, args.timeout)
        rows.append(row)
        if not args.json:
            print(f"done: {row['method']} n={row['n']} d={row['d']}: {row['status']}", flush=True)
    _ratios(rows)
    if args.json:
        print("\n".join(json.dumps(r) for r in rows))
    else:
        print(_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
