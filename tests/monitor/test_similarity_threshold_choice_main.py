"""scripts/similarity_threshold_choice.py run on a ``--checks-only --json`` file: each
candidate's FA and DET by hand, and the rule's choice, as its last line."""

import json


def test_main_prints_each_candidates_rates_and_the_choice(
    load_script, similarity_rows, tmp_path, capsys
):
    rows = similarity_rows
    path = tmp_path / "fresh.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load_script("similarity_threshold_choice").main([str(path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    # FA: positive checks flagged of 10; DET: negative checks flagged of 6 (A: the noisy
    # source's two; B and C: also 0.38 twice and 0.45 once; B: also the positive 0.45 twice)
    assert last == (
        "rule #13 picks C (A: FA 0.000 DET 0.333, B: FA 0.200 DET 0.833, C: FA 0.000 DET 0.833)"
    )
