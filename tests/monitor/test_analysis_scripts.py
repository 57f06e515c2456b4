"""The rules of seven analysis scripts, pinned on hand-made runs: ``seed_consensus``,
``restore_gain_choice``, ``monitor_resolution``, ``case_level_bound``,
``class_agreement_choice``, ``score_geometry`` and ``metric_choice``.

``tests/monitor/test_harness_cases.py`` and ``tests/monitor/test_records.py`` test them
too; the tests here pin what a mutation of each rule left unread there (the sign of a
handicap, the order of a criterion, the threshold a derived candidate applies, which runs a
summary counts). Every expected figure is computed by hand in the comments, on values exact
in binary where an equality is asserted. No test trains a network or reads the benchmark
data. A run is built by ``harness_row`` of ``test_harness_cases`` (this folder's: pytest
puts the folder of a test module without ``__init__.py`` on ``sys.path``)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_harness_cases import harness_row

from dtc.monitor import scores
from dtc.monitor.calibration import score_slope
from dtc.monitor.scores import knn_agreement

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "experiments" / "records"


run = harness_row  # a harness run as negative_transfer.py --json writes it


def write_runs(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def squeezed(text: str) -> list[str]:
    """``text``'s lines with their runs of spaces made one."""
    return [" ".join(line.split()) for line in text.splitlines()]


def flat(relative: str) -> str:
    """The text of the file at ``relative`` to the repository, its whitespace made one space."""
    return " ".join((ROOT / relative).read_text().split())


# -- seed_consensus ------------------------------------------------------------------------


def test_seed_consensus_one_seed_compares_the_runs_own_partitions(load_script):
    """R = 1 is the harness's comparison, run by run: the run's own partition, not its
    consensus. Three classes of two rows, ``n_clusters`` 2: the guarded run is the classes
    (ACC 100), the reference run merges classes 0 and 1 (ACC 4/6): +33.33 points. A
    consensus into 2 groups of the guarded run would merge two classes too (ACC 4/6 whichever
    two): a gain of 0."""
    consensus = load_script("seed_consensus")
    y = np.array([0, 0, 1, 1, 2, 2])
    reference = np.array([[0, 0, 0, 0, 1, 1]])
    gains = consensus.consensus_gains(y[None, :], reference, y, 2, np.array([[0]]))
    np.testing.assert_allclose(gains, [100.0 - 400.0 / 6])


def test_seed_consensus_summary_by_hand(load_script):
    """Gains +3, -1.00000001, -2 and +4 points: mean 0.9999999975 (+1.0), population
    standard deviation sqrt((2^2 + 2^2 + 3^2 + 3^2) / 4) = sqrt(6.5) = 2.55 (2.5; the
    sample one, sqrt(26 / 3) = 2.94, would read 2.9), one of four (25 %) more than a point
    below: -1.00000001 is a point below up to float rounding (:data:`EPS`), not more; the
    worst -2.0."""
    consensus = load_script("seed_consensus")
    text = consensus.summary(np.array([3.0, -1.00000001, -2.0, 4.0]))
    assert " ".join(text.split()) == "+1.0 sd 2.5, below -1 in 25%, worst -2.0"


