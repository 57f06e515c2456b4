"""Fixtures shared by the monitor tests."""

from __future__ import annotations

import pytest


def _similarity_row(case, kind, benchmark, sims, verdicts=None):
    verdicts = verdicts or [None] * len(sims)
    return {
        "case": case,
        "kind": kind,
        "benchmark": benchmark,
        "applies": True,
        "verdicts": verdicts,
        "similarities": sims,
    }


@pytest.fixture
def similarity_rows() -> list[dict]:
    """``--checks-only --json`` rows of scripts/negative_transfer.py for rule #13's choice of
    a similarity threshold (scripts/similarity_threshold_choice.py): five positive and three
    negative cases, two checks each, whose rates under each candidate are known by hand."""
    row = _similarity_row
    return [
        # positives: pixels 0.45 (flagged by B only), SURF 0.7 and a nan (never flagged)
        row("p_matched", "positive", "digits", [0.45, 0.45]),
        row("q_matched", "positive", "office_caltech10_surf", [0.7, float("nan")]),
        row("r", "positive", "digits", [0.8, 0.8]),
        row("s", "positive", "coil20", [0.9] * 2),
        row("t", "positive", "coil20", [0.9] * 2),
        # negatives: pixels 0.38 (B, C), SURF 0.45 (B, C), a noisy source (every candidate)
        row("n_crossed", "negative", "mnist_usps", [0.38, 0.38]),
        row("m_crossed", "negative", "office_caltech10_surf", [0.45, 0.55]),
        row("o_crossed", "negative", "digits", [0.7, None], ["noisy_source", "unrelated_source"]),
    ]
