"""The grid runner: expand a config, skip finished runs, run the rest, append results.

``<out>/results.jsonl`` gets one line per finished run, written atomically by this
(the parent) process; ``<out>/errors.jsonl`` one line per failed run (failed runs are
retried by the next invocation). Resuming is by ``run_id``: a sweep killed at any
point (even ``kill -9``) and started again runs only what is missing, and never
writes a run twice. A lock on ``<out>/.lock`` stops two sweeps writing one folder.

A ``run_id`` hashes the configuration as written, so a default that changed in the code
since a run was recorded would leave that run's stale result in the folder, and in the
tables. Each record also holds the method's resolved parameters; a finished run whose
recorded parameters differ from those its configuration resolves to now is moved to
``<out>/stale.jsonl`` (kept for comparison) and run again. So is a run that sits where a
task of the config now sits (same config, row, grid point, pair and seed) under another
``run_id``: the row's parameters were edited in the config.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dtc.experiment.backends import run_tasks
from dtc.experiment.config import ExperimentConfig, Task, expand
from dtc.experiment.single import configured_method, describe_params
from dtc.experiment.store import append_record, read_records, write_records

__all__ = ["RESULTS_FILE", "STALE_FILE", "SweepSummary", "finished_ids", "run_experiment"]

RESULTS_FILE = "results.jsonl"
STALE_FILE = "stale.jsonl"
ERRORS_FILE = "errors.jsonl"


@dataclass
class SweepSummary:
    """What one invocation did: ``total`` runs in the grid, ``skipped`` (already
    finished), ``stale`` (finished under other resolved parameters, run again),
    ``finished`` now, and ``errors`` (``(run_id, label, message)``)."""

    out_dir: Path
    total: int
    skipped: int = 0
    stale: int = 0
    finished: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def results_path(self) -> Path:
        return self.out_dir / RESULTS_FILE


def _repair_tail(path: Path) -> None:
    # A crash can in principle leave a final line without its newline; the next
    # append would then glue a record onto it and corrupt both. Cut it off: its run
    # is not in read_records, so it is simply run again.
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        content = fh.read()
        fh.truncate(content.rfind(b"\n") + 1)


def finished_ids(out_dir) -> set[str]:
    """The ``run_id`` s already recorded in ``<out_dir>/results.jsonl``."""
    return {r["run_id"] for r in read_records(Path(out_dir) / RESULTS_FILE) if "run_id" in r}


@contextlib.contextmanager
def _lock(out_dir: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, one sweep per folder is on the user
        yield
        return
    with (out_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise RuntimeError(
                f"another sweep is writing {str(out_dir)!r}; wait for it or use another --out"
            ) from exc
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
    ``progress`` defaults to showing a bar when stderr is a terminal.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = expand(config)
    summary = SweepSummary(out_dir, total=len(tasks))
    logger = _mlflow_logger(out_dir, config.name) if mlflow else None
    with _lock(out_dir):
        _repair_tail(out_dir / RESULTS_FILE)
        summary.stale = _set_aside_stale(out_dir, tasks)
        done = finished_ids(out_dir)
        todo = _unique([t for t in tasks if t.run_id not in done])
        summary.skipped = summary.total - len(todo)
        show = sys.stderr.isatty() if progress is None else progress
        with _progress(show) as bar:
            bar_id = bar.add_task(config.name, total=summary.total, completed=summary.skipped)
            results = run_tasks(
                todo, jobs=jobs, backend=backend, address=address, data_dir=data_dir
            )
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
                bar.update(bar_id, advance=1, description=f"{config.name}: {task.label}")
        if summary.stale:
            _in_task_order(out_dir / RESULTS_FILE, tasks)
    return summary


def _in_task_order(path: Path, tasks: list[Task]) -> None:
    """Rewrite ``path`` with the records of ``tasks`` in the config's order (records of
    other configs first, as they were): re-run stale runs were appended at the end, and a
    report lists rows in the order it meets them."""
    order = {t.run_id: i for i, t in enumerate(tasks)}
    records = read_records(path)
    others = [r for r in records if r.get("run_id") not in order]
    ours = sorted(
        (r for r in records if r.get("run_id") in order), key=lambda r: order[r["run_id"]]
    )
    write_records(path, others + ours)


def _normalised(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _cell(config_name, label, grid, spec: dict) -> str:
    # A table cell and seed: everything that places a run in the report, not its params.
    where = {k: v for k, v in spec.items() if k != "params"}
    return _normalised({"config": config_name, "label": label, "grid": grid, **where})


def _set_aside_stale(out_dir: Path, tasks: list[Task]) -> int:
    """Move into ``STALE_FILE`` the records that ``tasks`` replace: a run of a task whose
    recorded resolved parameters differ from what its configuration resolves to now (a
    default changed), and a run with another ``run_id`` in the same place as a task
    (same config, label, grid point, pair and seed: the config's parameters for that row
    changed), which would otherwise be averaged with its replacement. Returns how many
    were moved."""
    path = out_dir / RESULTS_FILE
    records = read_records(path)
    now = {t.run_id: t for t in tasks}
    cells = {_cell(t.config_name, t.label, t.grid, t.spec.to_dict()) for t in tasks}
    stale_ids = set()
    for r in records:
        rid = r.get("run_id")
        task = now.get(rid)
        if task is None:
            if {"config", "label", "spec"} <= set(r) and (
                _cell(r["config"], r["label"], r.get("grid", {}), r["spec"]) in cells
            ):
                stale_ids.add(rid)
            continue  # otherwise another config's run: kept
        if "params" not in r:
            continue  # a record without parameters cannot be checked: kept
        current = describe_params(configured_method(task.spec))
        if _normalised(current) != _normalised(r["params"]):
            stale_ids.add(rid)
    if not stale_ids:
        return 0
    # Stale records are copied out before the results file is rewritten without them, so
    # a crash in between loses nothing (at worst a record is in both files).
    for r in records:
        if r.get("run_id") in stale_ids:
            append_record(out_dir / STALE_FILE, r)
    write_records(path, [r for r in records if r.get("run_id") not in stale_ids])
    print(
        f"{len(stale_ids)} finished run(s) in {str(out_dir)!r} were recorded under other "
        f"parameters (a default or the config changed since): moved to {STALE_FILE}, running them again",
        file=sys.stderr,
    )
    return len(stale_ids)


def _unique(tasks: list[Task]) -> list[Task]:
    # Two entries expanding to the same label and spec are one run.
    return list({t.run_id: t for t in tasks}.values())


def _mlflow_logger(out_dir: Path, experiment: str):
    try:
        import mlflow
    except ImportError as exc:
        raise RuntimeError(
            "--mlflow needs the optional extra: pip install 'dtc[mlflow]' (or pip install mlflow)"
        ) from exc
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
