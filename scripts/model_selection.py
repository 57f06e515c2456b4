"""How often label-free model selection picks what target labels would pick.

For every shared benchmark pair (the positive cases of ``scripts/negative_transfer.py``)
and every axis of the grid, DTC (the family's default of the pair, as in the harness) is
fitted once per candidate and :func:`dtc.monitor.select_model` chooses one by a label-free
criterion: the k-NN agreement of the target partition on the target features DTC sees for
lambda and the loss, the silhouette for k. The k-NN agreement leans to fewer clusters:
merging two clusters never lowers the fraction of neighbour pairs that agree, and its chance
correction does not undo the lean (on the k axis it chose k - 2 in 13 of the 16 selections of
seeds 0 and 1, and the ORACLE's k in 5). The silhouette (Rousseeuw, J. Comput. Appl. Math.
1987) weighs separation against cohesion, the classic label-free choice of k; it was made the k
axis's criterion before it was run. The **ORACLE** choice is the candidate with the best
Hungarian ACC on the target labels: it exists only in this evaluation, never in the selection.

Axes (each varied alone, the rest at the family's default: CORAL, lambda = 1):

``lam``   alignment weight lambda in {0.1, 0.3, 1, 3};
``loss``  alignment loss in {dann, mmd, coral};
``k``     number of clusters in {k-2, k, k+2}, as plain clusters of the adapted target
          (``model_transfer=False, final_labels="cluster"``: partitions named by the
          source's classes have as many clusters as it has classes).

    python scripts/model_selection.py            # table + match rate
    python scripts/model_selection.py --json     # one JSON object per line, pair and axis
    python scripts/model_selection.py --quick    # digits and office A->W, axes lam and loss
    python scripts/model_selection.py --summary s0.jsonl s1.jsonl   # earlier runs, pooled
    python scripts/model_selection.py --seed 0 --out ms_s0.jsonl    # resumable after an interruption

Each row records the settings that change its result (``settings``: the two criteria, the
epochs and ``--threads``, since another thread count can move a fit's floating-point sums).
``--out`` resumes a file only under
the settings (and seed) it was recorded with, and ``--summary`` pools only rows of the same
settings: rows of different settings are summarised apart, one group each, and it says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from dtc._validation import path_argument
from dtc.experiment.store import exit_on_interrupt
from dtc.metrics import cluster_acc
from dtc.monitor import select_model
from dtc.monitor.partition_score import usable_scores
from dtc.pipeline import DTC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import (
    add_budget_arguments,
    add_out_argument,
    check_budget,
    data_dir_arg,
    emit,
    load_or_skip,
    positive_pairs,
    print_summary,
    recorded_dtc_params,
    refuse_unused,
    resume,
    settings_text,
    show_resumed,
)
from resolution_gate_choice import read_runs

from dtc._entry import run_script


def selection_line(row: dict) -> str:
    """A selection's line of the table."""
    return (
        f"{row['pair']:14} {row['axis']:5} chosen {row['chosen']:12} ORACLE {row['oracle']:12} "
        f"{'match' if row['match'] else '-----'} ACC chosen {100 * row['acc_chosen']:5.1f} "
        f"ORACLE {100 * row['acc_oracle']:5.1f} mean {100 * row['acc_mean']:5.1f}"
    )


def base_params(benchmark: str, budget: dict) -> dict:
    """The base DTC's parameters on a pair of ``benchmark``: its family's default, as the
    harness and `dtc run` start from, with the ``budget``."""
    return {**DTC().benchmark_defaults(benchmark, {}), **budget}


#: What the summary and a resume read of every row.
SELECTION_FIELDS = ("pair", "axis")
QUICK_PAIRS = {"digits", "office_A->W"}
QUICK_AXES = ("lam", "loss")
AXES = ("lam", "loss", "k")


