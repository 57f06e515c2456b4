"""``scripts/dtc_benchmark.py``: rows of older parameters are set aside and run again."""

from __future__ import annotations

import pytest

from dtc.experiment.store import read_records, write_records


def test_rows_run_with_another_default_are_moved_aside(load_script, tmp_path):
    script = load_script("dtc_benchmark")
    current = script.row_params("coil20", "dtc_labelled")
    old = {**current, "final_labels": "head_clusters", "std_floor_quantile": 0.5}
    key = {"family": "coil20", "pair": "coil1->coil2", "seed": 0, "acc": 0.5}
    rows = [
        {**key, "method": "kmeans"},  # no parameters recorded = run with none: kept
        {**key, "method": "dtc_labelled", "params": current},
        {**key, "method": "old_reference"},  # no longer listed: kept
        {**key, "method": "dtc_labelled", "seed": 1, "params": old},
        {**key, "method": "dtc_unlabelled"},  # written before rows recorded parameters
        {**key, "method": "coral_means", "params": {"init": "source"}},  # changed since
    ]
    out = tmp_path / "bench.jsonl"
    write_records(out, rows)
    kept = script.set_aside_stale(out, read_records(out))
    assert kept == rows[:3] and read_records(out) == rows[:3]
    assert read_records(tmp_path / "bench.stale.jsonl") == rows[3:]
    assert script.set_aside_stale(out, kept) == kept  # nothing stale: nothing moves
    assert read_records(tmp_path / "bench.stale.jsonl") == rows[3:]


def test_a_family_mean_over_fewer_pairs_says_so(load_script):
    """A method missing some of a family's pairs (an interrupted run) has its family mean
    marked with the pairs it covers, not shown as if comparable with the full means."""
    script = load_script("dtc_benchmark")
    fam = "office_caltech10_surf"
    rows = [
        {"family": fam, "pair": p, "method": m, "seed": 0, "acc": acc}
        for p, m, acc in [
            ("amazon->webcam", "kmeans", 0.4),
            ("caltech10->amazon", "kmeans", 0.6),
            ("amazon->webcam", "spectral", 0.3),
        ]
    ]
    mean_row = next(line for line in script.table(rows).splitlines() if "**mean**" in line)
    assert mean_row == f"| {fam} | **mean** | 50.0 | 30.0 (1 of 2 pairs) |"


def test_the_table_averages_the_seeds_asked_for_only(load_script):
    """Rows of seeds from an earlier invocation (in the same file) are not averaged in."""
    script = load_script("dtc_benchmark")
    key = {"family": "digits", "pair": "source->target", "method": "kmeans"}
    rows = [{**key, "seed": s, "acc": acc} for s, acc in [(0, 0.4), (1, 0.6), (7, 1.0)]]
    text = script.table(rows, seeds=[0, 1])
    assert text.splitlines()[0] == "mean over seeds 0, 1"
    assert "| digits | source->target | 50.0 n=2 |" in text
    assert "| digits | source->target | 66.7 n=3 |" in script.table(rows)  # every row
    # two invocations at once on one --out may both run a seed: its latest row counts once
    twice = [*rows, {**key, "seed": 1, "acc": 0.6}]
    assert "| digits | source->target | 66.7 n=3 |" in script.table(twice)


def test_rows_run_on_other_data_are_moved_aside(load_script, tmp_path):
    """A row records the fingerprint of the pair it ran on; a row whose pair loads other
    data now (the digits default changed, say) is stale, one without a fingerprint kept."""
    from dtc.data import make_digits_pair
    from dtc.experiment.single import data_fingerprint

    script = load_script("dtc_benchmark")
    sha = data_fingerprint(make_digits_pair())
    key = {"family": "digits", "pair": "source->target", "method": "kmeans", "acc": 0.5}
    key["params"] = script.row_params("digits", "kmeans")
    rows = [
        {**key, "seed": 0, "data_sha": sha},
        {**key, "seed": 1},  # before rows recorded their data: kept
        {**key, "seed": 2, "data_sha": "0" * 12},
    ]
    out = tmp_path / "bench.jsonl"
    write_records(out, rows)
    assert script.set_aside_stale(out, read_records(out)) == rows[:2]
    assert read_records(tmp_path / "bench.stale.jsonl") == rows[2:]


def _record_calls(script, monkeypatch) -> list:
    """Replace the script's ``run_one`` by one that returns a fixed row and records its
    ``(method, seed)`` calls in the returned list."""
    calls = []

    def run_one(method, setting, pair, seed):
        calls.append((method, seed))
        return {"acc": 0.5, "nmi": 0.5, "seconds": 0.0}

    monkeypatch.setattr(script, "run_one", run_one)
    return calls


