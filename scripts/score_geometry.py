"""How well does the monitor's score see a domain's true classes, in Euclidean and in cosine
geometry? (Rule #16 of ``experiments/preregistration.md``.)

For each benchmark domain, on its seeded 1000-row subsample (``dtc.monitor.scores
.subsample_index``, seed 0) of the per-feature z-scored features, with the domain's own
labels: the k-NN agreement of the true class partition
(:func:`dtc.monitor.scores.knn_agreement`) and the score lost per ACC point of
random relabelling (:func:`dtc.monitor.calibration.score_slope`), with the rows as
they are (``euclidean``) and scaled to unit length (``cosine``,
:func:`dtc.monitor.partition_score.scored_space`).

    DTC_DATA=../shared/data python scripts/score_geometry.py
"""

from __future__ import annotations

import argparse

import numpy as np

from dtc._entry import run_script
from dtc.data import domain_files, load_domain, resolve_data_dir
from dtc.data.preprocessing import zscore_columns
from dtc.monitor import scores
from dtc.monitor.calibration import score_slope
from dtc.monitor.partition_score import METRICS, scored_space
from dtc.monitor.scores import knn_agreement

DOMAINS = [
    ("office_caltech10_surf", name) for name in ("amazon", "caltech10", "dslr", "webcam")
] + [("mnist_usps", "mnist"), ("mnist_usps", "usps"), ("coil20", "coil1"), ("coil20", "coil2")]


def geometry(X, y, max_samples: int = 1000, seed: int = 0) -> dict:
    """``{metric: (agreement of the true classes, slope)}`` of ``X`` ``(n, d)``, ``y``
    ``(n,)`` on the seeded subsample of at most ``max_samples`` rows."""
    idx = scores.subsample_index(len(X), max_samples, seed)
    # a constant feature is only centred: 0
    Z, labels = zscore_columns(np.asarray(X, dtype=np.float64)[idx]), np.asarray(y)[idx]
    out = {}
    for metric in METRICS:
        S = scored_space(Z, metric)
        out[metric] = (knn_agreement(S, labels), score_slope(S, labels, seed=seed))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--data-dir", default=None, help="benchmark data (default: $DTC_DATA)")
    args = ap.parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    try:  # every file first: a missing one was a traceback after the table's header
        for benchmark, name in DOMAINS:
            domain_files(benchmark, [name], data_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{'domain':32} " + " ".join(f"{m + ' agreement / slope':>30}" for m in METRICS))
    for benchmark, name in DOMAINS:
        d = load_domain(benchmark, name, data_dir, preprocess="raw")
        g = geometry(d.X, d.y)
        cells = " ".join(f"{g[m][0]:>20.3f} / {g[m][1]:.4f}" for m in METRICS)
        print(f"{benchmark + ':' + name:32} {cells}")
    return 0


if __name__ == "__main__":
    run_script(main)
