"""``scripts/ae_budget.py`` and ``scripts/dec_scale.py`` by hand: the largest ratio over
domains, the settings a resumed run must share, the pair a domain is loaded from, the Student-t
kernel's degree and the records' groups and lists (fits faked; a few ms each)."""

import json

import numpy as np
import pytest
import torch

from dtc.data import Domain
from dtc.data.benchmarks import benchmark_info


@pytest.fixture
def ae_budget(load_script, monkeypatch):
    """The script with two fake domains (4 and 6 rows) and curves read off them: no file
    read, no autoencoder trained."""
    script = load_script("ae_budget")
    sizes = {"digits:target": 4, "coil20:coil1": 6}
    monkeypatch.setattr(
        script, "load_domain", lambda name, data_dir=None: Domain(np.zeros((sizes[name], 2)))
    )
    monkeypatch.setattr(script, "check_data", lambda *a: None)
    # 4 rows: error 4 up to epoch 20, 1.5 up to 399, 1 at 400; 6 rows: 2, then 5, then 1
    curves = {
        4: np.r_[np.full(20, 4.0), np.full(379, 1.5), 1.0],
        6: np.r_[np.full(20, 2.0), np.full(379, 5.0), 1.0],
    }
    monkeypatch.setattr(script, "recon_curve", lambda domain, epochs, seed: curves[len(domain.X)])
    return script


def test_the_last_line_is_each_budgets_largest_ratio_over_the_domains(ae_budget, capsys):
    argv = ["--domains", "digits:target", "coil20:coil1", "--max-epochs", "400", "--seeds", "1"]
    assert ae_budget.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    # budgets 20, 50, 100, 200, 400: 4 1.5 1.5 1.5 1 and 2 5 5 5 1; each one's larger
    assert out[2].split()[3:8] == ["4.00"] + ["1.50"] * 3 + ["1.00"]
    assert out[3].split()[3:8] == ["2.00"] + ["5.00"] * 3 + ["1.00"]
    assert out[4].split()[-5:] == ["4.00", "5.00", "5.00", "5.00", "1.00"]


def test_out_rows_of_other_seeds_are_not_reused(ae_budget, tmp_path, capsys):
    out = tmp_path / "budget.jsonl"
    argv = ["--domains", "digits:target", "--max-epochs", "400", "--out", str(out)]
    assert ae_budget.main([*argv, "--seeds", "2"]) == 0
    with pytest.raises(SystemExit):  # a mean of 2 seeds is not one of 1
        ae_budget.main([*argv, "--seeds", "1"])
    assert "other settings (seeds 2, not 1)" in capsys.readouterr().err


@pytest.mark.parametrize("benchmark", ["office_caltech10_surf", "mnist_usps", "coil20"])
def test_a_domain_is_the_target_of_a_registered_pair(load_script, benchmark):
    script = load_script("ae_budget")
    pairs = set(benchmark_info(benchmark)["pairs"])
    for domain in benchmark_info(benchmark)["domains"]:
        name, source, target = script.pair_of(f"{benchmark}:{domain}")
        assert name == benchmark and target == domain and (source, target) in pairs


@pytest.fixture(scope="module")
def dec_scale(load_script):
    return load_script("dec_scale")


def test_start_geometry_uses_the_fitted_alpha(dec_scale):
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

    geometry = dec_scale.start_geometry(Fitted())
    q = [16 / 17, 49 / 65, 16 / 17, 361 / 377]
    assert geometry["max_q"] == pytest.approx(float(np.median(q)), rel=1e-6)
    assert geometry["factor"] == 2.5


def test_start_geometry_takes_numpys_median_of_an_even_count(dec_scale):
    # torch's median of an even count is the lower middle value, numpy's the mean of the two
    class Fitted:
        initial_embedding_ = np.array([[0.0], [1.0]], dtype=np.float32)
        initial_centers_ = np.array([[0.0], [3.0]], dtype=np.float32)
        initial_labels_ = np.array([0, 0])
        input_scale_ = 1.0
        alpha = 1.0

    q = [10 / 11, 5 / 7]
    got = dec_scale.start_geometry(Fitted())["max_q"]
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


def test_record_rows_group_by_data_params_and_list_only_what_fine_tuned(
    dec_scale, tmp_path, capsys
):
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
    dec_scale.record_rows(path, collapse=0.3)
    out = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert out == [
        "DEC mnist_usps 0 of 2 runs stopped at the first check",
        "DEC mnist_usps imbalance=10 1 of 2 runs stopped at the first check",
        "mnist->usps seed 0: ACC 20.0, first epoch changed 50 % of the assignments",
    ]


def test_skip_fits_reads_only_the_records(dec_scale, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dec_scale, "fit_rows", lambda args: pytest.fail("a fit ran"))
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_record("DEC", 0, 0.9, [0.0])) + "\n")
    assert dec_scale.main(["--records", str(path), "--skip-fits"]) == 0
    assert "1 of 1 runs stopped at the first check" in capsys.readouterr().out
    for argv, error in (
        (["--skip-fits"], "--skip-fits needs --records"),
        (["--records", str(tmp_path / "absent.jsonl")], "--records: no file"),
    ):
        with pytest.raises(SystemExit) as exit_:
            dec_scale.main(argv)
        assert exit_.value.code == 2 and error in capsys.readouterr().err
