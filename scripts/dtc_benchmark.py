"""Benchmark DTC against the reference methods on every shared pair.

Runs, for each pair and seed, the reference methods of :data:`REFERENCES` -- target-only
K-means, spectral clustering and AE+K-means (when the baseline is installed), and, with
the labelled source, 1-NN from the source and CORAL with K-means started at the source
class means -- and DTC in its two settings with the documented per-family defaults of
:data:`dtc.pipeline.FAMILY_CONFIGS`:

``labelled``    source labels used; clusters named by source classes, so accuracy
                without Hungarian matching (``acc_unmatched``) is reported too;
``unlabelled``  no labels anywhere (``use_source_labels=False``).

Every result is appended to a JSON-lines file as soon as it exists (a re-run skips the
rows already there; a last line cut short by a crash is not a row, and is cut off before
the next append), and the table of Hungarian ACC (mean over the ``--seeds`` asked for, %;
rows of other seeds in the file are left out) is printed at the end. A row records the
parameters it ran with, as given (``params``) and as the method resolved them
(``resolved``, defaults included), and the fingerprint of its pair (``data_sha``); when
they have changed since (a family's DTC default, a reference's parameters, a method's own
default, a loader's default or a data file), the row is stale: it is moved to
``<out>.stale.jsonl`` and run again, so the table never mixes two configurations. Target
labels are used only by :func:`dtc.metrics.evaluate`.

    DTC_DATA=/work/shared/data python scripts/dtc_benchmark.py --out results/dtc_bench.jsonl
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from dtc import methods
from dtc._validation import path_argument, seed_argument, user_path
from dtc.data import list_benchmarks, load_pair, make_digits_pair
from dtc.data.benchmarks import benchmark_info
from dtc.experiment.report import score_text
from dtc.experiment.single import (
    data_fingerprint,
    describe_params,
    mixed_platforms,
    package_versions,
)
from dtc.experiment.store import (
    append_record,
    check_appendable,
    exit_on_interrupt,
    read_records,
    record_check,
    set_aside,
)
from dtc.metrics import evaluate
from dtc.pipeline import FAMILY_CONFIGS, family_config

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from run_baselines import check_data

from dtc._entry import run_script

# name in the table -> (registered method, parameters): the references of issue 4's table
REFERENCES = {
    "kmeans": ("kmeans", {}),
    "spectral": ("spectral", {}),
    "ae_kmeans": ("ae_kmeans", {}),
    "source_nn": ("source_nn", {}),
    # CORAL as in its paper (the source re-coloured to the target), K-means from the
    # source class means: reproduces the SURF figure, 53.6, exactly
    "coral_means": ("coral", {"direction": "source_to_target", "init": "source"}),
}
SETTINGS = ("labelled", "unlabelled")
FAMILIES = ("digits", "office_caltech10_surf", "mnist_usps", "coil20")
#: What the sweep reads of a row of ``--out`` (the table its ACC).
ROW_FIELDS = ("family", "pair", "method", "seed", "acc")


def pairs(family: str) -> list[tuple[str, str]]:
    if family == "digits":
        return [("source", "target")]
    return [tuple(p) for p in benchmark_info(family)["pairs"]]


def load(family: str, source: str, target: str, preprocess: str, data_dir):
    if family == "digits":
        return make_digits_pair()  # the embedded default: shift 0.5, seed 0
    return load_pair(family, source, target, data_dir=data_dir, preprocess=preprocess)


def row_params(family: str, method: str) -> dict:
    """The parameters a row of ``method`` runs with now: the family's DTC default for
    ``dtc_<setting>``, a reference's own (:data:`REFERENCES`) otherwise. JSON round-tripped,
    to compare with a row read back."""
    if method.startswith("dtc_"):
        params = family_config(family, method[4:])
    else:
        params = REFERENCES[method][1]
    return json.loads(json.dumps(params))


def make_estimator(method: str, setting: str | None, family: str, seed: int):
    """The unfitted estimator of a row: DTC with ``family``'s defaults for ``setting``, or
    the reference ``method`` (a table name of :data:`REFERENCES`)."""
    if method == "dtc":
        return methods.get("dtc", **family_config(family, setting), seed=seed, n_threads=1)
    name, params = REFERENCES[method]
    return methods.get(name, **params, seed=seed)


def resolved_params(family: str, method: str, seed: int) -> dict:
    """Every parameter a row of ``method`` (a table name) with ``seed`` runs with now, the
    method's own defaults included, JSON round-tripped to compare with a row read back."""
    setting = method[4:] if method.startswith("dtc_") else None
    est = make_estimator("dtc" if setting else method, setting, family, seed)
    return json.loads(json.dumps(describe_params(est), default=str))


def _resolved_changed(row: dict) -> bool:
    # a row without resolved parameters (older ones), or of a method not installed here,
    # cannot be checked: kept
    if "resolved" not in row:
        return False
    try:
        current = resolved_params(row["family"], row["method"], row["seed"])
    except ValueError:  # the method is not registered here
        return False
    return row["resolved"] != current


