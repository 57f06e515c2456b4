"""How small a loss of accuracy can the negative-transfer monitor's score see on a target?

The monitor (``dtc.monitor.NegativeTransferMonitor``) declares transfer negative when the
transfer partition's k-NN agreement (:func:`dtc.monitor.scores.knn_agreement`,
on the target's standardised features) falls below the no-transfer reference's by more
than its margin (restart spread and source bias). This script asks, per target, how many
points of Hungarian ACC a partition must lose before its score falls by that margin.

It uses the target labels -- as an evaluation, never by the monitor. On the rows the monitor
scores (its seeded subsample of at most 1,000 rows, the features DTC hands the monitor under
the target family's default), starting from the true class partition:

* ``score_true``: the k-NN agreement of the class partition;
* ``handicap``: the mean score of ``--restarts`` K-means partitions (``n_init=3``) minus
  ``score_true``: how much the score prefers geometry to the classes on this target (the
  target-side counterpart of the monitor's ``source_bias``);
* ``slope``: the score lost per point of ACC lost when a fraction ``f`` of the rows
  (``--fractions``) are moved to another class at random, ``--draws`` draws each
  (:func:`dtc.monitor.calibration.score_slope`, which the monitor runs on the
  *source* for its ``max_resolution``);
* with ``--runs`` (JSON lines of ``scripts/negative_transfer.py --json``): ``margin``, the
  mean margin the monitor used on the case over the runs, and ``resolution = margin /
  slope``: the ACC points of such errors the score must see before it can flag. Random
  errors break neighbourhoods more than the structured errors of a trained model (a moved
  boundary, two merged clusters) do, so the resolution is a lower bound: the monitor needs
  at least this loss, likely more.

    python scripts/negative_transfer.py --json > h0.jsonl
    python scripts/monitor_resolution.py --runs h0.jsonl              # the harness positives
    python scripts/monitor_resolution.py --fresh --runs f0.jsonl      # the fresh positives
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from dtc.monitor import scores
from dtc.monitor.calibration import score_slope
from dtc.monitor.negative_transfer import DEFAULT_METRIC
from dtc.monitor.partition_score import METRICS, scored_space
from dtc.monitor.scores import knn_agreement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import (
    CASE_SETS,
    all_cases,
    data_dir_arg,
    distinct_runs,
    int_at_least,
    load_or_skip,
    read_runs_file,
)
from resolution_gate_choice import other_settings
from source_bias_stability import monitored_pair

from dtc._entry import run_script
from dtc.experiment.store import record_check


def scored_rows(pair, max_samples: int = 1000, seed: int = 0, metric: str = DEFAULT_METRIC):
    """``(X, y)``: the target rows the monitor scores, with the features it sees (DTC's
    preprocessing under the family's default) in its ``metric``, and their labels."""
    X = np.asarray(monitored_pair(pair).target.X, dtype=np.float64)
    idx = scores.subsample_index(len(X), max_samples, seed)
    return scored_space(X[idx], metric), np.asarray(pair.target.y)[idx]


def resolution(X, y, fractions, draws: int, restarts: int, seed: int = 0) -> dict:
    """Score of the class partition ``y`` ``(n,)`` of ``X`` ``(n, d)``, the K-means handicap
    and the score lost per ACC point of random relabelling (module docstring)."""
    k = int(y.max()) + 1
    true = knn_agreement(X, y)
    kmeans = [
        knn_agreement(X, KMeans(k, n_init=3, random_state=seed + r).fit(X).labels_)
        for r in range(restarts)
    ]
    return {
        "n_rows": len(y),
        "k": k,
        "score_true": true,
        "handicap": float(np.mean(kmeans)) - true,
        "slope": score_slope(X, y, fractions=fractions, draws=draws, seed=seed),
    }


def resolution_points(margin: float, slope: float | None) -> float:
    """``margin / slope``, the ACC points the score must see, as the monitor computes it
    (``calibration_["resolution"]``): infinite where the score does not fall when the
    classes are scrambled (``slope <= 0``, or None on a single class)."""
    return margin / slope if slope is not None and slope > 0 else math.inf


def run_margins(paths, metric: str = DEFAULT_METRIC) -> dict[str, list[float]]:
    """Margins the monitor used, by case, over the ``--json`` runs in ``paths``, made with
    the score in ``metric`` (each is divided by this metric's slope): ``ValueError`` for runs
    that record another, a warning on stderr for a file whose runs record no settings. A run
    two files hold (a true pair of two case sets) counts once, as in every summary."""
    rows_all, files = [], []
    for path in paths:
        rows = read_runs_file(path, check=record_check("case", "margin"))
        if other := other_settings(rows, metric=metric):
            raise ValueError(
                f"--runs {path}: made with {', '.join(other)}, not --metric {metric}: their "
                "margins are in another geometry than the slope"
            )
        if any(not r.get("settings") for r in rows):
            print(
                f"warning: --runs {path}: runs that record no settings, taken to be made with "
                f"metric={metric}",
                file=sys.stderr,
            )
        rows_all += rows
        files += [path] * len(rows)
    out: dict[str, list[float]] = {}
    for row in distinct_runs(rows_all, files):
        out.setdefault(row["case"], []).append(row["margin"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    group = ap.add_mutually_exclusive_group()
    for name in sorted(set(CASE_SETS) - {"harness"}):
        group.add_argument(f"--{name}", action="store_true", help=f"the {name} positives")
    ap.add_argument("--runs", nargs="+", default=[], help="--json runs of negative_transfer.py")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--draws", type=int_at_least(1), default=5)
    ap.add_argument(
        "--metric", choices=METRICS, default=DEFAULT_METRIC, help="the score's geometry"
    )
    # zero restarts gave the mean of none: a NaN handicap
    ap.add_argument("--restarts", type=int_at_least(1), default=5)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--json", action="store_true", help="one JSON object per line and case")
    args = ap.parse_args(argv)
    if not all(0.0 < f < 1.0 for f in args.fractions):
        ap.error(f"--fractions must lie in (0, 1), got {args.fractions}")
    case_set = next((n for n in CASE_SETS if getattr(args, n, False)), "harness")
    try:
        margins = run_margins(args.runs, args.metric)
    except ValueError as exc:
        ap.error(str(exc))
    data_dir = data_dir_arg(ap, args)
    if not args.json:
        print(
            f"{'case':26} {'rows':>5} {'k':>3} {'score':>6} {'handicap':>8} {'slope/pt':>8} "
            f"{'margin':>7} {'resolution':>10}"
        )
    for name, kind, load in all_cases(data_dir, case_set=case_set):
        if kind != "positive":
            continue
        if (pair := load_or_skip(name, load)) is None:
            continue
        X, y = scored_rows(pair, metric=args.metric)
        if all(round(f * len(y)) == 0 for f in args.fractions):  # a ValueError traceback
            ap.error(f"--fractions {args.fractions} move no row of {name}'s {len(y)}: give larger")
        row = {"case": name}
        row.update(resolution(X, y, args.fractions, args.draws, args.restarts))
        if name in margins:
            row["margin"] = float(np.mean(margins[name]))
            row["resolution"] = resolution_points(row["margin"], row["slope"])
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            margin = f"{row['margin']:7.3f} {row['resolution']:10.1f}" if "margin" in row else ""
            print(
                f"{name:26} {row['n_rows']:5d} {row['k']:3d} {row['score_true']:6.3f} "
                f"{row['handicap']:8.3f} {row['slope']:8.4f} {margin}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    run_script(main)
