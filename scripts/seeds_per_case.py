"""How many training seeds does the per-case reading of issue 6's worst-case target need?

The issue asks that guarded DTC be "never more than 1 point below target-only on any case".
Read per run, the target is out of reach on true pairs whose runs spread some 5 points
around a small gain (README, "What keeps the worst case out of reach"). Read per case, a
case's guarded - target-only is averaged over its runs at ``N`` training seeds. This script
says how likely a case is to miss that reading at each ``N``, from recorded runs alone: for
every case run at ``n >= N`` distinct seeds, the share of its ``N``-seed subsets whose mean
guarded - target-only is more than a point below (every subset when there are at most
:data:`MAX_SETS` of them, else as many drawn with a fixed seed), and over the cases how many
have any such subset.

Runs of one case at one seed that appear in two files (a true pair shared by two case sets)
are counted once, and must agree. Target labels enter only through the recorded ACCs.

    python scripts/seeds_per_case.py --issue-kinds experiments/records/*.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import (
    add_issue_kinds_argument,
    below_in_points,
    case_differences,
    check_same_settings,
    distinct_runs,
    of_the_issues_kinds,
    read_runs_file,
    run_check,
)
from seed_consensus import seed_sets

from dtc._entry import run_script

#: Subsets of a case's seeds enumerated up to this many; beyond it, this many are drawn.
MAX_SETS = 20_000
SEEDS = (1, 2, 3, 4, 6, 8, 12)


def pooled_runs(paths, issue_kinds: bool = False) -> list[dict]:
    """The runs of ``paths`` (``--json`` / ``--out`` files of ``negative_transfer.py``), one
    per (case, seed); ``issue_kinds`` drops the true pairs cut to part of their classes
    (``*_matched``, not among the issue's kinds of case). ``ValueError`` when two files hold
    different outcomes for one case and seed, or a file holds no runs."""
    rows, files = [], []
    for path in paths:
        runs = read_runs_file(path, check=run_check)
        if not runs:
            raise ValueError(f"{path} holds no JSON lines of harness cases")
        kept = [r for r in runs if not issue_kinds or of_the_issues_kinds(r)]
        rows += kept
        files += [str(path)] * len(kept)
    check_same_settings(rows, files)
    return distinct_runs(rows, files)


def subset_means(values, n_seeds: int, seed: int = 0) -> np.ndarray:
    """The means of ``n_seeds``-element subsets of ``values`` ``(n,)``: all of them when
    there are at most :data:`MAX_SETS`, else that many drawn (each without repeats) with
    ``seed`` (:func:`seed_consensus.seed_sets`). ``(m,)``."""
    values = np.asarray(values, dtype=float)
    if not 1 <= n_seeds <= values.size:
        raise ValueError(f"n_seeds must be in [1, {values.size}], got {n_seeds}")
    sets = seed_sets(values.size, n_seeds, MAX_SETS, np.random.default_rng(seed))
    return values[sets].mean(axis=1)


def miss_shares(rows: list[dict], n_seeds: int) -> dict[str, float]:
    """Case -> the share of its ``n_seeds``-seed subsets whose mean guarded - target-only
    is more than a point below, for every case of ``rows`` run at ``n_seeds`` seeds or
    more."""
    _, diffs = case_differences(rows)
    return {
        case: float(np.mean(below_in_points(subset_means(d, n_seeds))))
        for case, d in diffs.items()
        if len(d) >= n_seeds
    }


def report(rows: list[dict], seeds=SEEDS) -> list[str]:
    """One line per ``N`` in ``seeds`` over all cases, then one per case that misses at
    ``N = 1`` with its miss share at each ``N``."""
    _, diffs = case_differences(rows)
    lines = [f"{len(rows)} runs, {len(diffs)} cases; per-case reading at N seeds:"]
    shares = {n: miss_shares(rows, n) for n in seeds}
    for n, by_case in shares.items():
        if not by_case:
            continue
        missing = sum(v > 0 for v in by_case.values())
        lines.append(
            f"  N = {n:2d}: {len(by_case):3d} cases run at N seeds or more, {missing} with "
            f"N-seed subsets more than a point below; their share over the cases "
            f"{100 * np.mean(list(by_case.values())):.2f} %"
        )
    lines.append("cases with a run more than a point below (share of N-seed subsets below):")
    # chosen by their runs, not by the share at the first N of --seeds (N=4 first left out
    # a case whose one run below was averaged away at four seeds)
    listed = [case for case, d in diffs.items() if below_in_points(d).any()]
    first = shares[seeds[0]]
    for case in sorted(listed, key=lambda c: (-first.get(c, 0.0), c)):
        d = diffs[case]
        cells = [f"N={n}: {100 * s[case]:5.1f} %" for n, s in shares.items() if case in s]
        lines.append(
            f"  {case:28} {len(d):2d} seeds, mean {np.mean(d):+5.1f}, worst {min(d):+5.1f};  "
            + "  ".join(cells)
        )
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="--json / --out files of negative_transfer.py")
    add_issue_kinds_argument(ap)
    ap.add_argument(
        "--seeds",
        default=",".join(map(str, SEEDS)),
        help="the N to report, comma-separated, increasing (default %(default)s)",
    )
    args = ap.parse_args(argv)
    try:
        seeds = tuple(int(v) for v in args.seeds.split(","))
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if any(n < 1 for n in seeds) or list(seeds) != sorted(set(seeds)):
        ap.error(f"--seeds must be increasing positive integers, got {args.seeds!r}")
    try:
        rows = pooled_runs(args.runs, issue_kinds=args.issue_kinds)
    except (OSError, ValueError) as err:
        ap.error(str(err))
    print("\n".join(report(rows, seeds)))
    return 0


if __name__ == "__main__":
    run_script(main)
