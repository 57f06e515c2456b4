"""Experiment configs: a YAML schema, command-line overrides and grid expansion.

A config names the benchmark pairs, the methods (with fixed parameters and grids),
the seeds and optional extra metrics::

    name: smoke
    benchmarks:
      - benchmark: digits          # dtc.data.list_benchmarks(), or a folder of domain files
        pairs: all                 # "all", "default" (the first pair) or [[source, target], ...]
        data: {source_fraction: 0.5}  # passed to dtc.data.load_pair (imbalance_ratio: runner)
        grid: {shift: [0.3, 0.7]}  # optional: data parameters swept like method grids
    methods:
      kmeans:                      # a label: the row name in reports
        method: kmeans             # registry name or "package.module:Class" (default: the label)
        params: {max_iter: 100}    # a parameter is given in params or in grid, not both
        grid: {n_init: [1, 10]}    # every combination becomes its own row
        data: {preprocess: raw}    # optional: data parameters for this method's runs only
        benchmark_params:          # optional: a benchmark's own defaults for this method,
          digits: {n_clusters: 12} #   overridden by params and grid
      DTC:
        method: dtc
    seeds: [0, 1, 2]               # or an int n meaning [0, ..., n-1]
    metrics: [imbalance]           # extra metrics: macro_f1, balanced_acc, min_recall, minority_recall
    budget: {pretrain_epochs: 5}   # defaults for every method that has the parameter (one must)

A parameter value ``{object: "package.module:Class", params: {...}}`` (also inside
lists) is built into ``Class(**params)`` when the run starts, e.g. DTC's monitor
``callbacks``.

Expansion yields methods x their grids x pairs x data grids x seeds :class:`Task` s,
each with a ``run_id`` hashing its resolved configuration and seed, so a sweep can be
resumed by skipping the ids already in the results file. A method, loss or object named
by ``"package.module:Class"`` (a user's own), and a name registered to a class defined
outside dtc's own packages (``dtc.methods.register``, ``dtc.align.register``, the
entry-point groups ``dtc.methods`` and ``dtc.losses``), also puts the hash of the file
that defines it into the id (:func:`plugin_code`): its name stays the same when its code
is edited, and a run of the old code must not pass for one of the new. Built-in methods
and losses put nothing in (their ids do not change with dtc's code).

Everything the config names is checked at load time against the registries: an
unknown key, method, parameter, alignment loss, benchmark, domain or preprocessing, a
data value the loaders would refuse (``shift: big``, ``imbalance_profile: exponental``),
a method's ``seed`` (set by ``seeds:``) or an override of a row the config does not have
raises ``ValueError`` naming it (and the available choices). The *values* of method
parameters are the method's to check: each row's runs are checked by its method's
:meth:`~dtc.methods.TransferClusterer.check_params` (no data; ``dtc.DTC`` and every
registered baseline check there their parameters' types, ranges and choices); a value
only the fit can check (against the data's size, say) fails its runs, which are recorded
in ``errors.jsonl``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import numbers
import os
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import yaml

from dtc import data, methods
from dtc._plugins import class_hash, hash_ordered, is_own, module_of, plugin_hash
from dtc._validation import SEED_MAX, user_path
from dtc._warnings import warn
from dtc.experiment.single import (
    NOT_RESULT_PARAMS,
    RUNNER_DATA_KEYS,
    RunSpec,
    build_objects,
    canonical_data_params,
    check_not_seed,
    configured_method,
    imbalance_options,
    result_params,
)

__all__ = [
    "EXTRA_METRICS",
    "NOT_RESULT_PARAMS",
    "RUNNER_DATA_KEYS",
    "ExperimentConfig",
    "Task",
    "expand",
    "load_config",
    "parse_overrides",
    "result_params",
    "validate_config",
]

TOP_KEYS = ("name", "description", "benchmarks", "methods", "seeds", "metrics", "budget")
BENCHMARK_KEYS = ("benchmark", "pairs", "data", "grid")
METHOD_KEYS = ("method", "params", "benchmark_params", "grid", "data")
# metric set -> the metrics it adds to a record (dtc.metrics.evaluate(imbalance=True))
EXTRA_METRICS = {"imbalance": ("macro_f1", "balanced_acc", "min_recall", "minority_recall")}


@dataclass(frozen=True)
class Task:
    """One run of a sweep: its label (report row), grid point, spec and id."""

    label: str
    spec: RunSpec
    grid: dict = field(default_factory=dict)
    imbalance: bool = False
    config_name: str = "experiment"
    code: dict = field(default_factory=dict)

    @functools.cached_property
    def run_id(self) -> str:
        # cached: read several times per task by a sweep (a spec's JSON hashed each time)
        return run_id(self.label, self.spec, self.code)

    def to_dict(self) -> dict:
        """Plain JSON-able form (what a worker process receives); :meth:`from_dict` inverts it."""
        return {
            "label": self.label,
            "spec": self.spec.to_dict(),
            "grid": self.grid,
            "imbalance": self.imbalance,
            "config_name": self.config_name,
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        """The task :meth:`to_dict` gave ``d``."""
        return cls(
            label=d["label"],
            spec=RunSpec(**d["spec"]),
            grid=d["grid"],
            imbalance=d["imbalance"],
            config_name=d["config_name"],
            code=d.get("code", {}),
        )


def run_id(label: str, spec: RunSpec, code: dict | None = None) -> str:
    """A short hash of the label, the resolved spec (seed included; its parameters but
    :data:`NOT_RESULT_PARAMS`) and ``code``, the hashes of the plugins the spec names
    (:func:`plugin_code`; left out when there are none, so the ids of runs of built-in
    methods and losses never depend on it).

    The label is part of it because a report row is a label: two rows that happen to
    share a configuration are two runs.
    """
    spec = dataclasses.replace(spec, params=result_params(spec.params))
    content = {"label": label, **spec.to_dict(), **({"code": code} if code else {})}
    payload = json.dumps(content, sort_keys=True, default=_id_text)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _id_text(value) -> str:
    # str() but a set of strings' items sorted: its order follows the strings' hashes, which
    # differ in every process (PYTHONHASHSEED), and a resumed sweep set its finished runs
    # aside (the ids of every other value are as before)
    if isinstance(value, (set, frozenset)) and hash_ordered(value):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return str(value)


# "package.module:Class": how a config names a plugin (a method, a loss, an object)
_PLUGIN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")

# dtc.align.registry.ENTRY_POINT_GROUP, named here so that checking a string against it
# does not import torch (dtc.align) for a config that names no loss
_LOSS_GROUP = "dtc.losses"


def _registry(kind: str, name: str):
    """The registry of ``kind`` ("method" or "loss"), or ``None`` for the losses when
    ``name`` cannot be one of a user's there without importing them: ``dtc.align`` not
    imported yet (so nothing was registered at run time) and ``name`` no entry point of
    ``dtc.losses``."""
    if kind == "method":
        return methods._METHODS
    if "dtc.align.registry" not in sys.modules and name not in {
        ep.name for ep in entry_points(group=_LOSS_GROUP)
    }:
        return None
    from dtc.align import registry  # torch: a name of the group (which a built-in may hold)

    return registry._LOSSES


def _user_class(kind: str, name: str) -> type | None:
    """The class registered as ``name`` among the ``kind`` s (methods, losses) when it is
    defined outside dtc's own packages (:data:`dtc._plugins.OWN_PACKAGES`); ``None`` for a string that
    is no such name, a built-in (a ``"dtc..."`` or ``"baselines..."`` string target is
    not imported to tell), or a class that cannot be imported here."""
    registry = _registry(kind, name)
    target = None if registry is None else registry.target(name)
    if target is None or (isinstance(target, str) and is_own(target)):
        return None
    try:
        cls = registry.get_class(name)
    except Exception:  # a broken plugin: whoever uses it fails, naming it
        return None
    return None if is_own(cls.__module__) else cls


def plugin_code(*values, cache: dict | None = None) -> dict[str, str]:
    """The code of the user's plugins that ``values`` (strings, and dicts and lists
    searched through) name, as ``{key: the SHA-256 of the file that defines it (16 hex
    digits)}``:

    * ``"package.module:Class"`` strings, keyed by themselves, hashing the file of
      ``package.module``;
    * registered names (:func:`dtc.methods.register`, :func:`dtc.align.register`, the
      entry-point groups ``dtc.methods`` and ``dtc.losses``) whose class is defined
      outside dtc's own packages (:data:`dtc._plugins.OWN_PACKAGES`), hashing the file of the class's
      module (``__main__``: the script that registered it), keyed by
      ``"method NAME -> module:Class"`` or ``"loss NAME -> module:Class"``. The key has a
      space, so no ``"module:Class"`` string is ever the same key; it names the class, so
      a name registered to another class of the same file is another key. Built-in names
      put nothing in: the run ids of built-in methods and losses are as they were before
      registered names counted.

    Every string is looked up in both registries, whatever the parameter it is the value
    of: a user's method may take a loss or method name in any parameter (DTC's ``loss``,
    the ensemble's ``members``), which dtc cannot tell. A string that happens to be a
    user's registered name but is used for something else also puts in the hash (its
    runs are run again after an edit of that file: never kept for the wrong code).

    Only the file that defines the plugin is hashed: an edit to a helper it imports from
    another file is not seen. A class whose module has no file (defined in a notebook or
    by ``python -c``) is hashed by its own code instead (:func:`dtc._plugins.class_text`: its
    functions' bytecode; a function it calls, a base class or a global it reads is not
    part of it). A string of the ``"module:Class"`` form that names no module (the
    config's checks name a wrong plugin) or no class of a module without a file, or a
    registered name whose class cannot be imported here, is left out. ``cache`` (shared
    by the calls of one expansion) reads each file and resolves each name once however
    many runs name it."""
    cache = {} if cache is None else cache
    found: dict[str, str] = {}

    def hashed(value: str) -> str | None:
        if value not in cache:
            cache[value] = plugin_hash(value)
        return cache[value]

    def registered(kind: str, name: str) -> tuple[str, str] | None:
        if (kind, name) not in cache:
            cls = _user_class(kind, name)
            cache[kind, name] = None
            if cls is not None and (sha := class_hash(cls)):
                cache[kind, name] = (f"{kind} {name} -> {module_of(cls)}:{cls.__qualname__}", sha)
        return cache[kind, name]

    def visit(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, str) and _PLUGIN.fullmatch(value):
            if hashed(value):
                found[value] = hashed(value)
        elif isinstance(value, str) and value:
            for kind in ("method", "loss"):
                if hit := registered(kind, value):
                    found[hit[0]] = hit[1]

    for value in values:
        visit(value)
    return found


@dataclass
class ExperimentConfig:
    """A validated config (the plain dict in ``raw``) and its source path."""

    raw: dict
    path: Path | None = None

    @property
    def name(self) -> str:
        """The config's ``name`` (its folder under the results directory)."""
        return self.raw["name"]


# -- loading and overrides ------------------------------------------------------
def parse_overrides(items, labels=()) -> list[tuple[list[str], object]]:
    """``["seeds=[0,1]", "methods.dtc.lam=0.5"]`` -> ``[(["seeds"], [0, 1]), ...]``.

    Values are YAML, read as config files are (:class:`_UniqueKeyLoader`): ``false`` is a
    bool, ``0.5`` and ``1e-3`` floats, ``010`` ten, ``[1,2]`` a list; an empty value is ``None``.
    ``labels``: the config's method labels, matched whole after ``methods.`` (a label
    may hold ``=`` or ``.``: split there, ``methods.loss=none.adapt_epochs=5`` named a row
    ``loss``).
    """
    if isinstance(items, str):
        # iterating would split it into characters
        raise ValueError(
            f"overrides: expected a list of key=value strings, got the string {items!r} "
            f"(use [{items!r}])"
        )
    out = []
    # the longest first: a label may hold another label, "=" or "." (Table 2's "loss=none")
    known = sorted((str(label) for label in labels), key=len, reverse=True)
    for item in items or []:
        text = str(item)
        label = next((lb for lb in known if text.startswith(f"methods.{lb}.")), None)
        head = [] if label is None else ["methods", label]
        rest = text if label is None else text[len(f"methods.{label}.") :]
        key, sep, raw = rest.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r}: expected key=value (e.g. seeds=[0,1])")
        try:
            value = yaml.load(raw, Loader=_UniqueKeyLoader) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"override {item!r}: value is not valid YAML ({exc})") from exc
        out.append((head + key.strip().split("."), value))
    return out