def test_seed_consensus_one_seed_column_is_the_recorded_runs(load_script):
    """R = 1 is each run's guarded - target-only, which the recorded rows hold: over the 24
    seeds 4 to 27 of the three noisy true pairs (fresh sets 10 to 12 and the held-out seeds'
    rows), the record's R = 1 column, and the README's "one seed: 21 to 25 %"."""
    consensus = load_script("seed_consensus")
    files = [f"fresh10_s{s}" for s in range(4, 10)] + ["fresh11_s10", "fresh11_s11"]
    files += [f"fresh12_s{s}" for s in range(12, 16)] + [f"judges24_s{s}" for s in range(16, 28)]
    gains: dict[str, dict[int, float]] = {}
    for name in files:
        for line in (RECORDS / f"{name}.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["case"] in ("office_A->W", "office_W->A", "mnist->usps"):
                gains.setdefault(r["case"], {})[r["seed"]] = r["acc_guarded"] - r["acc_target_only"]
    record = flat("experiments/negative_transfer_record.md")
    for case, row in (
        ("office_A->W", "| SURF A->W (24 seeds) | +2.7, sd 5.0, 21 % below -1, worst -8.8 |"),
        ("office_W->A", "| SURF W->A (24) | +2.4, sd 4.3, 25 %, -6.6 |"),
        ("mnist->usps", "| MNIST->USPS (24) | +2.2, sd 4.3, 21 %, -4.7 |"),
    ):
        assert sorted(gains[case]) == list(range(4, 28))
        points = 100 * np.array([gains[case][seed] for seed in range(4, 28)])
        cell = row.split("|")[2].replace("sd", "").replace("worst", "").replace("%", "")
        mean, sd, share, worst = cell.split(",")
        text = " ".join(consensus.summary(points).split())
        assert text == (
            f"{mean.strip()} sd {sd.strip()}, below -1 in {share.split()[0]}%, worst {worst.strip()}"
        )
        assert row in record
    assert "(one seed: 21 to 25 %)" in flat("README.md")


def _consensus_case(consensus, monkeypatch, directories: dict[str, list[dict]]):
    """``consensus.main`` reading ``directories`` (name -> its runs) over a target of four
    rows in two classes, without data files."""
    y = np.array([0, 0, 1, 1])
    monkeypatch.setattr(consensus, "read_partitions", lambda directory: directories[directory])
    pair = SimpleNamespace(target=SimpleNamespace(y=y), n_clusters=2)
    monkeypatch.setattr(consensus, "all_cases", lambda d, cases, s: [(None, None, lambda: pair)])


def test_seed_consensus_pools_directories_and_orders_the_seeds(load_script, monkeypatch, capsys):
    """Two directories of one case (seeds 5 to 9 and 0 to 4, saved in that order) are one
    case of 10 seeds, named 0..9. The guarded runs are the classes (ACC 100); the reference
    runs of seeds 0 to 4 are the classes too and those of seeds 5 to 9 pair each class's rows
    apart (ACC 50). With --max-sets 10 every set of one seed is taken (C(10, 1) = 10), ten
    of the C(10, 3) = 120 and C(10, 5) = 252 sets of more are drawn. R = 1: ten gains, five 0
    and five +50: mean +25.0, sd 25.0, none below, worst +0.0."""
    consensus = load_script("seed_consensus")
    y, apart = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])

    def saved(seed):
        reference = y if seed < 5 else apart
        return {
            "case": "c",
            "case_set": "harness",
            "seed": seed,
            "guarded": y,
            "reference": reference,
        }

    _consensus_case(
        consensus,
        monkeypatch,
        {"late": [saved(s) for s in range(9, 4, -1)], "early": [saved(s) for s in range(5)]},
    )
    assert consensus.main(["late", "early", "--max-sets", "10"]) == 0
    out = squeezed(capsys.readouterr().out)
    assert "c (harness), 10 seeds 0..9:" in out
    assert "R=1: 10 sets, +25.0 sd 25.0, below -1 in 0%, worst +0.0" in out
    assert any(line.startswith("R=5: 10 sets,") for line in out)


def test_seed_consensus_refuses_a_seed_saved_twice_and_no_sets(load_script, monkeypatch, capsys):
    """Two directories holding one seed of a case would weigh it twice in every set; a
    --max-sets below 1 draws no set."""
    consensus = load_script("seed_consensus")
    y = np.array([0, 0, 1, 1])

    def saved(seed):
        return {"case": "c", "case_set": "harness", "seed": seed, "guarded": y, "reference": y}

    runs = [saved(s) for s in range(10)]
    _consensus_case(consensus, monkeypatch, {"a": runs, "b": runs[:1]})
    with pytest.raises(SystemExit, match=r"c \(harness\): a seed saved twice"):
        consensus.main(["a", "b"])
    with pytest.raises(SystemExit, match="--max-sets must be a positive integer, got 0"):
        consensus.main(["a", "--max-sets", "0"])


# -- restore_gain_choice -------------------------------------------------------------------


def _restored(**fields) -> dict:
    """A positive run under candidate A that restored the checkpoint of epoch 4: its lead
    over the last check is 0.625 - 0.5 = 0.125, and C's gain is 2 x 0.125 = 0.25, so C keeps
    the last state (unguarded DTC's, ACC 0.75) where A kept the checkpoint (ACC 0.625)."""
    row = run("office_A->W", "positive", False, 0.5, 0.75, 0.625, fell_back=False, reason=None)
    row.update(checks=[[-1, 0.5], [4, 0.625], [19, 0.5]], restored_epoch=4, restore_gain=0.0)
    row.update(calibration={"restart_spread": 0.125}, margin=0.25, score_counts=True)
    row.update(final_score=0.625, reference_score=0.5)
    row["diagnostics"] = {"knn_agreement": [0.5, 0.5]}  # the last state's score, the reference's
    return {**row, **fields}


