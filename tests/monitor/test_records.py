"""The recorded runs of ``experiments/records/`` give the figures the README quotes from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "experiments" / "records"

# README row (its first cell) -> (files, runs, (negatives flagged, false alarms, gain kept,
# worst)), the percentages and the worst case in ACC points as the README rounds them.
QUOTED = {
    "harness (seeds 0 to 3 x 19 cases), rule #19": (
        tuple(f"harness_s{seed}.jsonl" for seed in range(4)),
        76,
        (100, 0, 102, +0.0),
    ),
    "the harness at seeds 4 to 7 (76), a replication": (
        tuple(f"harness_s{seed}.jsonl" for seed in range(4, 8)),
        76,
        (100, 3, 101, -4.7),
    ),
    "fresh set 10 at seeds 8 and 9 (102), re-run with the current defaults "
    "(`experiments/records/`)": (
        ("fresh10_s8.jsonl", "fresh10_s9.jsonl"),
        102,
        (97, 3, 103, +0.0),
    ),
    "fresh set 10 at seeds 4 to 9 (306), re-run with the current defaults "
    "(`experiments/records/`)": (
        tuple(f"fresh10_s{seed}.jsonl" for seed in range(4, 10)),
        306,
        (96, 2, 100, -4.7),
    ),
    "fresh set 12 (128), the current defaults on cases no rule had seen (`experiments/records/`)": (
        ("fresh12_s12.jsonl", "fresh12_s13.jsonl"),
        128,
        (94, 24, 72, -10.5),
    ),
    "the same at seeds 14 and 15 (128), a replication": (
        ("fresh12_s14.jsonl", "fresh12_s15.jsonl"),
        128,
        (91, 18, 86, -6.4),
    ),
    "the same, re-run with the current defaults (`experiments/records/`)": (
        ("fresh11_s10.jsonl", "fresh11_s11.jsonl"),
        128,
        (88, 10, 93, -9.3),
    ),
    "fresh set 11 at seeds 12 and 13 (128), the current defaults (`experiments/records/`)": (
        ("fresh11_more_s12.jsonl", "fresh11_more_s13.jsonl"),
        128,
        (91, 13, 93, -8.8),
    ),
    "fresh set 14 (104), the issue's kinds on new constructions (`experiments/records/`)": (
        ("fresh14_s28.jsonl", "fresh14_s29.jsonl"),
        104,
        (92, 5, 94, -5.4),
    ),
    "fresh set 14 at seeds 28 to 33 (312), six seeds per case, pre-registered "
    "(`experiments/records/`)": (
        tuple(f"fresh14_s{seed}.jsonl" for seed in range(28, 34)),
        312,
        (93, 3, 95, -7.5),
    ),
}


def readme_lines() -> list[str]:
    return (ROOT / "README.md").read_text().splitlines()


@pytest.mark.parametrize("row", sorted(QUOTED))
def test_recorded_runs_give_the_readme_figures(load_script, row):
    script = load_script("negative_transfer")
    files, n_runs, (det, fa, kept, worst) = QUOTED[row]
    runs = [r for f in files for r in script.read_runs_file(RECORDS / f)]
    assert len(runs) == n_runs
    m = script.measures(runs)
    got = (round(100 * m["det"]), round(100 * m["fa"]), round(100 * m["kept"]))
    assert got == (det, fa, kept)
    assert round(100 * m["worst"], 1) == worst
    # and the README's row says so
    line = next(t for t in readme_lines() if t.startswith(f"| {row}"))
    cells = [c.strip().strip("*") for c in line.split("|")[4:8]]
    assert cells == [f"{det} %", f"{fa} %", f"{kept} %", f"{worst:+.1f}"]


def readme_table(header_start: str) -> list[list[str]]:
    """The cells of the README table whose header row starts with ``header_start``."""
    lines = readme_lines()
    start = next(i for i, t in enumerate(lines) if t.startswith(header_start))
    rows = []
    for t in lines[start + 2 :]:
        if not t.startswith("|"):
            break
        rows.append([c.strip() for c in t.strip("|").split("|")])
    return rows


def test_the_readme_harness_table_is_the_recorded_seed_0_run(load_script):
    script = load_script("negative_transfer")
    runs = script.read_runs_file(RECORDS / "harness_s0.jsonl")
    table = readme_table("| case | kind | flagged (by) |")
    assert len(table) == len(runs) == 19
    for cells, run in zip(table, runs):  # the same order: the harness's
        assert cells[1] == run["kind"]
        assert cells[2].startswith("yes" if run["flagged"] else "no"), run["case"]
        accs = [f"{100 * run[k]:.1f}" for k in ("acc_target_only", "acc_unguarded", "acc_guarded")]
        assert cells[6:9] == accs, run["case"]
        # corr, sim and signal: the run's correspondence record ("-" where the feature test
        # failed and nothing more was measured), and the reason a flagged case names
        c = run["correspondence"]
        measured = [f"{c['statistic']:.2f}"] + [
            "-" if c.get(k) is None else f"{c[k]:.2f}" for k in ("similarity", "signal_ratio")
        ]
        assert cells[3:6] == measured, run["case"]
        if run["flagged"]:
            assert cells[2] == f"yes ({run['reason'].split('_')[0]})", run["case"]


def test_fresh_set_10_per_case_means_are_the_readme_ones(load_script):
    """The README's reading per case (averaged over fresh set 10's six seeds): none below -1."""
    script = load_script("negative_transfer")
    lines = script.summarise_runs(
        [str(RECORDS / f"fresh10_s{seed}.jsonl") for seed in range(4, 10)]
    )
    assert (
        "guarded - target-only averaged over each case's runs: worst -0.9 (mnist->usps); "
        "more than 1 point below on 0 of 51 cases"
    ) in lines
    assert "runs more than 1 point below target-only: 6" in lines
    assert "none under the current ones\n  (worst -0.9, MNIST->USPS" in "\n".join(readme_lines())


def issue_kinds_block(script, paths: list[str]) -> list[str]:
    """The six lines of ``--summary`` on ``paths`` for the issue's kinds of case alone: the
    heading, the four targets and the per-case means."""
    lines = script.summarise_runs(paths)
    head = next(i for i, t in enumerate(lines) if t.startswith("the issue's kinds of case alone"))
    return lines[head : head + 6]


def test_fresh_sets_10_to_12_per_case_means_are_the_readme_ones(load_script):
    """The README's reading per case over fresh sets 10 to 12 on the issue's kinds: two
    disjoint-class cases of fresh set 11 below -1."""
    script = load_script("negative_transfer")
    paths = sorted(str(p) for p in RECORDS.glob("fresh1[012]_s*.jsonl"))
    assert issue_kinds_block(script, paths)[5] == (
        "  guarded - target-only averaged over each case's runs: worst -4.7 "
        "(office_C->A_mixed7_disjoint); more than 1 point below on 2 of 123 cases"
    )
    rows = [json.loads(t) for p in paths for t in Path(p).read_text().splitlines() if t.strip()]
    means = {
        case: np.mean(
            [100 * (r["acc_guarded"] - r["acc_target_only"]) for r in rows if r["case"] == case]
        )
        for case in ("office_C->A_mixed7_disjoint", "office_C->D_mixed7_disjoint")
    }
    assert [round(m, 1) for m in means.values()] == [-4.7, -3.9]
    text = " ".join(" ".join(readme_lines()).split())
    assert "123 cases; `--summary`) two cases are: fresh set 11's SURF C->A and C->D" in text
    assert "-4.7 and -3.9 over their two seeds" in text


def test_fresh_set_11_at_four_seeds_is_the_readme_one(load_script):
    """Fresh set 11 at seeds 12 and 13, then at all four seeds, on the issue's kinds."""
    script = load_script("negative_transfer")

    def block(names):
        return issue_kinds_block(script, [str(RECORDS / f"{name}.jsonl") for name in names])

    two = block(["fresh11_more_s12", "fresh11_more_s13"])
    assert "104 runs" in two[0]
    assert two[1].endswith(
        "worst case: -8.8 points (target >= -1.0); more than 1 point below on 3 of 104 runs"
    )
    assert "98%" in two[2] and "91% of 66" in two[3] and "3% of 38" in two[4]
    assert "more than 1 point below on 0 of 52 cases" in two[5]
    four = block(["fresh11_s10", "fresh11_s11", "fresh11_more_s12", "fresh11_more_s13"])
    assert "208 runs" in four[0] and "worst case: -9.3 points" in four[1]
    assert "99%" in four[2] and "89% of 132" in four[3] and "1% of 76" in four[4]
    assert four[5].endswith(
        "worst -1.5 (office_C->A_mixed7_disjoint); more than 1 point below on 1 of 52 cases"
    )
    text = " ".join(" ".join(readme_lines()).split())
    assert "over its four seeds C->A with disjoint classes still averages -1.5" in text
    assert "-8.8 (the issue's kinds alone: 91 %, 3 %, 98 %, -8.8)" in text


