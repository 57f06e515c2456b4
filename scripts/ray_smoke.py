"""Smoke test of the Ray backend (optional extra: pip install 'dtc[ray]').

Starts a local Ray instance, runs a small grid through ``--backend ray`` and checks
that it gives the same records as the local backend and that a rerun skips them all.
Kept out of the test suite: starting Ray takes longer than CI allows.

    python scripts/ray_smoke.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dtc._entry import run_script
from dtc.experiment import load_config, read_records, run_experiment

CONFIG = {
    "name": "ray_smoke",
    "benchmarks": [{"benchmark": "digits"}],
    "methods": {"km": {"method": "kmeans", "params": {"n_init": 1}}},
    "seeds": [0, 1, 2, 3],
}


def main(argv=None) -> int:
    argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0]).parse_args(argv)
    try:
        import ray  # noqa: F401
    except ImportError:
        print("ray is not installed: pip install 'dtc[ray]'", file=sys.stderr)
        return 2
    cfg = load_config(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        local = run_experiment(cfg, Path(tmp) / "local", progress=False)
        remote = run_experiment(cfg, Path(tmp) / "ray", backend="ray", jobs=2, progress=False)
        again = run_experiment(cfg, Path(tmp) / "ray", backend="ray", jobs=2, progress=False)

        def metrics(summary):
            return {r["run_id"]: r["metrics"] for r in read_records(summary.results_path)}

        # checks, not asserts: under python -O an assert checks nothing, and the line below
        # would claim what was never compared
        problems = [
            f"ray runs failed: {remote.errors}" if remote.errors else None,
            "ray's metrics differ from the local backend's, or not 4 runs"
            if metrics(local) != metrics(remote) or len(metrics(remote)) != 4
            else None,
            f"the rerun ran {again.finished} and skipped {again.skipped}, not 0 and 4"
            if (again.finished, again.skipped) != (0, 4)
            else None,
        ]
        problems = [p for p in problems if p]
        if problems:
            print("ray backend: " + "; ".join(problems), file=sys.stderr)
            return 1
    print("ray backend: 4 runs, same metrics as the local backend, rerun skipped all")
    return 0


if __name__ == "__main__":
    run_script(main)
