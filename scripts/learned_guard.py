"""Could a guard *learned* from every label-free signal the monitor records do what its rules
cannot? A study of issue 6's open problem, on recorded runs; nothing is chosen here.

The monitor flags a run by hand-set rules, one signal at a time (feature correspondence,
structural similarity, class agreement, the calibrated score margin). No single signal
separates the wrong SURF sources the rules miss from the true pairs (README, "What keeps the
worst case out of reach"). A learned combination is the remaining way to use them together:
a classifier that predicts, from a run's label-free record, whether its transfer model ends
more than a point below target-only (the issue's worst-case target), trained on the *other*
pairs' runs, whose target labels say which of those ended below. This is how a
transferability predictor would be meta-learned across tasks (e.g. Ying, Zhang, Huang &
Yang, "Transfer learning via learning to transfer", ICML 2018).

The features (:data:`FEATURES`) are read from each run's record and use no target label:
the final and reference scores, the margin and its calibration, the correspondence and
structural-similarity statistics, the class agreement and the four label-free diagnostics
of the unguarded run's partition minus the reference's. The classifier is a standardised
logistic regression. It is evaluated leaving one *base pair* out at a time (a true pair
with every case constructed on it: ``office_C->W`` with ``office_C->W_mixed9_disjoint``,
``_permuted``, ...), so every run is judged by a guard that never saw a run of its pair.

The learned guard adds fallbacks to the monitor: a run the monitor kept falls back (guarded
ACC = target-only, exact, as in ``scripts/guard_tradeoff.py``) when its predicted chance of
ending below is above a threshold ``t``; the monitor's own flags stand. Printed per ``t``:
the issue's four targets and the runs that end more than a point below target-only.

    python scripts/learned_guard.py --issue-kinds experiments/records/*.jsonl

Target labels enter only as the recorded ACCs: as the training labels of the held-in pairs
and to score the guard on the held-out one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dtc._validation import user_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guard_tradeoff import line
from negative_transfer import (
    CASE_SETS,
    add_issue_kinds_argument,
    below,
    case_differences,
    of_the_issues_kinds,
    read_runs_file,
)
from seeds_per_case import pooled_runs

from dtc._entry import run_script

#: Thresholds on the predicted chance of ending below; 1 keeps the monitor as run.
THRESHOLDS = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05)
_DIAGNOSTICS = ("silhouette", "knn_agreement", "calinski_harabasz", "davies_bouldin")


def _get(record: dict | None, key: str, missing: float, undefined: float = 0.0) -> float:
    """``record[key]`` as a float: ``missing`` where the check did not run (None),
    ``undefined`` where it ran and gave NaN (the structural similarity of a source whose
    split halves anti-correlate, which the monitor flags as noisy)."""
    value = (record or {}).get(key)
    if value is None:
        return missing
    return float(value) if np.isfinite(value) else undefined


def features(row: dict) -> list[float]:
    """The label-free features ``(len(FEATURES),)`` of one recorded run. A check that did not
    run gets the value that would pass it (similarity 1, agreement 1, p-value 0)."""
    corr, cal = row.get("correspondence"), row.get("calibration")
    score = row["final_score"]
    out = [
        (row["reference_score"] if score is None else score) - row["reference_score"],
        row["margin"],
        _get(cal, "restart_spread", 0.0),
        _get(cal, "source_bias", 0.0),
        _get(cal, "resolution", 0.0),
        _get(corr, "statistic", 0.0),
        _get(corr, "p_value", 0.0),
        _get(corr, "similarity", 1.0),
        _get(corr, "signal_ratio", 1.0),
        _get(corr, "reliability_source", 0.0),
        _get(corr, "reliability_target", 0.0),
        _get(row.get("class_agreement"), "agreement", 1.0),
        float(score is None),
    ]
    out += [row["diagnostics"][name][0] - row["diagnostics"][name][1] for name in _DIAGNOSTICS]
    return out


FEATURES = (
    "final - reference score",
    "margin",
    "restart spread",
    "source bias",
    "resolution",
    "correspondence statistic",
    "correspondence p-value",
    "structural similarity",
    "signal ratio",
    "source reliability",
    "target reliability",
    "class agreement",
    "collapsed",
    # the harness's diagnostics score unguarded DTC's partition, not the guarded run's
    # transfer partition (they differ where rollback restored a checkpoint); the name is
    # kept, as experiments/learned_guard.json was frozen with it
    *(f"{name} (transfer - reference)" for name in _DIAGNOSTICS),
)


def base_pair(case: str) -> str:
    """The true pair a case is built on, as the harness's case tables name it
    (:data:`negative_transfer.CASE_SETS`): ``office_C->W_mixed9_disjoint`` ->
    ``office_C->W``, ``digits_s33_from_dslr`` -> ``digits_s33``, ``usps_permuted`` ->
    ``mnist->usps``. ``ValueError`` for a case no table holds."""
    if case not in BASE_PAIRS:
        raise ValueError(f"{case!r} is a case of no case set of scripts/negative_transfer.py")
    return BASE_PAIRS[case]


def _base_pairs() -> dict[str, str]:
    """Case -> base pair over every case set: a pair as it is is its own base."""
    out = {}
    for bases, positive, negative, _ in CASE_SETS.values():
        out.update((name, name) for name, *_ in bases)
        out.update((name, base) for name, base, *_ in [*(positive or []), *negative])
    return out


BASE_PAIRS = _base_pairs()


def held_out_chances(rows: list[dict], C: float = 1.0) -> np.ndarray:
    """Each run's predicted chance ``(n,)`` that its transfer model ends more than a point
    below target-only, from a logistic regression fitted on the runs of every other base
    pair. A fold whose training runs hold one outcome only predicts that outcome."""
    X = np.array([features(r) for r in rows], dtype=float)
    y = np.array([below(r, "acc_transfer") for r in rows])
    groups = np.array([base_pair(r["case"]) for r in rows])
    if np.unique(groups).size < 2:  # no other pair to fit on: an IndexError before
        raise ValueError(
            "held-out chances need runs of at least two base pairs, got "
            + (f"only {groups[0]}" if groups.size else "no runs")
        )
    chances = np.empty(len(rows))
    for group in np.unique(groups):
        test = groups == group
        if np.unique(y[~test]).size < 2:
            chances[test] = float(y[~test][0])
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        chances[test] = model.fit(X[~test], y[~test]).predict_proba(X[test])[:, 1]
    return chances


def with_guard(rows: list[dict], chances: np.ndarray, threshold: float) -> list[dict]:
    """``rows`` as the learned guard at ``threshold`` ends them: a run the monitor kept
    falls back when its chance is above ``threshold``; the others as recorded."""
    return [
        {**r, "flagged": True, "fell_back": True, "acc_guarded": r["acc_target_only"]}
        if not r["flagged"] and p > threshold
        else r
        for r, p in zip(rows, chances)
    ]


def fit_guard(rows: list[dict], C: float = 1.0) -> dict:
    """The guard fitted on every run of ``rows``, frozen as plain numbers (a JSON object):
    the features' names, the standardisation's means and scales, the weights and intercept."""
    X = np.array([features(r) for r in rows], dtype=float)
    y = np.array([below(r, "acc_transfer") for r in rows])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000)).fit(X, y)
    scaler, logistic = model[0], model[1]
    return {
        "features": list(FEATURES),
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "weights": logistic.coef_[0].tolist(),
        "intercept": float(logistic.intercept_[0]),
        "C": C,
        "n_runs": len(rows),
    }


def frozen_chances(guard: dict, rows: list[dict]) -> np.ndarray:
    """Each run's chance ``(n,)`` of ending below under the frozen ``guard``
    (:func:`fit_guard`). ``ValueError`` when it was frozen with other features, or is not
    a guard: with NaN weights every chance was NaN, below no threshold, and the guard
    silently never acted (a list, or a missing key, gave a traceback)."""
    if not isinstance(guard, dict):
        raise ValueError(f"expected a JSON object (a guard), got {type(guard).__name__}")
    if guard.get("features") != list(FEATURES):
        raise ValueError(f"the guard was frozen with features {guard.get('features')}")
    for key in ("mean", "scale", "weights"):
        value = np.asarray(guard.get(key), dtype=float)
        if value.shape != (len(FEATURES),) or not np.isfinite(value).all():
            raise ValueError(
                f"{key}: expected {len(FEATURES)} finite numbers, got {guard.get(key)!r}"
            )
    if not (np.asarray(guard["scale"], dtype=float) > 0).all():
        raise ValueError(f"scale: expected positive numbers, got {guard['scale']!r}")
    intercept = guard.get("intercept")
    if (
        isinstance(intercept, bool)
        or not isinstance(intercept, (int, float))
        or not np.isfinite(intercept)
    ):
        raise ValueError(f"intercept: expected a finite number, got {intercept!r}")
    X = np.array([features(r) for r in rows], dtype=float)
    z = (X - np.asarray(guard["mean"])) / np.asarray(guard["scale"])
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(guard["weights"]) + guard["intercept"])))


def guard_line(name: str, rows: list[dict]) -> str:
    """:func:`guard_tradeoff.line` and the worst case's guarded - target-only averaged over
    its runs (the per-case reading of the worst-case target), in points."""
    _, diffs = case_differences(rows)
    return f"{line(name, rows)}  worst case mean {min(np.mean(d) for d in diffs.values()):+5.1f}"


def record_set(path) -> str:
    """The record set a run file belongs to: its name up to the first ``_``
    (``fresh11_more_s12.jsonl`` -> ``fresh11``)."""
    return Path(path).name.split("_")[0]


def set_rows(paths, chances: dict, issue_kinds: bool) -> dict[str, list[dict]]:
    """Record set -> its runs (:func:`record_set`; a run shared by two files of a set counted
    once), each with its ``chance`` from ``chances`` ((case, seed) -> chance)."""
    sets: dict[str, dict] = {}
    for path in paths:
        runs = sets.setdefault(record_set(path), {})
        for r in read_runs_file(path):
            if not issue_kinds or of_the_issues_kinds(r):
                runs[(r["case"], r["seed"])] = {**r, "chance": chances[(r["case"], r["seed"])]}
    return {name: list(runs.values()) for name, runs in sets.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="--json / --out files of scripts/negative_transfer.py")
    ap.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (default 1)")
    which = ap.add_mutually_exclusive_group()  # --model was ignored next to --fit
    which.add_argument(
        "--fit", metavar="FILE", help="fit the guard on every run and write it to FILE"
    )
    which.add_argument(
        "--model", metavar="FILE", help="judge the runs with the guard frozen in FILE (--fit)"
    )
    ap.add_argument("--by-set", action="store_true", help="and each record set's runs apart")
    add_issue_kinds_argument(ap)
    args = ap.parse_args(argv)
    if not args.C > 0:  # scikit-learn's InvalidParameterError traceback, after the reading
        ap.error(f"--C: expected a number > 0, got {args.C}")
    try:
        rows = pooled_runs(args.runs, issue_kinds=args.issue_kinds)
    except ValueError as exc:
        ap.error(str(exc))
    if not rows:  # an IndexError or scikit-learn's "Expected 2D array" before
        ap.error(
            "no runs to judge"
            + (" (--issue-kinds drops the *_matched cases)" if args.issue_kinds else "")
        )
    missing = [r["case"] for r in rows if "acc_transfer" not in r or "final_score" not in r]
    if missing:
        ap.error(f"runs without acc_transfer/final_score (older harness output): {missing[:3]}")
    try:  # a case of no case set (base_pair), a model of other features: named, one line
        if args.fit:
            guard = json.dumps(fit_guard(rows, C=args.C), indent=1) + "\n"
            try:  # a missing folder, a directory: was a traceback after the fit
                user_path(args.fit).write_text(guard)
            except OSError as exc:
                ap.error(f"--fit: {args.fit}: {exc.strerror or exc}")
            print(f"fitted on {len(rows)} runs, written to {args.fit}")
            return 0
        if args.model:
            try:
                model = json.loads(user_path(args.model).read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                ap.error(f"--model: {exc}")
            chances = frozen_chances(model, rows)
            print(f"{len(rows)} runs, judged by the guard frozen in {args.model}")
        else:
            chances = held_out_chances(rows, C=args.C)
    except ValueError as exc:
        ap.error(str(exc))
    if not args.model:
        pairs = len({base_pair(r["case"]) for r in rows})
        print(
            f"{len(rows)} runs of {pairs} base pairs, each judged by a guard fitted on the others"
        )
    for threshold in THRESHOLDS:
        name = "the monitor as run" if threshold >= 1 else f"learned guard, t = {threshold:.2f}"
        print(guard_line(name, with_guard(rows, chances, threshold)))
    if args.by_set:
        by_run = {(r["case"], r["seed"]): p for r, p in zip(rows, chances)}
        for name, runs in set_rows(args.runs, by_run, args.issue_kinds).items():
            print(f"{name} ({len(runs)} runs):")
            for threshold in THRESHOLDS[1:]:
                guarded = with_guard(runs, np.array([r["chance"] for r in runs]), threshold)
                print(guard_line(f"  t = {threshold:.2f}", guarded))
    return 0


if __name__ == "__main__":
    run_script(main)
