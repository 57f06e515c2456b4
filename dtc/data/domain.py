"""The two containers every method sees: a :class:`Domain` and a :class:`DomainPair`.

They are validated when built, so a method never has to check for NaNs, a
wrong dtype or a label vector of the wrong length again.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

# check_features lives with the other validators, so that dtc.nn and dtc.cluster take it
# without importing the data room; it is part of dtc.data's API all the same.
from dtc._validation import (
    _check_unmasked,
    check_bool,
    check_features,
    check_image_shape,
    host_array,
)

__all__ = ["Domain", "DomainPair", "check_features"]


def _check_labels(y, n: int | None, *, name: str) -> np.ndarray | None:
    """``y`` as an int64 vector ``(n,)`` of non-negative class labels (a column or row
    vector is flattened; integer-valued floats are accepted), ``None`` kept; any length
    when ``n`` is ``None``. ``ValueError`` naming ``name`` otherwise."""
    if y is None:
        return None
    y = host_array(y, name)
    _check_unmasked(y, name)  # a masked (missing) label's hidden value was a class
    arr = np.asarray(y)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: expected a 1-d label vector of shape (n,), got shape {arr.shape}"
        )
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} labels (one per row of X), got {arr.shape[0]}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: expected integer class labels, got non-integer values")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name}: expected integer class labels, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind in "uf" and float(np.max(arr)) >= 2.0**63:
        # the int64 cast wrapped them to int64's minimum: "non-negative labels" was blamed
        raise ValueError(f"{name}: expected labels within int64's range, got {np.max(arr)!r}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: expected non-negative class labels, got minimum {arr.min()}")
    return arr


@dataclass(frozen=True, eq=False)
class Domain:
    """One domain: features ``X`` of shape ``(n, d)`` (float32), optional labels ``y``
    of shape ``(n,)`` (int64, 0-based) and a name.

    ``image_shape`` optionally records how a row reshapes into an image
    (``(H, W)`` or ``(C, H, W)``), so convolutional networks can use it.
    """

    X: np.ndarray
    y: np.ndarray | None = None
    name: str = "domain"
    image_shape: tuple[int, ...] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.meta, Mapping):
            # read with .get / .items by the pair and by without_labels: fail here, by name
            raise ValueError(f"Domain {self.name!r}: meta must be a dict, got {self.meta!r}")
        X = check_features(self.X, name=f"Domain {self.name!r}: X")
        if np.may_share_memory(X, np.asarray(host_array(self.X, "X"))):
            # validated once, then the caller's array: a NaN written into it afterwards
            # reached every method, and a method changing its input changed the caller's
            X = X.copy()
        object.__setattr__(self, "X", X)
        # its own meta: shared by subsets, outputs of the preprocessings and the input, an
        # edit of one domain's meta edited the other's
        object.__setattr__(self, "meta", dict(self.meta))
        object.__setattr__(
            self, "y", _check_labels(self.y, X.shape[0], name=f"Domain {self.name!r}: y")
        )
        if self.image_shape is not None:
            shape = check_image_shape(self.image_shape, f"Domain {self.name!r}: image_shape")
            if int(np.prod(shape)) != X.shape[1]:
                raise ValueError(
                    f"Domain {self.name!r}: image_shape {shape} has {int(np.prod(shape))} "
                    f"pixels, expected the feature dimension {X.shape[1]}"
                )
            object.__setattr__(self, "image_shape", shape)

    @property
    def n_samples(self) -> int:
        """Rows of ``X``."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Columns of ``X``."""
        return self.X.shape[1]

    @property
    def has_labels(self) -> bool:
        """Whether ``y`` is known (a target's labels serve evaluation only)."""
        return self.y is not None

    @property
    def n_classes(self) -> int | None:
        """Number of distinct labels, or ``None`` without labels."""
        return None if self.y is None else int(np.unique(self.y).size)

    def without_labels(self) -> Domain:
        """The same domain with its labels removed (what a method sees of the target).

        Metadata derived from the labels goes too: the whole imbalance record
        (``meta["imbalance"]``). Its per-class sizes and realised ratio are counts of the
        labels, and its ratio asked for and profile, with the domain's size and number of
        clusters, give those sizes back; even its presence says the classes are
        imbalanced. (Runs and reports read it from the labelled domain or from the run's
        data parameters.) So do the class names (``meta["classes"]``): a file's names are
        its labels' sorted values, which say which classes, and how many, it holds."""
        meta = {k: v for k, v in self.meta.items() if k not in ("imbalance", "classes")}
        return replace(self, y=None, meta=meta)

    def subset(self, index) -> Domain:
        """Rows ``index`` (integer ``(m,)`` or boolean ``(n,)``) of this domain (labels and
        metadata kept)."""
        index = np.asarray(host_array(index, "Domain.subset: index"))
        return replace(self, X=self.X[index], y=None if self.y is None else self.y[index])

    def with_features(self, X, *, image_shape: tuple[int, ...] | None = None) -> Domain:
        """The same samples and labels with new features ``X`` ``(n, d')`` (e.g. after a
        transform)."""
        return replace(self, X=X, image_shape=image_shape)

    def __repr__(self) -> str:
        labels = "unlabelled" if self.y is None else f"{self.n_classes} classes"
        return f"Domain({self.name!r}, n={self.n_samples}, d={self.n_features}, {labels})"


