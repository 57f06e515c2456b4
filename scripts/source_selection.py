"""How often label-free source selection picks the source target labels would pick.

For each target below, :func:`dtc.monitor.rank_sources` ranks candidate sources: the
benchmark's true sources for that target and constructed wrong ones (built as in
``scripts/negative_transfer.py``: permuted features, a source from another benchmark,
a corrupted source). Every candidate is fitted once with the target family's DTC default
(the same fits serve the ranking and the ORACLE); the ranking is computed with and
without the source checks (``check_sources``). The **ORACLE** is the candidate whose DTC
partition has the best Hungarian ACC on the target labels: it exists only in this
evaluation, never in the selection. A choice *matches* the ORACLE when its ACC equals the
ORACLE's: a tie in ACC is a match, as in ``scripts/model_selection.py`` (the labels cannot
tell the two apart).

    python scripts/source_selection.py           # table + summary (~5 min)
    python scripts/source_selection.py --json    # one JSON object per line and target
    python scripts/source_selection.py --out ss_s0.jsonl   # resumable after an interruption
    python scripts/source_selection.py --targets usps,mnist   # some targets (summary: of those)

Each row records the epochs it was made with (``settings``); ``--out`` resumes a file only
under the same ones (and seed), as ``scripts/model_selection.py`` does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dtc.experiment.store import exit_on_interrupt
from dtc.metrics import cluster_acc
from dtc.monitor import rank_sources

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import (
    add_budget_arguments,
    add_out_argument,
    check_budget,
    construct_negative,
    data_dir_arg,
    emit,
    load_benchmark_pair,
    print_summary,
    recorded_dtc_params,
    resume,
    show_resumed,
    skipped_status,
)

from dtc._entry import run_script

SURF = "office_caltech10_surf"
# (target name, benchmark, target domain, true sources, constructions of the first true
# source: (how, other benchmark pair or None)).
TARGETS = [
    (
        "webcam",
        SURF,
        "webcam",
        ["amazon", "caltech10", "dslr"],
        [("permuted", None), ("corrupted", None), ("other", ("coil20", "coil1", "coil2"))],
    ),
    (
        "amazon",
        SURF,
        "amazon",
        ["caltech10", "webcam", "dslr"],
        [("permuted", None), ("corrupted", None)],
    ),
    (
        "usps",
        "mnist_usps",
        "usps",
        ["mnist"],
        [("permuted", None), ("corrupted", None), ("other", ("digits", None, None))],
    ),
    ("mnist", "mnist_usps", "mnist", ["usps"], [("permuted", None), ("corrupted", None)]),
    ("coil2", "coil20", "coil2", ["coil1"], [("permuted", None), ("corrupted", None)]),
    (
        "digits",
        "digits",
        None,
        [None],
        [("permuted", None), ("corrupted", None), ("other", (SURF, "amazon", "webcam"))],
    ),
]


def matches_oracle(acc: dict, chosen: str) -> bool:
    """Whether the candidate ``chosen`` is as good as the ORACLE by the ACCs ``acc``
    (``{candidate: ACC}``): a tie in ACC is a match, since the labels cannot tell them apart."""
    return acc[chosen] >= max(acc.values())


def candidates(benchmark, target, sources, constructions, data_dir):
    """(target domain, {candidate name: source domain}, n_clusters)."""
    pairs = {s: load_benchmark_pair(benchmark, s, target, data_dir) for s in sources}
    first = pairs[sources[0]]
    out = {str(s or "source"): p.source for s, p in pairs.items()}
    for how, other in constructions:
        o = None if other is None else load_benchmark_pair(*other, data_dir)
        out[f"{sources[0] or 'source'}_{how}"] = construct_negative(first, how, o).source
    return first.target, out, first.n_clusters, first.benchmark


def dtc_params(benchmark: str, args) -> dict:
    """The DTC every candidate is adapted with: the family default of ``benchmark``, as
    `dtc run` starts from, with the budget."""
    from dtc.pipeline import DTC

    return {
        **DTC().benchmark_defaults(benchmark, {}),
        "pretrain_epochs": args.pretrain_epochs,
        "adapt_epochs": args.adapt_epochs,
        "seed": args.seed,
        "n_threads": args.threads,
    }


def run_target(name, benchmark, target, sources, constructions, data_dir, args) -> dict:
    from dtc.pipeline import DTC

    tgt, cands, k, bench = candidates(benchmark, target, sources, constructions, data_dir)
    params = dtc_params(bench, args)
    acc, fits = {}, {}

    def fit(pair):  # one DTC fit per candidate, shared by both rankings and the oracle
        cand = next(n for n, d in cands.items() if d is pair.source)
        if cand not in fits:
            fits[cand] = DTC(**params).fit(pair)
            acc[cand] = cluster_acc(tgt.y, fits[cand].labels_)
        return fits[cand]

    rankings = {
        checks: rank_sources(
            tgt,
            cands,
            n_clusters=k,
            fit_fn=fit,
            check_sources=checks,
            benchmark=bench,
            seed=args.seed,
        )
        for checks in (False, True)
    }
    oracle = max(acc, key=acc.get)
    true = {str(s or "source") for s in sources}
    row = {"target": name, "acc": acc, "oracle": oracle, "true_sources": sorted(true)}
    # what DTC resolved to: a resumed --out made under another family default is refused
    row["benchmark"], row["dtc_params"] = bench, recorded_dtc_params(params)
    for checks, ranking in rankings.items():
        key = "with_checks" if checks else "without_checks"
        chosen = ranking[0]["name"]
        row[key] = {
            "chosen": chosen,
            "acc_chosen": acc[chosen],
            "matches_oracle": matches_oracle(acc, chosen),
            "chose_a_true_source": chosen in true,
            "excluded": {r["name"]: r["check"] for r in ranking if r["excluded"]},
        }
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--targets", default=None, help="comma-separated target names (default all)")
    ap.add_argument("--data-dir", default=None)
    add_out_argument(ap)
    # rank_sources draws the target's subsample with seed + 1
    add_budget_arguments(ap, seed_reserve=1)
    args = ap.parse_args(argv)
    known = [spec[0] for spec in TARGETS]
    names = known
    if args.targets:
        names = args.targets.split(",")
        unknown = [n for n in names if n not in known]
        if unknown:
            ap.error(
                f"--targets: unknown target(s) {', '.join(unknown)}; expected {', '.join(known)}"
            )
    check_budget(ap, args)  # after --targets: it loads torch (2 s of a usage error)
    data_dir = data_dir_arg(ap, args)
    # What changes a row besides the seed (--threads too: another thread count can move a
    # fit's floating-point sums).
    settings = {
        "pretrain_epochs": args.pretrain_epochs,
        "adapt_epochs": args.adapt_epochs,
        "threads": args.threads,
    }
    with exit_on_interrupt(Path(__file__).name, args.out):
        done = resume(
            ap,
            args,
            key=lambda r: r["target"],
            what="target(s)",
            settings=settings,
            fields=("target",),
            params_now=lambda r: recorded_dtc_params(dtc_params(r["benchmark"], args)),
        )
        # The summary is of the targets asked for: --out may hold others from an earlier run.
        rows = [row for target, row in done.items() if target in names]
        show_resumed(rows, args.json, target_line)
        skipped = []
        for spec in TARGETS:
            if spec[0] not in names or spec[0] in done:
                continue
            t0 = time.perf_counter()
            try:
                row = run_target(*spec, data_dir, args)
            except (FileNotFoundError, ValueError) as exc:
                print(f"skipped {spec[0]}: {exc}", file=sys.stderr)
                skipped.append(spec[0])
                continue
            row["seed"] = args.seed
            row["settings"] = settings
            row["seconds"] = round(time.perf_counter() - t0, 1)
            emit(rows, row, args.json, target_line(row), args.out)
        print_summary(summary(rows), args.json)
        return skipped_status(skipped, "--targets" if args.targets else None, rows)


def target_line(row: dict) -> str:
    """A target's line of the table."""
    w, wo = row["with_checks"], row["without_checks"]
    return (
        f"{row['target']:8} oracle {row['oracle']:18} {100 * row['acc'][row['oracle']]:5.1f} | "
        f"without checks {wo['chosen']:18} {100 * wo['acc_chosen']:5.1f} | "
        f"with checks {w['chosen']:18} {100 * w['acc_chosen']:5.1f} "
        f"(excluded: {', '.join(f'{n} [{c}]' for n, c in w['excluded'].items()) or '-'})"
    )


def summary(rows: list[dict]) -> list[str]:
    """For the choices without and with the checks: how often they match the ORACLE (a tie in
    ACC is a match, recomputed from the ACCs, so rows recorded before ties counted agree),
    how often they are a true source, their mean ACC; then the ORACLE's mean ACC."""
    if not rows:
        return []
    lines = []
    for key in ("without_checks", "with_checks"):
        oracle = sum(matches_oracle(r["acc"], r[key]["chosen"]) for r in rows)
        true = sum(r[key]["chose_a_true_source"] for r in rows)
        lines.append(
            f"{key.replace('_', ' ')}: oracle chosen for {oracle} of {len(rows)} targets, "
            f"a true source for {true}, mean ACC of the choice "
            f"{100 * np.mean([r[key]['acc_chosen'] for r in rows]):.1f}"
        )
    lines.append(f"oracle: mean ACC {100 * np.mean([r['acc'][r['oracle']] for r in rows]):.1f}")
    return lines


if __name__ == "__main__":
    run_script(main)
