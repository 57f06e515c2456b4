"""One run: load a pair, fit a method on it with target labels masked, evaluate.

This is the unit the command line (``dtc run``) and the grid runner share. The target
labels are read here and given only to :func:`dtc.metrics.evaluate`, after ``fit``
returned; the method receives the pair with them removed.
"""

from __future__ import annotations

import contextlib
import platform
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version

from dtc import data, methods, metrics

__all__ = ["DEFAULT_METHOD", "RunSpec", "default_method", "package_versions", "run_single"]

DEFAULT_METHOD = "dtc"


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
        return asdict(self)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("dtc", "torch", "numpy", "scipy", "scikit-learn", "POT"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def _seed_params(method, seed: int) -> dict:
    names = method.get_params(deep=False)
    return {key: seed for key in ("seed", "random_state") if key in names}


def run_single(spec: RunSpec, *, data_dir=None) -> dict:
    """Run ``spec`` and return its record.

    The record holds ``method``, ``benchmark``, ``source``, ``target``, ``seed``,
    ``params`` (the method's full resolved parameters), ``data_params``, ``metrics``
    (``acc``, ``nmi``, ``ari``, ``purity``, plus ``acc_unmatched`` when the method names
    its clusters by source classes), ``seconds`` (fit time) and ``versions``.
    """
    pair = data.load_pair(
        spec.benchmark,
        source=spec.source,
        target=spec.target,
        data_dir=data_dir,
        **spec.data_params,
    )
    y_target = pair.target.y
    if y_target is None:
        raise ValueError(
            f"benchmark {spec.benchmark!r}: target {pair.target.name!r} has no labels to evaluate"
        )
    method = methods.get(spec.method)
    method.set_params(**spec.params)
    method.set_params(**_seed_params(method, spec.seed))
    start = time.perf_counter()
    method.fit(pair.mask_target_labels())
    seconds = time.perf_counter() - start
    scores = metrics.evaluate(
        y_target, method.labels_, cluster_classes=getattr(method, "cluster_classes_", None)
    )
    return {
        "method": spec.method,
        "benchmark": spec.benchmark,
        "source": pair.source.name,
        "target": pair.target.name,
        "seed": spec.seed,
        "params": {k: v for k, v in method.get_params(deep=False).items() if _is_plain(v)},
        "data_params": spec.data_params,
        "metrics": scores,
        "seconds": round(seconds, 3),
        "versions": package_versions(),
    }


def _is_plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict))