def preprocess_of(family: str, method: str) -> str:
    """The preprocessing a row of ``method`` loads its pair with: the family's DTC default
    for ``dtc_<setting>``, the literature's standard one for the references."""
    return FAMILY_CONFIGS[family]["preprocess"] if method.startswith("dtc_") else "standard"


@functools.cache
def _current_sha(family: str, source: str, target: str, prep: str, data_dir) -> str | None:
    """:func:`data_fingerprint` of the pair a row loads now (None: it cannot be loaded)."""
    try:
        return data_fingerprint(load(family, source, target, prep, data_dir))
    except (FileNotFoundError, ValueError):
        return None


def _data_changed(row: dict, data_dir) -> bool:
    # A row without a fingerprint (older ones), or whose data cannot be loaded here, cannot
    # be checked: kept.
    if "data_sha" not in row:
        return False
    source, _, target = row["pair"].partition("->")
    prep = preprocess_of(row["family"], row["method"])
    current = _current_sha(row["family"], source, target, prep, data_dir)
    return current is not None and row["data_sha"] != current


def set_aside_stale(out: Path, rows: list[dict], data_dir=None) -> list[dict]:
    """The rows of ``out`` that still hold. A row run with other parameters than its method's
    current ones (a changed family default, a changed reference, a changed default of the
    method itself; a row without recorded parameters counts as run with none), or on other
    data than its pair loads now from ``data_dir`` (its ``data_sha``: a loader's default or
    a data file changed), is appended to ``<out>.stale.jsonl`` and dropped from ``out``.
    Rows of methods no longer listed are kept."""
    stale = [
        r["method"] in (*REFERENCES, *(f"dtc_{s}" for s in SETTINGS))
        and (
            r.get("params", {}) != row_params(r["family"], r["method"])
            or _resolved_changed(r)
            or _data_changed(r, data_dir)
        )
        for r in rows
    ]
    stale_path = out.with_name(out.stem + ".stale.jsonl")
    fresh = set_aside(out, rows, stale, stale_path)
    if any(stale):
        print(f"{sum(stale)} stale rows moved to {stale_path} (run again)")
    return fresh


def warn_mixed(rows: list[dict], args) -> None:
    """A warning on stderr when the rows the table shows were made by several versions of
    dtc's code or on several platforms (kernels, CPU, threads): kept rows are reused
    whatever made them, and deep methods' figures move with either (a row of other code
    or torch sat beside fresh ones without a word)."""
    shown = [
        r
        for r in rows
        if r["seed"] in args.seeds and r["family"] in args.families and r["method"] in args.methods
    ]
    codes = sorted({str(r.get("versions", {}).get("dtc_source", "?")) for r in shown})
    if len(codes) > 1:
        print(
            f"warning: these rows were made by {len(codes)} versions of dtc's code "
            f"({', '.join(codes)}; versions.dtc_source): kept rows are not run again when dtc "
            "changes; give a new --out to compare them on one code",
            file=sys.stderr,
        )
    places = mixed_platforms(shown, [r["method"] for r in shown])
    if places:
        print(
            f"warning: these rows were made on several platforms ({'; '.join(places)}): deep "
            "methods' figures differ between them",
            file=sys.stderr,
        )


def run_one(method: str, setting: str | None, pair, seed: int) -> dict:
    t0 = time.perf_counter()
    est = make_estimator(method, setting, pair.benchmark, seed)
    est.fit(pair)
    scores = evaluate(
        pair.target.y, est.labels_, cluster_classes=getattr(est, "cluster_classes_", None)
    )
    scores["seconds"] = time.perf_counter() - t0
    return scores


