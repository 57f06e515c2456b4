"""scripts/negative_transfer.py's one-line usage errors no other test reached: a count that
is no integer, two case sets, a ``--set`` that is no key=value, a ``--save-partitions``
folder or an ``--out`` file that cannot be written, and an unfinished last line of ``--out``
that cannot be cut off. Each before any case is run."""

import pytest


@pytest.fixture
def script(load_script, monkeypatch):
    module = load_script("negative_transfer")
    monkeypatch.setattr(module, "run_case", lambda *a, **k: pytest.fail("a case ran"))
    return module


def _usage_error(script, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        script.main(["--cases", "digits", *argv])
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--pretrain-epochs", "abc"], "--pretrain-epochs: expected an integer >= 0, got 'abc'"),
        (["--holdout", "--fresh10"], "--holdout and --fresh10 are different case sets: give one"),
        (["--set", "foo"], "--set: override 'foo': expected key=value"),
    ],
)
def test_a_bad_option_is_a_usage_error(script, capsys, argv, error):
    assert error in _usage_error(script, argv, capsys)


def test_a_save_partitions_folder_that_cannot_be_written(script, monkeypatch, capsys, tmp_path):
    # (as root every folder can be written: the check's answer stands in for a read-only one)
    monkeypatch.setattr(script.os, "access", lambda path, mode: False)
    error = _usage_error(script, ["--save-partitions", str(tmp_path / "parts")], capsys)
    assert error.endswith(
        f"--save-partitions: {tmp_path / 'parts'} cannot be written ({tmp_path} is read-only)"
    )


def test_an_out_file_that_cannot_be_written(script, monkeypatch, capsys, tmp_path):
    def refuse(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(script, "check_appendable", refuse)
    out = tmp_path / "s0.jsonl"
    error = _usage_error(script, ["--out", str(out)], capsys)
    assert error.endswith(f"--out {out}: cannot be written (Permission denied)")


def test_an_unfinished_last_line_that_cannot_be_cut_off(script, monkeypatch, capsys, tmp_path):
    out = tmp_path / "s0.jsonl"
    out.write_text('{"case": "digits", "se')  # an interrupted run's last line

    def refuse(path, create=True):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(script, "locked_file", refuse)
    error = _usage_error(script, ["--out", str(out)], capsys)
    assert error.endswith(f"{out}: its unfinished last line cannot be cut off (Permission denied)")
    assert out.read_text() == '{"case": "digits", "se'  # left as it was


def test_runs_without_recorded_settings_say_so(script):
    assert script.settings_text(None) == "settings not recorded"
    assert script.settings_text({"policy": "rollback", "every": 2}) == "policy=rollback, every=2"
