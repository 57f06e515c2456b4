"""Rules #17 and #18 of ``experiments/preregistration.md``: should the monitor flag a source
whose classes the target's clusters do not follow? Judged on fresh set 5 (rule #17) and on
fresh set 6 (rule #18, ``--rule 18``), trained.

Reads the output of (one file per seed)

    python scripts/negative_transfer.py --fresh5 --json --seed 0 > f5_s0.jsonl
    python scripts/negative_transfer.py --fresh5 --json --seed 1 > f5_s1.jsonl

run with candidate A, ``min_class_agreement=None`` (the agreement of
:mod:`dtc.monitor.class_agreement` is computed and recorded in each row, not judged; since
rule #20 made 0.15 the default, such runs need ``--min-class-agreement none``), and
derives candidate E, ``min_class_agreement=0.15``, from the same runs. The check runs before
training and only adds flags, and the monitor's verdicts change nothing in training under
policy ``rollback`` (only the final fallback), so E flags a run when A does or when the
run's agreement is below the threshold, and a run E flags and A does not falls back to the
reference: E's guarded ACC is the target-only ACC. The script checks that every run A fell
back on has guarded = target-only ACC.

The rule, pooled over the runs: E replaces A when (i) the mean guarded - target-only ACC over
all runs is at least A's, (ii) FA(E) <= FA(A) + 0.05 and (iii) the worst guarded - target-only
under E is at least A's - 1 point.

    python scripts/class_agreement_choice.py f5_s0.jsonl f5_s1.jsonl

Rule #18 derives E from A's runs of fresh set 6 in the same way and judges it by issue 6's
targets instead: E replaces A when (i) DET(E) >= DET(A) + 0.05, (ii) FA(E) <= FA(A) + 0.02,
(iii) the unguarded gain kept under E is at least min(A's, 90 %) and (iv) the worst guarded -
target-only under E is at least A's - 1 point; the mean is reported, not judged.

    python scripts/class_agreement_choice.py --rule 18 f6_s0.jsonl f6_s1.jsonl

``--from-current`` goes the other way, for runs made with the current defaults (E, since rule
#20): it derives A by undoing the check. A run the check flagged keeps its transfer partition
(``acc_transfer``, what rollback left before the fallback) unless the score's own verdict flags
it (the score counts and the final score is below the reference by more than the margin, or
the partition collapsed). Both are reported, and every run the check flagged is listed with
what A does with it; no rule is judged (fresh set 12, twenty-second session: an evaluation, context only):

    python scripts/class_agreement_choice.py --from-current \\
        experiments/records/fresh12_s12.jsonl experiments/records/fresh12_s13.jsonl

``--dev`` reproduces how the threshold was fixed before the rule was committed: on the seen
runs of fresh sets 2 to 4 (their ``--json`` files, which predate the recorded agreement), the
agreement of every case is computed with the monitor's recipe on seed-0 subsamples of 1000
rows, and each threshold of the grid is applied to the flags the runs recorded:

    DTC_DATA=../shared/data python scripts/class_agreement_choice.py --dev \\
        f2_s0.jsonl f2_s1.jsonl f3_s0.jsonl f3_s1.jsonl f4_s0.jsonl f4_s1.jsonl

``--ranges`` prints the agreement's range per family and kind over every case of the sets the
rule had seen (the harness and fresh sets 1 to 4; no training), the figures quoted in the rule:

    DTC_DATA=../shared/data python scripts/class_agreement_choice.py --ranges
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import EPS, all_cases
from resolution_gate_choice import family, measures, read_distinct_runs, report

from dtc._entry import run_script
from dtc.data import resolve_data_dir
from dtc.monitor import scores
from dtc.monitor.class_agreement import class_agreement
from dtc.monitor.partition_score import COLLAPSED

THRESHOLD = 0.15  # candidate E (rule #17)
GRID = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30)  # the thresholds --dev compares
MAX_FA_RISE, MAX_WORST_DROP = 0.05, 0.01
# Rule #18: at least 3 more of 56 negatives flagged, at most one more false alarm of 56.
MIN_DET_RISE, MAX_FA_RISE_18, GAIN_KEPT_TARGET = 0.05, 0.02, 0.90
DEV_SETS = ("fresh2", "fresh3", "fresh4")
SEEN_SETS = ("harness", "fresh", *DEV_SETS)


def with_threshold(row: dict, agreement: float | None, threshold: float) -> dict:
    """``row`` (a run that did not judge the agreement) as it would have come out with
    ``min_class_agreement=threshold``, given the run's ``agreement`` (None: not computed)."""
    if row["flagged"] or agreement is None or not agreement < threshold:
        return row
    return {
        **row,
        "flagged": True,
        "fell_back": True,
        "acc_guarded": row["acc_target_only"],
        "reason": "unmatched_classes",
    }


