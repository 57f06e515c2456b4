"""Development pairs made from a benchmark's *source* domain alone, to choose a DTC setting
per family from each domain's own labels (each is also a benchmark target: see below).

The embedded digits pair is a single development pair, and choices made on it have not
always carried over to the shared families (``dtc.pipeline.FAMILY_CONFIGS`` records two
that did not). A family's labelled source is the one place where labels may be used to
choose. This script builds, for each source domain of an image family, a development
pair *from that source only*:

* the source rows are split in two halves, stratified by class (``seed``);
* the first half is the development source; the second half, shifted by
  :func:`dtc.data.shift_domain` (rotation, stroke thickening, contrast loss, noise;
  strength ``--shift``), is the development target;
* both halves then get the family's standard preprocessing, each on its own, as
  :func:`dtc.data.load_pair` does for the real pair.

That is ``--split stratified``, MNIST-USPS's. COIL's real pair is a shift of *viewpoint*:
COIL1 holds each object's poses at [0, 85] and [180, 265] degrees, COIL2 the rest (the
data README). A stratified split of COIL1 interleaves poses, so every target pose has a
source pose 5 degrees away, an easier pair than the real one, and it did not predict the
real pair's behaviour (``dtc.pipeline.FAMILY_CONFIGS``). ``--split pose``, COIL's, mirrors
the benchmark's construction inside one source domain instead: each object's 36 rows are
two arcs of 18 poses in file order (on COIL1 the largest step between consecutive rows
falls between rows 17 and 18 for all 20 objects); the first 9 poses of each arc (45
degrees) are the development source, the last 9 the development target. No synthetic shift:
the unseen poses are the shift.

Candidate DTC settings (``--candidates``, one JSON object of DTC parameters each, on top of
the family's labelled default) are fitted on every development pair and seed, and the
Hungarian ACC on the development target -- labels of the *source* domain -- is printed per
family, with the candidate to choose. No pair is loaded as a pair, but the families'
pairs are reciprocal (MNIST->USPS and USPS->MNIST, COIL1->COIL2 and COIL2->COIL1): every
domain split here is also a benchmark target, and the family's choice, the mean over its
domains, reads the labels of the target of each of the family's pairs. Figures of these
pairs under a default chosen here are not held out from their targets' labels.

    DTC_DATA=../shared/data python scripts/source_split_dev.py \\
        --candidates '{"std_floor_quantile": 0.5}' '{"std_floor_quantile": null}' \\
        --out dev_fits.jsonl     # resumable: run the same command again to resume

With ``--out FILE`` each finished fit is appended to FILE as one JSON line (family, source,
seed, candidate, split, shift, setting, the DTC parameters it ran with, ``acc``,
``acc_named``, seconds), and running the same command again skips the fits FILE already
holds under the same split, shift (``None`` for the pose split, which has none), setting and
resolved DTC parameters (a family default or a DTC default changed since: fitted again; the
older record stays in FILE). The per-fit lines and the summary cover the fits recorded there
as well as the new ones ("recorded" in place of the time); a last line cut short by an
interruption is not a fit. An interruption (Ctrl-C, SIGTERM) says, in one line, where the
finished fits are kept.

Image families only (SURF histograms have no image shape to shift).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from dtc._validation import path_argument, seed_argument
from dtc.data import Domain, DomainPair, load_domain, resolve_data_dir, shift_domain
from dtc.data.benchmarks import PREPROCESSINGS, benchmark_info
from dtc.experiment.config import plugin_code
from dtc.experiment.single import describe_params
from dtc.experiment.store import (
    append_record,
    check_appendable,
    exit_on_interrupt,
    read_records,
    record_check,
)
from dtc.metrics import acc_unmatched, cluster_acc
from dtc.pipeline import DTC, family_config

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts
from run_baselines import check_data

from dtc._entry import run_script

FAMILIES = ("mnist_usps", "coil20")
SPLITS = ("stratified", "pose")
DEFAULT_SPLIT = {"mnist_usps": "stratified", "coil20": "pose"}
POSES_PER_ARC = 18  # COIL: 36 poses per object and domain, two arcs of 90 degrees


def _preprocessed_pair(raw: Domain, dev_source: Domain, dev_target: Domain, preprocess: str):
    """The development pair, each half preprocessed with ``PREPROCESSINGS[preprocess]`` on
    its own, as :func:`dtc.data.load_pair` does for a real pair."""
    prep = PREPROCESSINGS[preprocess]
    return DomainPair(
        dev_source.with_features(prep(dev_source.X), image_shape=raw.image_shape),
        dev_target.with_features(prep(dev_target.X), image_shape=raw.image_shape),
        n_clusters=int(np.unique(raw.y).size),
        benchmark=raw.meta.get("benchmark"),
    )


def split_and_shift(raw: Domain, preprocess: str, *, shift: float, seed: int) -> DomainPair:
    """A development pair from one labelled image domain ``raw`` (pixels in ``[0, 1]``):
    a stratified half as source, the other half shifted as target, each half then
    preprocessed with ``PREPROCESSINGS[preprocess]`` on its own."""
    idx = np.arange(raw.n_samples)
    first, second = train_test_split(idx, test_size=0.5, stratify=raw.y, random_state=seed)
    dev_source, dev_target = raw.subset(np.sort(first)), raw.subset(np.sort(second))
    dev_target = shift_domain(dev_target, shift, seed=seed)
    return _preprocessed_pair(raw, dev_source, dev_target, preprocess)


def split_by_pose(raw: Domain, preprocess: str) -> DomainPair:
    """A development pair from one labelled COIL domain ``raw`` whose rows are, per class,
    two arcs of :data:`POSES_PER_ARC` poses in pose order: the first half of each arc as
    source, the second half as target, each then preprocessed with
    ``PREPROCESSINGS[preprocess]`` on its own. Deterministic (no seed)."""
    half = POSES_PER_ARC // 2
    first, second = [], []
    for c in np.unique(raw.y):
        rows = np.flatnonzero(raw.y == c)
        if len(rows) != 2 * POSES_PER_ARC:
            raise ValueError(
                f"split_by_pose: expected {2 * POSES_PER_ARC} rows (two arcs of poses) for "
                f"class {c}, got {len(rows)}"
            )
        arcs = rows.reshape(2, POSES_PER_ARC)
        first.append(arcs[:, :half].ravel())
        second.append(arcs[:, half:].ravel())
    dev_source = raw.subset(np.sort(np.concatenate(first)))
    dev_target = raw.subset(np.sort(np.concatenate(second)))
    return _preprocessed_pair(raw, dev_source, dev_target, preprocess)


def source_split_pair(
    family: str, source: str, data_dir, *, shift: float, seed: int, split: str | None = None
):
    """The development pair of ``family``'s domain ``source`` (module docstring); ``split``
    defaults to the family's (:data:`DEFAULT_SPLIT`). The pose split ignores ``shift`` and
    ``seed``."""
    split = DEFAULT_SPLIT[family] if split is None else split
    raw = load_domain(family, source, data_dir, preprocess="raw")
    prep = benchmark_info(family)["standard_preprocess"]
    if split == "pose":
        return split_by_pose(raw, prep)
    return split_and_shift(raw, prep, shift=shift, seed=seed)  # meta names the benchmark


def make_dtc(family: str, setting: str, candidate: dict, seed: int) -> DTC:
    """The unfitted DTC of one fit: ``family``'s default for ``setting`` with ``candidate``
    on top, ``seed``, one thread."""
    return DTC(**{**family_config(family, setting), **candidate}, seed=seed, n_threads=1)


#: What a fit record holds besides its time and named accuracy (:func:`fit_key`'s fields).
FIT_FIELDS = ("family", "source", "seed", "candidate", "split", "shift", "setting", "params")


def fit_key(record: dict) -> tuple:
    """What a fit is, for ``--out``: its :data:`FIT_FIELDS` (family, source, seed, candidate,
    split, shift, setting, resolved DTC parameters) and the code of a user's plugin the
    candidate names (``"code"``, none when absent), each as canonical JSON."""
    fields = [record[k] for k in FIT_FIELDS] + [record.get("code", {})]
    return tuple(json.dumps(value, sort_keys=True) for value in fields)


def fit_line(record: dict, when: str) -> str:
    """The printed line of a fit ``record``; ``when``: its time, or that it was recorded."""
    # accuracy under the source class names, where the method names clusters
    named = record.get("acc_named")
    named = "" if named is None else f"named={100 * named:5.1f} "
    return (
        f"{record['family']:12s} {record['source']:6s} seed={record['seed']} "
        f"{json.dumps(record['candidate']):40s} acc={100 * record['acc']:5.1f} {named}{when}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--candidates", nargs="+", required=True, help="JSON objects of DTC params")
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--seeds", type=seed_argument(), nargs="+", default=[0, 1, 2])
    ap.add_argument("--shift", type=float, default=0.5, help="digits shift strength in [0, 1]")
    ap.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="how a source domain becomes a pair (default: the family's, see DEFAULT_SPLIT)",
    )
    ap.add_argument(
        "--setting",
        choices=("labelled", "unlabelled"),
        default="labelled",
        help="the family default the candidates modify (unlabelled: no source labels used)",
    )
    ap.add_argument("--data-dir", default=None)
    ap.add_argument(
        "--out",
        metavar="FILE",
        type=path_argument,
        help="append each finished fit to FILE as a JSON line; run again with the same FILE "
        "and the fits it holds under the same settings are kept, not redone",
    )
    args = ap.parse_args(argv)
    # a family, seed or candidate named twice is fitted once (as dtc_benchmark.py runs a seed
    # once): counted twice, it weighed twice in the mean the choice is read from
    args.families, args.seeds = list(dict.fromkeys(args.families)), list(dict.fromkeys(args.seeds))
    if args.split == "pose" and (other := [f for f in args.families if f != "coil20"]):
        # split_by_pose's ValueError came as a traceback, after coil20's fits
        ap.error(
            f"--split pose: only coil20's domains hold each object's poses in two arcs, got "
            f"--families {' '.join(other)} (give --split stratified, or leave it out)"
        )
    candidates = {}  # canonical JSON -> candidate
    for text in args.candidates:
        try:
            c = json.loads(text)
        except json.JSONDecodeError:  # was a JSONDecodeError traceback
            c = text
        if not isinstance(c, dict):
            ap.error(f"--candidates: each must be a JSON object of DTC parameters, got {c!r}")
        candidates.setdefault(json.dumps(c, sort_keys=True), c)
    candidates = list(candidates.values())
    if not 0.0 <= args.shift <= 1.0:  # apply_shift's error came after the first fits
        ap.error(f"--shift: expected a strength in [0, 1], got {args.shift}")
    for cand in candidates:
        # DTC checks its parameters in fit: a bad second candidate failed, as a traceback,
        # after the first one's fits
        try:
            make_dtc(args.families[0], args.setting, cand, 0).check_params()
        except (TypeError, ValueError) as exc:
            ap.error(f"--candidates {json.dumps(cand)}: {exc}")
    data_dir = resolve_data_dir(args.data_dir)
    with exit_on_interrupt(Path(__file__).name, args.out):
        done = {}
        if args.out is not None:
            try:
                done = {
                    fit_key(r): r
                    for r in read_records(args.out, check=record_check(*FIT_FIELDS, "acc"))
                }
                check_appendable(args.out)
            except (OSError, ValueError) as exc:  # a broken line, a directory
                ap.error(f"--out: {exc}")
        # every fit asked for, in order: (candidate index, its record without the results,
        # its unfitted DTC)
        fits = []
        for family in args.families:
            split = DEFAULT_SPLIT[family] if args.split is None else args.split
            shift = args.shift if split == "stratified" else None  # the pose split has none
            domains = sorted({s for s, _ in benchmark_info(family)["pairs"]})
            for source in domains:
                for seed in args.seeds:
                    for i, cand in enumerate(candidates):
                        record = {
                            "family": family,
                            "source": source,
                            "seed": seed,
                            "candidate": cand,
                            "split": split,
                            "shift": shift,
                            "setting": args.setting,
                        }
                        est = make_dtc(family, args.setting, cand, seed)
                        # JSON round-tripped, to compare with a record read back
                        params = json.dumps(describe_params(est), default=str)
                        record["params"] = json.loads(params)
                        # a user's loss the candidate names ("loss": "module:Class"): an
                        # edit of its file is another fit (the string alone kept the old)
                        code = plugin_code(cand)
                        if code:
                            record["code"] = code
                        fits.append((i, record, est))
        to_fit = [r for _, r, _ in fits if fit_key(r) not in done]
        # the files of every domain still to fit, before the first fit: a missing one was a
        # traceback after the fits before it (a domain split here is its own pair's source
        # and target)
        check_data([(r["family"], r["source"], r["source"]) for r in to_fit], data_dir)
        todo = len(to_fit)
        kept = f"{len(fits) - todo} recorded in {args.out}, " if args.out is not None else ""
        print(f"{len(fits)} fits: {kept}{todo} to do", flush=True)
        accs = defaultdict(list)  # (family, candidate index) -> ACCs
        pairs = {}  # (family, source, seed) -> the development pair, loaded when a fit needs it
        for i, record, est in fits:
            family, source, seed = record["family"], record["source"], record["seed"]
            if fit_key(record) in done:
                record = done[fit_key(record)]
                accs[family, i].append(record["acc"])
                print(fit_line(record, "recorded"), flush=True)
                continue
            if (family, source, seed) not in pairs:
                pairs.clear()  # one pair at a time: the fits are ordered by pair
                pairs[family, source, seed] = source_split_pair(
                    family, source, data_dir, shift=args.shift, seed=seed, split=args.split
                )
            pair = pairs[family, source, seed]
            t0 = time.perf_counter()
            est.fit(pair)
            acc = cluster_acc(pair.target.y, est.labels_)
            names = getattr(est, "cluster_classes_", None)
            record["acc"] = float(acc)
            record["acc_named"] = (
                None if names is None else float(acc_unmatched(pair.target.y, est.labels_, names))
            )
            record["seconds"] = round(time.perf_counter() - t0, 1)
            if args.out is not None:
                append_record(args.out, record)
            accs[family, i].append(record["acc"])
            print(fit_line(record, f"{record['seconds']:5.1f}s"), flush=True)
        print("\nHungarian ACC on the development targets (%), mean over domains and seeds:")
        for family in args.families:
            means = [float(np.mean(accs[family, i])) for i in range(len(candidates))]
            for i, cand in enumerate(candidates):
                print(f"  {family:12s} {json.dumps(cand):40s} {100 * means[i]:5.1f}")
            print(f"  {family:12s} choose {json.dumps(candidates[int(np.argmax(means))])}")
        # Said where the choice is printed, not only in the docstring: it is read off labels of
        # domains that are also the family's benchmark targets.
        print(
            "(each domain split here is also a benchmark target: figures of the family's pairs "
            "under this choice are not held out from their targets' labels)"
        )
        return 0


if __name__ == "__main__":
    run_script(main)
