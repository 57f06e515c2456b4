"""Rule #13 of ``experiments/preregistration.md``: which ``min_similarity`` the monitor's
source check should use, chosen on the fresh parity-split cases by their source checks alone.

Reads the output of

    python scripts/negative_transfer.py --fresh --checks-only --check-seeds 5 --json \
        --min-similarity none > fresh.jsonl

(one JSON line per case, with the similarity and the verdict of every monitor seed, the
similarity not judged: the defaults when the rule was run) and judges the candidates of the
rule on it:

* A: ``min_similarity=None`` (not judged);
* B: ``min_similarity=0.5`` for every pair;
* C: one threshold per feature family (pixel intensities 0.40, SURF bag-of-words 0.50).

Under a threshold ``t`` a (case, seed) check is flagged when the default checks flag it
(unrelated or noisy source) or when its similarity is below ``t`` -- the order in which
:func:`dtc.monitor.relatedness.check_source` applies them, so one run of the checks gives
every candidate's verdicts. A ``nan`` similarity is no evidence either way and never flags.
FA is the share of positive checks flagged, DET the share of negative checks flagged.
The rule: a candidate is eligible when FA <= 0.10; B or C replaces A only if eligible and
DET >= DET(A) + 0.10; if both qualify, the higher DET, B when within 0.02.

    python scripts/similarity_threshold_choice.py fresh.jsonl
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from negative_transfer import EPS, construction, read_runs_file

from dtc._entry import run_script

# The benchmark families of rule #13's candidate C, by ``DomainPair.benchmark``.
FAMILY = {
    "digits": "pixels",
    "mnist_usps": "pixels",
    "coil20": "pixels",
    "office_caltech10_surf": "surf",
}
CANDIDATES = {
    "A": {"pixels": None, "surf": None},
    "B": {"pixels": 0.5, "surf": 0.5},
    "C": {"pixels": 0.40, "surf": 0.50},
}
MAX_FA, MIN_GAIN, TIE = 0.10, 0.10, 0.02


def flags(row: dict, threshold: float | None) -> list[bool]:
    """Per monitor seed: does the source check flag ``row``'s case under ``threshold``?"""
    if not row["applies"]:
        return []
    return [
        verdict is not None
        or (threshold is not None and sim is not None and not math.isnan(sim) and sim < threshold)
        for verdict, sim in zip(row["verdicts"], row["similarities"], strict=True)
    ]


def rates(rows: list[dict], thresholds: dict) -> dict:
    """``{kind: (flagged, checks)}`` over ``rows`` under per-family ``thresholds``."""
    out = {"positive": [0, 0], "negative": [0, 0]}
    for row in rows:
        f = flags(row, thresholds.get(FAMILY.get(row["benchmark"])))
        out[row["kind"]][0] += sum(f)
        out[row["kind"]][1] += len(f)
    return {kind: tuple(v) for kind, v in out.items()}


def share(pair: tuple[int, int]) -> float:
    return pair[0] / pair[1] if pair[1] else float("nan")


def choose(rows: list[dict]) -> tuple[str, dict]:
    """The candidate rule #13 picks on ``rows``, and each candidate's ``(FA, DET)``."""
    scores = {}
    for name, thresholds in CANDIDATES.items():
        r = rates(rows, thresholds)
        scores[name] = (share(r["positive"]), share(r["negative"]))
    det_a = scores["A"][1]
    qualify = {
        name: det
        for name, (fa, det) in scores.items()
        # exact ties pass (EPS): DET 0.3 against 0.2 + 0.10 = 0.30000000000000004 did not
        if name != "A" and fa <= MAX_FA + EPS and det >= det_a + MIN_GAIN - EPS
    }
    if not qualify:
        return "A", scores
    if len(qualify) == 2 and abs(qualify["B"] - qualify["C"]) <= TIE + EPS:
        return "B", scores
    return max(qualify, key=qualify.get), scores


def report(rows: list[dict]) -> list[str]:
    """The rule's table: FA and DET per candidate, overall, per family, per construction."""
    lines = [f"{'candidate':10} {'group':24} {'FA':>14} {'DET':>14}"]
    groups = {"all": rows}
    for fam in sorted(set(FAMILY.values())):
        groups[f"family {fam}"] = [r for r in rows if FAMILY.get(r["benchmark"]) == fam]
    for how in ("pair", "matched", "crossed", "wide_gap"):
        groups[f"construction {how}"] = [r for r in rows if construction(r["case"]) == how]
    for name, thresholds in CANDIDATES.items():
        for group, members in groups.items():
            r = rates(members, thresholds)

            def cell(kind, r=r):
                k, n = r[kind]
                return f"{k}/{n} ({100 * share(r[kind]):.0f}%)" if n else "-"

            lines.append(f"{name:10} {group:24} {cell('positive'):>14} {cell('negative'):>14}")
    choice, scores = choose(rows)
    lines.append(
        "rule #13 picks "
        + choice
        + " ("
        + ", ".join(f"{n}: FA {fa:.3f} DET {det:.3f}" for n, (fa, det) in scores.items())
        + ")"
    )
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("path", help="the --fresh --checks-only --json output")
    args = ap.parse_args(argv)
    try:
        rows = read_runs_file(args.path)
    except ValueError as exc:
        ap.error(str(exc))
    # a harness run file (no "benchmark", no "similarities") was a KeyError traceback
    if not rows or any(
        "benchmark" not in r or ("similarities" not in r and r.get("applies")) for r in rows
    ):
        ap.error(f"{args.path}: expected --checks-only --json lines with similarities")
    # Made with the similarity judged (today's default), the verdicts already hold its
    # threshold: candidate A, "not judged", then flagged for similarity and won rule #13
    if any(v == "dissimilar_source" for r in rows for v in r.get("verdicts", ())):
        ap.error(
            f"{args.path}: its verdicts judge the similarity (dissimilar_source): the checks "
            "must be made with --min-similarity none, so that each candidate's threshold is "
            "the only one applied"
        )
    print("\n".join(report(rows)))
    return 0


if __name__ == "__main__":
    run_script(main)
