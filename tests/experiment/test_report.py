"""Reports: mean +- std over seeds, best in bold, seeds shown, oracle tables labelled."""

import csv
import json

import numpy as np
import pytest

from dtc.experiment.report import (
    Cell,
    build_tables,
    mixed_data,
    record_problem,
    to_latex,
    to_markdown,
    unique_runs,
    write_report,
)


def _record(label, seed, acc, *, grid=None, target="target", shift=0.5, history=None):
    rec = {
        "run_id": f"{label}-{grid}-{target}-{shift}-{seed}",
        "label": label,
        "method": label,
        "grid": grid or {},
        "benchmark": "digits",
        "source": "source",
        "target": target,
        "seed": seed,
        "data_params": {"shift": shift},
        "metrics": {"acc": acc, "nmi": acc / 2},
        "seconds": 1.0,
    }
    if history:
        rec["history"] = history
    return rec


RECORDS = [
    *(_record("a", s, v) for s, v in enumerate([0.50, 0.60, 0.70])),
    *(_record("b", s, v) for s, v in enumerate([0.80, 0.80, 0.80])),
    *(_record("a", s, v, shift=0.9) for s, v in enumerate([0.90, 0.90, 0.90])),
    *(_record("b", s, v, shift=0.9) for s, v in enumerate([0.10, 0.20, 0.30])),
]


def test_cells_are_mean_and_sample_std_in_percent():
    acc, nmi = build_tables(RECORDS)
    assert (acc.metric, nmi.metric) == ("acc", "nmi")
    assert acc.rows == ["a", "b"]
    # shift varies across the file, so it names the columns
    assert acc.columns == ["digits:source→target (shift=0.5)", "digits:source→target (shift=0.9)"]
    cell = acc.cells["a"][acc.columns[0]]
    assert cell.n == 3 and cell.mean == pytest.approx(60.0) and cell.std == pytest.approx(10.0)
    assert acc.row_mean("a") == pytest.approx(75.0) and acc.row_mean("b") == pytest.approx(50.0)


def test_markdown_bolds_the_best_of_each_column_and_shows_seeds():
    md = to_markdown(build_tables(RECORDS)[0])
    assert "over 3 seeds" in md
    assert "| a | 60.0 ± 10.0 | **90.0 ± 0.0** | **75.0** |" in md
    assert "| b | **80.0 ± 0.0** | 20.0 ± 10.0 | 50.0 |" in md


def test_unequal_seed_counts_are_shown_per_cell():
    md = to_markdown(build_tables(RECORDS[:4])[0])
    # a single run shows no spread; b lacks seeds 1 and 2 that a ran on the column
    assert "| **60.0 ± 10.0 (n=3)** |" in md and "| 80.0 (n=1/3) |" in md


def test_bold_is_decided_on_the_shown_values_and_ties_are_all_bold(tmp_path):
    # 80.04 and 80.01 both read "80.0 ± 0.0"; only the first was bold.
    records = [_record("a", s, 0.8004, target=t) for t in ("t1", "t2") for s in range(2)]
    records += [_record("b", s, 0.8001, target=t) for t in ("t1", "t2") for s in range(2)]
    records += [_record("c", s, 0.7996, target=t) for t in ("t1", "t2") for s in range(2)]
    records += [_record("d", s, 0.7994, target=t) for t in ("t1", "t2") for s in range(2)]
    (acc,) = build_tables(records, ["acc"])
    md = to_markdown(acc)
    for row in ("a", "b", "c"):  # 80.04, 80.01, 79.96: all read 80.0
        assert f"| {row} | **80.0 ± 0.0** | **80.0 ± 0.0** | **80.0** |" in md
    assert "| d | 79.9 ± 0.0 | 79.9 ± 0.0 | 79.9 |" in md
    assert [
        acc.is_best(acc.cells[r]["digits:source→t1"], "digits:source→t1") for r in acc.rows
    ] == [
        True,
        True,
        True,
        False,
    ]
    write_report(records, tmp_path, figures=False)
    best = {
        (r["method"], r["best"])
        for r in csv.DictReader((tmp_path / "acc.csv").read_text().splitlines())
    }
    assert best == {("a", "1"), ("b", "1"), ("c", "1"), ("d", "0")}


def test_latex_escapes_and_bolds():
    tex = to_latex(build_tables([_record("my_method", 0, 0.5)])[0])
    assert "{}my\\_method & \\textbf{50.0}" in tex and "\\toprule" in tex
    # a label starting with "[" was read as the rule's option: "\midrule[abl]"
    tex = to_latex(build_tables([_record("[abl] K-means", 0, 0.5)])[0])
    assert "{}[abl] K-means & \\textbf{50.0} \\\\" in tex.splitlines()


def test_markdown_escapes_a_bar_in_a_column_name():
    # the header had one cell more than the separator row: no table rendered
    from dtc.experiment.report import to_markdown

    md = to_markdown(build_tables([_record("a", 0, 0.5, target="x|y")])[0])
    header, separator = md.splitlines()[2:4]
    assert "x\\|y" in header and header.count(" | ") == separator.count("|") - 2


def test_markdown_shows_underscores_at_a_words_edge_as_written():
    # "_base_" rendered as an italic "base" (and "__x__" bold, like a best cell); an
    # underscore inside a word renders as written and stays as it is
    from dtc.experiment.report import to_markdown

    records = [_record(label, 0, 0.5) for label in ("_base_", "__x__", "imbalance_ratio")]
    md = to_markdown(build_tables(records)[0])
    rows = [line.split(" | ")[0] for line in md.splitlines()[4:]]
    assert rows == ["| \\_base\\_", "| \\_\\_x\\_\\_", "| imbalance_ratio"]


def test_markdown_caption_names_columns_as_the_header_does():
    # the caption (realised ratios by column) was not escaped: "_base_" read as emphasis
    from dtc.experiment.report import to_markdown

    rec = {**_record("k", 0, 0.5, target="_base_"), "realised_ratio": 2.0}
    caption = to_markdown(build_tables([rec])[0]).splitlines()[0]
    assert "digits:source→\\_base\\_: 2.00" in caption


def test_latex_escapes_backslash_caret_and_tilde_once():
    # "DTC^2 ~ \alpha" was written as is: LaTeX would not compile it.
    tex = to_latex(build_tables([_record("DTC^2 ~ \\alpha {x}_1", 0, 0.5)])[0])
    row = (
        "{}DTC\\textasciicircum{}2 \\textasciitilde{} \\textbackslash{}alpha \\{x\\}\\_1 "
        "& \\textbf{50.0} \\\\"
    )
    assert row in tex.splitlines()