def test_rule_15_unflags_a_below_reference_verdict_the_last_state_escapes(load_script):
    """A's restored checkpoint ended flagged ``below_reference`` (its final partition scored
    0.125 under the reference, more than the margin 0.0625 below) and fell back; C keeps the
    last state, whose score (0.5) is the reference's: not below, so C keeps it (ACC 0.75,
    no flag, no reason). A source check's reason would have stayed (the other test)."""
    script = load_script("restore_gain_choice")
    a = _restored(flagged=True, fell_back=True, acc_guarded=0.5, reason="below_reference")
    a.update(margin=0.0625, final_score=0.375)
    c = script.with_gain(a, script.spread_gain(a))
    assert (c["flagged"], c["fell_back"], c["acc_guarded"], c["reason"]) == (
        False,
        False,
        0.75,
        None,
    )
    assert c["final_score"] == 0.5 and c["restored_epoch"] is None


def test_rule_15_main_judges_c_against_a_by_hand(load_script, tmp_path, capsys):
    """Two runs: the positive above (A +12.5 points over target-only, C +25.0) and a negative
    a source check flagged (both 0.0). Means: A (12.5 + 0) / 2 = +6.25, C +12.50, never (the
    last state everywhere, as C here) +12.50; DET 1 and worst 0.0 for both: C replaces A."""
    script = load_script("restore_gain_choice")
    negative = run("n_crossed", "negative", True, 0.5, 0.25, 0.5, fell_back=True)
    negative.update(reason="dissimilar_source", checks=[[-1, 0.5], [19, 0.5]], restored_epoch=None)
    negative.update(restore_gain=0.0, calibration={"restart_spread": 0.125}, margin=0.25)
    negative.update(score_counts=True, diagnostics={"knn_agreement": [0.5, 0.5]})
    path = write_runs(tmp_path / "f3_s0.jsonl", [_restored(), negative])
    assert script.main([path]) == 0
    out = squeezed(capsys.readouterr().out)
    assert "candidate A: mean guarded - target-only +6.25 points" in out
    assert "candidate C: mean guarded - target-only +12.50 points" in out
    assert "candidate never: mean guarded - target-only +12.50 points" in out
    verdict = out[out.index("(i) mean(C) >= mean(A): yes") :]
    assert verdict[:4] == [
        "(i) mean(C) >= mean(A): yes",
        "(ii) DET(C) >= DET(A) - 0.05: yes",
        "(iii) worst(C) >= worst(A) - 1 point: yes",
        "rule #15: C replaces A",
    ]
    # the one run where they differ, A -> C in points over target-only
    assert out[-1] == "office_A->W restored epoch 4 +12.5 -> +25.0"


def test_rule_15_main_refuses_runs_of_another_candidate(load_script, tmp_path, capsys):
    """Runs made with a restore gain (not candidate A's 0) are a usage error: C and the
    others are derived from A's restores."""
    script = load_script("restore_gain_choice")
    path = write_runs(tmp_path / "f3_s0.jsonl", [_restored(restore_gain=0.125)])
    with pytest.raises(SystemExit) as exit_:
        script.main([path])
    assert exit_.value.code == 2
    assert "the runs must be candidate A's (min_restore_gain=0)" in capsys.readouterr().err


def test_rule_15_judges_nothing_on_runs_that_break_the_derivation(load_script, tmp_path, capsys):
    """A run that restored nothing though its checks restore epoch 4 under A's gain of 0 was
    a warning, then a ValueError traceback from the "gated" derivation ("a larger gain cannot
    restore another checkpoint"); a run that restored nothing and whose guarded ACC (0.7) is
    not unguarded DTC's (0.75) was a warning, then a verdict. Both: the warning, no verdict,
    exit 1."""
    script = load_script("restore_gain_choice")
    unrestored = _restored(acc_guarded=0.75, restored_epoch=None)
    moved = _restored(checks=[[-1, 0.5], [19, 0.5]], restored_epoch=None, acc_guarded=0.7)
    for row, warning in (
        (unrestored, "the restore does not follow from the checks"),
        (moved, "nothing restored, yet guarded != unguarded ACC"),
    ):
        path = write_runs(tmp_path / "f3_s0.jsonl", [row])
        assert script.main([path]) == 1
        out = capsys.readouterr().out
        assert out == f"warning: office_A->W: {warning}\n"


