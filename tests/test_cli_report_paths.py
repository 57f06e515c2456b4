"""`dtc report` paths no other test reached: the table written to a text-only stdout (an
embedding application's, without .buffer), failures in errors.jsonl pointed to when no
--config is given, and an OSError of the report outside --out given as it is."""

import io
import json
import sys

from typer.testing import CliRunner

from dtc.cli import app, report
from dtc.experiment import report as report_module

runner = CliRunner()


def _results(folder, accs=(0.1, 0.2, 0.6)):
    folder.mkdir()
    lines = [
        {
            "run_id": f"a-{seed}",
            "label": "a",
            "method": "a",
            "benchmark": "digits",
            "source": "s",
            "target": "t",
            "seed": seed,
            "metrics": {"acc": acc},
        }
        for seed, acc in enumerate(accs)
    ]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def test_the_table_goes_to_a_text_only_stdout_as_written(tmp_path, monkeypatch):
    folder = _results(tmp_path / "sweep")
    stdout = io.StringIO()  # no .buffer
    monkeypatch.setattr(sys, "stdout", stdout)
    report(folder, None, out_dir=tmp_path / "out", metric=None, figures=False, config=None)
    table = (tmp_path / "out" / "acc.md").read_text(encoding="utf-8")
    assert "| a | **30.0 ± 26.5** |" in table
    assert stdout.getvalue() == table


def test_failures_without_a_config_are_pointed_to(tmp_path):
    folder = _results(tmp_path / "sweep")
    (folder / "errors.jsonl").write_text('{"run_id": "b", "error": "boom"}\n')
    res = runner.invoke(app, ["report", str(folder), "--no-figures"])
    assert res.exit_code == 0, res.output
    assert (
        f"{folder / 'errors.jsonl'} lists failed runs: a cell missing them is marked n=k/m "
        "only with --config (the seeds every run should have)"
    ) in " ".join(res.stderr.split())
    empty = _results(tmp_path / "quiet")
    (empty / "errors.jsonl").write_text("")
    res = runner.invoke(app, ["report", str(empty), "--no-figures"])
    assert res.exit_code == 0 and "lists failed runs" not in res.stderr


def test_an_os_error_outside_the_report_folder_is_named_as_it_is(tmp_path, monkeypatch):
    folder = _results(tmp_path / "sweep")
    elsewhere = tmp_path / "fonts" / "cache.json"

    def write_report(*args, **kwargs):
        raise OSError(28, "No space left on device", str(elsewhere))

    monkeypatch.setattr(report_module, "write_report", write_report)
    res = runner.invoke(app, ["report", str(folder), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1
    # not "--out: ...": the file is not the option's
    assert f"error: [Errno 28] No space left on device: '{elsewhere}'" in " ".join(
        res.stderr.split()
    )