def candidates(axis: str, k: int, params: dict) -> dict:
    """``{name: unfitted DTC}`` along ``axis``, every other parameter as in ``params``."""
    if axis == "lam":
        return {f"lam={v}": DTC(**{**params, "lam": v}) for v in (0.1, 0.3, 1.0, 3.0)}
    if axis == "loss":
        return {f"loss={v}": DTC(**{**params, "loss": v}) for v in ("dann", "mmd", "coral")}
    if axis == "k":
        # Partitions named by the source's classes have as many clusters as it has classes:
        # another k needs plain clusters of the adapted target.
        plain = {**params, "model_transfer": False, "final_labels": "cluster"}
        ks = [v for v in (k - 2, k, k + 2) if v >= 2]
        return {f"k={v}": DTC(**{**plain, "n_clusters": v}) for v in ks}
    raise ValueError(f"unknown axis {axis!r}; expected lam, loss or k")


def _share_at_best(accs) -> float:
    """The share of the candidates' ACCs (a dict by candidate, or a list) at the best."""
    values = list(accs.values()) if isinstance(accs, dict) else list(accs)
    return sum(a >= max(values) for a in values) / len(values)


def summary(rows: list[dict]) -> list[str]:
    """How often the label-free choice is the ORACLE's, pooled and per axis, against the
    rate of a choice at random (the mean share of candidates at the best ACC: a tie with
    the ORACLE matches, for the random pick too), with the mean regret (ORACLE - chosen
    ACC) and the chosen ACC against the mean candidate's."""
    axes = dict.fromkeys(r["axis"] for r in rows)
    groups = {"all axes": rows, **{a: [r for r in rows if r["axis"] == a] for a in axes}}
    lines = []
    for name, group in groups.items():
        match = np.mean([r["acc_chosen"] >= r["acc_oracle"] for r in group])  # ties match
        chance = np.mean([_share_at_best(r["accs"]) for r in group])
        regret = np.mean([r["acc_oracle"] - r["acc_chosen"] for r in group])
        gain = np.mean([r["acc_chosen"] - r["acc_mean"] for r in group])
        lines.append(
            f"{name:8}: label-free choice = ORACLE in {100 * match:.0f}% of {len(group)} "
            f"selections (at random: {100 * chance:.0f}%); mean regret {100 * regret:.1f} ACC "
            f"points; chosen vs mean candidate {100 * gain:+.1f} points"
        )
    return lines