def _apply_override(raw: dict, path: list[str], value) -> None:
    # A row the config does not have is added only explicitly, by naming its method
    # (methods.<label>.method=...): a misspelt label (methods.dtc.lam for the row DTC)
    # would otherwise become a new row of the registry's method of that name.
    labels = raw.get("methods")
    if (
        len(path) >= 3
        and path[0] == "methods"
        and path[2] != "method"
        and isinstance(labels, dict)
        and path[1] not in labels
    ):
        raise ValueError(
            f"override {'.'.join(path)}: unknown method label {path[1]!r}; labels: "
            f"{', '.join(map(str, labels))} (a new row needs methods.{path[1]}.method=<method>)"
        )
    # methods.<label>.<param>=v is shorthand for methods.<label>.params.<param>=v; a
    # fixed value (either way) also removes the parameter from that method's grid, which
    # would otherwise override it in every run.
    if len(path) == 3 and path[0] == "methods" and path[2] not in METHOD_KEYS:
        path = [path[0], path[1], "params", path[2]]
    # So does a benchmark's data value (benchmarks.<i>.data.<key>=v) for its data grid;
    # and a grid override (methods.<label>.grid.<param>=[...]) replaces the fixed value.
    # A config file that gives a key both ways is refused (validate_config).
    sections = {"methods": ("params", "grid"), "benchmarks": ("data", "grid")}
    if len(path) == 4 and path[2] in sections.get(path[0], ()):
        fixed, swept = sections[path[0]]
        replaced = swept if path[2] == fixed else fixed
        entries = raw.get(path[0])
        if isinstance(entries, dict):
            entry = entries.get(path[1])
        elif isinstance(entries, list):
            try:  # -1 too: the grid kept the value, and "in both data and grid" was refused
                entry = entries[_list_index(entries, path[1], ".".join(path[:2]))]
            except ValueError:
                entry = None
        else:
            entry = None
        if isinstance(entry, dict) and isinstance(entry.get(replaced), dict):
            entry[replaced].pop(path[3], None)
    node = raw
    for depth, part in enumerate(path[:-1]):
        where = ".".join(path[: depth + 1])
        if isinstance(node, list):
            node = node[_list_index(node, part, where)]
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        if not isinstance(node, (dict, list)):
            raise ValueError(f"override {'.'.join(path)}: {where} is not a mapping or a list")
    leaf = path[-1]
    if isinstance(node, list):
        node[_list_index(node, leaf, ".".join(path))] = value
    else:
        node[leaf] = value


