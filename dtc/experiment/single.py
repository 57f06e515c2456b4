"""One run: load a pair, fit a method on it with target labels masked, evaluate.

This is the unit the command line (``dtc run``) and the grid runner share. The target
labels are read here and given only to :func:`dtc.metrics.evaluate`, after ``fit``
returned; the method receives the pair with them removed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import numbers
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from dtc import data, methods, metrics
from dtc._plugins import (
    OWN_PACKAGES,
    SEED_NAMES,
    import_object,
    module_of,
    own_package_dir,
    run_seed_arguments,
    source_files,
)
from dtc._torch_state import GLOBAL_STATE_LOCK, cpu_vendor
from dtc._validation import is_int_at_least
from dtc.experiment.store import sorted_items

__all__ = [
    "DEFAULT_METHOD",
    "NOT_RESULT_PARAMS",
    "RUNNER_DATA_KEYS",
    "SEED_PARAMS",
    "RunSpec",
    "build_objects",
    "check_not_seed",
    "configured_method",
    "data_fingerprint",
    "default_method",
    "describe_params",
    "fit_evaluate",
    "imbalance_options",
    "load_spec_pair",
    "monitor_verdict",
    "package_versions",
    "result_params",
    "run_single",
    "seconds_per_epoch",
]

DEFAULT_METHOD = "dtc"
# Method parameters that every run sets to its seed (a config's `seeds:`).
SEED_PARAMS = SEED_NAMES
#: Method parameters that say where a fit keeps its work or how much it prints, never
#: what it computes: left out of run ids, of the parameters a record is compared by
#: (moving DTC's checkpoint folder, or writing ``verbose: 0``, reran every finished run)
#: and of those that tell a report's rows apart.
NOT_RESULT_PARAMS = ("checkpoint_dir", "verbose")
# Data parameters that make the target imbalanced: passed to dtc.data.load_pair as its
# ``imbalance``, which cuts the target before it is preprocessed.
RUNNER_DATA_KEYS = (
    "imbalance_ratio",
    "imbalance_seed",
    "imbalance_profile",
    "imbalance_minority_fraction",
)


def default_method() -> str:
    """The best method that exists: DTC when registered, else target-only K-means."""
    return DEFAULT_METHOD if DEFAULT_METHOD in methods.available() else "kmeans"


@dataclass
class RunSpec:
    """Everything that defines one run (its resolved configuration).

    ``params`` are the method's parameters; ``data_params`` go to
    :func:`dtc.data.load_pair` (e.g. ``shift`` of the digits default, ``preprocess``).
    """

    method: str
    benchmark: str = "digits"
    source: str | None = None
    target: str | None = None
    seed: int = 0
    params: dict = field(default_factory=dict)
    data_params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The fields as a plain dict (``RunSpec(**d)`` inverts it)."""
        return asdict(self)


