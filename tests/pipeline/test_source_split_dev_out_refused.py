"""scripts/source_split_dev.py: an ``--out`` that is a folder, or a file of other records,
is a one-line usage error before any fit."""

import pytest


@pytest.fixture
def script(load_script, monkeypatch):
    module = load_script("source_split_dev")
    monkeypatch.setattr(module, "load_domain", lambda *a, **k: pytest.fail("data were read"))
    return module


def _error(script, out, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        script.main(["--candidates", "{}", "--out", str(out)])
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_an_out_that_is_a_folder(script, tmp_path, capsys):
    error = _error(script, tmp_path, capsys)
    assert "--out: " in error and f"Is a directory: '{tmp_path}'" in error


def test_an_out_of_other_records(script, tmp_path, capsys):
    other = tmp_path / "other.jsonl"
    other.write_text('{"a": 1}\n')
    error = _error(script, other, capsys)
    assert f"--out: {other}: line 1 is not a run record (no family, source, seed" in error
    assert other.read_text() == '{"a": 1}\n'  # left as it was
