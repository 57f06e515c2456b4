"""The results store: one JSON object per line (JSONL), appended atomically.

Each record is written with a single ``write`` of one complete line on a file opened
in append mode and flushed with ``fsync``, so a run killed mid-sweep leaves whole
lines only; :func:`read_records` ignores a truncated last line should one exist
(e.g. after a power loss), so a resumed sweep reruns that run instead of failing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["append_record", "read_records"]


def append_record(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, default=_json_default) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_records(path: str | os.PathLike, records: list[dict]) -> None:
    """Replace ``path`` by ``records``, one JSON line each, atomically: a crash leaves
    either the old file or the new one, never a mix."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True, default=_json_default) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_records(path: str | os.PathLike) -> list[dict]:
    """All complete records of ``path`` (an absent file has none)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # a line cut short by a crash: its run is not finished
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: corrupt results line: {line[:80]!r}") from exc
    return records


def _json_default(obj):
    # numpy scalars and arrays appear in metrics and params.
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
