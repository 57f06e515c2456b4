"""Figures of experiment results."""

from __future__ import annotations

import warnings

import numpy as np
from matplotlib.axes import Axes

from dtc.experiment.plots import curves_figure, mean_curve
from dtc.experiment.report import build_tables


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


def test_curves_figure_leaves_gaps_without_warnings(tmp_path):
    records = [
        _record("a", [{"loss": 1.0}, {"loss": 0.5, "align": 0.2}]),
        _record("b", [{"loss": 0.8}, {"loss": 0.4, "align": 0.4}], seed=1),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = curves_figure(records, "align", tmp_path / "align.png")
    assert path.exists() and path.stat().st_size > 0


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
