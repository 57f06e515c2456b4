"""Bad arguments of the scripts in ``scripts/`` are a one-line usage error (exit 2), before
anything runs, never a traceback."""

import pytest


def usage_error(script, argv, capsys) -> str:
    """The one error line ``script.main(argv)`` exits with (argparse's usage error)."""
    with pytest.raises(SystemExit) as exit_:
        script.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and ": error: " in err[-1]
    return err[-1]


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("bench_losses", "--out"),
        ("dec_scale", "--records"),
        ("dtc_benchmark", "--out"),
        ("figures", "--out"),
        ("model_selection", "--summary"),
        ("negative_transfer", "--save-partitions"),
        ("negative_transfer", "--summary"),
        ("order_check", "--out"),
        ("run_baselines", "--out"),
        ("source_split_dev", "--out"),
    ],
)
def test_an_empty_path_is_refused_not_the_working_directory(name, option, load_script, capsys):
    # Path("") is the working directory: `--out "$OUT"` with OUT unset wrote there
    line = usage_error(load_script(name), [option, ""], capsys)
    assert line.endswith(
        f"argument {option}: expected a path, got an empty string (an unset shell variable?)"
    )


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("negative_transfer", ["--summary", "{missing}"]),
        ("model_selection", ["--summary", "{missing}"]),
        ("resolution_gate_choice", ["{missing}"]),
        ("guard_tradeoff", ["{missing}"]),
        ("seeds_per_case", ["{missing}"]),
        ("similarity_threshold_choice", ["{directory}"]),
    ],
)
def test_a_runs_file_that_cannot_be_read_is_named_in_one_line(
    name, argv, load_script, tmp_path, capsys
):
    """A missing runs file (or a directory given as one) was a FileNotFoundError traceback."""
    missing, directory = tmp_path / "absent.jsonl", tmp_path
    argv = [a.format(missing=missing, directory=directory) for a in argv]
    line = usage_error(load_script(name), argv, capsys)
    assert line.endswith(
        (
            "absent.jsonl: cannot be read (No such file or directory)",
            f"{tmp_path}: cannot be read (Is a directory)",
        )
    )


def forbid_data(script, fail, monkeypatch) -> None:
    """``fail`` in place of the script's way to the data directory (``resolve_data_dir``, or
    ``data_dir_arg`` of the scripts that check --data-dir): one of them must be there."""
    names = [n for n in ("resolve_data_dir", "data_dir_arg") if hasattr(script, n)]
    assert names, "the script has no way to the data to forbid"
    for name in names:
        monkeypatch.setattr(script, name, fail)


@pytest.mark.parametrize(
    "name", ["negative_transfer", "model_selection", "source_selection", "checkpoint_outcomes"]
)
@pytest.mark.parametrize(
    ("flag", "value", "minimum"),
    [
        ("--pretrain-epochs", "-1", 0),
        ("--adapt-epochs", "-2", 0),
        ("--threads", "0", 1),
        ("--seed", "-1", 0),
        ("--seed", "x", 0),
    ],
)
def test_the_budget_options_are_checked_before_anything_runs(
    name, flag, value, minimum, load_script, monkeypatch, capsys
):
    """A negative epoch count was a skipped target for every target and exit 0
    (source_selection) or a traceback after the data were loaded (the others)."""
    script = load_script(name)

    def no_data(*args, **kwargs):
        raise AssertionError("the data were read before the options were checked")

    forbid_data(script, no_data, monkeypatch)
    argv = ["digits"] if name == "checkpoint_outcomes" else []
    line = usage_error(script, [*argv, flag, value], capsys)
    assert line.endswith(f"argument {flag}: expected an integer >= {minimum}, got '{value}'")


