"""``--help`` of every script in ``scripts/``: it prints the usage and the script's
docstring's whole first paragraph, and exits 0 without running anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.parametrize("name", sorted(p.stem for p in SCRIPTS.glob("*.py")))
def test_python_script_help_shows_the_first_paragraph(name, load_script, monkeypatch, capsys):
    script = load_script(name)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--help"])
    with pytest.raises(SystemExit) as exit_:
        script.main()
    assert exit_.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert shown.startswith(f"usage: {name}.py")
    assert " ".join(script.__doc__.split("\n\n")[0].split()) in shown


def test_reproduce_paper_help_is_not_taken_for_jobs():
    for flag in ("-h", "--help"):
        done = subprocess.run(
            ["bash", str(SCRIPTS / "reproduce_paper.sh"), flag], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: scripts/reproduce_paper.sh [JOBS]")
        assert "JOBS" in done.stdout and "DTC_DATA" in done.stdout


def test_reproduce_paper_says_what_it_misses_before_running(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DTC_DATA"}
    done = subprocess.run(
        ["bash", str(SCRIPTS / "reproduce_paper.sh"), "1"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "set DTC_DATA" in done.stderr
    env.update(DTC_DATA=str(tmp_path), DTC=str(tmp_path / "no_dtc"))
    done = subprocess.run(
        ["bash", str(SCRIPTS / "reproduce_paper.sh"), "1"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "no_dtc not found: run `make venv` first" in done.stderr
