"""The results store: one JSON object per line (JSONL), appended atomically.

Each record is written with a single ``write`` of one complete line on a file opened
in append mode and flushed with ``fsync``, so a run killed mid-sweep leaves whole
lines only. Should a last line be cut short anyway (a power loss, a full disk),
:func:`read_records` ignores it and :func:`append_record` cuts it off before writing
(a last line that is a whole record without its newline is read, and ended),
so the next record never lands glued onto it: its run is simply not finished, and a
resumed sweep runs it again. An append holds an exclusive lock on the file (``flock``;
POSIX only, elsewhere appends are not locked) from that check to the ``fsync``: two
processes appending to one file (two ``dtc run`` in two terminals, both on
``results/runs.jsonl``) would otherwise each take the other's line, caught half written,
for a cut one and remove a finished run. :func:`set_aside`, which rewrites the file,
holds the same lock and re-reads the file under it, and an append that waited on the
file it replaced opens the new one (an append into the replaced file was lost).
:func:`exit_on_interrupt` turns a Ctrl-C into one line saying where the finished runs
are kept.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dtc._validation import user_path
from dtc._warnings import warn

try:
    import fcntl
except ImportError:  # not POSIX: appends are not locked
    fcntl = None

__all__ = [
    "Terminated",
    "append_line",
    "append_record",
    "check_appendable",
    "exit_on_interrupt",
    "finite_values",
    "interrupted_message",
    "locked_file",
    "read_records",
    "record_check",
    "record_json",
    "recorded_number",
    "replace_file",
    "set_aside",
    "sorted_items",
    "terminate_as_interrupt",
    "tolerant_output",
    "write_records",
]


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line to ``path`` (parent folders are created),
    first cutting off a last line left incomplete by an interrupted write."""
    append_line(path, record_json(record) + "\n")


def record_json(record: dict) -> str:
    """``record`` as one line of strict JSON (RFC 8259), keys sorted: sets as sorted lists,
    numpy values as Python ones, and NaN and the infinities as ``null``.

    Python's ``json`` writes a non-finite float as a bare ``NaN`` / ``Infinity``, which
    JavaScript's ``JSON.parse``, R's and other strict readers refuse (jq turns it into
    ``null``): a DTC fit whose source embeddings coincide logs its discrepancy as NaN, and
    a user's method may keep an ``inf`` in its history."""
    plain = json.loads(json.dumps(record, sort_keys=True, default=_json_default))
    return json.dumps(finite_values(plain), sort_keys=True, allow_nan=False)


def recorded_number(value) -> float:
    """A number read back from a record, ``null`` (how :func:`record_json` writes NaN and
    the infinities) as NaN."""
    return math.nan if value is None else float(value)


def finite_values(value):
    """``value`` (plain JSON data: dicts, lists, numbers, text) with every NaN or infinite
    float replaced by ``None``, as :func:`record_json` writes it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_values(v) for v in value]
    return value


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` (one JSON object ending in a newline) to ``path`` as
    :func:`append_record` appends a record, for a writer whose lines are encoded its own way
    (the scripts' ``--out`` rows)."""
    path = user_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked_file(path) as fd:
        _cut_partial_line(fd, path)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)


