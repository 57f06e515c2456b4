"""Does the row order of a domain leak into a method?

The shared benchmarks' rows are sorted by class in every domain but USPS (and the
embedded digits pair is not sorted): a method that slices, pairs or breaks ties by row
position could read the classes off the order. For each (method, pair, seed) this fits
the method three times, on the pair as loaded (sorted), with the target's rows in a
seeded random order, and with the source's rows in one, and records the Hungarian ACC of
each (target labels for evaluation only) and whether the partition is the same up to the
names of its clusters. A method that does not read the order gives the same distribution
of ACC under the three; a sorted order ahead beyond seed noise is a leak.

Each method is built as ``dtc run`` builds it (its benchmark defaults), under a small
epoch budget for the deep ones (``BUDGET``); co-clustering methods get the raw features,
as in ``experiments/paper/table1.yaml``. Runs are appended to ``--out`` (JSON lines) as
they finish; a re-run skips those there and runs a failed one again (the latest record of
a run counts). The table printed at the end is the mean ACC over seeds and the number of
seeds whose partition did not change (``error`` where every seed failed); the exit status
is 1 when a run of this invocation failed.

    python scripts/order_check.py                                # all methods, 2 pairs, 3 seeds
    python scripts/order_check.py --methods kmeans coral --seeds 40
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

import dtc.methods
from dtc import metrics
from dtc._validation import path_argument
from dtc.data import load_pair
from dtc.experiment.config import plugin_code
from dtc.experiment.single import RunSpec, configured_method, data_fingerprint, describe_params
from dtc.experiment.store import (
    append_record,
    check_appendable,
    exit_on_interrupt,
    read_records,
    record_check,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from run_baselines import check_data

from dtc._entry import run_script

#: Two pairs whose domains are both sorted by class.
PAIRS = (("office_caltech10_surf", "amazon", "webcam"), ("coil20", "coil1", "coil2"))
#: The deep methods' budget (each key given to a method that has it).
BUDGET = {"pretrain_epochs": 5, "adapt_epochs": 5, "refine_epochs": 3, "epochs": 5}
ORDERS = ("sorted", "target_shuffled", "source_shuffled")
#: What the sweep reads of a record of ``--out`` (a failed run has no ACC).
RECORD_CHECK = record_check("method", "pair", "seed")


def arg_parser() -> argparse.ArgumentParser:
    """The options (:func:`parse_args` checks them; the sweep reports a bad ``--out`` with
    the same parser)."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--out", type=path_argument, default=Path("results/order_check.jsonl"))
    p.add_argument("--data-dir", default=None, help="benchmark data directory (default $DTC_DATA)")
    # nargs="+": an empty --methods meant every method
    p.add_argument("--methods", nargs="+", default=None, help="registered names (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..n-1 (default 3)")
    return p


def parse_args(argv=None, p: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """The options of ``p`` (:func:`arg_parser` by default), checked."""
    p = arg_parser() if p is None else p
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f"--seeds: expected at least 1, got {args.seeds}")
    names = dtc.methods.available()
    unknown = sorted(set(args.methods or ()) - set(names))
    if unknown:
        p.error(f"--methods: unknown method(s) {', '.join(unknown)}; expected {', '.join(names)}")
    args.methods = args.methods or names
    return args


def shuffled(domain, seed: int):
    """``domain`` with its rows in a random order drawn from ``seed``, and the order."""
    order = np.random.default_rng(10_000 + seed).permutation(domain.n_samples)
    y = None if domain.y is None else domain.y[order]
    return dataclasses.replace(domain, X=domain.X[order], y=y), order


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two label vectors of shape ``(n,)`` are one partition up to cluster names."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def run_spec(method: str, pair, seed: int) -> RunSpec:
    """The run of ``method`` on ``pair`` with ``seed``, as ``dtc run`` builds it for
    ``pair.benchmark`` with :data:`BUDGET`."""
    accepted = dtc.methods.get_class(method)().get_params(deep=False)
    params = {k: v for k, v in BUDGET.items() if k in accepted}
    return RunSpec(method, benchmark=pair.benchmark, seed=seed, params=params)


def run_setting(method: str, pair, seed: int, data_sha: str) -> dict:
    """What a recorded run must match to be reused, as read back from JSON: the method's
    resolved parameters, the data's fingerprint ``data_sha`` (``data_fingerprint(pair)``)
    and the code of a user's plugin method. Keyed by (method, pair, seed) alone, a run
    recorded before a default, a data file or a plugin's code changed was tabulated as
    the current one."""
    spec = run_spec(method, pair, seed)
    setting = {
        "params": describe_params(configured_method(spec)),
        "data_sha": data_sha,
        "code": plugin_code(method, spec.params),
    }
    return json.loads(json.dumps(setting, default=str))


def fit_labels(method: str, pair, seed: int) -> np.ndarray:
    """``method``'s target labels on ``pair`` (target labels masked), as :func:`run_spec`."""
    est = configured_method(run_spec(method, pair, seed))
    est.fit(pair.mask_target_labels())
    return np.asarray(est.labels_)