@functools.lru_cache(maxsize=1)
def dtc_source_hash() -> str:
    """12 hex digits of the SHA-256 of the source files of dtc's own packages
    (:data:`dtc._plugins.OWN_PACKAGES`: ``dtc`` and ``baselines``; each path and its bytes,
    in sorted order). dtc's version number does not change with its code between
    releases; this does, so runs made by different code can be told apart. The built-in
    methods' code is not part of their run ids, so this is where it is recorded: it covered
    ``dtc`` alone, and an edited baseline left no trace in its records.

    Located beside ``dtc`` (:func:`dtc._plugins.own_package_dir`), which imports nothing
    (``dtc`` never imports ``baselines``) and is not misled by a user's ``baselines.py``
    first on ``sys.path`` (``find_spec`` hashed that); a package that is not installed is
    left out."""
    digest = hashlib.sha256()
    for package in OWN_PACKAGES:
        root = own_package_dir(package)
        if root is None:
            continue
        for path in source_files(root):
            digest.update(f"{package}/{path.relative_to(root).as_posix()}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


#: The keys of a record's ``versions`` that say where it ran: the same code and packages
#: give other figures for deep methods on another of them (``dtc report`` notes a mix).
#: And ``cuda_device``, where a record names a GPU (:func:`platform_text`).
PLATFORM_KEYS = ("torch_cpu_capability", "cpu_vendor", "torch_threads")


def platform_text(record: dict, *, threads: bool = True) -> str:
    """Where ``record`` ran, ``key=value, ...`` over :data:`PLATFORM_KEYS` (``?`` where a
    record does not say; without ``torch_threads`` unless ``threads``), then
    ``cuda_device=<name>`` when it names a GPU. A record without ``cuda_device`` (made
    before it was kept) reads as one of a process that used none: runs on the CPU read as
    they always did, and a GPU's runs differ from them."""
    versions = record.get("versions", {})
    keys = PLATFORM_KEYS if threads else tuple(k for k in PLATFORM_KEYS if k != "torch_threads")
    text = ", ".join(f"{k}={versions.get(k, '?')}" for k in keys)
    gpu = versions.get("cuda_device", "none")
    return text if gpu == "none" else f"{text}, cuda_device={gpu}"


def mixed_platforms(records: list[dict], groups: list | None = None) -> list[str]:
    """The :func:`platform_text` s of ``records`` when their figures may differ by where
    they ran, else ``[]``: another machine (kernel set, CPU, GPU) anywhere, or another
    thread count within one group of runs averaged together (``groups``, one key per
    record: ``dtc report`` gives each record's table row; by default its ``label``, else
    its ``method``). Thread counts of different configurations are their own settings
    (DTC trains on its ``n_threads``, a baseline on the process's), and a serial sweep of
    both read as two platforms."""
    machines = {platform_text(r, threads=False) for r in records}
    if groups is None:
        groups = [str(r.get("label", r.get("method"))) for r in records]
    threads: dict = {}
    for r, group in zip(records, groups, strict=True):
        threads.setdefault(group, set()).add(str(r.get("versions", {}).get("torch_threads")))
    if len(machines) > 1 or any(len(counts) > 1 for counts in threads.values()):
        return sorted({platform_text(r) for r in records})
    return []


def cuda_device() -> str:
    """The name of the current CUDA device if this process has used CUDA, else ``"none"``.

    Deep baselines take the GPU when there is one (``device=None``) under the same run id,
    and a GPU's figures differ from the CPU's. Read without starting CUDA (which takes GPU
    memory and time in a process that fits on the CPU): a process that has not started it
    ran nothing there. One that has is named for every later run, also a CPU one, so a
    GPU's runs are never taken for the CPU's (at worst a mix is noted that was none)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return "none"
    return torch.cuda.get_device_name(torch.cuda.current_device())


def result_params(params: dict) -> dict:
    """``params`` without :data:`NOT_RESULT_PARAMS`."""
    return {k: v for k, v in params.items() if k not in NOT_RESULT_PARAMS}


def package_versions() -> dict[str, str | int]:
    """Python's and the key packages' versions, ``dtc_source`` (:func:`dtc_source_hash`),
    ``torch_cpu_capability`` (the instruction set torch's CPU kernels run on),
    ``cpu_vendor`` (:func:`cpu_vendor`), ``torch_threads`` (torch's intra-op threads
    when the record is made: a worker of ``--jobs N`` gets ``cpu_count // N``; the
    record of a method that sets its own, ``fit_threads_``, states that one) and
    ``cuda_device`` (:func:`cuda_device`)."""
    out = {"python": platform.python_version()}
    for name in ("dtc", "torch", "numpy", "scipy", "scikit-learn", "POT"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    out["dtc_source"] = dtc_source_hash()
    # torch chooses its CPU kernels by instruction set ("AVX512", "AVX2", "DEFAULT" when
    # ATEN_CPU_CAPABILITY=default or the CPU has neither); the float reductions differ, and
    # deep methods' figures move with them at identical code and packages (ae_kmeans on
    # digits, seeds 0-2: 49.8 under AVX512 or AVX2, 49.1 under DEFAULT).
    import torch  # here, not at module level: the record is the only user

    out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    # The same kernels on another machine round otherwise too (DTC's digits default, AVX512
    # kernels both: 88.8 where the docs were measured, 88.3 on an AMD EPYC).
    out["cpu_vendor"] = cpu_vendor()
    # And the thread count: the reductions split otherwise (ae_kmeans run serially on two
    # threads and in a worker of --jobs 2 on one: same run id, other history and NMI).
    out["torch_threads"] = torch.get_num_threads()
    out["cuda_device"] = cuda_device()
    return out


def check_not_seed(key: str, where: str, instead: str) -> None:
    """``ValueError`` naming ``where`` when ``key`` is one of :data:`SEED_PARAMS`: every run
    sets them to its seed, over any value given, so a value given for them would be
    recorded but not used; ``instead`` says where the seed goes."""
    if key in SEED_PARAMS:
        raise ValueError(f"{where}: {key!r} is set to each run's seed; {instead}")


def _seed_params(method, seed: int) -> dict:
    names = method.get_params(deep=False)
    return {key: seed for key in SEED_PARAMS if key in names}


def load_spec_pair(spec: RunSpec, *, data_dir=None) -> data.DomainPair:
    """The pair of ``spec``, target labels kept (for evaluation).

    ``data_params`` go to :func:`dtc.data.load_pair`; ``imbalance_ratio``,
    ``imbalance_seed``, ``imbalance_profile`` and ``imbalance_minority_fraction`` as its
    ``imbalance`` (``ratio``, ``seed``, ``profile``, ``minority_fraction`` of
    :func:`dtc.data.make_imbalanced`; ratio 1 is the balanced
    subset of the same size rule, the reference of Table 3), which makes the *target*
    imbalanced: the rows are drawn before it is preprocessed, so that its per-domain
    statistics (z-scoring) come from the rows kept, not from the balanced domain.
    """
    imbalance = imbalance_options(spec.data_params)
    params = {k: v for k, v in spec.data_params.items() if k not in RUNNER_DATA_KEYS}
    if "imbalance" in params:
        # load_pair's own argument, which the imbalance_* data parameters fill
        raise ValueError(
            "data parameter 'imbalance': give imbalance_ratio (and imbalance_seed, "
            "imbalance_profile, imbalance_minority_fraction) instead"
        )
    pair = data.load_pair(
        spec.benchmark,
        source=spec.source,
        target=spec.target,
        data_dir=data_dir,
        imbalance=imbalance or None,
        **params,
    )
    if pair.target.y is None:
        raise ValueError(
            f"benchmark {spec.benchmark!r}: target {pair.target.name!r} has no labels to evaluate"
        )
    return pair


@functools.cache
def data_defaults(benchmark: str) -> dict:
    """The values a data parameter left out takes (``load_pair``'s ``preprocess``;
    ``make_imbalanced``'s profile, seed and minority fraction as ``imbalance_*``; the
    digits' ``shift``, ``seed``, ``source_fraction``), so that a run giving one explicitly is on the same target as a
    run leaving it out."""

    def defaults(function, prefix: str = "") -> dict:
        return {
            prefix + name: param.default
            for name, param in inspect.signature(function).parameters.items()
            if param.default is not inspect.Parameter.empty
        }

    out = defaults(data.make_imbalanced, "imbalance_")
    # load_pair's own: `preprocess: standard` loads what leaving it out loads (a config
    # that spelled it out had every run id changed, and ran its runs again)
    out["preprocess"] = inspect.signature(data.load_pair).parameters["preprocess"].default
    if benchmark == "digits":
        out |= defaults(data.make_digits_pair)
    return out


def canonical_data_params(benchmark: str, data_params: dict) -> dict:
    """``data_params`` without the entries that load what leaving them out loads: a value
    at its default (:func:`data_defaults`), and ``imbalance_minority_fraction`` under a
    profile other than ``"step"`` (which does not read it); a float with an integer value
    as that int (``imbalance_ratio: 10.0`` is ``10``). A config that writes ``shift:
    0.5`` then names the same runs as one that leaves it out; the runs were recorded
    twice, and the report refused the duplicates (or, for 10 and 10.0, split one task into
    two columns)."""
    defaults = data_defaults(benchmark)
    profile = data_params.get("imbalance_profile", defaults["imbalance_profile"])
    return {
        key: canonical_value(value)
        for key, value in data_params.items()
        if not (key in defaults and _same_value(value, defaults[key]))
        and not (key == "imbalance_minority_fraction" and profile != "step")
    }


def canonical_value(value):
    """A data parameter's value as it is named: a float with an integer value as that int
    (``10.0`` is ``10``), anything else as given."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _same_value(value, default) -> bool:
    # 0.5 and 0.50 are one value; True is not 1, nor "0.5" 0.5
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    if isinstance(value, numbers.Number) and isinstance(default, numbers.Number):
        return value == default
    return type(value) is type(default) and value == default


def imbalance_options(data_params: dict) -> dict:
    """The keyword arguments of :func:`dtc.data.make_imbalanced` that ``data_params``
    holds (``imbalance_ratio`` -> ``ratio``, ...; empty: a balanced target), checked
    without any data: ``ValueError`` for a missing ratio or a wrong value."""
    imbalance = {
        key.removeprefix("imbalance_"): data_params[key]
        for key in RUNNER_DATA_KEYS
        if key in data_params
    }
    if imbalance:
        if "ratio" not in imbalance:
            # named as the user wrote them (imbalance_seed, not make_imbalanced's seed)
            given = sorted(f"imbalance_{key}" for key in imbalance)
            raise ValueError(
                f"data parameters {given} need imbalance_ratio (e.g. imbalance_ratio=10)"
            )
        data.check_imbalance(**imbalance, prefix="imbalance_")
    return imbalance


def data_fingerprint(pair: data.DomainPair) -> str:
    """12 hex digits of the SHA-256 of ``pair``'s arrays: each domain's features and
    labels (absent labels count as such), with their shapes and dtypes.

    Runs resume by their configuration as written; a loader's default, a preprocessing
    step or a data file may change under it. A record carries the fingerprint of the data
    it saw, so the runner can tell a finished run whose configuration now loads other
    data (and run it again)."""
    digest = hashlib.sha256()
    for domain in (pair.source, pair.target):
        for array in (domain.X, domain.y):
            if array is None:
                digest.update(b"none")
                continue
            a = np.ascontiguousarray(array)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
    return digest.hexdigest()[:12]


def fit_evaluate(spec: RunSpec, pair: data.DomainPair, *, imbalance: bool = False):
    """Fit ``spec``'s method on ``pair`` (target labels masked) and evaluate it.

    Returns ``(record, method)``: the record of :func:`run_single` and the fitted
    method (for its ``embedding_`` and ``history_``). ``imbalance=True`` adds
    ``macro_f1``, ``balanced_acc``, ``min_recall`` and ``minority_recall`` to the metrics.
    """
    method = configured_method(spec)
    start = time.perf_counter()
    method.fit(pair.mask_target_labels())
    seconds = time.perf_counter() - start
    scores = metrics.evaluate(
        pair.target.y,
        method.labels_,
        cluster_classes=getattr(method, "cluster_classes_", None),
        imbalance=imbalance,
    )
    record = {
        "method": spec.method,
        "benchmark": spec.benchmark,
        "source": pair.source.name,
        "target": pair.target.name,
        "seed": spec.seed,
        "params": describe_params(method),
        "data_params": spec.data_params,
        "data_sha": data_fingerprint(pair),
        # the pair's k is not in its arrays: a folder benchmark's is its largest label + 1
        # over every file of the folder, which a file added beside the pair changes
        "n_clusters": pair.n_clusters,
        "metrics": scores,
        "seconds": round(seconds, 3),
        "versions": package_versions(),
    }
    threads = getattr(method, "fit_threads_", None)
    if is_int_at_least(threads, 1):
        # a method that sets its own thread count (DTC's n_threads) ran on it, whatever the
        # process's: records of one fit made by --jobs 1 and 2 read as two platforms
        record["versions"]["torch_threads"] = int(threads)
    resumed = getattr(method, "resumed_stages_", None)
    if resumed:
        # stages read from checkpoint_dir, not computed by this run: said, so that a
        # record never reads as a fresh fit
        record["resumed_stages"] = list(resumed)
    imbalanced = pair.target.meta.get("imbalance")
    if isinstance(imbalanced, dict) and "realised_ratio" in imbalanced:
        # columns are named by the ratio asked for; rounding the class sizes moves it
        record["realised_ratio"] = imbalanced["realised_ratio"]
    history = getattr(method, "history_", None)
    if history:
        record["history"] = [{k: float(v) for k, v in h.items() if _is_number(v)} for h in history]
        epochs = trained_epochs(history)
        record["n_epochs"] = len(epochs)
        # The fit time covers only the epochs run now: those of a stage read from a
        # checkpoint took none of it (a resumed fit read 32 times faster per epoch, and a
        # leaderboard averaged that in); a fit resumed whole has no epoch time.
        ran = [h for h in epochs if not _of_stages(h, resumed or ())]
        if ran:
            record["seconds_per_epoch"] = seconds_per_epoch(ran, seconds)
    verdict = monitor_verdict(method)
    if verdict is not None:
        record["monitor"] = verdict
    return record, method


def monitor_verdict(method) -> dict | None:
    """What a negative-transfer monitor concluded on ``method``'s fit, as plain data:
    ``negative_transfer``, ``fell_back_to_reference``, the final ``reason`` (None when
    transfer was kept) and the ``decisions`` of its trail, check by check. None when no
    monitor watched the fit. (``history`` keeps numbers only, so without this a record
    could not say which runs fell back.)"""
    trail = getattr(method, "monitor_trail_", None)
    if trail is None:
        return None
    return {
        "negative_transfer": bool(getattr(method, "negative_transfer_", False)),
        "fell_back_to_reference": bool(getattr(method, "fell_back_to_reference_", False)),
        "reason": trail[-1].get("reason") if trail else None,
        "decisions": [entry.get("decision") for entry in trail],
    }


def configured_method(spec: RunSpec, cls: type | None = None, *, seeded: bool = True):
    """``spec``'s method, unfitted: its documented defaults for ``spec.benchmark``
    (:meth:`~dtc.methods.TransferClusterer.benchmark_defaults`), then ``spec.params``
    (objects built, from the run's seed: :func:`_seeded`; ``seeded=False`` for a method
    that is only described or checked, never fitted: built unseeded, the caller's RNGs
    restored all the same), then the seed (which ``spec.params``
    may not set). ``cls``: the class of ``spec.method`` when the caller looked it up
    already (a lookup reads every installed package's entry points)."""
    for key in spec.params:
        check_not_seed(key, "RunSpec.params", "set RunSpec.seed instead")
    if cls is None:
        cls = methods.get_class(spec.method)  # the class the config checks resolve
    try:
        inspect.signature(cls).bind()
    except TypeError as exc:  # "missing 1 required positional argument", given or not
        raise ValueError(
            f"method {spec.method!r}: {cls.__name__}() cannot be built without arguments "
            f"({exc}); give every __init__ parameter a default (scikit-learn's estimator "
            "contract, which the runner and clone rely on: parameters are set after)"
        ) from exc
    method = cls()
    method.set_params(**method.benchmark_defaults(spec.benchmark, spec.params))
    # the run's seed goes to the objects whether or not their construction is seeded: a
    # method only described (to check a finished run) must describe what the run built
    build = functools.partial(build_objects, seed=spec.seed)
    method.set_params(**_seeded(build, spec.params, spec.seed if seeded else None))
    method.set_params(**_seed_params(method, spec.seed))
    return method


def _seeded(build, params: dict, seed: int):
    """``build(params)`` with the CPU's torch RNG, numpy's and Python's global RNGs seeded
    by the run's ``seed`` (``None``: not seeded) and restored after, where ``params`` name
    objects: an object drawing at construction (a loss's discriminator) drew from whatever
    state the process was in, and the same record's run gave another result in another
    order of runs (0.690, 0.710, 0.679). No GPU's RNG is seeded: an object drawing there at
    construction is not reproducible. Under :data:`GLOBAL_STATE_LOCK`, as fits hold it: an
    object whose constructor waits for a fit in another thread waits for ever (fit it in
    the constructor's own thread, which the lock lets in)."""
    if not _names_objects(params):
        return build(params)
    import torch  # here, not at module level: only runs that build objects need it

    with GLOBAL_STATE_LOCK, torch.random.fork_rng(devices=[]):
        # numpy's legacy global RNG on purpose: it is what an object's own code may draw from
        state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
        try:
            if seed is not None:
                torch.default_generator.manual_seed(int(seed))
                np.random.seed(int(seed) % 2**32)  # noqa: NPY002
                random.seed(int(seed))
            return build(params)
        finally:
            np.random.set_state(state)  # noqa: NPY002
            random.setstate(py_state)


def _object_spec(value) -> bool:
    """Whether ``value`` is a ``{"object": "module:Class", "params": {...}}`` mapping."""
    return isinstance(value, dict) and "object" in value and set(value) <= {"object", "params"}


def _names_objects(value) -> bool:
    if _object_spec(value):
        return True
    if isinstance(value, dict):
        return any(_names_objects(v) for v in value.values())
    return isinstance(value, (list, tuple)) and any(_names_objects(v) for v in value)


def describe_params(method) -> dict:
    """The resolved parameters of ``method`` (``get_params(deep=False)``) as plain data.

    An object among them (a callback, a user loss module) is described the way
    :func:`build_objects` takes it, ``{"object": "module:Class", "params": {...}}``, its
    params read like scikit-learn's ``get_params``: the attributes named after its
    ``__init__`` arguments; those it does not keep under their names (``MMDLoss``'s
    ``scales``) are listed under ``"unreadable"``, so that a record never reads as an
    object built without them (the run's ``spec`` has the values given). A set is
    described as its sorted items. So a record says which monitor ran with which settings,
    and two records of the same configuration describe it identically (the runner
    compares them to find results recorded under other defaults).
    """
    return {k: _describe(v) for k, v in method.get_params(deep=False).items()}


def _describe(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, numbers.Number):  # numpy scalars
        return value.item() if hasattr(value, "item") else value
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, (set, frozenset)):  # was an object "builtins:set" with no items
        return sorted_items([_describe(v) for v in value])
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    cls = type(value)
    try:
        signature = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the class names it
        signature = []
    names = [
        p.name
        for p in signature
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    params = {n: _describe(getattr(value, n)) for n in names if hasattr(value, n)}
    described = {"object": f"{module_of(cls)}:{cls.__qualname__}", "params": params}
    unreadable = [n for n in names if n not in params]
    if unreadable:
        described["unreadable"] = unreadable
    return described


def build_objects(value, seed: int | None = None):
    """``value`` with every ``{"object": "module:Class", "params": {...}}`` mapping
    replaced by ``Class(**params)`` (in lists and mappings too).

    ``seed``: the run's; a class whose ``__init__`` takes a ``seed`` or ``random_state``
    that ``params`` do not give, with a number as its default, is built with it, as the
    method itself is (a sliced Wasserstein loss): built from their own default, they drew
    the same at every seed of a sweep, where the same loss named by DTC's ``loss`` follows
    the fit's. A default of ``None`` is the object's own choice (the monitor's: the
    estimator's seed), and is left to it.

    This is how a YAML config passes objects, e.g. DTC's ``callbacks`` (monitors), as
    plain data; the spec and its run_id keep the plain form. ``Class`` must be a class:
    a config named ``subprocess:check_call`` with its arguments, and loading it (which
    builds its objects to check them) called it. (A class is code too, as is the module
    it imports: a config is trusted code, as a script is.)
    """
    if _object_spec(value):
        cls = import_object(value["object"], what="object")
        if not inspect.isclass(cls):
            raise ValueError(f"object {value['object']!r} is not a class (a {type(cls).__name__})")
        params = build_objects(value.get("params") or {}, seed)
        if seed is not None:
            params.update(run_seed_arguments(cls, params, seed))
        return cls(**params)
    if isinstance(value, dict):
        return {k: build_objects(v, seed) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [build_objects(v, seed) for v in value]
    return value


def trained_epochs(history: list[dict]) -> list[dict]:
    """The entries of ``history`` that are epochs (or iterations) of training: a
    negative-transfer monitor's closing entry (``stage == "monitor"``), the check that
    stopped a refinement before its epoch ran (``stopped``) and the state an iterative
    method starts from (``initial``: STC's, TSC's) are not. (The record's ``history`` keeps
    numbers only, so those entries read as epochs there: this is the place that tells them
    apart.)"""
    return [
        h
        for h in history
        if h.get("stage") != "monitor" and not h.get("stopped") and not h.get("initial")
    ]


def _of_stages(entry: dict, stages) -> bool:
    """Whether the history ``entry`` belongs to one of the checkpoint ``stages``
    (``resumed_stages_``): its ``stage`` is one of them, or a part of one
    (``"pretrain_target"`` of ``"pretrain"``)."""
    stage = entry.get("stage")
    return isinstance(stage, str) and any(stage == s or stage.startswith(f"{s}_") for s in stages)


def seconds_per_epoch(history: list[dict], seconds: float) -> float:
    """Mean epoch time: the epochs' own ``seconds`` (or ``time``) entries when they
    have them, else the fit time divided by the number of epochs."""
    for key in ("seconds", "time", "epoch_seconds"):
        times = [h[key] for h in history if _is_number(h.get(key))]
        if len(times) == len(history):
            return round(float(sum(times)) / len(times), 6)
    return round(seconds / len(history), 6)


def run_single(spec: RunSpec, *, data_dir=None, imbalance: bool = False) -> dict:
    """Run ``spec`` and return its record.

    The record holds ``method``, ``benchmark``, ``source``, ``target``, ``seed``,
    ``params`` (the method's full resolved parameters), ``data_params``, ``data_sha``
    (:func:`data_fingerprint` of the pair, target labels included), ``n_clusters`` (the
    pair's, given to methods that take it from the pair), ``metrics``
    (``acc``, ``nmi``, ``ari``, ``purity``, plus ``acc_unmatched`` when the method names
    its clusters by source classes, plus imbalance metrics with ``imbalance=True``),
    ``seconds`` (fit time) and ``versions``; for an imbalanced target, ``realised_ratio``
    (its largest / smallest class once the class sizes are rounded: ``imbalance_ratio``
    up to rounding); for methods that train, also ``history`` (numeric entries of
    ``history_``), ``n_epochs`` (:func:`trained_epochs`, those of ``resumed_stages``
    included) and ``seconds_per_epoch`` (over the epochs run now; absent when every
    stage was resumed).
    """
    return fit_evaluate(spec, load_spec_pair(spec, data_dir=data_dir), imbalance=imbalance)[0]


def _is_number(value) -> bool:
    # numpy scalars register as numbers.Real; bools are flags, not curves.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
