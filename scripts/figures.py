"""Paper figures: t-SNE of embeddings before / after adaptation, training curves.

Fits DTC on one pair twice with the same seed and budget: without alignment
(``loss=None``, "before adaptation") and with the loss of ``--loss`` ("after"; default
``dann``, the adversarial loss, not DTC's own default ``coral``), then plots
source and target embeddings coloured by domain and by cluster, and the per-epoch
history (losses, lambda, discrepancy): a figure per key of the adapted run, a curve of each
run in it. The fits and the figures use no target label; the ACC printed after each fit is
an evaluation (Hungarian accuracy against the target labels), their only use.

    python scripts/figures.py --out results/figures [--benchmark digits] [--epochs 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import dtc.align
from dtc._entry import run_script
from dtc._validation import SEED_MAX, path_argument
from dtc.data import list_benchmarks
from dtc.experiment.plots import curve_keys, curve_path, curves_figure, tsne_figure
from dtc.experiment.single import RunSpec, fit_evaluate, load_spec_pair
from dtc.experiment.store import exit_on_interrupt


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=path_argument, default=Path("results/figures"))
    parser.add_argument("--benchmark", default="digits", choices=list_benchmarks())
    parser.add_argument("--source", default=None)
    parser.add_argument("--target", default=None)
    parser.add_argument("--loss", default="dann", help="the alignment loss of the 'after' panel")
    parser.add_argument("--epochs", type=int, default=20, help="pretrain and adapt epochs")
    parser.add_argument("--seed", type=int, default=0)
    # the data messages advise it, as every other data-loading script takes it
    parser.add_argument("--data-dir", default=None, help="the shared data (default: $DTC_DATA)")
    args = parser.parse_args(argv)
    # Checked before the first fit: a bad loss, pair, budget or seed was a traceback, the
    # loss's only after the "before" panel's whole fit.
    if args.epochs < 1:
        parser.error(f"--epochs: expected an integer >= 1, got {args.epochs}")
    if args.seed < 0:
        parser.error(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.seed > SEED_MAX:  # 2**32 passed, and failed after the first panel's whole fit
        parser.error(f"--seed: expected a seed <= {SEED_MAX} (2**32 - 1), got {args.seed}")
    # a module:Class too: one that cannot be imported failed after the first panel's fit
    try:
        dtc.align.get_class(args.loss)
    except ValueError as exc:
        parser.error(f"--loss: {exc}")
    spec = RunSpec(method="dtc", benchmark=args.benchmark, source=args.source, target=args.target)
    try:
        data = load_spec_pair(spec, data_dir=args.data_dir)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    try:  # an existing file where the folder goes was a FileExistsError traceback
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out: {exc}")

    # two fits of about 10 s each, and their figures: an interruption keeps none (a Python
    # traceback in reproduce_paper.sh's last step before)
    with exit_on_interrupt(Path(__file__).name, None):
        draw(args, data)


def draw(args, data) -> None:
    """Fit DTC before and after adaptation on ``args``' pair and draw the figures."""
    panels, records = {}, []
    for name, loss in (("before adaptation", None), ("after adaptation", args.loss)):
        spec = RunSpec(
            method="dtc",
            benchmark=args.benchmark,
            source=args.source,
            target=args.target,
            seed=args.seed,
            params={"loss": loss, "pretrain_epochs": args.epochs, "adapt_epochs": args.epochs},
        )
        print(f"fitting DTC {name} ({args.epochs} + {args.epochs} epochs) ...", flush=True)
        start = time.perf_counter()
        record, model = fit_evaluate(spec, data)
        acc = 100 * record["metrics"]["acc"]
        print(f"  done in {time.perf_counter() - start:.0f} s, ACC {acc:.1f}", flush=True)
        record["label"] = f"DTC ({name})"
        records.append(record)
        panels[name] = (model.source_embedding_, model.embedding_, model.labels_)
    pair = f"{args.benchmark}: {records[0]['source']} -> {records[0]['target']}"
    print("t-SNE of both panels ...", flush=True)
    tsne_figure(panels, args.out / "tsne.png", seed=args.seed, title=pair)
    # the adapted run's keys as the report reads them: numbers only, counters (the
    # self-training round) left out
    keys = curve_keys(records[1:])
    for key in keys:
        curves_figure(records, key, curve_path(args.out, key))
    print(f"figures in {args.out}: tsne.png and {len(keys)} training curves")


if __name__ == "__main__":
    run_script(main)