def test_write_report_files_and_oracle(tmp_path):
    records = [
        _record("g", 0, 0.3, grid={"lam": 0.1}, history=[{"loss": 1.0}, {"loss": 0.5}]),
        _record("g", 0, 0.6, grid={"lam": 1.0}, history=[{"loss": 2.0}, {"loss": 1.0}]),
        _record("k", 0, 0.5),
    ]
    written = {p.name for p in write_report(records, tmp_path)}
    for stem in ("acc", "nmi", "oracle_acc", "oracle_nmi"):
        assert {f"{stem}.md", f"{stem}.csv", f"{stem}.tex"} <= written
    assert {"acc.png", "nmi.png", "curve_loss.png"} <= written
    assert (tmp_path / "acc.png").read_bytes()[:4] == b"\x89PNG"
    assert "g [lam=0.1]" in (tmp_path / "acc.md").read_text()
    oracle = (tmp_path / "oracle_acc.md").read_text()
    assert "ORACLE" in oracle and "TARGET LABELS" in oracle
    # an oracle row chose by target labels: never bold, nor compared with the label-free
    # row k, which is bold among the rows that chose nothing
    assert "| g (oracle) | 60.0 |" in oracle and "| k | **50.0** |" in oracle
    assert "never bold" in oracle
    # one grid point is no choice: no oracle table, and no row called an oracle
    one = tmp_path / "one"
    written = {p.name for p in write_report([records[1], records[2]], one)}
    assert not any(name.startswith("oracle_") for name in written)
    from dtc.experiment.report import build_tables, oracle_tables

    tables = build_tables([records[1], records[2]])
    assert not any("(oracle)" in row for row in oracle_tables([records[1]], tables)[0].rows)
    rows = list(csv.DictReader((tmp_path / "acc.csv").read_text().splitlines()))
    assert {(r["method"], r["mean"], r["best"]) for r in rows} == {
        ("g [lam=0.1]", "30.0000", "0"),
        ("g [lam=1.0]", "60.0000", "1"),
        ("k", "50.0000", "0"),
    }


def test_bad_input():
    with pytest.raises(ValueError, match="no records"):
        build_tables([])
    with pytest.raises(ValueError, match="metric 'f1' is in no record"):
        build_tables(RECORDS, ["f1"])


def test_records_the_report_cannot_read_are_refused_naming_them(tmp_path):
    # They raised KeyError 'method' / 'metrics', AttributeError 'list' has no 'get'.
    good = _record("a", 0, 0.5)
    no_metrics = {k: v for k, v in good.items() if k != "metrics"}
    assert record_problem(good) is None
    assert record_problem({"run_id": "x", "error": "boom"}) == "missing 'method'"
    assert record_problem([1, 2]) == "expected a JSON object, got list"
    assert record_problem(no_metrics) == "missing 'metrics'"
    assert record_problem({**good, "seed": "0"}) == "'seed' is str, expected an int"
    assert record_problem({**good, "seed": True}) == "'seed' is bool, expected an int"
    assert (
        record_problem({**good, "data_params": [1]}) == "'data_params' is list, expected a mapping"
    )
    assert record_problem({**good, "metrics": {"acc": "high"}}) == (
        "metric 'acc' is str, expected a number"
    )
    # an Infinity in an edited file was shown bold as the best cell; NaN stays readable
    assert record_problem({**good, "metrics": {"acc": float("inf")}}) == (
        "metric 'acc' is inf, expected a finite number (or NaN)"
    )
    # 1e307 is finite, but infinite in percent: bold as the best cell too
    assert record_problem({**good, "metrics": {"acc": 1e307}}) == (
        "metric 'acc' is 1e+307, expected a finite number (or NaN)"
    )
    # a huge finite score is shown as it is (score_text raised InvalidOperation from 1e27)
    assert "1000000000000000019884624838656.0" in to_markdown(
        build_tables([{**good, "metrics": {"acc": 1e28}}], ["acc"])[0]
    )
    assert record_problem({**good, "metrics": {"acc": float("nan")}}) is None
    # and a NaN as records write it (strict JSON has none): null, shown as NaN
    assert record_problem({**good, "metrics": {"acc": None, "nmi": 0.25}}) is None
    nan_cell = build_tables([{**good, "metrics": {"acc": None, "nmi": 0.25}}], ["acc"])[0]
    assert "nan" in to_markdown(nan_cell)
    # read by the figures, the notes and a resume: each was a traceback (the notes' after
    # the report's files were written)
    for key, value, kind in (
        ("history", None, "a list"),
        ("versions", None, "a mapping"),
        ("spec", "x", "a mapping"),
        ("params", [1], "a mapping"),
    ):
        expected = f"{key!r} is {type(value).__name__}, expected {kind}"
        assert record_problem({**good, key: value}) == expected
    assert record_problem({**good, "history": [{"loss": 1.0}, 2]}) == (
        "history entry 1 is int, expected a mapping"
    )
    with pytest.raises(ValueError, match=r"record 2 is not a run record \(missing 'metrics'\)"):
        build_tables([good, no_metrics])
    with pytest.raises(ValueError, match=r"record 1 is not a run record \(expected a JSON"):
        write_report([[1, 2]], tmp_path, figures=False)
    path = tmp_path / "errors.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(no_metrics) + "\n")
    with pytest.raises(ValueError, match=r"errors\.jsonl: line 2 is not a run record \(missing"):
        write_report(path, tmp_path, figures=False)


def test_records_built_in_memory_may_hold_numpy_scalars():
    """np.int64 seeds and np.float32 scores read as their Python kin; a bool still does not."""
    records = [_record("a", s, 0.5 + s / 10) for s in range(2)]
    plain = to_markdown(build_tables(records)[0])
    numpy = [
        {
            **r,
            "seed": np.int64(r["seed"]),
            "metrics": {k: np.float32(v) for k, v in r["metrics"].items()},
        }
        for r in records
    ]
    assert to_markdown(build_tables(numpy)[0]) == plain
    with pytest.raises(ValueError, match="'seed' is bool_?, expected an int"):
        build_tables([{**records[0], "seed": np.True_}])


def test_by_benchmark_averages_pairs_per_seed_then_takes_mean_and_std():
    # pair t1: seeds 0, 1 -> 50, 70; pair t2: 70, 90; per-seed pair means 60, 80
    records = [
        _record("a", s, v, target=t)
        for t, vals in (("t1", [0.5, 0.7]), ("t2", [0.7, 0.9]))
        for s, v in enumerate(vals)
    ]
    (by_pair,) = build_tables(records, ["acc"])
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    assert by_pair.columns == ["digits:source→t1", "digits:source→t2"]
    assert family.columns == ["digits"]
    cell = family.cells["a"]["digits"]
    assert cell.values == pytest.approx([60.0, 80.0])
    assert cell.std == pytest.approx(14.142135623730951)  # sqrt(200), the std of 60 and 80


def _family_records(b_values: dict) -> list[dict]:
    """A at 80 on t1 and 20 on t2, every seed; B's scores per pair and seed from
    ``b_values``."""
    a = [_record("A", s, v, target=t) for t, v in (("t1", 0.8), ("t2", 0.2)) for s in range(3)]
    b = [_record("B", s, v, target=t) for t, by_seed in b_values.items() for s, v in by_seed]
    return a + b