def benchmark_of(domain: Domain) -> str | None:
    """The benchmark ``domain`` names in ``meta["benchmark"]`` (each loader records it),
    else None."""
    named = domain.meta.get("benchmark")
    return named if isinstance(named, str) else None


@dataclass(frozen=True, eq=False)
class DomainPair:
    """A source and a target domain, the unit every method is fitted on.

    Parameters
    ----------
    source, target : Domain
        The domains. They share the feature dimension ``d`` unless
        ``heterogeneous=True`` (cross-modal transfer, e.g. text features helping
        to cluster images); methods declare whether they accept such pairs.
    heterogeneous : bool, default False
        Whether the domains may differ in their feature dimension (the third field:
        ``DomainPair(s, t, 10)`` gives 10 to it, not to ``n_clusters``).
    n_clusters : int, optional
        The number of clusters the protocol asks for (for the benchmarks, the
        number of classes: the usual assumption of clustering benchmarks). It is
        metadata of the task, not a label; methods use it when their own
        ``n_clusters`` is ``None``.
    benchmark : str, optional
        Name of the benchmark the pair comes from, for records and for the checks that
        judge a source by its benchmark's family (the monitor's ``min_similarity=
        "family"``). By default the one the target names in ``meta["benchmark"]`` (every
        loader records it): the domain to cluster sets the scale a source is judged on,
        whatever the source names itself (another benchmark's, or none); else None.
    """

    source: Domain
    target: Domain
    heterogeneous: bool = False
    n_clusters: int | None = None
    benchmark: str | None = None

    def __post_init__(self):
        for role in ("source", "target"):
            if not isinstance(getattr(self, role), Domain):
                raise ValueError(
                    f"DomainPair: {role} must be a Domain, got {type(getattr(self, role))!r}"
                )
        # the truthiness of a string such as "no" would silently mean True
        heterogeneous = check_bool(self.heterogeneous, method="DomainPair", name="heterogeneous")
        object.__setattr__(self, "heterogeneous", heterogeneous)
        ds, dt = self.source.n_features, self.target.n_features
        if not self.heterogeneous and ds != dt:
            raise ValueError(
                f"DomainPair: source has {ds} features and target has {dt}; expected the same "
                "feature dimension (build the pair with heterogeneous=True for cross-modal transfer)"
            )
        names = [d.meta.get("classes") for d in (self.source, self.target)]
        # `None not in names` compared an array of names element-wise: "truth value ambiguous"
        if all(n is not None for n in names) and list(names[0]) != list(names[1]):
            # each file numbers its own class names: the same number would name two classes
            raise ValueError(
                f"DomainPair: the source numbers its classes {list(names[0])} and the target "
                f"{list(names[1])}; load both files with one classes= list holding every "
                "name (e.g. the sorted union of the two; the source's meta['classes'] "
                "when the target's names are among them) so that one name has one number"
            )
        if self.benchmark is None:
            # A pair built by hand from loaded domains (after select_source, from
            # Domain.subset) had no benchmark: the monitor's family threshold then judged
            # nothing, and a digits source of disjoint classes was kept (ACC 61.6 for 84.8).
            object.__setattr__(self, "benchmark", benchmark_of(self.target))
        if self.n_clusters is not None:
            k = self.n_clusters
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
                raise ValueError(f"DomainPair: n_clusters must be an int >= 1, got {k!r}")
            object.__setattr__(self, "n_clusters", int(k))

    def mask_target_labels(self) -> DomainPair:
        """The pair a method may see: identical, with the target's labels removed (and what
        the metadata holds of them: the record of an imbalanced draw, ``meta["imbalance"]``,
        and the class names, ``meta["classes"]``)."""
        if self.target.y is None and not {"imbalance", "classes"} & set(self.target.meta):
            return self
        return replace(self, target=self.target.without_labels())

    def __repr__(self) -> str:
        kind = ", heterogeneous" if self.heterogeneous else ""
        return f"DomainPair(source={self.source!r}, target={self.target!r}{kind})"
