"""Run every registered baseline on every shared benchmark pair and tabulate ACC / NMI.

Methods: ``dtc.methods.available()`` (third-party ones registered through the
``dtc.methods`` entry points included), without ``dtc`` itself unless ``--include-dtc``.
Pairs: the 12 ordered Office-Caltech10 SURF pairs, MNIST<->USPS, COIL1<->COIL2 (from
``--data-dir`` / ``$DTC_DATA``, ``preprocess="standard"``, or ``"raw"`` for methods that
``requires_non_negative``) and the embedded ``digits``
pair. Setting: the source is **unlabelled** (transfer clustering) for every method that
does not need source labels; methods declaring ``requires_source_labels`` get the
labelled source (``--labelled-source`` gives the labels to every method). Target labels
are used only by ``dtc.metrics.evaluate`` after ``fit``. Every (method, pair, seed) is
run with ``seed`` passed to the method when it has that parameter, and built as ``dtc run``
builds it: ``use_source_labels`` set to the setting and the defaults the method documents
for the pair's benchmark (DTC's ``FAMILY_CONFIGS``) applied.

Finished runs are appended to ``<out>/runs.jsonl`` as they complete, each with its
setting, the method's resolved parameters and the fingerprint of the data it was given
(``data_sha``); a re-run skips the (method, pair, seed, setting) runs already there. A
failure is recorded with its error and run again by the next invocation, as ``dtc run``
does (its line stays; the latest record of a run is the one that counts). A run
recorded under other parameters than the method's current ones (a default changed) or on
other data (a loader's default or a data file changed) is moved to
``<out>/runs.stale.jsonl`` and run again;
runs of the other setting stay in the file but not in the tables. At the end the table
``<out>/baselines.md`` and ``<out>/baselines.csv`` (Hungarian ACC and NMI, mean +- sample
std over seeds as in ``dtc report``, in %; a cell with a failed seed shows ``n=k/m``, one
whose every seed failed ``error``, in the CSV a row with ``n_seeds`` 0) is written from the
recorded runs of this invocation's methods, pairs, seeds and setting, and the total run
time is printed. The exit status is 1 when a run of this invocation failed.

An unknown ``--methods`` or ``--exclude`` name, an empty ``--methods``, ``--seeds`` below 1
(it would overwrite the tables with empty ones), a missing data file (checked before the
first run), or an ``--out`` that cannot be used (a file, or a ``runs.jsonl`` another script
wrote) is an error of one line.

    python scripts/run_baselines.py                      # everything, 3 seeds
    python scripts/run_baselines.py --quick              # 4 pairs, 2 seeds
    python scripts/run_baselines.py --quick --seeds 1    # 4 pairs, 1 seed (--seeds wins)
    python scripts/run_baselines.py --methods kmeans jda --seeds 5
"""

from __future__ import annotations

import argparse
import csv
import inspect
import itertools
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

import dtc.methods
from dtc._entry import run_script
from dtc._validation import path_argument
from dtc.data import DomainPair, domain_files, load_pair
from dtc.experiment.config import plugin_code
from dtc.experiment.report import score_text
from dtc.experiment.single import data_fingerprint, describe_params, package_versions
from dtc.experiment.store import (
    append_record,
    check_appendable,
    exit_on_interrupt,
    read_records,
    record_check,
    replace_file,
    set_aside,
    tolerant_output,
)
from dtc.metrics import evaluate

SURF = ("caltech10", "amazon", "webcam", "dslr")
ALL_PAIRS = (
    [("office_caltech10_surf", s, t) for s, t in itertools.permutations(SURF, 2)]
    + [("mnist_usps", "mnist", "usps"), ("mnist_usps", "usps", "mnist")]
    + [("coil20", "coil1", "coil2"), ("coil20", "coil2", "coil1")]
    + [("digits", "source", "target")]
)
QUICK_PAIRS = (
    ("office_caltech10_surf", "caltech10", "amazon"),
    ("office_caltech10_surf", "webcam", "dslr"),
    ("coil20", "coil1", "coil2"),
    ("digits", "source", "target"),
)


def pair_name(benchmark: str, source: str, target: str) -> str:
    return f"{benchmark}:{source}->{target}"


#: Seeds when --seeds is not given: with --quick, and without.
QUICK_SEEDS, SEEDS = 2, 3