def test_family_mean_of_a_seed_needs_every_pair_and_incomplete_cells_are_never_bold(tmp_path):
    # The reviewer's case: B is worse than A on every pair, and its t2 run failed for
    # seeds 1 and 2; averaged over what is there, B's seeds 1 and 2 (60) made it "best".
    records = _family_records({"t1": [(s, 0.6) for s in range(3)], "t2": [(0, 0.3)]})
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    a, b = family.cells["A"]["digits"], family.cells["B"]["digits"]
    assert (a.values, a.left_out) == (pytest.approx([50.0] * 3), 0)
    assert (b.values, b.left_out) == (pytest.approx([45.0]), 2)  # seed 0 only
    md = to_markdown(family)
    assert "| A | **50.0 ± 0.0 (n=3)** |" in md and "| B | 45.0 (n=1/3) |" in md
    assert "n=k/m: only k of the m seeds planned for the column" in md
    # Ahead on its complete seed, B is still not bold over A's complete cell.
    records = _family_records({"t1": [(s, 0.9) for s in range(3)], "t2": [(0, 0.9)]})
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    assert family.cells["B"]["digits"].mean == pytest.approx(90.0)
    md = to_markdown(family)
    assert "| A | **50.0 ± 0.0 (n=3)** |" in md and "| B | 90.0 (n=1/3) |" in md
    write_report(records, tmp_path, figures=False)
    rows = {
        r["method"]: r
        for r in csv.DictReader((tmp_path / "by_benchmark_acc.csv").read_text().splitlines())
    }
    assert (rows["A"]["best"], rows["A"]["left_out"]) == ("1", "0")
    assert (rows["B"]["best"], rows["B"]["n"], rows["B"]["left_out"]) == ("0", "1", "2")
    # No seed with every pair: no family mean at all.
    records = _family_records({"t1": [(s, 0.6) for s in range(3)]})
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    assert "digits" not in family.cells["B"]


def test_a_cell_missing_a_seed_of_its_column_is_marked_and_never_bold(tmp_path):
    # The reviewer's case: C lacks seed 2 on every pair, B on t2 only. B was marked
    # n=2/3 in the family table but C showed plain n=2 and was bold, and the per-pair
    # cells of both were "complete", counted in row means and bold.
    records = [_record("A", s, 0.5, target=t) for t in ("t1", "t2") for s in range(3)]
    records += [_record("B", s, 0.6, target="t1") for s in range(3)]
    records += [_record("B", s, 0.6, target="t2") for s in range(2)]
    records += [_record("C", s, 0.9, target=t) for t in ("t1", "t2") for s in range(2)]
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    cells = {row: family.cells[row]["digits"] for row in family.rows}
    assert {row: (c.n, c.left_out) for row, c in cells.items()} == {
        "A": (3, 0),
        "B": (2, 1),
        "C": (2, 1),
    }
    md = to_markdown(family)
    assert "| A | **50.0 ± 0.0 (n=3)** |" in md
    assert "| B | 60.0 ± 0.0 (n=2/3) |" in md and "| C | 90.0 ± 0.0 (n=2/3) |" in md
    (acc,) = build_tables(records, ["acc"])
    t1, t2 = acc.columns
    assert (acc.cells["B"][t1].complete, acc.cells["B"][t2].left_out) == (True, 1)
    assert acc.cells["C"][t1].left_out == acc.cells["C"][t2].left_out == 1
    md = to_markdown(acc)
    # B is best on t1 (C lacks a seed there); no complete row is ahead on t2: no bold
    assert "| A | 50.0 ± 0.0 (n=3) | **50.0 ± 0.0 (n=3)** | **50.0** |" in md
    assert "| B | **60.0 ± 0.0 (n=3)** | 60.0 ± 0.0 (n=2/3) | 60.0 (incomplete) |" in md
    assert "| C | 90.0 ± 0.0 (n=2/3) | 90.0 ± 0.0 (n=2/3) | 90.0 (incomplete) |" in md
    write_report(records, tmp_path, figures=False)
    rows = {
        (r["method"], r["task"]): r
        for r in csv.DictReader((tmp_path / "acc.csv").read_text().splitlines())
    }
    assert (rows["C", t1]["n"], rows["C", t1]["left_out"], rows["C", t1]["best"]) == ("2", "1", "0")


def test_the_planned_seeds_given_are_those_every_cell_should_have(tmp_path):
    # One row, one pair: without a plan nothing is seen missing; with the config's
    # eight seeds, the six that ran are n=6/8 and not bold.
    records = [_record("a", s, 0.5) for s in range(6)]
    (acc,) = build_tables(records, ["acc"])
    assert acc.cells["a"]["digits:source→target"].complete
    (acc,) = build_tables(records, ["acc"], seeds=range(8))
    cell = acc.cells["a"]["digits:source→target"]
    assert (cell.n, cell.left_out) == (6, 2)
    assert "| a | 50.0 ± 0.0 (n=6/8) |" in to_markdown(acc)
    write_report(records, tmp_path, figures=False, seeds=list(range(8)))
    assert "| a | 50.0 ± 0.0 (n=6/8) |" in (tmp_path / "acc.md").read_text()


def test_a_cell_holds_only_the_planned_seeds():
    # A run of a seed outside the plan was averaged in, and the cell read as complete
    # (47.5 ± 26.3, n=4) beside a row averaged over the three planned seeds.
    records = [_record("a", s, acc) for s, acc in ((0, 0.5), (1, 0.6), (2, 0.7), (7, 0.1))]
    records += [_record("b", s, 0.6) for s in (0, 1, 2)]
    (acc,) = build_tables(records, ["acc"], seeds=[0, 1, 2])
    cell = acc.cells["a"]["digits:source→target"]
    assert cell.complete and cell.seeds == (0, 1, 2) and cell.mean == pytest.approx(60.0)
    (acc,) = build_tables(records, ["acc"], seeds=[0, 1, 2, 3])
    assert acc.cells["a"]["digits:source→target"].left_out == 1
    with pytest.raises(ValueError, match=r"no records of the seeds planned, \[5, 6\]"):
        build_tables(records, ["acc"], seeds=[5, 6])


def test_report_writes_family_means_when_a_benchmark_has_several_pairs(tmp_path):
    records = [_record("a", s, 0.5, target=t) for t in ("t1", "t2") for s in (0, 1)]
    written = {p.name for p in write_report(records, tmp_path, figures=False)}
    assert {"by_benchmark_acc.md", "by_benchmark_acc.csv", "by_benchmark_acc.tex"} <= written
    assert "by_benchmark_acc.md" not in {
        p.name for p in write_report(RECORDS, tmp_path / "one", figures=False)
    }


def test_a_report_keeps_a_file_it_wrote_whose_old_name_differs_only_in_case(tmp_path):
    """On a case-insensitive file system the old "ACC.md" is the new "acc.md": never
    removed. (Here the names are told apart; the listed old name stays unremoved.)"""
    write_report(RECORDS, tmp_path, metrics=["acc"], figures=False)
    (tmp_path / "report_files.jsonl").write_text('{"file": "ACC.md"}\n{"file": "acc.md"}\n')
    (tmp_path / "ACC.md").write_text("listed, differs from a new file only in case")
    write_report(RECORDS, tmp_path, metrics=["acc"], figures=False)
    assert (tmp_path / "acc.md").exists() and (tmp_path / "ACC.md").exists()


