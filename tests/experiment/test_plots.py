"""Figures of experiment results."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes

from dtc.experiment.plots import curves_figure, mean_curve, tsne_figure
from dtc.experiment.report import build_tables


def _saved_figures(monkeypatch) -> list:
    """The figures saved from now on (the module draws without pyplot: no plt.close)."""
    from matplotlib.figure import Figure

    figures, save = [], Figure.savefig

    def spy(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return figures


def test_drawing_figures_leaves_the_callers_pyplot_backend(tmp_path):
    # matplotlib.use("Agg") at import switched a notebook's backend: plt.show() then
    # showed nothing after a report was written.
    import subprocess
    import sys

    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "from dtc.experiment import plots\n"
        "from dtc.experiment.report import build_tables\n"
        "import pathlib\n"
        "r = dict(run_id='a', label='k', method='kmeans', benchmark='digits', source='s',\n"
        "         target='t', seed=0, metrics={'acc': 0.5})\n"
        "(t,) = build_tables([r], ['acc'])\n"
        f"plots.bar_figure(t, pathlib.Path({str(tmp_path)!r}) / 'acc.png')\n"
        "print(matplotlib.get_backend())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"


def _record(run_id, history, *, seed=0, grid=None, target="target", label="dtc"):
    return {
        "run_id": run_id,
        "label": label,
        "method": "dtc",
        "benchmark": "digits",
        "source": "source",
        "target": target,
        "seed": seed,
        "grid": grid or {},
        "params": {"lr": (grid or {}).get("lr", 0.01)},
        "data_params": {},
        "metrics": {"acc": 0.5},
        "history": history,
    }


def _plotted(monkeypatch, records, key, path):
    """``{line label: y values}`` that :func:`curves_figure` draws."""
    lines, plot = {}, Axes.plot

    def spy(self, *args, **kwargs):
        lines[kwargs.get("label")] = list(args[1])
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", spy)
    curves_figure(records, key, path)
    return lines


def test_mean_curve_by_hand():
    runs = [[1.0, np.nan, 3.0], [3.0, np.nan], [np.nan, np.nan, 5.0, 7.0]]
    np.testing.assert_array_equal(mean_curve(runs), [2.0, np.nan, 4.0, 7.0])


def test_curves_figure_leaves_gaps_without_warnings(tmp_path, monkeypatch):
    # neither seed logged "align" at the first entry: the line has a gap (NaN) there, not
    # a point at 0, and the second entry is the mean of 0.2 and 0.4
    records = [
        _record("a", [{"loss": 1.0}, {"loss": 0.5, "align": 0.2}]),
        _record("b", [{"loss": 0.8}, {"loss": 0.4, "align": 0.4}], seed=1),
    ]
    path = tmp_path / "align.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = _plotted(monkeypatch, records, "align", path)
    assert path.exists() and path.stat().st_size > 0
    assert list(lines) == ["dtc"]
    np.testing.assert_allclose(lines["dtc"], [np.nan, 0.3], rtol=1e-12)


def test_curves_figure_has_a_line_per_table_row_and_column(tmp_path, monkeypatch):
    """Runs of one label at two grid points are two rows of the tables, so two lines;
    seeds of one cell are averaged; another pair is another line; a run_id twice counts
    once."""

    def hist(x):
        return [{"epoch": i, "recon": x} for i in range(3)]

    a = _record("a", hist(1.0), grid={"lr": 0.1})
    records = [
        a,
        _record("a1", hist(3.0), grid={"lr": 0.1}, seed=1),
        _record("b", hist(5.0), grid={"lr": 0.001}),
    ]
    rows = build_tables(records, ["acc"])[0].rows
    lines = _plotted(monkeypatch, records, "recon", tmp_path / "c.png")
    assert list(lines) == rows == ["dtc [lr=0.1]", "dtc [lr=0.001]"]
    assert lines["dtc [lr=0.1]"] == [2.0] * 3 and lines["dtc [lr=0.001]"] == [5.0] * 3

    records = [a, a, _record("c", hist(7.0), grid={"lr": 0.1}, target="other")]
    lines = _plotted(monkeypatch, records, "recon", tmp_path / "d.png")
    assert lines == {
        "dtc [lr=0.1], digits:source→target": [1.0] * 3,
        "dtc [lr=0.1], digits:source→other": [7.0] * 3,
    }


def test_tsne_figure_keeps_each_target_row_with_its_cluster(tmp_path, monkeypatch):
    """Subsampled to ``max_points`` per domain, each target row keeps its own cluster colour:
    here the cluster is the sign of the first coordinate, so the colours drawn must match the
    target rows that t-SNE embedded."""
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(0)
    zs, zt = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    clusters = (zt[:, 0] > 0).astype(int)
    seen, drawn = [], []
    fit = TSNE.fit_transform

    def spy_fit(self, X, *args, **kwargs):
        seen.append(np.array(X))
        return fit(self, X, *args, **kwargs)

    scatter = Axes.scatter

    def spy_scatter(self, *args, **kwargs):
        drawn.append((len(args[0]), kwargs.get("c")))
        return scatter(self, *args, **kwargs)

    monkeypatch.setattr(TSNE, "fit_transform", spy_fit)
    monkeypatch.setattr(Axes, "scatter", spy_scatter)
    from dtc.experiment.plots import tsne_figure

    path = tsne_figure(
        {"before": (zs, zt, clusters), "after": (zs, zt, clusters)},
        tmp_path / "tsne.png",
        max_points=20,
        title="t",
    )
    assert path.exists() and path.stat().st_size > 0
    assert len(seen) == 2 and all(z.shape == (40, 3) for z in seen)  # 20 source + 20 target
    # Per panel row: source by domain, target by domain, target by cluster.
    for z, (n_src, _), (n_tgt, _), (n_clu, colours) in zip(
        seen, drawn[0::3], drawn[1::3], drawn[2::3]
    ):
        assert (n_src, n_tgt, n_clu) == (20, 20, 20)
        np.testing.assert_array_equal(colours, (z[20:, 0] > 0).astype(int))
        # the rows come from the inputs, each domain from its own
        assert all((zs == row).all(1).any() for row in z[:20])
        assert all((zt == row).all(1).any() for row in z[20:])
    # before and after show the same samples (the second panel drew other rows)
    np.testing.assert_array_equal(seen[0], seen[1])


def test_an_interrupted_figure_leaves_the_old_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "curve_loss.png"
    path.write_bytes(b"old")

    def half(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", half)
    with pytest.raises(KeyboardInterrupt):
        curves_figure([_record("r", [{"loss": 1.0}, {"loss": 0.5}])], "loss", path)
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]


def test_history_keys_that_are_no_file_names_get_curves_of_their_own(tmp_path):
    # A user's method may name its history entries "loss/align": the curve's file was
    # curve_loss/align.png, in a folder that does not exist, and the report failed.
    from dtc.experiment.report import write_report

    history = [{"loss/align": 1.0, "loss_align": 2.0, "ok": 3.0}]
    written = write_report([_record("a", history), _record("b", history, seed=1)], tmp_path)
    curves = sorted(p.name for p in written if p.name.startswith("curve_"))
    assert len(curves) == 3 and "curve_ok.png" in curves and "curve_loss_align.png" in curves
    # "loss/align" made safe is "loss_align", another key's name: never the same file
    # (mutation-test gap: without the hash both wrote curve_loss_align.png)
    assert len(set(curves)) == 3
    assert all(p.parent == tmp_path and p.is_file() for p in written)


def test_a_bar_of_a_cell_missing_seeds_is_hatched(tmp_path, monkeypatch):
    """The tables mark a cell with fewer seeds n=k/m; its bar looked like the others."""
    from dtc.experiment.plots import bar_figure

    records = [_record(f"a{s}", [], seed=s, label="a") for s in range(3)]
    records += [_record("b0", [], seed=0, label="b")]
    (table,) = build_tables(records, ["acc"])
    figures = _saved_figures(monkeypatch)
    bar_figure(table, tmp_path / "acc.png")
    (ax,) = figures[0].axes
    assert [p.get_hatch() for p in ax.patches] == [None, "//"]  # a complete, b n=1/3
    assert "hatched" in ax.get_title()
    # a table without such a cell says nothing of hatching (mutation-test gap)
    (complete,) = build_tables(records[:3], ["acc"])
    bar_figure(complete, tmp_path / "complete.png")
    assert "hatched" not in figures[1].axes[0].get_title()


def test_every_row_is_named_in_the_legends_and_a_cell_without_a_value_marked(tmp_path, monkeypatch):
    """matplotlib leaves out of an automatic legend a label starting with "_": the row
    "_base" was drawn and unnamed, in the bars and the curves. A cell whose runs have no
    value (NaN) drew no bar and no mark, as a cell without runs."""
    from dtc.experiment.plots import bar_figure

    hist = [{"epoch": 0, "recon": 1.0}]
    records = [_record(f"a{s}", hist, seed=s, label="_base") for s in range(2)]
    records += [_record(f"b{s}", hist, seed=s, label="dtc") for s in range(2)]
    for r in records[2:]:
        r["metrics"] = {"acc": float("nan")}
    (table,) = build_tables(records, ["acc"])
    figures = _saved_figures(monkeypatch)
    bar_figure(table, tmp_path / "acc.png")
    curves_figure(records, "recon", tmp_path / "recon.png")
    bars, curves = (fig.axes[0] for fig in figures)
    for ax in (bars, curves):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["_base", "dtc"]
    assert "n/a" in [t.get_text() for t in bars.texts] and "n/a" in bars.get_title()


def test_tsne_figure_of_a_few_points(tmp_path):
    """Below 4 points the perplexity was n // 4 = 0, which scikit-learn refuses with an
    error naming no panel; 3 points are drawn, 2 are a clear error."""
    rng = np.random.default_rng(0)
    panel = (rng.normal(size=(1, 3)), rng.normal(size=(2, 3)), np.array([0, 1]))
    assert tsne_figure({"few": panel}, tmp_path / "few.png").exists()
    with pytest.raises(ValueError, match="panel 'two' has 2 points; t-SNE needs at least 3"):
        tsne_figure({"two": (panel[0], panel[1][:1], panel[2][:1])}, tmp_path / "two.png")


def test_counters_get_no_curve_of_their_own(tmp_path):
    # DTC's self-training rounds (and a baseline's iterations) count, as epochs do: they
    # had curves of their own, curve_round.png, a staircase of 1, 2, 3
    from dtc.experiment.report import write_report

    history = [
        {"epoch": e, "round": e // 2, "iteration": e, "loss": 1.0 / (e + 1)} for e in range(4)
    ]
    written = write_report([_record("a", history), _record("b", history, seed=1)], tmp_path)
    assert sorted(p.name for p in written if p.name.startswith("curve_")) == ["curve_loss.png"]


def _acc_records(rows, columns, seeds=(0, 1), skip=()):
    """Records of ``rows`` x ``columns`` (targets) x ``seeds``, ACC a distinct number per
    run; ``skip``: the (row, column) cells without a run."""
    out = []
    for i, row in enumerate(rows):
        for j, col in enumerate(columns):
            if (row, col) in skip:
                continue
            for s in seeds:
                r = _record(f"{row}-{col}-{s}", [], seed=s, target=col, label=row)
                r["metrics"] = {"acc": (i + j + 5 * s) / 100}
                out.append(r)
    return out


def test_a_wide_table_is_drawn_in_panels_with_a_colour_per_row(tmp_path, monkeypatch):
    """A 29 x 36 table was one strip 36,584 x 466 px, and the default colour cycle drew
    rows 0 and 10 alike. The panels share the y axis and hold every column once, in
    order, with bars whose heights are the cells' means."""
    from dtc.experiment.plots import MAX_PANEL_WIDTH_IN, bar_figure

    rows = [f"m{i:02d}" for i in range(25)]
    columns = [f"t{j:02d}" for j in range(12)]
    (table,) = build_tables(_acc_records(rows, columns), ["acc"])
    figures = _saved_figures(monkeypatch)
    bar_figure(table, tmp_path / "acc.png")
    axes = figures[0].axes
    assert len(axes) == 3 and figures[0].get_figwidth() <= MAX_PANEL_WIDTH_IN
    ticks = [t.get_text() for ax in axes for t in ax.get_xticklabels()]
    assert ticks == table.columns
    heights = np.array([[p.get_height() for p in ax.patches] for ax in axes])
    # per panel: the rows one after the other, each over the panel's columns
    means = [
        [table.cells[r][c].mean for r in table.rows for c in table.columns[k : k + 4]]
        for k in (0, 4, 8)
    ]
    np.testing.assert_allclose(heights, means)
    face = {tuple(p.get_facecolor()) for p in axes[0].patches}
    assert len(face) == 25
    legend = axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == rows