def check_appendable(path: str | os.PathLike) -> None:
    """``OSError`` unless records can be appended to ``path`` (its folder is created):
    checked before a sweep's first run, whose result was otherwise lost to the traceback of
    its first append (a read-only folder; a full disk cannot be seen ahead). A file created
    for the check is removed again, so a usage error found later leaves none."""
    # a symbolic link's target, which the appends create and write: O_EXCL refused a
    # dangling link (as an existing file) that an append would have made a file
    path = Path(os.path.realpath(user_path(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        return
    try:  # created to check it: removed again unless an append landed meanwhile
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size == 0:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


@contextmanager
def locked_file(
    path: str | os.PathLike, create: bool = True, readonly: bool = False
) -> Iterator[int]:
    """An append-mode descriptor of ``path`` (created if absent, unless not ``create``:
    ``FileNotFoundError``) holding the exclusive lock the appends take (POSIX only),
    released on exit: for a reader that changes the file from what it read (cuts a line
    off), so that no append lands in between. ``readonly``: a read-only descriptor, for
    a reader that replaces the file rather than writing to it (the lock needs no write
    access, and a file it leaves as it is may be read-only)."""
    path = user_path(path)
    write = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
    flags = os.O_RDONLY if readonly else write
    while True:
        fd = os.open(path, flags, 0o644)
        if fcntl is None:  # not POSIX: not locked
            break
        try:
            # a wait for another writer's lock cut short (Ctrl-C, SIGTERM in a sweep) or a
            # lock refused (ENOLCK on some network file systems) left the descriptor open
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Waited while set_aside replaced the file: this one is no longer ``path``, and
            # what is written to it is lost. Open the new one.
            try:
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _cut_partial_line(fd: int, path: Path) -> None:
    # Only the last byte is read on the usual path; the whole file is read back only
    # when a line was cut, which is rare. (Appends go to the end whatever the offset.)
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0:
        return
    os.lseek(fd, size - 1, os.SEEK_SET)
    # a line ends as read_records ends it, in \n, \r\n or a lone \r: a file of \r-ended
    # records was read whole, and then cut to nothing by its next append
    if os.read(fd, 1) in (b"\n", b"\r"):
        return
    data = path.read_bytes()
    start = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    if _whole_record(data[start:]):
        # a whole record without its newline (a file a user's script rewrote with
        # "\n".join): ended, not cut off (it was a finished run, and was lost)
        os.write(fd, b"\n")
        return
    # said, with what is removed: a hand edit gone wrong reads as a run cut short
    warn(
        f"{path}: removed an incomplete last line ({size - start} bytes: "
        f"{data[start : start + 40]!r}...) before appending: its run is not finished",
        RuntimeWarning,
    )
    os.ftruncate(fd, start)


def record_check(*keys: str):
    """A ``check`` of :func:`read_records` (and of the scripts' run-file readers) refusing a
    record without one of ``keys``, "no a, b": a file another script wrote was a KeyError
    traceback of the first key read."""

    def check(record: dict) -> str | None:
        missing = [k for k in keys if k not in record]
        return f"no {', '.join(missing)}" if missing else None

    return check


def write_records(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """Replace ``path`` by ``records``, one JSON line each, atomically: a crash leaves
    either the old file or the new one, never a mix."""
    with replace_file(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(record_json(r) + "\n")


@contextmanager
def replace_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same folder and suffix, so a writer that
    reads the format from the suffix still works); once the block has written it, it
    replaces ``path`` atomically, with ``path``'s permissions where it exists (a results
    file made read-only came back writable). An interrupted block leaves ``path`` as it
    was and removes the temporary file."""
    path = user_path(path)
    # a name of its own (not created here, so the file gets the usual permissions): two
    # reports into one folder shared ".acc.tmp.md", and one moved the other's away
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # best effort, the permission bits only (not setuid / setgid / sticky, which a
        # write by its owner clears): a path that cannot be read keeps the default
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode) & 0o777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _left_out(path: Path, number: int, raw: bytes) -> None:
    # Its run is not finished. Said: a hand edit gone wrong reads the same, and its run was
    # left out without a word
    warn(
        f"{path}: line {number} is incomplete ({len(raw)} bytes without a newline, not a "
        f"whole record: {raw[:40]!r}...): left out as a run not finished",
        RuntimeWarning,
    )


def read_records(path: str | os.PathLike, check=None) -> list[dict]:
    """All complete records of ``path`` (an absent file has none).

    ``check``, optional: a function of one record returning what is wrong with it (a
    short phrase) or ``None`` when nothing is. A line that is not JSON, not a JSON
    object or fails ``check`` raises ``ValueError`` naming the file and the line.
    """
    path = user_path(path)
    if not path.exists():
        return []
    # read as bytes, decoded line by line: a file that is not UTF-8 text was an error that
    # named neither the file nor the line. Lines end in \n, \r\n or \r, as text mode read.
    return _parse_lines(path, path.read_bytes().splitlines(keepends=True), check)


def read_first_record(path: str | os.PathLike, check=None) -> dict | None:
    """The first record of ``path``, its line read and checked as :func:`read_records`
    reads and checks every line (``ValueError`` naming the file), or ``None`` (an absent or
    empty file, or only a line cut short): a look, as cheap for a file of thousands of
    runs as for one, at whether ``path`` is a results file, before appending to it."""
    path = user_path(path)
    if not path.exists():
        return None
    number = 1
    with open(path, "rb") as file:
        for raw in file:  # split at \n: a lone \r splits it again, as splitlines does
            for line in raw.splitlines(keepends=True):
                # each line judged as read_records judges it (blank by str.strip, which a
                # bytes.strip of the lines before did not match): one at a time, linear
                records = _parse_lines(path, [line], check, first=number)
                number += 1
                if records:
                    return records[0]
                if line.decode("utf-8", "replace").strip():
                    return None  # a line cut short (left out)
    return None


def _parse_lines(path: Path, lines, check, first: int = 1) -> list[dict]:
    """The records of the raw ``lines`` (bytes, with their line ends) of ``path``
    (:func:`read_records`); ``first``: the number of the first of them in the file."""
    records = []
    for number, raw in enumerate(lines, first):
        ended = raw.endswith((b"\n", b"\r"))
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not ended and exc.reason == "unexpected end of data":
                # cut short by a crash, in the middle of its last character
                _left_out(path, number, raw)
                break
            raise ValueError(
                f"{path}: results line {number} is not UTF-8 text ({exc.reason} at byte "
                f"{exc.start}); is it a results .jsonl file?"
            ) from None
        if not ended and not _whole_record(line):
            _left_out(path, number, raw)  # a line cut short by a crash (or being written)
            break
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: corrupt results line {number}: {line[:80]!r}") from exc
        if not isinstance(record, dict):
            problem = f"expected a JSON object, got {type(record).__name__}"
        else:
            problem = check(record) if check is not None else None
        if problem is not None:
            raise ValueError(f"{path}: line {number} is not a run record ({problem})")
        records.append(record)
    return records


def _whole_record(line: str | bytes) -> bool:
    """Whether an unterminated last line is a whole JSON object (a record whose newline
    was dropped), not one cut short: a record is written with its newline in one
    ``write``, and no prefix of a JSON object is itself one."""
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def set_aside(
    path: str | os.PathLike, records: list[dict], stale: list[bool], stale_path
) -> list[dict]:
    """Move the ``records`` of ``path`` flagged in ``stale`` to the end of ``stale_path``
    (kept for comparison) and return the others, which ``path`` then holds alone.

    The stale records are appended to ``stale_path`` before ``path`` is rewritten, so
    a crash in between loses nothing (at worst a record is in both files); a record the
    stale file already holds as it is (set aside by a sweep that crashed there) is not
    appended again. ``path`` is re-read under the appends' lock: the records another
    process appended since ``records`` were read are kept (and returned) with the others,
    not removed by a rewrite from ``records``.
    """
    if len(stale) != len(records):
        raise ValueError(f"set_aside: {len(stale)} flags for {len(records)} records")
    if not any(stale):
        return records
    old = {_canonical(r) for r, flag in zip(records, stale) if flag}
    path = user_path(path)
    with locked_file(path) as fd:
        _cut_partial_line(fd, path)
        current = read_records(path)
        held = {_canonical(r) for r in read_records(stale_path)}
        for r in current:
            text = _canonical(r)
            if text in old and text not in held:
                append_record(stale_path, r)
                held.add(text)
        kept = [r for r in current if _canonical(r) not in old]
        write_records(path, kept)
    return kept


def _canonical(record: dict) -> str:
    return record_json(record)


def interrupted_message(
    name: str, kept: str | os.PathLike | None, resume_note: str | None = None
) -> str:
    """What an interrupted sweep ``name`` says: where its finished runs are ``kept`` (a
    records file or folder) and that the same command resumes; ``None``: nothing keeps them
    (e.g. a script run without ``--out``), so running again starts over. ``resume_note``
    ends the line when resuming does not reuse every kept run (e.g. ``bench_losses.py``
    measures a cut block again whole)."""
    if kept is None:
        return (
            f"{name}: interrupted; the runs that finished were not kept: "
            "running the same command again starts over"
        )
    message = (
        f"{name}: interrupted; the runs that finished are kept in {kept}: "
        "run the same command again to resume"
    )
    return message if resume_note is None else f"{message} ({resume_note})"


class Terminated(KeyboardInterrupt):
    """A SIGTERM (``kill``, a batch system's time limit) raised as a Ctrl-C is, so that the
    same clean-up runs (workers stopped, the finished runs named); its exit code is 143."""

    exit_code = 143


def _raise_terminated(signum, frame):
    raise Terminated


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block a SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``)
    instead of ending the process at once with no word of where the finished runs are; the
    previous handler is restored afterwards. Off the main thread (where Python cannot set a
    handler) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tolerant_output() -> None:
    """Make stdout and stderr print what their encoding cannot as backslash escapes: the
    tables print "±" and the user's names, and a stream that cannot encode them
    (``PYTHONIOENCODING=ascii``, a Latin-1 locale) failed with ``UnicodeEncodeError``
    after the work was done. For the entry points of the CLI and the scripts."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


@contextmanager
def exit_on_interrupt(
    name: str, kept: str | os.PathLike | None, resume_note: str | None = None
) -> Iterator[None]:
    """Around a sweep's long-running part: a Ctrl-C (``KeyboardInterrupt``) or a SIGTERM in
    the block prints :func:`interrupted_message` as one line on stderr, no traceback, and
    exits with code 130 (143 for SIGTERM; ``SystemExit``), as ``dtc run`` does; a block that
    ends otherwise is left alone."""
    try:
        with terminate_as_interrupt():
            yield
    except KeyboardInterrupt as exc:
        print(interrupted_message(name, kept, resume_note), file=sys.stderr, flush=True)
        raise SystemExit(getattr(exc, "exit_code", 130)) from None


def sorted_items(items) -> list:
    """The items of a set as a list in one order in every process (a set's own order
    follows its strings' hashes, ``PYTHONHASHSEED``): by value where they compare, else by
    their JSON text."""
    items = list(items)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))


def _json_default(obj):
    if isinstance(obj, (set, frozenset)):
        # as a list: str() of a set is no JSON a reader can take back ("{0, 1}")
        return sorted_items(obj)
    # numpy scalars and arrays appear in metrics and params.
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