def arg_parser() -> argparse.ArgumentParser:
    """The options (:func:`parse_args` checks them; the sweep reports a bad ``--out`` with
    the same parser)."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--out", type=path_argument, default=Path("results/baselines"), help="output directory"
    )
    p.add_argument("--data-dir", default=None, help="benchmark data directory (default $DTC_DATA)")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"number of seeds (0..n-1; default {SEEDS}, {QUICK_SEEDS} with --quick)",
    )
    p.add_argument(
        "--quick", action="store_true", help=f"4 pairs and {QUICK_SEEDS} seeds (unless --seeds)"
    )
    p.add_argument("--include-dtc", action="store_true", help="also run the DTC method itself")
    # nargs="+": an empty --methods meant every method
    p.add_argument("--methods", nargs="+", default=None, help="only these registered names")
    p.add_argument("--exclude", nargs="*", default=(), help="skip these registered names")
    p.add_argument("--labelled-source", action="store_true", help="give every method source labels")
    return p


def parse_args(argv=None, p: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """The options of ``p`` (:func:`arg_parser` by default), checked: ``args.seeds`` is the
    number of seeds to run (``--seeds`` when given, else :data:`QUICK_SEEDS` with ``--quick``
    or :data:`SEEDS`), and every name of ``--methods`` and ``--exclude`` is a registered
    method."""
    p = arg_parser() if p is None else p
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = QUICK_SEEDS if args.quick else SEEDS
    elif args.seeds < 1:
        # no seed runs nothing, and the tables would be overwritten with empty ones
        p.error(f"--seeds: expected a number of seeds of at least 1, got {args.seeds}")
    names = dtc.methods.available()
    for flag, given in (("--methods", args.methods), ("--exclude", args.exclude)):
        unknown = sorted(set(given or ()) - set(names))
        if unknown:
            p.error(f"{flag}: unknown method(s) {', '.join(unknown)}; expected {', '.join(names)}")
    # --include-dtc adds DTC to the default methods only: beside --methods without dtc, or
    # with --exclude dtc, DTC was dropped without a word (exit 0). After the names: a
    # typo was read as "--methods leaves DTC out"
    if args.include_dtc and "dtc" in args.exclude:
        p.error("--include-dtc and --exclude dtc contradict each other: give one")
    if args.include_dtc and args.methods and "dtc" not in args.methods:
        p.error(
            "--include-dtc: --methods leaves DTC out; add dtc to --methods (which then need "
            "no --include-dtc), or drop --include-dtc"
        )
    if not select_methods(args):
        p.error("--methods and --exclude leave no method to run")
    return args


def select_methods(args) -> list[str]:
    """The registered methods ``args`` selects (the names are checked by :func:`parse_args`)."""
    names = dtc.methods.available()
    if args.methods:
        names = [n for n in names if n in args.methods]
    elif not args.include_dtc:
        names = [n for n in names if n != "dtc"]
    return [n for n in names if n not in set(args.exclude)]


def check_data(specs, data_dir) -> None:
    """Exit with one line naming the missing file (and where it was looked for) when a file
    of the pairs ``specs`` is not in the data directory, or is not the release's (its
    SHA-256): before the first run, not as a traceback of the first load."""
    domains: dict[str, set[str]] = {}
    for benchmark, source, target in specs:
        domains.setdefault(benchmark, set()).update((source, target))
    try:
        for benchmark, names in domains.items():
            domain_files(benchmark, sorted(names), data_dir, verify=True)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None


def run_key(rec: dict) -> tuple:
    """What a run is: (method, pair, seed, setting)."""
    return rec["method"], rec["pair"], rec["seed"], rec.get("setting")


def setting_of(name: str, labelled: bool) -> str:
    """``"labelled"`` when the method gets the source labels (``--labelled-source`` or a
    method that needs them), else ``"unlabelled"``."""
    needs = dtc.methods.get_class(name).requires_source_labels
    return "labelled" if labelled or needs else "unlabelled"


def make_method(name: str, seed: int, benchmark: str | None = None, labelled: bool = False):
    """``name`` constructed as ``dtc run`` would for a run on ``benchmark``: ``seed`` when
    the method takes one, ``use_source_labels`` set to the run's setting when it has that
    parameter (a DTC told to use labels the source does not have would drop them silently,
    under the labelled setting's defaults), then the defaults the method documents for
    ``benchmark``'s family (:meth:`~dtc.methods.TransferClusterer.benchmark_defaults`)."""
    cls = dtc.methods.get_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    own = {"use_source_labels": labelled} if "use_source_labels" in accepted else {}
    est = cls(seed=seed) if "seed" in accepted else cls()
    est.set_params(**{**est.benchmark_defaults(benchmark, own), **own})
    return est


def resolved_params(name: str, seed: int, benchmark: str | None = None, labelled=False) -> dict:
    """The parameters a run of ``name`` with ``seed`` on ``benchmark`` in the setting
    ``labelled`` has now (:func:`make_method`), as read back from JSON."""
    est = make_method(name, seed, benchmark, labelled)
    return json.loads(json.dumps(describe_params(est), default=str))


def load_done(
    path: Path,
    current: dict[tuple, dict],
    data: dict[tuple, str] | None = None,
    code: dict[tuple, dict] | None = None,
) -> dict[tuple, dict]:
    """The runs of ``path`` by :func:`run_key`, after moving to ``<stem>.stale.jsonl``
    those of a key in ``current`` recorded under other parameters than ``current``'s, on
    other data than ``data``'s fingerprint of the key (a loader's default or a data file
    changed), or with other code of the user's plugins than ``code``'s
    (:func:`dtc.experiment.config.plugin_code`; a record without ``"code"`` had none); a
    run without recorded parameters or fingerprint cannot be checked on that count and is
    kept. A run whose latest record is a failure (``"error"``) is not done: it is run
    again. A last line cut short by a crash is not a run."""
    data, code = data or {}, code or {}

    def stale_run(r: dict) -> bool:
        key = run_key(r)
        if key not in current:
            return False
        other_params = "params" in r and r["params"] != current[key]
        # a plugin method whose file was edited: its runs are of the old code
        other_code = key in code and r.get("code", {}) != code[key]
        other_data = "data_sha" in r and key in data and r["data_sha"] != data[key]
        return other_params or other_code or other_data

    records = read_records(path, check=record_check("method", "pair", "seed"))
    check_appendable(path)
    stale = [stale_run(r) for r in records]
    stale_path = path.with_name(path.stem + ".stale.jsonl")
    kept = set_aside(path, records, stale, stale_path)
    if any(stale):
        print(
            f"{sum(stale)} runs recorded under other parameters, code or data moved to {stale_path}"
        )
    latest = {run_key(r): r for r in kept}
    return {key: r for key, r in latest.items() if "error" not in r}


def run_one(pair: DomainPair, est, give_labels: bool) -> dict:
    seen = (
        pair
        if give_labels
        else DomainPair(
            pair.source.without_labels(),
            pair.target,
            n_clusters=pair.n_clusters,
            benchmark=pair.benchmark,
        )
    )
    start = time.perf_counter()
    est.fit(seen)
    seconds = time.perf_counter() - start
    scores = evaluate(
        pair.target.y, est.labels_, cluster_classes=getattr(est, "cluster_classes_", None)
    )
    return {"seconds": round(seconds, 3), **{k: float(v) for k, v in scores.items()}}


def _std(values: np.ndarray) -> float | None:
    # Sample std (ddof=1) over seeds, as `dtc report`; none for one seed (an empty CSV
    # cell: 0.0 read as a measured zero spread)
    return float(values.std(ddof=1)) if len(values) > 1 else None


def summarise(records: list[dict], methods: list[str], pairs: list[str], out: Path) -> str:
    """Write ``baselines.csv`` and ``baselines.md``; return the Markdown."""
    cells: dict[tuple[str, str], dict] = {}
    rows = []
    for m in methods:
        for p in pairs:
            ok = [r for r in records if r["method"] == m and r["pair"] == p and "acc" in r]
            failed = [r for r in records if r["method"] == m and r["pair"] == p and "error" in r]
            if not ok:
                cells[m, p] = {"failed": bool(failed)}
                if failed:  # a row all the same: a CSV reader did not see the cell failed
                    rows.append(
                        {"method": m, "pair": p, "setting": failed[0]["setting"]}
                        | {"n_seeds": 0, "n_failed": len(failed)}
                    )
                continue
            acc = 100 * np.array([r["acc"] for r in ok])
            nmi = 100 * np.array([r["nmi"] for r in ok])
            cell = {
                "acc_mean": acc.mean(),
                "acc_std": _std(acc),
                "nmi_mean": nmi.mean(),
                "nmi_std": _std(nmi),
                "n_seeds": len(ok),
                "n_failed": len(failed),
                "setting": ok[0]["setting"],
                "seconds": float(np.mean([r["seconds"] for r in ok])),
            }
            cells[m, p] = cell
            rows.append(
                {
                    "method": m,
                    "pair": p,
                    **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in cell.items()},
                }
            )
    fields = [
        "method",
        "pair",
        "setting",
        "acc_mean",
        "acc_std",
        "nmi_mean",
        "nmi_std",
        "n_seeds",
        "n_failed",
        "seconds",
    ]
    # Each table through a temporary file, as dtc report writes its own: a reader (or a
    # second invocation's tables) met a half-written one.
    with (
        replace_file(out / "baselines.csv") as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as f,
    ):
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    def fmt(m, p, key):
        c = cells.get((m, p), {})
        if f"{key}_mean" not in c:
            return "error" if c.get("failed") else "-"
        # one seed has no spread: "± 0.0" would claim one (dtc report shows none either)
        mean = score_text(c[f"{key}_mean"])
        text = mean if c["n_seeds"] == 1 else f"{mean} ± {score_text(c[f'{key}_std'])}"
        if c["n_failed"]:  # a mean over the seeds that did not fail: say so
            text += f" (n={c['n_seeds']}/{c['n_seeds'] + c['n_failed']})"
        return text

    short = [p.split(":", 1)[1] for p in pairs]
    lines = family_summary(cells, methods, pairs)
    for key, title in (("acc", "Hungarian ACC (%)"), ("nmi", "NMI (%)")):
        lines += [f"### {title}, mean ± std over seeds", ""]
        lines.append("| method | setting | " + " | ".join(short) + " | mean |")
        lines.append("|---" * (len(pairs) + 3) + "|")
        for m in methods:
            vals = [cells.get((m, p), {}).get(f"{key}_mean") for p in pairs]
            got = [v for v in vals if v is not None]
            setting = next(
                (cells[m, p]["setting"] for p in pairs if "setting" in cells.get((m, p), {})), "-"
            )
            mean = score_text(np.mean(got)) if got and len(got) == len(pairs) else "-"
            if mean != "-" and _missing_seeds(cells, m, pairs):
                mean += " (incomplete)"  # over a cell short of its failed seeds, as dtc report
            lines.append(
                f"| {m} | {setting} | " + " | ".join(fmt(m, p, key) for p in pairs) + f" | {mean} |"
            )
        lines.append("")
    text = "\n".join(lines)
    with replace_file(out / "baselines.md") as tmp:
        tmp.write_text(text, encoding="utf-8")  # "±": not the locale's
    return text


