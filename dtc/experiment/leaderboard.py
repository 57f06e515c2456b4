"""The alignment-loss leaderboard: DTC with each loss on one fixed protocol.

The protocol (benchmark pairs, seeds, DTC's parameters and epoch budget) is the
config ``dtc/experiment/bench_losses.yaml`` (:data:`PROTOCOL`, shipped with the package); its single method entry is the template
every loss is plugged into as DTC's ``loss`` parameter. Losses are registry names
(``dtc.align.available()``), ``"package.module:Class"`` strings, or ``none`` (no
alignment). Results go through the grid runner, so they are resumable and a
loss benchmarked once is not run again for the next leaderboard in the same folder.

Only a loss with every run of the protocol is ranked: its score per seed is the mean
over the protocol's pairs (the protocol mean), and ``acc +- acc_std`` is the mean and
sample std of those over seeds, as in the reports' family means. A loss with a failed
run is listed after the ranked ones as incomplete, without scores: a mean over the
pairs it happened to finish is not comparable.

``quick=True`` keeps the protocol's template but runs the digits default with one
seed: a smoke test of a new loss in about a minute, not a result to publish.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path

import numpy as np

from dtc._validation import user_path
from dtc.experiment.config import (
    ExperimentConfig,
    Task,
    default_out_dir,  # results/<protocol name> (_quick added), as for dtc run: $DTC_RESULTS
    expand,
    load_config,
    read_yaml_mapping,
)
from dtc.experiment.report import record_problem, score_text, unique_runs
from dtc.experiment.runner import run_experiment, split_by_tasks, unique_tasks
from dtc.experiment.single import platform_text
from dtc.experiment.store import read_records, recorded_number

__all__ = [
    "PROTOCOL",
    "QUICK",
    "bench_losses",
    "default_out_dir",
    "leaderboard_config",
    "mixed_code",
    "mixed_platforms",
    "rank",
]

# Package data (pyproject.toml): beside this module, so that an installed dtc (no source
# tree, no experiments/ folder) finds it too.
PROTOCOL = Path(__file__).resolve().parent / "bench_losses.yaml"
QUICK = {"benchmarks": [{"benchmark": "digits", "data": {"shift": 0.5}}], "seeds": [0]}
NO_LOSS = "none"


def _load_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"leaderboard protocol {str(path)!r} not found")
    # named after its file when it names itself nothing, as a config file is
    return read_yaml_mapping(path, f"leaderboard protocol {str(path)!r}")


def leaderboard_config(losses, *, quick: bool = False, protocol=None) -> ExperimentConfig:
    """The validated config: one method entry per loss, labelled by the loss."""
    losses = [s.strip() for s in losses if s and s.strip()]
    if not losses:
        raise ValueError("--losses: expected at least one loss name, e.g. mmd,coral")
    if len(set(losses)) != len(losses):
        raise ValueError(f"--losses: a loss is named twice in {losses}")
    from dtc import align  # torch: imported only when a leaderboard is built

    for loss in (name for name in losses if name != NO_LOSS):
        try:
            align.get_class(loss)
        except ValueError as exc:
            # the registry's hint on "no loss" ends an unknown name's error, not an import's
            hint = "" if ":" in loss else f"; in --losses it is {NO_LOSS}"
            raise ValueError(f"--losses: {exc}{hint}") from exc
    path = user_path(protocol or PROTOCOL)
    raw = _load_yaml(path)
    templates = raw.get("methods") or {}
    if not isinstance(templates, dict) or len(templates) != 1:
        raise ValueError(
            f"leaderboard protocol: expected exactly one method entry (the DTC template), "
            f"got {list(templates)}"
        )
    (template,) = templates.values()
    if not isinstance(template, dict):
        raise ValueError(f"leaderboard protocol: the template must be a mapping, got {template!r}")
    if template.get("grid"):
        # rank() averages a loss over its tasks: grid points would be averaged together,
        # and a grid over 'loss' would override the loss each row stands for.
        raise ValueError(
            "leaderboard protocol: the template has a grid "
            f"({sorted(template['grid'])}); a leaderboard ranks every loss at one setting: "
            "fix the grid's values in params, or sweep it with `dtc run` and `dtc report`"
        )
    # (what is no mapping here, load_config refuses below, naming it)
    per_benchmark = template.get("benchmark_params") or {}
    per_benchmark_items = list(per_benchmark.items()) if isinstance(per_benchmark, dict) else []
    sets_loss = [
        where
        for where, params in [("params", template.get("params")), *per_benchmark_items]
        if isinstance(params, dict) and "loss" in params
    ]
    if sets_loss:
        # each row's loss replaced it without a word (and params won over benchmark_params)
        raise ValueError(
            f"leaderboard protocol: the template sets loss (in {', '.join(sets_loss)}); each "
            "row's loss is the one --losses names: remove it from the template"
        )
    if quick and isinstance(per_benchmark, dict):
        # the quick protocol's benchmarks only: the others' parameters reach no run
        kept = {b["benchmark"] for b in QUICK["benchmarks"]}
        template = {
            **template,
            "benchmark_params": {b: v for b, v in per_benchmark.items() if b in kept},
        }
    # The whole entry (benchmark_params, data too); only the loss is each row's own.
    raw["methods"] = {
        loss: {
            **copy.deepcopy(template),
            "method": template.get("method", "dtc"),
            "params": {
                **(template.get("params") or {}),
                "loss": None if loss == NO_LOSS else loss,
            },
        }
        for loss in losses
    }
    if quick:
        raw.update(QUICK, name=f"{raw.get('name', 'bench_losses')}_quick")
    # named as its file: a typo in it was "config: config: unknown key 'sedes'"
    return load_config(raw, name=f"leaderboard protocol {str(path)!r}")


def rank(records: list[dict], tasks: list[Task]) -> list[dict]:
    """One row per loss (label) of ``tasks``, the protocol's expansion: the complete
    losses first, best mean ACC first, then the incomplete ones in protocol order.

    A row has ``loss``, ``complete``, ``n_runs`` (records found) and ``n_tasks`` (runs
    of the protocol); a complete row also ``acc`` and ``nmi`` (the mean over seeds of the
    per-seed protocol means), ``acc_std`` (their sample std over seeds, ``None`` for one
    seed), ``n_seeds``, ``seconds_per_epoch`` (the mean over its runs, ``None`` without
    epochs), ``rank`` (shared by losses whose ACC reads the same to one decimal in
    percent) and ``separated`` (whether its ACC is below that of each row of the rank just
    above its own by more than the seed noise: the mean per-seed difference above twice
    its standard error; ``False`` with one seed; ``None`` for the rows of the first rank;
    a row tied with the one listed before it is judged as that row is). Twice
    the standard error is a loose bar with a protocol's few seeds (a t-test at 3 seeds
    would ask 4.3 times): a lead it calls separated may still be noise, one it does not
    is certainly not shown. An incomplete row has ``None`` there. A complete row whose
    ACC is NaN follows the ranked ones with ``rank`` and ``separated`` ``None``. Scores
    are fractions.
    """
    by_id = {r["run_id"]: r for r in unique_runs(split_by_tasks(records, tasks)[0])}
    for r in by_id.values():
        # the protocol's records (the runner's: others in the folder are not read): a
        # record edited without a score was a KeyError
        missing = [m for m in ("acc", "nmi") if m not in r["metrics"]]
        if missing:
            raise ValueError(f"run {r['run_id']} ({r.get('label')}) has no {missing[0]!r} metric")
    protocol: dict[str, list[Task]] = defaultdict(list)
    # a task listed twice (a pair named twice in the protocol) is one run, as the runner has it
    for task in unique_tasks(tasks):
        protocol[task.label].append(task)
    ranked, incomplete = [], []
    per_seed: dict[str, dict] = {}  # loss -> seed -> protocol mean ACC
    for loss, its in protocol.items():
        mine = [by_id[t.run_id] for t in its if t.run_id in by_id]
        row = {
            "loss": loss,
            "complete": len(mine) == len(its),
            "n_runs": len(mine),
            "n_tasks": len(its),
        }
        # Built-in losses are known by their names and parameters only: a folder can hold
        # their runs from older code of dtc. Which code made each row's runs is kept, so a
        # leaderboard mixing them can say so (:func:`mixed_code`).
        row["dtc_source"] = sorted(
            {r.get("versions", {}).get("dtc_source", "unknown") for r in mine}
        )
        row["platforms"] = sorted({platform_text(r) for r in mine})  # :func:`mixed_platforms`
        if not row["complete"]:
            scores = dict.fromkeys(("acc", "acc_std", "n_seeds", "nmi", "seconds_per_epoch"))
            incomplete.append({**row, **scores, "rank": None, "separated": None})
            continue
        per_seed[loss] = _per_seed_means(mine, "acc")
        acc, nmi = list(per_seed[loss].values()), list(_per_seed_means(mine, "nmi").values())
        spe = [r["seconds_per_epoch"] for r in mine if r.get("seconds_per_epoch") is not None]
        ranked.append(
            {
                **row,
                "acc": float(np.mean(acc)),
                "acc_std": float(np.std(acc, ddof=1)) if len(acc) > 1 else None,
                "n_seeds": len(acc),
                "nmi": float(np.mean(nmi)),
                "seconds_per_epoch": float(np.mean(spe)) if spe else None,
            }
        )
    # Best first; a tie of the shown value keeps the protocol's order, so a rank is shared
    # rather than won by whoever was listed first. A NaN ACC (a score a run could not
    # compute) is no score: it would sort anywhere and take any rank, so it is listed
    # after the ranked losses, unranked.
    unscored = [row for row in ranked if not np.isfinite(row["acc"])]
    ranked = [row for row in ranked if np.isfinite(row["acc"])]
    # ranked by the value shown, rounded as the tables round it (dtc report's too)
    ranked.sort(key=lambda row: -float(score_text(100 * row["acc"])))
    for row in unscored:
        row.update(rank=None, separated=None)
    for i, row in enumerate(ranked):
        above = ranked[i - 1] if i else None
        tied = above is not None and score_text(100 * above["acc"]) == score_text(100 * row["acc"])
        row["rank"] = above["rank"] if tied else i + 1
    for row in ranked:
        # Every row of a rank below the first is judged against every row of the rank just
        # above its own: a row tied with the one listed before it was not judged at all, so
        # which of a tied group got its "≈" depended on the order of --losses.
        higher = [r["rank"] for r in ranked if r["rank"] < row["rank"]]
        if not higher:
            row["separated"] = None
            continue
        group = [r for r in ranked if r["rank"] == max(higher)]
        row["separated"] = all(
            _separated(per_seed[r["loss"]], per_seed[row["loss"]]) for r in group
        )
    return ranked + unscored + incomplete


def mixed_code(rows: list[dict]) -> list[str]:
    """The ``dtc_source`` values (:func:`dtc.experiment.single.dtc_source_hash`) of the
    runs behind ``rows`` (:func:`rank`) when there are several, else ``[]``: the runs were
    made by different code of dtc, and built-in losses are not re-run when it changes."""
    codes = sorted({c for row in rows for c in row.get("dtc_source", [])})
    return codes if len(codes) > 1 else []


def mixed_platforms(rows: list[dict]) -> list[str]:
    """Where the runs behind ``rows`` (:func:`rank`) were made
    (:func:`dtc.experiment.single.platform_text`) when in several places, else ``[]``: a
    kept folder's runs may come from other CPU kernels, another CPU or thread count, and
    deep fits' figures differ between them."""
    places = sorted({p for row in rows for p in row.get("platforms", [])})
    return places if len(places) > 1 else []


