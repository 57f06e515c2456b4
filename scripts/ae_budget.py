"""How long the autoencoder baselines must pretrain: the reconstruction error over epochs.

``ae_kmeans``, ``source_ae_kmeans``, ``dec`` and ``idec`` pretrain an autoencoder for a fixed
number of epochs (``epochs`` / ``pretrain_epochs``). This script reads, without any label,
how far from converged a budget leaves it: for each domain of the shared benchmarks (and the
embedded digits target) it trains the baselines' autoencoder (:class:`baselines.autoencoder.
TargetAEKMeans`'s defaults but ``epochs``) for ``--max-epochs`` epochs and prints, per
budget, the mean reconstruction error of that epoch over the error of the last one (1.00:
nothing left to gain), the mean over ``--seeds``. The features are each domain's standard
preprocessing, as the baselines see them (DEC and IDEC rescale theirs first).

Usage::

    DTC_DATA=../shared/data python scripts/ae_budget.py            # every domain, seeds 0 and 1
    python scripts/ae_budget.py --domains digits:target --seeds 1   # no data files needed
    python scripts/ae_budget.py --out budget.jsonl  # resumable: run it again after a Ctrl-C
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from baselines.autoencoder import TargetAEKMeans, train_autoencoder
from dtc.data import load_pair
from dtc.data.benchmarks import benchmark_info
from dtc.experiment.store import exit_on_interrupt

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from negative_transfer import add_out_argument, emit, resume_units, show_resumed
from run_baselines import check_data

from dtc._entry import run_script

BUDGETS = (20, 50, 100, 200, 400)


def all_domains() -> list[str]:
    """``benchmark:domain`` for the digits target and every domain of the shared benchmarks."""
    found = ["digits:target"]
    for benchmark in ("office_caltech10_surf", "mnist_usps", "coil20"):
        found += [f"{benchmark}:{d}" for d in benchmark_info(benchmark)["domains"]]
    return found


def pair_of(name: str) -> tuple[str, str, str]:
    """``(benchmark, source, target)``: the pair whose target is the domain
    ``benchmark:domain`` (:func:`load_domain` loads it whole, both files)."""
    benchmark, domain = name.split(":")
    if benchmark == "digits":
        return "digits", "source", "target"
    other = next(d for d in benchmark_info(benchmark)["domains"] if d != domain)
    return benchmark, other, domain


def load_domain(name: str, data_dir=None):
    """The domain ``benchmark:domain`` as the target of a pair (its standard preprocessing)."""
    benchmark, source, target = pair_of(name)
    if benchmark == "digits":
        return load_pair("digits").target
    return load_pair(benchmark, source=source, target=target, data_dir=data_dir).target


def recon_curve(domain, epochs: int, seed: int) -> np.ndarray:
    """Mean reconstruction error of each of ``epochs`` epochs, shape ``(epochs,)``."""
    est = TargetAEKMeans(epochs=epochs, seed=seed)
    _, history = train_autoencoder(est, domain, epochs=epochs, stage="pretrain")
    return np.array([h["recon"] for h in history])


def ratios(curve: np.ndarray, budgets=BUDGETS) -> list[float]:
    """``curve[b - 1] / curve[-1]`` for each budget ``b`` (epochs, 1-based)."""
    return [float(curve[b - 1] / curve[-1]) for b in budgets]


def domain_line(row: dict) -> str:
    """A domain's line of the table (under the header ``main`` prints)."""
    cells = " ".join(f"{v:6.2f}" for v in row["ratios"])
    return f"{row['domain']:34s} {row['n']:5d} {row['steps']:8d} {cells}   {row['seconds']:.0f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    # nargs="+": an empty --domains meant every domain
    parser.add_argument("--domains", nargs="+", help="benchmark:domain names (default: all)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..n-1 (default 2)")
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=800,
        help=f"the reference budget (default 800; at least {max(BUDGETS)}, the largest compared)",
    )
    parser.add_argument("--data-dir", default=None, help="benchmark data (default $DTC_DATA)")
    add_out_argument(parser, per_seed=False)  # no --seed: one FILE, all its seeds
    args = parser.parse_args(argv)
    if args.max_epochs < max(BUDGETS):
        parser.error(f"--max-epochs must be at least {max(BUDGETS)}")
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    names = args.domains or all_domains()
    unknown = sorted(set(names) - set(all_domains()))
    if unknown:
        parser.error(f"--domains: unknown {unknown}; expected some of {all_domains()}")
    # every file before the first fit: a missing one was a traceback after the fits before it
    check_data([pair_of(name) for name in names], args.data_dir)
    # A domain's row is its unit (the whole run is over half an hour): kept in --out, and a
    # resumed run reuses those of the same seeds and budget
    settings = {"seeds": args.seeds, "max_epochs": args.max_epochs}
    fields = ("n", "steps", "ratios", "seconds")
    done = resume_units(parser, args.out, "domain", "domain(s)", settings, fields)
    head = " ".join(f"{b:>6d}" for b in BUDGETS)
    print(f"reconstruction error at E epochs / at {args.max_epochs}, mean of {args.seeds} seeds")
    print(f"{'domain':34s} {'n':>5s} {'steps/ep':>8s} {head}   seconds")
    rows = [done[name] for name in names if name in done]
    show_resumed(rows, False, domain_line)
    with exit_on_interrupt(Path(__file__).name, args.out):
        for name in names:
            if name in done:
                continue
            domain = load_domain(name, args.data_dir)
            start = time.perf_counter()
            curves = [ratios(recon_curve(domain, args.max_epochs, s)) for s in range(args.seeds)]
            row = {
                "domain": name,
                "n": domain.n_samples,
                "steps": -(-domain.n_samples // TargetAEKMeans().batch_size),
                "ratios": np.mean(curves, 0).tolist(),
                "seconds": round(time.perf_counter() - start, 1),
                "settings": settings,
            }
            emit(rows, row, False, domain_line(row), args.out)
    worst = np.max([r["ratios"] for r in rows], 0)
    print(f"{'largest over domains':34s} {'':5s} {'':8s} " + " ".join(f"{v:6.2f}" for v in worst))
    return 0


if __name__ == "__main__":
    run_script(main)