def test_a_seed_or_method_named_twice_runs_once(load_script, tmp_path, monkeypatch, capsys):
    """``--seeds 0 0`` ran and appended the row twice, and the table averaged it as n=2."""
    script = load_script("dtc_benchmark")
    calls = _record_calls(script, monkeypatch)
    out = tmp_path / "bench.jsonl"
    argv = ["--out", str(out), "--families", "digits", "--methods", "kmeans", "kmeans"]
    assert script.main([*argv, "--seeds", "0", "0"]) == 0
    assert calls == [("kmeans", 0)] and len(read_records(out)) == 1
    captured = capsys.readouterr()
    assert "| digits | source->target | 50.0 n=1 |" in captured.out
    assert "[1/1] digits" in captured.out and captured.err == "1 run to do\n"
    # resumed: says what the file holds and what is left
    assert script.main([*argv, "--seeds", "0", "1"]) == 0
    assert calls == [("kmeans", 0), ("kmeans", 1)]
    assert capsys.readouterr().err == f"1 run to do, 1 already in {out}\n"


def test_a_negative_seed_is_a_usage_error_before_any_run(load_script, tmp_path, capsys):
    """It was the estimator's ValueError traceback, after the seeds before it had run."""
    script = load_script("dtc_benchmark")
    with pytest.raises(SystemExit) as exit_:
        script.main(["--out", str(tmp_path / "b.jsonl"), "--seeds", "0", "-1"])
    assert exit_.value.code == 2
    assert "argument --seeds: expected an integer >= 0, got '-1'" in capsys.readouterr().err
    assert not (tmp_path / "b.jsonl").exists()


def test_the_table_by_hand(load_script):
    """The whole table, by hand: DTC's columns after the references', acc_unmatched in
    brackets and in the family mean, no mean row for a family of one pair, the seeds of the
    first line in order (none of these were checked)."""
    script = load_script("dtc_benchmark")
    surf = "office_caltech10_surf"
    rows = [
        {"family": "digits", "pair": "source->target", "method": m, "seed": 0, "acc": a}
        for m, a in (("kmeans", 0.5), ("coral_means", 0.7))
    ]
    rows += [
        {"family": surf, "pair": p, "method": "kmeans", "seed": 0, "acc": a}
        for p, a in (("amazon->webcam", 0.4), ("caltech10->amazon", 0.6))
    ]
    rows += [
        {
            "family": surf,
            "pair": p,
            "method": "dtc_labelled",
            "seed": s,
            "acc": a,
            "acc_unmatched": u,
        }
        for p, s, a, u in (
            ("amazon->webcam", 0, 0.6, 0.5),
            ("amazon->webcam", 1, 0.8, 0.7),
            ("caltech10->amazon", 0, 0.4, 0.3),
        )
    ]
    assert script.table(rows, seeds=[1, 0]).splitlines() == [
        "mean over seeds 0, 1",
        "",
        "| family | pair | coral_means | kmeans | dtc_labelled |",
        "|---|---|---|---|---|",
        "| digits | source->target | 70.0 n=1 | 50.0 n=1 | - |",
        f"| {surf} | amazon->webcam | - | 40.0 n=1 | 70.0 (60.0) n=2 |",
        f"| {surf} | caltech10->amazon | - | 60.0 n=1 | 40.0 (30.0) n=1 |",
        f"| {surf} | **mean** | - | 50.0 | 55.0 (45.0) |",
    ]


def test_rows_that_cannot_be_checked_here_are_kept(load_script, tmp_path, monkeypatch):
    """A row whose pair cannot be loaded here (no data directory), or whose method is not
    registered here, cannot be checked: it is kept, not set aside as stale."""
    script = load_script("dtc_benchmark")
    key = {"pair": "coil1->coil2", "method": "kmeans", "seed": 0, "acc": 0.5}
    rows = [{**key, "family": "coil20", "params": {}, "data_sha": "0" * 12}]
    monkeypatch.setitem(script.REFERENCES, "spectral", ("not_installed", {}))
    rows.append({**key, "family": "digits", "method": "spectral", "params": {}, "resolved": {}})
    out = tmp_path / "bench.jsonl"
    write_records(out, rows)
    empty = tmp_path / "no_data"
    empty.mkdir()
    assert script.set_aside_stale(out, read_records(out), str(empty)) == rows
    assert not (tmp_path / "bench.stale.jsonl").exists()