def summary_by_settings(rows: list[dict]) -> list[str]:
    """:func:`summary` of ``rows`` under the settings they record; rows of different
    settings (another criterion or budget: not comparable) are summarised apart, a group
    each, never pooled."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(settings_text(r.get("settings")), []).append(r)
    if len(groups) == 1:
        ((text, group),) = groups.items()
        return [f"settings: {text}", *summary(group)]
    lines = [f"the rows hold {len(groups)} different settings: summarised apart, not pooled"]
    for text, group in groups.items():
        lines += [f"{text} ({len(group)} selections):", *(f"  {v}" for v in summary(group))]
    return lines


def distinct_selections(rows: list[dict]) -> list[dict]:
    """``rows`` with each selection (pair, axis, seed, settings) counted once: a file given
    twice, or a selection two files hold, counted twice in the rates. Two files recording
    different outcomes of one selection are an error (``ValueError``)."""
    seen: dict[tuple, dict] = {}
    out = []

    def outcome(r: dict, other: dict) -> dict:
        # all but the wall-clock time, which no re-run repeats, and what rows written before
        # it was recorded lack (the parameters a selection resolved to)
        drop = {"seconds"} | {k for k in ("benchmark", "dtc_params") if (k in r) != (k in other)}
        return {k: v for k, v in r.items() if k not in drop}

    for r in rows:
        key = (r["pair"], r["axis"], r.get("seed"), settings_text(r.get("settings")))
        if key not in seen:
            seen[key] = r
            out.append(r)
        elif outcome(r, seen[key]) != outcome(seen[key], r):
            raise ValueError(
                f"{r['pair']} {r['axis']} at seed {r.get('seed')}: two rows record different "
                "selections (made under other settings?)"
            )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--axes", default=None, help="comma-separated: lam,loss,k (default all)")
    # checked here: an unknown name was a traceback after the first pair's data were loaded
    ap.add_argument(
        "--criterion",
        default="knn_agreement",
        choices=usable_scores(),
        help="label-free criterion of the lam and loss axes",
    )
    ap.add_argument(
        "--k-criterion",
        default="silhouette",
        choices=usable_scores(),
        help="label-free criterion of the k axis",
    )
    ap.add_argument("--data-dir", default=None)
    ap.add_argument(
        "--summary",
        nargs="+",
        metavar="FILE",
        type=path_argument,
        help="summarise the --json output FILEs of earlier runs, pooled; runs nothing",
    )
    add_out_argument(ap)
    add_budget_arguments(ap)
    args = ap.parse_args(argv)
    if args.summary:
        # it reads the files and runs nothing: --quick, --axes, --seed ... were ignored
        refuse_unused(ap, args, {"summary"}, "--summary summarises the FILEs as they are")
        try:
            rows = distinct_selections(read_runs(ap, args.summary, SELECTION_FIELDS))
        except ValueError as exc:
            ap.error(str(exc))
        print("\n".join(summary_by_settings(rows)))
        return 0
    check_budget(ap, args)
    # What changes a selection's result besides the seed (--threads too: another thread
    # count can move a fit's floating-point sums).
    settings = {
        "criterion": args.criterion,
        "k_criterion": args.k_criterion,
        "pretrain_epochs": args.pretrain_epochs,
        "adapt_epochs": args.adapt_epochs,
        "threads": args.threads,
    }
    budget = {
        "pretrain_epochs": args.pretrain_epochs,
        "adapt_epochs": args.adapt_epochs,
        "seed": args.seed,
        "n_threads": args.threads,
    }
    with exit_on_interrupt(Path(__file__).name, args.out):
        done = resume(
            ap,
            args,
            key=lambda r: (r["pair"], r["axis"]),
            what="selection(s)",
            settings=settings,
            fields=SELECTION_FIELDS,
            params_now=lambda r: recorded_dtc_params(base_params(r["benchmark"], budget)),
        )
        axes = args.axes.split(",") if args.axes else (QUICK_AXES if args.quick else AXES)
        axes = list(dict.fromkeys(axes))  # an axis named twice is run, and summarised, once
        unknown = [axis for axis in axes if axis not in AXES]
        if unknown:  # before any fit, not after the first pair's other axes ran
            ap.error(f"--axes: unknown axis {', '.join(unknown)}; expected {', '.join(AXES)}")
        pairs = positive_pairs(data_dir_arg(ap, args), QUICK_PAIRS if args.quick else None)
        # The summary is of the pairs and axes asked for: --out may hold others from earlier.
        rows = [row for (name, axis), row in done.items() if name in pairs and axis in axes]
        show_resumed(rows, args.json, selection_line)
        for name, load in pairs.items():
            if all((name, axis) in done for axis in axes):
                continue
            if (pair := load_or_skip(name, load)) is None:
                continue
            params = base_params(pair.benchmark, budget)
            for axis in axes:
                if (name, axis) in done:
                    continue
                t0 = time.perf_counter()
                result = select_model(
                    candidates(axis, pair.n_clusters, params),
                    pair,
                    criterion=args.k_criterion if axis == "k" else args.criterion,
                    seed=args.seed,
                )
                # ORACLE: target labels, for this report only.
                accs = {
                    c: cluster_acc(pair.target.y, est.labels_)
                    for c, est in result.estimators.items()
                }
                oracle = max(accs, key=accs.get)
                row = {
                    "pair": name,
                    "axis": axis,
                    "seed": args.seed,
                    "settings": settings,
                    # the base DTC's resolved parameters: a resumed file made under another
                    # family default is refused
                    "benchmark": pair.benchmark,
                    "dtc_params": recorded_dtc_params(params),
                    "chosen": result.best,
                    "oracle": oracle,
                    # an ACC tie with the ORACLE is a match: the labels cannot tell them apart
                    "match": accs[result.best] >= accs[oracle],
                    "acc_chosen": accs[result.best],
                    "acc_oracle": accs[oracle],
                    "acc_mean": float(np.mean(list(accs.values()))),
                    "scores": result.scores,
                    "accs": accs,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
                emit(rows, row, args.json, selection_line(row), args.out)
        if rows:
            print_summary(summary_by_settings(rows), args.json)
        return 0


if __name__ == "__main__":
    run_script(main)
