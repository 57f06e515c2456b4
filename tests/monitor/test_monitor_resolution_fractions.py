"""scripts/monitor_resolution.py: ``--fractions`` outside (0, 1) is a usage error before any
run file or case is read."""

import pytest


@pytest.mark.parametrize("fractions", [["0"], ["0.1", "1.5"], ["-0.2"]])
def test_fractions_outside_0_1_are_refused(load_script, capsys, fractions):
    script = load_script("monitor_resolution")
    with pytest.raises(SystemExit) as exit_:
        script.main(["--fractions", *fractions, "--runs", "no_such_file.jsonl"])
    assert exit_.value.code == 2
    expected = [float(f) for f in fractions]
    assert f"--fractions must lie in (0, 1), got {expected}" in capsys.readouterr().err
