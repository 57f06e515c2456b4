"""scripts/checkpoint_outcomes.py: a case name not in the case set is a usage error that
names the set, before anything is trained."""

import pytest


def test_a_case_of_no_case_set_is_a_usage_error(load_script, capsys):
    script = load_script("checkpoint_outcomes")
    with pytest.raises(SystemExit) as exit_:
        script.main(["no_such_case", "--case-set", "fresh10"])
    assert exit_.value.code == 2
    assert "error: no case 'no_such_case' in the fresh10 set" in capsys.readouterr().err
