"""scripts/similarity_threshold_choice.py run on a ``--checks-only --json`` file: each
candidate's FA and DET by hand, and the rule's choice, as its last line."""

import json


def _row(case, kind, benchmark, sims, verdicts=None):
    verdicts = verdicts or [None] * len(sims)
    return {
        "case": case,
        "kind": kind,
        "benchmark": benchmark,
        "applies": True,
        "verdicts": verdicts,
        "similarities": sims,
    }


def test_main_prints_each_candidates_rates_and_the_choice(load_script, tmp_path, capsys):
    rows = [
        # positives: pixels 0.45 (flagged by B only), SURF 0.7 and a nan (never flagged)
        _row("p_matched", "positive", "digits", [0.45, 0.45]),
        _row("q_matched", "positive", "office_caltech10_surf", [0.7, float("nan")]),
        _row("r", "positive", "digits", [0.8, 0.8]),
        _row("s", "positive", "coil20", [0.9] * 2),
        _row("t", "positive", "coil20", [0.9] * 2),
        # negatives: pixels 0.38 (B, C), SURF 0.45 (B, C), a noisy source (every candidate)
        _row("n_crossed", "negative", "mnist_usps", [0.38, 0.38]),
        _row("m_crossed", "negative", "office_caltech10_surf", [0.45, 0.55]),
        _row("o_crossed", "negative", "digits", [0.7, None], ["noisy_source", "unrelated_source"]),
    ]
    path = tmp_path / "fresh.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load_script("similarity_threshold_choice").main([str(path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    # FA: positive checks flagged of 10; DET: negative checks flagged of 6 (A: the noisy
    # source's two; B and C: also 0.38 twice and 0.45 once; B: also the positive 0.45 twice)
    assert last == (
        "rule #13 picks C (A: FA 0.000 DET 0.333, B: FA 0.200 DET 0.833, C: FA 0.000 DET 0.833)"
    )
