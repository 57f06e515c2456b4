"""scripts/source_split_dev.py: what a fit record holds and which pair and DTC it was made
with, and the options checked before any fit (pairs and fits faked: no data read)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dtc.data import Domain, DomainPair


@pytest.fixture
def fake(load_script, monkeypatch):
    """``(script, fitted, built)``: the script with fake pairs (the ``split`` each was asked
    for kept in ``built``) and fake fits (the DTC parameters of each kept in ``fitted``): a
    fit partitions the target exactly, cluster ``c`` holding class ``1 - c``, and names
    cluster ``c`` after class ``c``."""
    script = load_script("source_split_dev")
    fitted, built = [], []

    def pair(family, source, data_dir, *, shift, seed, split=None):
        built.append((family, source, seed, split, shift))
        y = np.repeat([0, 1], 4)
        X = np.random.default_rng(seed).normal(size=(8, 4)) + y[:, None]
        return DomainPair(Domain(X, y), Domain(X, y), n_clusters=2, benchmark=family)

    class FakeDTC(script.DTC):
        def fit(self, pair):
            fitted.append(self.get_params(deep=False))
            self.labels_ = 1 - pair.target.y  # right up to names, every name wrong
            self.cluster_classes_ = np.array([0, 1])
            return self

    monkeypatch.setattr(script, "source_split_pair", pair)
    monkeypatch.setattr(script, "DTC", FakeDTC)
    monkeypatch.setattr(script, "check_data", lambda *a: None)
    return script, fitted, built


def test_a_record_keeps_the_named_accuracy_apart_from_the_hungarian_one(fake, tmp_path):
    script, _, _ = fake
    out = tmp_path / "fits.jsonl"
    argv = ["--families", "mnist_usps", "--seeds", "0", "--candidates", "{}", "--out", str(out)]
    assert script.main(argv) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2  # mnist and usps
    # clusters swapped against the classes: Hungarian 1, under the source's names 0
    assert all(r["acc"] == 1.0 and r["acc_named"] == 0.0 for r in records)


def test_the_pose_split_records_no_shift_and_a_given_split_reaches_the_pair(fake, tmp_path):
    script, _, built = fake
    out = tmp_path / "fits.jsonl"
    argv = ["--families", "coil20", "--seeds", "0", "--candidates", "{}", "--out", str(out)]
    assert script.main([*argv, "--shift", "0.3"]) == 0
    pose = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["split"], r["shift"]) for r in pose] == [("pose", None)] * 2
    assert [b[3] for b in built] == [None, None]  # the family's default, resolved by the pair
    built.clear()
    assert script.main([*argv, "--shift", "0.3", "--split", "stratified"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()][2:]
    assert [(r["split"], r["shift"]) for r in records] == [("stratified", 0.3)] * 2
    # the split asked for, not COIL's default pose split
    assert [(b[3], b[4]) for b in built] == [("stratified", 0.3)] * 2


def test_the_setting_is_the_family_default_the_fits_run(fake, tmp_path):
    from dtc.pipeline import family_config

    script, fitted, _ = fake
    argv = ["--families", "coil20", "--seeds", "0", "--candidates", '{"lam": 0.5}']
    assert script.main([*argv, "--setting", "unlabelled"]) == 0
    want = family_config("coil20", "unlabelled") | {"lam": 0.5}
    assert len(fitted) == 2
    for params in fitted:
        assert {k: params[k] for k in want} == want
        assert params["seed"] == 0 and params["n_threads"] == 1


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--shift", "1.5"], "--shift: expected a strength in [0, 1], got 1.5"),
        (["--shift", "-0.1"], "--shift: expected a strength in [0, 1], got -0.1"),
        # the second candidate's bad value: a traceback after the first one's fits
        (
            ["--candidates", "{}", '{"lam": -1.0}'],
            '--candidates {"lam": -1.0}: DTC: lam must be a number >= 0',
        ),
    ],
)
def test_bad_options_are_refused_before_any_fit(fake, argv, error, capsys):
    script, fitted, built = fake
    full = ["--families", "mnist_usps", "--seeds", "0"]
    full += argv if "--candidates" in argv else ["--candidates", "{}", *argv]
    with pytest.raises(SystemExit) as exit_:
        script.main(full)
    assert exit_.value.code == 2 and fitted == [] and built == []
    assert error in capsys.readouterr().err


def test_the_shifts_bounds_are_strengths(fake):
    script, fitted, _ = fake
    for shift in ("0", "1"):
        fitted.clear()
        argv = ["--families", "mnist_usps", "--seeds", "0", "--candidates", "{}"]
        assert script.main([*argv, "--shift", shift]) == 0 and len(fitted) == 2


def test_a_candidate_written_with_its_keys_in_another_order_is_fitted_once(fake, capsys):
    script, fitted, _ = fake
    one = '{"lam": 0.5, "std_floor_quantile": null}'
    other = '{"std_floor_quantile": null, "lam": 0.5}'
    argv = ["--families", "mnist_usps", "--seeds", "0", "--candidates", one, other]
    assert script.main(argv) == 0
    assert len(fitted) == 2  # two domains, one candidate
    assert capsys.readouterr().out.startswith("2 fits: 2 to do\n")
