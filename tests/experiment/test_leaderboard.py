"""`dtc bench-losses`: DTC with each loss, a user's loss included, ranked by ACC."""

import json
import warnings

import pytest
from typer.testing import CliRunner

from dtc.cli import app
from dtc.experiment.config import expand
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


def _records_of(cfg, acc: dict) -> list[dict]:
    """A record per task of ``cfg``, its ACC ``acc[loss][seed]`` (the same on every pair)."""
    return [
        {
            "run_id": t.run_id,
            "label": t.label,
            "seed": t.spec.seed,
            "metrics": {"acc": acc[t.label][t.spec.seed], "nmi": 0.5},
        }
        for t in expand(cfg)
    ]


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
        assert 0 < row["acc"] <= 1 and row["seconds_per_epoch"] > 0
        assert row["complete"] and row["n_runs"] == row["n_tasks"] == 1
    # quick: the digits default with one seed, even though the protocol has two
    records = [
        json.loads(line) for line in (tmp_path / "lb" / "results.jsonl").read_text().splitlines()
    ]
    assert {r["seed"] for r in records} == {0}
    assert {r["spec"]["params"]["loss"] for r in records} == {"mmd", "my_losses:MeanDifference"}
    again = CliRunner().invoke(app, args)  # finished runs are reused, not rerun
    assert again.exit_code == 0
    assert (tmp_path / "lb" / "results.jsonl").read_text().count("\n") == 2
    assert [json.loads(line) for line in again.stdout.strip().splitlines()] == rows


