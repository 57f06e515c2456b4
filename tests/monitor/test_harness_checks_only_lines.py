"""scripts/negative_transfer.py --checks-only run on cases: a line per case (similarity and
signal as mean [min, max] over the seeds, the seeds flagged and why), or a JSON row, and a
line for a case the checks do not apply to (the other tests stopped before any case)."""

import json

import pytest


@pytest.fixture
def script(load_script):
    return load_script("negative_transfer")


def test_a_line_per_case_of_its_checks(script, capsys):
    argv = ["--checks-only", "--cases", "digits,digits_permuted", "--check-seeds", "1"]
    assert script.main(argv) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    digits, permuted = lines["digits"].split(), lines["digits_permuted"].split()
    # the true pair: one seed, so mean, min and max are one similarity; not flagged
    assert digits[1:3] == ["positive", "sim"] and digits[-2:] == ["flagged", "0/1"]
    sim = float(digits[3])
    assert digits[4:6] == [f"[{sim:.3f},", f"{sim:.3f}]"] and 0.5 < sim < 1
    # the permuted source: no similarity (unrelated), flagged on its one seed
    assert permuted[1:5] == ["negative", "sim", "-", "signal"]
    assert permuted[-3:] == ["flagged", "1/1", "unrelated_source"]


def test_json_rows_hold_the_checks_of_each_case(script, capsys):
    argv = ["--checks-only", "--cases", "digits_permuted", "--check-seeds", "2", "--json"]
    assert script.main(argv) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["case"], row["kind"], row["benchmark"]) == ("digits_permuted", "negative", "digits")
    assert row["applies"] and row["verdicts"] == ["unrelated_source"] * 2
    assert row["similarity"] is None and row["similarities"] == [None, None]


def test_a_case_the_checks_do_not_apply_to_is_said(script, monkeypatch, capsys):
    monkeypatch.setattr(script, "check_case", lambda pair, n_seeds, **kw: {"applies": False})
    assert script.main(["--checks-only", "--cases", "digits"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split()[:2] == ["digits", "positive"]
    assert line.endswith("checks do not apply (too few features)")