def test_error_bars_are_the_std_and_absent_for_one_seed(tmp_path, monkeypatch):
    """A one-seed cell drew a zero-length bar with caps (the tables print no "± 0.0"); a
    cell without a run looked like a score of 0; a row's legend swatch was hatched when
    its first cell missed seeds."""
    from dtc.experiment.plots import bar_figure

    records = _acc_records(["a", "b"], ["x", "y"], skip={("b", "y")})
    records = [r for r in records if not (r["label"] == "a" and r["target"] == "x" and r["seed"])]
    records += _acc_records(["c"], ["x", "y"], seeds=(0,))
    (table,) = build_tables(records, ["acc"])
    figures = _saved_figures(monkeypatch)
    bar_figure(table, tmp_path / "acc.png")
    (ax,) = figures[0].axes
    # error bars: only b@x (2 seeds), a@y (2 seeds); a@x lost seed 1, c has one seed
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    spans = sorted(round(abs(s[1][1] - s[0][1]) / 2, 6) for s in segments)
    x, y = table.columns
    expected = sorted(round(table.cells[r][c].std, 6) for r, c in [("a", y), ("b", x)])
    assert spans == expected and all(s > 0 for s in spans)
    assert [t.get_text() for t in ax.texts] == ["no run"]  # b@y
    title = ax.get_title()
    assert "std over seeds (ddof=1)" in title and "hatched" in title
    assert [p.get_hatch() for p in ax.get_legend().get_patches()] == [None] * 3
    assert ax.patches[0].get_hatch() == "//"  # a@x: one of two seeds


