"""The grid runner: expand a config, skip finished runs, run the rest, append results.

``<out>/results.jsonl`` gets one line per finished run, written atomically by this
(the parent) process; ``<out>/errors.jsonl`` one line per failed run, the last failure of
each run not finished since (failed runs are retried by the next invocation). Resuming
is by ``run_id``: a sweep killed at any point (even ``kill -9``) and started again runs
only what is missing, and never writes a run twice. A lock on ``<out>/.lock`` stops two
sweeps writing one folder.

A ``run_id`` hashes the configuration as written, so a default that changed in the code
since a run was recorded would leave that run's stale result in the folder, and in the
tables. Each record also holds the method's resolved parameters; a finished run whose
recorded parameters differ from those its configuration resolves to now is moved to
``<out>/stale.jsonl`` (kept for comparison) and run again. So is a run that lacks a
metric its task asks for (``metrics: [imbalance]`` added to the config), a run whose
recorded data fingerprint (``data_sha``) differs from that of the data its configuration
loads now (a loader's default, the preprocessing or a data file changed), and a run that
sits where a task of the config now sits (same config, row, grid point, pair, data and
seed) under another ``run_id``: the row's method or parameters were edited in the config.

Runs of the config that its current expansion no longer has (a seed or a row removed)
stay in the file, since another invocation may want them; the sweep names them on
stderr, and ``dtc report --config`` leaves them out of the tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dtc import data, methods
from dtc._validation import user_path
from dtc.experiment.backends import check_backend, check_workers_can_import, run_tasks
from dtc.experiment.config import EXTRA_METRICS, ExperimentConfig, Task, expand, result_params
from dtc.experiment.report import record_problem
from dtc.experiment.single import (
    canonical_data_params,
    configured_method,
    data_fingerprint,
    describe_params,
    load_spec_pair,
)
from dtc.experiment.store import (
    append_record,
    finite_values,
    locked_file,
    read_records,
    set_aside,
    write_records,
)

__all__ = [
    "RESULTS_FILE",
    "STALE_FILE",
    "SweepSummary",
    "describe_records",
    "run_experiment",
    "split_by_tasks",
    "unique_tasks",
]

RESULTS_FILE = "results.jsonl"
STALE_FILE = "stale.jsonl"
ERRORS_FILE = "errors.jsonl"


@dataclass
class SweepSummary:
    """What one invocation did: ``total`` runs in the grid, ``skipped`` (already
    finished), ``stale`` (finished under other resolved parameters or method, or
    without a metric the config asks for: set aside and run again),
    ``finished`` now, ``errors`` (``(run_id, label, message)``) and ``outside``
    (records of this config's name that its current expansion no longer has)."""

    out_dir: Path
    total: int
    skipped: int = 0
    stale: int = 0
    finished: int = 0
    outside: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def results_path(self) -> Path:
        """The JSON-lines file of the sweep's run records."""
        return self.out_dir / RESULTS_FILE


def split_by_tasks(records: list[dict], tasks: list[Task]) -> tuple[list[dict], list[dict]]:
    """``(records of tasks, the others)``, matched by ``run_id``, order kept: what a
    config's current expansion holds, and what it does not (other configs, removed
    seeds or rows)."""
    ids = {t.run_id for t in tasks}
    ours = [r for r in records if r.get("run_id") in ids]
    return ours, [r for r in records if r.get("run_id") not in ids]


def describe_records(records: list[dict]) -> str:
    """``"4 record(s) (labels: A, B; seeds: 0, 3)"``, for messages about a set of records."""
    labels = ", ".join(sorted({str(r.get("label", r.get("method"))) for r in records}))
    seeds = ", ".join(str(s) for s in sorted({r["seed"] for r in records if "seed" in r}))
    return f"{len(records)} record(s) (labels: {labels}; seeds: {seeds})"


@contextlib.contextmanager
def _lock(out_dir: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, one sweep per folder is on the user
        yield
        return
    # "a+", not "w": opened before the lock is tried, "w" emptied the holder's line
    with (out_dir / ".lock").open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip()
            who = f" ({holder})" if holder else ""
            raise RuntimeError(
                f"another sweep{who} is writing {str(out_dir)!r}; wait for it or use another --out"
            ) from exc
        # who holds it, for a second sweep's error (an array job's tasks, another terminal)
        fh.seek(0)
        fh.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        fh.write(f"process {os.getpid()} on {socket.gethostname()}, since {started}\n")
        fh.flush()
        yield  # the kernel drops the lock when the process dies, even on kill -9


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
        # rich would otherwise swap sys.stdout for its console (stderr here) while the bar
        # is live: `dtc run CONFIG --json` printed its records to a terminal's stderr
        redirect_stdout=False,
        redirect_stderr=False,
    )


def run_experiment(
    config: ExperimentConfig,
    out_dir,
    *,
    jobs: int = 1,
    backend: str = "local",
    address: str | None = None,
    data_dir=None,
    progress: bool | None = None,
    on_record: Callable[[dict], None] | None = None,
    mlflow: bool = False,
) -> SweepSummary:
    """Run every unfinished task of ``config`` into ``out_dir`` and return a summary.

    ``on_record`` is called with each new record after it is stored (the CLI prints
    JSON with it); ``mlflow=True`` also logs each run to MLflow (optional extra).
    ``progress`` defaults to showing a bar when stderr is a terminal, and otherwise a line
    on stderr per run that ended; ``False`` shows neither, ``True`` the bar.
    """
    out_dir = user_path(out_dir)
    # a missing extra (ray, mlflow) is an error before the output folder is made
    check_backend(backend, jobs)
    mlflow_module = _import_mlflow() if mlflow else None
    tasks = expand(config)
    check_workers_can_import(tasks, jobs, backend)
    # a new sweep that cannot read its data stops before making its folder (it left an
    # empty one); a resumed one checks only the runs still to do, below
    checked = backend == "local" and not out_dir.exists()
    if checked:
        _check_data_files(tasks, data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # a grid value or pair given twice expands to one run_id twice: it is one run, and
    # counting both told a fresh sweep that half of it was "already done"
    summary = SweepSummary(out_dir, total=len(unique_tasks(tasks)))
    logger = _mlflow_logger(mlflow_module, out_dir, config.name) if mlflow else None
    with _lock(out_dir), _errors_pruned(out_dir, tasks):
        records, summary.stale = _set_aside_stale(out_dir, tasks, data_dir)
        summary.outside = _name_outside(out_dir, records, config.name, tasks)
        done = {r["run_id"] for r in records if "run_id" in r}
        todo = unique_tasks([t for t in tasks if t.run_id not in done])
        summary.skipped = summary.total - len(todo)
        if backend == "local" and not checked:  # a Ray cluster's workers read their own copy
            _check_data_files(todo, data_dir)
        show = sys.stderr.isatty() if progress is None else progress
        # stderr to a file (nohup, a batch job's log): no bar, but a line per run, so a
        # long sweep's log still says how far it got
        log_lines = progress is None and not show
        data_keys = _varying_data(tasks)
        with _progress(show) as bar:
            # the bar's description is markup: a label's "[...]" would be dropped
            bar_id = bar.add_task(
                escape(config.name), total=summary.total, completed=summary.skipped
            )
            results = run_tasks(
                todo, jobs=jobs, backend=backend, address=address, data_dir=data_dir
            )
            # closing: an interrupt while a record is stored stops the backend's workers
            # now, not when the generator is collected (they would hold the exit up)
            with contextlib.closing(results):
                for task, record, error in results:
                    if error is None:
                        append_record(out_dir / RESULTS_FILE, record)
                        summary.finished += 1
                        if logger:
                            logger(record)
                        if on_record:
                            on_record(record)
                    else:
                        append_record(
                            out_dir / ERRORS_FILE,
                            {
                                "run_id": task.run_id,
                                "label": task.label,
                                "error": error,
                                **task.to_dict(),
                            },
                        )
                        summary.errors.append((task.run_id, task.label, error))
                    bar.update(
                        bar_id, advance=1, description=escape(f"{config.name}: {task.label}")
                    )
                    if log_lines:
                        _log_run(config.name, summary, task, error, data_keys)
        # Parallel runs finish in any order, and a retried failure lands after the rest:
        # a report lists rows in the order it meets them, so the file keeps the config's.
        # A sweep that ran nothing too, when its own records are out of order: one
        # interrupted after its last run and before this left them so for good.
        if (out_dir / RESULTS_FILE).exists():
            ran = bool(summary.stale or summary.finished)
            _in_task_order(out_dir / RESULTS_FILE, tasks, unless_ordered=not ran)
    return summary


@contextlib.contextmanager
def _errors_pruned(out_dir: Path, tasks: list[Task] = ()):
    """:func:`_prune_errors` before the block and after it, however it ends: pruned only
    at a sweep's normal end, an interrupted one (Ctrl-C, SIGTERM) left the failures of
    runs it had finished since, and ``dtc report`` warned of them; the prune before
    catches up after a ``kill -9``."""
    _prune_errors(out_dir, tasks)
    try:
        yield
    finally:
        _prune_errors(out_dir, tasks)


def _prune_errors(out_dir: Path, tasks: list[Task] = ()) -> None:
    """Keep in ``errors.jsonl`` the last failure of each run that has not finished since:
    it kept every failure ever, those a later run fixed and each retry's, and ``dtc
    report`` warned of failed runs when every run had finished. Removed when none is left."""
    path = out_dir / ERRORS_FILE
    if not path.is_file():
        return
    done = {r.get("run_id") for r in read_records(out_dir / RESULTS_FILE)}
    # a failure of a run that a task of this sweep now replaces (same cell, another run id:
    # the plugin's file or the row's parameters changed) will never finish: superseded
    now = {t.run_id for t in tasks}
    cells = {_cell(t.config_name, t.label, t.grid, t.spec.to_dict()) for t in tasks}
    recorded = read_records(path)
    errors = [
        e
        for e in recorded
        if e.get("run_id") in now
        # a line whose spec cannot be placed (edited: "spec": {} was a KeyError) is kept
        or not isinstance(e.get("spec"), dict)
        or not isinstance(e["spec"].get("benchmark"), str)
        or _cell(e.get("config_name"), e.get("label"), e.get("grid"), e["spec"]) not in cells
    ]
    last = {}
    for i, e in enumerate(errors):
        run_id = e.get("run_id")
        if run_id is None or run_id not in done:
            key = ("line", i) if run_id is None else run_id  # no id (older lines): all kept
            last.pop(key, None)  # re-inserted: the file keeps the order of the last ones
            last[key] = e
    kept = list(last.values())
    if not kept:
        path.unlink()
    elif len(kept) != len(recorded):
        write_records(path, kept)


def _varying_data(tasks: list[Task]) -> set[str]:
    """The data parameters whose value differs between ``tasks`` (a data grid's keys, or a
    benchmark entry's own data), the ones a run's line names."""
    keys = {k for t in tasks for k in t.spec.data_params}
    return {
        k
        for k in keys
        if len({json.dumps(t.spec.data_params.get(k), sort_keys=True) for t in tasks}) > 1
    }


def _log_run(
    name: str, summary: SweepSummary, task: Task, error: str | None, data_keys=frozenset()
) -> None:
    """One line on stderr for a run that ended: how many of the sweep's runs are done,
    which run (its row, grid point, the ``data_keys`` of its data parameters, pair and seed),
    and whether it failed."""
    n = summary.skipped + summary.finished + len(summary.errors)
    spec = task.spec
    # the grid point, as the report names the row, and the data parameters that vary in
    # the sweep (a data grid's point: imbalance_ratio): a row's runs read the same otherwise
    data = {k: v for k, v in spec.data_params.items() if k in data_keys}
    point = ", ".join(f"{k}={v}" for k, v in {**task.grid, **data}.items())
    label = f"{task.label} [{point}]" if point else task.label
    print(
        f"{name}: {n}/{summary.total} {label} {spec.benchmark} "
        f"{spec.source}->{spec.target} seed {spec.seed}: "
        + ("failed (errors.jsonl)" if error else "done"),
        file=sys.stderr,
        flush=True,
    )


def _check_data_files(tasks: list[Task], data_dir) -> None:
    """``FileNotFoundError`` (naming the file and where it was looked for) when a data file
    that one of ``tasks`` reads is missing, ``ValueError`` when it is not the release's
    (its SHA-256): found before the first run, not in every run's error after the sweep
    has run the rest."""
    domains: dict[str, set[str]] = {}
    for task in tasks:
        spec = task.spec
        domains.setdefault(spec.benchmark, set()).update(
            d for d in (spec.source, spec.target) if d is not None
        )
    for benchmark, names in domains.items():
        data.domain_files(benchmark, sorted(names), data_dir, verify=True)


def _in_task_order(path: Path, tasks: list[Task], unless_ordered: bool = False) -> None:
    """Rewrite ``path`` with the records of ``tasks`` in the config's order (records of
    other configs first, as they were): re-run stale runs were appended at the end, and a
    report lists rows in the order it meets them. Each keeps its task's ``grid``
    (:func:`with_task_grid`). ``unless_ordered``: left in its order when the records of
    ``tasks`` are in the config's order already (a sweep of a subset of the seeds moved
    the others ahead of them); their grids are brought up to date all the same (a sweep
    that reused every run after a parameter moved to the grid left the old one, and a
    report without the config split the row in two)."""
    order = {t.run_id: i for i, t in enumerate(tasks)}
    # read and rewritten under the appends' lock (as set_aside is): a single run's record
    # appended to this file (`dtc run --results <out>/results.jsonl`) between the read and
    # the rewrite was lost. Held on a read-only descriptor: a file the sweep only reads
    # (nothing to rewrite; a read-only one) must not fail for want of write access.
    with locked_file(path, create=False, readonly=True):
        records = read_records(path)
        ours, others = split_by_tasks(records, tasks)
        positions = [order[r["run_id"]] for r in ours]
        if unless_ordered and positions == sorted(positions):
            ordered = with_task_grid(records, tasks)  # in place, each record its own
        else:
            ordered = others + sorted(with_task_grid(ours, tasks), key=lambda r: order[r["run_id"]])
        if ordered != records:  # rewritten (34 MiB at 40,000 runs) only when it changes
            write_records(path, ordered)


def with_task_grid(records: list[dict], tasks: list[Task]) -> list[dict]:
    """``records`` (of ``tasks``) with the ``grid`` of their task now: a run id does not
    hold the grid (a value swept or fixed is one run), so a run reused after a parameter
    moved between a row's ``params`` and its ``grid`` kept the old one, and the report split
    one complete row in two, or wrote no oracle tables for a row that has a grid now."""
    grid = {t.run_id: t.grid for t in tasks}
    return [{**r, "grid": grid[r["run_id"]]} if r.get("run_id") in grid else r for r in records]


def _normalised(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _cell(config_name, label, grid, spec: dict) -> str:
    # A table cell and seed: everything that places a run in the report (config, row,
    # grid point, benchmark, pair, data and seed), not what it ran: its params and its
    # method. A row whose method changed is the same row, and its old runs are stale.
    where = {k: v for k, v in spec.items() if k not in ("params", "method")}
    # a record written before data parameters at their defaults were left out of a spec
    # sits in the same cell as the run that leaves them out
    where["data_params"] = canonical_data_params(spec["benchmark"], spec.get("data_params", {}))
    return _normalised({"config": config_name, "label": label, "grid": grid, **where})


#: Why a record is stale (:func:`_stale_reason`), as the sweep says it.
STALE_REASONS = {
    "moved": "under another method, parameters or version of a plugin's code in the config",
    "metric": "without a metric the config asks for",
    "data": "on other data than the config loads now",
    "params": "under other resolved parameters (a default changed)",
}


def _stale_reason(
    record: dict,
    task: Task | None,
    cells: set[str],
    data_sha: Callable[[Task], str | None],
    classes: dict | None = None,
) -> str | None:
    """Why ``task`` (the config's task of ``record``'s ``run_id``, if any) replaces
    ``record`` (a key of :data:`STALE_REASONS`), or ``None`` when it does not: see
    :func:`_set_aside_stale`. ``data_sha(task)`` is the fingerprint and number of clusters
    of the pair ``task`` loads now (None when it cannot be loaded here). ``classes``: the
    method classes looked up so far, by name, filled here (a lookup reads every installed
    package's entry points: once per record, a resume of 40,000 done runs took 78 s)."""
    if task is None:  # another config's run, unless it sits where one of ours does
        here = {"config", "label", "spec"} <= set(record) and (
            _cell(record["config"], record["label"], record.get("grid", {}), record["spec"])
            in cells
        )
        return "moved" if here else None
    if task.imbalance and not set(EXTRA_METRICS["imbalance"]) <= set(record.get("metrics", {})):
        return "metric"
    loaded = data_sha(task)
    if loaded is not None:
        sha, k = loaded
        if "data_sha" in record and sha != record["data_sha"]:
            return "data"
        if "n_clusters" in record and k != record["n_clusters"]:
            return "data"
    if "params" not in record:
        return None  # a record without parameters cannot be checked: kept
    classes = {} if classes is None else classes
    if task.spec.method not in classes:
        classes[task.spec.method] = methods.get_class(task.spec.method)
    current = result_params(
        describe_params(configured_method(task.spec, classes[task.spec.method], seeded=False))
    )
    recorded = result_params(record["params"])
    same = _same_params(json.loads(_normalised(current)), json.loads(_normalised(recorded)))
    return None if same else "params"


def _same_params(current, recorded) -> bool:
    """Whether described parameters (as JSON) are the same, but for what a description
    adds without changing the run: an object's ``"unreadable"`` arguments, and a set that
    older code described as an object ``builtins:set`` with no items (it cannot be
    checked). Both made finished runs stale ("a default changed") after an update."""
    if recorded in (
        {"object": "builtins:set", "params": {}},
        {"object": "builtins:frozenset", "params": {}},
    ):
        return isinstance(current, list)  # a set is described as its sorted items now
    if isinstance(current, dict) and isinstance(recorded, dict):
        notes = ("unreadable",) if "object" in current and "object" in recorded else ()
        keys = set(current) - set(notes)
        if keys != set(recorded) - set(notes):
            return False
        return all(_same_params(current[k], recorded[k]) for k in keys)
    if isinstance(current, list) and isinstance(recorded, list):
        return len(current) == len(recorded) and all(map(_same_params, current, recorded))
    # as JSON text, as before: 1 and 1.0, or True and 1, are other parameters (and a NaN
    # is recorded as null)
    return json.dumps(finite_values(current)) == json.dumps(recorded)


def _data_sha(data_dir) -> Callable[[Task], tuple[str, int | None] | None]:
    """``task -> (data_fingerprint, n_clusters)`` of the pair ``task`` loads from
    ``data_dir``, one load per distinct pair and data parameters; None where the data
    cannot be loaded here (a missing file: the run cannot be checked, and is kept)."""
    cache: dict[str, tuple[str, int | None] | None] = {}

    def sha(task: Task) -> tuple[str, int | None] | None:
        spec = task.spec
        key = _normalised([spec.benchmark, spec.source, spec.target, spec.data_params])
        if key not in cache:
            try:
                pair = load_spec_pair(spec, data_dir=data_dir)
                cache[key] = (data_fingerprint(pair), pair.n_clusters)
            except (FileNotFoundError, ValueError):
                cache[key] = None
        return cache[key]

    return sha


def _resume_problem(record: dict) -> str | None:
    """What keeps ``record`` from being a run a resume can check (as ``dtc report`` reads
    runs, and a ``spec`` naming its benchmark), or ``None``: a hand-edited ``"spec": {}``
    was a KeyError traceback, and a record without metrics counted as a finished run."""
    problem = record_problem(record)
    if problem is None and "spec" in record:
        spec = record["spec"]
        if not isinstance(spec.get("benchmark"), str):
            problem = "its 'spec' names no benchmark"
        elif not isinstance(spec.get("data_params", {}), dict):
            problem = "its spec's 'data_params' is not a mapping"
    return problem


def _set_aside_stale(out_dir: Path, tasks: list[Task], data_dir=None) -> tuple[list[dict], int]:
    """Move into ``STALE_FILE`` the records that ``tasks`` replace, which would otherwise
    be averaged with their replacements or lack a metric: a run of a task whose recorded
    resolved parameters differ from what its configuration resolves to now (a default
    changed), a run whose recorded data fingerprint differs from that of the data its task
    loads now from ``data_dir`` (a loader's default, the preprocessing or a file changed),
    a run of a task without every metric the task asks for, and a run with another
    ``run_id`` in the same place as a task (same config, label, grid point, pair, data
    and seed: the row's method or parameters changed in the config). Returns the records
    kept and how many were moved."""
    path = out_dir / RESULTS_FILE
    records = read_records(path, check=_resume_problem)
    now = {t.run_id: t for t in tasks}
    cells = {_cell(t.config_name, t.label, t.grid, t.spec.to_dict()) for t in tasks}
    sha, classes = _data_sha(data_dir), {}
    reasons = [_stale_reason(r, now.get(r.get("run_id")), cells, sha, classes) for r in records]
    kept = set_aside(path, records, [why is not None for why in reasons], out_dir / STALE_FILE)
    counts = Counter(why for why in reasons if why is not None)
    n = sum(counts.values())
    if n:
        # which reason, and how many of each: a researcher must tell a default that changed
        # from data that changed under the config
        why = "; ".join(f"{k} {STALE_REASONS[r]}" for r, k in counts.items())
        print(
            f"{n} finished run(s) in {str(out_dir)!r} no longer match the config ({why}): "
            f"moved to {STALE_FILE}, running them again",
            file=sys.stderr,
        )
    return kept, n


def _name_outside(out_dir: Path, records: list[dict], config_name: str, tasks: list[Task]) -> int:
    """Name on stderr the ``records`` of ``config_name`` that ``tasks`` no longer hold (a
    seed or a row removed from the config); they stay, and a report counts them unless
    told the config. Returns how many there are."""
    others = split_by_tasks(records, tasks)[1]
    outside = [r for r in others if r.get("config") == config_name]
    if outside:
        print(
            f"{describe_records(outside)} of config {config_name!r} in "
            f"{str(out_dir / RESULTS_FILE)!r} are not in this invocation's expansion of it "
            "(rows or seeds another invocation ran, e.g. other losses of bench-losses, or "
            "ones since removed): kept, and counted by `dtc report` unless it is given "
            "--config",
            file=sys.stderr,
        )
    return len(outside)


def unique_tasks(tasks: list[Task]) -> list[Task]:
    """``tasks`` without repeats, in order: two entries expanding to the same label and
    spec (the same ``run_id``) are one run."""
    return list({t.run_id: t for t in tasks}.values())


def _import_mlflow():
    try:
        import mlflow
    except ImportError as exc:
        raise RuntimeError(
            "--mlflow needs the optional extra: pip install -e '.[mlflow]' in the dtc repository "
            "(or pip install mlflow)"
        ) from exc
    return mlflow


def _mlflow_logger(mlflow, out_dir: Path, experiment: str):
    # MLflow 3 refuses the plain-file tracking store unless asked for it; a local file
    # store beside results.jsonl is what this option promises (no database to set up).
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((out_dir / "mlruns").resolve().as_uri())
    mlflow.set_experiment(experiment)

    def log(record: dict) -> None:
        with mlflow.start_run(run_name=f"{record['label']}-{record['run_id']}"):
            mlflow.set_tags({k: str(record[k]) for k in ("run_id", "label", "method", "benchmark")})
            flat = {**record["spec"]["params"], **record["spec"]["data_params"]}
            mlflow.log_params({k: str(v) for k, v in {**flat, "seed": record["seed"]}.items()})
            mlflow.log_metrics({**record["metrics"], "seconds": record["seconds"]})
            for step, epoch in enumerate(record.get("history", [])):
                mlflow.log_metrics(epoch, step=step)

    return log
