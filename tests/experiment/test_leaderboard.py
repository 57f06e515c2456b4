"""`dtc bench-losses`: DTC with each loss, a user's loss included, ranked by ACC."""

import json

import pytest
from typer.testing import CliRunner

from dtc.cli import app
from dtc.experiment.leaderboard import leaderboard_config, rank

MY_LOSSES = '''
import torch
from torch import nn


class MeanDifference(nn.Module):
    """Squared distance between the mean source and mean target embeddings."""

    def forward(self, source, target, **context):
        return (source.mean(0) - target.mean(0)).pow(2).sum()
'''

PROTOCOL = """\
name: tiny_bench
benchmarks: [{benchmark: digits}]
methods:
  template: {method: dtc, params: {pretrain_epochs: 1, adapt_epochs: 1, batch_size: 512}}
seeds: [0, 1]
"""


def test_user_loss_is_benchmarked_with_one_command(tmp_path, monkeypatch):
    (tmp_path / "my_losses.py").write_text(MY_LOSSES)
    (tmp_path / "protocol.yaml").write_text(PROTOCOL)
    monkeypatch.chdir(tmp_path)  # the user's module is found in the working directory
    args = ["bench-losses", "--losses", "mmd,my_losses:MeanDifference", "--quick"]
    args += ["--protocol", "protocol.yaml", "--out", "lb", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert {r["loss"] for r in rows} == {"mmd", "my_losses:MeanDifference"}
    assert rows[0]["acc"] >= rows[1]["acc"]  # ranked
    for row in rows:
        assert 0 < row["acc"] <= 1 and row["seconds_per_epoch"] > 0 and row["n_runs"] == 1
    # quick: the digits default with one seed, even though the protocol has two
    records = [json.loads(line) for line in (tmp_path / "lb" / "results.jsonl").open()]
    assert {r["seed"] for r in records} == {0}
    assert {r["spec"]["params"]["loss"] for r in records} == {"mmd", "my_losses:MeanDifference"}
    again = CliRunner().invoke(app, args)  # finished runs are reused, not rerun
    assert again.exit_code == 0
    assert (tmp_path / "lb" / "results.jsonl").read_text().count("\n") == 2
    assert [json.loads(line) for line in again.stdout.strip().splitlines()] == rows


def test_loss_names_are_checked_before_anything_runs(tmp_path):
    (tmp_path / "protocol.yaml").write_text(PROTOCOL)
    with pytest.raises(ValueError, match="unknown loss 'mdd'; available: .*mmd"):
        leaderboard_config(["mdd"], protocol=tmp_path / "protocol.yaml")
    with pytest.raises(ValueError, match="named twice"):
        leaderboard_config(["mmd", "mmd"], protocol=tmp_path / "protocol.yaml")
    cfg = leaderboard_config(["none", "coral"], protocol=tmp_path / "protocol.yaml")
    assert cfg.raw["methods"]["none"]["params"]["loss"] is None


def test_rank_orders_by_mean_acc():
    recs = [
        {"label": "a", "metrics": {"acc": 0.5, "nmi": 0.4}, "seconds_per_epoch": 0.2},
        {"label": "b", "metrics": {"acc": 0.9, "nmi": 0.8}, "seconds_per_epoch": 0.1},
        {"label": "b", "metrics": {"acc": 0.7, "nmi": 0.6}, "seconds_per_epoch": 0.3},
    ]
    rows = rank(recs, ["a", "b"])
    assert [r["loss"] for r in rows] == ["b", "a"]
    assert rows[0]["acc"] == pytest.approx(0.8) and rows[0]["seconds_per_epoch"] == pytest.approx(
        0.2
    )
    assert rows[0]["n_runs"] == 2 and rows[1]["acc_std"] == 0.0
