"""``scripts/dec_scale.py``: the start of DEC's fine-tuning rebuilt as DEC builds it, and the
counts it reads from a results file."""

import json

import numpy as np
import pytest
import torch

from baselines.dec import DEC
from dtc.data import Domain, DomainPair

SMALL = {"hidden": (16,), "n_latent": 3, "batch_size": 64, "pretrain_epochs": 3, "max_epochs": 2}


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("dec_scale")


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    X = rng.normal(size=(3, 12))[y] + 0.3 * rng.normal(size=(90, 12))
    X /= np.linalg.norm(X, axis=1, keepdims=True)  # unit rows: the factor is sqrt(12)
    return DomainPair(Domain(X[:9], y[:9]), Domain(X, y), n_clusters=3)


@pytest.mark.parametrize("rescale", [False, True])
def test_dec_keeps_the_start_its_fine_tuning_came_from(script, pair, rescale):
    fitted = DEC(rescale=rescale, **SMALL).fit(pair)
    # the K-means of the kept embeddings is the start's: its labels, and its centres are
    # the means of their rows (the script used to train a second autoencoder for this)
    Z, centers = fitted.initial_embedding_, fitted.initial_centers_
    assert Z.shape == (90, SMALL["n_latent"]) and centers.shape == (3, SMALL["n_latent"])
    for c in range(3):
        np.testing.assert_allclose(
            centers[c], Z[fitted.initial_labels_ == c].mean(0), rtol=1e-4, atol=1e-5
        )
    geometry = script.start_geometry(fitted)
    assert geometry["factor"] == pytest.approx(np.sqrt(12) if rescale else 1.0)
    assert 1 / 3 < geometry["max_q"] <= 1
    assert 0 <= geometry["d2_own"] < geometry["d2_others"]


def test_start_geometry_by_hand(script):
    # two embeddings per centre, centres at 0 and 3 on a line: squared distances to the own
    # centre 0, 1, 0, 1 (median 0.5), to the other 9, 4, 9, 16 (median 9)
    class Fitted:
        initial_embedding_ = np.array([[0.0], [1.0], [3.0], [4.0]], dtype=np.float32)
        initial_centers_ = np.array([[0.0], [3.0]], dtype=np.float32)
        initial_labels_ = np.array([0, 0, 1, 1])
        input_scale_ = 1.0
        alpha = 1.0

    geometry = script.start_geometry(Fitted())
    assert geometry["d2_own"] == pytest.approx(0.5)
    assert geometry["d2_others"] == pytest.approx(9.0)
    # Student-t, alpha = 1: max_j q_ij = (1 / (1 + own)) / (1 / (1 + own) + 1 / (1 + other));
    # z = 0: 1 against 1/10 -> 10/11; z = 1: 1/2 against 1/5 -> 5/7; z = 3: 10/11;
    # z = 4: 1/2 against 1/17 -> 17/19
    q = [10 / 11, 5 / 7, 10 / 11, 17 / 19]
    assert geometry["max_q"] == pytest.approx(float(np.median(q)), rel=1e-6)


