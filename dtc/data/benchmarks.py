"""Registry and loaders of the benchmarks: the shared feature benchmarks and the embedded default.

=========================  =======================================  =======  ==================
benchmark                  domains                                  classes  standard preprocess
=========================  =======================================  =======  ==================
``digits``                 source, target (no files, see digits.py)  10      ``raw`` (pixels/16)
``office_caltech10_surf``  amazon, caltech10, dslr, webcam           10      ``sum_zscore``
``mnist_usps``             mnist, usps                               10      ``l2``
``coil20``                 coil1, coil2                              20      ``l2``
=========================  =======================================  =======  ==================

The benchmark files are found in ``<data_dir>/<benchmark>/<file>`` (or directly in
``<data_dir>/<file>``), where ``data_dir`` is the argument or else the environment
variable ``DTC_DATA``. The files are the unmodified MATLAB releases of the GFK / JDA
code (Gong et al., CVPR 2012; Long et al., ICCV 2013), obtainable from the GitHub
repository ``AngryCarrot/JDA`` (folder ``data/``). Labels are returned 0-based.

Each file is checked against the release before use: its SHA-256 (the values of the
data README's ``SHA256SUMS``; once per file and process, while its size and mtime stay
the same) and each domain's number of samples. A file that differs, e.g. one domain's
file put in place of another's, raises ``ValueError`` naming the file and both hashes.

Preprocessing (``preprocess=``), computed **per domain**:

``"raw"``         the stored values (counts for SURF, pixels in ``[0, 1]`` for images);
``"l2"``          each sample scaled to unit L2 norm (JDA/TCA code for MNIST-USPS and
                  COIL, Long et al., ICCV 2013);
``"zscore"``      each feature z-scored (population std; constant features centred);
``"sum_zscore"``  each row divided by its sum, then ``"zscore"`` (the GFK data README,
                  MATLAB ``zscore(fts ./ sum(fts, 2), 1)``, Gong et al., CVPR 2012);
``"standard"``    the benchmark's literature protocol from the table above.

With ``"standard"``, a 1-NN classifier fitted on the source reproduces the "NN"
column of Long et al., ICCV 2013 exactly (see ``tests/data/test_paper_nn.py``).

**A folder of your own domains** is a benchmark too: wherever a benchmark name is taken
(``load_pair``, ``dtc run --benchmark``, a config's ``benchmark:``), a path to a directory
that is not a registered name names the benchmark whose domains are its files, one domain a
file, named by the file's stem: ``<domain>.npz`` (arrays ``X`` ``(n, d)`` and labels ``y``
``(n,)``, :func:`dtc.data.load_npz`) or ``<domain>.csv`` (the label in the last column,
:func:`dtc.data.load_csv`). Labels are 0-based integers or class names; names are numbered
in the sorted order of all the folder's names, so one name has one number in every domain.
The benchmark's number of classes is the largest label + 1 over the folder; a pair's
``n_clusters`` is the number of classes of its source (never read from the target's labels,
which are for evaluation only). Every domain needs labels (the runner scores the target with
them) and the same width. Its standard preprocessing is
``"raw"`` (the values as stored); nothing checks the files against a release, but every
run records a fingerprint of the arrays it saw.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dtc._validation import user_path
from dtc.data.digits import make_digits_pair
from dtc.data.domain import Domain, DomainPair
from dtc.data.files import _class_order, load_csv, load_npz, read_mat_v5
from dtc.data.imbalance import check_imbalance, imbalanced_rows
from dtc.data.preprocessing import unit_l2_rows, unit_sum_rows, zscore_columns

__all__ = [
    "DATA_ENV",
    "PREPROCESSINGS",
    "benchmark_info",
    "data_dir_problem",
    "domain_files",
    "list_benchmarks",
    "load_domain",
    "load_pair",
    "resolve_data_dir",
]

#: The environment variable that names the data directory when no ``data_dir`` is given
#: (:func:`resolve_data_dir`).
DATA_ENV = "DTC_DATA"

_JDA_SOURCE = (
    "GitHub repository AngryCarrot/JDA, folder data/ "
    "(commit 12167daf32b01a07b85fdfa3db57a42b3be7eefe); see the data README for checksums"
)

_JDA_PAPER = (
    "M. Long, J. Wang, G. Ding, J. Sun, P. S. Yu. Transfer Feature Learning with Joint "
    "Distribution Adaptation. ICCV 2013."
)

#: Preprocessing name -> function of a domain's ``X`` ``(n, d)`` returning the float64
#: ``(n, d)`` features (``preprocess=`` of :func:`load_domain`; ``"standard"`` is each
#: benchmark's own, one of these).
PREPROCESSINGS = {
    "raw": lambda X: np.array(X, dtype=np.float64),  # a copy: never the cached array
    "l2": unit_l2_rows,
    "zscore": zscore_columns,
    "sum_zscore": lambda X: zscore_columns(unit_sum_rows(X)),
}


@dataclass(frozen=True)
class _DomainFile:
    """Where one domain's arrays live: ``file`` holds ``x_key`` (``(n, d)`` when
    ``samples_as_rows`` else ``(d, n)``) and ``y_key`` (1-based labels). ``sha256`` is
    the released file's hash and ``n`` the domain's number of samples; ``None``: not
    checked."""

    file: str
    x_key: str
    y_key: str
    samples_as_rows: bool
    n: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class _Benchmark:
    name: str
    domains: tuple[str, ...]
    n_classes: int
    n_features: int
    standard: str
    description: str
    papers: tuple[str, ...]
    source: str
    files: dict | None = None  # domain -> _DomainFile; None: generated, no files
    image_shape: tuple[int, ...] | None = None
    folder: Path | None = None  # a folder of the user's domain files (see the docstring)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [(s, t) for s in self.domains for t in self.domains if s != t]


def _surf(file: str, n: int, sha256: str) -> _DomainFile:
    return _DomainFile(file, "fts", "labels", samples_as_rows=True, n=n, sha256=sha256)


def _jda_pair_file(file: str, source: str, target: str, n: tuple[int, int], sha256: str) -> dict:
    """The JDA release's two-domain files: ``X_src``/``Y_src`` and ``X_tar``/``Y_tar``,
    features x samples; ``n`` the samples of the source and of the target."""
    return {
        source: _DomainFile(file, "X_src", "Y_src", False, n=n[0], sha256=sha256),
        target: _DomainFile(file, "X_tar", "Y_tar", False, n=n[1], sha256=sha256),
    }


_BENCHMARKS = {
    b.name: b
    for b in (
        _Benchmark(
            name="digits",
            domains=("source", "target"),
            n_classes=10,
            n_features=64,
            standard="raw",
            description="scikit-learn's 8x8 digits, split in halves, target shifted (no files)",
            papers=(
                "E. Alpaydin, C. Kaynak. Optical Recognition of Handwritten Digits. UCI, 1998.",
            ),
            source="bundled with scikit-learn (sklearn.datasets.load_digits)",
            image_shape=(8, 8),
        ),
        _Benchmark(
            name="office_caltech10_surf",
            domains=("amazon", "caltech10", "dslr", "webcam"),
            n_classes=10,
            n_features=800,
            standard="sum_zscore",
            description="Office-Caltech10, 800-d SURF bag-of-words histograms",
            papers=(
                "B. Gong, Y. Shi, F. Sha, K. Grauman. Geodesic Flow Kernel for Unsupervised "
                "Domain Adaptation. CVPR 2012.",
                "K. Saenko, B. Kulis, M. Fritz, T. Darrell. Adapting Visual Category Models to "
                "New Domains. ECCV 2010.",
            ),
            source=_JDA_SOURCE,
            # SHA-256 of the release (the data README's SHA256SUMS)
            files={
                "amazon": _surf(
                    "amazon_SURF_L10.mat",
                    958,
                    "df32548b994e18d364c99e1f317e1fae100597259f0423a41b90f4f68187bb1f",
                ),
                "caltech10": _surf(
                    "Caltech10_SURF_L10.mat",
                    1123,
                    "4f9334c8ced489d5054de97a5fd51a61f017f3bcd1f38c9a85c6d78cb9d7bda5",
                ),
                "dslr": _surf(
                    "dslr_SURF_L10.mat",
                    157,
                    "44d673c68e1d07b837893aa74dba3b986e4a6cc3fd66f0dd357683bdef059216",
                ),
                "webcam": _surf(
                    "webcam_SURF_L10.mat",
                    295,
                    "a6a9c78b4b7181dfbb58bcfd351d4ebd737f171c31247b8884948aa156d3f700",
                ),
            },
        ),
        _Benchmark(
            name="mnist_usps",
            domains=("mnist", "usps"),
            n_classes=10,
            n_features=256,
            standard="l2",
            description="2,000 MNIST and 1,800 USPS digits, 16x16 grey pixels",
            papers=(_JDA_PAPER,),
            source=_JDA_SOURCE,
            files=_jda_pair_file(
                "MNIST_vs_USPS.mat",
                "mnist",
                "usps",
                n=(2000, 1800),
                sha256="2b87e5a793e77826417e6c483e0850d6666c9746717bce2561db43f3f30efd4d",
            ),
            # Rows reshape row-major to the upright image (checked in the data README).
            image_shape=(16, 16),
        ),
        _Benchmark(
            name="coil20",
            domains=("coil1", "coil2"),
            n_classes=20,
            n_features=1024,
            standard="l2",
            description="COIL-20 split by pose into two domains of 720 images, 32x32 grey pixels",
            papers=(
                _JDA_PAPER,
                "S. A. Nene, S. K. Nayar, H. Murase. Columbia Object Image Library (COIL-20). "
                "Tech. report CUCS-005-96, 1996.",
            ),
            source=_JDA_SOURCE,
            files=_jda_pair_file(
                "COIL_1.mat",
                "coil1",
                "coil2",
                n=(720, 720),
                sha256="5001c5bcef8d95217d66a08bdccbcaae2bc8cd3142540ed4ec38ca0796342534",
            ),
            # Rows are column-major (MATLAB's order): reshaped row-major, as image_shape
            # is read, an image comes out transposed; X.reshape(-1, 32, 32).transpose(0,
            # 2, 1) is upright. Kept as stored: both domains alike, so a transposed image
            # is the same task for every method, and reordering the pixels would change
            # every recorded COIL run's data fingerprint (and, through the networks'
            # initialisation, their figures by seed noise).
            image_shape=(32, 32),
        ),
    )
}


# -- registry queries ---------------------------------------------------------
def list_benchmarks() -> list[str]:
    """Names of the registered benchmarks (the embedded ``digits`` first)."""
    return list(_BENCHMARKS)


def _get(benchmark: str) -> _Benchmark:
    if isinstance(benchmark, str) and benchmark in _BENCHMARKS:
        return _BENCHMARKS[benchmark]
    if (
        isinstance(benchmark, (str, os.PathLike))
        and str(benchmark)
        and (folder := user_path(benchmark)).is_dir()
    ):
        return _folder_benchmark(folder)
    raise ValueError(
        f"unknown benchmark {benchmark!r}; expected one of {', '.join(_BENCHMARKS)}, or a "
        "folder of domain files (<domain>.npz or <domain>.csv)"
    )


FOLDER_SUFFIXES = (".csv", ".npz")


def _folder_files(folder: Path) -> dict[str, Path]:
    """Domain name -> file of a folder benchmark, sorted by name."""
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in FOLDER_SUFFIXES or not path.is_file():
            continue
        if path.stem in files:
            raise ValueError(
                f"benchmark folder {str(folder)!r}: two files for domain {path.stem!r} "
                f"({files[path.stem].name}, {path.name}); keep one"
            )
        files[path.stem] = path
    if len(files) < 2:
        raise ValueError(
            f"benchmark folder {str(folder)!r}: expected at least two domain files "
            f"(<domain>.npz or <domain>.csv), found {sorted(p.name for p in files.values())}"
        )
    return files


def _read_folder_file(path: Path, classes=None) -> Domain:
    if path.suffix.lower() == ".npz":
        return load_npz(path, classes=classes)
    return load_csv(path, classes=classes)


@functools.lru_cache(maxsize=4)
def _read_folder(folder: str, signature: tuple) -> dict[str, Domain]:
    """Every domain of a folder benchmark, labels numbered across the folder. Keyed on
    the files' names, sizes and mtimes, so an edited folder is read again."""
    files = {name: Path(folder) / file for name, file, _, _ in signature}
    domains = {name: _read_folder_file(path) for name, path in files.items()}
    named = [d.meta.get("classes") is not None for d in domains.values()]
    if any(named):
        if not all(named):
            raise ValueError(
                f"benchmark folder {folder!r}: some domains label classes by name, others by "
                "number; use one kind in every file"
            )
        # in load_csv's order (numbers first, numerically): "10" came before "2" here, and
        # one file's classes were numbered unlike load_csv's of it
        classes = sorted({c for d in domains.values() for c in d.meta["classes"]}, key=_class_order)
        domains = {name: _read_folder_file(path, classes) for name, path in files.items()}
    widths = {name: d.n_features for name, d in domains.items()}
    if len(set(widths.values())) > 1:
        raise ValueError(
            f"benchmark folder {folder!r}: domains of different widths {widths}; a folder "
            "benchmark holds one feature space"
        )
    # k is the largest label + 1: a number no domain holds would be an empty cluster asked
    # for (1-based labels, say), not a class
    seen = np.unique(np.concatenate([d.y for d in domains.values()]))
    top = int(seen.max())
    if seen.size != top + 1:  # seen holds distinct labels >= 0: all of 0..top, or a gap
        # the first few gaps only: a label of 2,000,000 listed 16.9 MB of them
        gaps = np.setdiff1d(np.arange(min(top, seen.size + 10) + 1), seen)[:10].tolist()
        raise ValueError(
            f"benchmark folder {folder!r}: {top + 1 - seen.size} of the labels 0..{top} "
            f"appear in no domain (first {gaps}), so they are no classes; expected 0-based "
            "labels 0..k-1 (1-based ones? save them minus 1)"
        )
    return domains


