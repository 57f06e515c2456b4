"""The recorded runs of ``experiments/records/`` give the figures the README quotes from them."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "experiments" / "records"

# README row (its first cell) -> (files, runs, (negatives flagged, false alarms, gain kept,
# worst)), the percentages and the worst case in ACC points as the README rounds them.
QUOTED = {
    "the same, re-run with the current defaults (`experiments/records/`)": (
        ("fresh11_s10.jsonl", "fresh11_s11.jsonl"),
        128,
        (88, 10, 93, -9.3),
    ),
}


@pytest.mark.parametrize("row", sorted(QUOTED))
def test_recorded_runs_give_the_readme_figures(load_script, row):
    script = load_script("negative_transfer")
    files, n_runs, (det, fa, kept, worst) = QUOTED[row]
    runs = [r for f in files for r in script.read_runs_file(RECORDS / f)]
    assert len(runs) == n_runs
    m = script.measures(runs)
    got = (round(100 * m["det"]), round(100 * m["fa"]), round(100 * m["kept"]))
    assert got == (det, fa, kept)
    assert round(100 * m["worst"], 1) == worst
    # and the README's row says so
    line = next(
        t for t in (ROOT / "README.md").read_text().splitlines() if t.startswith(f"| {row}")
    )
    cells = [c.strip().strip("*") for c in line.split("|")[4:8]]
    assert cells == [f"{det} %", f"{fa} %", f"{kept} %", f"{worst:+.1f}"]