def test_a_report_removes_the_files_of_the_previous_one_it_does_not_write_again(tmp_path):
    # Old tables (nmi.*, oracle_*, by_benchmark_*, PNGs) stayed beside the new ones.
    records = [
        _record("g", s, 0.5, grid={"lam": lam}, target=t, history=[{"loss": 1.0}])
        for lam in (0.1, 1.0)
        for t in ("t1", "t2")
        for s in (0, 1)
    ]
    (tmp_path / "notes.md").write_text("mine")  # never listed by a report: kept
    first = {p.name for p in write_report(records, tmp_path)}
    assert {
        "nmi.md",
        "oracle_acc.tex",
        "by_benchmark_nmi.csv",
        "acc.png",
        "curve_loss.png",
    } <= first
    assert (tmp_path / "report_files.jsonl").exists()
    second = {p.name for p in write_report(RECORDS, tmp_path, metrics=["acc"], figures=False)}
    assert second == {"acc.md", "acc.tex", "acc.csv"}
    assert {p.name for p in tmp_path.iterdir()} == second | {"notes.md", "report_files.jsonl"}
    assert "| a | 60.0 ± 10.0 | **90.0 ± 0.0** | **75.0** |" in (tmp_path / "acc.md").read_text()
    # a list naming a file outside the folder, or one no report wrote, removes nothing
    (tmp_path / "report_files.jsonl").write_text(
        '{"file": "../outside.md"}\n{"file": "notes.md/.."}\n{"file": "acc.md"}\n'
    )
    (tmp_path.parent / "outside.md").write_text("not the report's")
    write_report(RECORDS, tmp_path, metrics=["nmi"], figures=False)
    assert (tmp_path.parent / "outside.md").exists() and (tmp_path / "notes.md").exists()
    assert not (tmp_path / "acc.md").exists() and (tmp_path / "acc.tex").exists()
    # an unreadable list: nothing is known to be the report's, nothing is removed
    (tmp_path / "report_files.jsonl").write_text("not json\n")
    write_report(RECORDS, tmp_path, metrics=["acc"], figures=False)
    assert (tmp_path / "nmi.md").exists()


def test_a_report_cut_short_removes_nothing_and_lists_what_it_wrote(tmp_path, monkeypatch):
    from dtc.experiment import plots

    write_report(RECORDS, tmp_path, metrics=["nmi"], figures=False)

    def fail(*args):
        raise RuntimeError("no figures today")

    monkeypatch.setattr(plots, "report_figures", fail)
    with pytest.raises(RuntimeError, match="no figures today"):
        write_report(RECORDS, tmp_path, metrics=["acc"])
    assert (tmp_path / "nmi.md").exists()  # the previous report's, kept
    monkeypatch.undo()
    write_report(RECORDS, tmp_path, metrics=["nmi"], figures=False)
    assert not (tmp_path / "acc.md").exists()  # the cut report's, removed by the next


def test_a_data_setting_of_one_method_names_its_row_not_new_columns():
    raw = [_record("c", s, 0.4) for s in range(3)]
    for r in raw:
        r["data_params"] = {"shift": 0.5, "preprocess": "raw"}
        r["run_id"] += "-raw"
    acc = build_tables(RECORDS + raw, ["acc"])[0]
    assert acc.columns == ["digits:source→target (shift=0.5)", "digits:source→target (shift=0.9)"]
    assert acc.rows == ["a", "b", "c (preprocess=raw)"]
    assert acc.cells["c (preprocess=raw)"][acc.columns[0]].mean == pytest.approx(40.0)


def test_a_data_setting_that_changes_the_target_names_a_column_even_for_one_method():
    # The reviewer's case: K-means on the full target (70.9) and GMM on its ratio-20
    # subset (70.8) shared one column, K-means bold, and one row mean.
    kmeans = [_record("kmeans", s, 0.709) for s in range(2)]
    gmm = [_record("gmm", s, 0.708) for s in range(2)]
    for r in gmm:
        r["data_params"] = {"shift": 0.5, "imbalance_ratio": 20}
        r["run_id"] += "-ratio20"
    acc = build_tables(kmeans + gmm, ["acc"])[0]
    full, subset = "digits:source→target", "digits:source→target (imbalance_ratio=20)"
    assert acc.columns == [full, subset]
    assert acc.rows == ["kmeans", "gmm"]
    assert set(acc.cells["kmeans"]) == {full} and set(acc.cells["gmm"]) == {subset}
    assert acc.row_mean("kmeans") is None and acc.row_mean("gmm") is None
    md = to_markdown(acc)
    assert "| kmeans | **70.9 ± 0.0** | – |" in md and "| gmm | – | **70.8 ± 0.0** |" in md
    # a digits option of one method's runs too: another target, another column
    for r in gmm:
        r["data_params"] = {"shift": 0.9}
    acc = build_tables(kmeans + gmm, ["acc"])[0]
    assert acc.columns == ["digits:source→target (shift=0.5)", "digits:source→target (shift=0.9)"]
    assert acc.rows == ["kmeans", "gmm"]


def test_a_data_setting_given_at_its_default_is_the_same_target():
    """One method giving shift=0.5 (the digits default) or imbalance_seed=0 explicitly is
    scored on the same target as the others leaving it out: one column, one bold."""
    plain = [_record("a", s, 0.70) for s in range(2)]
    for r in plain:
        r["data_params"] = {}
    explicit = [_record("b", s, 0.60) for s in range(2)]
    for r in explicit:
        r["data_params"] = {"shift": 0.5, "seed": 0}
        r["run_id"] += "-explicit"
    acc = build_tables(plain + explicit, ["acc"])[0]
    assert acc.columns == ["digits:source→target"]
    ratio = [_record("c", s, 0.5) for s in range(2)]
    seeded = [_record("d", s, 0.4) for s in range(2)]
    for r in ratio:
        r["data_params"] = {"imbalance_ratio": 10}
        r["run_id"] += "-ratio"
    for r in seeded:
        r["data_params"] = {"imbalance_ratio": 10, "imbalance_seed": 0}
        r["run_id"] += "-seeded"
    acc = build_tables(plain + ratio + seeded, ["acc"])[0]
    # the balanced target has no imbalance seed, the two imbalanced ones are one target
    subset = "digits:source→target (imbalance_ratio=10, imbalance_seed=0)"
    assert acc.columns == ["digits:source→target", subset]
    assert set(acc.cells["c"]) == set(acc.cells["d"]) == {subset}


def test_an_integer_valued_float_names_the_same_target_as_its_int():
    # two single runs' --data imbalance_ratio=10 and =10.0 (no config canonicalises them)
    # were two columns of one task, and the row mean counted it twice
    runs = [_record("k", s, 0.5 + s / 10) for s in range(3)]
    for r, ratio in zip(runs, (10, 10, 10.0)):
        r["data_params"] = {"imbalance_ratio": ratio}
        r["run_id"] += f"-ratio{ratio}"
    balanced = _record("k", 0, 0.65)
    (acc,) = build_tables([*runs, balanced], ["acc"])
    assert len(acc.columns) == 2
    cell = acc.cells["k"][next(c for c in acc.columns if "imbalance_ratio=10" in c)]
    assert (cell.n, cell.mean) == (3, pytest.approx(60.0))


