"""``dtc run`` (a single run) whose record cannot be appended to ``--results``: the finished
run's record goes to stderr, and the command fails naming the file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import dtc.experiment
from dtc.cli import app

runner = CliRunner()


def test_a_record_that_cannot_be_appended_is_written_to_stderr(tmp_path, monkeypatch):
    def full(path, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dtc.experiment, "append_record", full)
    results = tmp_path / "r.jsonl"
    args = ["run", "--method", "kmeans", "--set", "n_init=1", "--seed", "3"]
    res = runner.invoke(app, [*args, "--results", str(results)])
    assert res.exit_code == 1, res.output
    lines = res.stderr.splitlines()
    record = json.loads(lines[0])  # the whole record, on one line
    assert (record["method"], record["seed"]) == ("kmeans", 3)
    assert set(record["metrics"]) >= {"acc", "nmi", "ari"}
    said = " ".join(" ".join(lines[1:]).split())
    assert f"could not append to {str(results)!r}" in said
    assert "No space left on device" in said and "the record is above" in said
    assert not results.exists() and "appended to" not in res.stdout