def test_a_report_of_chosen_seeds_draws_curves_of_those_seeds(tmp_path, monkeypatch):
    """write_report(seeds=[0]) left seed 1 out of the tables and averaged it into the
    curves."""
    from dtc.experiment.report import write_report

    records = [_record("a", [{"recon": 1.0}]), _record("b", [{"recon": 3.0}], seed=1)]
    lines, plot = {}, Axes.plot

    def spy(self, *args, **kwargs):
        lines[kwargs.get("label")] = list(args[1])
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", spy)
    write_report(records, tmp_path, seeds=[0])
    assert lines == {"dtc": [1.0]}


def test_a_curve_averages_finite_values_only_and_flags_are_no_curve():
    # documented: the mean over the runs that recorded a finite value at that epoch (an
    # inf is none); a True / False entry is no real number, no curve (mutation-test gaps)
    from dtc.experiment.plots import curve_keys

    assert mean_curve([[1.0, np.inf], [3.0, 2.0]]).tolist() == [2.0, 2.0]
    assert curve_keys([{"history": [{"done": True, "x": 1.0}, {"done": False}]}]) == ["x"]


def test_columns_that_do_not_fit_one_panel_take_as_many_panels_as_they_need(tmp_path, monkeypatch):
    # one row: a group is 0.5 + 0.12 in wide, 22 to a 14 in panel; 30 columns need two
    # panels of 15, never one panel wider than MAX_PANEL_WIDTH_IN (mutation-test gap:
    # the panel count rounded down survived)
    from dtc.experiment.plots import MAX_PANEL_WIDTH_IN, bar_figure
    from dtc.experiment.report import Cell, ResultTable

    columns = [f"c{i}" for i in range(30)]
    table = ResultTable("acc", ["a"], columns, {"a": {c: Cell([50.0]) for c in columns}})
    figures = _saved_figures(monkeypatch)
    bar_figure(table, tmp_path / "acc.png")
    axes = figures[0].axes
    assert [len(ax.get_xticks()) for ax in axes] == [15, 15]
    assert figures[0].get_figwidth() <= MAX_PANEL_WIDTH_IN