def test_a_run_records_and_the_report_shows_the_realised_imbalance_ratio(tmp_path):
    """Columns are named by the ratio asked for; rounding the class sizes moves it (digits,
    ratio 5: 5.12), so the run records the realised ratio and the caption shows it."""
    from dtc.experiment.report import oracle_tables, to_markdown
    from dtc.experiment.single import RunSpec, run_single

    spec = RunSpec("kmeans", "digits", data_params={"imbalance_ratio": 5}, params={"n_init": 1})
    record = run_single(spec)
    assert record["realised_ratio"] == pytest.approx(5.12, abs=0.005)
    assert "realised_ratio" not in run_single(RunSpec("kmeans", "digits", params={"n_init": 1}))
    balanced = [_record("a", s, 0.7) for s in range(2)]
    cut = [_record("a", s, 0.6) for s in range(2)]
    for r in cut:
        r["data_params"] = {"imbalance_ratio": 5}
        r["realised_ratio"] = record["realised_ratio"]
        r["run_id"] += "-cut"
    tables = build_tables(balanced + cut, ["acc"])
    column = "digits:source→target (imbalance_ratio=5)"
    assert tables[0].columns == ["digits:source→target", column]  # the grouping key is kept
    note = "(largest / smallest class once the class sizes are rounded; columns name the "
    assert note in tables[0].caption and f"{column}: 5.12." in tables[0].caption
    assert f"{column}: 5.12." in to_markdown(tables[0])
    assert f"{column}: 5.12." in oracle_tables(balanced + cut, tables)[0].caption
    # records without it (a balanced target, or written before) add no note
    assert build_tables(balanced, ["acc"])[0].caption == ""


def test_a_minority_fraction_the_profile_ignores_is_the_same_target():
    """The exponential profile ignores imbalance_minority_fraction: a run giving it is on
    the same target as one leaving it out (one column), a step run's value names its own."""
    runs = []
    for label, params in [
        ("a", {"imbalance_ratio": 10}),
        ("b", {"imbalance_ratio": 10, "imbalance_minority_fraction": 0.2}),
        ("c", {"imbalance_ratio": 10, "imbalance_profile": "step"}),
        (
            "d",
            {
                "imbalance_ratio": 10,
                "imbalance_profile": "step",
                "imbalance_minority_fraction": 0.2,
            },
        ),
    ]:
        for s in range(2):
            r = _record(label, s, 0.5)
            r["data_params"] = params
            r["run_id"] += f"-{label}"
            runs.append(r)
    acc = build_tables(runs, ["acc"])[0]
    column = "digits:source→target"
    assert acc.columns == [
        f"{column} (imbalance_profile=exponential)",
        f"{column} (imbalance_minority_fraction=0.5, imbalance_profile=step)",
        f"{column} (imbalance_minority_fraction=0.2, imbalance_profile=step)",
    ]
    assert set(acc.cells["a"]) == set(acc.cells["b"]) == {acc.columns[0]}


# -- one configuration per cell, one run per seed -----------------------------------------
def _run(seed, acc, *, config="cfg", params=None, run_id=None, **extra):
    """A K-means record as the runner writes it; ``random_state`` is the seed, as always."""
    rec = _record("K-means", seed, acc)
    rec["method"] = "kmeans"
    rec["run_id"] = run_id or f"{config}-{params}-{seed}"
    rec["params"] = {"n_init": 10, "max_iter": 300, **(params or {}), "random_state": seed}
    if config is not None:
        rec["config"] = config
    else:  # a single run (`dtc run --method kmeans`): no label, run_id nor config
        del rec["label"], rec["run_id"], rec["grid"]
    return {**rec, **extra}


def test_a_run_recorded_twice_counts_once_unless_its_records_disagree():
    # The last of two records of one run_id was the cell, silently (two machines' folders
    # put together): the other's score was lost
    first = _run(0, 0.5, data_sha="aaa")
    again = build_tables([first, dict(first), _run(1, 0.7)], ["acc"])[0]
    (cell,) = again.cells["K-means"].values()
    assert cell.values == [50.0, 70.0]
    # compared as a results file holds them: two NaNs are one score, np.float32(0.5) is 0.5,
    # and arrays differing in one element differ (str() of a long array elides it)
    nan = _run(0, float("nan"))
    assert len(unique_runs([nan, {**nan, "metrics": {**nan["metrics"], "acc": float("nan")}}])) == 1
    assert (
        len(
            unique_runs([first, {**first, "metrics": {**first["metrics"], "acc": np.float32(0.5)}}])
        )
        == 1
    )
    long = {**first, "metrics": {"acc": np.arange(2000) / 2000}}
    edited = long["metrics"]["acc"].copy()
    edited[1000] = 0.0
    with pytest.raises(ValueError, match="is recorded twice"):
        unique_runs([long, {**long, "metrics": {"acc": edited}}])
    for other in ({"metrics": {"acc": 0.9}}, {"data_sha": "bbb"}):
        with pytest.raises(
            ValueError, match=r"^run cfg-None-0 \(K-means, seed 0\) is recorded twice"
        ):
            build_tables([first, {**first, **other}], ["acc"])


def test_mixed_data_names_the_pairs_run_on_several_versions_of_their_data():
    runs = [_run(0, 0.5, data_sha="aaa"), _run(1, 0.6, data_sha="bbb"), _run(2, 0.6)]
    assert mixed_data(runs) == ['digits source -> target {"shift": 0.5} (data_sha aaa, bbb)']
    # other pairs hold other data: no mix
    other = {**_run(1, 0.6, data_sha="bbb"), "target": "elsewhere"}
    assert mixed_data([runs[0], other]) == []
    shifted = {**other, "target": "target", "data_params": {"shift": 0.9}}
    assert mixed_data([runs[0], shifted]) == []


def test_runs_of_two_configs_in_one_folder_are_not_pooled():
    # The reviewer's case: cfgA (n_init 1) and cfgB (n_init 10), seeds 0 and 1 each,
    # in one folder were one "K-means" cell "over 4 seeds".
    records = [_run(s, 0.30 + s / 10, config="cfgA", params={"n_init": 1}) for s in (0, 1)]
    records += [_run(s, 0.40, config="cfgB") for s in (0, 1)]
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["K-means (config=cfgA)", "K-means (config=cfgB)"]
    a, b = (acc.cells[row]["digits:source→target"] for row in acc.rows)
    assert (a.n, a.mean, b.n, b.mean) == (2, pytest.approx(35.0), 2, pytest.approx(40.0))
    assert "over 2 seeds" in to_markdown(acc)


def test_single_runs_with_other_parameters_get_rows_of_their_own():
    # Two `dtc run --method kmeans --seed 0` with other --set n_init: "over 2 seeds" before.
    records = [
        _run(0, 0.3, config=None, params={"n_init": 1, "max_iter": 2}),
        _run(0, 0.4, config=None),
    ]
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["kmeans (max_iter=2, n_init=1)", "kmeans (max_iter=300, n_init=10)"]
    assert all(acc.cells[row]["digits:source→target"].n == 1 for row in acc.rows)
    assert "one seed" in to_markdown(acc)


