"""scripts/reproduce_paper.sh with a stand-in for dtc: how it reads a run's exit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A dtc whose table1 has one run that fails at every attempt: `run` rewrites errors.jsonl
# with that run's last failure (as dtc keeps the last failure of each unfinished run) and
# exits 1; table2 and table3 succeed; `report` succeeds. It writes the file a moment after it
# starts, as any run does: the script tells a run's errors by the file's time, and file times
# tick coarsely (a write in the same tick as the script's stamp reads as not newer).
FAKE_DTC = """#!/usr/bin/env bash
cmd=$1; shift
if [ "$cmd" = run ]; then
  out=$3; mkdir -p "$out"; echo "$out" >> calls.txt
  case "$out" in
    *table1) sleep 0.1; echo '{"run_id": "r1", "error": "fails"}' > "$out/errors.jsonl"; exit 1 ;;
  esac
fi
exit 0
"""


def _run(script: str, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script], cwd=cwd, env=env, capture_output=True, text=True)


def test_a_rerun_after_a_failed_run_goes_on_to_every_table(tmp_path):
    # The retry the script advises read as "dtc run refused ... before running anything":
    # the failure's line count stayed the same, and tables 2, 3 and the figures were skipped.
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "reproduce_paper.sh", tmp_path / "scripts")
    fake = tmp_path / "fake_dtc"
    fake.write_text(FAKE_DTC)
    fake.chmod(0o755)
    env = {**os.environ, "DTC": str(fake), "PYTHON": "true", "DTC_DATA": str(tmp_path)}
    for attempt in range(2):
        res = _run("scripts/reproduce_paper.sh", tmp_path, env)
        assert res.returncode == 1, (attempt, res.stderr)
        assert "runs failed in table1" in res.stderr and "refused" not in res.stderr, res.stderr
    calls = (tmp_path / "calls.txt").read_text().split()
    assert calls == ["results/table1", "results/table2", "results/table3"] * 2


def test_relative_paths_are_read_from_where_the_script_was_started(tmp_path):
    """The script moves to the repository root: DTC_DATA=../shared/data (the README's), and
    a relative DTC or PYTHON, named other files from there."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "reproduce_paper.sh", repo / "scripts")
    here = tmp_path / "work"
    (here / "tools").mkdir(parents=True)
    (here / "data").mkdir()
    fake = here / "tools" / "dtc"
    # records the data directory each run is given, as dtc would read it
    fake.write_text('#!/usr/bin/env bash\n[ "$1" = run ] && echo "$DTC_DATA" >> seen.txt\nexit 0\n')
    fake.chmod(0o755)
    env = {**os.environ, "DTC": "tools/dtc", "PYTHON": "true", "DTC_DATA": "data"}
    res = _run("../repo/scripts/reproduce_paper.sh", here, env)
    assert res.returncode == 0, res.stderr
    seen = (repo / "seen.txt").read_text().split()
    assert seen == [str(here / "data")] * 3
    # a quoted leading ~/: DTC's is the home folder, DTC_DATA's left to dtc ($PWD/~/data
    # named no folder)
    (repo / "seen.txt").unlink()
    home = {**env, "HOME": str(here), "DTC": "~/tools/dtc", "DTC_DATA": "~/data"}
    res = _run("../repo/scripts/reproduce_paper.sh", here, home)
    assert res.returncode == 0, res.stderr
    assert (repo / "seen.txt").read_text().split() == ["~/data"] * 3  # dtc expands it
    for value in ("~", "~root/data"):  # ~ and ~user too: $PWD/~ named no folder
        (repo / "seen.txt").unlink()
        assert (
            _run("../repo/scripts/reproduce_paper.sh", here, {**home, "DTC_DATA": value}).returncode
            == 0
        )
        assert (repo / "seen.txt").read_text().split() == [value] * 3
