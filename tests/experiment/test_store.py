"""The results store: whole lines only, a cut last line never glued onto, stale records moved;
a Ctrl-C says where the finished runs are kept."""

import json
import os
import signal
import threading

import numpy as np
import pytest

from dtc.experiment.store import (
    Terminated,
    append_record,
    exit_on_interrupt,
    interrupted_message,
    locked_file,
    read_records,
    record_json,
    replace_file,
    set_aside,
    terminate_as_interrupt,
    write_records,
)


def test_append_after_a_cut_line_cuts_it_off_instead_of_gluing_onto_it(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_record(path, {"run": 1})
    with path.open("a") as fh:  # a crash in the middle of a write
        fh.write('{"run": 2, "ac')
    # the cut run is not finished, and the reader says so (a hand edit gone wrong reads the
    # same: its run was left out, then removed, without a word)
    with pytest.warns(RuntimeWarning, match=r"runs\.jsonl: line 2 is incomplete \(14 bytes"):
        assert read_records(path) == [{"run": 1}]
    with pytest.warns(RuntimeWarning, match=r"removed an incomplete last line \(14 bytes: b'"):
        append_record(path, {"run": 3})
    assert path.read_text().splitlines() == ['{"run": 1}', '{"run": 3}']
    assert read_records(path) == [{"run": 1}, {"run": 3}]


@pytest.mark.skipif(os.name != "posix", reason="the append lock is flock, POSIX only")
def test_an_append_waits_for_another_writer_instead_of_cutting_its_line(tmp_path):
    # Two `dtc run` at once append to one results/runs.jsonl. Without the lock, the
    # second saw the first's line half written, took it for a cut line and removed it.
    import fcntl

    path = tmp_path / "runs.jsonl"
    append_record(path, {"run": 1})
    with path.open("a") as other:  # another process, in the middle of its append
        fcntl.flock(other, fcntl.LOCK_EX)
        other.write('{"run": 2, "ac')
        other.flush()
        ours = threading.Thread(target=append_record, args=(path, {"run": 3}))
        ours.start()
        ours.join(timeout=0.5)
        assert ours.is_alive()  # waiting for the lock, not cutting the line
        other.write('c": 0.5}\n')
        other.flush()
        fcntl.flock(other, fcntl.LOCK_UN)
    ours.join(timeout=10)
    assert not ours.is_alive()
    assert read_records(path) == [{"run": 1}, {"acc": 0.5, "run": 2}, {"run": 3}]


def test_a_file_holding_only_a_cut_line_is_emptied_before_the_append(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"half')
    with pytest.warns(RuntimeWarning, match="removed an incomplete last line"):
        append_record(path, {"a": 1})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"a": 1}]


def test_a_corrupt_line_in_the_middle_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"a": 1}\n{"b": \n{"c": 3}\n')
    with pytest.raises(ValueError, match=r"runs\.jsonl: corrupt results line 2: "):
        read_records(path)


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")  # said: test_store
def test_a_file_that_is_not_utf8_is_an_error_naming_the_file_and_line(tmp_path):
    # the error was only "'utf-8' codec can't decode byte 0xcf ...": no file, no line
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b'{"a": 1}\r\n{"b": "\xcf\x00"}\n')
    message = r"runs\.jsonl: results line 2 is not UTF-8 text \(invalid continuation byte"
    with pytest.raises(ValueError, match=message):
        read_records(path)
    # a last line cut short inside a character is a cut line (its run is not finished)
    path.write_bytes(b'{"a": 1}\n{"b": "\xc3\xa9\xc3')
    assert read_records(path) == [{"a": 1}]
    # but a whole last line with a byte that is no UTF-8 is not dropped as one
    for data in (b'{"a": 1}\n{"b": "caf\xe9"}', b'{"b": "caf\xe9"}'):
        path.write_bytes(data)
        with pytest.raises(ValueError, match=r"results line \d is not UTF-8 text"):
            read_records(path)
    # lines that end in a lone \r, as text mode read them; an append keeps them (the file
    # was cut to nothing, its last line taken for a cut one)
    for data, expected in (
        (b'{"a": 1}\r{"b": 2}\r', [{"a": 1}, {"b": 2}]),
        (b'{"a": 1}\r{"b": 2}', [{"a": 1}, {"b": 2}]),  # a whole last record
        (b'{"a": 1}\r{"b": ', [{"a": 1}]),  # a cut one
    ):
        path.write_bytes(data)
        assert read_records(path) == expected
        append_record(path, {"c": 3})
        assert read_records(path) == [*expected, {"c": 3}]


