"""Tables from a results file: mean +- std over seeds, best per column in bold.

Bold is decided on the values as shown (one decimal): cells that read the same are
all bold.

Rows are report labels (plus the grid point when a label has a grid), columns are
tasks (benchmark, source -> target, plus the data parameters that vary across the
file). A data parameter that may change the target's samples or labels (``imbalance_*``,
the digits' ``shift``, ``seed``, ``source_fraction``: any but ``preprocess``) always
names the column, even when only one method sets it; ``preprocess`` set for one method
only names its row (``STC (preprocess=raw)``), as the target is the same. One table per
metric is written as Markdown, CSV (long format: one line per cell with mean, std --
empty for one seed --, n and best) and LaTeX.

A cell should hold every seed planned for its column: the config's seeds when given
(``dtc report --config``), otherwise every seed that any row of the table ran on that
column (a seed that failed for every row of a column is then not seen as missing). A
cell with fewer (a failed or missing run) shows ``n=k/m`` (k of the m planned seeds) and
is never bold; a row mean over such cells is marked ``(incomplete)`` and never bold.

When a benchmark has several pairs, ``by_benchmark_*`` tables also give its family mean
per row: the mean over its pairs for each seed, then mean +- std over seeds. A seed
counts only if it has every pair of the column: one lacking a pair is missing there.

A report folder holds only the current report: :func:`write_report` lists the files it
writes in ``report_files.jsonl`` and removes those the previous report listed that it
did not write again; files no report listed are left alone.

When a label was run at several grid points, an extra **oracle** table picks, per
column, the grid point with the best mean score *by target labels*. It is not a
result a method could reach without labels and is written to files named
``oracle_*`` with that warning in their caption.

A cell holds one run per seed of one configuration. Runs that share a row and a column
but not a configuration -- two configs' "K-means" written to one folder, a row whose
parameters changed since some of its runs, single runs with other ``--set`` values --
get rows of their own, named by what tells them apart (``config=...``, ``method=...``,
the differing resolved parameters); two runs of one configuration with the same seed
in one cell raise ``ValueError`` naming them, since averaging them would count one seed
twice.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np

from dtc._validation import user_path
from dtc.experiment.single import (
    NOT_RESULT_PARAMS,
    SEED_PARAMS,
    canonical_value,
    data_defaults,
)
from dtc.experiment.store import (
    read_records,
    record_json,
    recorded_number,
    replace_file,
    write_records,
)

__all__ = [
    "METRIC_ORDER",
    "Cell",
    "ResultTable",
    "build_tables",
    "cell_names",
    "record_problem",
    "write_report",
]

METRIC_ORDER = (
    "acc",
    "nmi",
    "ari",
    "acc_unmatched",
    "purity",
    "macro_f1",
    "balanced_acc",
    "min_recall",
    "minority_recall",
)
METRIC_NAMES = {
    "acc": "ACC",
    "nmi": "NMI",
    "ari": "ARI",
    "acc_unmatched": "ACC (no matching)",
    "macro_f1": "macro-F1",
    "balanced_acc": "balanced ACC",
    "min_recall": "worst-class recall",
    "minority_recall": "minority recall",
    "purity": "purity",
}
ORACLE_CAPTION = (
    "ORACLE: per column, the grid point with the best mean by TARGET LABELS; an upper "
    "bound, not a method's result, and never bold"
)


@dataclass
class Cell:
    """Scores (in %) of one row and column, one per seed; ``left_out`` is the number of
    seeds planned for the column that are not in ``values`` (no run of this row, or for
    family means no run of every pair of the column). ``seeds``, when given, are the
    seeds of ``values`` in order: distinct, so that ``n`` is the number of seeds and not
    of records."""

    values: list[float]
    left_out: int = 0
    seeds: tuple = ()

    def __post_init__(self):
        if self.seeds and (
            len(self.seeds) != len(self.values) or len(set(self.seeds)) != len(self.seeds)
        ):
            raise ValueError(
                f"Cell: expected one value per distinct seed, got {len(self.values)} value(s) "
                f"for seeds {list(self.seeds)}"
            )

    @property
    def n(self) -> int:
        """The number of seeds (one value each)."""
        return len(self.values)

    @property
    def complete(self) -> bool:
        """Whether no configured seed is missing from the cell."""
        return self.left_out == 0

    @property
    def mean(self) -> float:
        """Mean of the runs' values."""
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        """Standard deviation of the runs' values (ddof=1; 0 for one run)."""
        # Sample std (ddof=1) as in papers' "mean +- std over runs"; 0 for one run.
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0