def test_bench_losses_script_times_a_users_loss(load_script, tmp_path, monkeypatch, capsys):
    """scripts/bench_losses.py finds a ``module:Class`` loss in the working directory, as
    `dtc run` does (its worker subprocess failed with "No module named 'my_losses'")."""
    script = load_script("bench_losses")
    (tmp_path / "my_losses.py").write_text(MY_LOSSES)
    monkeypatch.chdir(tmp_path)
    args = ["--losses", "my_losses:MeanDifference", "--n", "32", "--d", "4", "--json"]
    assert script.main([*args, "--repeats", "1", "--threads", "1"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["status"] == "ok", row["status"]
    assert row["loss"] == "my_losses:MeanDifference" and row["impl"] == "dtc"
    assert row["n"] == 32 and row["seconds"] > 0


def test_loss_names_are_checked_before_anything_runs(tmp_path):
    (tmp_path / "protocol.yaml").write_text(PROTOCOL)
    with pytest.raises(ValueError, match="--losses: unknown loss 'mdd'; available: .*mmd.*none"):
        leaderboard_config(["mdd"], protocol=tmp_path / "protocol.yaml")
    with pytest.raises(ValueError, match="named twice"):
        leaderboard_config(["mmd", "mmd"], protocol=tmp_path / "protocol.yaml")
    # a module:Class that does not import: the error is the import's, without the hint on
    # "no loss" that follows an unknown name
    with pytest.raises(ValueError, match="could not import loss 'no_such_mod:Foo'") as exc:
        leaderboard_config(["no_such_mod:Foo"], protocol=tmp_path / "protocol.yaml")
    assert "in --losses it is none" not in str(exc.value)
    cfg = leaderboard_config(["none", "coral"], protocol=tmp_path / "protocol.yaml")
    assert cfg.raw["methods"]["none"]["params"]["loss"] is None
    # a protocol without a name is named after its file, as a config file is
    (tmp_path / "my_protocol.yaml").write_text(PROTOCOL.replace("name: tiny_bench\n", ""))
    assert leaderboard_config(["mmd"], protocol=tmp_path / "my_protocol.yaml").name == "my_protocol"


@pytest.mark.parametrize(
    ("losses", "protocol", "match"),
    [
        ([" ", ""], PROTOCOL, "--losses: expected at least one loss name"),
        (["mmd"], None, "leaderboard protocol '.*absent.yaml' not found"),
        (
            ["mmd"],
            PROTOCOL.replace("seeds:", "  other: {method: kmeans}\nseeds:"),
            r"expected exactly one method entry \(the DTC template\), got \['template', 'other'\]",
        ),
        (
            ["mmd"],
            PROTOCOL.replace("  template: {", "  template: [{").replace("512}}", "512}}]"),
            "the template must be a mapping",
        ),
        (["mmd"], "methods: {template: [\n", "protocol '.*protocol.yaml': not valid YAML"),
        (["mmd"], "- a list\n", "protocol '.*': expected a mapping at the top level, got list"),
        (["mmd"], "", "protocol '.*': expected a mapping at the top level, got NoneType"),
        (["mmd"], "methods: [dtc]\n", r"expected exactly one method entry .*, got \['dtc'\]"),
        # a typo in the protocol was "config: config: unknown key 'sedes'", no file named
        (
            ["mmd"],
            PROTOCOL.replace("seeds:", "sedes:"),
            r"^leaderboard protocol '.*protocol.yaml': config: unknown key 'sedes'",
        ),
    ],
)
def test_protocol_and_loss_list_errors_are_named(tmp_path, losses, protocol, match):
    path = tmp_path / ("absent.yaml" if protocol is None else "protocol.yaml")
    if protocol is not None:
        path.write_text(protocol)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        leaderboard_config(losses, protocol=path)


WHOLE_TEMPLATE = """\
name: whole_template
benchmarks: [{benchmark: digits}]
methods:
  template:
    method: dtc
    params: {pretrain_epochs: 2, adapt_epochs: 2}
    benchmark_params: {digits: {batch_size: 64}}
    data: {preprocess: raw}
seeds: [0]
"""


def test_every_loss_gets_the_whole_template_entry(tmp_path):
    """benchmark_params and data of the template are every loss's; only the loss differs.
    A grid is refused: ranking would average its points together."""
    (tmp_path / "protocol.yaml").write_text(WHOLE_TEMPLATE)
    tasks = expand(leaderboard_config(["mmd", "none"], protocol=tmp_path / "protocol.yaml"))
    assert [(t.label, t.spec.params, t.spec.data_params["preprocess"]) for t in tasks] == [
        (loss, {"batch_size": 64, "pretrain_epochs": 2, "adapt_epochs": 2, "loss": value}, "raw")
        for loss, value in (("mmd", "mmd"), ("none", None))
    ]
    for grid in ("{lr: [0.001, 0.01]}", "{loss: [mmd, coral]}"):
        (tmp_path / "grid.yaml").write_text(
            WHOLE_TEMPLATE.replace("    data:", f"    grid: {grid}\n    data:")
        )
        with pytest.raises(ValueError, match="the template has a grid"):
            leaderboard_config(["mmd"], protocol=tmp_path / "grid.yaml")


TWO_PAIRS = """\
name: two_pairs
benchmarks:
  - benchmark: digits
  - {benchmark: office_caltech10_surf, pairs: [[amazon, webcam]]}
methods:
  template: {method: dtc, params: {pretrain_epochs: 1, adapt_epochs: 1}}
seeds: [0, 1, 2]
"""


def test_rank_takes_complete_losses_by_per_seed_protocol_means(tmp_path):
    (tmp_path / "protocol.yaml").write_text(TWO_PAIRS)
    cfg = leaderboard_config(["mmd", "dann", "coral"], protocol=tmp_path / "protocol.yaml")
    acc = {  # (loss, benchmark) -> ACC of seeds 0, 1, 2
        ("mmd", "digits"): [0.80, 0.82, 0.78],
        ("mmd", "office_caltech10_surf"): [0.40, 0.44, 0.36],
        ("coral", "digits"): [0.90, 0.90, 0.90],
        ("coral", "office_caltech10_surf"): [0.50, 0.50, 0.50],
        ("dann", "digits"): [0.78, 0.78, 0.78],  # its SURF runs failed
    }
    records = [
        {
            "run_id": t.run_id,
            "label": t.label,
            "seed": t.spec.seed,
            # NMI 0.1, 0.2 and 0.6 at seeds 0, 1 and 2: a mean of 0.3, not the median's 0.2
            "metrics": {"acc": a, "nmi": (0.1, 0.2, 0.6)[t.spec.seed]},
            "seconds_per_epoch": 0.1,
        }
        for t in expand(cfg)
        if (a := acc.get((t.label, t.spec.benchmark), [None] * 3)[t.spec.seed]) is not None
    ]
    rows = rank(records, expand(cfg))
    assert [(r["loss"], r["complete"]) for r in rows] == [
        ("coral", True),
        ("mmd", True),
        ("dann", False),  # ahead on the mean of what it finished, but not comparable
    ]
    mmd = rows[1]
    # per seed the mean over the pairs: 0.60, 0.63, 0.57; then mean and std over seeds
    assert mmd["acc"] == pytest.approx(0.60) and mmd["acc_std"] == pytest.approx(0.03)
    assert mmd["nmi"] == pytest.approx(0.30) and (mmd["n_runs"], mmd["n_tasks"]) == (6, 6)
    assert mmd["n_seeds"] == 3
    assert mmd["seconds_per_epoch"] == pytest.approx(0.1)
    assert rows[0]["acc_std"] == pytest.approx(0.0)
    # coral leads mmd on every seed, by 0.30 to 0.33: beyond the seed noise
    assert [r["rank"] for r in rows] == [1, 2, None] and rows[1]["separated"]
    dann = rows[2]
    assert (dann["n_runs"], dann["n_tasks"], dann["acc"], dann["acc_std"]) == (3, 6, None, None)
    # records of another protocol in the same folder do not count
    other = {**records[0], "run_id": "elsewhere", "metrics": {"acc": 0.0, "nmi": 0.0}}
    assert rank([*records, other], expand(cfg)) == rows


def test_rank_counts_a_task_listed_twice_once(tmp_path):
    """The runner runs a pair named twice once; the ranking counts it once too."""
    (tmp_path / "protocol.yaml").write_text(
        PROTOCOL.replace(
            "benchmarks: [{benchmark: digits}]",
            "benchmarks:\n  - benchmark: digits\n"
            + "  - {benchmark: digits, data: {shift: 1.0}}\n" * 2,
        )
    )
    tasks = expand(leaderboard_config(["mmd"], protocol=tmp_path / "protocol.yaml"))
    assert len(tasks) == 6 and len({t.run_id for t in tasks}) == 4
    acc = {(0.5, 0): 0.9, (0.5, 1): 0.7, (1.0, 0): 0.3, (1.0, 1): 0.5}  # (shift, seed)

    def shift(task):
        return task.spec.data_params.get("shift", 0.5)  # the digits default

    records = {
        t.run_id: {
            "run_id": t.run_id,
            "label": t.label,
            "seed": t.spec.seed,
            "metrics": {"acc": (a := acc[shift(t), t.spec.seed]), "nmi": a},
        }
        for t in tasks
    }
    (row,) = rank(list(records.values()), tasks)
    assert (row["complete"], row["n_runs"], row["n_tasks"], row["n_seeds"]) == (True, 4, 4, 2)
    assert row["acc"] == pytest.approx(0.6)  # seed means 0.6 and 0.6, not 0.5 and 0.567


def test_the_cli_lists_an_incomplete_loss_without_scores(monkeypatch, tmp_path):
    from dtc.experiment import leaderboard
    from dtc.experiment.runner import SweepSummary

    rows = [
        {"loss": "coral", "complete": True, "n_runs": 6, "n_tasks": 6, "acc": 0.7},
        {"loss": "dann", "complete": False, "n_runs": 3, "n_tasks": 6, "acc": None},
    ]
    rows[0].update(acc_std=0.01, n_seeds=3, nmi=0.5, seconds_per_epoch=0.1)
    rows[0].update(rank=1, separated=None)
    rows[1].update(acc_std=None, n_seeds=None, nmi=None, seconds_per_epoch=None)
    rows[1].update(rank=None, separated=None)
    summary = SweepSummary(tmp_path, total=12)
    monkeypatch.setattr(leaderboard, "run_leaderboard", lambda *a, **k: (rows, summary))
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral,dann"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert any("1 │ coral │ 70.0 ± 1.0" in line and "6/6" in line for line in lines)
    assert any("– │ dann  │ incomplete" in line and "3/6" in line for line in lines)
    assert "two_pairs" not in res.stderr and "12 runs" in res.stderr  # the sweep's line
    # one seed (``--quick``): no spread to show
    rows[0].update(n_seeds=1, acc_std=None)
    lines = CliRunner().invoke(app, ["bench-losses", "--losses", "coral,dann"]).stdout.splitlines()
    assert any("coral" in line and "70.0" in line and "±" not in line for line in lines)


def test_rank_shares_ties_and_marks_leads_within_the_seed_noise(tmp_path):
    """Equal ACC (as shown) shares a rank whatever order the losses were listed in; a lead
    smaller than twice its standard error over seeds is not a separation."""
    (tmp_path / "protocol.yaml").write_text(TWO_PAIRS)
    acc = {  # loss -> ACC of seeds 0, 1, 2 (both pairs alike)
        "coral": [0.80, 0.82, 0.78],
        "log_coral": [0.80, 0.82, 0.78],  # the same scores: a tie
        "mmd": [0.79, 0.83, 0.76],  # 0.3 points behind on average, seeds disagree
        "none": [0.60, 0.62, 0.59],  # far behind on every seed
    }
    for order in (["coral", "log_coral", "mmd", "none"], ["log_coral", "none", "mmd", "coral"]):
        cfg = leaderboard_config(order, protocol=tmp_path / "protocol.yaml")
        records = _records_of(cfg, acc)
        rows = {r["loss"]: r for r in rank(records, expand(cfg))}
        assert rows["coral"]["rank"] == rows["log_coral"]["rank"] == 1
        assert rows["mmd"]["rank"] == 3 and rows["none"]["rank"] == 4
        assert not rows["mmd"]["separated"] and rows["none"]["separated"]
        assert rows["coral"]["separated"] is rows["log_coral"]["separated"] is None


def test_a_row_below_a_tie_is_judged_against_every_tied_row(tmp_path):
    """The tied row listed last above it depended on the order of --losses, and so did its
    mark: dann was within the noise of mmd (a constant lead) but not of coral."""
    (tmp_path / "protocol.yaml").write_text(TWO_PAIRS)
    acc = {
        "mmd": [0.80, 0.80, 0.80],
        "coral": [0.70, 0.85, 0.85],  # the same mean as mmd: a tie at rank 1
        "dann": [0.78, 0.78, 0.78],  # 2 points behind mmd on every seed; coral's seeds disagree
    }
    for order in (["mmd", "coral", "dann"], ["coral", "mmd", "dann"]):
        cfg = leaderboard_config(order, protocol=tmp_path / "protocol.yaml")
        rows = {r["loss"]: r for r in rank(_records_of(cfg, acc), expand(cfg))}
        assert rows["mmd"]["rank"] == rows["coral"]["rank"] == 1 and rows["dann"]["rank"] == 3
        assert rows["dann"]["separated"] is False, order


def test_every_row_of_a_tied_rank_is_judged_whatever_the_order(tmp_path):
    """coral and dann tie at rank 2; the row listed second of the two was not judged at
    all, so with mmd, coral, dann no "≈" showed although dann is within mmd's noise."""
    (tmp_path / "protocol.yaml").write_text(TWO_PAIRS)
    acc = {
        "mmd": [0.83, 0.81, 0.82],
        "coral": [0.80, 0.80, 0.80],  # 2 points behind mmd on average, steadily: separated
        "dann": [0.84, 0.78, 0.78],  # 2 points behind too, but seeds disagree: within noise
    }
    for order in (["mmd", "coral", "dann"], ["mmd", "dann", "coral"]):
        cfg = leaderboard_config(order, protocol=tmp_path / "protocol.yaml")
        rows = {r["loss"]: r for r in rank(_records_of(cfg, acc), expand(cfg))}
        assert rows["coral"]["rank"] == rows["dann"]["rank"] == 2
        assert rows["coral"]["separated"] is True and rows["dann"]["separated"] is False, order


def test_a_leaderboard_says_when_its_runs_come_from_different_code(monkeypatch, tmp_path):
    """Built-in losses are not re-run when dtc's code changes: rows whose runs carry
    several ``versions.dtc_source`` values get a warning, a single code none."""
    from dtc.experiment import leaderboard
    from dtc.experiment.runner import SweepSummary
    from dtc.experiment.single import dtc_source_hash, package_versions

    code = dtc_source_hash()
    assert len(code) == 12 and package_versions()["dtc_source"] == code
    row = {"loss": "coral", "complete": True, "n_runs": 1, "n_tasks": 1, "acc": 0.7}
    row.update(acc_std=None, n_seeds=1, nmi=0.5, seconds_per_epoch=0.1, rank=1)
    row.update(separated=None, dtc_source=[code])
    old = {**row, "loss": "mmd", "rank": 2, "dtc_source": ["0123456789ab"]}
    assert leaderboard.mixed_code([row]) == []
    assert leaderboard.mixed_code([row, old]) == sorted([code, "0123456789ab"])
    summary = SweepSummary(tmp_path, total=2)
    monkeypatch.setattr(leaderboard, "run_leaderboard", lambda *a, **k: ([row, old], summary))
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral,mmd"])
    assert res.exit_code == 0, res.output
    assert "made by 2 versions of dtc's code" in " ".join(res.stderr.split())
    monkeypatch.setattr(leaderboard, "run_leaderboard", lambda *a, **k: ([row], summary))
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral"])
    assert "versions of dtc's code" not in res.stderr
    # --json is strict JSON: a row whose ACC is NaN printed a bare NaN
    nan_row = {**row, "acc": float("nan")}
    monkeypatch.setattr(leaderboard, "run_leaderboard", lambda *a, **k: ([nan_row], summary))
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral", "--json"])
    assert res.exit_code == 0, res.output

    def strict(constant):
        raise ValueError(constant)

    assert json.loads(res.stdout, parse_constant=strict)["acc"] is None


def test_a_leaderboard_says_when_its_runs_come_from_different_platforms(monkeypatch, tmp_path):
    # kept runs of coral made with other CPU kernels were ranked against a new loss's runs
    # without a word (87.2 against 87.8 for a copy of CORAL); dtc report noted the mix
    from dtc.experiment import leaderboard
    from dtc.experiment.runner import SweepSummary
    from dtc.experiment.single import package_versions, platform_text

    here = {"versions": package_versions()}
    there = {"versions": {**here["versions"], "torch_cpu_capability": "DEFAULT"}}
    row = {"loss": "coral", "complete": True, "n_runs": 1, "n_tasks": 1, "acc": 0.7}
    row.update(acc_std=None, n_seeds=1, nmi=0.5, seconds_per_epoch=0.1, rank=1, separated=None)
    row.update(dtc_source=[], platforms=[platform_text(there)])
    new = {**row, "loss": "mine", "platforms": [platform_text(here)]}
    assert leaderboard.mixed_platforms([new]) == []
    assert len(leaderboard.mixed_platforms([row, new])) == 2
    # rank() gives each row where its runs were made
    (tmp_path / "protocol.yaml").write_text(TWO_PAIRS)
    cfg = leaderboard_config(["coral", "mmd"], protocol=tmp_path / "protocol.yaml")
    records = _records_of(cfg, {"coral": [0.8, 0.8, 0.8], "mmd": [0.7, 0.7, 0.7]})
    for r in records:
        r["versions"] = (here if r["label"] == "mmd" else there)["versions"]
    rows = leaderboard.rank(records, expand(cfg))
    assert {r["loss"]: r["platforms"] for r in rows} == {
        "coral": [platform_text(there)],
        "mmd": [platform_text(here)],
    }
    assert len(leaderboard.mixed_platforms(rows)) == 2
    summary = SweepSummary(tmp_path, total=2)
    monkeypatch.setattr(leaderboard, "run_leaderboard", lambda *a, **k: ([new, row], summary))
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral,mmd"])
    assert res.exit_code == 0, res.output
    assert "made on 2 platforms" in " ".join(res.stderr.split())


def test_a_record_names_the_gpu_its_process_used(monkeypatch):
    # the deep baselines take a GPU when there is one (device=None) under the same run id,
    # and records of a GPU's runs read like the CPU's: no mix was ever noted
    import torch

    from dtc.experiment.single import package_versions, platform_text

    cpu = package_versions()
    assert cpu["cuda_device"] == "none"  # this process started no CUDA
    old = {"versions": {k: v for k, v in cpu.items() if k != "cuda_device"}}
    assert platform_text(old) == platform_text({"versions": cpu})  # CPU records as before
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"Some GPU {index}")
    gpu = package_versions()
    assert gpu["cuda_device"] == "Some GPU 0"
    assert platform_text({"versions": gpu}) == f"{platform_text(old)}, cuda_device=Some GPU 0"


def test_an_interrupted_leaderboard_says_how_to_resume(monkeypatch, tmp_path):
    from dtc.experiment import leaderboard

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(leaderboard, "run_leaderboard", interrupted)
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral", "--out", str(tmp_path)])
    assert res.exit_code == 130
    text = " ".join(res.stderr.split())
    assert f"bench_losses: interrupted; the runs that finished are kept in {tmp_path}" in text
    assert "run the same command again to resume" in text


def test_the_default_folder_follows_dtc_results_as_dtc_run_does(tmp_path, monkeypatch):
    from dtc.experiment import config, leaderboard

    protocol = tmp_path / "tiny.yaml"
    protocol.write_text(PROTOCOL)
    cfg = leaderboard_config(["none"], protocol=protocol)
    monkeypatch.setenv("DTC_RESULTS", str(tmp_path / "elsewhere"))
    assert leaderboard.default_out_dir(cfg) == tmp_path / "elsewhere" / "tiny_bench"
    assert leaderboard.default_out_dir(cfg) == config.default_out_dir(cfg)


def test_a_loss_with_a_nan_acc_is_listed_unranked_after_the_ranked_ones(tmp_path):
    """A NaN protocol mean sorted anywhere: listed first, it took rank 1 and pushed the
    best loss to rank 2 as "within the noise" of it."""
    (tmp_path / "protocol.yaml").write_text(TWO_PAIRS)
    acc = {
        "coral": [0.80, 0.82, 0.78],
        "mmd": [float("nan"), 0.90, 0.90],
        "none": [0.60, 0.62, 0.59],
    }
    for order in (["coral", "mmd", "none"], ["mmd", "coral", "none"], ["none", "mmd", "coral"]):
        cfg = leaderboard_config(order, protocol=tmp_path / "protocol.yaml")
        records = _records_of(cfg, acc)
        rows = rank(records, expand(cfg))
        assert [(r["loss"], r["rank"]) for r in rows] == [
            ("coral", 1),
            ("none", 2),
            ("mmd", None),
        ]
        assert rows[1]["separated"] and rows[2]["separated"] is None


def test_a_template_setting_the_loss_is_refused(tmp_path):
    """Each row's loss replaced the template's without a word."""
    for where in (
        "params: {pretrain_epochs: 2, loss: dann}",
        "benchmark_params: {digits: {loss: dann}}",
    ):
        (tmp_path / "p.yaml").write_text(
            WHOLE_TEMPLATE.replace("params: {pretrain_epochs: 2, adapt_epochs: 2}", where)
            if where.startswith("params")
            else WHOLE_TEMPLATE.replace("benchmark_params: {digits: {batch_size: 64}}", where)
        )
        with pytest.raises(ValueError, match="the template sets loss"):
            leaderboard_config(["mmd", "coral"], protocol=tmp_path / "p.yaml")


def test_quick_keeps_the_template_parameters_of_its_own_benchmark_alone(tmp_path):
    """--quick runs digits alone: the parameters of the protocol's other benchmarks reach no
    run, and are left out rather than named as such."""
    protocol = WHOLE_TEMPLATE.replace(
        "benchmark_params: {digits: {batch_size: 64}}",
        "benchmark_params: {digits: {batch_size: 64}, coil20: {batch_size: 32}}",
    ).replace(
        "benchmarks: [{benchmark: digits}]",
        "benchmarks: [{benchmark: digits}, {benchmark: coil20}]",
    )
    (tmp_path / "p.yaml").write_text(protocol)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tasks = expand(leaderboard_config(["mmd"], quick=True, protocol=tmp_path / "p.yaml"))
    assert {t.spec.params["batch_size"] for t in tasks} == {64}


def test_a_template_whose_benchmark_params_are_no_mapping_is_refused_by_name(tmp_path):
    """The check for a template's loss read them as a mapping: a list was a traceback."""
    for value in ("[digits]", "digits"):
        (tmp_path / "p.yaml").write_text(
            WHOLE_TEMPLATE.replace("{digits: {batch_size: 64}}", value)
        )
        with pytest.raises(ValueError, match="benchmark_params: expected a mapping"):
            leaderboard_config(["mmd"], protocol=tmp_path / "p.yaml")


def test_bench_losses_passes_its_options_to_the_leaderboard(monkeypatch, tmp_path):
    # --protocol, --quick, --out, --jobs and --data-dir reach the sweep
    from dtc.experiment import leaderboard
    from dtc.experiment.runner import SweepSummary

    (tmp_path / "protocol.yaml").write_text(PROTOCOL)
    seen = {}

    def run(config, folder, **options):
        seen.clear()
        seen.update(options, name=config.name, seeds=config.raw["seeds"], folder=folder)
        return [], SweepSummary(folder, total=0)

    monkeypatch.setattr(leaderboard, "run_leaderboard", run)
    args = ["bench-losses", "--losses", "coral", "--protocol", str(tmp_path / "protocol.yaml")]
    args += ["--out", str(tmp_path / "lb"), "--jobs", "3", "--data-dir", str(tmp_path / "d")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (seen["name"], seen["seeds"], seen["folder"]) == ("tiny_bench", [0, 1], tmp_path / "lb")
    assert (seen["jobs"], seen["data_dir"]) == (3, str(tmp_path / "d"))
    assert CliRunner().invoke(app, [*args, "--quick"]).exit_code == 0
    assert seen["seeds"] == [0]


def test_bench_losses_exits_1_when_a_run_failed(monkeypatch, tmp_path):
    # the ranking is shown, and the failed run named, as `dtc run CONFIG` names it
    from dtc.experiment import leaderboard
    from dtc.experiment.runner import SweepSummary

    summary = SweepSummary(tmp_path, total=1, errors=[("id1", "coral", "RuntimeError: boom")])
    monkeypatch.setattr(leaderboard, "run_leaderboard", lambda *a, **k: ([], summary))
    res = CliRunner().invoke(app, ["bench-losses", "--losses", "coral"])
    assert res.exit_code == 1
    assert "failed coral (id1): RuntimeError: boom" in " ".join(res.stderr.split())