def test_seeds_per_case_over_every_record_is_the_readme_one(load_script):
    """The per-case reading at N seeds over every recorded run (the issue's kinds), as the
    README and the record quote it."""
    script = load_script("seeds_per_case")
    before = [p for p in sorted(RECORDS.glob("*.jsonl")) if not p.name.startswith("fresh14")]
    runs = script.pooled_runs(before, issue_kinds=True)
    assert len(runs) == 934
    shares = {n: script.miss_shares(runs, n) for n in (1, 4, 6, 12)}
    assert len(shares[1]) == 147 and sum(v > 0 for v in shares[1].values()) == 7
    quoted = {  # N -> case -> percent, as rounded in the README
        4: {"office_W->A": 4.4, "office_A->W": 4.8, "mnist->usps": 2.4},
        6: {"office_W->A": 1.2, "office_A->W": 1.5, "mnist->usps": 0.5},
        12: {"office_W->A": 0.0, "office_A->W": 0.0, "mnist->usps": 0.0},
    }
    for n, cases in quoted.items():
        assert {c: round(100 * shares[n][c], 1) for c in cases} == cases
    assert shares[4]["office_C->A_mixed7_disjoint"] == 1.0
    readme = " ".join(" ".join(readme_lines()).split())
    assert "934 runs of 147 cases" in readme
    # with fresh set 14's runs at seeds 28 and 29 (its seeds 30 to 33 came later)
    with_14 = [p for p in sorted(RECORDS.glob("*.jsonl")) if not p.name.startswith("fresh14_s3")]
    runs = script.pooled_runs(with_14, issue_kinds=True)
    four = script.miss_shares(runs, 4)
    assert len(runs) == 1038 and len(script.miss_shares(runs, 1)) == 183
    assert [round(100 * four[c], 1) for c in ("office_W->A", "office_A->W", "mnist->usps")] == [
        6.2,
        7.4,
        2.5,
    ]
    assert "1038 runs of 183 cases, the three shares at four seeds are 6.2, 7.4 and 2.5 %" in readme
    # every record file, as `experiments/records/*.jsonl` reads them now
    runs = script.pooled_runs(sorted(RECORDS.glob("*.jsonl")), issue_kinds=True)
    assert len(runs) == 1246
    noisy = ("office_W->A", "office_A->W", "mnist->usps")
    shares = {n: script.miss_shares(runs, n) for n in (4, 6, 12)}
    assert {n: [round(100 * shares[n][c], 1) for c in noisy] for n in shares} == {
        4: [7.0, 5.7, 1.8],
        6: [2.7, 2.1, 0.4],
        12: [0.1, 0.0, 0.0],
    }
    assert "1246 runs) 7.0, 5.7 and 1.8 % at four seeds, 2.7, 2.1 and 0.4 % at six" in readme


