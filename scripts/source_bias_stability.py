"""How steady is the negative-transfer monitor's source bias from one monitor seed to the next?

The monitor's calibrated margin (``dtc.monitor.negative_transfer``) adds ``source_bias``:
the label-free score's preference for K-means partitions of the labelled source over a
learned class partition of it (:func:`dtc.monitor.calibration.source_bias`). For
every source domain of the benchmarks, as the monitor sees it (the features of DTC's
``on_fit_begin``, with the target family's DTC default), this script computes the bias
for monitor seeds ``0 .. seeds - 1`` with two estimators:

* ``one fit``: one K-means fit (``n_init=3``) seeded with the monitor's seed (the
  estimator up to the fifth session);
* ``mean of 20``: the mean over 20 K-means fits seeded like the monitor's restarts
  (rule #11 of ``experiments/preregistration.md``).

and prints each one's mean and standard deviation over the seeds. Only source features
and source labels are read: no target rows, no target labels.

    python scripts/source_bias_stability.py            # ~45 min on 2 busy cores
    python scripts/source_bias_stability.py --json
    python scripts/source_bias_stability.py --out bias.jsonl  # resumable: run it again
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dtc.experiment.store import exit_on_interrupt
from dtc.monitor import scores
from dtc.monitor.base import Callback
from dtc.monitor.calibration import source_bias
from dtc.monitor.negative_transfer import NegativeTransferMonitor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import (
    add_out_argument,
    data_dir_arg,
    emit,
    int_at_least,
    load_benchmark_pair,
    resume_units,
    show_resumed,
)

from dtc._entry import run_script

# (name, benchmark, source, target): each source once, with a target of its benchmark.
SOURCES = [
    ("amazon", "office_caltech10_surf", "amazon", "webcam"),
    ("caltech10", "office_caltech10_surf", "caltech10", "amazon"),
    ("webcam", "office_caltech10_surf", "webcam", "dslr"),
    ("dslr", "office_caltech10_surf", "dslr", "webcam"),
    ("coil1", "coil20", "coil1", "coil2"),
    ("coil2", "coil20", "coil2", "coil1"),
    ("mnist", "mnist_usps", "mnist", "usps"),
    ("usps", "mnist_usps", "usps", "mnist"),
    ("digits source", "digits", None, None),
]


class _Seen(Exception):
    pass


class _Capture(Callback):
    """Keeps the pair DTC hands its callbacks, then stops the fit: no training."""

    def on_fit_begin(self, estimator, pair) -> None:
        self.pair = pair
        raise _Seen


def monitored_pair(pair):
    """``pair`` as the monitor sees it under the target family's DTC default (target labels
    removed, features preprocessed as DTC's networks see them); rows keep their order."""
    from dtc.pipeline import DTC

    capture = _Capture()
    params = DTC().benchmark_defaults(pair.benchmark, {})
    try:
        DTC(**params, callbacks=[capture]).fit(pair)
    except _Seen:
        return capture.pair
    raise RuntimeError("DTC did not call on_fit_begin")


def monitored_source(pair):
    """The source domain as the monitor sees it under the target family's DTC default."""
    return monitored_pair(pair).source


def biases(source, seeds: int) -> dict[str, list[float]]:
    """Both estimators' bias of ``source`` for monitor seeds ``0 .. seeds - 1``."""
    mon = NegativeTransferMonitor()
    out = {"one fit": [], "mean of 20": []}
    for seed in range(seeds):
        idx = scores.subsample_index(source.n_samples, mon.max_samples, seed)
        X, y = np.asarray(source.X, dtype=np.float64)[idx], np.asarray(source.y)[idx]
        common = {"score": mon.score, "n_init": mon.n_init}
        out["one fit"].append(source_bias(X, y, **common, kmeans_seeds=[seed]))
        restarts = range(seed + 1, seed + 1 + mon.n_restarts)
        out["mean of 20"].append(source_bias(X, y, **common, kmeans_seeds=restarts))
    return out


def source_line(row: dict) -> str:
    """A source's line of the table (under the header ``main`` prints)."""
    a, b = row["one fit"], row["mean of 20"]
    return f"{row['source']:14} {a['mean']:13.3f} {a['std']:6.3f} {b['mean']:16.3f} {b['std']:6.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON object per line and source")
    ap.add_argument(
        "--seeds",
        type=int_at_least(2),  # a std over seeds: one seed gave NaN, and exit 0
        default=10,
        help="monitor seeds 0 .. seeds - 1 (at least 2: the output is a std over seeds)",
    )
    ap.add_argument("--data-dir", default=None, help="benchmark data (default: $DTC_DATA)")
    add_out_argument(ap, per_seed=False)  # no --seed: one FILE, all its seeds
    args = ap.parse_args(argv)
    data_dir = data_dir_arg(ap, args)
    # A source's row is its unit (up to 45 minutes for all nine): kept in --out, and a
    # resumed run reuses those of the same --seeds (its rows have no seed of their own).
    settings = {"seeds": args.seeds}
    done = resume_units(ap, args.out, "source", "source(s)", settings, ("one fit", "mean of 20"))
    if not args.json:
        print(f"{'source':14} {'one fit: mean':>13} {'std':>6} {'mean of 20: mean':>16} {'std':>6}")
    rows = [done[name] for name, *_ in SOURCES if name in done]
    show_resumed(rows, args.json, source_line)
    with exit_on_interrupt(Path(__file__).name, args.out):
        for name, benchmark, src, tgt in SOURCES:
            if name in done:
                continue
            try:
                pair = load_benchmark_pair(benchmark, src, tgt, data_dir)
            except (FileNotFoundError, ValueError) as exc:
                print(f"skipped {name}: {exc}", file=sys.stderr)
                continue
            t0 = time.perf_counter()
            values = biases(monitored_source(pair), args.seeds)
            row = {"source": name, "benchmark": benchmark, "bias": values}
            for key, v in values.items():
                row[key] = {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1))}
            row["seconds"] = round(time.perf_counter() - t0, 1)
            row["settings"] = settings
            emit(rows, row, args.json, source_line(row), args.out)
    stds = {key: [r[key]["std"] for r in rows] for key in ("one fit", "mean of 20")}
    if stds["one fit"]:
        a, b = np.mean(stds["one fit"]), np.mean(stds["mean of 20"])
        out = sys.stderr if args.json else sys.stdout
        print(
            f"mean std over {len(stds['one fit'])} sources: one fit {a:.4f}, mean of 20 {b:.4f} "
            f"(ratio {b / a:.2f})",
            file=out,
        )
    return 0


if __name__ == "__main__":
    run_script(main)
