"""Can a label-free judge tell which target partition is more accurate, the transfer's or
the target-only reference's? A study of the negative-transfer monitor's open problem.

The monitor's score (k-NN agreement in the target's features) cannot resolve losses of
less than 10 to 80 ACC points on SURF (README, rule #14), and it favours the reference's
partition wherever it can. Here a *judge* is any third partition ``J`` ``(n_t,)`` of the
target, and its verdict on a run is the difference of its Hungarian agreement with the
two partitions, ``agree(J, transfer) - agree(J, reference)`` in points: with three
partitions whose errors are independent given the true classes, the one a third agrees
with more is the more accurate (the idea of estimating accuracy from agreement on
unlabelled data: Platanios, Blum & Mitchell, UAI 2014). The judges:

* ``kmeans``: K-means on the standardised target (the target's geometry alone);
* ``source_names``: the source classifier's classes of the target rows
  (:func:`dtc.monitor.class_agreement.source_names`; the source's labels alone);
* ``tca``, ``jda``, ``sa``: the shallow transfer clusterings of ``baselines/`` (TCA, Pan et
  al., IEEE TNN 2011; JDA, Long et al., ICCV 2013; subspace alignment, Fernando et al.,
  ICCV 2013), each with its defaults;
* ``reverse``: reverse validation (Zhong et al., ECML PKDD 2010), not an agreement: a
  logistic regression learns each partition on the target and classifies the labelled
  source; its verdict is the difference of the two source ACCs.

Target labels are used only to evaluate the judges: each run's true difference
``ACC(transfer) - ACC(reference)``, the correlation of a verdict with it, and what a judge
would do on top of the monitor (flag a run the monitor kept when the verdict is below a
threshold) against the issue's targets. Nothing here is chosen: the thresholds are a fixed
grid and the monitor's defaults are untouched.

Reads the partitions the harness saves (both seeds in one directory), then loads each
case's data for the judges and the labels:

    python scripts/negative_transfer.py --fresh5 --json --seed 0 --save-partitions parts > f5_s0.jsonl
    python scripts/negative_transfer.py --fresh5 --json --seed 1 --save-partitions parts > f5_s1.jsonl
    python scripts/partition_judges.py parts

``--by-case`` ranks the runs of each case (one per training seed) instead: how well each
judge orders them, how many a threshold on its verdict, chosen per case with the labels,
must fall back on to catch every run the monitor left more than a point below target-only
(the bound of ``scripts/case_level_bound.py`` with a judge in place of the monitor's score),
and what keeping the run a judge prefers among three seeds gives. The monitor's own score
(final minus the reference's) is a judge there when the harness saved it with the runs:

    python scripts/negative_transfer.py --cases "office_A->W,mnist->usps" --json --seed 4 \\
        --save-partitions parts3   # and --seed 5 to 15; office_W->A with --fresh10
    python scripts/partition_judges.py --by-case parts3

``--out FILE`` keeps each run's verdicts as they finish (the judges' fits take ~13 minutes
over a fresh set): run the same command again after an interruption and only the runs not
in FILE are judged (a run is known by its case, seed and the bytes of its saved file).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from case_level_bound import catching
from negative_transfer import (
    add_out_argument,
    all_cases,
    below,
    below_in_points,
    emit,
    measures,
    resume_units,
)

from baselines.jda import JDA
from baselines.subspace_alignment import SubspaceAlignment
from baselines.tca import TCA
from dtc._entry import run_script
from dtc.data import resolve_data_dir
from dtc.experiment.store import exit_on_interrupt
from dtc.metrics import cluster_acc
from dtc.monitor.class_agreement import CLASSIFIER_C, source_names

JUDGES = ("kmeans", "source_names", "tca", "jda", "sa", "reverse")
THRESHOLDS = (-20.0, -10.0, -5.0, 0.0)  # points; a fixed grid, nothing is chosen on it
CLEAR = 3.0  # points: the true differences a judge should get the sign of
BEST_OF = 3  # seeds a researcher trains to keep the one a judge prefers, as in 3 restarts


def read_partitions(directory) -> list[dict]:
    """The runs saved by ``negative_transfer.py --save-partitions`` in ``directory``."""
    runs = []
    # not the hidden temporary file of a run still saving its partitions
    for path in sorted(p for p in Path(directory).glob("*.npz") if not p.name.startswith(".")):
        with np.load(path, allow_pickle=False) as z:
            runs.append({key: z[key] for key in z.files})
        # the run as judged: another save under the same name is another run
        runs[-1]["file_sha"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    if not runs:
        raise SystemExit(f"no saved partitions (*.npz) in {directory}")
    for run in runs:
        for key in ("case", "kind", "case_set"):
            run[key] = str(run[key])
        run["seed"], run["flagged"] = int(run["seed"]), bool(run["flagged"])
        # the monitor's own verdict: its final score minus the reference's (NaN in runs
        # saved before the harness kept the scores)
        run["score"] = float(run.get("final_score", np.nan) - run.get("reference_score", np.nan))
    return runs


def judge_partitions(pair, seed: int) -> dict[str, np.ndarray]:
    """Every agreement judge's partition ``(n_t,)`` of ``pair``'s target."""
    k = pair.n_clusters
    Xs, ys, Xt = pair.source.X, pair.source.y, pair.target.X
    return {
        "kmeans": KMeans(k, n_init=10, random_state=seed).fit_predict(
            StandardScaler().fit_transform(Xt)
        ),
        "source_names": source_names(Xs, ys, Xt),
        "tca": TCA(k, seed=seed).fit(pair).labels_,
        "jda": JDA(k, seed=seed).fit(pair).labels_,
        "sa": SubspaceAlignment(k, seed=seed).fit(pair).labels_,
    }


def reverse_accuracy(Zt, Zs, ys, labels) -> float:
    """Reverse validation: the source ACC of a classifier learned on the target partition
    ``labels`` ``(n_t,)``; ``Zt`` ``(n_t, d)`` and ``Zs`` ``(n_s, d)`` are the standardised
    domains, ``ys`` ``(n_s,)`` the source classes."""
    model = LogisticRegression(C=CLASSIFIER_C, max_iter=500).fit(Zt, labels)
    return cluster_acc(ys, model.predict(Zs))


def verdicts(run: dict, pair) -> dict[str, float]:
    """Each judge's verdict on ``run`` in points (> 0: the transfer's partition is better)."""
    T, R = run["transfer"], run["reference"]
    out = {
        name: 100 * (cluster_acc(J, T) - cluster_acc(J, R))
        for name, J in judge_partitions(pair, run["seed"]).items()
    }
    Zt = StandardScaler().fit_transform(pair.target.X)
    Zs = StandardScaler().fit_transform(pair.source.X)
    ys = pair.source.y
    out["reverse"] = 100 * (reverse_accuracy(Zt, Zs, ys, T) - reverse_accuracy(Zt, Zs, ys, R))
    return out


def harness_row(run: dict, y) -> dict:
    """The run as a harness row (for ``measures``): its kind, flag and ACCs."""
    return {
        "kind": run["kind"],
        "flagged": run["flagged"],
        "acc_target_only": cluster_acc(y, run["reference"]),
        "acc_unguarded": cluster_acc(y, run["unguarded"]),
        "acc_guarded": cluster_acc(y, run["guarded"]),
        "acc_transfer": cluster_acc(y, run["transfer"]),
    }


def judged(row: dict, negative: bool) -> dict:
    """``row`` flagged also when the judge finds it ``negative``: the guarded partition is
    then the reference's."""
    if not negative:
        return row
    return {**row, "flagged": True, "acc_guarded": row["acc_target_only"]}


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's correlation of ``a`` and ``b`` ``(n,)``; NaN with fewer than 3 runs or a
    constant one."""
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def table(runs: list[dict], ys: list, verdict: list[dict]) -> list[str]:
    """The judges' agreement with the truth, then the monitor with each judge on top."""
    rows = [harness_row(r, y) for r, y in zip(runs, ys)]
    truth = np.array([100 * (r["acc_transfer"] - r["acc_target_only"]) for r in rows])
    kinds = np.array([r["kind"] for r in runs])
    clear = np.abs(truth) > CLEAR
    lines = [
        f"{len(runs)} runs; |ACC(transfer) - ACC(reference)| > {CLEAR:.0f} points in {clear.sum()}",
        "judge         corr (all, positive, negative runs)   right sign where |true| > 3",
    ]
    for name in JUDGES:
        v = np.array([j[name] for j in verdict])
        corr = [
            correlation(truth[m], v[m])
            for m in (kinds != "", kinds == "positive", kinds == "negative")
        ]
        sign = np.mean(np.sign(v[clear]) == np.sign(truth[clear])) if clear.any() else np.nan
        lines.append(
            f"{name:13} {corr[0]:6.2f} {corr[1]:6.2f} {corr[2]:6.2f}                {sign:6.0%}"
        )
    lines += [
        "the monitor's flags, plus the runs whose verdict is below the threshold (points):",
        "                       mean    DET     FA   kept  worst",
    ]
    candidates = {"monitor alone": [False] * len(runs)}
    for name in JUDGES:
        for t in THRESHOLDS:
            candidates[f"{name} < {t:+.0f}"] = [j[name] < t for j in verdict]
    for label, flags in candidates.items():
        m = measures([judged(r, f) for r, f in zip(rows, flags)])
        lines.append(
            f"{label:18} {100 * m['mean']:+7.2f} {m['det']:6.1%} {m['fa']:6.1%} {m['kept']:6.0%} "
            f"{100 * m['worst']:+6.1f}"
        )
    return lines