def test_runs_of_a_row_whose_method_changed_are_not_pooled():
    records = [_run(s, 0.3) for s in (0, 1)]
    records += [{**_run(s, 0.5, run_id=f"new-{s}"), "method": "gmm"} for s in (0, 1)]
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["K-means (method=kmeans)", "K-means (method=gmm)"]


def test_resumed_runs_of_one_config_pool_whatever_their_timing_and_host():
    # What differs between runs of one configuration: the seed (and the parameters set
    # to it), timings, versions, the machine.
    records = [
        _run(s, 0.5 + s / 10, seconds=float(s), versions={"torch": f"2.{s}"}, host=f"h{s}")
        for s in range(3)
    ]
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["K-means"]
    cell = acc.cells["K-means"]["digits:source→target"]
    assert (cell.n, cell.seeds, cell.mean) == (3, (0, 1, 2), pytest.approx(60.0))


def test_two_runs_of_one_seed_in_a_cell_are_an_error_naming_them():
    records = [_run(0, 0.5), _run(0, 0.6, run_id="other"), _run(1, 0.7)]
    with pytest.raises(ValueError) as info:
        build_tables(records, ["acc"])
    message = str(info.value)
    assert "row 'K-means', column 'digits:source→target': 2 records of seed 0" in message
    assert "run_id cfg-None-0, config 'cfg', method 'kmeans'; run_id other" in message
    assert "run their config again" in message
    # two identical single runs (no run_id): one seed, not two; and no config to run again
    # or to tabulate (what the message advised)
    with pytest.raises(ValueError, match="2 records of seed 0 .no run_id, single run") as info:
        build_tables([_run(0, 0.5, config=None), _run(0, 0.5, config=None)], ["acc"])
    assert "Delete the repeated lines" in str(info.value)
    assert "config" not in str(info.value).split("cell holds one run per seed.")[1]
    # family means too: a seed is one run per pair
    with pytest.raises(ValueError, match="records of seed 0"):
        build_tables(records, ["acc"], by_benchmark=True)


def test_a_cell_holds_one_value_per_distinct_seed():
    with pytest.raises(ValueError, match="one value per distinct seed"):
        Cell([50.0, 60.0], seeds=(0, 0))


def test_oracle_keeps_configs_apart(tmp_path):
    records = [
        {**_run(0, acc, config=c, run_id=f"{c}{lam}"), "grid": {"lam": lam}}
        for c, lam, acc in (("A", 0.1, 0.3), ("A", 1.0, 0.4), ("B", 0.1, 0.9))
    ]
    write_report(records, tmp_path, figures=False)
    oracle = (tmp_path / "oracle_acc.md").read_text()
    assert "| K-means (config=A) (oracle) | 40.0 |" in oracle
    # config B ran one grid point: no choice by target labels, not an oracle row
    assert "| K-means (config=B) | **90.0** |" in oracle


def test_a_family_mean_never_pools_pairs_run_by_other_configurations():
    # cfgA ran pair X, cfgB (other n_init) pair Y: each per-pair cell held one config,
    # so both were one "K-means" row and its family mean was the mean of cfgA on X and
    # cfgB on Y, a result of no configuration.
    records = [{**_run(s, 0.3, config="cfgA", params={"n_init": 1}), "target": "X"} for s in (0, 1)]
    records += [{**_run(s, 0.9, config="cfgB"), "target": "Y"} for s in (0, 1)]
    (pairs,) = build_tables(records, ["acc"])
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    assert pairs.rows == family.rows == ["K-means (config=cfgA)", "K-means (config=cfgB)"]
    assert all(pairs.row_mean(row) is None for row in pairs.rows)
    assert family.cells == {row: {} for row in family.rows}  # neither has every pair


def test_a_family_mean_pools_the_pairs_of_one_configuration():
    records = [{**_run(s, 0.3 + s / 10), "target": t} for s in (0, 1) for t in ("X", "Y")]
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    assert family.rows == ["K-means"]
    assert family.cells["K-means"]["digits"].mean == pytest.approx(35.0)


def test_the_planned_pairs_make_the_family_and_row_means(tmp_path):
    # A sweep stopped after 2 of its 3 pairs: the family mean and the row mean over the
    # pairs that finished read complete (and bold) where the config planned 3.
    records = [
        {**_run(s, 0.3 + s / 10, run_id=f"{t}{s}"), "target": t} for s in (0, 1) for t in "XY"
    ]
    planned = [{**_run(0, 0.0), "target": t} for t in ("X", "Y", "Z")]
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    assert family.cells["K-means"]["digits"].complete  # all the file knows of
    (family,) = build_tables(records, ["acc"], by_benchmark=True, planned=planned)
    assert family.cells == {"K-means": {}}  # no seed has every planned pair
    assert "digits: 3 pair(s)" in family.caption
    (pairs,) = build_tables(records, ["acc"], planned=planned)
    assert pairs.columns == ["digits:source→X", "digits:source→Y", "digits:source→Z"]
    assert pairs.row_mean("K-means") is None
    write_report(records, tmp_path, figures=False, planned=planned)
    assert "| K-means | **35.0 ± 7.1** | **35.0 ± 7.1** | – |" in (tmp_path / "acc.md").read_text()
    assert "| K-means | – |" in (tmp_path / "by_benchmark_acc.md").read_text()


def test_the_oracle_prefers_a_grid_point_with_every_seed_to_a_lucky_incomplete_one(tmp_path):
    records = [_record("g", s, 0.5, grid={"lam": 0.1}) for s in range(3)]
    records.append(_record("g", 0, 0.9, grid={"lam": 1.0}))  # one seed of three ran
    write_report(records, tmp_path, figures=False)
    assert "| g (oracle) | 50.0 ± 0.0 |" in (tmp_path / "oracle_acc.md").read_text()
    # with no complete grid point, the best incomplete one is still shown (never bold)
    write_report(records[2:], tmp_path, figures=False)
    assert "| g (oracle) | 90.0 (n=1/2) |" in (tmp_path / "oracle_acc.md").read_text()


@pytest.mark.parametrize("nan_first", [True, False])
def test_a_nan_score_is_never_best_and_does_not_hide_the_best(tmp_path, nan_first):
    # max() over [nan, 50.0] is nan: with the NaN row first, no cell (nor row mean) was bold
    nan_rows = [_record("a", 0, float("nan"), target=t) for t in ("X", "Y")]
    rows = [_record("b", 0, 0.5, target=t) for t in ("X", "Y")]
    (acc,) = build_tables(nan_rows + rows if nan_first else rows + nan_rows, ["acc"])
    assert "| b | **50.0** | **50.0** | **50.0** |" in to_markdown(acc)
    assert acc.best("digits:source→X") == acc.best("digits:source→Y") == 50.0
    records = [
        _record("g", 0, float("nan"), grid={"lam": 0.1}),
        _record("g", 0, 0.4, grid={"lam": 1.0}),
    ]
    write_report(records if nan_first else records[::-1], tmp_path, figures=False)
    assert "| g (oracle) | 40.0 |" in (tmp_path / "oracle_acc.md").read_text()