def without_check(row: dict) -> dict:
    """``row`` (a run with the current defaults) as it would have come out with
    ``min_class_agreement=None``: only a run the class-agreement check flagged changes."""
    if row.get("reason") != "unmatched_classes":
        return row
    value = row["final_score"]  # None: the final partition collapsed
    flagged = value is None or bool(
        row["score_counts"] and value < row["reference_score"] - row["margin"]
    )
    return {
        **row,
        "flagged": flagged,
        "fell_back": flagged,
        "acc_guarded": row["acc_target_only"] if flagged else row["acc_transfer"],
        "reason": (COLLAPSED if value is None else "below_reference") if flagged else None,
    }


def current_consistency(rows: list[dict]) -> list[str]:
    """What :func:`without_check` assumes, checked on the runs the check did not decide:
    the recorded verdict is the score's, and a kept run's guarded ACC its transfer ACC."""
    bad = []
    for r in rows:
        if r.get("reason") == "unmatched_classes":
            continue
        if r["reason"] not in (None, "below_reference", COLLAPSED):
            continue  # a source check that runs before the agreement decided it
        if without_check({**r, "reason": "unmatched_classes"})["flagged"] != r["flagged"]:
            bad.append(f"{r['case']} (verdict)")
        elif not r["fell_back"] and abs(r["acc_guarded"] - r["acc_transfer"]) > 1e-12:
            bad.append(f"{r['case']} (guarded != transfer)")
    return [f"runs the derivation does not reproduce: {', '.join(bad)}"] if bad else []


def rule17(a: dict, e: dict) -> dict[str, bool]:
    """Rule #17's checks of E against A (their :func:`measures`): the mean first. Exact
    ties pass (:data:`negative_transfer.EPS`), here and in :func:`rule18`."""
    return {
        "(i) mean(E) >= mean(A)": e["mean"] >= a["mean"] - EPS,
        "(ii) FA(E) <= FA(A) + 0.05": e["fa"] <= a["fa"] + MAX_FA_RISE + EPS,
        "(iii) worst(E) >= worst(A) - 1 point": e["worst"] >= a["worst"] - MAX_WORST_DROP - EPS,
    }


def rule18(a: dict, e: dict) -> dict[str, bool]:
    """Rule #18's checks of E against A: issue 6's four targets, none worse and detection
    better (the mean is reported, not judged)."""
    return {
        "(i) DET(E) >= DET(A) + 0.05": e["det"] >= a["det"] + MIN_DET_RISE - EPS,
        "(ii) FA(E) <= FA(A) + 0.02": e["fa"] <= a["fa"] + MAX_FA_RISE_18 + EPS,
        "(iii) kept(E) >= min(kept(A), 0.90)": e["kept"] >= min(a["kept"], GAIN_KEPT_TARGET) - EPS,
        "(iv) worst(E) >= worst(A) - 1 point": e["worst"] >= a["worst"] - MAX_WORST_DROP - EPS,
    }


CRITERIA = {17: rule17, 18: rule18}


def recorded(row: dict) -> float | None:
    c = row.get("class_agreement")
    return None if c is None else c["agreement"]


def consistency(rows: list[dict]) -> list[str]:
    """What the derivation assumes, checked on A's runs."""
    bad = [
        r["case"]
        for r in rows
        if r["fell_back"] and abs(r["acc_guarded"] - r["acc_target_only"]) > 1e-12
    ]
    missing = [r["case"] for r in rows if "class_agreement" not in r]
    judged = [r["case"] for r in rows if r.get("reason") == "unmatched_classes"]
    out = []
    if judged:
        out.append(
            "runs that judged the agreement (candidate A's runs need --min-class-agreement "
            f"none): {', '.join(judged)}"
        )
    if bad:
        out.append(f"runs that fell back with guarded != target-only: {', '.join(bad)}")
    if missing:
        out.append(f"runs without a recorded agreement (older harness): {', '.join(missing)}")
    return out


def agreements(data_dir, case_sets, names=None) -> dict[str, tuple[str, str, float]]:
    """``{case: (kind, benchmark, agreement)}`` for the cases of ``case_sets`` (all, or those
    in ``names``), with the monitor's recipe on the seed-0 subsamples of 1000 rows the
    threshold was fixed with."""
    out = {}
    for case_set in case_sets:
        for name, kind, load in all_cases(data_dir, names, case_set):
            pair = load()
            s, t = pair.source, pair.target
            i = scores.subsample_index(s.n_samples, 1000, 0)
            j = scores.subsample_index(t.n_samples, 1000, 0)
            a = class_agreement(s.X[i], s.y[i], t.X[j], pair.n_clusters)["agreement"]
            out[name] = (kind, pair.benchmark, a)
            print(f"  {name:36} {a:.3f}", file=sys.stderr, flush=True)
    return out


