"""scripts/seeds_per_case.py: ``--seeds`` that are no integers, a run file that cannot be
read and a line that is no run record are each a one-line usage error (exit 2)."""

from pathlib import Path

import pytest

RUNS = str(Path(__file__).resolve().parents[2] / "experiments" / "records" / "harness_s0.jsonl")


@pytest.fixture
def script(load_script):
    return load_script("seeds_per_case")


def _error(script, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_seeds_that_are_no_integers(script, capsys):
    error = _error(script, ["--seeds", "1,x", RUNS], capsys)
    assert error.endswith("--seeds must be comma-separated integers, got '1,x'")


def test_a_run_file_that_cannot_be_read(script, capsys, tmp_path):
    missing = tmp_path / "none.jsonl"
    error = _error(script, [str(missing)], capsys)
    assert error.endswith(f"{missing}: cannot be read (No such file or directory)")


def test_a_line_that_is_no_run_record(script, capsys, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text('{"a": 1}\n')
    error = _error(script, [str(other)], capsys)
    assert f"{other}: line 1 is not a run record (no case, kind" in error
