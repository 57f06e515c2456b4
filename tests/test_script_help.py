"""``--help`` of every script in ``scripts/``: it prints the usage and the script's
docstring's whole first paragraph, and exits 0 without running anything."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
_CAPTURE = {"capture_output": True, "text": True}


def _stubbed(tmp_path, extra: str = ""):
    """``(calls log, env)``: a stub for ``dtc`` and ``python`` that logs its arguments (then
    runs ``extra``), and the environment that makes reproduce_paper.sh call it."""
    log = tmp_path / "calls.txt"
    stub = tmp_path / "stub"
    stub.write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\n' + extra)
    stub.chmod(0o755)
    env = {**os.environ, "DTC_DATA": str(tmp_path), "DTC": str(stub), "PYTHON": str(stub)}
    return log, env


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


def test_reproduce_paper_reports_each_config_s_current_runs_only(tmp_path):
    """Every table is run and reported with its own config: `dtc report --config`, so runs
    of rows or seeds an earlier version of the config had (kept in results.jsonl) stay out
    of the reproduced tables."""
    log, env = _stubbed(tmp_path)
    done = subprocess.run(
        ["bash", str(SCRIPTS / "reproduce_paper.sh"), "3"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    for table in ("table1", "table2", "table3"):
        config = f"experiments/paper/{table}.yaml"
        assert f"run {config} --out results/{table} --jobs 3" in calls
        assert (
            f"report results/{table}/results.jsonl --out results/{table}/report --config {config}"
            in calls
        )
    assert calls[-1] == "scripts/figures.py --out results/figures"


def _script_copy(tmp_path) -> Path:
    """reproduce_paper.sh copied to ``tmp_path/repo/scripts``: it works in ``tmp_path/repo``,
    so a stub may write results/ there instead of into the checkout."""
    (tmp_path / "repo" / "scripts").mkdir(parents=True)
    return Path(shutil.copy(SCRIPTS / "reproduce_paper.sh", tmp_path / "repo" / "scripts"))


def test_reproduce_paper_goes_on_after_a_failed_run_and_exits_1(tmp_path):
    """A failed run of table1 (exit 1) still gets table1 reported and tables 2 and 3 run;
    the script then exits 1. An interrupt (exit 130) stops it at once."""
    log, env = _stubbed(
        tmp_path,
        'if [ "$1 $2" = "run experiments/paper/table1.yaml" ]; then\n'
        # as dtc run does: each failed run is appended to errors.jsonl
        "  mkdir -p results/table1 && echo '{}' >> results/table1/errors.jsonl\n"
        '  exit "$STUB_RC"\n'
        "fi\n"
        # every run failed: no results file, so its report fails too
        'if [ "$1 $2" = "report results/table1/results.jsonl" ]; then exit 1; fi\n',
    )
    script = _script_copy(tmp_path)
    done = subprocess.run(
        ["bash", str(script), "1"],
        capture_output=True,
        text=True,
        env={**env, "STUB_RC": "1"},
    )
    assert done.returncode == 1, done.stderr
    assert "runs failed in table1" in done.stderr
    calls = log.read_text().splitlines()
    assert any(c.startswith("report results/table1/") for c in calls)
    assert any(c.startswith("run experiments/paper/table3.yaml") for c in calls)
    assert calls[-1] == "scripts/figures.py --out results/figures"
    log.unlink()
    done = subprocess.run(
        ["bash", str(script), "1"],
        capture_output=True,
        text=True,
        env={**env, "STUB_RC": "130"},
    )
    assert done.returncode == 130 and len(log.read_text().splitlines()) == 1


def test_reproduce_paper_stops_when_a_config_is_refused_before_any_run(tmp_path):
    """dtc run exits 1 without a failed run (DTC_DATA lacks a benchmark's file, say): the
    script stops there, instead of refusing the next tables too, drawing the figures and
    telling the user to retry failed runs that do not exist."""
    log, env = _stubbed(
        tmp_path, 'if [ "$1 $2" = "run experiments/paper/table1.yaml" ]; then exit 1; fi\n'
    )
    done = subprocess.run(["bash", str(_script_copy(tmp_path)), "1"], **_CAPTURE, env=env)
    assert done.returncode == 1
    assert "refused experiments/paper/table1.yaml before running anything" in done.stderr
    assert "run the script again" not in done.stderr
    assert log.read_text().splitlines() == [
        "run experiments/paper/table1.yaml --out results/table1 --jobs 1"
    ]


@pytest.mark.parametrize("jobs", [["abc"], ["0"], ["-1"], ["2", "extra"]])
def test_reproduce_paper_refuses_bad_jobs_before_running(jobs, tmp_path):
    log, env = _stubbed(tmp_path)
    done = subprocess.run(
        ["bash", str(SCRIPTS / "reproduce_paper.sh"), *jobs],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and not log.exists()
    assert done.stderr.strip().splitlines() == [
        "scripts/reproduce_paper.sh: JOBS: expected one number of parallel processes >= 1, "
        f"got '{' '.join(jobs)}'"
    ]


def test_the_methods_and_the_scripts_help_load_under_python_OO(tmp_path):
    """``python -OO`` strips docstrings: the autoencoder baselines, whose docstrings were cut
    from their base class's, failed to import (and with them ``ae_kmeans``), and every
    script's --help failed on its ``__doc__``."""
    code = f"""
import contextlib, importlib.util, io, sys
from pathlib import Path
from dtc import methods
for name in methods.available():
    methods.get_class(name)
scripts = Path({str(SCRIPTS)!r})
sys.path.insert(0, str(scripts))
for path in sorted(scripts.glob("*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.argv = [path.name, "--help"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        module.main()
print("loaded")
"""
    done = subprocess.run([sys.executable, "-OO", "-c", code], cwd=tmp_path, **_CAPTURE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "loaded"


@pytest.mark.parametrize("name", ["ae_budget", "partition_judges", "source_bias_stability"])
def test_out_help_gives_no_per_seed_advice_without_a_seed_option(name, load_script, capsys):
    # these scripts have no --seed (ae_budget and source_bias_stability run seeds 0..n-1 into
    # one FILE): "--out ... (one FILE per seed)" advised what they cannot do
    with pytest.raises(SystemExit):
        load_script(name).main(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--out FILE append each finished run" in shown
    assert "one FILE per seed" not in shown and "--seed SEED" not in shown


def test_out_help_keeps_per_seed_advice_with_a_seed_option(load_script, capsys):
    with pytest.raises(SystemExit):
        load_script("model_selection").main(["--help"])
    assert "one FILE per seed" in " ".join(capsys.readouterr().out.split())
