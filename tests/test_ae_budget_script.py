"""``scripts/ae_budget.py``: the reconstruction error over pretraining epochs, read without
labels."""

import numpy as np
import pytest

from baselines.autoencoder import TargetAEKMeans
from dtc.data import Domain, DomainPair, load_pair
from dtc.data.benchmarks import benchmark_info


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("ae_budget")


def test_ratios_are_each_budgets_error_over_the_last(script):
    epochs = np.arange(1, 801)
    curve = 1.0 + 1.0 / epochs  # error after epoch e (1-based)
    got = script.ratios(curve, budgets=(1, 20, 400, 800))
    want = [2.0 / (1 + 1 / 800), (1 + 1 / 20) / (1 + 1 / 800), (1 + 1 / 400) / (1 + 1 / 800), 1.0]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_curve_is_the_pretraining_history_of_ae_kmeans(script):
    # The same autoencoder, seed and data as TargetAEKMeans on a pair with this target.
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = (rng.normal(size=(3, 8))[y] + 0.2 * rng.normal(size=(60, 8))).astype(np.float32)
    domain = Domain(X, y)
    curve = script.recon_curve(domain, 4, seed=1)
    est = TargetAEKMeans(epochs=4, seed=1).fit(DomainPair(domain, domain, n_clusters=3))
    assert curve.shape == (4,)
    np.testing.assert_array_equal(curve, [h["recon"] for h in est.history_])


def test_domains_are_the_digits_target_and_every_shared_domain(script):
    names = script.all_domains()
    assert names[0] == "digits:target"
    assert len(names) == 1 + 4 + 2 + 2
    assert {"office_caltech10_surf:dslr", "mnist_usps:usps", "coil20:coil1"} <= set(names)
    np.testing.assert_array_equal(
        script.load_domain("digits:target").X, load_pair("digits").target.X
    )


def test_table_prints_each_domain_and_the_largest_ratio(script, monkeypatch, capsys):
    curves = {0: np.linspace(3.0, 1.0, 400), 1: np.linspace(5.0, 1.0, 400)}
    monkeypatch.setattr(script, "recon_curve", lambda domain, epochs, seed: curves[seed])
    assert script.main(["--domains", "digits:target", "--max-epochs", "400"]) == 0
    out = capsys.readouterr().out.splitlines()
    row = out[2].split()
    assert row[:3] == ["digits:target", "899", "8"]  # 899 rows, 8 batches of 128 an epoch
    want = [np.mean([c[b - 1] / c[-1] for c in curves.values()]) for b in script.BUDGETS]
    assert [float(v) for v in row[3:8]] == [round(w, 2) for w in want]
    assert out[3].split()[-5:] == [f"{w:.2f}" for w in want]


@pytest.mark.parametrize(
    "args",
    # an empty --domains meant every domain
    [
        ["--max-epochs", "399"],
        ["--seeds", "0"],
        ["--domains", "usps"],
        ["--domains", "coil20:x"],
        ["--domains"],
    ],
)
def test_bad_arguments_are_usage_errors(script, args):
    with pytest.raises(SystemExit) as exc:
        script.main(args)
    assert exc.value.code == 2


def test_a_missing_data_file_is_one_line_before_any_fit(script, monkeypatch, tmp_path):
    """It was a FileNotFoundError traceback, after the fits of the domains before it."""
    monkeypatch.setattr(script, "recon_curve", lambda *a: pytest.fail("a fit ran"))
    argv = ["--domains", "digits:target", "coil20:coil2", "--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="file 'COIL_1.mat' not found") as exc:
        script.main(argv)
    assert str(exc.value.code).startswith("error: benchmark 'coil20': ")


def test_out_keeps_each_domain_and_a_rerun_reuses_it(script, monkeypatch, capsys, tmp_path):
    # over half an hour, and an interruption lost every finished domain
    calls = []

    def curve(domain, epochs, seed):
        calls.append(seed)
        return np.linspace(3.0, 1.0, 400)

    monkeypatch.setattr(script, "recon_curve", curve)
    out = tmp_path / "budget.jsonl"
    argv = ["--domains", "digits:target", "--max-epochs", "400", "--out", str(out)]
    assert script.main(argv) == 0
    first = capsys.readouterr().out
    assert calls == [0, 1]
    assert script.main(argv) == 0  # nothing run again, the same table
    again = capsys.readouterr()
    assert calls == [0, 1] and again.out == first
    assert "resuming: 1 finished domain(s)" in again.err
    with pytest.raises(SystemExit):  # another budget: not these rows
        script.main([*argv[:2], "--max-epochs", "500", "--out", str(out)])
    assert "other settings (max_epochs 400, not 500)" in capsys.readouterr().err


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