def test_fresh_set_13_is_the_readme_one(load_script):
    """Fresh set 13 (pre-registered; seeds 16 to 19) as the README quotes it."""
    script = load_script("negative_transfer")
    runs = [
        r for s in range(16, 20) for r in script.read_runs_file(RECORDS / f"fresh13_s{s}.jsonl")
    ]
    assert len(runs) == 48
    m = script.measures(runs)
    assert round(100 * m["det"]) == 77 and round(100 * m["worst"], 1) == -28.1
    assert sum(script.below(r) for r in runs) == 5
    _, diffs = script.case_differences(runs)
    means = {c: round(float(np.mean(d)), 1) for c, d in diffs.items() if np.mean(d) < -1}
    assert means == {"office_C->W_mixed9_disjoint": -18.0, "office_C->A_mixed9_disjoint": -3.8}
    text = " ".join(" ".join(readme_lines()).split())
    assert (
        "has 77 % of its 48 runs flagged, 5 below -1 and 2 of its 12 cases below -1 averaged "
        "over four seeds" in text
    )
    assert "SURF C->W at -18.0 (worst -28.1;" in text and "C->A at -3.8" in text
    row = next(t for t in readme_lines() if t.startswith("| fresh set 13 (48;"))
    assert [c.strip() for c in row.split("|")[4:8]] == ["77 %", "-", "-", "-28.1"]
    text = " ".join(" ".join(readme_lines()).split())
    assert (
        "at four seeds the three noisy true pairs' means still end below -1 in 4.4 % (SURF "
        "W->A), 4.8 % (A->W) and 2.4 % (MNIST->USPS) of the sets, at six seeds in 1.2, 1.5 and "
        "0.5 %, at twelve in none of those drawn" in text
    )