def _list_index(node: list, part: str, where: str) -> int:
    # ASCII digits after at most one "-": "--1" and "²" passed str.isdigit, and int() then
    # failed in Python's words ("invalid literal for int()"), naming no override
    if not re.fullmatch(r"-?[0-9]+", part) or not -len(node) <= int(part) < len(node):
        # the negative ones (from the end) are taken too: "in 0..1" of seeds.-3 named -1
        # and -2 refused
        n = len(node)
        what = f"an index in 0..{n - 1} or -{n}..-1 (from the end)" if n else "none (empty list)"
        raise ValueError(f"override {where}: expected {what}")
    return int(part)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (what ``yaml.safe_load`` uses) reading numbers as YAML 1.2 and
    Python do (``1e-3`` a float, ``010`` ten, ``1:30`` text; see below) and refusing a key given twice in one mapping: PyYAML keeps the last one without
    a word, so a row copied and left under its old label, or a second ``seeds:``, would
    silently replace the first. A key written beside a merge (``<<: *row``) is no
    duplicate of a merged one: it overrides it, as the merge-key spec says."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            # The keys written in this mapping, before the merged ones are flattened in
            # (by the base class): overriding a merged key is what a merge is for.
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base class says so
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


# Numbers as YAML 1.2 and Python read them, not as YAML 1.1 (PyYAML) does:
# - YAML 1.1 reads a float only with a dot and a signed exponent: "1e-3", "1e5" and "1.0e3"
#   were strings, and every method refused lr=1e-3 as "must be a number, got '1e-3'";
# - YAML 1.1 reads "010" as octal 8 and "1:30" as 90 (base 60): a zero-padded
#   ``batch_size: 010`` ran with 8, and ``seeds: [08, 09, 010]`` was two strings and an 8.
#   Here "010" is 10, octal is written 0o10, and "1:30" is text (the checks refuse it).
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in entries if tag not in (_INT, _FLOAT)]
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$"),
    list("-+0123456789"),
)
_UniqueKeyLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer as Python writes it: decimal (leading zeros too), ``0o``, ``0x``, ``0b``."""
    written = loader.construct_scalar(node)
    text = written.replace("_", "")
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.removeprefix("+"))
    base = {"0o": 8, "0x": 16, "0b": 2}.get(digits[:2].lower(), 10)
    try:
        return sign * int(digits[2:] if base != 10 else digits, base)
    except ValueError:  # an explicit !!int of something else
        raise yaml.constructor.ConstructorError(
            None, None, f"expected an integer, got {written!r}", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor(_INT, _construct_int)


def read_yaml_mapping(path: Path, label: str) -> dict:
    """The YAML file ``path`` (safely: :class:`_UniqueKeyLoader`, a ``yaml.SafeLoader`` with
    YAML 1.2's numbers and no duplicate keys) as a mapping, its
    ``name`` defaulting to the file's stem; ``ValueError`` starting with ``label`` when it is
    not valid YAML (a key given twice in one mapping included) or not a mapping (a list, an
    empty file)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # safe
    except yaml.YAMLError as exc:
        raise ValueError(f"{label}: not valid YAML ({exc})") from exc
    except UnicodeDecodeError as exc:  # numpy's words named no file
        raise ValueError(f"{label}: not UTF-8 text ({exc})") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{label}: expected a mapping at the top level, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    return raw


#: The most values a config may hold once its YAML aliases are expanded (the paper's
#: largest holds ~100): nested aliases of a few hundred bytes ("billion laughs") expand
#: tenfold per level, 12.8 s and 582 MB at 7 levels, and past memory at 9.
MAX_CONFIG_VALUES = 100_000


def _unshared(value, where: str = "config", budget: list | None = None):
    """``value`` (a YAML tree) rebuilt so that no mapping or list appears in it twice;
    ``ValueError`` naming ``where`` past :data:`MAX_CONFIG_VALUES` values."""
    budget = [MAX_CONFIG_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(
            f"{where}: more than {MAX_CONFIG_VALUES} values once its YAML aliases are "
            "expanded; a config holds about a hundred"
        )
    if isinstance(value, dict):
        return {k: _unshared(v, where, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared(v, where, budget) for v in value]
    return copy.deepcopy(value)


def load_config(source, overrides=None, *, name: str | None = None) -> ExperimentConfig:
    """Read a YAML config (a path, or a dict), apply ``key=value`` overrides, validate.
    ``name``: what the errors call the config (default: its path, or "config" for a dict
    with none; a caller that read the dict from a file names that file).

    Raises ``ValueError`` naming the offending key or value; ``FileNotFoundError``
    when the path does not exist.
    """
    path = None
    if isinstance(source, dict):
        raw = source
    else:
        path = user_path(source)
        if path.is_dir():  # "not found" sent a user looking for a typo
            raise IsADirectoryError(f"config {str(path)!r} is a folder; expected a YAML file")
        if not path.is_file():
            raise FileNotFoundError(f"config {str(path)!r} not found")
        raw = read_yaml_mapping(path, str(path))
    where = name or (str(path) if path else "config")
    # A tree of its own, nothing in it twice: YAML anchors and aliases (and << merges)
    # share one mapping between rows, and an override of one row wrote into all of them
    # (deepcopy keeps the sharing).
    raw = _unshared(raw, where)
    if isinstance(raw.get("methods"), dict):
        labels = [str(k) for k in raw["methods"]]
        repeated = sorted({k for k in labels if labels.count(k) > 1})
        if repeated:  # 1 and "1": one row, the other dropped without a word
            raise ValueError(f"{where}: methods: label {repeated[0]!r} given twice")
        raw["methods"] = {str(k): v for k, v in raw["methods"].items()}
    if isinstance(raw.get("benchmarks"), list):
        # short-form entries (`benchmarks: [digits]`) as mappings, so that an override can
        # reach them (benchmarks.0.data.shift=0.9: "benchmarks.0 is not a mapping or a list")
        raw["benchmarks"] = [
            {"benchmark": b} if isinstance(b, str) else b for b in raw["benchmarks"]
        ]
    for keys, value in parse_overrides(overrides, labels=list(raw.get("methods") or {})):
        _apply_override(raw, keys, value)
    try:
        return ExperimentConfig(validate_config(raw), path)
    except ValueError as exc:
        if where == "config" and str(exc).startswith("config: "):
            raise  # named already ("config: config: unknown key ...")
        raise ValueError(f"{where}: {exc}") from exc


# -- validation ---------------------------------------------------------------
def _expect(value, types, where: str, what: str):
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ValueError(f"{where}: expected {what}, got {value!r}")
    if not isinstance(value, types):
        raise ValueError(f"{where}: expected {what}, got {type(value).__name__} {value!r}")
    return value


def _check_keys(d: dict, allowed, where: str) -> None:
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")


def _check_grid(grid, where: str) -> dict:
    grid = _expect(grid or {}, dict, where, "a mapping param -> list of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}.{key}: expected a non-empty list of values, got {values!r}")
    return grid


def _check_not_both(fixed: dict, grid: dict, where: str, fixed_key: str) -> None:
    """``ValueError`` for a parameter both fixed and swept: the grid's values would
    replace the fixed one in every run, without a word."""
    both = [k for k in fixed if k in grid]
    if both:
        raise ValueError(
            f"{where}: {both[0]!r} is in both {fixed_key} and grid (the grid would override "
            f"{fixed_key}.{both[0]}={fixed[both[0]]!r} in every run); give it in one of them"
        )


def _check_seeds(seeds) -> list[int]:
    """The config's ``seeds`` as Python ints (numpy's taken, as every parameter check
    takes them: ``list(np.arange(3))`` was refused; records stay plain JSON)."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = int(seeds)
        if not 1 <= seeds <= SEED_MAX + 1:
            raise ValueError(
                f"seeds: expected a positive int or a list of ints, got {seeds} (an int n "
                "means the seeds 0 .. n-1, n <= 2**32)"
            )
        return list(range(seeds))
    _expect(seeds, list, "seeds", "an int or a list of ints")
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise ValueError(f"seeds: expected ints, got {s!r}")
        if not 0 <= s <= SEED_MAX:
            # every run would fail when its method is fitted (scikit-learn's random_state)
            raise ValueError(f"seeds: expected ints in [0, 2**32 - 1], got {s}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: duplicated seeds in {seeds}")
    return [int(s) for s in seeds]


_DIGITS_KEYS = set(inspect.signature(data.make_digits_pair).parameters)


def _data_keys(benchmark: str) -> set[str] | None:
    """The data parameters ``benchmark`` accepts (``None``: not known here)."""
    keys = {"preprocess", *RUNNER_DATA_KEYS}
    info = data.benchmark_info(benchmark)
    if not info["files"]:
        if benchmark != "digits":
            return None  # another generated benchmark: load_pair checks its options
        keys |= _DIGITS_KEYS
    return keys


def _check_data_params(benchmark: str, keys, preprocesses, where: str) -> None:
    allowed = _data_keys(benchmark)
    for key in keys:
        if allowed is not None and key not in allowed:
            raise ValueError(
                f"{where}: unknown data parameter {key!r} for benchmark {benchmark!r}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
    for pre in preprocesses:  # those given (null too: it loaded, and every run failed)
        if pre != "standard" and pre not in data.PREPROCESSINGS:
            raise ValueError(
                f"{where}: unknown preprocess {pre!r}; expected 'standard' or one of "
                f"{', '.join(data.PREPROCESSINGS)}"
            )


def check_run_data(benchmark: str, params: dict, where: str = "--data") -> None:
    """One run's data parameters (``dtc run --data``) checked as a config's are: their
    names and ``preprocess`` against ``benchmark``'s, their values by the loaders' checks.
    A misspelt name was the loader's error, which listed only some of the names allowed
    and none of the runner's (``imbalance_ratio``, ``preprocess``). An unknown
    ``benchmark`` is left to the run, whose error names it."""
    try:
        data.benchmark_info(benchmark)
    except ValueError:
        return
    given = [params["preprocess"]] if "preprocess" in params else []
    _check_data_params(benchmark, params, given, where)
    _check_data_values(benchmark, params, where)


def _check_data_values(benchmark: str, params: dict, where: str) -> None:
    """The values of one run's data parameters, checked by the loaders' own checks
    without loading anything; ``where`` names their origin in the error."""
    try:
        imbalance_options(params)
        if benchmark == "digits":
            data.check_digits_options(**{k: v for k, v in params.items() if k in _DIGITS_KEYS})
    except ValueError as exc:
        raise ValueError(f"{where} with data {params}: {exc}") from exc


def _benchmark_info(name, where: str) -> dict:
    """``data.benchmark_info(name)`` of a registered benchmark or a folder of domain
    files; ``ValueError`` prefixed by ``where`` for anything else."""
    try:
        return data.benchmark_info(name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _check_benchmark(entry, i: int) -> dict:
    where = f"benchmarks[{i}]"
    if isinstance(entry, str):
        entry = {"benchmark": entry}
    _expect(entry, dict, where, "a mapping with key 'benchmark'")
    _check_keys(entry, BENCHMARK_KEYS, where)
    name = entry.get("benchmark")
    info = _benchmark_info(name, f"{where}.benchmark")
    pairs = entry.get("pairs", "default")
    if pairs == "all":
        pairs = [list(p) for p in info["pairs"]]
    elif pairs == "default":
        pairs = [list(info["pairs"][0])]
    else:
        _expect(pairs, list, f"{where}.pairs", "'all', 'default' or a list of [source, target]")
        if not pairs:
            # an empty list would silently give this benchmark no runs
            raise ValueError(f"{where}.pairs: expected at least one [source, target], got []")
        for j, p in enumerate(pairs):
            if not (isinstance(p, list) and len(p) == 2) or tuple(p) not in info["pairs"]:
                raise ValueError(
                    f"{where}.pairs[{j}]: {p!r} is not an ordered pair of {name!r}; "
                    f"expected one of {[list(q) for q in info['pairs']]}"
                )
    params = _expect(entry.get("data") or {}, dict, f"{where}.data", "a mapping")
    grid = _check_grid(entry.get("grid"), f"{where}.grid")
    _check_not_both(params, grid, where, "data")
    given = [params["preprocess"]] if "preprocess" in params else []
    _check_data_params(name, [*params, *grid], [*given, *grid.get("preprocess", [])], where)
    return {"benchmark": name, "pairs": pairs, "data": params, "grid": grid}


def _check_not_seed(key: str, where: str) -> None:
    check_not_seed(key, where, "list the seeds in the top-level `seeds:` instead")


def _check_params(method: str, cls, values: dict, where: str) -> None:
    names = cls._get_param_names()
    for key, value in values.items():
        _check_not_seed(key, where)
        if key not in names:
            raise ValueError(
                f"{where}: unknown parameter {key!r} of method {method!r}; "
                f"its parameters: {', '.join(names) or '(none)'}"
            )
        if key == "loss" and isinstance(value, str):
            _check_loss(value, f"{where}.loss")
        try:
            build_objects(value)  # {object: module:Class, params: ...} must build
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}.{key}: {exc}") from exc


def _check_loss(name: str, where: str) -> None:
    from dtc import align  # torch: imported only when a config names a loss

    try:
        align.get_class(name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _check_method(label, entry, budget: dict) -> dict:
    where = f"methods.{label}"
    entry = {} if entry is None else entry
    _expect(entry, dict, where, "a mapping with keys method, params, grid")
    _check_keys(entry, METHOD_KEYS, where)
    name = _expect(entry.get("method", label), str, f"{where}.method", "a method name")
    try:
        cls = methods.get_class(name)
    except ValueError as exc:
        raise ValueError(f"{where}.method: {exc}") from exc
    params = _expect(entry.get("params") or {}, dict, f"{where}.params", "a mapping")
    grid = _check_grid(entry.get("grid"), f"{where}.grid")
    _check_not_both(params, grid, where, "params")
    _check_params(name, cls, params, f"{where}.params")
    for key, values in grid.items():
        for v in values:
            _check_params(name, cls, {key: v}, f"{where}.grid")
    per_benchmark = _expect(
        entry.get("benchmark_params") or {},
        dict,
        f"{where}.benchmark_params",
        "a mapping of benchmark name -> parameters",
    )
    for bench, values in per_benchmark.items():
        _benchmark_info(bench, f"{where}.benchmark_params")
        _expect(values, dict, f"{where}.benchmark_params.{bench}", "a mapping")
        _check_params(name, cls, values, f"{where}.benchmark_params.{bench}")
    names = set(cls._get_param_names())
    data_params = _expect(entry.get("data") or {}, dict, f"{where}.data", "a mapping")
    return {
        "method": name,
        "budget": {k: v for k, v in budget.items() if k in names},
        "benchmark_params": per_benchmark,
        "params": params,
        "grid": grid,
        "data": data_params,
    }


def validate_config(raw: dict) -> dict:
    """The normalised config: defaults filled, pairs resolved; ``ValueError`` naming
    the first problem."""
    _expect(raw, dict, "config", "a mapping")
    _check_keys(raw, TOP_KEYS, "config")
    for key in ("benchmarks", "methods"):
        if not raw.get(key):
            raise ValueError(f"config: missing or empty key {key!r}")
    name = _expect(raw.get("name", "experiment"), str, "name", "a string")
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        # the results folder is <results>/<name>: "" wrote into results/ itself, shared by
        # every sweep, and "../x" or "/x" outside it
        raise ValueError(
            f"name: expected a folder name (the results go to <results>/<name>), without "
            f"'/' or '\\', not empty, '.' or '..'; got {name!r}"
        )
    benchmarks = _expect(raw["benchmarks"], list, "benchmarks", "a list")
    metrics = _expect(raw.get("metrics") or [], list, "metrics", "a list")
    for m in metrics:
        if m not in EXTRA_METRICS:
            raise ValueError(
                f"metrics: unknown metric set {m!r}; available: {', '.join(EXTRA_METRICS)}"
            )
    budget = _expect(raw.get("budget") or {}, dict, "budget", "a mapping param -> value")
    method_entries = _expect(raw["methods"], dict, "methods", "a mapping label -> method entry")
    methods_out = {str(k): _check_method(str(k), v, budget) for k, v in method_entries.items()}
    for key, value in budget.items():
        _check_not_seed(key, "budget")
        owners = [
            m["method"]
            for m in methods_out.values()
            if key in methods.get_class(m["method"])._get_param_names()
        ]
        if not owners:
            raise ValueError(f"budget: parameter {key!r} is a parameter of none of the methods")
        # its value is checked as the methods' own params are (a loss name, an object)
        _check_params(owners[0], methods.get_class(owners[0]), {key: value}, "budget")
    benchmarks_out = [_check_benchmark(b, i) for i, b in enumerate(benchmarks)]
    seeds = _check_seeds(raw.get("seeds", [0]))
    names = list(dict.fromkeys(b["benchmark"] for b in benchmarks_out))
    for key in budget:
        # a budget value every row that has the parameter sets itself reaches no run: it
        # was accepted without a word, and its value never checked
        reached = [
            label
            for label, m in methods_out.items()
            if key in m["budget"]
            and key not in m["params"]
            and key not in m["grid"]
            and any(key not in m["benchmark_params"].get(b, {}) for b in names)
        ]
        if not reached:
            owners = [label for label, m in methods_out.items() if key in m["budget"]]
            warn(
                f"budget: {key}={budget[key]!r} reaches no run: every row that has the "
                f"parameter ({', '.join(owners)}) sets it itself"
            )
    for label, entry in methods_out.items():
        for bench in entry["benchmark_params"]:
            if bench not in names:
                # checked as a benchmark, then looked up under the names of benchmarks:
                # alone (a folder spelled "./my_data" there and "my_data" here, or a
                # benchmark the config does not run), and dropped without a word
                warn(
                    f"methods.{label}.benchmark_params: {bench!r} is none of the config's "
                    f"benchmarks ({', '.join(map(repr, names))}), so its parameters reach no "
                    "run; name it as benchmarks: does"
                )
        _check_values(label, entry, names, seeds[0])
    for label, entry in methods_out.items():
        for i, bench in enumerate(benchmarks_out):
            pre = [entry["data"]["preprocess"]] if "preprocess" in entry["data"] else []
            _check_data_params(bench["benchmark"], entry["data"], pre, f"methods.{label}.data")
            for point in _product(bench["grid"]):
                # the benchmark's own values first, so that an error is blamed on the
                # entry (benchmark or method) whose data brought it in
                own = {**bench["data"], **point}
                _check_data_values(bench["benchmark"], own, f"benchmarks[{i}]")
                _check_data_values(
                    bench["benchmark"],
                    _data_params(bench, point, entry),
                    f"methods.{label}.data on benchmarks[{i}]",
                )
    return {
        "name": name,
        # a list or a mapping was kept as it was: every report of the sweep showed it
        "description": _expect(raw.get("description", ""), str, "description", "a string"),
        "benchmarks": benchmarks_out,
        "methods": methods_out,
        "seeds": seeds,
        "metrics": metrics,
        "budget": budget,
    }


# -- expansion ----------------------------------------------------------------
def _product(grid: dict) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _data_params(bench: dict, point: dict, entry: dict) -> dict:
    # A method's own data settings win over the benchmark's and its grid point's.
    return {**bench["data"], **point, **entry["data"]}


def _run_params(entry: dict, benchmark: str, point: dict) -> dict:
    # a benchmark's own defaults (e.g. DTC's per-family configuration) give way to the
    # entry's params and grid
    return {
        **entry["budget"],
        **entry["benchmark_params"].get(benchmark, {}),
        **entry["params"],
        **point,
    }


def _check_values(label: str, entry: dict, benchmarks: list[str], seed: int) -> None:
    """The values of the row's parameters in each of its runs, checked by its method's
    own ``check_params`` (no data, nothing fitted): one error now, not one per run."""
    # looked up once: each lookup reads every installed package's entry points (2.6 ms),
    # and a grid of 4,000 points took 7.3 s to load
    cls = methods.get_class(entry["method"])
    for point in _product(entry["grid"]):
        for benchmark in benchmarks:
            spec = RunSpec(
                method=entry["method"],
                benchmark=benchmark,
                seed=seed,
                params=_run_params(entry, benchmark, point),
            )
            try:
                configured_method(spec, cls, seeded=False).check_params()
            except (TypeError, ValueError) as exc:
                at = f" at grid point {point}" if point else ""
                raise ValueError(f"methods.{label}{at} on {benchmark}: {exc}") from exc


def expand(config: ExperimentConfig) -> list[Task]:
    """All tasks of ``config``: methods x grids x pairs x data grids x seeds."""
    raw = config.raw
    tasks = []
    code_cache: dict = {}  # each plugin's file read once (plugin_code)
    for label, entry in raw["methods"].items():
        for point in _product(entry["grid"]):
            for bench in raw["benchmarks"]:
                for source, target in bench["pairs"]:
                    for data_point in _product(bench["grid"]):
                        for seed in raw["seeds"]:
                            spec = RunSpec(
                                method=entry["method"],
                                benchmark=bench["benchmark"],
                                source=source,
                                target=target,
                                seed=seed,
                                params=_run_params(entry, bench["benchmark"], point),
                                # a value at its default is the run that leaves it out
                                data_params=canonical_data_params(
                                    bench["benchmark"], _data_params(bench, data_point, entry)
                                ),
                            )
                            tasks.append(
                                Task(
                                    label=label,
                                    spec=spec,
                                    grid=point,
                                    imbalance="imbalance" in raw["metrics"],
                                    config_name=raw["name"],
                                    code=plugin_code(spec.method, spec.params, cache=code_cache),
                                )
                            )
    return tasks


def default_out_dir(config: ExperimentConfig) -> Path:
    """``$DTC_RESULTS/<config name>``, ``results/<config name>`` when ``DTC_RESULTS`` is
    unset (relative to the working directory); ``dtc run CONFIG`` and ``dtc bench-losses``
    both write there by default."""
    # empty counts as unset, as DTC_DATA does (it wrote into ./<name>)
    return user_path(os.environ.get("DTC_RESULTS") or "results") / config.name
