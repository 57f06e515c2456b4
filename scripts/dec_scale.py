"""Where DEC's Student-t kernel sits on a target, with and without ``rescale``.

DEC's soft assignment ``q_ij ∝ (1 + |z_i - mu_j|^2 / alpha)^-(alpha+1)/2`` has a fixed length
scale, so it depends on how far apart the embeddings lie (``baselines.dec``, "Scale"). For
each target and seed this fits DEC (:class:`baselines.dec.DEC`, its defaults otherwise) with
``rescale=False`` and ``rescale=True`` and prints the factor applied to the features; at the
start of fine-tuning (the fitted DEC's pretrained embeddings and their K-means centres,
``initial_embedding_`` and ``initial_centers_``) the median squared distance of a row's embedding to its own centre and to the
others, and the median ``max_j q_ij`` against ``1 / k``; the fine-tuning epochs run; and the
Hungarian ACC of the K-means start and of DEC's result (target labels for evaluation only).

With ``--records`` (the ``results.jsonl`` of a ``dtc run`` holding DEC / IDEC runs, e.g.
Table 1's) it also prints, per label and benchmark, how many runs stopped at their first
fine-tuning check, and the share of assignments the first fine-tuning epoch changed in each
run that ended below ``--collapse`` ACC.

    python scripts/dec_scale.py                          # COIL2 and USPS targets, seed 0
    python scripts/dec_scale.py --records results/table1/results.jsonl --skip-fits
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from baselines.dec import DEC
from dtc._validation import path_argument, seed_argument
from dtc.cluster.dec import soft_assignment
from dtc.data import load_pair
from dtc.experiment.store import exit_on_interrupt, read_records
from dtc.metrics import cluster_acc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from run_baselines import check_data

from dtc._entry import run_script

#: (benchmark, source, target): DEC reads only the target.
TARGETS = {
    "coil2": ("coil20", "coil1", "coil2"),
    "coil1": ("coil20", "coil2", "coil1"),
    "usps": ("mnist_usps", "mnist", "usps"),
    "mnist": ("mnist_usps", "usps", "mnist"),
    "webcam": ("office_caltech10_surf", "amazon", "webcam"),
    "digits": ("digits", None, None),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--targets", nargs="+", default=["coil2", "usps"], choices=sorted(TARGETS))
    p.add_argument("--seeds", nargs="+", type=seed_argument(), default=[0])
    p.add_argument("--data-dir", default=None, help="benchmark data directory (default $DTC_DATA)")
    p.add_argument(
        "--records", type=path_argument, help="a dtc run results.jsonl with DEC / IDEC runs"
    )
    p.add_argument("--collapse", type=float, default=0.3, help="ACC below which a run is listed")
    p.add_argument("--skip-fits", action="store_true", help="only read --records")
    args = p.parse_args(argv)
    if args.skip_fits and args.records is None:
        p.error("--skip-fits needs --records")
    if args.records is not None and not args.records.is_file():
        p.error(f"--records: no file {args.records}")
    return args


def start_geometry(est: DEC) -> dict:
    """The start of a fitted ``est``'s fine-tuning (its pretrained embeddings and their
    K-means centres): median squared distances of the embeddings to their own and to the
    other centres, and the median ``max_j q_ij``."""
    Z, centers, labels = est.initial_embedding_, est.initial_centers_, est.initial_labels_
    d2 = ((Z[:, None, :] - centers[None]) ** 2).sum(-1)
    own = d2[np.arange(len(Z)), labels]
    others = d2[np.arange(d2.shape[1])[None, :] != labels[:, None]]
    q = soft_assignment(torch.from_numpy(Z), torch.from_numpy(centers), alpha=est.alpha)
    return {
        "factor": est.input_scale_,
        "d2_own": float(np.median(own)),
        "d2_others": float(np.median(others)),
        "max_q": float(np.median(q.max(1).values.numpy())),  # torch's median is the lower one
    }


def fit_rows(args) -> None:
    print(
        f"{'target':8} {'seed':>4} {'rescale':7} {'factor':>7} {'d2 own':>8} {'d2 other':>8} "
        f"{'max q':>6} {'1/k':>6} {'epochs':>6} {'ACC start':>9} {'ACC DEC':>8}"
    )
    for name in args.targets:
        benchmark, source, target = TARGETS[name]
        pair = load_pair(benchmark, source, target, data_dir=args.data_dir)
        for seed in args.seeds:
            for rescale in (False, True):
                est = DEC(rescale=rescale, seed=seed).fit(pair)
                geometry = start_geometry(est)
                # ORACLE: target labels, for this report only
                acc_start = cluster_acc(pair.target.y, est.initial_labels_)
                acc = cluster_acc(pair.target.y, est.labels_)
                print(
                    f"{name:8} {seed:4d} {rescale!s:7} {geometry['factor']:7.2f} "
                    f"{geometry['d2_own']:8.4f} {geometry['d2_others']:8.4f} "
                    f"{geometry['max_q']:6.3f} {1 / pair.n_clusters:6.3f} {est.n_epochs_:6d} "
                    f"{100 * acc_start:9.1f} {100 * acc:8.1f}",
                    flush=True,
                )


def record_rows(path: Path, collapse: float) -> None:
    """Per (label, benchmark) of the DEC / IDEC runs in ``path``: runs that stopped at their
    first check, and the first epoch's change of the runs below ``collapse``."""
    runs = defaultdict(list)
    for record in read_records(path):  # a cut last line (a run not finished) is skipped
        if record.get("method") not in ("dec", "idec"):
            continue
        fine = [h for h in record.get("history", []) if "kl" in h]
        data = record.get("data_params") or {}
        where = record["benchmark"] + "".join(f" {k}={v}" for k, v in sorted(data.items()))
        # a single `dtc run` records no label (a sweep's row name): its method stands in
        runs[(record.get("label", record["method"]), where)].append((record, fine))
    if not runs:
        print(f"{path}: no DEC / IDEC runs", file=sys.stderr)
        return
    for (label, where), rows in sorted(runs.items()):
        stopped = sum(len(fine) == 1 for _, fine in rows)
        print(f"{label:6} {where:40} {stopped} of {len(rows)} runs stopped at the first check")
        for record, fine in rows:
            acc = record["metrics"]["acc"]
            if acc < collapse and len(fine) > 1:
                print(
                    f"    {record['source']}->{record['target']} seed {record['seed']}: ACC "
                    f"{100 * acc:.1f}, first epoch changed {100 * fine[1]['changed']:.0f} % "
                    "of the assignments"
                )


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.skip_fits:
        # every file before the first fit: a missing one was a traceback after the fits
        # before it (digits is generated: no file)
        check_data([TARGETS[n] for n in args.targets if TARGETS[n][0] != "digits"], args.data_dir)
        with exit_on_interrupt(Path(__file__).name, None):  # rows printed as they finish
            fit_rows(args)
    if args.records is not None:
        record_rows(args.records, args.collapse)
    return 0


if __name__ == "__main__":
    run_script(main)