def test_rule_15_on_the_recorded_fresh_set_10_is_the_readme_one(load_script, tmp_path, capsys):
    """The README's rollback figures: on the kept re-runs of fresh set 10 at seeds 4 to 7,
    rollback as run (A) +5.18 against +5.08 for never restoring, worst -4.7 against -5.1;
    under rule #19's defaults (the same runs with the class-agreement check undone,
    ``class_agreement_choice.without_check``) +5.12 against +5.00, worst -6.5 against -8.6,
    which the README quotes from runs it did not keep."""
    script = load_script("restore_gain_choice")
    undo = load_script("class_agreement_choice").without_check
    paths = [RECORDS / f"fresh10_s{seed}.jsonl" for seed in range(4, 8)]

    def figures(files) -> dict[str, tuple[str, str]]:
        """Each candidate's (mean, worst) guarded - target-only as main prints them."""
        assert script.main([str(f) for f in files]) == 0
        out = capsys.readouterr().out.splitlines()
        return {
            line.split()[1].rstrip(":"): (
                line.split()[-2],
                out[i + 1].split("worst case: ")[1].split()[0],
            )
            for i, line in enumerate(out)
            if line.startswith("candidate ")
        }

    current = figures(paths)
    assert (current["A"], current["never"]) == (("+5.18", "-4.7"), ("+5.08", "-5.1"))
    derived = []
    for path in paths:
        rows = [undo(json.loads(t)) for t in path.read_text().splitlines()]
        derived.append(write_runs(tmp_path / path.name, rows))
    rule19 = figures(derived)
    assert (rule19["A"], rule19["never"]) == (("+5.12", "-6.5"), ("+5.00", "-8.6"))
    readme = flat("README.md")
    assert "+5.12 points over target-only against +5.00 for never restoring, worst -6.5" in readme
    assert "same script gives +5.18 against +5.08" in readme
    assert "worst -4.7 against -5.1" in readme


# -- monitor_resolution --------------------------------------------------------------------


def _two_blobs_crossed_classes():
    """Two blobs far apart; the classes alternate within each blob, so K-means (the blobs)
    and the classes disagree: the classes' k-NN agreement is near chance, the blobs' 1."""
    rng = np.random.default_rng(0)
    blob = np.repeat([0, 1], 30)
    X = 50.0 * blob[:, None] + rng.normal(0, 1, (60, 2))
    y = np.tile([0, 1], 30)
    return X, y, blob


def test_monitor_resolution_handicap_is_the_kmeans_score_minus_the_classes(load_script):
    """``handicap`` = mean K-means score - the classes' score: positive where the score
    prefers the geometry (the blobs, agreement 1) to the classes (alternating, about 0)."""
    script = load_script("monitor_resolution")
    X, y, blob = _two_blobs_crossed_classes()
    row = script.resolution(X, y, fractions=[0.1, 0.2], draws=2, restarts=2)
    assert row["k"] == 2 and row["n_rows"] == 60
    true = knn_agreement(X, y)
    assert row["score_true"] == true and true < 0.2
    assert knn_agreement(X, blob) == pytest.approx(1.0)
    assert row["handicap"] == pytest.approx(1.0 - true)
    assert row["handicap"] > 0.8


def test_monitor_resolution_restarts_are_seeded_apart(load_script, monkeypatch):
    """``--restarts`` K-means partitions with ``n_init=3``, seeded ``seed .. seed + r - 1``:
    one seed for all would be one partition counted r times."""
    script = load_script("monitor_resolution")
    seen = []
    real = script.KMeans

    def recording(k, n_init, random_state):
        seen.append((k, n_init, random_state))
        return real(k, n_init=n_init, random_state=random_state)

    monkeypatch.setattr(script, "KMeans", recording)
    X, y, _ = _two_blobs_crossed_classes()
    script.resolution(X, y, fractions=[0.1], draws=1, restarts=3, seed=7)
    assert seen == [(2, 3, 7), (2, 3, 8), (2, 3, 9)]