def test_fresh_set_14_at_six_seeds_is_the_preregistered_outcome(load_script):
    """Fresh set 14 at seeds 28 to 33 (pre-registered in the twenty-eighth session): every
    case's six-seed mean at least -1 point, as the README and the pre-registration say;
    run by run 16 runs below -1, worst -7.5."""
    script = load_script("negative_transfer")
    runs = [
        r for s in range(28, 34) for r in script.read_runs_file(RECORDS / f"fresh14_s{s}.jsonl")
    ]
    _, diffs = script.case_differences(runs)
    assert len(diffs) == 52 and all(len(d) == 6 for d in diffs.values())
    means = {c: float(np.mean(d)) for c, d in diffs.items()}
    worst = min(means, key=means.get)
    assert (worst, round(means[worst], 1)) == ("office_W->C_mixed10_disjoint", -0.4)
    assert sum(script.below(r) for r in runs) == 16
    usps = diffs["usps->mnist_corrupted_set14"]
    assert round(float(min(usps)), 1) == -7.5 and round(float(max(usps)), 1) == 14.3
    text = " ".join(" ".join(readme_lines()).split())
    assert "every case's mean over its six seeds is at least -0.4 points" in text
    assert "Run by run its worst case is -7.5 (16 of 312 runs below -1;" in text
    prereg = " ".join((ROOT / "experiments" / "preregistration.md").read_text().split())
    assert "**The prediction held.**" in prereg


def test_fresh_set_12_without_the_class_agreement_check(load_script, capsys):
    """The README's figures for fresh set 12 with the check undone on the same runs."""
    script = load_script("class_agreement_choice")
    runs = [str(RECORDS / f"fresh12_s{seed}.jsonl") for seed in (12, 13)]
    assert script.main(["--from-current", *runs]) == 0
    out = capsys.readouterr().out
    a = out[out.index("candidate A:") : out.index("candidate E:")]
    assert (
        "worst case: -15.9 points" in a and "kept on the 52 positive run(s) with a gain: 93%" in a
    )
    assert (
        "negative cases flagged: 88% of 66" in a and "false alarms on positive cases: 3% of 62" in a
    )
    e = out[out.index("candidate E:") :]
    kinds = "the issue's kinds of case alone (without true pairs cut to part of their classes, 104"
    for block, figures in ((a, ("-15.9", "99%", "88%", "0%")), (e, ("-8.8", "99%", "94%", "3%"))):
        lines = block[block.index(kinds) :].splitlines()[1:5]
        assert [ln.split(": ")[1].split()[0] for ln in lines] == list(figures)
    assert "construction mixed8_matched   runs  24 flagged  14" in e  # the check's 14
    assert "construction mixed8_matched   runs  24 flagged   2" in a
    text = " ".join(readme_lines())
    assert "the check flagged 14 of the 24 runs of SURF pairs cut to half" in text
    assert "the current defaults meet three of the four (94 %, 3 %, 99 %, worst -8.8)" in text
    assert "the check's absence two (88 %, 0 %, 99 %, -15.9)" in text
    assert "the check's absence gives 88 %, 3 %, 93 % and -15.9" in text
    assert "raised the false alarms from 3 to 24 %" in text