def test_an_interrupted_report_leaves_whole_files(tmp_path, monkeypatch):
    # each file is written to a temporary one and then replaces the old: never cut short
    write_report([_record("a", 0, 0.5), _record("b", 0, 0.6)], tmp_path, figures=False)
    old = (tmp_path / "acc.csv").read_text()
    writer = csv.writer

    def failing(fh, *args, **kwargs):
        inner = writer(fh, *args, **kwargs)

        class Half:
            def writerow(self, row):
                if row[0] != "metric":  # the header goes through, the first row does not
                    raise KeyboardInterrupt
                inner.writerow(row)

        return Half()

    monkeypatch.setattr(csv, "writer", failing)
    with pytest.raises(KeyboardInterrupt):
        write_report([_record("a", 0, 0.1), _record("b", 0, 0.2)], tmp_path, figures=False)
    assert (tmp_path / "acc.csv").read_text() == old
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_a_family_mean_table_says_over_how_many_pairs_each_column_is(tmp_path):
    # The family table's columns read "digits": nothing said they were means over pairs,
    # nor over how few (two of a benchmark's pairs read as the benchmark).
    records = [_record("a", s, 0.5, target=t) for t in ("t1", "t2") for s in (0, 1)]
    records += [_record("a", s, 0.5, target="t1", shift=0.9) for s in (0, 1)]
    (family,) = build_tables(records, ["acc"], by_benchmark=True)
    md = to_markdown(family)
    assert "Family means: per seed the mean over the column's pairs" in md
    assert "digits (shift=0.5): 2 pair(s); digits (shift=0.9): 1 pair(s)" in md
    (per_pair,) = build_tables(records, ["acc"])
    assert "Family means" not in to_markdown(per_pair)


def test_the_csv_gives_no_std_for_one_seed(tmp_path):
    # A single run has no spread: the tables show none, the CSV wrote 0.0000.
    records = [_record("a", 0, 0.5), *(_record("b", s, v) for s, v in ((0, 0.6), (1, 0.8)))]
    write_report(records, tmp_path, figures=False)
    rows = {r["method"]: r for r in csv.DictReader((tmp_path / "acc.csv").read_text().splitlines())}
    assert (rows["a"]["mean"], rows["a"]["std"], rows["a"]["n"]) == ("50.0000", "", "1")
    expected = np.std([60.0, 80.0], ddof=1)
    assert (rows["b"]["mean"], rows["b"]["std"]) == ("70.0000", f"{expected:.4f}")


def test_latex_escapes_less_greater_and_bar():
    # In the default OT1 encoding "<", ">" and "|" typeset as "¡", "¿" and an em dash.
    tex = to_latex(build_tables([_record("DTC (lam<1) | k>2", 0, 0.5)])[0])
    row = "{}DTC (lam\\textless{}1) \\textbar{} k\\textgreater{}2 & \\textbf{50.0} \\\\"
    assert row in tex.splitlines()


def test_every_metric_evaluate_records_is_tabulated_by_default(tmp_path):
    # "default: all present", but purity, in every record, was left out
    from dtc.metrics import evaluate

    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    metrics = evaluate(y, pred)
    records = [{**_record("a", s, 0.5), "metrics": metrics} for s in range(2)]
    written = {p.name for p in write_report(records, tmp_path, figures=False)}
    assert {f"{m}.md" for m in metrics} <= written


def test_history_values_that_are_no_numbers_and_isolated_points_are_drawn(tmp_path):
    # a JSON null (pandas' NaN) or a stage name in a history: np.isfinite's TypeError after
    # the tables were written; counters and text keys draw no curve
    from dtc.experiment.plots import curve_keys

    history = [
        {"epoch": 0, "stage": "adapt", "loss": None, "discrepancy": 0.3},
        {"epoch": 1, "loss": 0.5},
    ]
    records = [_record("a", 0, 0.5, history=history)]
    assert curve_keys(records) == ["discrepancy", "loss"]
    written = {p.name for p in write_report(records, tmp_path)}
    assert {
        "curve_loss.png",
        "curve_discrepancy.png",
    } <= written and "curve_stage.png" not in written


def test_markdown_labels_render_as_written_and_a_metric_asked_twice_is_written_once(tmp_path):
    # "<mmd>" was an HTML tag (dropped when rendered), "*x*" emphasis, "\\" ate a character
    records = [_record("DTC <mmd> *x* a\\b & c", s, 0.5) for s in range(2)]
    written = write_report(records, tmp_path, metrics=["acc", "acc"], figures=False)
    assert len(written) == len(set(written)) == 3  # acc.md, .csv, .tex: once each
    md = (tmp_path / "acc.md").read_text()
    assert "| DTC &lt;mmd&gt; \\*x\\* a\\\\b &amp; c |" in md


def test_a_columns_best_is_computed_once_per_column(monkeypatch):
    # best() was asked for every cell and went through every row: rendering was
    # quadratic in the rows (400 rows x 5 columns: 12 s per format).
    from dtc.experiment import report

    records = [
        {**_run(s, 0.1 + r / 100, run_id=f"{r}-{s}"), "label": f"row{r}"}
        for r in range(30)
        for s in (0, 1)
    ]
    (table,) = build_tables(records, ["acc"])
    calls = []
    best = report.ResultTable.best
    monkeypatch.setattr(
        report.ResultTable, "best", lambda self, col: calls.append(col) or best(self, col)
    )
    text = to_markdown(table)
    assert len(calls) == len(table.columns) == 1  # once per rendering and column
    assert "**39.0 ± 0.0**" in text


def test_the_bold_follows_rows_and_cells_edited_after_a_rendering():
    # best() was cached by column alone: a table whose rows were cut after it was shown
    # (or a copy.copy of it, which shares the cache) kept the old best, and nothing was bold
    import copy

    from dtc.experiment.report import ResultTable

    cells = {"A": {"x": Cell([90.0])}, "B": {"x": Cell([80.0])}}
    table = ResultTable("acc", ["A", "B"], ["x"], cells)
    assert "**90.0**" in to_markdown(table)
    cut = copy.copy(table)
    cut.rows, cut.cells = ["B"], {"B": cells["B"]}
    assert "**80.0**" in to_markdown(cut)
    assert "**90.0**" in to_markdown(table)
    # a cell edited in place, and an unranked set (a key of the review's cache refused it)
    table.cells["A"]["x"] = Cell([70.0])
    assert "**80.0**" in to_markdown(table) and "**70.0**" not in to_markdown(table)
    oracle = ResultTable("acc", ["A", "B"], ["x"], cells, unranked={"B"})
    assert "| B | 80.0 |" in to_markdown(oracle) and "**70.0**" in to_markdown(oracle)