def dev_agreements(rows: list[dict], data_dir) -> dict[str, float]:
    """The agreement of every case of ``rows`` (cases of fresh sets 2 to 4)."""
    wanted = {r["case"] for r in rows}
    out = {name: a for name, (_, _, a) in agreements(data_dir, DEV_SETS, wanted).items()}
    if wanted - set(out):
        raise SystemExit(f"cases of no dev set: {sorted(wanted - set(out))}")
    return out


def ranges(data_dir) -> None:
    """Print the agreement's range per family (COIL apart) and kind over the seen sets."""
    groups = {}
    for name, (kind, benchmark, a) in agreements(data_dir, SEEN_SETS).items():
        group = "coil" if benchmark == "coil20" else family(name)
        groups.setdefault((group, kind), []).append((a, name))
    for (group, kind), values in sorted(groups.items()):
        (lo, lo_case), (hi, hi_case) = min(values), max(values)
        print(
            f"{group:7} {kind:8} {len(values):3d} cases  {lo:.3f} ({lo_case}) to {hi:.3f} "
            f"({hi_case})"
        )


def dev(rows: list[dict], data_dir) -> None:
    agreement = dev_agreements(rows, data_dir)
    print("threshold   mean     DET    FA   worst   (pooled over the runs)")
    for t in (None, *GRID):
        cand = rows if t is None else [with_threshold(r, agreement[r["case"]], t) for r in rows]
        m = measures(cand)
        label = "A (none)" if t is None else f"{t:.2f}"
        print(
            f"{label:9} {100 * m['mean']:+7.3f} {m['det']:6.1%} {m['fa']:6.1%} "
            f"{100 * m['worst']:+7.1f}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "runs", nargs="*", help="--fresh5 (rule #17) or --fresh6 (#18) --json runs (candidate A)"
    )
    ap.add_argument(
        "--rule", type=int, choices=sorted(CRITERIA), default=17, help="the criterion applied"
    )
    ap.add_argument(
        "--from-current",
        action="store_true",
        help="the runs hold the current defaults (E): derive A from them, judge nothing",
    )
    ap.add_argument("--dev", action="store_true", help="the threshold grid on seen runs")
    ap.add_argument("--ranges", action="store_true", help="the agreement on the seen cases")
    ap.add_argument(
        "--data-dir", default=None, help="benchmark data (--dev, --ranges; default $DTC_DATA)"
    )
    args = ap.parse_args(argv)
    if args.ranges:
        ranges(resolve_data_dir(args.data_dir))
        return 0
    if not args.runs:  # runs are optional for --ranges alone
        ap.error("give the --json run files of negative_transfer.py (or --ranges)")
    rows = read_distinct_runs(ap, args.runs)
    if args.dev:
        dev(rows, resolve_data_dir(args.data_dir))
        return 0
    if args.from_current:
        candidates = {"A": [without_check(r) for r in rows], "E": rows}
        problems = current_consistency(rows)
    else:
        candidates = {"A": rows, "E": [with_threshold(r, recorded(r), THRESHOLD) for r in rows]}
        problems = consistency(rows)
    for p in problems:
        print(f"WARNING: {p}")
    if problems:
        return 1
    result = {}
    for name, cand in candidates.items():
        result[name] = report(name, cand)
    if args.from_current:
        changed = [(ra, r) for ra, r in zip(candidates["A"], rows) if ra is not r]
        print(f"runs the class-agreement check flagged under E, and A on them ({len(changed)}):")
        for ra, r in changed:
            print(
                f"  {r['case']:36} {r['kind']:8} seed {r.get('seed', '?')} agreement "
                f"{recorded(r):.3f} A: {'flagged' if ra['flagged'] else 'kept'}, guarded(A) - "
                f"target-only {100 * (ra['acc_guarded'] - r['acc_target_only']):+6.1f}"
            )
        return 0
    checks = CRITERIA[args.rule](result["A"], result["E"])
    for text, ok in checks.items():
        print(f"{text}: {'yes' if ok else 'no'}")
    print(f"rule #{args.rule}: {'E replaces A' if all(checks.values()) else 'A stays'}")
    changed = [r for r, re in zip(rows, candidates["E"]) if re is not r]
    print(f"runs E flags and A does not ({len(changed)}):")
    for r in changed:
        print(
            f"  {r['case']:36} {r['kind']:8} {family(r['case']):6} agreement "
            f"{recorded(r):.3f} unguarded - target-only "
            f"{100 * (r['acc_unguarded'] - r['acc_target_only']):+6.1f} guarded(A) - target-only "
            f"{100 * (r['acc_guarded'] - r['acc_target_only']):+6.1f}"
        )
    return 0


if __name__ == "__main__":
    run_script(main)
