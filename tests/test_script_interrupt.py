"""A Ctrl-C in a resumable script (the long-running part after its arguments are read) is one
line on stderr, as in ``dtc run``: the script's name, where its finished runs are kept (or
that nothing keeps them), how to resume; exit code 130, never a traceback."""

import pytest

DIGITS = (("digits", "source", "target"),)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _cases(*args, **kwargs):  # negative_transfer.all_cases: one case, interrupted as it loads
    return [("case", "kind", _interrupt)]


def _quiet(*args, **kwargs):
    return None


def _one_run(*args, **kwargs):  # partition_judges.read_partitions
    return [{"case_set": "harness", "case": "digits", "seed": 0, "file_sha": "0" * 16}]


def _one_case(*args, **kwargs):  # partition_judges.all_cases
    from types import SimpleNamespace

    pair = SimpleNamespace(target=SimpleNamespace(y=[0, 1]))
    return [("digits", "positive", lambda: pair)]


KEPT = (
    "{name}.py: interrupted; the runs that finished are kept in {kept}: "
    "run the same command again to resume"
)
NOT_KEPT = (
    "{name}.py: interrupted; the runs that finished were not kept: "
    "running the same command again starts over"
)


@pytest.mark.parametrize(
    ("name", "patches", "argv", "kept"),
    [
        (
            "run_baselines",
            {"QUICK_PAIRS": DIGITS, "run_one": _interrupt},
            ["--quick", "--methods", "kmeans", "--out", "{tmp}"],
            "{tmp}/runs.jsonl",
        ),
        (
            "dtc_benchmark",
            {"run_one": _interrupt},
            [
                "--families",
                "digits",
                "--methods",
                "kmeans",
                "--seeds",
                "0",
                "--out",
                "{tmp}/b.jsonl",
            ],
            "{tmp}/b.jsonl",
        ),
        (
            "order_check",
            {"PAIRS": DIGITS, "run_one": _interrupt},
            ["--methods", "kmeans", "--seeds", "1", "--out", "{tmp}/o.jsonl"],
            "{tmp}/o.jsonl",
        ),
        ("negative_transfer", {"all_cases": _cases}, ["--out", "{tmp}/n.jsonl"], "{tmp}/n.jsonl"),
        ("negative_transfer", {"all_cases": _cases}, [], None),
        # the checks print only: nothing is kept (and --out is refused with them)
        ("negative_transfer", {"all_cases": _cases}, ["--checks-only"], None),
        (
            "model_selection",
            {"positive_pairs": lambda *a, **k: {"pair": _interrupt}},
            ["--out", "{tmp}/m.jsonl"],
            "{tmp}/m.jsonl",
        ),
        ("model_selection", {"positive_pairs": lambda *a, **k: {"pair": _interrupt}}, [], None),
        (
            "source_selection",
            {"run_target": _interrupt},
            ["--out", "{tmp}/s.jsonl"],
            "{tmp}/s.jsonl",
        ),
        ("source_selection", {"run_target": _interrupt}, [], None),
        # each a traceback, and nothing kept (the first two now keep their rows in --out)
        (
            "source_bias_stability",
            {"load_benchmark_pair": _interrupt},
            ["--out", "{tmp}/b.jsonl"],
            "{tmp}/b.jsonl",
        ),
        ("source_bias_stability", {"load_benchmark_pair": _interrupt}, [], None),
        (
            "ae_budget",
            {"check_data": _quiet, "load_domain": _interrupt},
            ["--domains", "digits:target", "--out", "{tmp}/a.jsonl"],
            "{tmp}/a.jsonl",
        ),
        ("dec_scale", {"check_data": _quiet, "fit_rows": _interrupt}, [], None),
        ("figures", {"fit_evaluate": _interrupt}, ["--out", "{tmp}/fig"], None),
        ("checkpoint_outcomes", {"all_cases": _cases}, ["digits"], None),
        ("bench_clustering", {"run_in_subprocess": _interrupt}, ["--quick"], None),
        ("baseline_costs", {"run_in_subprocess": _interrupt}, ["--quick"], None),
        (
            "partition_judges",
            {"read_partitions": _one_run, "all_cases": _one_case, "verdicts": _interrupt},
            ["{tmp}"],
            None,
        ),
    ],
)
def test_an_interrupted_script_says_where_its_runs_are_kept_and_exits_130(
    name, patches, argv, kept, load_script, monkeypatch, tmp_path, capsys
):
    script = load_script(name)
    for attr, value in patches.items():
        monkeypatch.setattr(script, attr, value)
    with pytest.raises(SystemExit) as exit_:
        script.main([a.format(tmp=tmp_path) for a in argv])
    assert exit_.value.code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = NOT_KEPT if kept is None else KEPT
    assert err.splitlines()[-1] == expected.format(name=name, kept=str(kept).format(tmp=tmp_path))


@pytest.mark.parametrize("out", [True, False])
@pytest.mark.parametrize(
    ("name", "attr", "argv"),
    [
        ("bench_losses", "_run_one", ["--losses", "coral", "--n", "8", "--d", "4"]),
        ("source_split_dev", "source_split_pair", ["--families", "coil20", "--candidates", "{}"]),
    ],
)
def test_bench_losses_and_source_split_dev_say_where_their_rows_are_kept(
    name, attr, argv, out, load_script, monkeypatch, tmp_path, capsys
):
    """Neither had --out: an interruption lost every finished row, with a traceback."""
    script = load_script(name)
    monkeypatch.setattr(script, attr, _interrupt)
    # source_split_dev checks its data files before the first fit: none is read here
    monkeypatch.setattr(script, "check_data", lambda *a: None, raising=False)
    kept = tmp_path / f"{name}.jsonl"
    with pytest.raises(SystemExit) as exit_:
        try:
            script.main([*argv, "--out", str(kept)] if out else argv)
        except KeyboardInterrupt:  # not the whole test session's
            pytest.fail(f"{name}: the interrupt went through, a traceback")
    assert exit_.value.code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = (KEPT if out else NOT_KEPT).format(name=name, kept=kept)
    if out and name == "bench_losses":
        # its rows are kept, but resuming measures the cut block again whole (its ratios
        # compare rows measured back to back): the line must not promise they are reused
        expected += " (the (n, d) block it was measuring is measured again whole)"
    assert err.splitlines()[-1] == expected