def test_fresh_set_12_replication_on_the_issues_kinds_is_the_readme_one(load_script):
    script = load_script("negative_transfer")
    lines = script.summarise_runs([str(RECORDS / f"fresh12_s{seed}.jsonl") for seed in (14, 15)])
    head = lines.index(
        "the issue's kinds of case alone (without true pairs cut to part of their classes, "
        "104 runs):"
    )
    figures = [ln.split(": ")[1].split()[0] for ln in lines[head + 1 : head + 5]]
    assert figures == ["-1.7", "99%", "91%", "5%"]
    assert "(the issue's kinds alone: 91 %, 5 %, 99 %, -1.7)" in " ".join(readme_lines())


def test_the_case_level_bound_is_the_readme_one(load_script, capsys):
    """The README's bound on a guard acting per case, from the fresh sets' records."""
    script = load_script("case_level_bound")

    def bound(pattern: str) -> list[str]:
        assert script.main(["--issue-kinds", *map(str, sorted(RECORDS.glob(pattern)))]) == 0
        return [" ".join(ln.split()) for ln in capsys.readouterr().out.splitlines()]

    def false_alarms(line: str) -> str:
        return line.split("false alarms ")[1].split()[0]

    lines = bound("fresh1[012]_s*.jsonl")
    assert lines[0].endswith("below -1: 13 of 618")
    assert [false_alarms(ln) for ln in lines[:3]] == ["2%", "17%", "15%"]
    assert lines[3] == "true pairs the oracle must fall back on: 3 of 25"
    forced = {ln.split()[0]: ln for ln in lines[4:]}
    assert set(forced) == {"office_A->W", "office_W->A", "mnist->usps"}
    for case, (falls, mean, sd) in {
        "office_A->W": (8, "+1.7", "5.2"),
        "office_W->A": (12, "+3.4", "4.8"),
        "mnist->usps": (11, "+0.5", "4.6"),
    }.items():
        assert f"falls back on {falls} of 12 runs" in forced[case]
        assert f"mean {mean} sd {sd}" in forced[case]
    assert false_alarms(bound("fresh11_s*.jsonl")[2]) == "5%"
    assert false_alarms(bound("fresh10_s*.jsonl")[2]) == "10%"
    text = " ".join(" ".join(readme_lines()).split())
    assert (
        "+1.7, +3.4 and +0.5 points over target-only, standard deviations 5.2, 4.8 and 4.6" in text
    )
    assert (
        "15 % false alarms (17 % acting alike on every run of a case) against the monitor's 2 %"
        in text
    )
    assert (
        "(fresh set 11's two seeds: 5 %; fresh set 10's six: 10 %; the harness's eight: 9 %)"
        in text
    )
    assert false_alarms(bound("harness_s*.jsonl")[2]) == "9%"
    assert "still falls back on 11 of the 12 runs" in text


