"""dtc.experiment.leaderboard.bench_losses, the public function behind `dtc bench-losses`
(no test called it): the names are stripped and blanks dropped, --quick runs one seed,
the row is the record's scores, and a second call reuses the finished run."""

import json

from dtc.experiment.leaderboard import bench_losses

PROTOCOL = """\
name: tiny_bench
benchmarks: [{benchmark: digits}]
methods:
  template: {method: dtc, params: {pretrain_epochs: 1, adapt_epochs: 1, batch_size: 512}}
seeds: [0, 1]
"""


def test_bench_losses_runs_ranks_and_reuses(tmp_path):
    (tmp_path / "protocol.yaml").write_text(PROTOCOL)
    out = tmp_path / "out"
    options = {"out_dir": out, "quick": True, "protocol": tmp_path / "protocol.yaml"}
    rows, summary = bench_losses([" none ", ""], progress=False, **options)
    (record,) = [json.loads(line) for line in (out / "results.jsonl").open()]
    # "none" is DTC without an alignment loss
    assert (record["seed"], record["label"], record["spec"]["params"]["loss"]) == (0, "none", None)
    assert (summary.total, summary.finished, summary.skipped) == (1, 1, 0)
    (row,) = rows
    assert (row["loss"], row["rank"], row["n_runs"], row["n_tasks"]) == ("none", 1, 1, 1)
    assert row["complete"] and row["n_seeds"] == 1
    assert (row["acc"], row["nmi"]) == (record["metrics"]["acc"], record["metrics"]["nmi"])
    again, summary = bench_losses(["none"], progress=False, **options)
    assert (summary.finished, summary.skipped) == (0, 1)
    assert again == rows
