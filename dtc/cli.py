"""The ``dtc`` command.

``dtc run``        one run (the embedded default when called with no option);
``dtc datasets``   the benchmarks, their domains and whether their files were found.

Human-readable output (tables, progress) goes to the terminal; with ``--json`` the
only thing on stdout is one JSON object per run, and progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="dtc: deep transfer clustering of an unlabelled target domain.",
)
out = Console()
err = Console(stderr=True)

DEFAULT_RESULTS = Path("results") / "runs.jsonl"

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Benchmark data directory (default: $DTC_DATA).", show_default=False
    ),
]


def parse_assignments(items: list[str] | None, *, option: str = "--set") -> dict:
    """``["a=1", "b=true", "c=[1,2]"]`` -> ``{"a": 1, "b": True, "c": [1, 2]}``.

    Values are parsed as YAML scalars/flow collections (so ``false`` is a bool and
    ``0.5`` a float); ``a.b=1`` sets ``{"a": {"b": 1}}``.
    """
    result: dict = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint=option)
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise typer.BadParameter(
                f"{item!r}: value is not valid YAML ({exc})", param_hint=option
            ) from exc
        node = result
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


def _metrics_table(record: dict) -> Table:
    title = (
        f"{record['method']} on {record['benchmark']}: {record['source']} -> {record['target']} "
        f"(seed {record['seed']}, {record['seconds']:.1f} s)"
    )
    table = Table(title=title)
    names = [n for n in ("acc", "acc_unmatched", "nmi", "ari", "purity") if n in record["metrics"]]
    for name in names:
        table.add_column(
            name.upper() if name != "acc_unmatched" else "ACC (unmatched)", justify="right"
        )
    table.add_row(*(f"{100 * record['metrics'][n]:.2f}" for n in names))
    return table


@app.command()
def run(
    benchmark: Annotated[str, typer.Option(help="Benchmark name (see `dtc datasets`).")] = "digits",
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
        bool, typer.Option("--json", help="Print one JSON object on stdout only.")
    ] = False,
    results: Annotated[
        Path, typer.Option(help="JSONL file every run is appended to.")
    ] = DEFAULT_RESULTS,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Do not append to the results file.")
    ] = False,
):
    """Run one method on one benchmark pair and print its metrics."""
    from dtc.experiment import RunSpec, append_record, run_single
    from dtc.experiment.single import default_method

    spec = RunSpec(
        method=method or default_method(),
        benchmark=benchmark,
        source=source,
        target=target,
        seed=seed,
        params=parse_assignments(set_),
        data_params=parse_assignments(data_set, option="--data"),
    )
    console = err if json_out else out
    try:
        with console.status(f"fitting {spec.method} on {benchmark} ...", spinner="dots"):
            record = run_single(spec, data_dir=data_dir)
    except (ValueError, FileNotFoundError, RuntimeError, FloatingPointError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from exc
    record["spec"] = spec.to_dict()
    if not no_record:
        append_record(results, record)
    if json_out:
        sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    else:
        out.print(_metrics_table(record))
        if not no_record:
            out.print(f"[dim]appended to {results}[/dim]")


@app.command()
def datasets(
    data_dir: DataDirOption = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
):
    """List the benchmarks, their domains and whether their files were found."""
    from dtc import data

    where = data_dir or os.environ.get("DTC_DATA")
    rows = [data.benchmark_info(name, data_dir=data_dir) for name in data.list_benchmarks()]
    if json_out:
        sys.stdout.write(json.dumps(rows, default=str) + "\n")
        return
    table = Table(
        title=f"benchmarks (data directory: {where or 'unset: set DTC_DATA or --data-dir'})"
    )
    for col in ("benchmark", "domains", "classes", "files"):
        table.add_column(col)
    for row in rows:
        found = row.get("found")
        status = "embedded" if found is None else ("found" if found else "[red]missing[/red]")
        table.add_row(row["name"], ", ".join(row["domains"]), str(row["n_classes"]), status)
    out.print(table)


def main() -> None:  # pragma: no cover - console-script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
