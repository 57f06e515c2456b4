"""Rule #16 of ``experiments/preregistration.md``: should the monitor's score see cosine
rather than Euclidean geometry? Judged on fresh set 4, trained with each.

Reads the output of (one file per seed and metric)

    python scripts/negative_transfer.py --fresh4 --json --seed 0 > f4_euclidean_s0.jsonl
    python scripts/negative_transfer.py --fresh4 --json --seed 0 --metric cosine > f4_cosine_s0.jsonl

(and the same with ``--seed 1``). The monitor's verdicts and rollback's checkpoints depend
on the metric, so each candidate is its own run; unguarded DTC and the target-only reference
do not, and the script checks that both runs of a case agree on them.

The rule, pooled over the runs: cosine (D) replaces Euclidean (A) when (i) the mean guarded -
target-only ACC over all runs is at least A's, (ii) DET(D) >= DET(A) - 0.05 and (iii) the
worst guarded - target-only under D is at least A's - 1 point.

    python scripts/metric_choice.py --euclidean f4_euclidean_s*.jsonl --cosine f4_cosine_s*.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resolution_gate_choice import criterion, other_settings, read_distinct_runs, report

from dtc._entry import run_script


def pairing(a_rows: list[dict], d_rows: list[dict]) -> list[str]:
    """What the comparison assumes, checked: the same cases in the same order, and the same
    unguarded and target-only ACC in both runs of each case."""
    if [r["case"] for r in a_rows] != [r["case"] for r in d_rows]:
        return ["the two candidates' runs hold different cases (or another order)"]
    return [
        f"{a['case']}: unguarded or target-only ACC differs between the runs"
        for a, d in zip(a_rows, d_rows)
        if (a["acc_unguarded"], a["acc_target_only"]) != (d["acc_unguarded"], d["acc_target_only"])
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--euclidean", nargs="+", required=True, help="candidate A's runs")
    ap.add_argument("--cosine", nargs="+", required=True, help="candidate D's runs, same order")
    args = ap.parse_args(argv)
    candidates = {
        "A": read_distinct_runs(ap, args.euclidean),
        "D": read_distinct_runs(ap, args.cosine),
    }
    # the metric is the one thing the candidates' runs differ in: the Euclidean runs given
    # twice were judged against themselves
    for flag, name, metric in (("--euclidean", "A", "euclidean"), ("--cosine", "D", "cosine")):
        if other := other_settings(candidates[name], metric=metric):
            ap.error(f"{flag}: expected runs made with metric={metric}, got {', '.join(other)}")
    # Runs made before rows recorded their settings cannot show their metric: one file on
    # both sides was judged against itself ("D replaces A")
    both = {Path(p).resolve() for p in args.euclidean} & {Path(p).resolve() for p in args.cosine}
    if both:
        ap.error(f"--euclidean and --cosine both name {', '.join(sorted(map(str, both)))}")
    problems = pairing(candidates["A"], candidates["D"])
    for line in problems:
        print(f"warning: {line}")
    if problems:  # a verdict on runs that do not pair judges nothing
        return 1
    result = {name: report(name, rows) for name, rows in candidates.items()}
    criterion("16", "D", "A", result)
    print("runs where the candidates differ (A -> D: guarded - target-only, flagged by):")
    for a, d in zip(candidates["A"], candidates["D"]):
        if (a["acc_guarded"], a["flagged"]) != (d["acc_guarded"], d["flagged"]):
            print(
                f"  {a['case']:36} {100 * (a['acc_guarded'] - a['acc_target_only']):+6.1f} "
                f"({a['reason']}) -> {100 * (d['acc_guarded'] - d['acc_target_only']):+6.1f} "
                f"({d['reason']})"
            )
    return 0


if __name__ == "__main__":
    run_script(main)