def _missing_seeds(cells: dict, method: str, pairs) -> bool:
    """Whether a cell of ``method`` over ``pairs`` lacks a seed that failed (its mean is
    over fewer seeds than were run): a mean over it is marked "(incomplete)"."""
    return any(cells.get((method, p), {}).get("n_failed") for p in pairs)


def family_summary(cells: dict, methods: list[str], pairs: list[str]) -> list[str]:
    """Markdown lines: Hungarian ACC per method and benchmark family (SURF averaged over
    its pairs, the other pairs one column each); a cell is '-' unless every pair of it ran,
    and "(incomplete)" follows a mean over a cell that lacks a failed seed."""
    columns: dict[str, list[str]] = {}
    for p in pairs:
        benchmark, task = p.split(":", 1)
        key = "SURF (mean of pairs)" if benchmark == "office_caltech10_surf" else task
        columns.setdefault(key, []).append(p)
    lines = ["### Summary: Hungarian ACC (%) by family, mean over seeds", ""]
    lines.append("| method | setting | seeds | " + " | ".join(columns) + " |")
    lines.append("|---" * (len(columns) + 3) + "|")
    for m in methods:
        got = [cells[m, p] for p in pairs if "acc_mean" in cells.get((m, p), {})]
        row = []
        for members in columns.values():
            vals = [cells.get((m, p), {}).get("acc_mean") for p in members]
            failed = any(cells.get((m, p), {}).get("failed") for p in members)
            text = ("error" if failed else "-") if None in vals else score_text(np.mean(vals))
            if text not in ("error", "-") and _missing_seeds(cells, m, members):
                text += " (incomplete)"
            row.append(text)
        if got:
            seeds = min(c["n_seeds"] for c in got)
            lines.append(f"| {m} | {got[0]['setting']} | {seeds} | " + " | ".join(row) + " |")
        elif "error" in row:  # every run failed: the method was left out of the summary
            lines.append(f"| {m} | - | 0 | " + " | ".join(row) + " |")
    return [*lines, ""]


