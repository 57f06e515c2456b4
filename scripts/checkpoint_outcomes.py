"""Which final partition would each adaptation checkpoint have led to? A study of the
monitor's rollback on recorded harness cases (seen runs; no rule, nothing chosen).

Rollback restores the adaptation checkpoint whose K-means partition scores best, and DTC
then self-trains and clusters from it: the partition it ships is not the one the score
saw. This script replays the post-adaptation stages (self-training, clustering) from every
checkpoint the monitor scored, and prints for each: the check's score, the score of the
final partition it leads to (the monitor's own final-verdict score) and that partition's
Hungarian ACC (target labels used only here, to evaluate). If the final partitions' scores
ranked them like their ACCs, scoring them instead of the K-means proxy would mend
rollback's choices.

    DTC_DATA=../shared/data python scripts/checkpoint_outcomes.py "mnist->usps" --seed 6
    DTC_DATA=../shared/data python scripts/checkpoint_outcomes.py "office_W->A" --seed 4

The case is a ``--fresh10`` case of ``scripts/negative_transfer.py`` (``--case-set`` for
another set), trained as the harness trains it (its budget options, by default 20 + 20
epochs and one thread; policy ``rollback``, a check every 5 epochs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from negative_transfer import (
    CASE_SETS,
    add_budget_arguments,
    all_cases,
    check_budget,
    harness_params,
)

from dtc._entry import run_script
from dtc.data import resolve_data_dir
from dtc.experiment.store import exit_on_interrupt
from dtc.metrics import cluster_acc
from dtc.monitor import NegativeTransferMonitor
from dtc.monitor.base import Callback
from dtc.nn.training import embed


class KeepCheckpoints(Callback):
    """Keeps the estimator's state at the start of adaptation and every ``every`` epochs
    (the monitor's checks). Put it before the monitor in ``callbacks``: it then sees the
    last epoch's state before a rollback replaces it."""

    def __init__(self, every: int = 5):
        self.every, self.states = int(every), {}

    def on_adapt_begin(self, estimator, state: dict) -> None:
        self.states = {-1: state}

    def on_adapt_epoch_end(self, estimator, epoch: int, logs: dict) -> None:
        if (epoch + 1) % self.every == 0 or epoch + 1 == estimator.adapt_epochs:
            self.states[epoch] = estimator.get_state()


def replay(estimator, states: dict, monitor: NegativeTransferMonitor, y) -> list[dict]:
    """For each checkpoint of ``states`` (epoch -> state), the final partition DTC's
    post-adaptation stages give from it, with the monitor's check score, the final
    partition's score and the reference's (both as the final verdict computes them) and
    its ACC on the target labels ``y`` ``(n_t,)``. Leaves ``estimator`` at the last
    checkpoint's outcome.

    The stages are DTC's private ones (``_self_train``, ``_cluster``): no public call
    replays them from a checkpoint, and a study of rollback needs exactly them."""
    checks = {e["epoch"]: e["score"] for e in estimator.monitor_trail_}
    rows = []
    for epoch, state in sorted(states.items()):
        estimator.set_state(state)
        estimator._opt = None  # the adaptation optimiser is done; self-training makes its own
        if estimator.self_training_rounds:
            estimator._self_train()
        estimator._cluster(estimator.n_clusters_)
        Z = embed(estimator._tgt_ae.encoder, estimator._Xt)
        rows.append(
            {
                "epoch": epoch,
                "check_score": checks.get(epoch),
                "final_score": monitor._transfer_score(estimator.labels_, Z),
                "reference_score": monitor._reference_score(Z),
                "acc": cluster_acc(y, estimator.labels_),
            }
        )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("case", help="a case name of the case set, e.g. 'mnist->usps'")
    ap.add_argument("--case-set", default="fresh10", choices=sorted(CASE_SETS))
    ap.add_argument("--data-dir", default=None, help="benchmark data (default: $DTC_DATA)")
    # the monitor's restarts take seed + 1 to seed + n_restarts: a seed they overflow was
    # refused only at the fit, after the case's data load
    add_budget_arguments(ap, seed_reserve=NegativeTransferMonitor().n_restarts)
    args = ap.parse_args(argv)
    check_budget(ap, args)
    # The replay runs outside fit, where DTC sets its own thread count; float sums, and so
    # the replayed partitions, depend on it.
    torch.set_num_threads(args.threads)
    cases = all_cases(resolve_data_dir(args.data_dir), [args.case], args.case_set)
    if not cases:
        ap.error(f"no case {args.case!r} in the {args.case_set} set")
    ((name, _, load),) = cases
    # one unit, nothing to keep: a Ctrl-C in the minute of its fit is one line, not a traceback
    with exit_on_interrupt(Path(__file__).name, None):
        return outcomes(name, load, args)


def outcomes(name: str, load, args) -> int:
    """Fit the guarded DTC of case ``name`` (its pair from ``load()``), keeping a checkpoint
    every 5 epochs, and print what each would have given."""
    from dtc.pipeline import DTC

    try:
        pair = load()
    except (FileNotFoundError, ValueError) as exc:  # as run_baselines.check_data: one line
        raise SystemExit(f"error: {exc}") from None
    params = harness_params(pair, args)
    keep = KeepCheckpoints(every=5)
    monitor = NegativeTransferMonitor("rollback", every=5, seed=args.seed)
    # the fit takes about a minute, silent: said before it starts
    print(f"fitting the guarded DTC on {name} (seed {args.seed}) ...", file=sys.stderr, flush=True)
    est = DTC(**params, callbacks=[keep, monitor]).fit(pair)
    y = pair.target.y
    print(
        f"{name} seed {args.seed}: guarded ACC {100 * cluster_acc(y, est.labels_):.1f}, "
        f"target-only {100 * cluster_acc(y, monitor.reference_.labels_):.1f}, "
        f"last check's decision {est.monitor_trail_[-2]['decision']}"
    )
    for row in replay(est, keep.states, monitor, y):
        print(
            f"  checkpoint {row['epoch']:3d}: check score {row['check_score']:.3f}, final "
            f"partition's score {row['final_score']:.3f} (reference {row['reference_score']:.3f}), "
            f"its ACC {100 * row['acc']:.1f}"
        )
    return 0


if __name__ == "__main__":
    run_script(main)
