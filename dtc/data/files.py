"""Load a user's own domain from a ``.npz``, ``.csv`` or ``.mat`` file.

Each loader returns a validated :class:`Domain` (features ``(n, d)`` float32,
optional 0-based labels ``(n,)``). Files are read without running code they hold:
``.npz`` with ``allow_pickle=False``, MATLAB v5 with ``scipy.io.loadmat`` and MATLAB
v7.3 (HDF5) with ``h5py``. A missing file raises ``FileNotFoundError``; a file whose
content is not what was asked for (missing key, wrong shape, non-numeric cell)
raises ``ValueError`` naming the file and what was expected. A damaged file is a
``ValueError`` naming it too, with one exception: scipy's MATLAB v5 reader is not
hardened against damaged input, and a few damaged v5 files crash the interpreter inside
it (scipy 1.17, a segmentation fault); the shared benchmarks' files are checked against
their SHA-256 before they are parsed, a user's own are not.

``label_offset`` is subtracted from the labels, e.g. ``label_offset=1`` for the
1-based labels usual in MATLAB files.
"""

from __future__ import annotations

import csv
import math
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import scipy.io
import scipy.sparse

from dtc._validation import check_bool, user_path
from dtc._warnings import warn
from dtc.data.domain import Domain

__all__ = ["load_csv", "load_mat", "load_npz", "read_mat_v5"]


def _existing(path) -> Path:
    try:
        path = user_path(path)
    except TypeError:
        raise TypeError(f"path: expected a file path (str or os.PathLike), got {path!r}") from None
    if path.is_dir():  # "no such file" hid that something stands there
        raise IsADirectoryError(f"path: {str(path)!r} is a folder; expected a file")
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    return path