def main(argv=None) -> int:
    tolerant_output()  # the table's "±" where stdout cannot encode it
    ap = arg_parser()
    args = parse_args(argv, ap)
    log = args.out / "runs.jsonl"
    with exit_on_interrupt(Path(__file__).name, log):
        start = time.perf_counter()
        specs = QUICK_PAIRS if args.quick else ALL_PAIRS
        check_data(specs, args.data_dir)
        seeds = list(range(args.seeds))
        methods = select_methods(args)
        try:  # an existing file where the folder goes was a FileExistsError traceback
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            ap.error(f"--out: {exc}")
        setting = {m: setting_of(m, args.labelled_source) for m in methods}
        # Methods that need non-negative features (co-clustering of counts) get the raw
        # features, as in experiments/paper/table1.yaml; every other method the standard ones.
        pairs, raw_pairs = {}, {}
        for benchmark, source, target in specs:
            name = pair_name(benchmark, source, target)
            pairs[name] = load_pair(benchmark, source, target, data_dir=args.data_dir)
            raw_pairs[name] = load_pair(
                benchmark, source, target, data_dir=args.data_dir, preprocess="raw"
            )
        keys = [(m, p, s, setting[m]) for p in pairs for m in methods for s in seeds]
        # Keyed by run: a method's parameters may depend on the pair's benchmark and setting.
        params = {
            key: resolved_params(key[0], key[2], pairs[key[1]].benchmark, key[3] == "labelled")
            for key in keys
        }

        def pair_of(key):  # what the run of ``key`` is given
            raw = dtc.methods.get_class(key[0]).requires_non_negative
            return (raw_pairs if raw else pairs)[key[1]]

        shas = {id(pair): data_fingerprint(pair) for pair in [*pairs.values(), *raw_pairs.values()]}
        data = {key: shas[id(pair_of(key))] for key in keys}
        # the code of a user's registered method (and of plugins its parameters name), as
        # `dtc run` keeps it: empty for the built-in ones
        cache: dict = {}
        code = {key: plugin_code(key[0], params[key], cache=cache) for key in keys}
        try:
            done = load_done(log, params, data, code)
        except (OSError, ValueError) as exc:  # runs.jsonl a folder, or another script's file
            ap.error(f"--out: {exc}")
        todo = [key for key in keys if key not in done]
        total = len(todo)
        print(
            f"{len(methods)} methods x {len(pairs)} pairs x {len(seeds)} seeds: "
            f"{total} runs to do, {len(keys) - total} already recorded in {log}",
            flush=True,
        )
        for i, (m, p, s, how) in enumerate(todo, 1):
            key = (m, p, s, how)
            rec = {"method": m, "pair": p, "seed": s, "setting": how, "params": params[key]}
            rec["data_sha"] = data[key]
            if dtc.methods.get_class(m).requires_non_negative:
                # the pair it was given: the literature's preprocessing is not for it
                rec["preprocess"] = "raw"
            # where it ran: deep baselines' figures move with the kernels and threads
            rec["versions"] = package_versions()
            if code[key]:
                rec["code"] = code[key]
            try:
                est = make_method(m, s, pairs[p].benchmark, how == "labelled")
                rec.update(run_one(pair_of(key), est, how == "labelled"))
                status = f"ACC {score_text(100 * rec['acc'])}  NMI {score_text(100 * rec['nmi'])}  {rec['seconds']:.1f}s"
            except Exception as exc:  # recorded, reported, and the sweep goes on
                rec["error"] = f"{type(exc).__name__}: {exc}"
                status = f"ERROR {rec['error']}"
                traceback.print_exc(file=sys.stderr)
            append_record(log, rec)
            done[run_key(rec)] = rec
            elapsed = time.perf_counter() - start
            print(f"[{i}/{total} {elapsed:7.0f}s] {m:20s} {p:40s} seed {s}: {status}", flush=True)
        records = [done[key] for key in keys if key in done]
        print(summarise(records, methods, list(pairs), args.out))
        print(f"tables: {args.out / 'baselines.md'}, {args.out / 'baselines.csv'}; runs: {log}")
        print(f"total run time: {time.perf_counter() - start:.1f} s")
        failed = [key for key in todo if "error" in done[key]]
        if failed:  # as `dtc run` does: the tables are written, the status says it
            print(
                f"{len(failed)} of {total} runs failed (their errors are above and in {log}); "
                "a rerun runs them again",
                file=sys.stderr,
            )
            return 1
        return 0


if __name__ == "__main__":
    run_script(main)