@dataclass
class ResultTable:
    """One metric: ``cells[row][column]``; ``rows`` and ``columns`` in display order."""

    metric: str
    rows: list[str]
    columns: list[str]
    cells: dict
    caption: str = ""
    #: Rows shown but never bold nor compared for it: an oracle table's oracle rows, which
    #: chose by target labels, beside rows that did not.
    unranked: frozenset = frozenset()

    def best(self, column: str) -> float | None:
        """The best mean of ``column`` among its complete cells (``unranked`` rows left
        out), as shown (rounded); a NaN mean (a metric a run could not compute) is never
        the best. Computed afresh (a table edited after a rendering kept a cached bold): a
        renderer asks once per column, :meth:`bests`."""
        means = [
            _shown(cell.mean)
            for r in self.rows
            if r not in self.unranked
            and (cell := self.cells[r].get(column)) is not None
            and cell.complete
            and not np.isnan(cell.mean)
        ]
        return max(means) if means else None

    def bests(self) -> dict:
        """:meth:`best` of every column, for one rendering (asked for every cell, it made
        rendering quadratic in the rows: 400 rows, 12 s per format)."""
        return {column: self.best(column) for column in self.columns}

    def is_best(
        self, cell: Cell, column: str, row: str | None = None, *, bests: dict | None = None
    ) -> bool:
        """Whether ``cell`` (of ``row``, where given) is complete and shows the best mean of
        ``column``: bold is decided on the shown values, so cells that read the same are
        all bold; a cell of an ``unranked`` row never is. ``bests``: :meth:`bests` of this
        rendering (computed here otherwise)."""
        if row in self.unranked:
            return False
        best = self.best(column) if bests is None else bests[column]
        return cell.complete and best is not None and _shown(cell.mean) == best

    @property
    def incomplete(self) -> bool:
        """Whether some cell misses some of its seeds."""
        return any(not cell.complete for row in self.cells.values() for cell in row.values())

    def row_mean(self, row: str) -> float | None:
        """The mean over columns of the cells' means, only for rows that have every
        column (two at least); see :meth:`row_complete` for whether it is over
        complete cells."""
        cells = [self.cells[row].get(c) for c in self.columns]
        if len(cells) < 2 or any(cell is None for cell in cells):
            return None
        return float(np.mean([cell.mean for cell in cells]))

    def row_complete(self, row: str) -> bool:
        """Whether every cell of ``row`` has all its planned seeds."""
        return all(cell.complete for cell in self.cells[row].values())

    @property
    def seeds(self) -> set[int]:
        """The numbers of runs the cells hold (one element when every cell has as many)."""
        return {cell.n for row in self.cells.values() for cell in row.values()}


# -- checking -----------------------------------------------------------------
# What the report reads of a run record, and the type each must have.
# numbers.Integral / Real: records built in memory may hold numpy scalars (np.int64 seeds,
# np.float32 scores), which JSON never gives but the report reads as well.
_RECORD_FIELDS = {
    "method": str,
    "benchmark": str,
    "source": str,
    "target": str,
    "seed": numbers.Integral,
    "metrics": dict,
}
_OPTIONAL_FIELDS = {
    "label": str,
    "run_id": str,
    "data_params": dict,
    "grid": dict,
    "realised_ratio": numbers.Real,
    # read by the figures, the notes and a resume: a null or a list there was a traceback
    # (after the report's files were written)
    "versions": dict,
    "history": list,
    "spec": dict,
    "params": dict,
}
_KIND_NAMES = {
    list: "a list",
    str: "text",
    numbers.Integral: "an int",
    numbers.Real: "a number",
    dict: "a mapping",
}


def _is(value, kind: type) -> bool:
    # bool is an int to Python, but no seed nor score
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


