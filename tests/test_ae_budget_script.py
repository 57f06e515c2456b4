"""``scripts/ae_budget.py``: the reconstruction error over pretraining epochs, read without
labels."""

import numpy as np
import pytest

from baselines.autoencoder import TargetAEKMeans
from dtc.data import Domain, DomainPair, load_pair


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
