"""scripts/order_check.py by hand: what one run compares, what the table averages, which
records a sweep reads and which pair a method is given (fits faked: a few ms each)."""

import dataclasses
import json

import numpy as np
import pytest

from dtc.data import Domain, DomainPair, make_digits_pair


@pytest.fixture
def order_check(load_script, monkeypatch):
    script = load_script("order_check")
    monkeypatch.setattr(script, "PAIRS", (("digits", "source", "target"),))
    return script


class NearestSourceMean:
    """Each target row takes the class of the nearest source class mean: a fit that reads
    the source's labels (paired with its rows) and no order, so that every order must give
    the same partition and the same ACC."""

    def fit(self, pair):
        assert pair.target.y is None  # the run masks the target labels
        means = np.stack([pair.source.X[pair.source.y == c].mean(0) for c in range(3)])
        d2 = ((pair.target.X[:, None, :] - means[None]) ** 2).sum(-1)
        self.labels_ = d2.argmin(1)
        return self


def three_blobs():
    """Three classes of 8 rows around (0, 0), (10, 10), (20, 20), sorted by class as the
    shared benchmarks are; the target shifted by (4, 4), so that the source's class means
    misname 2 of its 24 rows (a target 0 and a target 1; the target's own means, none)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 8)
    Xs = 10.0 * y[:, None] + rng.normal(size=(24, 2))
    Xt = 10.0 * y[:, None] + 4.0 + rng.normal(size=(24, 2))
    return DomainPair(Domain(Xs, y), Domain(Xt, y.copy()), n_clusters=3)


def test_run_one_scores_each_order_against_its_own_rows(order_check, monkeypatch):
    # The target's shuffled labels are scored against the target labels in the same order,
    # and compared with the sorted run's labels in that order; the source's rows keep their
    # labels when shuffled. Mixing any of these up read an order-blind fit as a leak.
    monkeypatch.setattr(order_check, "configured_method", lambda spec: NearestSourceMean())
    pair = three_blobs()
    rec = order_check.run_one("kmeans", pair, 0)
    assert rec == {
        "sorted": pytest.approx(22 / 24),
        "target_shuffled": pytest.approx(22 / 24),
        "source_shuffled": pytest.approx(22 / 24),
        "same_target": True,
        "same_source": True,
    }
    # the shuffles move rows (the check above is not of the identity)
    _, order = order_check.shuffled(pair.target, 0)
    assert not np.array_equal(order, np.arange(24))


def test_shuffled_keeps_each_row_with_its_label(order_check):
    domain = Domain(np.arange(10.0)[:, None] * [1.0, -1.0], np.arange(10))
    moved, order = order_check.shuffled(domain, 3)
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    np.testing.assert_array_equal(moved.X[:, 0], moved.y)  # row i still has label i
    np.testing.assert_array_equal(moved.y, order)
    assert order_check.shuffled(domain, 3)[1].tolist() == order.tolist()  # seeded


def test_same_partition_refuses_a_finer_partition_either_way(order_check):
    coarse, fine = np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])
    assert not order_check.same_partition(coarse, fine)
    assert not order_check.same_partition(fine, coarse)


def test_run_spec_gives_a_method_the_budget_keys_it_has(order_check):
    pair = make_digits_pair()
    assert order_check.run_spec("dtc", pair, 2).params == {
        "pretrain_epochs": 5,
        "adapt_epochs": 5,
        "refine_epochs": 3,
    }
    assert order_check.run_spec("ae_kmeans", pair, 2).params == {"epochs": 5}
    assert order_check.run_spec("kmeans", pair, 2).params == {}


def test_table_means_over_seeds_and_counts_the_target_shuffles_kept(order_check):
    def rec(seed, sorted_, target, source, same_target, same_source):
        return {
            "method": "m",
            "pair": "p",
            "seed": seed,
            "sorted": sorted_,
            "target_shuffled": target,
            "source_shuffled": source,
            "same_target": same_target,
            "same_source": same_source,
        }

    records = [
        rec(0, 0.50, 0.40, 0.30, True, False),
        rec(1, 0.70, 0.80, 0.50, False, False),
        rec(2, 0.90, 0.90, 0.70, True, False),
        {"method": "m", "pair": "p", "seed": 3, "error": "RuntimeError: x"},  # not a seed
    ]
    lines = order_check.table(records, ["m"], ["p"]).splitlines()
    # means (0.5 + 0.7 + 0.9) / 3 = 70.0, (0.4 + 0.8 + 0.9) / 3 = 70.0, 50.0; the target's
    # shuffle kept the partition of seeds 0 and 2 (the source's kept none)
    assert lines[2] == "| m | p | 3 | 70.0 | 70.0 | 50.0 | 2/3 |"


def test_records_of_other_seeds_and_methods_are_neither_reused_nor_tabulated(
    order_check, tmp_path, monkeypatch, capsys
):
    # --seeds 1 after a run of --seeds 2 (and a file holding another method's runs): the
    # seed-1 record was tabulated beside seed 0, and a record of a run not asked for must not
    # be looked up among the settings of those asked for
    out = tmp_path / "order.jsonl"
    base = {"pair": "digits:source->target", "budget": order_check.BUDGET, "setting": {}}
    res = {"sorted": 0.0, "target_shuffled": 0.0, "source_shuffled": 0.0}
    res |= {"same_target": False, "same_source": False}
    lines = [
        {"method": "kmeans", "seed": 1, **base, **res},
        {"method": "gmm", "seed": 0, **base, **res},
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in lines))
    ran = {"sorted": 0.5, "target_shuffled": 0.5, "source_shuffled": 0.5}
    ran |= {"same_target": True, "same_source": True}
    monkeypatch.setattr(order_check, "run_one", lambda *a: dict(ran))
    assert order_check.main(["--methods", "kmeans", "--seeds", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 runs to do, 0 recorded" in text
    assert "| kmeans | digits:source->target | 1 | 50.0 | 50.0 | 50.0 | 1/1 |" in text
    assert "gmm" not in text


def test_a_method_that_needs_non_negative_features_gets_the_raw_pair(
    order_check, tmp_path, monkeypatch
):
    # co-clustering methods are given the raw features (as table1.yaml does), the others the
    # standard preprocessing; the digits pair has none, so the fake load tells them apart
    def load_pair(benchmark, source, target, data_dir=None, preprocess="standard"):
        pair = make_digits_pair()
        if preprocess == "raw":
            return pair
        return dataclasses.replace(pair, target=pair.target.with_features(pair.target.X - 1))

    given = {}

    def run_one(method, pair, seed):
        given[method] = bool(pair.target.X.min() >= 0)
        return {o: 0.5 for o in order_check.ORDERS} | {"same_target": 1, "same_source": 1}

    monkeypatch.setattr(order_check, "load_pair", load_pair)
    monkeypatch.setattr(order_check, "run_one", run_one)
    argv = ["--methods", "stc", "kmeans", "--seeds", "1", "--out", str(tmp_path / "o.jsonl")]
    assert order_check.main(argv) == 0
    assert given == {"stc": True, "kmeans": False}
