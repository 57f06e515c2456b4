"""scripts/negative_transfer.py --save-partitions: ``run_case`` hands over the four target
partitions its row's ACCs are of, and ``main`` saves each run's, with what identifies it, in
its case set's file (the other tests stopped before any partition was saved)."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment


@pytest.fixture
def script(load_script):
    return load_script("negative_transfer")


def _acc(y, labels) -> float:
    """ACC by hand: the best one-to-one map of clusters to classes (Hungarian)."""
    counts = np.zeros((labels.max() + 1, y.max() + 1))
    np.add.at(counts, (labels, y), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / len(y)


def _args(script, monkeypatch, argv):
    """The namespace ``main`` hands ``run_case`` for ``argv`` (no case is run)."""
    made = []

    def capture(pair, args, partitions=None):
        made.append(args)
        raise SystemExit(0)

    monkeypatch.setattr(script, "run_case", capture)
    with pytest.raises(SystemExit):
        script.main(["--cases", "digits", *argv])
    monkeypatch.undo()
    return made[0]


def test_run_case_hands_over_the_partitions_its_accs_are_of(script, monkeypatch, three_blobs_pair):
    args = _args(script, monkeypatch, ["--pretrain-epochs", "1", "--adapt-epochs", "1"])
    partitions = {}
    row = script.run_case(three_blobs_pair, args, partitions)
    assert set(partitions) == {"unguarded", "transfer", "reference", "guarded"}
    y = three_blobs_pair.target.y
    assert all(np.shape(p) == y.shape for p in partitions.values())
    assert row["acc_unguarded"] == pytest.approx(_acc(y, partitions["unguarded"]))
    assert row["acc_guarded"] == pytest.approx(_acc(y, partitions["guarded"]))
    assert row["acc_target_only"] == pytest.approx(_acc(y, partitions["reference"]))
    if row["fell_back"]:  # the guarded run is the target-only reference's partition
        np.testing.assert_array_equal(partitions["guarded"], partitions["reference"])


def test_main_saves_each_runs_partitions_in_its_case_sets_file(
    script, monkeypatch, tmp_path, capsys
):
    labels = {
        "unguarded": np.array([0, 1, 1]),
        "transfer": np.array([0, 1, 2]),
        "reference": np.array([2, 2, 0]),
        "guarded": np.array([2, 2, 0]),
    }

    def fake_run_case(pair, args, partitions=None):
        partitions.update(labels)
        return {
            "correspondence": None,
            "flagged": True,
            "fell_back": True,
            "reason": "unrelated_source",
            "acc_target_only": 0.5,
            "acc_unguarded": 0.4,
            "acc_guarded": 0.5,
            "acc_kmeans_raw": 0.5,
            "final_score": 0.25,
            "reference_score": None,
        }

    monkeypatch.setattr(script, "run_case", fake_run_case)
    parts = tmp_path / "parts"
    argv = ["--cases", "digits_permuted", "--seed", "3", "--save-partitions", str(parts)]
    assert script.main([*argv, "--json"]) == 0
    capsys.readouterr()
    assert [p.name for p in parts.iterdir()] == ["harness.digits_permuted.seed3.npz"]
    with np.load(parts / "harness.digits_permuted.seed3.npz") as saved:
        assert str(saved["case"]) == "digits_permuted" and str(saved["kind"]) == "negative"
        assert str(saved["case_set"]) == "harness" and int(saved["seed"]) == 3
        assert bool(saved["flagged"]) and float(saved["final_score"]) == 0.25
        assert np.isnan(saved["reference_score"])  # no score: NaN
        for name, expected in labels.items():
            np.testing.assert_array_equal(saved[name], expected)
            assert saved[name].dtype == np.int64