def run_one(method: str, pair, seed: int) -> dict:
    """ACC under the three orders, and whether each shuffled order kept the partition."""
    sorted_labels = fit_labels(method, pair, seed)
    target, order = shuffled(pair.target, seed)
    target_labels = fit_labels(method, dataclasses.replace(pair, target=target), seed)
    source, _ = shuffled(pair.source, seed)
    source_labels = fit_labels(method, dataclasses.replace(pair, source=source), seed)
    y = pair.target.y
    return {
        "sorted": metrics.evaluate(y, sorted_labels)["acc"],
        "target_shuffled": metrics.evaluate(y[order], target_labels)["acc"],
        "source_shuffled": metrics.evaluate(y, source_labels)["acc"],
        "same_target": same_partition(sorted_labels[order], target_labels),
        "same_source": same_partition(sorted_labels, source_labels),
    }


def table(records: list[dict], methods: list[str], pairs: list[str]) -> str:
    """Markdown: mean ACC (%) over seeds under each order, and the seeds whose partition
    stayed the same under the target's shuffle."""
    lines = ["| method | pair | seeds | sorted | target shuffled | source shuffled | same |"]
    lines.append("|---" * 7 + "|")
    for m in methods:
        for p in pairs:
            ok = [r for r in records if r["method"] == m and r["pair"] == p and "sorted" in r]
            if not ok:
                if any(r["method"] == m and r["pair"] == p for r in records):  # all failed
                    lines.append(f"| {m} | {p} | 0 | error | error | error | - |")
                continue
            means = [100 * np.mean([r[o] for r in ok]) for o in ORDERS]
            same = sum(r["same_target"] for r in ok)
            lines.append(
                f"| {m} | {p} | {len(ok)} | "
                + " | ".join(f"{v:.1f}" for v in means)
                + f" | {same}/{len(ok)} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = arg_parser()
    args = parse_args(argv, ap)
    with exit_on_interrupt(Path(__file__).name, args.out):
        start = time.perf_counter()
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            records = read_records(args.out, check=RECORD_CHECK)
            check_appendable(args.out)
        except (OSError, ValueError) as exc:  # a folder, another script's file: tracebacks
            ap.error(f"--out: {exc}")
        # every file before the first run: a missing one was a traceback of the first load
        check_data(PAIRS, args.data_dir)
        pairs = {}
        for benchmark, source, target in PAIRS:
            for prep in ("standard", "raw"):
                pairs[benchmark, prep] = load_pair(
                    benchmark, source, target, data_dir=args.data_dir, preprocess=prep
                )
        names = [f"{b}:{s}->{t}" for b, s, t in PAIRS]

        def id_of(method, benchmark):  # the pair a run of ``method`` is given, by its key
            raw = dtc.methods.get_class(method).requires_non_negative
            return benchmark, "raw" if raw else "standard"

        def pair_of(method, benchmark):
            return pairs[id_of(method, benchmark)]

        shas = {key: data_fingerprint(pair) for key, pair in pairs.items()}  # once a pair
        settings = {
            (m, f"{b}:{s}->{t}", seed): run_setting(m, pair_of(m, b), seed, shas[id_of(m, b)])
            for m in args.methods
            for b, s, t in PAIRS
            for seed in range(args.seeds)
        }
        # the latest record of each run; a failure is run again, as dtc run does, and so is
        # a run made under another BUDGET, parameters, data or plugin code (or before
        # records kept them): reused, it was tabulated beside runs of the current one
        latest = {(r["method"], r["pair"], r["seed"]): r for r in records}
        done = {
            key
            for key, r in latest.items()
            if "error" not in r
            and r.get("budget") == BUDGET
            and key in settings
            and r.get("setting") == settings[key]
        }
        todo = [
            (m, (b, s, t), seed)
            for m in args.methods
            for b, s, t in PAIRS
            for seed in range(args.seeds)
            if (m, f"{b}:{s}->{t}", seed) not in done
        ]
        print(f"{len(todo)} runs to do, {len(done)} recorded in {args.out}", flush=True)
        failed = 0
        for i, (m, (b, s, t), seed) in enumerate(todo, 1):
            rec = {"method": m, "pair": f"{b}:{s}->{t}", "seed": seed, "budget": BUDGET}
            rec["setting"] = settings[m, rec["pair"], seed]
            try:
                rec.update(run_one(m, pair_of(m, b), seed))
                status = " ".join(f"{o} {100 * rec[o]:.1f}" for o in ORDERS)
            except Exception as exc:  # recorded, and the sweep goes on
                rec["error"] = f"{type(exc).__name__}: {exc}"
                status = f"ERROR {rec['error']}"
                failed += 1
            append_record(args.out, rec)
            elapsed = time.perf_counter() - start
            print(f"[{i}/{len(todo)} {elapsed:6.0f}s] {m} {rec['pair']} seed {seed}: {status}")
            sys.stdout.flush()
        records = [r for r in read_records(args.out, check=RECORD_CHECK) if r["seed"] < args.seeds]
        records = list({(r["method"], r["pair"], r["seed"]): r for r in records}.values())
        print(table(records, args.methods, names))
        if failed:  # as `dtc run` does: the table is printed, the status says it
            print(
                f"{failed} of {len(todo)} runs failed (their errors are above and in "
                f"{args.out}); a rerun runs them again",
                file=sys.stderr,
            )
            return 1
        return 0


if __name__ == "__main__":
    run_script(main)