def test_the_held_out_seeds_one_seed_figures_are_the_readme_ones(load_script, capsys):
    """The held-out seeds' rows (``judges24_s*``): one seed's mean guarded - target-only and
    share more than a point below on the two SURF pairs, as the README and the pre-registered
    outcome quote them, and the bound's fallbacks the record quotes."""
    judges = load_script("partition_judges")
    rows = [
        json.loads(line)
        for path in sorted(RECORDS.glob("judges24_s*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert len(rows) == 72

    def one_seed(case: str) -> str:
        outcome = [
            100 * (r["acc_guarded"] - r["acc_target_only"]) for r in rows if r["case"] == case
        ]
        assert len(outcome) == 12
        return " ".join(judges.spread(np.array(outcome)).split())

    assert one_seed("office_A->W") == "mean +2.1, below -1 in 25%"
    assert one_seed("office_W->A") == "mean +1.8, below -1 in 17%"
    assert one_seed("mnist->usps") == "mean +4.8, below -1 in 0%"
    text = " ".join(" ".join(readme_lines()).split())
    assert "+3.6 points on SURF A->W and W->A against +2.1 and +1.8 for one seed" in text
    assert "more than a point below against 25 and 17 %" in text

    bound = load_script("case_level_bound")
    assert bound.main([str(p) for p in sorted(RECORDS.glob("judges24_s*.jsonl"))]) == 0
    out = capsys.readouterr().out.splitlines()[4:]
    forced = {ln.split()[0]: " ".join(ln.split()) for ln in out}
    assert set(forced) == {"office_A->W", "office_W->A"}
    assert "falls back on 5 of 12 runs" in forced["office_A->W"]
    assert "falls back on 11 of 12 runs" in forced["office_W->A"]


def test_the_learned_guard_on_fresh_set_14_is_the_preregistered_outcome(load_script):
    """The guard frozen before fresh set 14 ran, at t = 0.2, on its 104 runs: the figures
    of the pre-registration's outcome and the README, two negative runs below -1."""
    script = load_script("learned_guard")
    files = [RECORDS / f"fresh14_s{s}.jsonl" for s in (28, 29)]
    rows = script.pooled_runs(files)
    guard = json.loads((ROOT / "experiments" / "learned_guard.json").read_text())
    guarded = script.with_guard(rows, script.frozen_chances(guard, rows), 0.2)
    harness = load_script("negative_transfer")
    m = harness.measures(guarded)
    assert (round(100 * m["det"]), round(100 * m["fa"]), round(100 * m["kept"])) == (95, 18, 90)
    assert round(100 * m["worst"], 1) == -5.4
    below = sorted((r["kind"], r["case"], r["seed"]) for r in guarded if harness.below(r))
    assert [b for b in below if b[0] == "negative"] == [
        ("negative", "office_A->C_mixed10_disjoint", 28),
        ("negative", "usps->mnist_corrupted_set14", 28),
    ]
    assert len(below) == 6
    readme = " ".join(" ".join(readme_lines()).split())
    assert "fresh set 14, it failed: 95 % flagged, 18 % false alarms, 90 % kept" in readme


def test_rule_19s_per_case_reading_of_fresh_set_10_is_the_readme_one(load_script, capsys):
    """Rule #19's defaults, derived from the kept re-runs by undoing the class-agreement
    check, read per case: -2.6 (SURF C->A with disjoint classes) over seeds 4 to 9, as the
    README says, and at seeds 4 to 7 also MNIST->USPS at -2.3, as the record says."""
    script = load_script("class_agreement_choice")

    def case_means(seeds) -> dict[str, str]:
        runs = [str(RECORDS / f"fresh10_s{seed}.jsonl") for seed in seeds]
        assert script.main(["--from-current", *runs]) == 0
        out = capsys.readouterr().out
        return {
            name: next(
                " ".join(ln.split())
                for ln in out[out.index(f"candidate {name}:") :].splitlines()
                if "averaged over each case's runs" in ln
            )
            for name in ("A", "E")
        }

    six = case_means(range(4, 10))
    assert six["A"].endswith(
        "worst -2.6 (office_C->A_disjoint); more than 1 point below on 1 of 51 cases"
    )
    assert six["E"].endswith("worst -0.9 (mnist->usps); more than 1 point below on 0 of 51 cases")
    four = case_means(range(4, 8))
    assert four["A"].endswith("more than 1 point below on 2 of 51 cases")
    # the check touched no MNIST->USPS run: A's second case is E's worst
    assert "worst -2.3 (mnist->usps); more than 1 point below on 1 of 51 cases" in four["E"]
    text = " ".join(" ".join(readme_lines()).split())
    assert "rule #19's defaults (SURF C->A with disjoint classes, -2.6)" in text
    record = " ".join((ROOT / "experiments" / "negative_transfer_record.md").read_text().split())
    assert (
        "two cases stay below -1 (SURF C->A with disjoint classes -2.6, MNIST->USPS -2.3)" in record
    )