@pytest.mark.parametrize("flag", ["--criterion", "--k-criterion"])
def test_model_selection_refuses_an_unknown_criterion_before_loading_data(
    flag, load_script, monkeypatch, capsys
):
    """An unknown criterion was select_model's ValueError traceback, after the data were read."""
    script = load_script("model_selection")
    forbid_data(script, lambda *a: pytest.fail("data were read"), monkeypatch)
    line = usage_error(script, [flag, "silhuette", "--quick"], capsys)
    assert f"argument {flag}: invalid choice: 'silhuette'" in line and "'silhouette'" in line


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--benchmark", "nosuch"], "argument --benchmark: invalid choice: 'nosuch'"),
        (["--loss", "mdd"], "--loss: unknown loss 'mdd'"),
        (["--epochs", "0"], "--epochs: expected an integer >= 1, got 0"),
        (["--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
        (
            ["--benchmark", "coil20", "--source", "coil9"],
            "unknown source domain 'coil9' for benchmark 'coil20'",
        ),
        # a module:Class loss too: it was imported by the "after" panel's fit, the first
        # panel's whole fit made
        (["--loss", "no_such_mod:Foo"], "--loss: could not import loss 'no_such_mod:Foo'"),
        (["--loss", "os:path"], "--loss: loss 'os:path' resolves to"),
    ],
)
def test_figures_checks_its_arguments_before_any_fit(
    argv, error, load_script, tmp_path, monkeypatch, capsys
):
    """Each was a traceback; an unknown --loss only after the 'before' panel's whole fit."""
    script = load_script("figures")
    monkeypatch.setattr(script, "fit_evaluate", lambda *a: pytest.fail("a fit ran"))
    monkeypatch.setenv("DTC_DATA", str(tmp_path))
    line = usage_error(script, ["--out", str(tmp_path / "fig"), *argv], capsys)
    assert error in line
    assert not (tmp_path / "fig").exists()


def test_figures_refuses_an_out_that_is_a_file_before_any_fit(
    load_script, tmp_path, monkeypatch, capsys
):
    """A file where the folder goes was a FileExistsError traceback."""
    script = load_script("figures")
    monkeypatch.setattr(script, "fit_evaluate", lambda *a: pytest.fail("a fit ran"))
    taken = tmp_path / "fig"
    taken.write_text("not a folder\n")
    line = usage_error(script, ["--out", str(taken)], capsys)
    assert "--out: " in line and str(taken) in line


def test_checkpoint_outcomes_names_a_missing_data_file(load_script, tmp_path):
    """It was the FileNotFoundError traceback of the case's load."""
    script = load_script("checkpoint_outcomes")
    with pytest.raises(SystemExit, match="file 'MNIST_vs_USPS.mat' not found") as exit_:
        script.main(["mnist->usps", "--data-dir", str(tmp_path)])
    (line,) = str(exit_.value.code).splitlines()
    assert line.startswith("error: ") and str(tmp_path) in line


def test_figures_fits_before_and_after_adaptation_with_its_arguments(
    load_script, tmp_path, monkeypatch
):
    """The "before" panel is fitted without alignment and the "after" one with --loss, both
    with --epochs of pretraining and of adaptation and --seed; the curves are of the adapted
    run's history, one per key but the epoch (fits, t-SNE and plots faked)."""
    from types import SimpleNamespace

    script = load_script("figures")
    specs, tsne, curves = [], [], []

    def fit(spec, data):
        assert data == "data"
        specs.append(spec)
        if spec.params["loss"] is None:
            history = [{"epoch": 0, "recon": 2.0}]
        else:
            # a counter ("round") and a name ("stage") draw no curve
            history = [{"epoch": 0, "total": 1.0}, {"epoch": 1, "total": 0.5, "lambda": 0.1}]
            history[1].update(round=1, stage="self_train")
        record = {"metrics": {"acc": 0.5}, "source": "S", "target": "T", "history": history}
        model = SimpleNamespace(source_embedding_=len(specs), embedding_=0, labels_=0)
        return record, model

    loaded_from = []

    def load(spec, data_dir=None):
        loaded_from.append(data_dir)
        return "data"

    monkeypatch.setattr(script, "load_spec_pair", load)
    monkeypatch.setattr(script, "fit_evaluate", fit)
    monkeypatch.setattr(
        script,
        "tsne_figure",
        lambda panels, path, seed, title: tsne.append((panels, path, seed, title)),
    )
    monkeypatch.setattr(
        script,
        "curves_figure",
        lambda records, key, path: curves.append((key, path, [r["label"] for r in records])),
    )
    out = tmp_path / "fig"
    script.main(["--out", str(out), "--loss", "coral", "--epochs", "3", "--seed", "2"])
    budget = {"pretrain_epochs": 3, "adapt_epochs": 3}
    assert [(s.params, s.seed) for s in specs] == [
        ({"loss": None, **budget}, 2),
        ({"loss": "coral", **budget}, 2),
    ]
    ((panels, path, seed, title),) = tsne
    assert {name: p[0] for name, p in panels.items()} == {
        "before adaptation": 1,
        "after adaptation": 2,
    }
    assert (path, seed, title) == (out / "tsne.png", 2, "digits: S -> T")
    labels = ["DTC (before adaptation)", "DTC (after adaptation)"]
    assert sorted(curves) == [
        ("lambda", out / "curve_lambda.png", labels),
        ("total", out / "curve_total.png", labels),
    ]
    # --data-dir, which the data messages advise (it was "unrecognized arguments")
    assert loaded_from == [None]
    script.main(["--out", str(out), "--data-dir", str(tmp_path)])
    assert loaded_from == [None, str(tmp_path)]