def test_a_config_objects_seed_set_to_the_runs_does_not_split_its_row():
    # a config's objects take the run's seed (a sliced Wasserstein loss): their
    # descriptions differ by seed, and the report split one row into one per seed, n=1/2
    swd = {"object": "dtc.align.ot:SlicedWassersteinLoss", "params": {"n_projections": 8}}
    fixed = {**swd, "params": {"n_projections": 8, "seed": 7}}
    records = []
    for seed, acc in ((0, 0.5), (1, 0.7)):
        for label, loss in (
            ("swd", {**swd, "params": {**swd["params"], "seed": seed}}),
            ("swd7", fixed),
        ):
            rec = _record(label, seed, acc)
            rec["params"] = {"seed": seed, "loss": loss}
            records.append(rec)
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["swd", "swd7"]
    assert acc.cells["swd"]["digits:source→target"].n == 2
    # a seed the config fixed is kept whatever its value: equal to one run's seed (0), it
    # was taken for the run's and that run split off its row
    runs = []
    for seed in (0, 1, 2):
        rec = _record("fixed0", seed, 0.5)
        written = {**swd, "params": {"n_projections": 8, "seed": 0}}
        rec["params"] = {"seed": seed, "loss": written}
        rec["spec"] = {"params": {"loss": written}, "seed": seed}
        runs.append(rec)
    (acc,) = build_tables(runs, ["acc"])
    assert acc.rows == ["fixed0"] and acc.cells["fixed0"]["digits:source→target"].n == 3


def test_a_mean_that_rounds_to_zero_reads_0_0_not_minus_0_0():
    # an ARI a hair below zero (-0.0004 of a fraction, -0.04 %) read "-0.0", a sign the
    # table cannot show a reason for
    records = [_record("a", s, v) for s, v in enumerate([-0.0006, -0.0002])]
    md = to_markdown(build_tables(records)[0])
    assert "| a | **0.0 ± 0.0** |" in md and "-0.0" not in md


def test_runs_that_differ_only_in_what_never_changes_a_result_share_a_row():
    # The runner reuses a finished run after `verbose` or `checkpoint_dir` changed; the
    # report split that configuration into two incomplete rows, "(verbose=0)" and "(verbose=1)".
    records = [_run(0, 0.5, params={"verbose": 0, "checkpoint_dir": None})]
    records.append(_run(1, 0.7, params={"verbose": 1, "checkpoint_dir": "/tmp/ckpt"}))
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["K-means"]
    cell = acc.cells["K-means"]["digits:source→target"]
    assert (cell.n, cell.mean) == (2, pytest.approx(60.0))


def test_an_unranked_rows_mean_is_never_bold_even_when_it_reads_as_the_best():
    # An oracle row's row mean that reads as the best one of the rows that chose nothing
    # by target labels is not bold: only those rows are compared (mutation-test gap:
    # the unranked check of the mean column survived)
    from dtc.experiment.report import ResultTable

    cells = {
        "A": {"x": Cell([80.0]), "y": Cell([60.0])},
        "O": {"x": Cell([70.0]), "y": Cell([70.0])},
    }
    text = to_markdown(ResultTable("acc", ["A", "O"], ["x", "y"], cells, unranked={"O"}))
    assert "| A | **80.0** | **60.0** | **70.0** |" in text  # the only ranked row
    assert "| O | 70.0 | 70.0 | 70.0 |" in text


def test_the_oracle_table_reads_only_the_planned_seeds_as_the_tables_do(tmp_path):
    # dtc report --config: the tables leave out runs of seeds not planned; the oracle
    # table named its rows from every record, so a config's old run of another seed
    # renamed row k "k (config=A)", found in no table, and k was left out of it
    records = [_record("g", s, 0.3 + 0.1 * s, grid={"lam": 0.1}) for s in (0, 1)]
    records += [_record("g", s, 0.5, grid={"lam": 1.0}) for s in (0, 1)]
    for seed, config in ((0, "A"), (1, "A"), (5, "B")):
        records.append({**_record("k", seed, 0.4), "config": config, "run_id": f"k{config}{seed}"})
    write_report(records, tmp_path, figures=False, seeds=[0, 1])
    assert "| k | 40.0 ± 0.0 |" in (tmp_path / "acc.md").read_text()
    oracle = (tmp_path / "oracle_acc.md").read_text()
    assert "| g (oracle) | 50.0 ± 0.0 |" in oracle and "| k | **40.0 ± 0.0** |" in oracle
    # a second grid point run only on a seed not planned is no choice among the planned
    # runs: no oracle table
    one = tmp_path / "one"
    written = write_report(records[:2] + records[4:6], one, figures=False, seeds=[0, 1])
    assert not any(p.name.startswith("oracle_") for p in written)
    records[2:4] = [{**records[2], "seed": 7, "run_id": "g7"}]
    written = write_report(records, one, figures=False, seeds=[0, 1])
    assert not any(p.name.startswith("oracle_") for p in written)


def test_a_null_score_read_from_a_results_file_is_nan_never_zero_nor_best(tmp_path):
    # records write NaN as null (strict JSON): read back, it is NaN, not a score of 0.0
    # (mutation-test gap: recorded_number(None) -> 0.0 survived)
    from dtc.experiment.store import append_record

    path = tmp_path / "runs.jsonl"
    for label, target, acc in (("a", "X", None), ("a", "Y", 0.2), ("b", "X", 0.0), ("b", "Y", 0.1)):
        append_record(path, _record(label, 0, 0.0, target=target) | {"metrics": {"acc": acc}})
    write_report(path, tmp_path / "out", figures=False)
    md = (tmp_path / "out" / "acc.md").read_text()
    assert "| a | nan | **20.0** | nan |" in md and "| b | **0.0** | 10.0 | **5.0** |" in md


def test_unique_runs_keeps_the_first_record_of_a_run_id():
    # documented: each run_id once, the first (mutation-test gap: keeping the last survived)
    first = _record("a", 0, 0.5)
    again = {**first, "seconds": 99.0, "history": [{"loss": 1.0}]}
    assert unique_runs([first, again, _record("b", 0, 0.4)])[0] is first


def test_a_preprocessing_swept_for_one_label_names_the_columns_not_rows():
    # documented: a view key (preprocess) that varies among one label's runs names the
    # columns; it names rows only when it differs between labels alone (mutation-test
    # gap: always naming rows survived)
    records = []
    for preprocess, acc in (("raw", 0.4), ("std", 0.6)):
        r = _record("a", 0, acc)
        r["data_params"] = {"shift": 0.5, "preprocess": preprocess}
        r["run_id"] += preprocess
        records.append(r)
    (acc,) = build_tables([*records, _record("b", 0, 0.5)], ["acc"])
    assert acc.rows == ["a", "b"]
    assert acc.columns == [
        "digits:source→target (preprocess=raw)",
        "digits:source→target (preprocess=std)",
        "digits:source→target (preprocess=standard)",  # b's, the default
    ]


def test_realised_ratios_of_a_family_are_listed_by_value():
    # 9.50 before 10.00 (as text, "10.00" came first; mutation-test gap)
    records = []
    for target, realised in (("Y", 10.0), ("X", 9.5)):
        r = _record("a", 0, 0.5, target=target)
        r["data_params"] = {"imbalance_ratio": 10}
        r["realised_ratio"] = realised
        records.append(r)
    (acc,) = build_tables(records, ["acc"], by_benchmark=True)
    assert acc.caption.endswith("digits: 9.50 / 10.00.")  # one ratio asked: no column key