def test_monitor_resolution_scores_the_monitors_seeded_subsample(load_script, monkeypatch):
    """The rows the monitor scores: its seeded subsample (``subsample_index``), not the first
    rows, with their own labels."""
    script = load_script("monitor_resolution")
    X = np.arange(24.0).reshape(12, 2)
    y = np.arange(12) % 3
    pair = SimpleNamespace(target=SimpleNamespace(X=X, y=y))
    monkeypatch.setattr(script, "monitored_pair", lambda p: p)
    Xs, ys = script.scored_rows(pair, max_samples=5, seed=0)
    idx = scores.subsample_index(12, 5, 0)
    assert not np.array_equal(idx, np.arange(5))  # else the test could not tell
    np.testing.assert_array_equal(Xs, X[idx])
    np.testing.assert_array_equal(ys, y[idx])


def test_monitor_resolution_main_prints_the_positives_with_their_mean_margin(
    load_script, monkeypatch, tmp_path, capsys
):
    """Two positive runs of case ``p`` (margins 0.02 and 0.06, seeds 0 and 1) average
    0.04; ``resolution`` = 0.04 / slope. The negative case is not a positive: not printed."""
    script = load_script("monitor_resolution")
    X, y, _ = _two_blobs_crossed_classes()
    pair = SimpleNamespace(target=SimpleNamespace(X=X, y=y))
    monkeypatch.setattr(script, "monitored_pair", lambda p: p)
    monkeypatch.setattr(
        script,
        "all_cases",
        lambda data_dir, case_set: [
            ("p", "positive", lambda: pair),
            ("n", "negative", lambda: pair),
        ],
    )
    runs = [{"case": "p", "margin": m, "seed": s} for s, m in enumerate((0.02, 0.06))]
    runs.append({"case": "n", "margin": 0.5, "seed": 0})
    path = write_runs(tmp_path / "h.jsonl", runs)
    argv = [
        "--runs",
        path,
        "--json",
        "--restarts",
        "1",
        "--draws",
        "1",
        "--data-dir",
        str(tmp_path),
    ]
    assert script.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["case"] == "p" and row["margin"] == pytest.approx(0.04)
    slope = score_slope(X, y, fractions=[0.05, 0.1, 0.2], draws=1, seed=0)
    assert row["slope"] == slope and row["resolution"] == pytest.approx(0.04 / slope)


# -- case_level_bound ----------------------------------------------------------------------


def test_case_level_bound_flags_most_on_a_negative_case(load_script):
    """A wrong source the monitor flagged once (run 1: unguarded 0.3, fell back) and missed
    once where it helped (run 2: 0.55 against 0.5). Within a point: the monitor's outcome
    (1 flag), the score threshold (no losing run: the same, 1 flag) and the fallback (2
    flags); unguarded DTC leaves run 1 20 points below. On a negative case the oracle takes
    the most flags: the fallback, 2 of 2 flagged."""
    script = load_script("case_level_bound")
    fields = {"reference_score": 0.5, "acc_transfer": 0.3}
    runs = [
        run("n", "negative", True, 0.5, 0.3, 0.5, fell_back=True, final_score=0.3, **fields),
        run("n", "negative", False, 0.5, 0.55, 0.55, fell_back=False, final_score=0.6, **fields),
    ]
    action, ended = script.oracle_action(runs)
    assert action == "fallback"
    assert [(r["flagged"], r["acc_guarded"]) for r in ended] == [(True, 0.5), (True, 0.5)]


def test_case_level_bound_counts_fallbacks_not_flags(load_script):
    """A true pair under a warning policy: run 1 flagged but kept (guarded = unguarded, +10
    points), run 2 lost 5 points unflagged, run 3 gained 10. Score leads +0.1, 0.0, +0.05:
    the threshold at run 2's lead (0.0) catches run 2 alone. ``score`` (2 flags) beats the
    fallback (3); monitor and unguarded leave run 2 below. It falls back on 1 run (run 1 is
    flagged, not fallen back). Unguarded - target-only: +10, -5, +10 points: mean +5.0,
    sample sd sqrt((25 + 100 + 25) / 2) = 8.66 (8.7), worst -5.0; the monitor's worst -5.0;
    Spearman of the leads' ranks (3, 1, 2) with the judged ACC's (2.5, 1, 2.5):
    1.5 / (sqrt(2) sqrt(1.5)) = 0.866 (+0.87)."""
    script = load_script("case_level_bound")

    def row(flagged, acc, lead):
        fields = {"final_score": 0.5 + lead, "reference_score": 0.5, "acc_transfer": acc}
        return run("p", "positive", flagged, 0.5, acc, acc, fell_back=False, **fields)

    runs = [row(True, 0.6, 0.1), row(False, 0.45, 0.0), row(False, 0.6, 0.05)]
    oracle = script.case_level_oracle(runs)
    assert oracle["p"][0] == "score"
    assert [r["fell_back"] for r in oracle["p"][1]] == [False, True, False]
    (line,) = script.forced_lines(runs, oracle)
    assert " ".join(line.split()) == (
        "p score falls back on 1 of 3 runs; unguarded - target-only: mean +5.0 sd 8.7 "
        "worst -5.0; the monitor's worst -5.0; rho +0.87"
    )


