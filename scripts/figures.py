"""Paper figures: t-SNE of embeddings before / after adaptation, training curves.

Fits DTC on one pair twice with the same seed and budget: without alignment
(``loss=None``, "before adaptation") and with the loss of ``--loss`` ("after"; default
``dann``, the adversarial loss, not DTC's own default ``coral``), then plots
source and target embeddings coloured by domain and by cluster, and the per-epoch
history (losses, lambda, discrepancy) of the adapted run. Target labels are not used.

    python scripts/figures.py --out results/figures [--benchmark digits] [--epochs 20]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dtc.experiment.plots import curves_figure, tsne_figure
from dtc.experiment.single import RunSpec, fit_evaluate, load_spec_pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/figures"))
    parser.add_argument("--benchmark", default="digits")
    parser.add_argument("--source", default=None)
    parser.add_argument("--target", default=None)
    parser.add_argument("--loss", default="dann", help="the alignment loss of the 'after' panel")
    parser.add_argument("--epochs", type=int, default=20, help="pretrain and adapt epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

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
        record, model = fit_evaluate(spec, load_spec_pair(spec))
        record["label"] = f"DTC ({name})"
        records.append(record)
        panels[name] = (model.source_embedding_, model.embedding_, model.labels_)
    pair = f"{args.benchmark}: {records[0]['source']} -> {records[0]['target']}"
    tsne_figure(panels, args.out / "tsne.png", seed=args.seed, title=pair)
    keys = sorted({k for h in records[1].get("history", []) for k in h} - {"epoch"})
    for key in keys:
        curves_figure(records, key, args.out / f"curve_{key}.png")
    print(f"figures in {args.out}: tsne.png and {len(keys)} training curves")


if __name__ == "__main__":
    main()