def table(rows: list[dict], seeds=None, families=None, methods=None) -> str:
    """Hungarian ACC (and acc_unmatched) in %, mean over seeds, per pair and family mean
    (a method's family mean over fewer of the family's pairs than it shows says how many).
    With ``seeds``, only the rows of those seeds (the file may hold others, from earlier
    runs), said on a first line; with ``families`` / ``methods``, only theirs (the runs
    asked for); ``n=`` is each cell's number of seeds."""
    if seeds is not None:
        rows = [r for r in rows if r["seed"] in seeds]
    if families is not None:
        rows = [r for r in rows if r["family"] in families]
    if methods is not None:
        rows = [r for r in rows if r["method"] in methods]
    # One row per run, the latest: two invocations at once on one --out may both run a
    # seed, and its two rows counted twice in the mean and in n=.
    rows = {(r["family"], r["pair"], r["method"], r["seed"]): r for r in rows}.values()
    by = defaultdict(list)
    for r in rows:
        by[(r["family"], r["pair"], r["method"])].append(r)
    cols = sorted({k[2] for k in by}, key=lambda m: (m.startswith("dtc"), m))
    lines = ["| family | pair | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    if seeds is not None:
        lines.insert(0, f"mean over seeds {', '.join(map(str, sorted(seeds)))}\n")
    for family in FAMILIES:
        fam_pairs = sorted({k[1] for k in by if k[0] == family})
        fam_means = defaultdict(list)
        for p in fam_pairs:
            cells = []
            for m in cols:
                rs = by.get((family, p, m))
                if not rs:
                    cells.append("-")
                    continue
                acc = 100 * np.mean([r["acc"] for r in rs])
                fam_means[m].append(acc)
                cell = score_text(acc)
                if "acc_unmatched" in rs[0]:
                    un = 100 * np.mean([r["acc_unmatched"] for r in rs])
                    fam_means[m + "/u"].append(un)
                    cell += f" ({score_text(un)})"
                cells.append(f"{cell} n={len(rs)}")
            lines.append(f"| {family} | {p} | " + " | ".join(cells) + " |")
        if len(fam_pairs) > 1:
            cells = []
            for m in cols:
                c = score_text(np.mean(fam_means[m])) if fam_means[m] else "-"
                if fam_means.get(m + "/u"):
                    c += f" ({score_text(np.mean(fam_means[m + '/u']))})"
                if fam_means[m] and len(fam_means[m]) < len(fam_pairs):
                    # a mean over fewer pairs than the other columns': not comparable
                    c += f" ({len(fam_means[m])} of {len(fam_pairs)} pairs)"
                cells.append(c)
            lines.append(f"| {family} | **mean** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: An argparse ``type``: a seed in [0, 2**32 - 1] (a negative one was the estimator's
#: ValueError traceback, after the rows before it had run; 2**32 passed, and was one
#: mid-sweep). Every method here takes the seed itself: DTC's and the baselines' own
#: offsets (seed + 1 to seed + 4) seed torch, which takes 64 bits.
seed_number = seed_argument()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=path_argument, default="results/dtc_benchmark.jsonl")
    ap.add_argument("--seeds", type=seed_number, nargs="+", default=[0, 1, 2])
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    choices = [*REFERENCES, *(f"dtc_{s}" for s in SETTINGS)]
    ap.add_argument("--methods", nargs="+", default=choices, choices=choices)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # small models: one thread is fastest on a shared machine
    out = user_path(args.out)
    with exit_on_interrupt(Path(__file__).name, out):
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            rows = read_records(out, check=record_check(*ROW_FIELDS))
            check_appendable(out)
        except (OSError, ValueError) as exc:  # a folder, another script's file: tracebacks
            ap.error(f"--out: {exc}")
        rows = set_aside_stale(out, rows, args.data_dir)
        done = {(r["family"], r["pair"], r["method"], r["seed"]) for r in rows}
        available = set(methods.available())
        missing = sorted(
            {m for m in args.methods if not m.startswith("dtc_")}
            - {m for m in REFERENCES if REFERENCES[m][0] in available}
        )
        if missing:  # skipped, as before, but no longer without a word
            print(
                f"not registered here, skipped: {', '.join(missing)} (is the baselines "
                "package installed? pip install -e .)",
                file=sys.stderr,
                flush=True,
            )
        todo = []
        for family in args.families:
            if family not in list_benchmarks():
                raise SystemExit(f"unknown family {family!r}")
            for source, target in pairs(family):
                for seed in args.seeds:
                    for method in args.methods:
                        key = (family, f"{source}->{target}", method, seed)
                        base = "dtc" if method.startswith("dtc_") else method
                        if key not in done and method not in missing:
                            done.add(key)  # a seed or method named twice runs once
                            todo.append((key, source, target, base))
        # every file before the first run: a missing one failed as a traceback mid-sweep
        check_data([(key[0], source, target) for key, source, target, _ in todo], args.data_dir)
        kept = f", {len(rows)} already in {out}" if rows else ""
        plural = "" if len(todo) == 1 else "s"
        print(f"{len(todo)} run{plural} to do{kept}", file=sys.stderr, flush=True)
        for i, ((family, name, method, seed), source, target, base) in enumerate(todo, 1):
            setting = method[4:] if method.startswith("dtc_") else None
            # References use the family's literature preprocessing; DTC its own.
            prep = preprocess_of(family, method)
            pair = load(family, source, target, prep, args.data_dir)
            scores = run_one(base, setting, pair, seed)
            row = {"family": family, "pair": name, "method": method, "seed": seed, **scores}
            row["data_sha"] = data_fingerprint(pair)
            row["params"] = row_params(family, method)
            row["resolved"] = resolved_params(family, method, seed)
            # Figures move with the CPU kernels and packages at identical code.
            row["versions"] = package_versions()
            rows.append(row)
            append_record(out, row)
            shown = " ".join(
                f"{k}={v:.3f}"
                for k, v in scores.items()
                if k in ("acc", "acc_unmatched", "seconds")
            )
            print(
                f"[{i}/{len(todo)}] {family:22s} {name:22s} {method:16s} seed={seed} {shown}",
                flush=True,
            )
        warn_mixed(rows, args)
        print(table(rows, seeds=args.seeds, families=args.families, methods=args.methods))
        return 0


if __name__ == "__main__":
    run_script(main)