def test_model_selection_summary_counts_a_selection_once(load_script, tmp_path, capsys):
    """The same file given twice counted each selection twice ('ORACLE in 0% of 4
    selections' for a file of 2); two files disagreeing on one selection are refused."""
    import json

    script = load_script("model_selection")
    rows = [
        {"pair": p, "axis": "lam", "seed": 0, "acc_chosen": c, "acc_oracle": 0.8, "accs": [0.7, 0.8],
         "acc_mean": 0.75, "settings": {"criterion": "knn_agreement"}}
        for p, c in (("a", 0.8), ("b", 0.7))
    ]  # fmt: skip
    path = tmp_path / "ms.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert script.main(["--summary", str(path), str(path)]) == 0
    out = capsys.readouterr().out
    assert "ORACLE in 50% of 2 selections" in out
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({**rows[0], "acc_chosen": 0.7}) + "\n")
    line = usage_error(script, ["--summary", str(path), str(other)], capsys)
    assert "a lam at seed 0: two rows record different selections" in line


RECORDS = "experiments/records"


@pytest.mark.parametrize(
    ("name", "argv", "message"),
    [
        # a std over one seed: NaN statistics, and exit 0
        ("source_bias_stability", ["--seeds", "1"], "--seeds: expected an integer >= 2"),
        # found after the first candidate's fits, as a traceback
        (
            "source_split_dev",
            ["--families", "coil20", "--candidates", "{}", '{"lam": -1}'],
            '--candidates {"lam": -1}: DTC: lam must be a number >= 0',
        ),
        ("source_split_dev", ["--candidates", '{"nosuch": 1}'], "unexpected keyword argument"),
        ("source_split_dev", ["--candidates", "{}", "--shift", "-1"], "--shift: expected a"),
        ("source_split_dev", ["--candidates", "{}", "--seeds", "-1"], "--seeds: expected an"),
        # a typo left every margin "costing nothing"
        ("guard_tradeoff", ["--only", "zzz", f"{RECORDS}/fresh10_s8.jsonl"], "--only: no case"),
        # scikit-learn's InvalidParameterError, a FileNotFoundError, --model ignored
        ("learned_guard", ["--C", "0", f"{RECORDS}/harness_s0.jsonl"], "--C: expected a number"),
        ("learned_guard", ["--model", "{missing}", f"{RECORDS}/harness_s0.jsonl"], "--model: "),
        ("learned_guard", ["--fit", "a", "--model", "b", "x"], "not allowed with argument"),
        # a FileNotFoundError traceback after the fit
        (
            "learned_guard",
            ["--fit", "{missing}/guard.json", f"{RECORDS}/fresh14_s28.jsonl"],
            "--fit: ",
        ),
        # a KeyError traceback on a harness run file
        ("similarity_threshold_choice", [f"{RECORDS}/harness_s0.jsonl"], "expected --checks-only"),
    ],
)
def test_script_options_are_checked_before_the_work(
    name, argv, message, load_script, tmp_path, capsys, monkeypatch
):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the records' relative paths
    argv = [a.replace("{missing}", str(tmp_path / "absent.json")) for a in argv]
    assert message in usage_error(load_script(name), argv, capsys)


