"""What it costs to meet issue 6's worst-case target with the monitor's own score: a
trade-off curve derived from recorded harness runs. Nothing is chosen here.

The worst-case target (guarded DTC never more than 1 point below target-only) is met with
certainty only by falling back to the no-transfer reference, which gives up the gain: a
kept transfer model is compared with one target-only run whose ACC itself moves several
points between seeds (``scripts/negative_transfer.py --summary``, "target-only between runs
of one case"). This script shows where the monitor's defaults sit on that trade-off.

Each variant falls back on every run the monitor kept whose final label-free score is below
the reference's by more than ``m`` (a fixed grid of margins, in the score's units; the
resolution gate of rule #14 is ignored, so the score counts everywhere). A fallback is
exact: guarded ACC becomes target-only's, which the run records. The monitor's own flags and
fallbacks stand. Reported per variant: the issue's four targets (negatives flagged, false
alarms, gain kept, worst guarded - target-only), the mean guarded - target-only and how many
runs end more than a point below target-only. Target labels are used only to score the
variants, as in the harness.

    python scripts/guard_tradeoff.py f10_s4.jsonl f10_s5.jsonl f10_s6.jsonl f10_s7.jsonl

``--only office_`` applies the variants to the SURF cases alone (a per-family margin), the
other runs as recorded; ``--issue-kinds`` leaves out the true pairs cut to part of their
classes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import (
    add_issue_kinds_argument,
    below,
    measures,
    of_the_issues_kinds,
)
from resolution_gate_choice import read_distinct_runs

from dtc._entry import run_script

#: Margins of the variants, in the score's units (k-NN agreement, 0 to 1): a fixed grid
#: from the calibrated margins' range (about 0.03 to 0.4 on the recorded runs) down to
#: falling back whenever transfer does not score clearly above the reference.
MARGINS = (0.10, 0.05, 0.02, 0.0, -0.02, -0.05)


def with_margin(row: dict, margin: float) -> dict:
    """``row`` as the variant of margin ``margin`` ends it: fallen back (guarded ACC =
    target-only, flagged) when the monitor kept it and its final score is below the
    reference's by more than ``margin``; otherwise as recorded. A collapsed partition (final
    score None) was flagged by the monitor already."""
    score, reference = row["final_score"], row["reference_score"]
    if row["flagged"] or score is None or not score < reference - margin:
        return row
    return {**row, "flagged": True, "fell_back": True, "acc_guarded": row["acc_target_only"]}


def line(name: str, rows: list[dict]) -> str:
    """One variant's figures: the four targets, the mean and the runs below -1 (points)."""
    m = measures(rows)
    n_below = sum(below(r) for r in rows)
    return (
        f"{name:30} flagged {100 * m['det']:4.0f}%  false alarms {100 * m['fa']:4.0f}%  "
        f"gain kept {100 * m['kept']:4.0f}%  worst {100 * m['worst']:+6.1f}  "
        f"mean {100 * m['mean']:+6.2f}  below -1: {n_below} of {len(rows)}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="--json / --out files of scripts/negative_transfer.py")
    ap.add_argument(
        "--only",
        default="",
        metavar="PREFIX",
        help="apply the variants only to cases whose name starts with PREFIX (office_: SURF); "
        "the other runs stay as recorded",
    )
    add_issue_kinds_argument(ap)
    args = ap.parse_args(argv)
    rows = read_distinct_runs(ap, args.runs)  # a run two files hold counts once
    if args.issue_kinds:
        rows = [r for r in rows if of_the_issues_kinds(r)]
        if not rows:  # a traceback from min() of nothing
            ap.error(
                "--issue-kinds leaves no runs (every run is a true pair cut to part of its classes)"
            )
    missing = [r["case"] for r in rows if "final_score" not in r or "reference_score" not in r]
    if missing:
        ap.error(f"runs without final_score/reference_score (older harness output): {missing[:3]}")
    if args.only and not any(r["case"].startswith(args.only) for r in rows):
        # a typo changed nothing, and every margin read as costing nothing
        ap.error(f"--only: no case of these runs starts with {args.only!r}")

    def variant(margin: float) -> list[dict]:
        return [with_margin(r, margin) if r["case"].startswith(args.only) else r for r in rows]

    print(line("the monitor as run", rows))
    for margin in MARGINS:
        print(line(f"fall back at margin {margin:+.2f}", variant(margin)))
    print(line("fall back always", variant(float("-inf"))))
    return 0


if __name__ == "__main__":
    run_script(main)