def test_a_line_that_is_not_a_record_is_an_error_naming_the_file_and_line(tmp_path):
    # a list was read as a record and crashed the reader later ('list' has no 'get')
    path = tmp_path / "runs.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n')
    message = r"runs\.jsonl: line 3 is not a run record \(expected a JSON object, got list\)"
    with pytest.raises(ValueError, match=message):
        read_records(path)
    # check: what is wrong with a record, or None
    path.write_text('{"a": 1}\n{"b": 2}\n')

    def check(record):
        return None if "a" in record else "missing 'a'"

    with pytest.raises(
        ValueError, match=r"runs\.jsonl: line 2 is not a run record \(missing 'a'\)"
    ):
        read_records(path, check=check)
    assert read_records(path) == [{"a": 1}, {"b": 2}]


def test_set_aside_moves_flagged_records_and_keeps_the_others_in_order(tmp_path):
    path, stale = tmp_path / "runs.jsonl", tmp_path / "runs.stale.jsonl"
    records = [{"i": i} for i in range(4)]
    write_records(path, records)
    assert set_aside(path, records, [False] * 4, stale) == records and not stale.exists()
    kept = set_aside(path, records, [False, True, False, True], stale)
    assert kept == read_records(path) == [{"i": 0}, {"i": 2}]
    assert read_records(stale) == [{"i": 1}, {"i": 3}]
    with pytest.raises(ValueError, match="2 flags for 4 records"):
        set_aside(path, records, [True, False], stale)


def test_set_aside_keeps_a_record_appended_after_its_records_were_read(tmp_path):
    # dtc_benchmark.py in two terminals on one --out: the first set aside its stale rows by
    # rewriting the file from what it had read, and the second's finished rows were lost.
    path, stale = tmp_path / "runs.jsonl", tmp_path / "runs.stale.jsonl"
    records = [{"i": i} for i in range(3)]
    write_records(path, records)
    append_record(path, {"i": 9})  # another process's run, after `records` were read
    kept = set_aside(path, records, [False, True, False], stale)
    assert kept == read_records(path) == [{"i": 0}, {"i": 2}, {"i": 9}]
    assert read_records(stale) == [{"i": 1}]


@pytest.mark.skipif(os.name != "posix", reason="the append lock is flock, POSIX only")
def test_an_append_that_waited_on_a_replaced_file_writes_to_the_new_one(tmp_path):
    # An append waiting for the lock of the file set_aside was replacing wrote, once the
    # lock was free, into the replaced (removed) file: its run was lost.
    path = tmp_path / "runs.jsonl"
    write_records(path, [{"i": 0}, {"i": 1}])
    with locked_file(path):  # set_aside's lock, held while it rewrites the file
        ours = threading.Thread(target=append_record, args=(path, {"i": 2}))
        ours.start()
        ours.join(timeout=0.5)
        assert ours.is_alive()  # waiting for the lock
        write_records(path, [{"i": 0}])
    ours.join(timeout=10)
    assert not ours.is_alive()
    assert read_records(path) == [{"i": 0}, {"i": 2}]


def test_append_and_read(tmp_path):
    path = tmp_path / "sub" / "runs.jsonl"
    append_record(path, {"a": 1, "x": np.float32(0.5), "v": np.arange(2)})
    append_record(path, {"a": 2})
    assert read_records(path) == [{"a": 1, "v": [0, 1], "x": 0.5}, {"a": 2}]
    # a set as its sorted items: str() wrote "{10, 2}", which no reader takes back
    append_record(path, {"s": {10, 2}, "t": frozenset({"b", "a"})})
    assert read_records(path)[-1] == {"s": [2, 10], "t": ["a", "b"]}


def test_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_record(path, {"a": 1})
    with path.open("a") as fh:
        fh.write('{"a": 2, "b"')  # a write cut short by a crash
    with pytest.warns(RuntimeWarning, match="left out as a run not finished"):
        assert read_records(path) == [{"a": 1}]
    # cut inside the last character (a two-byte "é" less its last byte): said alike
    path.write_bytes(b'{"a": 1}\n{"label": "\xc3')
    with pytest.warns(RuntimeWarning, match=r"line 2 is incomplete \(12 bytes"):
        assert read_records(path) == [{"a": 1}]


def test_a_whole_last_record_without_its_newline_is_read_and_ended(tmp_path):
    # A file rewritten with "\n".join: its last run was hidden (run again by the next
    # sweep), and the next append truncated it away: a finished run lost.
    path = tmp_path / "r.jsonl"
    path.write_text('{"run_id": "a"}\n{"run_id": "b"}')
    assert read_records(path) == [{"run_id": "a"}, {"run_id": "b"}]
    append_record(path, {"run_id": "c"})
    assert read_records(path) == [{"run_id": "a"}, {"run_id": "b"}, {"run_id": "c"}]
    assert path.read_text().endswith('{"run_id": "b"}\n{"run_id": "c"}\n')