def test_dtc_benchmark_checks_the_data_files_before_the_first_run(load_script, tmp_path, capsys):
    # the digits runs went first, then a FileNotFoundError traceback at SURF's
    argv = ["--families", "digits", "office_caltech10_surf", "--methods", "kmeans"]
    argv += ["--seeds", "0", "--out", str(tmp_path / "o.jsonl"), "--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="amazon_SURF_L10.mat' not found"):
        load_script("dtc_benchmark").main(argv)
    assert not (tmp_path / "o.jsonl").exists() or not (tmp_path / "o.jsonl").read_text()


#: The largest seed numpy and scikit-learn take (dtc._validation.SEED_MAX), and one past it.
TOP, PAST = 2**32 - 1, 2**32


@pytest.mark.parametrize(
    ("name", "argv", "error"),
    [
        ("dtc_benchmark", ["--seeds", "0", str(PAST)], f"seed <= {TOP} (2**32 - 1), got '{PAST}'"),
        ("model_selection", ["--seed", str(PAST)], f"seed <= {TOP} (2**32 - 1), got '{PAST}'"),
        ("negative_transfer", ["--seed", str(PAST)], f"seed <= {TOP} (2**32 - 1), got '{PAST}'"),
        # rank_sources draws with seed + 1, the monitor's 20 restarts with seed + 1 to + 20
        ("source_selection", ["--seed", str(TOP)], f"<= {TOP - 1} (2**32 - 1 - 1: seed + 1 is"),
        (
            "checkpoint_outcomes",
            ["digits", "--seed", str(TOP - 19)],
            f"<= {TOP - 20} (2**32 - 1 - 20: seed + 1 to seed + 20 are used too)",
        ),
    ],
)
def test_a_seed_past_32_bits_is_refused_before_anything_runs(
    name, argv, error, load_script, tmp_path, monkeypatch, capsys
):
    """It passed the check of >= 0, then failed the first fit (or the sweep's first run of
    it, mid-sweep) with the library's ValueError traceback, after the data were loaded."""
    script = load_script(name)
    if name == "dtc_benchmark":  # a short sweep, kept in tmp_path, where it is not refused
        argv = [*argv, "--families", "digits", "--methods", "kmeans"]
        argv += ["--out", str(tmp_path / "o.jsonl")]
    else:
        forbid_data(script, lambda *a, **k: pytest.fail("data were read"), monkeypatch)
    line = usage_error(script, argv, capsys)
    assert "argument --seed" in line and error in line


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("dec_scale", ["--targets", "digits", "--seeds", "0", str(PAST)]),
        ("source_split_dev", ["--candidates", "{}", "--seeds", "0", str(PAST)]),
    ],
)
def test_a_swept_seed_past_32_bits_is_refused_before_anything_runs(name, argv, load_script, capsys):
    """Both passed it as an int >= 0, and failed its first fit (DEC's, DTC's) with the
    library's ValueError traceback, after the fits of the seeds before it."""
    line = usage_error(load_script(name), argv, capsys)
    assert line.endswith(f"argument --seeds: expected a seed <= {TOP} (2**32 - 1), got '{PAST}'")


def test_figures_refuses_a_seed_past_32_bits_before_any_fit(
    load_script, tmp_path, monkeypatch, capsys
):
    # --seed 99999999999 fitted the first panel, then failed with a traceback
    script = load_script("figures")
    monkeypatch.setattr(script, "fit_evaluate", lambda *a: pytest.fail("a fit ran"))
    monkeypatch.setattr(script, "load_spec_pair", lambda *a, **k: pytest.fail("data were read"))
    line = usage_error(script, ["--out", str(tmp_path / "fig"), "--seed", str(PAST)], capsys)
    assert line.endswith(f"--seed: expected a seed <= {TOP} (2**32 - 1), got {PAST}")


def test_figures_accepts_the_largest_seed(load_script, tmp_path, monkeypatch):
    script = load_script("figures")
    drawn = []
    monkeypatch.setattr(script, "load_spec_pair", lambda spec, data_dir=None: "data")
    monkeypatch.setattr(script, "draw", lambda args, data: drawn.append(args.seed))
    script.main(["--out", str(tmp_path / "fig"), "--seed", str(TOP)])
    assert drawn == [TOP] and TOP == 2**32 - 1


