"""scripts/order_check.py: three orders per run, resumable, on the embedded digits pair."""

import numpy as np
import pytest

from dtc.experiment.store import read_records


@pytest.fixture
def order_check(load_script, monkeypatch):
    script = load_script("order_check")
    monkeypatch.setattr(script, "PAIRS", (("digits", "source", "target"),))
    return script


def test_same_partition_is_up_to_cluster_names(order_check):
    assert order_check.same_partition(np.array([0, 0, 1, 2]), np.array([5, 5, 3, 1]))
    assert not order_check.same_partition(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert not order_check.same_partition(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]))


def test_target_only_kmeans_ignores_the_source_order_and_a_rerun_skips(
    order_check, tmp_path, capsys
):
    out = tmp_path / "order.jsonl"
    order_check.main(["--methods", "kmeans", "--seeds", "1", "--out", str(out)])
    (rec,) = read_records(out)
    # K-means on the target alone: the source's order cannot matter, exactly
    assert rec["same_source"] and rec["source_shuffled"] == rec["sorted"]
    assert 0 < rec["target_shuffled"] <= 1
    assert "| kmeans | digits:source->target | 1 |" in capsys.readouterr().out
    order_check.main(["--methods", "kmeans", "--seeds", "1", "--out", str(out)])
    assert "0 runs to do, 1 recorded" in capsys.readouterr().out
    assert len(read_records(out)) == 1


def test_an_out_under_home_is_expanded(order_check, home_and_work):
    # --out=~/x (one word: the shell expands nothing) made an empty ./~/ folder
    home, work = home_and_work
    order_check.main(["--methods", "kmeans", "--seeds", "1", "--out=~/o/order.jsonl"])
    assert len(read_records(home / "o" / "order.jsonl")) == 1
    assert not (work / "~").exists()


def test_a_run_of_other_parameters_is_run_again(order_check, tmp_path, monkeypatch, capsys):
    # (method, pair, seed) was the key: after a default changed (or the data, or a plugin's
    # code) the old runs were tabulated as the current ones
    from baselines.kmeans import TargetKMeans

    out = tmp_path / "order.jsonl"
    argv = ["--methods", "kmeans", "--seeds", "1", "--out", str(out)]
    order_check.main(argv)
    assert read_records(out)[0]["setting"]["params"]["n_init"] == 10
    capsys.readouterr()
    monkeypatch.setattr(TargetKMeans.__init__, "__defaults__", (None, 1, 300, 0))
    order_check.main(argv)
    assert "1 runs to do, 0 recorded" in capsys.readouterr().out
    assert [r["setting"]["params"]["n_init"] for r in read_records(out)] == [10, 1]


def test_order_check_refuses_unknown_methods_and_no_seeds(order_check, capsys):
    for argv in (["--methods", "nope"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            order_check.main(argv)
    assert "unknown method(s) nope" in capsys.readouterr().err


def test_a_failed_run_is_run_again(order_check, tmp_path, monkeypatch, capsys):
    # a failure used to be skipped by every later invocation, as if it had finished
    out = tmp_path / "order.jsonl"
    argv = ["--methods", "kmeans", "--seeds", "1", "--out", str(out)]
    run_one = order_check.run_one

    def boom(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(order_check, "run_one", boom)
    # it exited 0, and its table left the method out
    assert order_check.main(argv) == 1
    printed = capsys.readouterr()
    assert "| kmeans | digits:source->target | 0 | error | error | error | - |" in printed.out
    assert "1 of 1 runs failed" in printed.err
    monkeypatch.setattr(order_check, "run_one", run_one)
    assert order_check.main(argv) == 0
    text = capsys.readouterr().out
    assert "1 runs to do, 0 recorded" in text and "| kmeans | digits:source->target | 1 |" in text
    failed, ok = read_records(out)
    assert "error" in failed and "sorted" in ok
    order_check.main(argv)
    assert "0 runs to do, 1 recorded" in capsys.readouterr().out


def test_a_run_of_another_budget_is_run_again(order_check, tmp_path, monkeypatch, capsys):
    # the runs kept no budget, and a changed BUDGET reused them beside new ones
    out = tmp_path / "order.jsonl"
    argv = ["--methods", "kmeans", "--seeds", "1", "--out", str(out)]
    order_check.main(argv)
    assert read_records(out)[0]["budget"] == order_check.BUDGET
    monkeypatch.setattr(order_check, "BUDGET", {**order_check.BUDGET, "epochs": 7})
    capsys.readouterr()
    order_check.main(argv)
    assert "1 runs to do, 0 recorded" in capsys.readouterr().out
    assert [r["budget"]["epochs"] for r in read_records(out)] == [5, 7]


def test_unusable_out_empty_methods_and_missing_data_are_one_line(
    order_check, load_script, tmp_path, monkeypatch, capsys
):
    """A folder as --out was an IsADirectoryError traceback, another script's file a
    KeyError one, an empty --methods ran every method, a missing data file was the
    FileNotFoundError traceback of the first load."""
    monkeypatch.setattr(order_check, "run_one", lambda *a: pytest.fail("a run ran"))
    other = tmp_path / "other.jsonl"
    other.write_text('{"case": "p", "kind": "positive"}\n')
    for argv, message in (
        (["--out", str(tmp_path)], "--out: [Errno 21] Is a directory"),
        (["--out", str(other)], f"--out: {other}: line 1 is not a run record (no method, pair"),
        (["--methods"], "argument --methods: expected at least one argument"),
    ):
        with pytest.raises(SystemExit) as exit_:
            order_check.main(["--seeds", "1", *argv])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    script = load_script("order_check")  # the real PAIRS: COIL and SURF files
    out = tmp_path / "o.jsonl"
    with pytest.raises(SystemExit, match="not found in the data directory") as exit_:
        script.main(["--methods", "kmeans", "--out", str(out), "--data-dir", str(tmp_path)])
    assert str(exit_.value.code).startswith("error: benchmark ") and not out.exists()