def test_default_seeds_and_methods_not_registered(load_script, tmp_path, monkeypatch, capsys):
    """Without --seeds the seeds are 0, 1 and 2; a method not registered here is skipped,
    and the sweep says so."""
    script = load_script("dtc_benchmark")
    calls = _record_calls(script, monkeypatch)
    monkeypatch.setattr(script.methods, "available", lambda: ["kmeans"])
    out = tmp_path / "bench.jsonl"
    argv = ["--out", str(out), "--families", "digits", "--methods", "kmeans", "spectral"]
    assert script.main(argv) == 0
    assert calls == [("kmeans", 0), ("kmeans", 1), ("kmeans", 2)]
    assert "not registered here, skipped: spectral" in capsys.readouterr().err


def test_the_table_shows_only_the_families_and_methods_asked_for(load_script):
    # the file may hold other families' and methods' runs, from earlier invocations
    script = load_script("dtc_benchmark")
    rows = [
        {"family": f, "pair": p, "method": m, "seed": 0, "acc": 0.5, "acc_unmatched": 0.5}
        for f, p in (("digits", "source->target"), ("coil20", "coil1->coil2"))
        for m in ("kmeans", "spectral")
    ]
    text = script.table(rows, families=["digits"], methods=["kmeans"])
    assert "coil1->coil2" not in text and "spectral" not in text
    assert "| digits | source->target | 50.0 (50.0) n=1 |" in text


def test_an_out_under_home_is_expanded(load_script, home_and_work, monkeypatch):
    # --out=~/x (one word: the shell expands nothing) made an empty ./~/ folder while the
    # store wrote ~/x, and a file an older run left under ./~ was no longer resumed
    script = load_script("dtc_benchmark")
    _record_calls(script, monkeypatch)
    home, work = home_and_work
    argv = ["--out=~/sweep/rows.jsonl", "--families", "digits", "--methods", "kmeans"]
    assert script.main([*argv, "--seeds", "0"]) == 0
    assert len(read_records(home / "sweep" / "rows.jsonl")) == 1
    assert not (work / "~").exists()


def test_rows_of_other_code_or_platforms_are_named(load_script, capsys):
    """Kept rows are reused whatever made them: a row of other dtc code or torch kernels
    sat beside fresh ones without a word."""
    from types import SimpleNamespace

    script = load_script("dtc_benchmark")
    here = {
        "dtc_source": "aaa",
        "torch_cpu_capability": "AVX2",
        "cpu_vendor": "X",
        "torch_threads": 1,
    }
    row = {"family": "digits", "pair": "source->target", "method": "kmeans", "seed": 0}
    args = SimpleNamespace(seeds=[0, 1], families=["digits"], methods=["kmeans"])
    same = [{**row, "versions": here}, {**row, "seed": 1, "versions": here}]
    script.warn_mixed(same, args)
    assert capsys.readouterr().err == ""
    other = {**here, "dtc_source": "bbb", "torch_cpu_capability": "DEFAULT"}
    script.warn_mixed([same[0], {**row, "seed": 1, "versions": other}], args)
    err = capsys.readouterr().err
    assert "2 versions of dtc's code (aaa, bbb" in err and "several platforms" in err
    # rows the table does not show are not counted
    script.warn_mixed([same[0], {**row, "seed": 5, "versions": other}], args)
    assert capsys.readouterr().err == ""


def test_rows_of_other_families_or_methods_are_not_counted_as_mixed(load_script, capsys):
    """Only the rows the table shows are judged: another family's or another method's row of
    other code is not named (the test above left out another seed's row only)."""
    from types import SimpleNamespace

    script = load_script("dtc_benchmark")
    here = {"dtc_source": "aaa", "torch_cpu_capability": "AVX2", "cpu_vendor": "X"}
    other = {**here, "dtc_source": "bbb", "torch_cpu_capability": "DEFAULT"}
    row = {"family": "digits", "pair": "source->target", "method": "kmeans", "seed": 0}
    args = SimpleNamespace(seeds=[0], families=["digits"], methods=["kmeans"])
    shown = {**row, "versions": here}
    for unshown in ({"family": "coil20", "pair": "coil1->coil2"}, {"method": "spectral"}):
        script.warn_mixed([shown, {**row, **unshown, "versions": other}], args)
        assert capsys.readouterr().err == ""