def _folder_signature(folder: Path) -> tuple:
    out = []
    for name, path in _folder_files(folder).items():
        stat = path.stat()
        out.append((name, path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(out)


def _folder_benchmark(folder: Path) -> _Benchmark:
    """The benchmark of a folder of domain files (see the module docstring)."""
    signature = _folder_signature(folder)
    domains = _read_folder(str(folder.resolve()), signature)
    file_names = {name: file for name, file, _, _ in signature}
    first = next(iter(domains.values()))
    # pathlib prints "./digits" as "digits": a folder named like a registered benchmark was
    # then loaded as that benchmark (load_pair loads its domains by this name)
    name = str(folder)
    if name in _BENCHMARKS:
        name = os.path.join(os.curdir, name)
    return _Benchmark(
        name=name,
        domains=tuple(domains),
        n_classes=max(int(d.y.max()) for d in domains.values()) + 1,
        n_features=first.n_features,
        standard="raw",
        description=f"your domain files in {folder}",
        papers=(),
        source=f"the folder {folder}",
        files={
            name: _DomainFile(file_names[name], "X", "y", True, n=d.n_samples)
            for name, d in domains.items()
        },
        folder=folder,
    )


def _check_domain(spec: _Benchmark, name: str, role: str = "domain") -> str:
    if name not in spec.domains:
        raise ValueError(
            f"unknown {role} {name!r} for benchmark {spec.name!r}; expected one of "
            f"{', '.join(spec.domains)}"
        )
    return name


def resolve_data_dir(data_dir=None) -> Path | None:
    """The data directory: ``data_dir`` if given, else ``$DTC_DATA``, else ``None``. An
    empty string is not given, as an empty ``$DTC_DATA`` is not set (it meant the working
    directory). A leading ``~`` is the home directory."""
    if data_dir is None or (isinstance(data_dir, str) and not data_dir):
        data_dir = os.environ.get(DATA_ENV) or None
    elif not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"data_dir: expected a path (str or os.PathLike) or None, got "
            f"{type(data_dir).__name__} {data_dir!r}"
        )
    return None if data_dir is None else user_path(data_dir)


def _candidates(spec: _Benchmark, file: str, root: Path | None) -> list[Path]:
    if spec.folder is not None:  # its own folder, whatever the data directory
        return [spec.folder / file]
    return [root / spec.name / file, root / file]


def _find_file(spec: _Benchmark, file: str, data_dir) -> Path:
    if spec.folder is not None:
        return spec.folder / file
    root = resolve_data_dir(data_dir)
    where = (
        f"Get it from {spec.source}, put it in <data dir>/{spec.name}/ and pass data_dir= "
        f"(--data-dir on the command line) or set {DATA_ENV}."
    )
    if root is None:
        raise FileNotFoundError(
            f"benchmark {spec.name!r} needs the file {file!r}, but no data directory was given "
            f"(data_dir=None and {DATA_ENV} is unset). {where}"
        )
    candidates = _candidates(spec, file, root)
    for path in candidates:
        if path.is_file():
            return path
    for path in candidates:
        if path.is_dir():  # "not found" hid that something stands there
            raise IsADirectoryError(
                f"benchmark {spec.name!r}: {str(path)!r} is a folder; expected the file {file!r}"
            )
    problem = data_dir_problem(root)
    if problem is not None:  # "not found in" it hid that there is no folder to look in
        raise FileNotFoundError(f"benchmark {spec.name!r} needs the file {file!r}, but {problem}")
    searched = ", ".join(str(p.parent) for p in candidates)
    raise FileNotFoundError(
        f"benchmark {spec.name!r}: file {file!r} not found in the data directory {str(root)!r} "
        f"(searched {searched}). {where}"
    )


def data_dir_problem(root: Path) -> str | None:
    """Why the data directory ``root`` cannot hold the benchmarks' files (it does not
    exist, or is a file), or None."""
    if root.is_dir():
        return None
    what = "is a file" if root.exists() else "does not exist"
    return f"the data directory {str(root)!r} {what}; expected a folder (--data-dir or {DATA_ENV})"


def domain_files(benchmark: str, domains, data_dir=None, *, verify: bool = False) -> list[Path]:
    """The files the ``domains`` of ``benchmark`` are read from, found in the data
    directory (``data_dir``, default ``$DTC_DATA``) without parsing them: the check a sweep
    runs before its first run, so a missing file fails it at once rather than run by run.
    ``verify``: each file's SHA-256 is checked against the release's too (a truncated or
    re-saved file failed mid-sweep otherwise, after the runs before it). ``[]`` for a
    generated benchmark (``digits``). ``FileNotFoundError`` as :func:`load_domain` raises
    it; ``ValueError`` for an unknown benchmark or domain, or a file that is not the
    release's."""
    spec = _get(benchmark)
    names = [_check_domain(spec, name) for name in domains]
    if spec.files is None:
        return []
    sums = {spec.files[name].file: spec.files[name].sha256 for name in names}
    paths = [_find_file(spec, file, data_dir) for file in sums]
    if verify:
        for path, sha256 in zip(paths, sums.values()):
            if sha256 is not None:
                _verify_sha256(str(path), sha256)
    return paths


def benchmark_info(benchmark: str, data_dir=None) -> dict:
    """Everything known about ``benchmark`` without loading it (for ``dtc datasets``).

    Returns a dict with ``name``, ``description``, ``domains`` (tuple), ``pairs``
    (list of ordered ``(source, target)`` tuples), ``n_classes``, ``n_features``,
    ``image_shape``, ``standard_preprocess``, ``preprocessings``, ``papers``,
    ``source`` (where the files come from), ``files`` (domain -> file name; empty
    for generated benchmarks), ``data_dir`` (resolved, or ``None``), ``found``
    (file name -> path found or ``None``) and ``available`` (all files found).
    """
    spec = _get(benchmark)
    root = resolve_data_dir(data_dir)
    files = {d: f.file for d, f in (spec.files or {}).items()}
    found = {}
    for file in dict.fromkeys(files.values()):
        hits = (
            [p for p in _candidates(spec, file, root) if p.is_file()] if root or spec.folder else []
        )
        found[file] = str(hits[0]) if hits else None
    return {
        "name": spec.name,
        "description": spec.description,
        "domains": spec.domains,
        "pairs": spec.pairs,
        "n_classes": spec.n_classes,
        "n_features": spec.n_features,
        "image_shape": spec.image_shape,
        "standard_preprocess": spec.standard,
        "preprocessings": tuple(PREPROCESSINGS),
        "papers": spec.papers,
        "source": spec.source,
        "files": files,
        "data_dir": None if root is None else str(root),
        "found": found,
        "available": all(v is not None for v in found.values()),
    }


# -- file loading ---------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _read_mat(path: str, mtime_ns: int, size: int, sha256: str | None) -> dict:
    # Keyed on mtime and size so an edited file is re-read (and hashed again); arrays
    # are made read-only because every caller shares them.
    if sha256 is not None:
        _verify_sha256(path, sha256)
    out = read_mat_v5(path)
    for value in out.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return out


def _verify_sha256(path: str, expected: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ValueError(
            f"{path}: SHA-256 {digest.hexdigest()}, expected {expected} (the released "
            "file's): another file under this name, e.g. another domain's or a re-saved copy; "
            "get the original (see `dtc datasets` and the data README)"
        )


def _load_mat_cached(path: Path, sha256: str | None = None) -> dict:
    """The variables of ``path``, read (and checked against ``sha256`` when given) once
    per process while its mtime and size stay the same."""
    stat = path.stat()
    return _read_mat(str(path), stat.st_mtime_ns, stat.st_size, sha256)


def _extract(spec: _Benchmark, domain: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``X`` ``(n, d)`` float64 and 0-based ``y`` ``(n,)`` of one domain, validated."""
    if spec.folder is not None:  # read and checked by the file loaders
        folder = spec.folder
        found = _read_folder(str(folder.resolve()), _folder_signature(folder))[domain]
        return found.X.astype(np.float64), found.y.copy()  # the cache's stay untouched
    where = spec.files[domain]
    arrays = _load_mat_cached(path, where.sha256)
    for key in (where.x_key, where.y_key):
        if key not in arrays:
            raise ValueError(
                f"{path}: expected key {key!r} (domain {domain!r} of {spec.name!r}); "
                f"found keys {sorted(arrays)}"
            )
    X, y = arrays[where.x_key], arrays[where.y_key]
    layout = "(n, d)" if where.samples_as_rows else "(d, n)"
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.kind not in "uif":
        raise ValueError(
            f"{path}: expected {where.x_key!r} to be a numeric 2-d array {layout} with "
            f"d={spec.n_features}, got {getattr(X, 'dtype', type(X))} of shape {np.shape(X)}"
        )
    X = X if where.samples_as_rows else X.T
    if X.shape[1] != spec.n_features or where.n not in (None, X.shape[0]):
        n = "" if where.n is None else f"n={where.n}, "
        raise ValueError(
            f"{path}: expected {where.x_key!r} of shape {layout} with {n}d={spec.n_features} "
            f"(domain {domain!r}), got shape {arrays[where.x_key].shape}"
        )
    y = np.asarray(y).ravel()
    if y.shape[0] != X.shape[0] or y.dtype.kind not in "uif":
        raise ValueError(
            f"{path}: expected {where.y_key!r} to hold {X.shape[0]} numeric labels, got "
            f"{y.dtype} of shape {np.shape(arrays[where.y_key])}"
        )
    if y.size and (y.min() < 1 or y.max() > spec.n_classes):
        raise ValueError(
            f"{path}: expected 1-based labels in 1..{spec.n_classes} in {where.y_key!r}, "
            f"got range {y.min()}..{y.max()}"
        )
    return X.astype(np.float64), y.astype(np.int64) - 1


def _resolve_preprocess(spec: _Benchmark, preprocess: str) -> str:
    name = spec.standard if preprocess == "standard" else preprocess
    # a list was an unhashable-type error from the lookup
    if not isinstance(name, str) or name not in PREPROCESSINGS:
        raise ValueError(
            f"preprocess must be 'standard' or one of {', '.join(PREPROCESSINGS)}, "
            f"got {preprocess!r}"
        )
    return name


_IMBALANCE_KEYS = ("ratio", "profile", "seed", "minority_fraction")


def _check_imbalance_arg(imbalance) -> None:
    """``ValueError`` naming ``imbalance`` unless it is None or a dict of the keyword
    arguments of :func:`~dtc.data.make_imbalanced` with a valid ``ratio`` (checked before
    any file is read)."""
    if imbalance is None:
        return
    if not isinstance(imbalance, dict):
        raise ValueError(
            f"imbalance: expected a dict of {list(_IMBALANCE_KEYS)} (ratio required) or None, "
            f"got {imbalance!r}"
        )
    unknown = sorted(set(imbalance) - set(_IMBALANCE_KEYS))
    if unknown or "ratio" not in imbalance:
        raise ValueError(
            f"imbalance: expected the keys {list(_IMBALANCE_KEYS)} (ratio required), got "
            f"{sorted(imbalance)}"
        )
    try:
        check_imbalance(**imbalance)
    except ValueError as exc:
        raise ValueError(f"imbalance: {exc}") from exc


def _subsampled(X, y, imbalance: dict | None, meta: dict):
    """``(X, y, meta)`` cut to the rows of :func:`~dtc.data.make_imbalanced` with the
    keyword arguments ``imbalance`` (``None``: all of them), before preprocessing: a
    statistic of the domain (z-scoring) is then that of the rows the method sees."""
    if imbalance is None:
        return X, y, meta
    if y is None:
        raise ValueError("imbalance: the domain is unlabelled; class imbalance needs labels")
    try:  # named as load_pair's argument, as _check_imbalance_arg names it
        index, record = imbalanced_rows(y, **imbalance)
    except ValueError as exc:
        raise ValueError(f"imbalance: {exc}") from exc
    return X[index], y[index], {**meta, "imbalance": record}


def _imbalance_hint(options) -> str:
    # a config's data parameter imbalance_ratio is the runner's: here it is imbalance=
    if any(str(k).startswith("imbalance_") for k in options):
        return "; an imbalanced target is imbalance={'ratio': ..., 'profile': ..., 'seed': ...}"
    return ""


def _digits_domains(
    spec: _Benchmark, names, method: str, options: dict, imbalance: dict | None = None
) -> list[Domain]:
    """The named domains of the generated ``digits`` pair, preprocessed with ``method``;
    ``imbalance`` maps a name to its :func:`_subsampled` arguments."""
    unknown = sorted(set(options) - {"shift", "seed", "source_fraction"})
    if unknown:
        raise ValueError(
            f"unexpected options {unknown} for benchmark 'digits'; expected shift, seed, "
            f"source_fraction{_imbalance_hint(unknown)}"
        )
    pair = make_digits_pair(**options)
    out = []
    for name in names:
        domain = pair.source if name == "source" else pair.target
        meta = {**domain.meta, "preprocess": method}
        X, y, meta = _subsampled(domain.X, domain.y, (imbalance or {}).get(name), meta)
        out.append(
            Domain(PREPROCESSINGS[method](X), y, name=name, image_shape=spec.image_shape, meta=meta)
        )
    return out


def load_domain(
    benchmark: str,
    name: str,
    data_dir=None,
    *,
    preprocess: str = "standard",
    imbalance: dict | None = None,
    **options,
) -> Domain:
    """Load one domain of a registered benchmark.

    Parameters
    ----------
    benchmark : str
        One of :func:`list_benchmarks`.
    name : str
        A domain of the benchmark (lower case, e.g. ``"amazon"``, ``"usps"``).
    data_dir : path, optional
        Directory holding ``<benchmark>/<file>``; default ``$DTC_DATA``. Unused for
        ``digits``.
    preprocess : str
        ``"standard"`` (the benchmark's literature protocol), ``"raw"``, ``"l2"``,
        ``"zscore"`` or ``"sum_zscore"``; see the module docstring. Computed on
        this domain alone.
    imbalance : dict, optional
        Keyword arguments of :func:`dtc.data.make_imbalanced` (``ratio``, ``profile``,
        ``seed``, ``minority_fraction``): the domain is cut to that class-imbalanced
        subset *before* it is preprocessed, so its statistics are those of the rows
        kept; ``meta["imbalance"]`` records it.
    **options
        For ``digits`` only: ``shift``, ``seed`` and ``source_fraction`` of
        :func:`dtc.data.make_digits_pair`.

    Returns
    -------
    Domain
        ``X`` ``(n, d)`` float32, labels ``y`` ``(n,)`` 0-based, ``image_shape`` for
        image benchmarks, ``meta`` with ``benchmark``, ``preprocess`` and ``file`` (for
        ``digits``, no file: ``shift`` and ``seed`` instead).

    Raises
    ------
    ValueError
        Unknown benchmark, domain or preprocessing; unexpected options; a file of
        the wrong format (missing key, wrong shape, bad labels).
    FileNotFoundError
        The file is not in the data directory (the message names the file, the
        directories searched and where to obtain it).
    """
    spec = _get(benchmark)
    _check_domain(spec, name)
    _check_imbalance_arg(imbalance)
    method = _resolve_preprocess(spec, preprocess)
    if spec.files is None:
        return _digits_domains(spec, (name,), method, options, {name: imbalance})[0]
    if options:
        raise ValueError(
            f"load_domain: unexpected options {sorted(options)} for benchmark {spec.name!r} "
            f"(shift, seed and source_fraction apply to 'digits' only){_imbalance_hint(options)}"
        )
    path = _find_file(spec, spec.files[name].file, data_dir)
    X, y = _extract(spec, name, path)
    meta = {"benchmark": spec.name, "preprocess": method, "file": str(path)}
    X, y, meta = _subsampled(X, y, imbalance, meta)
    return Domain(PREPROCESSINGS[method](X), y, name=name, image_shape=spec.image_shape, meta=meta)


def load_pair(
    benchmark: str,
    source: str | None = None,
    target: str | None = None,
    data_dir=None,
    *,
    preprocess: str = "standard",
    imbalance: dict | None = None,
    **options,
) -> DomainPair:
    """Load the ordered pair ``source -> target`` of a registered benchmark.

    ``source`` and ``target`` default to the benchmark's first ordered pair
    (``digits``: ``source -> target``); when only one is given and the other's default
    is that same domain, the other is the first other domain (``target="mnist"``:
    ``usps -> mnist``). Other parameters as in
    :func:`load_domain`; each domain is preprocessed on its own. Returns a
    :class:`DomainPair` with ``n_clusters`` = the number of classes and
    ``benchmark`` set; the target keeps its labels for evaluation (methods only
    ever see :meth:`DomainPair.mask_target_labels`). ``imbalance`` (keyword arguments
    of :func:`dtc.data.make_imbalanced`) makes the *target* class-imbalanced, cut
    before it is preprocessed (see :func:`load_domain`).

    Example: ``load_pair("office_caltech10_surf", source="amazon", target="webcam")``.
    """
    spec = _get(benchmark)
    default_s, default_t = spec.pairs[0]
    source = None if source is None else _check_domain(spec, source, "source domain")
    target = None if target is None else _check_domain(spec, target, "target domain")
    # One of the two given: the other defaults to the first pair's, unless that is the
    # domain given (target="mnist" is usps -> mnist, not mnist -> mnist).
    if source is None:
        source = default_s if target != default_s else next(d for d in spec.domains if d != target)
    if target is None:
        target = default_t if source != default_t else next(d for d in spec.domains if d != source)
    _check_imbalance_arg(imbalance)
    if source == target:
        raise ValueError(
            f"load_pair: source and target must differ, got {source!r} twice; ordered pairs of "
            f"{spec.name!r}: {spec.pairs}"
        )
    if spec.files is None:
        method = _resolve_preprocess(spec, preprocess)
        src, tar = _digits_domains(spec, (source, target), method, options, {target: imbalance})
    else:
        src = load_domain(spec.name, source, data_dir, preprocess=preprocess, **options)
        tar = load_domain(
            spec.name, target, data_dir, preprocess=preprocess, imbalance=imbalance, **options
        )
    # A folder declares no number of classes: a pair's k is its source's classes (the
    # folder's largest label + 1 counted the target file's labels, which are for evaluation
    # only: relabelling the target changed every target-only method's k)
    k = spec.n_classes if spec.folder is None else _labelled_classes(src)
    if k == 1:
        # a run with one cluster: every method "clusters" perfectly, scored ACC of the
        # largest class and NMI 0
        raise ValueError(
            f"benchmark {spec.name!r}: the source domain {source!r} holds 1 class; a folder "
            "pair clusters the target into its source's classes, so the source needs at "
            "least 2"
        )
    return DomainPair(src, tar, n_clusters=k, benchmark=spec.name)


def _labelled_classes(domain: Domain) -> int | None:
    """The number of classes ``domain`` holds (its labels >= 0), None for none."""
    labels = np.unique(domain.y[domain.y >= 0]) if domain.y is not None else np.empty(0)
    return int(labels.size) or None