# -- class_agreement_choice ----------------------------------------------------------------


def test_rule_17_false_alarms_may_rise_by_five_points(load_script):
    """Rule #17's (ii): FA(E) <= FA(A) + 0.05 (rule #18's is 0.02): 0.10 -> 0.14 passes,
    0.10 -> 0.16 does not."""
    script = load_script("class_agreement_choice")
    a = {"mean": 0.5, "det": 0.5, "fa": 0.1, "kept": 1.0, "worst": 0.0}
    assert script.rule17(a, {**a, "fa": 0.14})["(ii) FA(E) <= FA(A) + 0.05"]
    assert not script.rule17(a, {**a, "fa": 0.16})["(ii) FA(E) <= FA(A) + 0.05"]


def _agreement_runs() -> list[dict]:
    """Candidate A's runs: negatives of agreement 0.07, 0.12 and 0.22 that A missed
    (unguarded 0.25 against target-only 0.5), a positive of agreement 0.12 that gained
    (0.75), none flagged."""
    base = {"fell_back": False, "reason": None}
    rows = [run(f"n{i}", "negative", False, 0.5, 0.25, 0.25, **base) for i, _ in enumerate("abc")]
    rows.append(run("p", "positive", False, 0.5, 0.75, 0.75, **base))
    for r, a in zip(rows, (0.07, 0.12, 0.22, 0.12)):
        r["class_agreement"] = {"agreement": a}
    return rows


def test_rule_17_applies_its_threshold_of_0_15(load_script, tmp_path, capsys):
    """E flags what has an agreement below 0.15: n0 (0.07), n1 (0.12) and the positive
    (0.12), not n2 (0.22). A: mean (3 x -25 + 25) / 4 = -12.50, DET 0, FA 0, worst -25.0;
    E: n0, n1 and p fall back: (0 + 0 - 25 + 0) / 4 = -6.25, DET 2/3, FA 1, worst -25.0.
    Rule #17: (i) yes, (ii) 1 > 0 + 0.05: no, (iii) yes; A stays."""
    script = load_script("class_agreement_choice")
    path = write_runs(tmp_path / "f5_s0.jsonl", _agreement_runs())
    assert script.main([path]) == 0
    out = squeezed(capsys.readouterr().out)
    assert "candidate A: mean guarded - target-only -12.50 points" in out
    assert "candidate E: mean guarded - target-only -6.25 points" in out
    assert out[out.index("(i) mean(E) >= mean(A): yes") :][:4] == [
        "(i) mean(E) >= mean(A): yes",
        "(ii) FA(E) <= FA(A) + 0.05: no",
        "(iii) worst(E) >= worst(A) - 1 point: yes",
        "rule #17: A stays",
    ]
    assert "runs E flags and A does not (3):" in out
    assert [
        line.split()[0] for line in out[out.index("runs E flags and A does not (3):") + 1 :]
    ] == [
        "n0",
        "n1",
        "p",
    ]


def test_rule_18_is_judged_when_asked(load_script, tmp_path, capsys):
    """``--rule 18`` on the same runs: (i) DET 2/3 >= 0 + 0.05: yes, (ii) FA 1 > 0 + 0.02: no,
    (iii) kept: A 25 / 25 = 1, E 0 / 25 = 0 < min(1, 0.9): no, (iv) worst -25.0 both: yes."""
    script = load_script("class_agreement_choice")
    path = write_runs(tmp_path / "f6_s0.jsonl", _agreement_runs())
    assert script.main(["--rule", "18", path]) == 0
    out = squeezed(capsys.readouterr().out)
    start = out.index("(i) DET(E) >= DET(A) + 0.05: yes")
    assert out[start : start + 5] == [
        "(i) DET(E) >= DET(A) + 0.05: yes",
        "(ii) FA(E) <= FA(A) + 0.02: no",
        "(iii) kept(E) >= min(kept(A), 0.90): no",
        "(iv) worst(E) >= worst(A) - 1 point: yes",
        "rule #18: A stays",
    ]


