"""Figures of experiment results."""

from __future__ import annotations

import warnings

import numpy as np

from dtc.experiment.plots import curves_figure, mean_curve


def test_mean_curve_by_hand():
    runs = [[1.0, np.nan, 3.0], [3.0, np.nan], [np.nan, np.nan, 5.0, 7.0]]
    np.testing.assert_array_equal(mean_curve(runs), [2.0, np.nan, 4.0, 7.0])


def test_curves_figure_leaves_gaps_without_warnings(tmp_path):
    records = [
        {"method": "dtc", "history": [{"loss": 1.0}, {"loss": 0.5, "align": 0.2}]},
        {"method": "dtc", "history": [{"loss": 0.8}, {"loss": 0.4, "align": 0.4}]},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = curves_figure(records, "align", tmp_path / "align.png")
    assert path.exists() and path.stat().st_size > 0