def _separated(better: dict, worse: dict) -> bool:
    """Whether the lead of ``better`` over ``worse`` (seed -> protocol mean ACC) exceeds the
    seed noise: the per-seed differences (both run on the same seeds and pairs, so paired)
    have a mean above twice their standard error. With one seed there is no noise
    estimate: never separated."""
    seeds = sorted(set(better) & set(worse))
    if len(seeds) < 2:
        return False
    d = np.array([better[s] - worse[s] for s in seeds])
    se = d.std(ddof=1) / np.sqrt(len(d))
    return bool(d.mean() > 2 * se)


def _per_seed_means(records: list[dict], metric: str) -> dict:
    """The protocol mean of ``metric`` for each seed (the mean over its pairs), by seed."""
    per_seed = defaultdict(list)
    for r in records:
        per_seed[r["seed"]].append(recorded_number(r["metrics"][metric]))
    return {seed: float(np.mean(v)) for seed, v in per_seed.items()}


def bench_losses(
    losses, *, out_dir=None, quick: bool = False, protocol=None, **run_options
) -> tuple[list[dict], object]:
    """Run the protocol for every loss; return ``(ranked rows, sweep summary)``.

    ``run_options`` go to :func:`~dtc.experiment.runner.run_experiment` (``jobs``,
    ``backend``, ``data_dir``, ``progress`` ...).
    """
    config = leaderboard_config(losses, quick=quick, protocol=protocol)
    return run_leaderboard(config, out_dir, **run_options)


def run_leaderboard(config: ExperimentConfig, out_dir=None, **run_options):
    """Run a built leaderboard ``config`` (:func:`leaderboard_config`) into ``out_dir``
    (default :func:`default_out_dir`); return ``(ranked rows, sweep summary)``."""
    summary = run_experiment(config, out_dir or default_out_dir(config), **run_options)
    # Only this protocol's runs count, should the folder hold runs of another one. Read as
    # dtc report reads them: a score edited into text ("0.95") ranked its loss first.
    records = read_records(summary.results_path, check=record_problem)
    return rank(records, expand(config)), summary