def record_problem(record) -> str | None:
    """What keeps ``record`` from being a run record the report can read (a short
    phrase, e.g. ``"missing 'method'"``), or ``None``: a mapping with ``method``,
    ``benchmark``, ``source``, ``target`` (text), ``seed`` (an int), ``metrics`` (a
    mapping of numbers, finite or NaN, or ``null``, which records write for NaN) and, when present, ``label``, ``run_id`` (text), ``data_params``,
    ``grid``, ``versions``, ``spec``, ``params`` (mappings), ``realised_ratio`` (a number),
    ``history`` (a list of mappings). Pass it as ``check`` to
    :func:`~dtc.experiment.store.read_records`."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    missing = [key for key in _RECORD_FIELDS if key not in record]
    if missing:
        return f"missing {missing[0]!r}"
    for key, kind in {**_RECORD_FIELDS, **_OPTIONAL_FIELDS}.items():
        if key in record and not _is(record[key], kind):
            return f"{key!r} is {type(record[key]).__name__}, expected {_KIND_NAMES[kind]}"
    for i, entry in enumerate(record.get("history", [])):
        if not isinstance(entry, dict):
            return f"history entry {i} is {type(entry).__name__}, expected a mapping"
    for name, value in record["metrics"].items():
        if value is None:  # a NaN, as records are written (strict JSON has none)
            continue
        if not _is(value, numbers.Real):
            return f"metric {name!r} is {type(value).__name__}, expected a number"
        # NaN is a score a run could not compute; no metric is infinite, and an edited or
        # foreign file's Infinity (1e999 too) was shown bold as the best cell
        # (1e307 too: shown in percent, it is infinite)
        if math.isinf(100.0 * value):
            return f"metric {name!r} is {value}, expected a finite number (or NaN)"
    return None


def _check_records(records: list) -> None:
    """``ValueError`` naming the first of ``records`` that :func:`record_problem` refuses."""
    for i, record in enumerate(records, 1):
        if (problem := record_problem(record)) is not None:
            raise ValueError(f"record {i} is not a run record ({problem})")


# -- grouping -----------------------------------------------------------------
def _fmt_value(v) -> str:
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _row_name(
    record: dict,
    grid_labels: set[str],
    method_keys: Sequence[str] = (),
    identity_keys: Sequence[str] = (),
) -> str:
    label = _label(record)
    data = record.get("data_params", {})
    own = [f"{k}={_fmt_value(data[k])}" for k in method_keys if k in data]
    # data settings of this method only (e.g. preprocess=raw), then what tells this
    # run's configuration from another one's in the same row and column
    own += _identity_parts(record, identity_keys)
    if own:
        label += f" ({', '.join(own)})"
    if _label(record) in grid_labels and record.get("grid"):
        point = ", ".join(f"{k}={_fmt_value(v)}" for k, v in record["grid"].items())
        return f"{label} [{point}]"
    return label


# The pseudo-keys of a run's configuration besides its parameters, in display order.
_CONFIG, _METHOD = "config", "method"


def _params(record: dict) -> dict | None:
    """The record's resolved method parameters less those set to the seed (they differ
    between the seeds of one configuration by design), at the top and in the objects it
    describes (a config's objects take the run's seed too), and less those that never
    change what a run computes (:data:`~dtc.experiment.single.NOT_RESULT_PARAMS`: the
    runner pools them, so the report does); ``None`` when not recorded."""
    params = record.get("params")
    if not isinstance(params, dict):
        return None
    spec = record.get("spec")
    given = spec.get("params") if isinstance(spec, dict) else None
    given = given if isinstance(given, dict) else {}
    return {
        k: _without_seed(v, record.get("seed"), given.get(k, _NOT_GIVEN))
        for k, v in params.items()
        if k not in SEED_PARAMS and k not in NOT_RESULT_PARAMS
    }


_NOT_GIVEN = object()


def _without_seed(value, seed, given=_NOT_GIVEN):
    """``value`` (a described parameter) less the seeds the run gave its objects: one
    configuration's runs were split into one row per seed. ``given``: the parameter as the
    config wrote it (the record's ``spec``), which tells a seed the run gave (absent there)
    from one the config fixed (kept, whatever its value); without it, a seed equal to the
    run's counts as the run's."""
    if isinstance(value, list):
        pairs = given if isinstance(given, list) and len(given) == len(value) else None
        return [
            _without_seed(v, seed, _NOT_GIVEN if pairs is None else pairs[i])
            for i, v in enumerate(value)
        ]
    if not isinstance(value, dict):
        return value
    written = given if isinstance(given, dict) else {}
    out = {k: _without_seed(v, seed, written.get(k, _NOT_GIVEN)) for k, v in value.items()}
    if "object" in value and isinstance(out.get("params"), dict):
        fixed = (written.get("params") or {}) if "object" in written else None

        def runs(key, v) -> bool:
            if key not in SEED_PARAMS:
                return False
            return v == seed if fixed is None else key not in fixed

        out["params"] = {k: v for k, v in out["params"].items() if not runs(k, v)}
    return out


def _norm(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _telling_keys(records: list[dict]) -> set[str]:
    """The keys (``config``, ``method``, parameter names) whose values differ among
    ``records``, the runs of one row in one column. Parameters are compared only
    between runs of the same config and method: across methods every parameter
    differs, and the method already tells the runs apart."""
    keys = set()
    if len({r.get("config") for r in records}) > 1:
        keys.add(_CONFIG)
    if len({r["method"] for r in records}) > 1:
        keys.add(_METHOD)
    groups = defaultdict(list)
    for r in records:
        if (params := _params(r)) is not None:
            groups[r.get("config"), r["method"]].append(params)
    for group in groups.values():
        for k in set().union(*group):
            if len({_norm(p[k]) if k in p else "<unset>" for p in group}) > 1:
                keys.add(k)
    return keys


def _identity_parts(record: dict, keys: Sequence[str]) -> list[str]:
    parts = []
    for k in keys:
        if k == _CONFIG:
            config = record.get("config")
            parts.append("single run" if config is None else f"config={config}")
        elif k == _METHOD:
            parts.append(f"method={record['method']}")
        elif (params := _params(record)) is not None and k in params:
            parts.append(f"{k}={_fmt_value(params[k])}")
    return parts


def _ordered_keys(keys: set[str]) -> list[str]:
    head = [k for k in (_CONFIG, _METHOD) if k in keys]
    return head + sorted(keys - {_CONFIG, _METHOD})


def _rows(records: list[dict]) -> list[tuple[str, str]]:
    """``(row, group)`` of each record: its table row and, for oracle tables, the row
    that its grid points share (the label, plus what tells its configuration apart).

    A row is the label (plus its own data settings and grid point) as long as each
    of its cells holds runs of one configuration -- a cell of the ``by_benchmark``
    tables too, which pools the row's pairs of a benchmark. When runs of other
    configurations share a cell -- other configs, methods or resolved parameters (seed parameters
    aside) -- every row of that label also names the keys that differ (e.g.
    ``K-means (config=cfgA)``), so that they are never averaged together.
    """
    grid_labels = {r.get("label") for r in records if r.get("grid")}
    varying, method_keys = _varying_data_keys(records)
    cells = defaultdict(list)
    for r in records:
        # by benchmark, not by pair: a family mean pools a row's pairs, so runs of other
        # configurations on two pairs of one benchmark must not share a row either
        col = _column_name(r, varying, by_benchmark=True)
        cells[_row_name(r, grid_labels, method_keys), col, _label(r)].append(r)
    telling = defaultdict(set)  # label -> keys telling its runs apart in some cell
    for (_, _, label), runs in cells.items():
        telling[label] |= _telling_keys(runs)
    out = []
    for r in records:
        keys = _ordered_keys(telling[_label(r)])
        parts = _identity_parts(r, keys)
        group = _label(r) + (f" ({', '.join(parts)})" if parts else "")
        out.append((_row_name(r, grid_labels, method_keys, keys), group))
    return out


def cell_names(records: list[dict]) -> list[tuple[str, str]]:
    """``(row, column)`` of each record in the per-pair tables of ``records`` (as
    :func:`build_tables` names them), e.g. for figures whose lines are the tables' rows.
    Pass records with distinct run_ids: the names depend on every record given."""
    _check_records(records)
    varying = _varying_data_keys(records)[0]
    return [(row, _column_name(r, varying)) for r, (row, _) in zip(records, _rows(records))]


def _check_one_run_per_seed(records: list[dict], names: list[tuple[str, str]]) -> None:
    """``ValueError`` when a cell (``names``: the records' ``(row, column)``, see
    :func:`cell_names`) would hold two runs of one seed: their mean would count that seed
    twice."""
    seen = defaultdict(list)
    for r, (row, col) in zip(records, names):
        seen[row, col, r["seed"]].append(r)
    clashes = [(key, runs) for key, runs in seen.items() if len(runs) > 1]
    if not clashes:
        return
    (row, col, seed), runs = clashes[0]
    more = f" ({len(clashes) - 1} more such cell(s))" if len(clashes) > 1 else ""
    if any(r.get("config") for r in runs):
        remedy = (
            "Remove the duplicated runs from the results file, run their config again (it "
            "sets aside the runs that its current ones replace) or tabulate one config's "
            "current runs with `dtc report --config`"
        )
    else:  # single runs (`dtc run --method ...`): no config to run again or to name
        remedy = (
            "Delete the repeated lines from the results file (keep one per seed), or give "
            "each single run its own `--results` file"
        )
    raise ValueError(
        f"row {row!r}, column {col!r}: {len(runs)} records of seed {seed} "
        f"({'; '.join(_describe_run(r) for r in runs)}){more}; a cell holds one run per "
        f"seed. {remedy}"
    )


def _describe_run(record: dict) -> str:
    config = record.get("config")
    return ", ".join(
        [
            f"run_id {record['run_id']}" if "run_id" in record else "no run_id",
            "single run" if config is None else f"config {config!r}",
            f"method {record['method']!r}",
        ]
    )


def _label(record: dict) -> str:
    return record.get("label", record["method"])


def _column_name(record: dict, varying: list[str], by_benchmark: bool = False) -> str:
    name = record["benchmark"]
    if not by_benchmark:
        name += f":{record['source']}→{record['target']}"
    values = [(k, _data_value(record, k)) for k in varying]
    extra = [f"{k}={v}" for k, v in values if v is not None]
    return name + (f" ({', '.join(extra)})" if extra else "")


def _data_value(record: dict, key: str) -> str | None:
    """``record``'s data parameter ``key``, formatted, its default when left out
    (:func:`dtc.experiment.single.data_defaults`), or None when it has neither or the
    target does not depend on it (``imbalance_minority_fraction`` under a profile other
    than ``"step"``)."""
    data = record.get("data_params", {})
    defaults = data_defaults(record["benchmark"])
    profile = data.get("imbalance_profile", defaults["imbalance_profile"])
    if key == "imbalance_minority_fraction" and profile != "step":
        return None  # only the step profile uses it: given or not, the same target
    if key in data:
        # 10 and 10.0 (two single runs' --data, which no config canonicalised) were two
        # columns of one task, and the row mean counted it twice
        return _fmt_value(canonical_value(data[key]))
    if key.startswith("imbalance_") and "imbalance_ratio" not in data:
        return None  # a balanced target has no imbalance settings, defaults included
    return _fmt_value(canonical_value(defaults[key])) if key in defaults else None


# Data parameters that change only how a method sees the target -- its features are
# transformed, its samples and labels stay the same -- so one method run with its own
# value is still scored on the same task. Every other data parameter (imbalance_*, the
# digits' shift, seed and source_fraction, a benchmark's own options) may change the
# target's samples or labels: scores under two values are of two tasks, never compared.
VIEW_DATA_KEYS = frozenset({"preprocess"})


def _varying_data_keys(records: list[dict]) -> tuple[list[str], list[str]]:
    """Data parameters that vary across the file, split in two: ``(task_keys,
    method_keys)``. A key that may change the target (any but :data:`VIEW_DATA_KEYS`)
    names columns, even when it only differs between labels (one method run on an
    imbalanced subset), so that scores on other targets never share a column. A view
    key names columns when it varies among the runs of one label (swept for a method)
    and rows when it only differs between labels (a method run on raw features), so
    that it does not split the columns."""
    per_label = defaultdict(lambda: defaultdict(set))
    keys = {k for r in records for k in r.get("data_params", {})}
    for r in records:
        for k in keys:  # a value left out is its default (None when it has none)
            per_label[_label(r)][k].add(_data_value(r, k))
    varying = {k for k in keys if len({v for d in per_label.values() for v in d[k]}) > 1}
    task = {
        k
        for k in varying
        if k not in VIEW_DATA_KEYS or any(len(d[k]) > 1 for d in per_label.values())
    }
    return sorted(task), sorted(varying - task)


def _ordered(items) -> list:
    return list(dict.fromkeys(items))


def build_tables(
    records: list[dict],
    metrics=None,
    *,
    by_benchmark: bool = False,
    seeds: Sequence[int] | None = None,
    planned: Sequence[dict] | None = None,
) -> list[ResultTable]:
    """One :class:`ResultTable` per metric present in ``records`` (or in ``metrics``).

    ``seeds``: the seeds planned for every cell (a config's ``seeds``); default, per
    column, the seeds that any row of the table ran on it. A cell without some of them
    counts them in ``Cell.left_out`` (shown ``n=k/m``, never bold). Records of other seeds
    are left out: counted in, a cell with an extra seed read as complete beside cells
    averaged over the planned seeds alone.

    ``by_benchmark``: one column per benchmark (and varying data parameters) instead of
    per pair; a cell's value for a seed is the mean over the column's pairs (those any
    row has, or ``planned``) run with that seed, so its std is over seeds of the pair means (how papers
    report a family mean such as "Office-Caltech10, mean of 12 pairs"). A seed lacking
    one of the pairs is left out of the cell (missing, as above): a mean over fewer
    pairs is not the family mean.

    ``planned``: the runs planned (a config's tasks, as dicts with ``benchmark``,
    ``source``, ``target``, ``data_params`` and ``label``), whose pairs every column
    should have: their columns are shown even where no run finished, and a family mean
    needs all their pairs. Without it, the pairs are those any record has, and a sweep
    stopped after 2 of 6 pairs read as complete family means and row means.

    Duplicated run_ids (should a file have been concatenated twice) count once; two records
    of one run_id with other scores or data are refused (:func:`unique_runs`).

    Columns are named by the imbalance ratio asked for (``imbalance_ratio``); the caption
    gives each column's realised ratio (the records' ``realised_ratio``, after rounding
    the class sizes) where the records have it.
    """
    if not records:
        raise ValueError("no records to report")
    _check_records(records)
    records = unique_runs(records)
    if seeds is not None:
        planned_seeds = set(seeds)
        records = [r for r in records if r["seed"] in planned_seeds]
        if not records:
            raise ValueError(f"no records of the seeds planned, {sorted(planned_seeds)}")
    names = cell_names(records)
    _check_one_run_per_seed(records, names)
    row_of = [row for row, _ in names]
    plan = list(planned or ())  # (`planned` below: each column's seeds)
    varying = _varying_data_keys(records + plan)[0]
    present = {m for r in records for m in r["metrics"]}
    # each once: --metric acc --metric acc wrote every file twice (and counted it twice)
    wanted = list(dict.fromkeys(metrics)) if metrics else [m for m in METRIC_ORDER if m in present]
    missing = [m for m in wanted if m not in present]
    if missing:
        raise ValueError(
            f"metric {missing[0]!r} is in no record; present: {', '.join(sorted(present))}"
        )
    tables = []
    for metric in wanted:
        # values[row][column][seed][pair]: the scores of that seed and pair
        values: dict = defaultdict(
            lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        )
        pairs = defaultdict(set)  # column -> its pairs
        planned = defaultdict(lambda: set(seeds or ()))  # column -> the seeds it should have
        rows, columns = [], []
        for p in plan:
            col = _column_name(p, varying, by_benchmark)
            columns.append(col)
            pairs[col].add((p["source"], p["target"]))
        for r, row in zip(records, row_of):
            if metric not in r["metrics"]:
                continue
            col = _column_name(r, varying, by_benchmark)
            rows.append(row)
            columns.append(col)
            pairs[col].add((r["source"], r["target"]))
            if seeds is None:
                planned[col].add(r["seed"])
            values[row][col][r["seed"]][r["source"], r["target"]].append(
                100.0 * recorded_number(r["metrics"][metric])
            )
        cells = {}
        for row, by_col in values.items():
            cells[row] = {}
            for col, per_seed in by_col.items():
                if not by_benchmark:  # one pair, one run per seed (checked above)
                    full = list(per_seed)
                    scores = [x for s in full for v in per_seed[s].values() for x in v]
                else:
                    full = [s for s, p in per_seed.items() if set(p) == pairs[col]]
                    scores = [
                        float(np.mean([np.mean(v) for v in per_seed[s].values()])) for s in full
                    ]
                if full:  # no seed with every pair: no family mean, the cell stays empty
                    missing = len(planned[col] - set(full))
                    cells[row][col] = Cell(scores, left_out=missing, seeds=tuple(full))
        columns = _ordered(columns)
        caption = _realised_ratio_note(records, columns, varying, by_benchmark)
        if by_benchmark:  # say what a cell averages: a family mean over how many pairs
            counts = "; ".join(f"{c}: {len(pairs[c])} pair(s)" for c in columns)
            note = (
                "Family means: per seed the mean over the column's pairs, then mean ± std "
                f"over seeds ({counts})."
            )
            caption = f"{note} {caption}" if caption else note
        tables.append(ResultTable(metric, _ordered(rows), columns, cells, caption=caption))
    return tables


#: What two records of one run_id must agree on to be one run recorded twice.
DUPLICATE_KEYS = ("metrics", "data_sha")


def _as_recorded(value):
    """``value`` as it reads back from a results file: plain numbers (numpy and torch
    values exactly, by ``item`` / ``tolist``), NaN as ``null``."""
    return json.loads(record_json({"value": value}))["value"]


def unique_runs(records: list[dict]) -> list[dict]:
    """``records`` with each ``run_id`` once (the first; records without one all kept): a
    file concatenated twice holds each run twice. Two records of one run_id that differ in
    their scores or data (``metrics``, ``data_sha``) raise ``ValueError`` naming it: two
    machines' folders put together, or a hand edit; keeping either one silently reported
    the other's score."""
    kept: dict = {}
    for r in records:
        first = kept.setdefault(r.get("run_id", id(r)), r)
        # as a results file holds them: a NaN score (two NaNs never compare equal) is the
        # same score, as are np.float32(0.5) and 0.5 (JSON text of str() told them apart)
        if first is not r and any(
            _as_recorded(first.get(k)) != _as_recorded(r.get(k)) for k in DUPLICATE_KEYS
        ):
            raise ValueError(
                f"run {r['run_id']} ({r.get('label', r.get('method'))}, seed {r.get('seed')}) "
                "is recorded twice with other scores or data (metrics or data_sha differ): "
                "keep one of the two records"
            )
    return list(kept.values())


def mixed_data(records: list[dict]) -> list[str]:
    """The pairs (with their data parameters) whose ``records`` were made on more than
    one version of their data (``data_sha``), e.g. ``"folder mine: a -> b (data_sha
    1d11fcf8bf78, 921da4e2caf4)"``; ``[]`` when none was. A resumed sweep sets aside the
    runs it re-runs on changed data, not those of seeds outside its invocation: a cell can
    then average both."""
    shas = defaultdict(set)
    for r in records:
        if isinstance(r.get("data_sha"), str):
            where = (r["benchmark"], r["source"], r["target"], _norm(r.get("data_params", {})))
            shas[where].add(r["data_sha"])
    return [
        f"{b} {s} -> {t}"
        + (f" {params}" if params != "{}" else "")
        + f" (data_sha {', '.join(sorted(found))})"
        for (b, s, t, params), found in sorted(shas.items())
        if len(found) > 1
    ]


def _realised_ratio_note(
    records: list[dict], columns: list[str], varying: list[str], by_benchmark: bool
) -> str:
    """The caption note giving ``columns``' realised imbalance ratios (several, for a
    family mean over pairs cut apart), or "" when no record of them has one."""
    realised = defaultdict(set)
    for r in records:
        if _is(r.get("realised_ratio"), numbers.Real):
            realised[_column_name(r, varying, by_benchmark)].add(f"{r['realised_ratio']:.2f}")
    shown = [f"{c}: {' / '.join(sorted(realised[c], key=float))}" for c in columns if realised[c]]
    if not shown:
        return ""
    return (
        "Realised imbalance ratio of the target (largest / smallest class once the class "
        "sizes are rounded; columns name the ratio asked for): " + "; ".join(shown) + "."
    )


def _choosing_labels(records: list[dict]) -> set:
    """The labels run at two or more grid points. One point is no choice: calling its
    row an oracle would say target labels picked it."""
    points = defaultdict(set)
    for r in records:
        if r.get("grid"):
            points[r.get("label")].add(json.dumps(r["grid"], sort_keys=True, default=str))
    return {label for label, seen in points.items() if len(seen) > 1}


def oracle_tables(records: list[dict], tables: list[ResultTable]) -> list[ResultTable]:
    """Per label with a grid: the best grid point per column, chosen by target labels."""
    records = unique_runs(records)
    row_groups = _rows(records)
    rows_of = defaultdict(set)  # group (the label, its configuration) -> its table rows
    points = defaultdict(set)  # group -> its grid points
    for r, (row, group) in zip(records, row_groups):
        rows_of[group].add(row)
        if r.get("grid"):
            points[group].add(json.dumps(r["grid"], sort_keys=True, default=str))
    # a group (not a label: one label's configs are rows of their own) with one grid
    # point has no choice made by target labels: not an oracle row
    choosing = {group for group, seen in points.items() if len(seen) > 1}
    out = []
    for table in tables:
        rows, cells = [], {}
        # each group's rows in the table's order: a scan of every table row per group
        # was quadratic (8,000 rows: 4.9 s)
        position = {row: i for i, row in enumerate(table.rows)}
        for group in _ordered(group for _, group in row_groups):
            members = sorted((r for r in rows_of[group] if r in position), key=position.get)
            if not members:
                continue
            rows.append(group + (" (oracle)" if group in choosing else ""))
            cells[rows[-1]] = {
                # a grid point missing seeds is chosen only when none has them all: a
                # mean over fewer seeds is not comparable (and a lucky one would win)
                col: max(
                    (table.cells[m][col] for m in members if col in table.cells[m]),
                    key=lambda c: (c.complete, not np.isnan(c.mean), c.mean),
                )
                for col in table.columns
                if any(col in table.cells[m] for m in members)
            }
        caption = " ".join(c for c in (ORACLE_CAPTION, table.caption) if c)
        oracle_rows = frozenset(group + " (oracle)" for group in choosing)
        out.append(
            ResultTable(
                table.metric, rows, table.columns, cells, caption=caption, unranked=oracle_rows
            )
        )
    return out


# -- rendering ----------------------------------------------------------------
def score_text(value: float) -> str:
    """A score (in %) as every table shows it, ``dtc report``'s and ``dtc bench-losses``'s:
    one decimal, rounded half up on the value's decimal digits (to nine places first). A
    mean that lies on a tie was rounded by its binary value, which the order of the sum
    moves: 4851/60 summed as percents or as fractions read 80.9 in one tool and 80.8 in
    the other, and ties at k/2000 (an MNIST target's ACC) went down as often as up. A value
    that rounds to zero reads "0.0", never "-0.0" (an ARI of -0.0004)."""
    value = float(value)  # repr of a numpy float is "np.float64(...)"
    if not math.isfinite(value) or abs(value) >= 1e15:
        # no decimal fraction left to round (and above 1e27 more digits than Decimal's
        # context holds: InvalidOperation)
        return f"{value:.1f}"
    shown = Decimal(repr(round(value, 9))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{abs(shown) if shown == 0 else shown:.1f}"


def _shown(value: float) -> float:
    # Bold is decided on what the reader sees: 80.04 and 80.01 both read "80.0", and
    # bolding one of them would claim a difference the table does not show.
    return float(score_text(value))


def _cell_text(cell: Cell, show_n: bool) -> str:
    # One run has no spread to show: "± 0.0" would claim one.
    text = (
        score_text(cell.mean)
        if cell.n == 1
        else f"{score_text(cell.mean)} ± {score_text(cell.std)}"
    )
    if not cell.complete:
        return f"{text} (n={cell.n}/{cell.n + cell.left_out})"
    return f"{text} (n={cell.n})" if show_n else text


def _caption(table: ResultTable) -> str:
    seeds = table.seeds
    if seeds == {1}:
        runs = "one seed"
    elif len(seeds) == 1:
        runs = f"mean ± std over {seeds.pop()} seeds"
    else:
        runs = "mean ± std (n = seeds per cell)"
    name = METRIC_NAMES.get(table.metric, table.metric)
    notes = [table.caption] if table.caption else []
    if table.incomplete:
        notes.append(
            "n=k/m: only k of the m seeds planned for the column (the config's, or else those "
            "any row ran on it) have a run here (of every pair, for a family mean): a run "
            "failed or is missing; such cells, and row means over them (marked incomplete), "
            "are not bold."
        )
    # an oracle table's oracle rows are never bold: the bold is the best of the others
    bold = "best of the non-oracle rows per column" if table.unranked else "best per column"
    return f"{name} (%), {runs}; {bold} in bold." + "".join(f" {n}" for n in notes)


def _grid(table: ResultTable, bold, plain) -> tuple[list[str], list[list[str]]]:
    """Header and body strings, ``bold(text)`` applied to the best of each column."""
    show_n = len(table.seeds) > 1
    header = ["method", *table.columns]
    with_mean = any(table.row_mean(r) is not None for r in table.rows)
    if with_mean:
        header.append("mean")
    best_mean = max(
        (
            _shown(m)
            for r in table.rows
            if r not in table.unranked
            and (m := table.row_mean(r)) is not None
            and table.row_complete(r)
            and not np.isnan(m)
        ),
        default=None,
    )
    body = []
    bests = table.bests()
    for row in table.rows:
        line = [plain(row)]
        for col in table.columns:
            cell = table.cells[row].get(col)
            if cell is None:
                line.append("–")
                continue
            text = plain(_cell_text(cell, show_n))
            line.append(bold(text) if table.is_best(cell, col, row, bests=bests) else text)
        if with_mean:
            m = table.row_mean(row)
            if m is None:
                line.append("–")
            elif not table.row_complete(row):
                line.append(f"{score_text(m)} (incomplete)")
            else:
                text = score_text(m)
                best = row not in table.unranked and _shown(m) == best_mean
                line.append(bold(text) if best else text)
        body.append(line)
    return header, body


# an underscore that is not between two letters or digits: it can open or close emphasis
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ESCAPES = str.maketrans(
    {"\\": "\\\\", "|": "\\|", "*": "\\*", "`": "\\`", "<": "&lt;", ">": "&gt;", "&": "&amp;"}
)


def to_markdown(table: ResultTable) -> str:
    def plain(text: str) -> str:
        # a "<mmd>" in a label rendered as an HTML tag (dropped), "*x*" and "_base_" as
        # emphasis, and a backslash ate the next character; "|" split the cell. Brackets
        # and intraword underscores ("[loss=mmd]", "imbalance_ratio") render as written
        # and stay.
        return _EDGE_UNDERSCORE.sub(r"\\_", text.translate(_MD_ESCAPES))

    header, body = _grid(table, lambda t: f"**{t}**", plain)
    lines = [
        # the caption names columns as the header does (a "_base_" read as emphasis)
        f"**{plain(_caption(table))}**",
        "",
        # a "|" in a column's name (a domain's) split the header into one cell more than
        # the separator row has, and the table did not render
        "| " + " | ".join(plain(h) for h in header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(line) + " |" for line in body]
    return "\n".join(lines) + "\n"


# Applied character by character, in one pass, so that the braces and backslash a
# replacement adds are never escaped again (escaping "{" after "\" would turn
# \textbackslash{} into \textbackslash\{\}, which typesets the braces).
_LATEX_ESCAPES = {
    **{c: f"\\{c}" for c in "&%$#_{}"},
    "\\": "\\textbackslash{}",
    "^": "\\textasciicircum{}",
    "~": "\\textasciitilde{}",
    # in LaTeX's default (OT1) font encoding these typeset as "¡", "¿" and a dash
    "<": "\\textless{}",
    ">": "\\textgreater{}",
    "|": "\\textbar{}",
    "±": "$\\pm$",
    "→": "$\\to$",
    "–": "--",
}


def _latex_escape(text: str) -> str:
    """``text`` as LaTeX that typesets it: its special characters escaped."""
    return "".join(_LATEX_ESCAPES.get(c, c) for c in text)


def to_latex(table: ResultTable) -> str:
    header, body = _grid(table, lambda t: f"\\textbf{{{t}}}", _latex_escape)
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_latex_escape(_caption(table))}}}",
        "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        "\\toprule",
        " & ".join(_latex_escape(h) for h in header) + " \\\\",
        "\\midrule",
    ]
    # "{}" first: a row starting with "[" or "*" was read as an option of the rule or the
    # line break before it (booktabs' midrule took "[abl] K-means" as a width)
    lines += ["{}" + " & ".join(line) + " \\\\" for line in body]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(table: ResultTable, path: Path) -> None:
    """One line per cell holding a run (``left_out``: its planned seeds without one). A
    cell with no run at all has no line, where the tables show "–": the rows are named
    from the records, so which of those cells were planned is not known here."""
    with replace_file(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["metric", "method", "task", "mean", "std", "n", "best", "left_out"])
        bests = table.bests()
        for row in table.rows:
            for col in table.columns:
                cell = table.cells[row].get(col)
                if cell is not None:
                    best = table.is_best(cell, col, row, bests=bests)
                    writer.writerow(
                        [
                            table.metric,
                            row,
                            col,
                            f"{cell.mean:.4f}",
                            # one seed has no spread: an empty std, as the tables show none
                            f"{cell.std:.4f}" if cell.n > 1 else "",
                            cell.n,
                            int(best),
                            cell.left_out,
                        ]
                    )


