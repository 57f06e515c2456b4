"""Does a consensus over training seeds shrink the spread of a transfer's gain?

The negative-transfer harness compares one guarded DTC run with one target-only run, and on
the true pairs whose gain is small (SURF A->W, W->A, MNIST->USPS) that difference spreads
over about +-5 ACC points from one training seed to the next
(``experiments/negative_transfer_record.md``). The usual remedy for a noisy clusterer is an
ensemble: train ``R`` seeds and keep the co-association consensus of their partitions
(Strehl & Ghosh, JMLR 2002; Fred & Jain, TPAMI 2005; :func:`baselines.ensemble.consensus`).
Here both sides get it: for every set of ``R`` seeds of a case (a fixed random sample of
``--max-sets`` when there are more), the consensus of the guarded partitions of those seeds
against the consensus of the target-only reference partitions of the same seeds, as
``ACC(guarded) - ACC(reference)`` in points. Printed per case and ``R``: the mean, the
standard deviation, how often it is more than a point below (the harness's worst-case
target) and the worst. ``R = 1`` is the harness's own comparison, run by run.

Target labels only evaluate; nothing is chosen with them. Reads the partitions that
``scripts/negative_transfer.py --save-partitions`` saves (several directories may be given,
e.g. two sets of seeds):

    python scripts/negative_transfer.py --cases "office_A->W,mnist->usps" --json --seed 4 \\
        --save-partitions parts   # and --seed 5 to 27; office_W->A with --fresh10
    python scripts/seed_consensus.py parts
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from negative_transfer import all_cases, below_in_points
from partition_judges import read_partitions

from baselines.ensemble import consensus
from dtc._entry import run_script
from dtc.data import resolve_data_dir
from dtc.metrics import cluster_acc

SIZES = (1, 3, 5)  # seeds per consensus
MIN_RUNS = 2 * max(SIZES)  # runs a case needs for its sets of the largest size to differ


def seed_sets(n: int, r: int, max_sets: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_sets, r)`` indices of sets of ``r`` among ``n`` runs: every one when there are
    at most ``max_sets``, otherwise ``max_sets`` drawn at random (each without repeats)."""
    if math.comb(n, r) <= max_sets:
        return np.array(list(itertools.combinations(range(n), r)), dtype=int).reshape(-1, r)
    return np.stack([np.sort(rng.choice(n, r, replace=False)) for _ in range(max_sets)])


def consensus_gains(guarded, reference, y, n_clusters: int, sets: np.ndarray) -> np.ndarray:
    """``ACC(consensus of guarded[s]) - ACC(consensus of reference[s])`` in points for each
    row ``s`` of ``sets`` ``(n_sets, r)``; ``guarded`` and ``reference`` ``(n_runs, n_t)``,
    one row per seed, ``y`` ``(n_t,)`` the target's classes. A set of one seed compares the
    runs' own partitions."""

    def acc(partitions) -> float:
        labels = partitions[0] if len(partitions) == 1 else consensus(partitions, n_clusters)
        return 100.0 * cluster_acc(y, labels)

    return np.array([acc(guarded[s]) - acc(reference[s]) for s in sets])


def summary(gains: np.ndarray) -> str:
    """``gains`` ``(n_sets,)`` in points: mean, sd, share more than a point below, worst."""
    return (
        f"{gains.mean():+5.1f} sd {gains.std():3.1f}, below -1 in {np.mean(below_in_points(gains)):4.0%}, "
        f"worst {gains.min():+5.1f}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("partitions", nargs="+", help="directories of --save-partitions")
    ap.add_argument("--data-dir", default=None, help="benchmark data (default: $DTC_DATA)")
    ap.add_argument("--max-sets", type=int, default=300, help="sets of seeds per case and size")
    args = ap.parse_args(argv)
    if args.max_sets < 1:
        raise SystemExit(f"--max-sets must be a positive integer, got {args.max_sets}")
    cases = defaultdict(list)
    for directory in args.partitions:
        for run in read_partitions(directory):
            cases[run["case_set"], run["case"]].append(run)
    data_dir = resolve_data_dir(args.data_dir)
    # One generator over the cases in their sorted order (as the recorded figures were
    # drawn): a case's seed sets depend on the cases read before it, so a figure reproduces
    # from the same directories, not from one case's runs alone.
    rng = np.random.default_rng(0)
    print(f"guarded - target-only, ACC points, consensus of R seeds on both sides (R = {SIZES})")
    for (case_set, case), runs in sorted(cases.items()):
        if len(runs) < MIN_RUNS:
            print(f"{case} ({case_set}): {len(runs)} runs, fewer than {MIN_RUNS}; left out")
            continue
        runs = sorted(runs, key=lambda run: run["seed"])
        seeds = [run["seed"] for run in runs]
        if len(set(seeds)) < len(seeds):
            raise SystemExit(f"{case} ({case_set}): a seed saved twice: {seeds}")
        ((_, _, load),) = all_cases(data_dir, {case}, case_set)
        pair = load()
        guarded = np.stack([run["guarded"] for run in runs])
        reference = np.stack([run["reference"] for run in runs])
        print(f"{case} ({case_set}), {len(runs)} seeds {seeds[0]}..{seeds[-1]}:")
        for r in SIZES:
            sets = seed_sets(len(runs), r, args.max_sets, rng)
            gains = consensus_gains(guarded, reference, pair.target.y, pair.n_clusters, sets)
            print(f"  R={r}: {len(sets):3d} sets, {summary(gains)}", flush=True)
    return 0


if __name__ == "__main__":
    run_script(main)