def test_two_replacements_of_one_file_at_once_do_not_collide(tmp_path):
    # Two reports into one folder shared the temporary ".acc.tmp.md": one moved the
    # other's file away, which then failed "No such file or directory".
    path = tmp_path / "acc.md"
    with replace_file(path) as first, replace_file(path) as second:
        assert first != second
        first.write_text("one")
        second.write_text("two")
    assert path.read_text() == "one" and sorted(tmp_path.iterdir()) == [path]


def test_missing_file_has_no_records(tmp_path):
    assert read_records(tmp_path / "none.jsonl") == []


def test_replace_file_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "acc.md"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt), replace_file(path) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".md"
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]
    with replace_file(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new" and sorted(tmp_path.iterdir()) == [path]


def test_an_interrupt_is_one_line_saying_where_the_runs_are_kept_and_exit_130(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_, exit_on_interrupt("sweep.py", tmp_path / "runs.jsonl"):
        raise KeyboardInterrupt
    assert exit_.value.code == 130
    assert exit_.value.__suppress_context__  # no KeyboardInterrupt traceback chained
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"sweep.py: interrupted; the runs that finished are kept in {tmp_path / 'runs.jsonl'}: "
        "run the same command again to resume\n"
    )


def test_an_interrupt_with_nothing_kept_says_so(capsys):
    with pytest.raises(SystemExit) as exit_, exit_on_interrupt("sweep.py", None):
        raise KeyboardInterrupt
    assert exit_.value.code == 130
    assert capsys.readouterr().err == (
        "sweep.py: interrupted; the runs that finished were not kept: "
        "running the same command again starts over\n"
    )


def test_sigterm_in_the_block_is_an_interrupt_with_exit_143(tmp_path, capsys):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_, exit_on_interrupt("sweep.py", tmp_path):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # let the handler run here, not after the block
    assert exit_.value.code == 143
    assert capsys.readouterr().err.startswith("sweep.py: interrupted; the runs that finished")
    assert signal.getsignal(signal.SIGTERM) == before  # restored


def test_terminate_as_interrupt_raises_terminated_and_restores_the_handler():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) != before
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)
    assert issubclass(Terminated, KeyboardInterrupt) and Terminated.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) == before
    # off the main thread no handler can be set: the block runs unchanged
    seen = []

    def off_main():
        with terminate_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=off_main)
    thread.start()
    thread.join()
    assert seen == [before]


def test_a_block_that_ends_otherwise_is_left_alone(tmp_path, capsys):
    with exit_on_interrupt("sweep.py", tmp_path):
        done = True
    assert done
    with pytest.raises(ValueError, match="boom"), exit_on_interrupt("sweep.py", tmp_path):
        raise ValueError("boom")
    with pytest.raises(SystemExit) as exit_, exit_on_interrupt("sweep.py", tmp_path):
        raise SystemExit(2)  # a usage error keeps its code
    assert exit_.value.code == 2
    assert capsys.readouterr() == ("", "")


def test_the_message_is_dtc_runs(tmp_path):
    """``dtc run`` and the scripts say the same line (``dtc run`` prints it with rich)."""
    assert interrupted_message("cfg", tmp_path) == (
        f"cfg: interrupted; the runs that finished are kept in {tmp_path}: "
        "run the same command again to resume"
    )


def test_set_aside_appends_the_stale_records_before_rewriting_the_file(tmp_path, monkeypatch):
    """A crash between the two writes loses nothing: the stale records are already in the
    stale file when the records file is rewritten."""
    from dtc.experiment import store

    path, stale = tmp_path / "runs.jsonl", tmp_path / "runs.stale.jsonl"
    records = [{"i": 0}, {"i": 1}]
    write_records(path, records)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_records", crash)
    with pytest.raises(OSError, match="disk full"):
        set_aside(path, records, [False, True], stale)
    assert read_records(stale) == [{"i": 1}] and read_records(path) == records
    # the next sweep sets the same record aside again: the stale file keeps one copy
    monkeypatch.undo()
    assert set_aside(path, records, [False, True], stale) == [{"i": 0}]
    assert read_records(stale) == [{"i": 1}] and read_records(path) == [{"i": 0}]