def write_report(
    results,
    out_dir,
    *,
    metrics=None,
    figures: bool = True,
    seeds: Sequence[int] | None = None,
    planned: Sequence[dict] | None = None,
) -> list[Path]:
    """Write ``<metric>.md/.csv/.tex`` (and ``oracle_*`` when grids exist,
    ``by_benchmark_*`` -- means over each benchmark's pairs -- when a benchmark has
    several pairs) and PNG
    figures for the records of ``results`` (a path or a list of records) into
    ``out_dir``; return the files written. ``seeds``, ``planned``: the seeds planned for
    every cell and the runs planned (see :func:`build_tables`).

    ``out_dir`` then holds only this report: the files it writes are listed in
    ``report_files.jsonl`` there, and those that the previous report listed but this
    one did not write (a metric, an oracle table, a figure it no longer has) are
    removed. Files the report did not write itself are never removed."""
    if isinstance(results, (str, Path)):
        records = read_records(results, check=record_problem)
    else:
        records = list(results)
    out_dir = user_path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = list(planned or ())
    tables = build_tables(records, metrics, seeds=seeds, planned=planned)
    written = []
    # the records of the tables (build_tables leaves out seeds not planned): the oracle
    # rows are named from them as the tables' rows are (a config's run of another seed
    # renamed a row "k (config=A)", found in no table, and left it out of the oracle
    # table), and the curves too leave those seeds out
    planned_seeds = None if seeds is None else set(seeds)
    shown = [r for r in records if planned_seeds is None or r["seed"] in planned_seeds]
    has_grid = bool(_choosing_labels(shown))
    sets = [("", tables)] + ([("oracle_", oracle_tables(shown, tables))] if has_grid else [])
    runs = records + planned
    if len({(r["benchmark"], r["source"], r["target"]) for r in runs}) > len(
        {r["benchmark"] for r in runs}
    ):  # some benchmark has several pairs: also its family means
        by_benchmark = build_tables(
            records, metrics, by_benchmark=True, seeds=seeds, planned=planned
        )
        sets.append(("by_benchmark_", by_benchmark))
    previous = _listed_files(out_dir)
    try:
        for prefix, group in sets:
            for table in group:
                stem = out_dir / f"{prefix}{table.metric}"
                for suffix, text in ((".md", to_markdown(table)), (".tex", to_latex(table))):
                    with replace_file(stem.with_suffix(suffix)) as tmp:
                        tmp.write_text(text, encoding="utf-8")
                to_csv(table, stem.with_suffix(".csv"))
                written += [stem.with_suffix(s) for s in (".md", ".tex", ".csv")]
        if figures:
            from dtc.experiment import plots

            written += plots.report_figures(shown, tables, out_dir)
    except BaseException:
        # A report cut short removes nothing, but lists what it wrote so that the
        # next one may remove it.
        _list_files(out_dir, previous | {p.name for p in written})
        raise
    names = {p.name for p in written}
    # Compared without case: on a case-insensitive file system an old "ACC.md" is the
    # "acc.md" just written, and removing it would remove the new one.
    kept = {n.casefold() for n in names}
    for name in sorted(previous - names):
        if name.casefold() not in kept:
            (out_dir / name).unlink(missing_ok=True)
    _list_files(out_dir, names)
    return written


# The list of the files the last report wrote into its folder: what the next one may
# remove. A file is never removed unless a report listed it.
REPORT_FILES = "report_files.jsonl"


def _listed_files(out_dir: Path) -> set[str]:
    """The files of ``out_dir`` that the previous report listed as its own (none when
    no report listed any, or the list is unreadable: then nothing is known to be ours)."""
    try:
        listed = read_records(out_dir / REPORT_FILES)
    except (ValueError, OSError):
        return set()
    names = {r.get("file") for r in listed}
    # a bare file name of this folder, never a path that leads out of it
    return {
        n
        for n in names
        if isinstance(n, str)
        and n not in ("", ".", "..", REPORT_FILES)
        and Path(n).name == n
        and (out_dir / n).is_file()
    }


def _list_files(out_dir: Path, names: set[str]) -> None:
    write_records(out_dir / REPORT_FILES, [{"file": n} for n in sorted(names)])
