"""Report arithmetic against hand-computed small tables (statistics module as reference).

Each test closes a gap a mutation of dtc/experiment/report.py or plots.py left open."""

import csv
import statistics

import pytest

from dtc.experiment.report import build_tables, to_markdown, write_report


def _rec(label, seed, acc, *, target="t"):
    return {
        "run_id": f"{label}-{target}-{seed}",
        "label": label,
        "method": label,
        "benchmark": "digits",
        "source": "s",
        "target": target,
        "seed": seed,
        "metrics": {"acc": acc},
    }


def test_a_cell_is_the_mean_and_sample_std_of_skewed_scores():
    # 10, 20, 60 %: mean 30 (median would be 20), sample std sqrt(700) = 26.46
    records = [_rec("a", s, v) for s, v in enumerate([0.1, 0.2, 0.6])]
    (acc,) = build_tables(records, ["acc"])
    cell = acc.cells["a"]["digits:s→t"]
    assert cell.mean == pytest.approx(statistics.mean([10, 20, 60])) == pytest.approx(30.0)
    assert cell.std == pytest.approx(statistics.stdev([10, 20, 60]))
    assert "| a | **30.0 ± 26.5** |" in to_markdown(acc)


def test_a_row_mean_is_the_mean_over_three_columns():
    # column means 10, 20, 60 %: row mean 30.0 (the median would be 20.0)
    records = [_rec("a", 0, v, target=t) for t, v in zip(("t1", "t2", "t3"), (0.1, 0.2, 0.6))]
    (acc,) = build_tables(records, ["acc"])
    assert acc.row_mean("a") == pytest.approx(statistics.mean([10, 20, 60]))
    assert to_markdown(acc).splitlines()[-1] == "| a | **10.0** | **20.0** | **60.0** | **30.0** |"


def test_an_incomplete_cell_reading_as_the_best_is_not_bold(tmp_path):
    # A (3 seeds) and B (2 of 3 seeds) both read 80.0: only A is bold
    records = [_rec("A", s, 0.8) for s in range(3)] + [_rec("B", s, 0.8) for s in range(2)]
    (acc,) = build_tables(records, ["acc"])
    col = "digits:s→t"
    assert [acc.is_best(acc.cells[r][col], col) for r in ("A", "B")] == [True, False]
    md = to_markdown(acc)
    assert "| A | **80.0 ± 0.0 (n=3)** |" in md and "| B | 80.0 ± 0.0 (n=2/3) |" in md
    write_report(records, tmp_path, figures=False)
    best = {
        r["method"]: r["best"]
        for r in csv.DictReader((tmp_path / "acc.csv").read_text().splitlines())
    }
    assert best == {"A": "1", "B": "0"}


def test_records_listed_twice_count_once():
    # a results file concatenated twice: the same run_ids, the same table (not a clash)
    records = [_rec("a", s, v) for s, v in enumerate([0.1, 0.2, 0.6])]
    (once,) = build_tables(records, ["acc"])
    (twice,) = build_tables(records + [dict(r) for r in records], ["acc"])
    cell = twice.cells["a"]["digits:s→t"]
    assert cell.values == once.cells["a"]["digits:s→t"].values == [10.0, 20.0, 60.0]


def test_bars_are_the_cells_mean_and_sample_std(tmp_path, monkeypatch):
    # on t1, a (10, 20, 60 %) and b (2 of 3 seeds: 40, 50); on t2, a 90 and b 30: bar
    # heights are the cells' means, error bars their sample std, by row and column; an
    # incomplete cell is drawn too
    from matplotlib.figure import Figure

    from dtc.experiment.plots import bar_figure

    records = [_rec("a", s, v, target="t1") for s, v in enumerate([0.1, 0.2, 0.6])]
    records += [_rec("b", s, v, target="t1") for s, v in enumerate([0.4, 0.5])]
    records += [_rec(r, s, v, target="t2") for r, v in (("a", 0.9), ("b", 0.3)) for s in range(3)]
    (acc,) = build_tables(records, ["acc"])
    saved, save = [], Figure.savefig

    def spy(fig, *args, **kwargs):
        saved.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    bar_figure(acc, tmp_path / "acc.png")
    (ax,) = saved[0].axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    # the bars row by row, each over the columns t1, t2
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([30.0, 90.0, 45.0, 30.0])
    # the error bars' half spans, in the same order (every cell has 2 or 3 seeds)
    spans = [abs(s[1][1] - s[0][1]) / 2 for c in ax.collections for s in c.get_segments()]
    stds = [statistics.stdev([10, 20, 60]), 0.0, statistics.stdev([40, 50]), 0.0]
    assert spans == pytest.approx(stds)
