"""The JSONL results store."""

import numpy as np

from dtc.experiment import append_record, read_records


def test_append_and_read(tmp_path):
    path = tmp_path / "sub" / "runs.jsonl"
    append_record(path, {"a": 1, "x": np.float32(0.5), "v": np.arange(2)})
    append_record(path, {"a": 2})
    assert read_records(path) == [{"a": 1, "v": [0, 1], "x": 0.5}, {"a": 2}]


def test_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_record(path, {"a": 1})
    with path.open("a") as fh:
        fh.write('{"a": 2, "b"')  # a write cut short by a crash
    assert read_records(path) == [{"a": 1}]


def test_missing_file_has_no_records(tmp_path):
    assert read_records(tmp_path / "none.jsonl") == []