def test_record_rows_counts_first_check_stops_and_lists_collapses(script, tmp_path, capsys):
    def record(label, method, seed, acc, changed):
        history = [{"epoch": 0, "recon": 1.0}] + [
            {"epoch": e, "kl": 0.1, "changed": c} for e, c in enumerate(changed)
        ]
        return {
            "label": label,
            "method": method,
            "benchmark": "coil20",
            "data_params": {},
            "source": "coil1",
            "target": "coil2",
            "seed": seed,
            "metrics": {"acc": acc},
            "history": history,
        }

    single = record(None, "idec", 0, 0.5, [0.0])
    del single["label"]  # a single `dtc run` records none: a KeyError traceback
    rows = [
        record("DEC", "dec", 0, 0.25, [0.0, 0.84, 0.2]),  # collapsed
        record("DEC", "dec", 1, 0.60, [0.0]),  # stopped at its first check
        record("KM", "kmeans", 0, 0.10, []),  # not DEC: left out
        single,
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    script.record_rows(path, collapse=0.3)
    out = capsys.readouterr().out.splitlines()
    assert " ".join(out[0].split()) == "DEC coil20 1 of 2 runs stopped at the first check"
    assert out[1].strip() == (
        "coil1->coil2 seed 0: ACC 25.0, first epoch changed 84 % of the assignments"
    )
    assert " ".join(out[2].split()) == "idec coil20 1 of 1 runs stopped at the first check"
    assert len(out) == 3


def test_a_missing_data_file_is_one_line_before_any_fit(script, monkeypatch, tmp_path):
    """It was a FileNotFoundError traceback, after the fits of the targets before it."""
    monkeypatch.setattr(script, "DEC", lambda **k: pytest.fail("a fit ran"))
    argv = ["--targets", "digits", "coil2", "--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="file 'COIL_1.mat' not found") as exc:
        script.main(argv)
    assert str(exc.value.code).startswith("error: benchmark 'coil20': ")


def test_start_geometry_uses_the_fitted_alpha(script):
    # alpha = 3: q_ij proportional to (1 + d2 / 3) ** -2; z = 0 with centres at 0 and 3:
    # 1 against (1 + 3) ** -2 = 1/16 -> 16/17; z = 1: (4/3) ** -2 = 9/16 against
    # (7/3) ** -2 = 9/49 -> 49/65; z = 3: 16/17 as z = 0; z = 4: own 1 -> 9/16, other 16
    # -> (1 + 16/3) ** -2 = 9/361 -> 361/377
    class Fitted:
        initial_embedding_ = np.array([[0.0], [1.0], [3.0], [4.0]], dtype=np.float32)
        initial_centers_ = np.array([[0.0], [3.0]], dtype=np.float32)
        initial_labels_ = np.array([0, 0, 1, 1])
        input_scale_ = 2.5
        alpha = 3.0

    geometry = script.start_geometry(Fitted())
    q = [16 / 17, 49 / 65, 16 / 17, 361 / 377]
    assert geometry["max_q"] == pytest.approx(float(np.median(q)), rel=1e-6)
    assert geometry["factor"] == 2.5


def test_start_geometry_takes_numpys_median_of_an_even_count(script):
    # torch's median of an even count is the lower middle value, numpy's the mean of the two
    class Fitted:
        initial_embedding_ = np.array([[0.0], [1.0]], dtype=np.float32)
        initial_centers_ = np.array([[0.0], [3.0]], dtype=np.float32)
        initial_labels_ = np.array([0, 0])
        input_scale_ = 1.0
        alpha = 1.0

    q = [10 / 11, 5 / 7]
    got = script.start_geometry(Fitted())["max_q"]
    assert got == pytest.approx(np.mean(q), rel=1e-6)
    assert got != pytest.approx(float(torch.tensor(q).median()), rel=1e-6)


def _record(label, seed, acc, changed, data_params=None, history=None):
    if history is None:
        history = [{"epoch": 0, "recon": 1.0}] + [
            {"epoch": e, "kl": 0.1, "changed": c} for e, c in enumerate(changed)
        ]
    return {
        "label": label,
        "method": "dec",
        "benchmark": "mnist_usps",
        "data_params": data_params or {},
        "source": "mnist",
        "target": "usps",
        "seed": seed,
        "metrics": {"acc": acc},
        "history": history,
    }


def test_record_rows_group_by_data_params_and_list_only_what_fine_tuned(script, tmp_path, capsys):
    rows = [
        # imbalance 10: one collapsed run that fine-tuned, one that stopped at its first
        # check below the threshold (no first epoch to read: not listed)
        _record("DEC", 0, 0.20, [0.0, 0.5], {"imbalance": 10}),
        _record("DEC", 1, 0.10, [0.0], {"imbalance": 10}),
        # no imbalance: a run exactly at the threshold (not below it) and one with no
        # fine-tuning check at all (none stopped at the first)
        _record("DEC", 2, 0.30, [0.0, 0.9]),
        _record("DEC", 3, 0.90, [], history=[{"epoch": 0, "recon": 1.0}]),
    ]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    script.record_rows(path, collapse=0.3)
    out = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert out == [
        "DEC mnist_usps 0 of 2 runs stopped at the first check",
        "DEC mnist_usps imbalance=10 1 of 2 runs stopped at the first check",
        "mnist->usps seed 0: ACC 20.0, first epoch changed 50 % of the assignments",
    ]


def test_skip_fits_reads_only_the_records(script, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(script, "fit_rows", lambda args: pytest.fail("a fit ran"))
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_record("DEC", 0, 0.9, [0.0])) + "\n")
    assert script.main(["--records", str(path), "--skip-fits"]) == 0
    assert "1 of 1 runs stopped at the first check" in capsys.readouterr().out
    for argv, error in (
        (["--skip-fits"], "--skip-fits needs --records"),
        (["--records", str(tmp_path / "absent.jsonl")], "--records: no file"),
    ):
        with pytest.raises(SystemExit) as exit_:
            script.main(argv)
        assert exit_.value.code == 2 and error in capsys.readouterr().err