def test_write_records_interrupted_midway_leaves_the_old_file(tmp_path):
    path = tmp_path / "runs.jsonl"
    write_records(path, [{"i": 0}, {"i": 1}])

    def records():
        yield {"i": 9}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_records(path, records())
    assert read_records(path) == [{"i": 0}, {"i": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.jsonl"]


def _strict(constant):
    raise ValueError(f"not JSON: {constant}")


def test_records_are_strict_json_with_null_for_nan_and_the_infinities(tmp_path):
    # json.dumps wrote a DTC fit's NaN discrepancy (coinciding source embeddings) and a
    # user's method's inf as bare NaN / Infinity, which JSON.parse and R refuse
    import datetime

    record = {
        "history": [{"discrepancy": float("nan"), "best": float("inf")}, {"loss": -np.inf}],
        "metrics": {"acc": np.float32(0.5)},
        "params": {"tol": np.float64("nan"), "when": datetime.date(2024, 1, 1), "k": {2, 1}},
    }
    path = tmp_path / "runs.jsonl"
    append_record(path, record)
    write_records(tmp_path / "rewritten.jsonl", [record])
    for file in (path, tmp_path / "rewritten.jsonl"):
        line = file.read_text()
        back = json.loads(line, parse_constant=_strict)
        assert back["history"] == [{"discrepancy": None, "best": None}, {"loss": None}]
        assert back["metrics"] == {"acc": 0.5}
        assert back["params"] == {"tol": None, "when": "2024-01-01", "k": [1, 2]}
        assert line == record_json(record) + "\n"
    assert read_records(path) == [back]


@pytest.mark.filterwarnings("ignore:.*incomplete.*:RuntimeWarning")
def test_read_first_record_reads_and_checks_the_first_line_only(tmp_path):
    # `dtc run` looks at --results before its fit: all of a file of 5,000 runs cost 2 s
    # and 500 MB a run; the first line tells a results file from a config given by mistake
    from dtc.experiment.store import read_first_record

    path = tmp_path / "runs.jsonl"
    assert read_first_record(path) is None  # absent
    path.write_bytes(b"")
    assert read_first_record(path) is None
    path.write_bytes(b'\n\n{"a": 1}\nnot json\n')  # blank lines first; a later bad line unread
    assert read_first_record(path) == {"a": 1}
    assert read_records(path.with_name("none")) == []
    path.write_bytes(b'{"a": 1')  # only a line cut short
    assert read_first_record(path) is None
    path.write_bytes(b"name: x\nseeds: [0]")
    with pytest.raises(ValueError, match=r"runs.jsonl: corrupt results line 1: 'name: x'"):
        read_first_record(path)
    path.write_bytes(b'\n{"a": 1}\n')
    with pytest.raises(ValueError, match=r"line 2 is not a run record \(no b\)"):
        read_first_record(path, check=lambda r: None if "b" in r else "no b")
    # blank as read_records counts blank (str.strip: a no-break space too), not bytes'
    path.write_bytes("\u00a0\nkey: value\n".encode())
    with pytest.raises(ValueError, match="corrupt results line 2: 'key: value'"):
        read_first_record(path)
    # lines end in \r too, numbered as read_records numbers them; the first record only
    path.write_bytes(b"\r\r\nbad\n")
    with pytest.raises(ValueError, match="corrupt results line 3: 'bad'"):
        read_first_record(path)
    path.write_bytes(b'{"a": 1}\r{"b": 2}\n')
    assert read_first_record(path, check=lambda r: None if "a" in r else "no a") == {"a": 1}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_replace_file_keeps_the_permission_bits_only_and_at_best(tmp_path):
    # a read-only file came back 0644; setuid / setgid / sticky are not carried over (a
    # write by the owner clears them); a path whose mode cannot be read keeps the default
    import stat

    path = tmp_path / "r.jsonl"
    for mode, kept in ((0o444, 0o444), (0o6755, 0o755), (0o640, 0o640)):
        path.write_text("old\n")
        os.chmod(path, mode)
        with replace_file(path) as tmp:
            tmp.write_text("new\n")
        assert path.read_text() == "new\n" and stat.S_IMODE(os.stat(path).st_mode) == kept
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)  # os.stat fails ("too many levels of symbolic links")
    with replace_file(loop) as tmp:
        tmp.write_text("new\n")
    assert not loop.is_symlink() and loop.read_text() == "new\n"


def test_records_ended_by_a_lone_carriage_return_are_all_read_past_a_blank_line(tmp_path):
    # Lines end in \n, \r\n or a lone \r (as text mode read them): a blank "\r" line is
    # skipped, not taken for a cut last line that ends the file there (mutation-test gap:
    # a line was "ended" only by \n)
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b'{"a": 1}\r\r{"a": 2}\r')
    assert read_records(path) == [{"a": 1}, {"a": 2}]
    # and a line that is no record, ended by \r, is an error, not a run cut short
    path.write_bytes(b'{"a": 1}\r{"a": \r{"a": 2}\r')
    with pytest.raises(ValueError, match="corrupt results line 2"):
        read_records(path)


def test_an_interrupted_message_ends_with_its_resume_note():
    # mutation-test gap: the note was dropped without a test failing
    message = interrupted_message("bench", "runs.jsonl", "a cut block is measured again")
    assert message.endswith("run the same command again to resume (a cut block is measured again)")
