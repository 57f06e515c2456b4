"""scripts/checkpoint_outcomes.py run whole on a digits case (a fit of 1 + 10 epochs): it
replays every kept checkpoint, and the checkpoint the guarded fit shipped (the one rollback
restored, else the last) replays to the guarded fit's own ACC (the other tests faked the
fit and the replay)."""

import re


def test_the_shipped_checkpoint_replays_to_the_guarded_acc(load_script, capsys):
    script = load_script("checkpoint_outcomes")
    argv = ["digits_s32", "--pretrain-epochs", "1", "--adapt-epochs", "10", "--threads", "1"]
    assert script.main(argv) == 0
    captured = capsys.readouterr()
    assert "fitting the guarded DTC on digits_s32 (seed 0)" in captured.err
    head, *lines = captured.out.strip().splitlines()
    found = re.match(
        r"digits_s32 seed 0: guarded ACC (\S+), target-only \S+, last check's "
        r"decision (\S+)$",
        head,
    )
    assert found, head
    guarded, decision = found.groups()
    accs = {}
    for line in lines:
        row = re.match(
            r"  checkpoint +(-?\d+): check score \d\.\d{3}, final partition's score "
            r"\d\.\d{3} \(reference \d\.\d{3}\), its ACC (\S+)$",
            line,
        )
        assert row, line
        accs[int(row[1])] = row[2]
    # the start of the adaptation, then the monitor's checks every 5 epochs (the last one's)
    assert list(accs) == [-1, 4, 9]
    restored = re.search(r"restore_epoch_(\d+)", decision)
    if restored:
        assert accs[int(restored[1])] == guarded
    elif decision.startswith("ok"):
        assert accs[9] == guarded