@pytest.mark.parametrize(
    "name", ["negative_transfer", "model_selection", "source_selection", "checkpoint_outcomes"]
)
@pytest.mark.parametrize(
    ("flag", "value", "error"),
    [
        # DTC's check, at the first case's fit, after its data load (a traceback)
        ("--pretrain-epochs", str(10**30), "--pretrain-epochs: DTC: pretrain_epochs must be"),
        ("--adapt-epochs", str(10**30), "--adapt-epochs: DTC: adapt_epochs must be"),
        # torch's "Overflow when unpacking long", at the first fit
        (
            "--threads",
            str(10**11),
            f"argument --threads: expected an integer <= 256, got '{10**11}'",
        ),
    ],
)
def test_a_budget_dtc_refuses_is_refused_before_anything_runs(
    name, flag, value, error, load_script, monkeypatch, capsys
):
    script = load_script(name)
    forbid_data(script, lambda *a, **k: pytest.fail("data were read"), monkeypatch)
    argv = ["digits"] if name == "checkpoint_outcomes" else []
    assert error in usage_error(script, [*argv, flag, value], capsys)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        # kmeans ran alone, exit 0
        (["--methods", "kmeans", "--include-dtc"], "--include-dtc: --methods leaves DTC out"),
        # DTC dropped without a word
        (["--include-dtc", "--exclude", "dtc"], "--include-dtc and --exclude dtc contradict"),
        # a typo is named first: it read "--methods leaves DTC out"
        (["--methods", "kmenas", "--include-dtc"], "--methods: unknown method(s) kmenas"),
    ],
)
def test_run_baselines_refuses_include_dtc_that_another_option_drops(
    argv, error, load_script, tmp_path, capsys
):
    script = load_script("run_baselines")
    argv += ["--quick", "--seeds", "1", "--out", str(tmp_path / "o")]  # short where not refused
    assert error in usage_error(script, argv, capsys)
    assert not (tmp_path / "o").exists()


def test_negative_transfer_names_n_restarts_past_32_bits_not_the_seed(load_script, capsys):
    # "--seed: expected a seed <= -705032705", which no seed passes
    line = usage_error(load_script("negative_transfer"), ["--n-restarts", str(5 * 10**9)], capsys)
    assert line.endswith(f"--n-restarts: expected an integer in [2, {2**32 - 1}], got {5 * 10**9}")


@pytest.mark.parametrize(("restarts", "top"), [(20, 2**32 - 21), (30, 2**32 - 31)])
def test_negative_transfer_seed_leaves_room_for_the_monitors_restarts(
    restarts, top, load_script, monkeypatch, capsys
):
    # --seed allowed 2**32 - 1, and the monitor then refused it in its own words
    script = load_script("negative_transfer")
    forbid_data(script, lambda *a, **k: pytest.fail("data were read"), monkeypatch)
    argv = ["--n-restarts", str(restarts), "--seed", str(top + 1)]
    line = usage_error(script, argv, capsys)
    assert line.endswith(
        f"--seed: expected a seed <= {top} (2**32 - 1 - {restarts}: the monitor's "
        f"--n-restarts take seed + 1 to seed + {restarts}), got {top + 1}"
    )


@pytest.mark.parametrize(
    ("extra", "dropped"),
    [
        (["--quick"], "--quick"),
        (["--axes", "lam"], "--axes"),
        (["--seed", "3"], "--seed"),
        (["--criterion", "silhouette", "--json"], "--json, --criterion"),
    ],
)
def test_model_selection_summary_refuses_the_options_of_a_run(
    extra, dropped, load_script, tmp_path, capsys
):
    """They were ignored: the summary was printed, and exit 0."""
    path = tmp_path / "ms.jsonl"
    path.write_text("")
    line = usage_error(load_script("model_selection"), ["--summary", str(path), *extra], capsys)
    assert line.endswith(f"--summary summarises the FILEs as they are: drop {dropped}")