def test_rule_17_dev_applies_each_threshold_of_the_grid(load_script, monkeypatch, tmp_path, capsys):
    """``--dev``: each threshold t of the grid flags the runs whose agreement is below t.
    DET over the three negatives (0.07, 0.12, 0.22): none for A, t = 0.05: 0 %, 0.10: 1 of 3,
    0.15 and 0.20: 2 of 3, 0.25 and 0.30: 3 of 3; FA (the positive at 0.12): 0 % up to 0.10,
    100 % from 0.15. Means: A -12.5; t = 0.10: (0 - 25 - 25 + 25) / 4 = -6.25; 0.15 and 0.20:
    (0 + 0 - 25 + 0) / 4 = -6.25; 0.25: 0."""
    script = load_script("class_agreement_choice")
    rows = _agreement_runs()
    agreement = {r["case"]: r["class_agreement"]["agreement"] for r in rows}
    monkeypatch.setattr(script, "dev_agreements", lambda rows, data_dir: agreement)
    path = write_runs(tmp_path / "f2_s0.jsonl", [{**r, "class_agreement": None} for r in rows])
    assert script.main(["--dev", path, "--data-dir", str(tmp_path)]) == 0
    table = squeezed(capsys.readouterr().out)[1:]
    assert table == [
        "A (none) -12.500 0.0% 0.0% -25.0",
        "0.05 -12.500 0.0% 0.0% -25.0",
        "0.10 -6.250 33.3% 0.0% -25.0",
        "0.15 -6.250 66.7% 100.0% -25.0",
        "0.20 -6.250 66.7% 100.0% -25.0",
        "0.25 +0.000 100.0% 100.0% +0.0",
        "0.30 +0.000 100.0% 100.0% +0.0",
    ]


def test_from_current_checks_a_collapsed_verdict_too(load_script):
    """A run the check did not decide whose recorded reason is a collapse, yet whose final
    score is a number (0.6) on a family where the score does not count: the derivation would
    keep it, the run flagged it: reported as not reproduced."""
    script = load_script("class_agreement_choice")
    row = run("c", "negative", True, 0.5, 0.25, 0.5, fell_back=True, reason="collapsed_partition")
    row.update(final_score=0.6, reference_score=0.5, margin=0.05, score_counts=False)
    row["acc_transfer"] = 0.25
    assert script.current_consistency([row]) == [
        "runs the derivation does not reproduce: c (verdict)"
    ]
    assert script.current_consistency([{**row, "final_score": None}]) == []


# -- score_geometry ------------------------------------------------------------------------


def test_score_geometry_z_scores_the_subsample_and_scores_each_geometry(load_script):
    """By hand: the seeded subsample of 80 of 120 rows, z-scored on itself (population sd),
    then as it is (Euclidean) or at unit length (cosine). Two classes on two lines through
    the origin 0.1 rad apart (before the columns are scaled), at t = -30 .. -1, 1 .. 30: at
    unit length each class is two points (agreement 1), in distance the classes mix near the
    origin (about 0.78). Z-scoring the whole domain before subsampling scales the columns
    otherwise (Euclidean agreement 0.789, not 0.784)."""
    script = load_script("score_geometry")
    t = np.tile(np.concatenate([np.arange(-30.0, 0.0), np.arange(1.0, 31.0)]), 2)
    y = np.repeat([0, 1], 60)
    X = t[:, None] * np.array([[1.0, 0.0], [1.0, 0.1]])[y] * np.array([1.0, 5.0])
    g = script.geometry(X, y, max_samples=80)
    idx = scores.subsample_index(120, 80, 0)
    sub = X[idx]
    Z = (sub - sub.mean(0)) / sub.std(0)
    unit = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    assert g["euclidean"] == (knn_agreement(Z, y[idx]), score_slope(Z, y[idx], seed=0))
    assert g["cosine"] == (knn_agreement(unit, y[idx]), score_slope(unit, y[idx], seed=0))
    assert g["cosine"][0] == 1.0 and g["euclidean"][0] < 0.8
