"""The ``dtc`` command.

``dtc run``          one run (the embedded default when called with no option), or with
                   a CONFIG a whole resumable grid of runs (see dtc.experiment);
``dtc report``     Markdown / CSV / LaTeX tables and PNG figures from a results file;
``dtc bench-losses`` the alignment-loss leaderboard on a fixed protocol;
``dtc datasets``   the benchmarks, their domains and whether their files were found (and
                   those of the folders of domain files it is given).

Human-readable output (tables, progress) goes to the terminal; with ``--json`` the
only thing on stdout is one JSON object per run, and progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="dtc: deep transfer clustering of an unlabelled target domain.",
)
out = Console()
err = Console(stderr=True)

DEFAULT_RESULTS = Path("results") / "runs.jsonl"
# Errors of input or set-up: shown as one line, not a traceback.
# OSError: a results path that is a folder, an --out that is a file, a full disk.
USER_ERRORS = (ValueError, OSError, RuntimeError)

# A string, not a Path: typer made "" (an unset variable, --data-dir "$X") Path("."), the
# working directory, where dtc.data.resolve_data_dir takes "" as not given ($DTC_DATA).
DataDirOption = Annotated[
    str | None,
    typer.Option(
        "--data-dir", help="Benchmark data directory (default: $DTC_DATA).", show_default=False
    ),
]


def _path_arg(value: str) -> Path:
    """typer's parser of path options and arguments: ``~`` expanded (``--results=~/r.jsonl``
    reaches us unexpanded), an empty string refused (typer made it ``Path(".")``: ``--out
    "$OUT"`` with ``OUT`` unset wrote a sweep into the working directory)."""
    from dtc._validation import EMPTY_PATH, user_path

    if value == "":
        raise typer.BadParameter(EMPTY_PATH)
    return user_path(value)


def check_folder(path: Path | None, option: str) -> None:
    """``ValueError`` naming ``option`` when ``path`` (a folder to write in) or the nearest
    of its parents that exists is a file: "[Errno 17] File exists" named no option, and
    hid that a file stood where a folder was expected."""
    if path is None:
        return
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is" if p == path else f"is under {str(p)!r}, which is"
                raise ValueError(f"{option}: {str(path)!r} {what} a file; expected a folder")
            return


def parse_assignments(items: list[str] | None, *, option: str = "--set") -> dict:
    """``["a=1", "b=true", "c=[1,2]"]`` -> ``{"a": 1, "b": True, "c": [1, 2]}``.

    Values are parsed as YAML scalars/flow collections (so ``false`` is a bool and
    ``0.5`` a float); ``a.b=1`` sets ``{"a": {"b": 1}}``.
    """
    from dtc.experiment.config import parse_overrides

    try:
        pairs = parse_overrides(items)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc
    result: dict = {}
    for (*parents, leaf), value in pairs:
        node = result
        for depth, part in enumerate(parents):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):  # "a=2" then "a.b=3": a TypeError before
                key = ".".join(parents[: depth + 1])
                raise typer.BadParameter(
                    f"{key!r} is given a value ({node!r}) and keys below it", param_hint=option
                )
        node[leaf] = value
    return result


def _metrics_table(record: dict) -> Table:
    title = (
        f"{record['method']} on {record['benchmark']}: {record['source']} -> {record['target']} "
        f"(seed {record['seed']}, {record['seconds']:.1f} s)"
    )
    table = Table(title=escape(title))
    from dtc.experiment.config import EXTRA_METRICS
    from dtc.experiment.store import recorded_number

    # the imbalance metrics where the run computed them (an imbalanced target): recorded in
    # the JSON, they were not shown
    shown = ("acc", "acc_unmatched", "nmi", "ari", "purity", *EXTRA_METRICS["imbalance"])
    names = [n for n in shown if n in record["metrics"]]
    headers = {
        "acc_unmatched": "ACC (unmatched)",
        "macro_f1": "macro F1",
        "balanced_acc": "bal ACC",
        "min_recall": "min rec",
        "minority_recall": "minor rec",
    }
    for name in names:
        table.add_column(headers.get(name, name.upper()), justify="right")
    # + 0.0 after rounding: an ARI of -0.00004 read "-0.00"
    table.add_row(
        *(f"{round(100 * recorded_number(record['metrics'][n]), 2) + 0.0:.2f}" for n in names)
    )
    return table


# Every text that is not ours (messages, labels, paths) is escaped before it is printed:
# Rich reads "[ray]" in "pip install -e '.[ray]'" as markup and drops it.
def _fail(exc: BaseException) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _report_failures(summary) -> None:
    """Name each failed run on stderr; exit 1 if there was one (finished runs are kept)."""
    for run_id, label, message in summary.errors:
        text = escape(f"{label} ({run_id}): {message}")
        err.print(f"[red]failed[/red] {text}", highlight=False, soft_wrap=True)
    if summary.errors:
        raise typer.Exit(code=1)


def _import_here() -> None:
    # Like `python -m`: modules in the working directory (a user's my_losses.py,
    # named as "my_losses:MyLoss") can be imported.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


RUN_EPILOG = (
    "With a CONFIG (a YAML file of experiments/), runs its whole grid into --out "
    "(default $DTC_RESULTS/<name>, results/<name> without it), skipping runs already "
    "there; trailing key=value arguments override the config, e.g. `dtc run experiments/smoke.yaml 'seeds=[0,1]' "
    "methods.DTC.lam=0.5` (DTC is a row label of that config; a new row needs "
    "methods.<label>.method=<method>)."
)


@app.command(epilog=RUN_EPILOG)
def run(
    ctx: typer.Context,
    config: Annotated[
        list[str] | None,
        typer.Argument(
            help="Optional: a config YAML, then key=value overrides.", show_default=False
        ),
    ] = None,
    benchmark: Annotated[
        str, typer.Option(help="Benchmark name (see `dtc datasets`), or a folder of domain files.")
    ] = "digits",
    source: Annotated[
        str | None, typer.Option(help="Source domain (default: the benchmark's first pair).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target domain.")] = None,
    method: Annotated[
        str | None, typer.Option(help="Method name (default: the best available).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Method parameter key=value (repeatable).")
    ] = None,
    data_set: Annotated[
        list[str] | None, typer.Option("--data", help="Data parameter key=value, e.g. shift=0.7.")
    ] = None,
    data_dir: DataDirOption = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per run on stdout only.")
    ] = False,
    results: Annotated[
        Path,
        typer.Option(help="Single runs: the JSONL file each run is appended to.", parser=_path_arg),
    ] = DEFAULT_RESULTS,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Single runs: do not append to the results file.")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            parser=_path_arg,
            help="Config runs: output folder (default $DTC_RESULTS/<name>, results/<name> "
            "without it).",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(help="Config runs: parallel local processes.")] = 1,
    backend: Annotated[str, typer.Option(help="Config runs: 'local' or 'ray'.")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start a local one).")
    ] = None,
    mlflow: Annotated[
        bool, typer.Option("--mlflow", help="Also log each run to MLflow (<out>/mlruns).")
    ] = False,
):
    """Run one method on one benchmark pair, or a whole experiment CONFIG."""
    if not config:
        _refuse_given(
            ctx,
            (
                ("--out", "out_dir"),
                ("--jobs", "jobs"),
                ("--backend", "backend"),
                ("--address", "address"),
                ("--mlflow", "mlflow"),
            ),
            "to config runs; a single run is recorded with --results",
            "a single run (no CONFIG)",
        )
        if no_record and _given(ctx, "results"):
            # the file was named and then ignored without a word
            raise typer.BadParameter(
                "names the file a run is appended to; --no-record appends it nowhere",
                param_hint="--results",
            )
        _run_one(
            benchmark,
            source,
            target,
            method,
            seed,
            set_,
            data_set,
            data_dir,
            json_out,
            results,
            no_record,
        )
        return
    _refuse_given(
        ctx,
        (
            ("--benchmark", "benchmark"),
            ("--source", "source"),
            ("--target", "target"),
            ("--method", "method"),
            ("--seed", "seed"),
            ("--set", "set_"),
            ("--data", "data_set"),
            # config runs write <out>/results.jsonl, always
            ("--results", "results"),
            ("--no-record", "no_record"),
        ),
        "to single runs; with a config, override it with key=value arguments instead",
        "CONFIG",
    )
    # Ignored without a word otherwise: the local backend has no cluster to connect to,
    # and a Ray cluster at --address runs as many runs at once as its own CPUs allow.
    if address is not None and backend != "ray":
        raise typer.BadParameter(
            f"--address applies to --backend ray only, got --backend {backend}",
            param_hint="--address",
        )
    if address is not None and _given(ctx, "jobs"):
        raise typer.BadParameter(
            "--jobs sets the local processes, or the CPUs of a Ray instance started here; "
            "with --address the cluster's own CPUs decide",
            param_hint="--jobs",
        )
    _run_config(config, out_dir, jobs, backend, address, data_dir, json_out, mlflow)


def _check_results_file(results: Path) -> None:
    """Before a single run's fit: ``--results`` is a results file that can be appended to
    (else the finished run was lost to the error of its append), and holds run records if
    it holds anything (a YAML config given by mistake lost its last line, cut as an
    unfinished record, and took a JSON line)."""
    from dtc.experiment.report import record_problem
    from dtc.experiment.store import check_appendable, read_first_record

    try:
        if results.is_dir():
            raise IsADirectoryError(f"--results: {str(results)!r} is a folder; expected a file")
        check_folder(results.parent, "--results (its folder)")
        # its first line only: reading every record cost 2 s and 500 MB more per run on a
        # file of 5,000; and not a second warning of a cut last line, which the append
        # cuts and names
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            read_first_record(results, check=record_problem)
        check_appendable(results)
    except OSError as exc:
        raise _fail(_option_error(exc, "--results", results)) from exc
    except ValueError as exc:
        named = exc if str(exc).startswith("--results") else ValueError(f"--results: {exc}")
        raise _fail(named) from exc


def _option_error(exc: BaseException, option: str, path: Path | None) -> BaseException:
    """``exc``, with ``option`` named when it is an ``OSError`` on ``path`` or a path in
    it (``[Errno 13] Permission denied: '/data/.lock'`` named no option). Of a rename, the
    destination (a report's temporary file was named, not the table it replaces)."""
    name = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
    if not isinstance(exc, OSError) or name is None or path is None:
        return exc
    where, folder = Path(os.path.abspath(name)), Path(os.path.abspath(path))
    if where != folder and folder not in where.parents:
        return exc
    return ValueError(f"{option}: {exc.strerror or exc}: {str(name)!r}")


def _given(ctx: typer.Context, param: str) -> bool:
    """Whether the command line (or the environment) gave ``param``, the parameter's
    Python name; its default spelled out counts (its value alone cannot tell). Read by
    the source's name: click's ``ParameterSource``, which newer typers vendor privately."""
    if param not in ctx.params:  # a misspelt name has no source, and read as not given
        raise KeyError(f"no parameter {param!r}; expected one of {sorted(ctx.params)}")
    source = ctx.get_parameter_source(param)
    return getattr(source, "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")


def _refuse_given(ctx: typer.Context, options, message: str, param_hint: str) -> None:
    """``BadParameter`` naming every option of ``options`` ``(flag, parameter name)`` that
    was given, "<flags> apply <message>": an option of the other mode would otherwise be
    ignored without a word (a comparison with its default let the default spelled out
    through, e.g. ``--seed 0`` with a config)."""
    given = [flag for flag, param in options if _given(ctx, param)]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise typer.BadParameter(f"{', '.join(given)} {verb} {message}", param_hint=param_hint)


def _run_one(
    benchmark, source, target, method, seed, set_, data_set, data_dir, json_out, results, no_record
):
    from dtc.experiment import RunSpec, append_record, run_single
    from dtc.experiment.config import check_run_data, plugin_code
    from dtc.experiment.single import check_not_seed, default_method
    from dtc.experiment.store import record_json, terminate_as_interrupt

    _import_here()  # --method or --set loss= may name a user's module:Class
    params = parse_assignments(set_)
    try:
        # --seed sets them (default 0) over any --set value, which the record would show
        for key in params:
            check_not_seed(key, "--set", "give it with --seed instead")
    except ValueError as exc:
        raise _fail(exc) from exc
    try:
        _check_set_names(method or default_method(), params)
    except ValueError as exc:
        raise _fail(exc) from exc
    spec = RunSpec(
        method=method or default_method(),
        benchmark=benchmark,
        source=source,
        target=target,
        seed=seed,
        params=params,
        data_params=parse_assignments(data_set, option="--data"),
    )
    try:
        check_run_data(spec.benchmark, spec.data_params)
    except (ValueError, OSError) as exc:  # a folder benchmark's files are read for it
        raise _fail(exc) from exc
    if not no_record:
        _check_results_file(results)
    # which version of a user's method or loss runs, as a sweep's records say (two single
    # runs before and after an edit were the same record); read before the fit, as a sweep
    code = plugin_code(spec.method, spec.params)
    console = err if json_out else out
    try:
        # a SIGTERM as a Ctrl-C: the checkpoint being written is removed, and the message
        # below says where the finished stages are
        with (
            terminate_as_interrupt(),
            console.status(escape(f"fitting {spec.method} on {benchmark} ..."), spinner="dots"),
        ):
            # an imbalanced target is scored with the metrics that show its minority classes
            imbalanced = "imbalance_ratio" in spec.data_params
            record = run_single(spec, data_dir=data_dir, imbalance=imbalanced)
    except (*USER_ERRORS, FloatingPointError) as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt as exc:
        # A fit with checkpoints resumes from its last finished stage: say so (it printed
        # nothing, and a user started again from scratch)
        folder = spec.params.get("checkpoint_dir")
        if folder is not None:
            # DTC names its own stages on disk: the folder may hold other runs' (a glob of
            # it claimed their stages as this run's), and before the first stage ended
            # there is nothing to resume from. Interrupted before the fit began (loading
            # the data), or a method of a user's, no run says what is its own.
            kept = getattr(exc, "dtc_checkpoints", None)
            if kept is None:
                said = (
                    f"interrupted before the fit said which of the checkpoints in "
                    f"{str(folder)!r} are its own; run the same command again to resume from "
                    "those an earlier run of it kept, if any"
                )
            elif kept:
                said = (
                    f"interrupted: the finished stages are kept in {str(folder)!r}; run the "
                    "same command again to resume from them"
                )
            else:
                said = (
                    f"interrupted before a stage finished: nothing is kept in {str(folder)!r} yet"
                )
            err.print(
                escape(said),
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(code=getattr(exc, "exit_code", 130)) from None
    record["spec"] = spec.to_dict()
    if code:
        record["code"] = code
    if not no_record:
        try:
            append_record(results, record)
        except OSError as exc:  # the run is done: its record goes to stderr, not lost
            sys.stderr.write(record_json(record) + "\n")
            raise _fail(
                OSError(f"could not append to {str(results)!r} ({exc}); the record is above")
            ) from exc
    if json_out:
        sys.stdout.write(record_json(record) + "\n")
    else:
        out.print(_metrics_table(record))
        if not no_record:
            out.print(f"[dim]appended to {escape(str(results))}[/dim]")


def _check_set_names(method: str, params: dict) -> None:
    """``ValueError`` naming ``--set`` and the method's parameters for a key ``method``
    does not have (scikit-learn's own error named the estimator but not the option); an
    unknown method is left to the run, which names the registered ones."""
    from dtc import methods as registry

    try:
        names = registry.get_class(method)._get_param_names()
    except (ValueError, ImportError, AttributeError):
        return
    unknown = [key for key in params if key not in names]
    if unknown:
        raise ValueError(
            f"--set {unknown[0]}: {method!r} has no parameter {unknown[0]!r}; its "
            f"parameters: {', '.join(names)}"
        )


def _run_config(args, out_dir, jobs, backend, address, data_dir, json_out, mlflow):
    from dtc.experiment.config import default_out_dir, load_config
    from dtc.experiment.runner import run_experiment
    from dtc.experiment.store import record_json, terminate_as_interrupt

    _import_here()
    path, *overrides = args
    cfg = target_dir = None
    try:
        cfg = load_config(path, overrides)
        check_folder(out_dir, "--out")
        target_dir = out_dir or default_out_dir(cfg)

        def emit(record: dict) -> None:
            if json_out:
                sys.stdout.write(record_json(record) + "\n")
                sys.stdout.flush()

        with terminate_as_interrupt():  # a SIGTERM stops the workers as a Ctrl-C does
            summary = run_experiment(
                cfg,
                target_dir,
                jobs=jobs,
                backend=backend,
                address=address,
                data_dir=data_dir,
                on_record=emit,
                mlflow=mlflow,
            )
    except USER_ERRORS as exc:
        raise _fail(_option_error(exc, "--out", target_dir)) from exc
    except KeyboardInterrupt as exc:  # while the config loaded (cfg None), nothing ran
        raise _interrupted(exc, cfg and cfg.name, cfg and target_dir) from None
    _print_sweep(cfg.name, summary)
    _report_failures(summary)


def _interrupted(exc: KeyboardInterrupt, name: str | None, folder) -> typer.Exit:
    """Say where the finished runs are and how to resume (nothing when ``name`` is
    ``None``: nothing ran); exit 130 for a Ctrl-C, 143 for a SIGTERM
    (:class:`dtc.experiment.store.Terminated`)."""
    from dtc.experiment.store import interrupted_message

    if name is not None:
        err.print(escape(interrupted_message(name, folder)), highlight=False, soft_wrap=True)
    return typer.Exit(code=getattr(exc, "exit_code", 130))


def _print_sweep(name: str, summary) -> None:
    """One line on stderr: how many runs, done before, stale, finished now, failed."""
    err.print(
        escape(
            f"{name}: {summary.total} runs, {summary.skipped} already done, "
            f"{summary.stale} stale (run again), {summary.finished} finished now, "
            f"{len(summary.errors)} failed -> "
            # every run failed: no results file, the errors are where to look
            f"{summary.results_path if summary.results_path.exists() else summary.out_dir}"
        ),
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def report(
    results: Annotated[
        Path,
        typer.Argument(help="A results.jsonl file (or its folder).", parser=_path_arg),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="With --config: key=value overrides, as given to `dtc run CONFIG`.",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            parser=_path_arg,
            help="Output folder (default: <results folder>/report); the files an earlier "
            "report wrote there and this one does not (other metrics, figures) are removed.",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option(help="Metrics to tabulate (default: all present).")
    ] = None,
    figures: Annotated[bool, typer.Option(help="Also write PNG figures.")] = True,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            parser=_path_arg,
            help="Tabulate only the runs of this config as it is now (its rows, grid points, "
            "pairs and seeds), with the key=value overrides given after RESULTS; the others "
            "in the file are named on stderr. A cell lacking one of its seeds is marked n=k/m.",
            show_default=False,
        ),
    ] = None,
):
    """Write Markdown, CSV and LaTeX tables (mean ± std over seeds) and PNG figures."""
    from dtc.experiment.config import expand, load_config
    from dtc.experiment.report import cell_names, mixed_data, record_problem, write_report
    from dtc.experiment.runner import (
        RESULTS_FILE,
        describe_records,
        split_by_tasks,
        unique_tasks,
        with_task_grid,
    )
    from dtc.experiment.single import mixed_platforms
    from dtc.experiment.store import read_records, terminate_as_interrupt

    if overrides and config is None:
        raise typer.BadParameter(
            "key=value overrides apply to --config (the overrides its runs were made with)",
            param_hint="OVERRIDES",
        )
    path = results / RESULTS_FILE if results.is_dir() else results
    if not path.is_file():
        failed = path.parent / "errors.jsonl"
        # a sweep whose every run failed writes errors.jsonl only: "not found" hid them (a
        # mistyped folder is not pointed to its parent's failures)
        why = (
            f"; every run of the sweep failed? see {str(failed)!r}"
            if (results.is_dir() or path.name == RESULTS_FILE)
            and failed.is_file()
            and failed.stat().st_size
            else ""
        )
        raise _fail(FileNotFoundError(f"results file {str(path)!r} not found{why}"))
    target = out_dir or path.parent / "report"
    # the default named as such: "--out: ..." named an option not given
    out_option = "--out" if out_dir else "--out (default <results folder>/report)"
    try:
        # the default too: a file at <results folder>/report was "File exists"
        check_folder(target, out_option)
    except ValueError as exc:
        raise _fail(exc) from exc
    errors = path.parent / "errors.jsonl"
    seeds = planned = None  # without a config: the seeds and pairs any row ran
    try:
        records = read_records(path, check=record_problem)
        if config is not None:
            _import_here()  # a config may name a user's module:Class
            cfg = load_config(config, overrides)  # parsed as `dtc run CONFIG key=value`
            # a pair or grid value given twice is one run, as the sweep counts it: the
            # note on missing runs counted each twice
            tasks = unique_tasks(expand(cfg))
            records, others = split_by_tasks(records, tasks)
            # a run reused from another config that shares the row keeps that config's name
            # in its record: the report split one row in two ("km (config=cfgA)")
            records = [{**r, "config": cfg.name} for r in with_task_grid(records, tasks)]
            seeds = cfg.raw["seeds"]  # every cell should have them: a missing one is shown
            # and every column its pairs: a family mean over 2 of 6 pairs read complete
            planned = [
                {
                    "benchmark": t.spec.benchmark,
                    "source": t.spec.source,
                    "target": t.spec.target,
                    "data_params": t.spec.data_params,
                    "label": t.label,
                    "method": t.spec.method,
                }
                for t in tasks
            ]
            missing = _unfinished(tasks, records, cfg.name, errors)
            if missing:
                err.print(escape(missing), highlight=False, soft_wrap=True)
            if others:
                err.print(
                    escape(
                        f"left out {describe_records(others)}: not in {cfg.name}'s current runs"
                    ),
                    highlight=False,
                    soft_wrap=True,
                )
        # a SIGTERM (a batch time limit) as a Ctrl-C: the report's clean-up runs (no
        # temporary file left, the files written listed for the next report to replace)
        with terminate_as_interrupt():
            try:
                written = write_report(
                    records, target, metrics=metric, figures=figures, seeds=seeds, planned=planned
                )
            except OSError as exc:  # here only: --out may hold RESULTS, read above
                named = _option_error(exc, out_option, target)
                if named is exc:
                    raise
                raise named from exc
    except (ValueError, OSError) as exc:  # OSError: an --out that is a file
        raise _fail(exc) from exc
    except KeyboardInterrupt as exc:
        raise typer.Exit(code=getattr(exc, "exit_code", 130)) from None
    codes = sorted({str(r.get("versions", {}).get("dtc_source", "unknown")) for r in records})
    if len(codes) > 1:
        # a resumed sweep keeps the runs made before an edit of dtc or its baselines (their
        # ids do not hold the built-in code): one cell can average both
        err.print(
            escape(
                f"note: the tabulated runs were made by {len(codes)} versions of dtc's code "
                f"({', '.join(codes)}; records' versions.dtc_source); built-in methods are not "
                "run again when it changes, so a cell may average runs of both: run into a "
                "new --out to have one"
            ),
            highlight=False,
            soft_wrap=True,
        )
    changed = mixed_data(records)
    if changed:
        # a resumed sweep re-runs the runs of its own seeds on changed data, and keeps those
        # of seeds outside its invocation: a cell mean over both was shown without a word
        err.print(
            escape(
                f"note: runs of {len(changed)} pair(s) were made on other versions of their "
                f"data ({'; '.join(changed)}; records' data_sha), so a cell may average "
                "both: run every seed again (or into a new --out) to have one"
            ),
            highlight=False,
            soft_wrap=True,
        )
    # thread counts compared within a table row: rows apart are configurations apart (a
    # grid over n_threads, DTC beside a baseline), and no cell averages them
    platforms = mixed_platforms(records, [row for row, _ in cell_names(records)])
    if platforms:
        # the same run id on another CPU, kernel set or thread count: deep methods' figures
        # differ in the last digits (the README's "DTC" section)
        err.print(
            escape(
                f"note: the tabulated runs were made on {len(platforms)} platforms "
                f"({'; '.join(platforms)}; records' versions); deep methods' figures differ "
                "between them, so a cell may average both"
            ),
            highlight=False,
            soft_wrap=True,
        )
    md = target / "acc.md"
    if md in written:  # not an acc.md left by someone else
        # as written: rich would wrap a wide table's rows at the console's width (80
        # columns when piped), and `dtc report ... > table.md` would not be a table
        # in bytes: the file is UTF-8 whatever stdout's encoding ("±" in every header failed
        # under PYTHONIOENCODING=ascii or a Latin-1 locale, after the files were written)
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stream (an embedding application's)
            sys.stdout.write(md.read_text(encoding="utf-8"))
        else:
            buffer.write(md.read_bytes())
        sys.stdout.flush()
    if config is None and errors.is_file() and errors.stat().st_size:
        # a seed that failed on a pair for every row is not one any row ran there: without
        # the config, its cells read as complete
        err.print(
            escape(
                f"{errors} lists failed runs: a cell missing them is marked n=k/m only with "
                "--config (the seeds every run should have)"
            ),
            highlight=False,
            soft_wrap=True,
        )
    err.print(escape(f"{len(written)} files written to {target}"), highlight=False, soft_wrap=True)


def _unfinished(tasks, records: list[dict], name: str, errors: Path) -> str:
    """A note on the config's runs that have no record, or ``""``: a cell missing some of
    its seeds is marked n=k/m, but a row none of whose runs finished has no cell to mark,
    and left the table without a word."""
    done = {r.get("run_id") for r in records}
    missing = [t for t in tasks if t.run_id not in done]
    if not missing:
        return ""
    note = f"{len(missing)} of {len(tasks)} runs of {name} have no record"
    absent = sorted({t.label for t in missing} - {r.get("label") for r in records})
    if absent:
        note += f"; no run of {', '.join(absent)} finished, so the tables have no row for it"
    if errors.is_file() and errors.stat().st_size:
        note += f" (failures: {errors})"
    return note


@app.command("bench-losses")
def bench_losses(
    losses: Annotated[
        str, typer.Option(help="Comma-separated: registry names, 'none' or module:Class.")
    ] = "none,mmd,coral,dann",
    quick: Annotated[
        bool, typer.Option("--quick", help="Digits default and one seed (a smoke test).")
    ] = False,
    protocol: Annotated[
        Path | None,
        typer.Option(
            help="Protocol config (default: dtc/experiment/bench_losses.yaml, shipped with dtc).",
            parser=_path_arg,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            parser=_path_arg,
            help="Results folder (default $DTC_RESULTS/<protocol name>, results/<protocol "
            "name> without it; _quick added with --quick).",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(help="Parallel local processes.")] = 1,
    data_dir: DataDirOption = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per loss on stdout.")
    ] = False,
):
    """Rank alignment losses: DTC with each loss on one fixed protocol (ACC, s/epoch)."""
    from dtc.experiment import leaderboard
    from dtc.experiment.report import score_text  # rounded as dtc report rounds
    from dtc.experiment.store import terminate_as_interrupt

    _import_here()
    config = folder = None
    try:
        config = leaderboard.leaderboard_config(losses.split(","), quick=quick, protocol=protocol)
        check_folder(out_dir, "--out")
        folder = out_dir or leaderboard.default_out_dir(config)
        with terminate_as_interrupt():  # a SIGTERM stops the workers as a Ctrl-C does
            rows, summary = leaderboard.run_leaderboard(
                config, folder, jobs=jobs, data_dir=data_dir
            )
    except USER_ERRORS as exc:
        raise _fail(_option_error(exc, "--out", folder)) from exc
    except KeyboardInterrupt as exc:  # while the protocol loaded (config None), nothing ran
        raise _interrupted(exc, config and config.name, config and folder) from None
    _print_sweep(config.name, summary)
    codes = leaderboard.mixed_code(rows)
    if codes:
        err.print(
            escape(
                f"warning: these runs were made by {len(codes)} versions of dtc's code "
                f"({', '.join(codes)}; records' versions.dtc_source): built-in losses are not "
                "run again when dtc changes, so the ranking may compare old runs with new "
                "ones; run into a new --out to compare them on one code"
            ),
            highlight=False,
            soft_wrap=True,
        )
    platforms = leaderboard.mixed_platforms(rows)
    if platforms:
        # kept runs made on other CPU kernels, another CPU or thread count: a loss run now
        # was ranked against them without a word (dtc report notes it)
        err.print(
            escape(
                f"warning: these runs were made on {len(platforms)} platforms "
                f"({'; '.join(platforms)}; records' versions): deep fits' figures differ "
                "between them, so the ranking may compare runs of one with runs of another; "
                "run into a new --out to compare them on one"
            ),
            highlight=False,
            soft_wrap=True,
        )
    if json_out:
        from dtc.experiment.store import record_json

        for row in rows:  # strict JSON: a NaN ACC (a row without a number) as null
            sys.stdout.write(record_json(row) + "\n")
    else:
        table = Table(
            title=escape(
                f"alignment losses ({'quick' if quick else 'protocol'}; {summary.results_path})"
            ),
            caption="ACC: per seed the mean over the protocol's pairs, then mean ± sample std "
            "over seeds. Equal ACC (as shown) shares a rank; ≈: within the seed noise of the "
            "loss ranked above (a loose bar with few seeds: see README). s / epoch: the whole fit over all its epochs, "
            "warm-up of the first run included; time losses with scripts/bench_losses.py. "
            "A loss with a failed run is incomplete, not ranked.",
        )
        for col in ("rank", "loss", "ACC (%)", "NMI (%)", "s / epoch", "runs"):
            table.add_column(col, justify="left" if col == "loss" else "right")
        for row in rows:
            spe = row["seconds_per_epoch"]
            if not row["complete"]:  # no scores: a mean over the runs that finished misleads
                table.add_row("–", escape(row["loss"]), "incomplete", "–", "–", _runs(row))
                continue
            table.add_row(
                "–"  # a NaN ACC: not ranked
                if row["rank"] is None
                else f"{row['rank']}{' ≈' if row['separated'] is False else ''}",
                escape(row["loss"]),
                _mean_std(row),
                score_text(100 * row["nmi"]),
                "–" if spe is None else f"{spe:.3f}",
                _runs(row),
            )
        out.print(table)
    _report_failures(summary)


def _mean_std(row: dict) -> str:
    # One seed has no spread to show: "± 0.0" would claim one.
    from dtc.experiment.report import score_text

    if row["n_seeds"] == 1:
        return score_text(100 * row["acc"])
    return f"{score_text(100 * row['acc'])} ± {score_text(100 * row['acc_std'])}"


def _runs(row: dict) -> str:
    return f"{row['n_runs']}/{row['n_tasks']}"


@app.command()
def datasets(
    folders: Annotated[
        list[str] | None,
        typer.Argument(help="Folders of domain files to read as benchmarks too (see README)."),
    ] = None,
    data_dir: DataDirOption = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
):
    """List the benchmarks, their domains and whether their files were found."""
    from dtc import data

    where = data.resolve_data_dir(data_dir)
    rows = [data.benchmark_info(name, data_dir=data_dir) for name in data.list_benchmarks()]
    for folder in folders or []:
        if folder in data.list_benchmarks() or not _path_arg(folder).is_dir():
            raise _fail(ValueError(f"{folder!r}: expected a folder of domain files"))
        try:
            rows.append(data.benchmark_info(folder))
        except ValueError as exc:  # a folder the benchmark refuses: say why, as `run` would
            raise _fail(exc) from exc
    if json_out:
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    title = f"benchmarks (data directory: {where or 'unset: set DTC_DATA or --data-dir'})"
    if where is not None and (problem := data.data_dir_problem(where)) is not None:
        # every benchmark read "missing", as if the folder lacked them
        err.print(escape(f"note: {problem}"), highlight=False, soft_wrap=True)
    table = Table(title=escape(title))
    for col in ("benchmark", "domains", "classes", "files"):
        table.add_column(col)
    for row in rows:
        if not row["files"]:
            status = "embedded (no files)"
        else:
            status = "found" if row["available"] else "[red]missing[/red]"
        table.add_row(row["name"], ", ".join(row["domains"]), str(row["n_classes"]), status)
    out.print(table)


def prepare() -> None:
    """What every command needs before it parses its arguments (``dtc.__main__.main``
    calls it, then :data:`app`)."""
    from dtc.experiment.store import tolerant_output

    tolerant_output()  # "±" and the user's names where stdout cannot encode them


if __name__ == "__main__":  # pragma: no cover - `python -m dtc.cli`, as before dtc.__main__
    prepare()
    app()