def _is_int(value) -> bool:
    """Whether ``value`` is an integer, Python's or NumPy's (``bool`` is not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _make_domain(
    path: Path, X, y, *, name, image_shape, label_offset: int, meta: dict | None = None
) -> Domain:
    """Build the Domain, re-raising validation errors with the file name in front."""
    if not _is_int(label_offset):
        raise ValueError(f"label_offset: expected an int, got {label_offset!r}")
    if y is not None:
        y = np.asarray(y)
        # int(): numpy 1.x compared uint64 with int as float64, where 2**63 - 1 == 2**63
        if y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
            # the int64 cast below wrapped 2**63 to -2**63: "expected non-negative labels"
            raise ValueError(
                f"{path}: labels: expected class labels of at most 2**63 - 1, got {y.max()}"
            )
        if y.dtype.kind in "bui" and y.size:
            # the subtraction below wrapped around int64 (a label_offset past its range
            # was numpy's bare OverflowError, naming nothing)
            low, high = int(y.min()) - int(label_offset), int(y.max()) - int(label_offset)
            if not -(2**63) <= low <= high < 2**63:
                raise ValueError(
                    f"label_offset: {label_offset} takes {path}'s labels "
                    f"({y.min()}..{y.max()}) past int64's range"
                )
        if y.dtype.kind in "buif":
            # Widen first: uint8 labels (MATLAB's usual type) would wrap around; bool labels
            # are the integers 0 and 1 (the offset was ignored for them).
            y = y.astype(np.int64 if y.dtype.kind in "bui" else np.float64) - int(label_offset)
    try:
        return Domain(
            X,
            y,
            name=path.stem if name is None else name,
            image_shape=image_shape,
            meta={"file": str(path), **(meta or {})},
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _missing_key(path: Path, key: str, what: str, keys) -> ValueError:
    return ValueError(f"{path}: expected key {key!r} ({what}); found keys {sorted(keys)}")


def load_npz(
    path,
    *,
    x_key: str = "X",
    y_key: str | None = "y",
    name: str | None = None,
    image_shape=None,
    label_offset: int = 0,
    classes=None,
) -> Domain:
    """Load a domain from a NumPy ``.npz`` archive.

    Parameters
    ----------
    path : path to the ``.npz`` file.
    x_key : key of the features, an array of shape ``(n, d)``.
    y_key : key of the labels ``(n,)``, or ``None`` for an unlabelled domain. Integer
        labels are kept; string labels (class names) are numbered as :func:`load_csv`
        numbers them, the names kept in ``meta["classes"]``.
    name : domain name (default: the file's stem).
    image_shape : optional ``(H, W)`` or ``(C, H, W)`` with ``prod == d``.
    label_offset : subtracted from numeric labels.
    classes : for string labels, the names in the order that numbers them, as in
        :func:`load_csv` (give the source's ``meta["classes"]`` when loading its target).

    Returns
    -------
    Domain with ``X`` float32 of shape ``(n, d)`` and ``y`` int64 ``(n,)`` (``None``
    with ``y_key=None``).
    """
    path = _existing(path)
    # opened here, closed whatever happens: np.load leaves its own file open when the
    # archive fails to open (one descriptor per failed load, until garbage collection)
    with path.open("rb") as fh:
        problem = not_numpy_file(fh)
        if problem:
            raise ValueError(
                f"{path}: could not read it as a NumPy .npz archive (a zip file of .npy "
                f"arrays): {problem}"
            )
        try:
            archive = np.load(fh, allow_pickle=False)
        # EOFError: an empty file; BadZipFile: not a zip archive (a truncated or other file);
        # NotImplementedError: a damaged "version needed to extract" ("zip file version 20.9")
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
            raise ValueError(f"{path}: could not read it as a NumPy .npz archive ({exc})") from exc
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(
                f"{path}: expected a .npz archive of named arrays, got a single .npy array"
            )
        X, y = _read_npz(path, archive, x_key, y_key)
    return _npz_domain(path, X, y, name, image_shape, label_offset, classes)


_NPY_MAGIC = b"\x93NUMPY"


def not_numpy_file(fh) -> str | None:
    """Why the binary file ``fh`` (read from its start, and put back there) is neither a
    NumPy ``.npz`` (zip) archive nor a ``.npy`` array, or ``None``. np.load reads any
    other file as a pickle, which it refuses with "If you trust the file you can load it
    unsafely using allow_pickle=": advice, for a CSV or a damaged file, that would run
    whatever a pickle holds. An empty file is left to np.load (its own error)."""
    head = fh.read(len(_NPY_MAGIC))
    fh.seek(0)
    if head and not head.startswith(b"PK") and head != _NPY_MAGIC:
        return f"it starts with {head[:4]!r}"
    return None


def _read_npz(path, archive, x_key, y_key):
    with archive:
        keys = archive.files
        if x_key not in keys:
            raise _missing_key(path, x_key, "features (n, d)", keys)
        if y_key is not None and y_key not in keys:
            raise _missing_key(path, y_key, "labels (n,)", keys)
        arrays = {}
        for key in (x_key, y_key):
            if key is None:
                continue
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                if "allow_pickle" not in str(exc):  # a member cut short: no object array
                    raise ValueError(f"{path}: array {key!r} could not be read ({exc})") from exc
                # object arrays need pickle, which is refused
                raise ValueError(
                    f"{path}: array {key!r} is not numeric (an object array, which loading "
                    f"without pickle refuses: {exc})"
                ) from exc
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError) as exc:
                # a damaged member (bad CRC, truncated stream; a compression method or flag
                # damaged: zipfile's NotImplementedError, "encrypted" RuntimeError) fails only
                # when it is read
                raise ValueError(
                    f"{path}: array {key!r} could not be read ({type(exc).__name__}: {exc})"
                ) from exc
            if not isinstance(arrays[key], np.ndarray):
                # a member without the .npy header is returned as its raw bytes: refused
                # as "text" by the checks, which named no damaged member
                # (numpy drops ".npy" from a member's name; a member without it keeps it)
                member = key + ".npy" if key + ".npy" in archive.zip.namelist() else key
                raise ValueError(f"{path}: member {member!r} is not a .npy array (no .npy header)")
        return arrays[x_key], arrays.get(y_key)


def _npz_domain(path, X, y, name, image_shape, label_offset, classes) -> Domain:
    meta = {}
    if y is not None and y.dtype.kind in "US":  # class names (bytes or str)
        try:
            names = [str(v.decode() if isinstance(v, bytes) else v).strip() for v in y.ravel()]
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: labels: class names must be UTF-8 text ({exc})") from exc
        if "" in names:
            raise ValueError(
                f"{path}: label {names.index('')} is empty (a missing label is no class)"
            )
        y, meta["classes"] = _code_names(path, names, classes)
        if _is_int(label_offset):
            label_offset = 0  # names are numbered 0..k-1 already (a bad offset still named)
    elif classes is not None:
        raise ValueError(f"classes: given, but {path}'s labels are numbers, not class names")
    return _make_domain(
        path, X, y, name=name, image_shape=image_shape, label_offset=label_offset, meta=meta
    )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_csv(
    path,
    *,
    label_column: int | str | None = -1,
    header: bool | str = "infer",
    delimiter: str = ",",
    name: str | None = None,
    image_shape=None,
    label_offset: int = 0,
    classes=None,
) -> Domain:
    """Load a domain from a delimited text file, one sample per row.

    Parameters
    ----------
    path : path to the file.
    label_column : index (negative counts from the end) or header name of the
        label column, or ``None`` when every column is a feature. Numeric labels
        must be integers; non-numeric labels (class names) are mapped to
        ``0..k-1`` in sorted order (names that are numbers first, in numeric order),
        or in the order of ``classes``, and the names kept in ``meta["classes"]``. An
        empty label cell is an error (a missing label is not a class).
    classes : sequence of str, optional
        The class names in the order that numbers them (labels are then read as names,
        numbers too): give the
        source's ``meta["classes"]`` when loading its target, so that one name has one
        number in both domains (:class:`~dtc.data.DomainPair` refuses two domains whose
        names are numbered apart). A name of the file not in it is an error.
    header : ``True`` (first row is a header), ``False``, or ``"infer"``: a header
        when some feature cell of the first row is not a number (the label cell is
        left out, since class names are not numbers; with ``label_column`` a header
        name, every cell counts), or when its label cell is not a number while every
        other row's is (a numbered header such as ``0,1,2,label``).
    delimiter : field separator.
    name, image_shape, label_offset : as in :func:`load_npz`.

    Returns
    -------
    Domain with ``X`` of shape ``(n, d)`` (all other columns) and ``y`` ``(n,)``.
    """
    path = _existing(path)
    if header not in (True, False, "infer"):
        raise ValueError(f"header: expected True, False or 'infer', got {header!r}")
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which made the first
        # cell non-numeric and the first sample a "header" (plain UTF-8 reads the same)
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            # each kept row with its line in the file: blank lines are skipped, and errors
            # counted by kept rows named the wrong line
            numbered = [(reader.line_num, row) for row in reader if row]
    except UnicodeDecodeError as exc:  # a binary file (e.g. a .npz or .mat given here)
        raise ValueError(f"{path}: could not read it as a text file ({exc})") from exc
    except csv.Error as exc:  # e.g. a cell past the csv module's field size limit
        raise ValueError(f"{path}: could not be read as delimited text ({exc})") from exc
    rows, lines = [row for _, row in numbered], [line for line, _ in numbered]
    for line, row in numbered:
        if _unclosed_quote(path, row, last=line == lines[-1], width=len(rows[0])):
            # a quote left open reads every line after it as one cell: blamed on the
            # delimiter ("every row is one field") or on a line's number of fields
            raise ValueError(
                f"{path}: a quoted field ending on line {line} runs over several lines; is a "
                'quote (") left unclosed?'
            )
    if not rows:
        raise ValueError(f"{path}: expected at least one row, the file is empty")
    if header == "infer":
        header = _infer_header(rows, label_column)
        first = [c.strip() for c in rows[0]]
        if _is_int(label_column) and -len(first) <= label_column < len(first):
            del first[label_column]  # a numbered header ("0,1,label") has names only there
        kinds = {_is_number(c) for c in first}
        if header and kinds == {True, False}:
            # numbers and names among the features: a sample with a typo, or a header?
            warn(
                f"{path}: the first row {rows[0]} is taken as a header (some of its cells are "
                "not numbers); if it is a sample, pass header=False, or (a benchmark folder's "
                "file, read with header='infer') correct its cells",
            )
    names = [c.strip() for c in rows[0]] if header else None
    body = rows[1:] if header else rows
    body_lines = lines[1:] if header else lines
    if not body:
        raise ValueError(f"{path}: expected at least one data row after the header (empty domain)")
    width = len(body[0])
    if width == 1 and label_column is not None:
        raise ValueError(
            f"{path}: every row is one field, the label alone; is delimiter={delimiter!r} the "
            "file's separator? (pass another to load_csv; a benchmark folder's files are "
            "read comma-separated: rewrite the file with ',')"
        )
    for i, row in enumerate(body):
        if len(row) != width:
            raise ValueError(
                f"{path}: line {body_lines[i]} has {len(row)} fields, expected {width}"
            )
    if names is not None and len(names) != width:
        # a header of 3 names over rows of 4 fields took the label column by its place
        # among the names: the labels became a feature and a feature the labels
        raise ValueError(f"{path}: the header has {len(names)} names and the rows {width} fields")

    if label_column is None:
        col = None
    elif isinstance(label_column, str):
        if names is None or label_column not in names:
            raise ValueError(
                f"{path}: label_column {label_column!r} is not a header name; header: {names}"
            )
        col = names.index(label_column)
    elif isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        if not -width <= label_column < width:
            raise ValueError(
                f"{path}: label_column {label_column} out of range for {width} columns "
                f"(expected 0..{width - 1}, or -{width}..-1 from the end)"
            )
        col = int(label_column) % width
    else:
        raise ValueError(
            f"label_column: expected an int, a header name or None, got {label_column!r}"
        )

    feature_cols = [j for j in range(width) if j != col]
    X = np.empty((len(body), len(feature_cols)))
    for i, row in enumerate(body):
        for k, j in enumerate(feature_cols):
            try:
                X[i, k] = float(row[j])
            except ValueError:
                raise ValueError(
                    f"{path}: line {body_lines[i]}, column {j}: expected a number, got {row[j]!r}"
                ) from None
    y, meta = None, {}
    if col is not None:
        cells = [row[col].strip() for row in body]
        if "" in cells:
            line = body_lines[cells.index("")]
            raise ValueError(f"{path}: line {line}, column {col}: the label is empty")
        if all(_is_number(c) for c in cells) and classes is None:
            y = _int_labels(cells)
            if y is None:  # fractions, NaN: refused by name by the label checks
                y = np.array([float(c) for c in cells])
        else:
            y, meta["classes"] = _code_names(path, cells, classes)
    # Class names are mapped to 0..k-1 already; the offset is for numeric labels only.
    offset = 0 if "classes" in meta and _is_int(label_offset) else label_offset
    return _make_domain(
        path, X, y, name=name, image_shape=image_shape, label_offset=offset, meta=meta
    )


def _unclosed_quote(path: Path, row: list[str], *, last: bool, width: int) -> bool:
    """Whether ``row`` holds a quoted cell over several lines that a quote left unclosed
    made: one that runs to the end of the file (the file does not end with its closing
    quote), or one in a row of another number of fields than the first. A quoted cell
    over several lines is valid CSV otherwise (e.g. a header name with a line break, as
    Excel writes it)."""
    if not any("\n" in cell or "\r" in cell for cell in row):
        return False
    if len(row) != width:
        return True
    if not last:
        return False
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 64))
        return not fh.read().rstrip(b"\r\n").endswith(b'"')


def _int_labels(cells: list[str]) -> np.ndarray | None:
    """Labels written as integers within int64's range, read exactly; else ``None``. Read
    as floats, two labels past 2**53 (9007199254740993 and 9007199254740992) were one."""
    try:
        values = [int(c) for c in cells]
    except ValueError:
        return None
    if values and not -(2**63) <= min(values) <= max(values) < 2**63:
        return None
    return np.array(values, dtype=np.int64)


def _code_names(path: Path, names: list[str], classes) -> tuple[np.ndarray, list[str]]:
    """Class names ``(n,)`` as numbers ``0..k-1``: in sorted order (names that are numbers
    first, in numeric order), or in the order of ``classes``; ``(y, the order)``."""
    found = sorted(set(names), key=_class_order)
    order = found if classes is None else [str(c) for c in classes]
    if len(set(order)) != len(order):
        raise ValueError(f"classes: a name is given twice in {order}")
    unknown = [c for c in found if c not in order]
    if unknown:
        raise ValueError(f"{path}: classes {unknown} are not in classes={order}")
    code = {c: i for i, c in enumerate(order)}
    return np.array([code[c] for c in names], dtype=np.int64), order


def _class_order(name: str) -> tuple:
    # Names that are numbers first, in numeric order ("2" before "10", as their values),
    # then the others in string order ("nan" among them: it has no order).
    value = float(name) if _is_number(name) else math.nan
    return (0, value, name) if math.isfinite(value) else (1, 0.0, name)


def _infer_header(rows: list[list[str]], label_column) -> bool:
    """Whether the first row is a header: some feature cell of it is not a number, or
    its label cell is not a number while those of every other row are (``0,1,2,label``,
    as ``pandas.DataFrame.to_csv(index=False)`` writes numbered columns; a class name
    in the first row alone is a sample of a file whose labels are names)."""
    if not all(_is_number(cell) for cell in _feature_cells(rows[0], label_column)):
        return True
    col = _label_index(rows[0], label_column)
    # an empty label cell is a sample's missing label (an error later), not a column name
    if col is None or _is_number(rows[0][col]) or not rows[0][col].strip() or len(rows) < 2:
        return False
    return all(len(row) > col and _is_number(row[col]) for row in rows[1:])


def _label_index(row: list[str], label_column) -> int | None:
    """The index of the label cell of ``row`` when ``label_column`` is an index in range."""
    width = len(row)
    is_index = isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool)
    return int(label_column) % width if is_index and -width <= label_column < width else None


def _feature_cells(row: list[str], label_column) -> list[str]:
    """The cells of ``row`` that hold features when ``label_column`` is an index in range
    (else every cell: a header name implies a header, a bad index is reported later)."""
    col = _label_index(row, label_column)
    return row if col is None else [cell for j, cell in enumerate(row) if j != col]


def read_mat_v5(path) -> dict:
    """The variables of a MATLAB v5 ``.mat`` file (``scipy.io.loadmat``), without the
    ``__header__``-style entries; ``ValueError`` naming the file if it is not one."""
    try:
        arrays = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for a bad file
        raise ValueError(
            f"{path}: could not read it as a MATLAB v5 .mat file ({type(exc).__name__}: {exc})"
        ) from exc
    return {k: v for k, v in arrays.items() if not k.startswith("__")}


def _read_mat_v73(path: Path, keys: list[str]) -> dict:
    """Read numeric datasets ``keys`` of a MATLAB v7.3 (HDF5) file, in MATLAB's orientation.

    MATLAB writes column-major arrays; HDF5 readers see them with the axes
    reversed, so an ``(n, d)`` MATLAB matrix appears as ``(d, n)`` in h5py and is
    transposed back here.
    """
    out = {}
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:  # a truncated or damaged file: h5py names no file
        raise ValueError(f"{path}: could not read it as a MATLAB v7.3 (HDF5) file ({exc})") from exc
    with fh:
        try:
            names = list(fh)
        except (RuntimeError, KeyError, OSError) as exc:  # damaged: h5py names no file
            raise ValueError(
                f"{path}: could not list its variables, the file is damaged ({exc})"
            ) from exc
        # a damaged name comes as bytes (not UTF-8): no variable that can be asked for
        available = [k for k in names if isinstance(k, str) and not k.startswith("#")]
        for key in keys:
            if key not in available:
                raise _missing_key(path, key, "a numeric MATLAB array", available)
            try:
                out[key] = _read_v73_key(path, fh, key)
            except (ValueError, TypeError, KeyError, OSError, RuntimeError) as exc:
                if isinstance(exc, ValueError) and str(exc).startswith(f"{path}: "):
                    raise
                # a damaged file fails in h5py's words anywhere (a float type it cannot
                # represent, attributes it cannot read), naming no file
                raise ValueError(
                    f"{path}: {key!r} could not be read, the file is damaged "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
    return out


def _read_v73_key(path: Path, fh, key: str) -> np.ndarray:
    """The numeric dataset ``key`` of the open v7.3 file ``fh`` (see :func:`_read_mat_v73`)."""
    try:
        node = fh[key]
    except (KeyError, OSError) as exc:  # a dangling link: h5py names no file
        raise ValueError(f"{path}: {key!r} could not be read ({exc})") from exc
    # a data file reads itself alone: a link into another file (however reached:
    # directly, through a soft link or a linked group), a virtual dataset or one
    # stored in other files loaded that file's bytes as features
    if node.file != fh or getattr(node, "is_virtual", False):
        raise ValueError(f"{path}: {key!r} is a link to another file; save the array itself")
    if isinstance(node, h5py.Group) and "MATLAB_sparse" in node.attrs:
        raise ValueError(
            f"{path}: {key!r} is a sparse MATLAB matrix, which v7.3 files store as an "
            f"HDF5 group that is not read here; save it full ({key} = full({key})) or "
            "in a v5 file (save -v7), whose sparse matrices are read"
        )
    if not isinstance(node, h5py.Dataset) or node.dtype.kind not in "uifb":
        raise ValueError(f"{path}: expected {key!r} to be a numeric MATLAB array")
    matlab_class = node.attrs.get("MATLAB_class", b"")
    if isinstance(matlab_class, bytes):
        matlab_class = matlab_class.decode(errors="replace")
    if matlab_class == "char":
        # v7.3 stores text as uint16 character codes: read as numbers, 'a' would
        # be class 97 (a v5 file's char array is refused as text by the checks)
        raise ValueError(
            f"{path}: expected {key!r} to be a numeric MATLAB array, got a char array "
            "(text, stored as character codes); save class names as numbers"
        )
    if node.attrs.get("MATLAB_empty", 0):
        # v7.3 stores an empty array as its dimensions (e.g. [0, 1]), marked so:
        # read as data, those became features or labels
        raise ValueError(f"{path}: {key!r} is an empty MATLAB array")
    if node.external:
        raise ValueError(
            f"{path}: {key!r} is stored in other files ({[e[0] for e in node.external]});"
            " save the array itself"
        )
    try:
        return np.asarray(node[()]).T
    except OSError as exc:  # damaged compressed data: h5py names no file
        raise ValueError(f"{path}: {key!r} could not be read ({exc})") from exc


def _dense(value) -> np.ndarray:
    # scipy.io.loadmat returns MATLAB's sparse matrices as scipy.sparse (np.asarray
    # would wrap one in a 0-d object array).
    return value.toarray() if scipy.sparse.issparse(value) else np.asarray(value)


def load_mat(
    path,
    *,
    x_key: str = "X",
    y_key: str | None = "y",
    features_as_rows: bool = False,
    name: str | None = None,
    image_shape=None,
    label_offset: int = 0,
) -> Domain:
    """Load a domain from a MATLAB ``.mat`` file (v5 via scipy, v7.3 via h5py).

    Parameters
    ----------
    path : path to the file.
    x_key, y_key : variable names of the features and labels (``y_key=None``:
        unlabelled).
    features_as_rows : ``False`` (default) when the matrix, as MATLAB shows it, is
        ``(n, d)`` (samples as rows); ``True`` for ``(d, n)``, the layout of the
        JDA/TCA releases (``X_src``, ``X_tar``).
    name, image_shape, label_offset : as in :func:`load_npz`
        (``label_offset=1`` for MATLAB's 1-based labels).

    Returns
    -------
    Domain with ``X`` float32 of shape ``(n, d)`` (samples as rows, whatever
    ``features_as_rows``) and ``y`` int64 ``(n,)`` (``None`` with ``y_key=None``).

    Notes
    -----
    A sparse matrix of a v5 file is made dense; one of a v7.3 file raises
    ``ValueError`` saying so (save it full or as v5).
    """
    # not truthiness: features_as_rows="no" transposed the matrix
    features_as_rows = check_bool(features_as_rows, method="load_mat", name="features_as_rows")
    path = _existing(path)
    keys = [x_key] if y_key is None else [x_key, y_key]
    if h5py.is_hdf5(path):
        arrays = _read_mat_v73(path, keys)
    else:
        arrays = read_mat_v5(path)
        for key, what in zip(keys, ("features", "labels")):
            if key not in arrays:
                raise _missing_key(path, key, what, arrays)
    X = _dense(arrays[x_key])
    if X.dtype.kind not in "uifb":
        raise ValueError(f"{path}: expected {x_key!r} to be a numeric matrix, got dtype {X.dtype}")
    if X.ndim == 2 and features_as_rows:
        X = X.T
    y = None if y_key is None else _dense(arrays[y_key])
    if y is not None and y.dtype.kind in "OUS":
        # a cell array of class names (object) or a char matrix (text): the domain's own
        # check said "expected integer class labels, got dtype object", with no remedy
        raise ValueError(
            f"{path}: expected {y_key!r} to be numeric class labels, got dtype {y.dtype} "
            "(text or a cell array); save class names as numbers"
        )
    if (
        y is not None
        and not features_as_rows
        and X.ndim == 2
        and y.size == X.shape[1] != X.shape[0]
    ):
        # the JDA files store one sample per column: the loader's own message ("expected
        # 256 labels") would not say what to change
        raise ValueError(
            f"{path}: expected {X.shape[0]} labels (one per row of {x_key!r}), got {y.size}, "
            "one per column: if the file stores samples as columns, pass "
            "features_as_rows=True"
        )
    return _make_domain(path, X, y, name=name, image_shape=image_shape, label_offset=label_offset)