def test_rows_are_built_with_their_settings_family_defaults_and_seed(load_script, monkeypatch):
    """DTC's rows with the family default of their own setting (the two differ on SURF), one
    thread and the row's seed; a reference with its seed; parameters JSON round-tripped, as
    a row read back holds them (a tuple reads back as a list)."""
    from dtc.pipeline import family_config

    script = load_script("dtc_benchmark")
    surf = "office_caltech10_surf"
    assert family_config(surf, "labelled") != family_config(surf, "unlabelled")
    for setting in ("labelled", "unlabelled"):
        expected = family_config(surf, setting)
        assert script.row_params(surf, f"dtc_{setting}") == expected
        est = script.make_estimator("dtc", setting, surf, 3)
        params = est.get_params()
        assert {k: params[k] for k in expected} == expected
        assert (params["seed"], params["n_threads"]) == (3, 1)
        resolved = script.resolved_params(surf, f"dtc_{setting}", 3)
        assert resolved["use_source_labels"] is (setting == "labelled")
        assert resolved["seed"] == 3
    assert script.make_estimator("kmeans", None, surf, 5).get_params()["seed"] == 5
    assert script.resolved_params(surf, "coral_means", 5)["init"] == "source"
    monkeypatch.setitem(script.REFERENCES, "kmeans", ("kmeans", {"n_init": 10, "x": (1, 2)}))
    assert script.row_params(surf, "kmeans") == {"n_init": 10, "x": [1, 2]}


def test_a_run_scores_the_clusters_by_the_classes_they_are_named_after(load_script, monkeypatch):
    """run_one's scores by hand: clusters [0, 0, 1, 1] of classes [0, 0, 1, 1] are ACC 1
    after Hungarian matching; named after classes [1, 0] they are all wrong, acc_unmatched 0
    (a run dropping the names reported no acc_unmatched)."""
    from types import SimpleNamespace

    import numpy as np

    from dtc.data import Domain, DomainPair

    script = load_script("dtc_benchmark")
    y = np.array([0, 0, 1, 1])
    pair = DomainPair(Domain(np.zeros((4, 2)), y), Domain(np.zeros((4, 2)), y), n_clusters=2)
    fitted = SimpleNamespace(labels_=y, cluster_classes_=np.array([1, 0]))
    fitted.fit = lambda p: fitted
    monkeypatch.setattr(script, "make_estimator", lambda *a: fitted)
    scores = script.run_one("dtc", "labelled", pair, 0)
    assert (scores["acc"], scores["acc_unmatched"]) == (1.0, 0.0)


def test_a_family_mean_is_the_mean_of_its_pairs(load_script):
    """Three SURF pairs at 40, 50 and 90: the family mean is 60.0 (their median reads 50.0;
    with two pairs, as in the tests above, the two agree)."""
    script = load_script("dtc_benchmark")
    fam = "office_caltech10_surf"
    pairs = ("amazon->webcam", "caltech10->amazon", "dslr->webcam")
    rows = [
        {"family": fam, "pair": p, "method": "kmeans", "seed": 0, "acc": acc}
        for p, acc in zip(pairs, (0.4, 0.5, 0.9))
    ]
    mean_row = next(line for line in script.table(rows).splitlines() if "**mean**" in line)
    assert mean_row == f"| {fam} | **mean** | 60.0 |"


def test_dtcs_rows_are_never_skipped_as_not_registered(load_script, tmp_path, monkeypatch, capsys):
    """dtc_labelled and dtc_unlabelled are DTC's two settings, not references: they run
    whatever the references installed here."""
    script = load_script("dtc_benchmark")
    calls = []

    def run_one(method, setting, pair, seed):
        calls.append((method, setting, seed))
        return {"acc": 0.5, "nmi": 0.5, "seconds": 0.0}

    monkeypatch.setattr(script, "run_one", run_one)
    out = tmp_path / "bench.jsonl"
    argv = ["--out", str(out), "--families", "digits", "--seeds", "0"]
    assert script.main([*argv, "--methods", "dtc_labelled", "dtc_unlabelled"]) == 0
    assert calls == [("dtc", "labelled", 0), ("dtc", "unlabelled", 0)]
    assert "not registered" not in capsys.readouterr().err


def test_the_printed_table_is_of_the_seeds_asked_for(load_script, tmp_path, monkeypatch, capsys):
    """--out holds a seed-1 row from an earlier invocation: the table of --seeds 0 leaves it
    out, and says so."""
    script = load_script("dtc_benchmark")
    _record_calls(script, monkeypatch)
    out = tmp_path / "bench.jsonl"
    earlier = {"family": "digits", "pair": "source->target", "method": "kmeans", "seed": 1}
    write_records(out, [{**earlier, "acc": 1.0}])
    argv = ["--out", str(out), "--families", "digits", "--methods", "kmeans", "--seeds", "0"]
    assert script.main(argv) == 0
    shown = capsys.readouterr().out
    assert "mean over seeds 0\n" in shown and "| digits | source->target | 50.0 n=1 |" in shown
