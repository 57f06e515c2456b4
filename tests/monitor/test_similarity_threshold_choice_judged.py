"""scripts/similarity_threshold_choice.py refuses checks made with the similarity judged
(a ``dissimilar_source`` verdict): each candidate threshold must be the only one applied."""

import json

import pytest


def test_checks_that_judged_the_similarity_are_refused(load_script, tmp_path, capsys):
    rows = [
        {
            "case": "a",
            "kind": "positive",
            "benchmark": "digits",
            "applies": True,
            "similarity": [0.6, 0.6, 0.6],
            "similarities": [0.6],
            "verdicts": [None],
        },
        {
            "case": "b",
            "kind": "negative",
            "benchmark": "digits",
            "applies": True,
            "similarity": [0.1, 0.1, 0.1],
            "similarities": [0.1],
            "verdicts": ["dissimilar_source"],
        },
    ]
    path = tmp_path / "checks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SystemExit) as exit_:
        load_script("similarity_threshold_choice").main([str(path)])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert f"{path}: its verdicts judge the similarity (dissimilar_source)" in error
    assert "--min-similarity none" in error