def best_of(values, outcome, k: int) -> np.ndarray:
    """The ``outcome`` of the run a judge ranks first (highest of ``values``) in each of the
    ``C(n, k)`` sets of ``k`` among a case's ``n`` runs; ``values`` and ``outcome`` ``(n,)``.
    What a researcher who trains ``k`` seeds and keeps the one the judge prefers would get,
    over every way of drawing the ``k``; a tie goes to the first run."""
    values, outcome = np.asarray(values, dtype=float), np.asarray(outcome, dtype=float)
    subsets = np.array(list(itertools.combinations(range(values.size), k)), dtype=int)
    return outcome[subsets[np.arange(len(subsets)), values[subsets].argmax(axis=1)]]


def spread(outcome: np.ndarray) -> str:
    """``outcome`` ``(n,)`` in points: its mean and how often it is more than a point below."""
    return f"mean {outcome.mean():+5.1f}, below -1 in {np.mean(below_in_points(outcome)):4.0%}"


def by_case(runs: list[dict], ys: list, verdict: list[dict]) -> list[str]:
    """Within each case of ``BEST_OF`` runs or more (one per training seed): how well each
    judge ranks the case's runs (Spearman's rho with ACC(transfer) - ACC(reference)); what the
    lowest threshold on its verdict, chosen for the case with its labels, that catches every
    run the monitor left more than a point below target-only would fall back on, with the runs
    the monitor flagged (:func:`case_level_bound.catching`; the bound of
    ``scripts/case_level_bound.py`` with the judge in place of the monitor's score); and
    guarded - target-only of the run it prefers among ``BEST_OF`` seeds (:func:`best_of`; the
    case's header gives one seed's). Within a case a judge's lean towards one of the two
    partitions is the same for every run, so only its ranking matters. The monitor's own score
    is a judge here where the runs kept it."""
    rows = [harness_row(r, y) for r, y in zip(runs, ys)]
    lines, few = [], []
    for case in sorted({r["case"] for r in runs}):
        idx = [i for i, r in enumerate(runs) if r["case"] == case]
        if len(idx) < BEST_OF:
            few.append(f"{case} ({len(idx)})")
            continue
        truth = [100 * (rows[i]["acc_transfer"] - rows[i]["acc_target_only"]) for i in idx]
        outcome = np.array(
            [100 * (rows[i]["acc_guarded"] - rows[i]["acc_target_only"]) for i in idx]
        )
        losing = np.array([below(rows[i]) for i in idx])
        flagged = np.array([runs[i]["flagged"] for i in idx])  # fallen back already
        lines.append(
            f"{case}: {len(idx)} runs, {losing.sum()} left more than a point below; "
            f"one seed: {spread(outcome)}"
        )
        scores = [runs[i].get("score", np.nan) for i in idx]
        judges = {name: [verdict[i][name] for i in idx] for name in JUDGES}
        if np.isfinite(scores).all():
            judges["score"] = scores
        for name, v in judges.items():
            lines.append(
                f"  {name:13} rho {spearmanr(v, truth)[0]:+.2f}  ORACLE threshold (set by target labels) catching them "
                f"falls back on {int((catching(v, losing) | flagged).sum()):2d} of {len(idx)}; "
                f"best of {BEST_OF}: {spread(best_of(v, outcome, BEST_OF))}"
            )
    if few:  # said, not silent: with every case short the output was empty
        lines.append(
            f"left out, fewer than {BEST_OF} runs (one per training seed): {', '.join(few)}"
        )
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("partitions", help="the directory of --save-partitions")
    ap.add_argument("--data-dir", default=None, help="benchmark data (default: $DTC_DATA)")
    ap.add_argument(
        "--by-case",
        action="store_true",
        help="rank each case's runs (one per seed) by each judge instead of pooling them",
    )
    add_out_argument(ap, per_seed=False)  # no --seed: one FILE, all its seeds
    args = ap.parse_args(argv)
    runs = read_partitions(args.partitions)
    data_dir = resolve_data_dir(args.data_dir)
    pairs = {}
    for case_set in sorted({r["case_set"] for r in runs}):
        names = {r["case"] for r in runs if r["case_set"] == case_set}
        for name, _, load in all_cases(data_dir, names, case_set):
            pairs[case_set, name] = load()
    missing = {(r["case_set"], r["case"]) for r in runs} - set(pairs)
    if missing:
        raise SystemExit(f"saved runs of unknown cases: {sorted(missing)}")
    # a run's unit is its saved file; no option changes a verdict, the judges do
    settings = {"judges": list(JUDGES)}
    done = resume_units(ap, args.out, "unit", "run(s)", settings, ("verdicts",))
    units = [f"{r['case_set']}/{r['case']}/seed {r['seed']}/{r['file_sha']}" for r in runs]
    stale = len(set(done) - set(units))
    if stale:  # counted among the "finished" above, but no run here is theirs
        print(
            f"--out {args.out}: {stale} run(s) of partitions not in {args.partitions} (saved "
            "again, or removed) are not used",
            file=sys.stderr,
        )
    ys, verdict, kept = [], [], []
    with exit_on_interrupt(Path(__file__).name, args.out):
        for i, (run, unit) in enumerate(zip(runs, units), 1):
            pair = pairs[run["case_set"], run["case"]]
            ys.append(pair.target.y)
            if unit in done:
                verdict.append(done[unit]["verdicts"])
                continue
            verdict.append(verdicts(run, pair))
            row = {"unit": unit, "verdicts": verdict[-1], "settings": settings}
            line = f"[{i}/{len(runs)}] {run['case']} seed {run['seed']}"
            emit(kept, row, False, line, args.out, file=sys.stderr)
    print("\n".join((by_case if args.by_case else table)(runs, ys, verdict)))
    return 0


if __name__ == "__main__":
    run_script(main)
