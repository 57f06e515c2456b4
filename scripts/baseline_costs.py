"""Memory and time of the baselines whose cost grows faster than the data, beside the
projection their size limit is computed from.

The module docstrings of ``baselines.agglomerative``, ``baselines.ot_da``,
``baselines.spectral``, ``baselines.tca`` and ``baselines.ensemble`` quote what these
methods cost on a large target; this script measures it. Each configuration fits one
registered method (``dtc.methods.get``) on a synthetic pair (10 Gaussian clusters in 64
dimensions, ``bench_clustering.make_data``: the source of seed 0, the target of seed 1
shifted by +1) in its own subprocess, on ``--threads`` threads, after an untimed warm-up fit
on ``WARMUP_ROWS`` (200) rows a domain, and reports:

``wall s``     wall time of ``fit`` alone;
``+MiB``       what ``fit`` added to the memory held once the pair and the imports exist
               (the process's own high-water mark, ``VmHWM``, reset after the pair is
               built: :mod:`dtc._memory`; ``bench_clustering.py`` measures the same way);
``proj MiB``   the memory the method's dense arrays need by the formula its limit uses
               (``agglomerative``: ``8 n_t^2`` bytes, the condensed float64 distances and a
               copy, as ``max_dense`` reads it; ``ot_*``: ``40 n_s n_t``, five
               ``(n_s, n_t)`` float64 arrays, as ``max_coupling`` reads it; ``tca`` with
               ``kernel="rbf"``: ``8 n^2`` per ``n x n`` float64 array, ``n = n_s + n_t``;
               ``ensemble`` with ``consensus="average"``: ``40 m^2``, ``m`` the distinct rows of
               its members' labels, reported as ``distinct_rows``), and ``+MiB / proj``
               their ratio: near 1, the limit's formula is the cost; well above, it
               understates it. ``spectral`` has no such formula (the sparse LU fill-in of
               its shift-invert eigensolver); its rows give the growth exponent of the
               time between consecutive sizes, ``log(t2 / t1) / log(n2 / n1)``, instead.

Every configuration stays within the methods' default limits (``max_dense``,
``max_coupling``), so the limits are what is measured up to. The full run takes about 8
minutes and at most 3.3 GiB here; ``--quick`` divides every size by 10 (under a minute).

    python scripts/baseline_costs.py                 # table
    python scripts/baseline_costs.py --json          # one JSON object per configuration
    python scripts/baseline_costs.py --quick         # sizes / 10, a smoke test
    python scripts/baseline_costs.py --only ot_emd   # the methods whose name contains it
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts

from bench_clustering import (
    MIB,
    WARMUP_ROWS,
    add_options,
    make_data,
    run_worker,
    selected_configurations,
)

from dtc._entry import run_script

D = 64
#: Target shift of the synthetic pair: a domain shift the adapting methods act on.
SHIFT = 1.0


def projected_mib(config: dict) -> float | None:
    """MiB the method's dense arrays need by the formula its size limit uses (module
    docstring); ``None`` for ``spectral``, which has none."""
    n_s, n_t, method = config["n_s"], config["n_t"], config["method"]
    if method == "agglomerative":
        entries = 8 * n_t * n_t  # n (n - 1) / 2 float64 distances and a copy: ~8 n^2 bytes
    elif method.startswith("ot_"):
        entries = 40 * n_s * n_t  # cost, coupling and the mapping's temporaries: 5 x 8 bytes
    elif method == "tca":
        entries = 8 * (n_s + n_t) ** 2  # one n x n float64 kernel; the ratio counts them
    elif method == "ensemble":  # the (m, m) disagreement counts and their temporaries
        m = config.get("distinct_rows", n_t)
        entries = 40 * m * m
    else:
        return None
    return entries / MIB


def configurations(scale: float, threads: int) -> list[dict]:
    """The configurations at ``scale`` (1, or 0.1 for ``--quick``), each on ``threads``
    threads. The sizes are those the module docstrings quote, within the default limits."""

    def n(rows: int) -> int:
        return max(int(rows * scale), 20)

    out = [
        {"method": "agglomerative", "n_s": n(1_000), "n_t": n(10_000), "params": {}},
        {"method": "agglomerative", "n_s": n(1_000), "n_t": n(20_000), "params": {}},
        # max_coupling's two examples: 8,000 rows each, and 2,000 with 32,000
        {"method": "ot_emd", "n_s": n(8_000), "n_t": n(8_000), "params": {}},
        {"method": "ot_emd", "n_s": n(2_000), "n_t": n(32_000), "params": {}},
        # entropic OT passes over every entry up to max_iter times: its time, at a quarter
        {"method": "ot_sinkhorn", "n_s": n(4_000), "n_t": n(4_000), "params": {}},
        {"method": "spectral", "n_s": n(1_000), "n_t": n(16_000), "params": {}},
        {"method": "spectral", "n_s": n(1_000), "n_t": n(32_000), "params": {}},
        {"method": "spectral", "n_s": n(1_000), "n_t": n(48_000), "params": {}},
        {"method": "tca", "n_s": n(2_000), "n_t": n(2_000), "params": {"kernel": "rbf"}},
    ]
    # K-means members of 15 seeds on a target of noise, where they disagree: every target
    # row is a distinct row of the consensus (m = n_t), whose (m, m) arrays are measured;
    # on the clustered target they agree, m is about the number of clusters, and nothing is
    out += [
        {
            "method": "ensemble",
            "n_s": n(1_000),
            "n_t": n(rows),
            "params": {"members": ["kmeans"], "n_member_seeds": 15, "consensus": "average"},
            "noise_target": True,
        }
        for rows in (1_500, 5_000)  # the module docstring's m, and max_dense
    ]
    return [{**c, "d": D, "threads": threads} for c in out]


def make_pair(config: dict):
    """The synthetic pair of ``config``: ``n_s`` source and ``n_t`` target rows."""
    from dtc.data import Domain, DomainPair

    Xs, ys = make_data(config["n_s"], config["d"], seed=0)
    Xt, yt = make_data(config["n_t"], config["d"], seed=1)
    Xt += SHIFT
    if config.get("noise_target"):
        Xt = np.random.default_rng(1).standard_normal(Xt.shape, dtype=np.float32)
    return DomainPair(Domain(Xs, ys, name="source"), Domain(Xt, yt, name="target"), n_clusters=10)


def worker(config: dict) -> dict:
    """Fit ``config``'s method in this process on ``config["threads"]`` threads and return
    its measurements."""
    from threadpoolctl import threadpool_limits

    from dtc import methods
    from dtc._memory import peak_rss_mib, reset_peak

    pair = make_pair(config)
    model = methods.get(config["method"], **config["params"])
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(config["threads"])
    with threadpool_limits(limits=config["threads"]):
        # untimed warm-up on a small pair (lazy imports, thread pools: at --quick's sizes
        # most of a first call), too small to raise the peak
        methods.get(config["method"], **config["params"]).fit(
            make_pair({**config, "n_s": WARMUP_ROWS, "n_t": WARMUP_ROWS})
        )
        # what fit adds to the memory held now: the pairs' temporaries are not counted
        reset_peak()
        base = peak_rss_mib()
        t0 = time.perf_counter()
        model.fit(pair)
        wall = time.perf_counter() - t0
    row = {
        **config,
        "status": "ok",
        "wall_s": round(wall, 2),
        "wall_raw_s": wall,
        "extra_mib": round(peak_rss_mib() - base, 1),
    }
    if config["method"] == "ensemble":  # the m of the consensus's (m, m) arrays
        row["distinct_rows"] = len(np.unique(model.member_labels_.T, axis=0))
    return row


def run_in_subprocess(config: dict, timeout: float) -> dict:
    """:func:`worker` in a fresh interpreter (its own high-water mark) with the thread
    pools limited through the environment before any library starts."""
    return run_worker(__file__, config, timeout)


def add_ratios(rows: list[dict]) -> None:
    """Add ``projected_mib`` and ``extra_over_projected`` to every row with a projection,
    and ``time_exponent`` to each finished ``spectral`` row after the first (the exponent
    of its wall time against the previous finished size)."""
    previous = None
    for r in rows:
        projection = projected_mib(r)
        if projection is not None:
            r["projected_mib"] = round(projection, 1)
            if r["status"] == "ok":
                r["extra_over_projected"] = round(r["extra_mib"] / projection, 2)
        if r["method"] == "spectral" and r["status"] == "ok":
            if previous is not None and r["n_t"] != previous["n_t"]:
                ratio = r["wall_raw_s"] / max(previous["wall_raw_s"], 1e-9)
                r["time_exponent"] = round(
                    math.log(ratio) / math.log(r["n_t"] / previous["n_t"]), 2
                )
            previous = r


def table(rows: list[dict]) -> str:
    head = f"{'method':15}{'n_s':>8}{'n_t':>8}{'status':>16}{'wall s':>9}{'+MiB':>9}"
    head += f"{'proj MiB':>10}{'+MiB/proj':>11}{'t ~ n^':>8}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['method']:15}{r['n_s']:>8}{r['n_t']:>8}{r['status']:>16}"
            f"{r.get('wall_s', '-'):>9}{r.get('extra_mib', '-'):>9}"
            f"{r.get('projected_mib', '-'):>10}{r.get('extra_over_projected', '-'):>11}"
            f"{r.get('time_exponent', '-'):>8}"
            + (f"  m={r['distinct_rows']}" if "distinct_rows" in r else "")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_options(parser, timeout=900.0)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    # here, not at the top: a worker (this script again) would count its memory
    from dtc.experiment.store import exit_on_interrupt

    configs = selected_configurations(parser, args, configurations)
    rows = []
    # no file keeps the runs (each "done:" line carries its row): a Ctrl-C is one line
    with exit_on_interrupt(os.path.basename(__file__), None):
        for i, config in enumerate(configs, 1):
            rows.append(run_in_subprocess(config, args.timeout))
            print(
                f"done {i}/{len(configs)}: {config['method']} n_s={config['n_s']} "
                f"n_t={config['n_t']}: {json.dumps(rows[-1], sort_keys=True)}",
                file=sys.stderr if args.json else sys.stdout,
                flush=True,
            )
    add_ratios(rows)
    print("\n".join(json.dumps(r) for r in rows) if args.json else table(rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    run_script(main)
