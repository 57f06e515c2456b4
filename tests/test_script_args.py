"""Bad arguments of the scripts in ``scripts/`` are a one-line usage error (exit 2), before
anything runs, never a traceback."""

import pytest


def usage_error(script, argv, capsys) -> str:
    """The one error line ``script.main(argv)`` exits with (argparse's usage error)."""
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and ": error: " in err[-1]
    return err[-1]


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("negative_transfer", ["--summary", "{missing}"]),
        ("model_selection", ["--summary", "{missing}"]),
        ("resolution_gate_choice", ["{missing}"]),
        ("guard_tradeoff", ["{missing}"]),
        ("seeds_per_case", ["{missing}"]),
        ("similarity_threshold_choice", ["{directory}"]),
    ],
)
def test_a_runs_file_that_cannot_be_read_is_named_in_one_line(
    name, argv, load_script, tmp_path, capsys
):
    """A missing runs file (or a directory given as one) was a FileNotFoundError traceback."""
    missing, directory = tmp_path / "absent.jsonl", tmp_path
    argv = [a.format(missing=missing, directory=directory) for a in argv]
    line = usage_error(load_script(name), argv, capsys)
    assert line.endswith(
        (
            "absent.jsonl: cannot be read (No such file or directory)",
            f"{tmp_path}: cannot be read (Is a directory)",
        )
    )
