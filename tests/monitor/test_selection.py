"""Label-free source selection and model selection."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from dtc.data import Domain, DomainPair, make_digits_pair
from dtc.monitor.selection import (
    combine_sources,
    rank_sources,
    select_model,
    select_source,
    source_discrepancy,
)


class ClassMeanTransfer:
    """A one-line transfer clusterer: K-means on the raw target features started at the
    source class means (model transfer without any network)."""

    def fit(self, pair):
        s = pair.source
        init = np.stack([s.X[s.y == c].mean(0) for c in np.unique(s.y)])
        self.labels_ = KMeans(len(init), init=init, n_init=1).fit_predict(pair.target.X)
        return self


class Fixed:
    """A candidate whose partition is given; records what it was fitted on."""

    def __init__(self, labels):
        self.labels = labels

    def fit(self, pair):
        self.seen_target_labels = pair.target.y
        self.labels_ = self.labels
        return self


@pytest.fixture(scope="module")
def digits():
    return make_digits_pair()


def permuted(domain, seed=0):
    return domain.with_features(
        domain.X[:, np.random.default_rng(seed).permutation(domain.n_features)]
    )


# -- discrepancy ------------------------------------------------------------------------
def test_source_discrepancy_matches_a_numpy_mmd():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 3)), rng.normal(0.5, 1, (20, 3))
    pooled = np.vstack([a, b])
    d2 = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    m = np.median(d2[np.triu_indices(50, 1)])
    k = np.exp(-d2 / m)
    expected = k[:30, :30].mean() + k[30:, 30:].mean() - 2 * k[:30, 30:].mean()
    got = source_discrepancy(Domain(a), Domain(b), max_samples=100)
    assert got == pytest.approx(expected, rel=1e-6)
    assert source_discrepancy(Domain(a), Domain(a), max_samples=100) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("bad", ["source", "target"])
def test_source_discrepancy_names_an_array_given_for_a_domain(bad):
    # an array failed with numpy's AttributeError on .n_features, naming neither argument
    X = np.random.default_rng(0).normal(size=(10, 3))
    args = {"source": Domain(X), "target": Domain(X), bad: X}
    with pytest.raises(ValueError, match=f"source_discrepancy: {bad} must be a dtc.data.Domain"):
        source_discrepancy(args["source"], args["target"])


def test_source_discrepancy_takes_its_median_on_at_most_the_cap_of_pooled_rows(monkeypatch):
    """All pairs of the pooled rows were held densely (~20 bytes a pair: 2.7 GiB at 6,000
    rows a domain); above the cap the median comes from evenly spaced pooled rows."""
    import dtc.monitor.selection as selection

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 3)), rng.normal(0.5, 1, (20, 3))
    monkeypatch.setattr(selection, "_MEDIAN_MAX_SAMPLES", 11)
    pooled = np.vstack([a, b])
    d2 = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    pick = np.round(np.linspace(0, 49, 11)).astype(int)
    m = np.median(d2[np.ix_(pick, pick)][np.triu_indices(11, 1)])
    k = np.exp(-d2 / m)
    expected = k[:30, :30].mean() + k[30:, 30:].mean() - 2 * k[:30, 30:].mean()
    assert source_discrepancy(Domain(a), Domain(b), max_samples=100) == pytest.approx(
        expected, rel=1e-6
    )


# -- source ranking -------------------------------------------------------------------------
def test_a_related_source_ranks_above_a_permuted_one(digits):
    # By discrepancy and score alone (the source checks would exclude it outright: below).
    s, t = digits.source, digits.target
    ranking = rank_sources(
        t, {"permuted": permuted(s), "related": s}, fit_fn=lambda p: ClassMeanTransfer().fit(p)
    )
    assert [r["name"] for r in ranking] == ["related", "permuted"]
    related, perm = ranking
    assert related["discrepancy"] < perm["discrepancy"] and related["score"] > perm["score"]
    assert related["weight"] > perm["weight"] and related["weight"] + perm[
        "weight"
    ] == pytest.approx(1)
    assert related["rank"] == 1 and related["index"] == 1


def test_ranking_weights_by_hand(digits):
    s, t = digits.source, digits.target
    sources = [s, permuted(s, 1), permuted(s, 2)]
    ranking = sorted(
        rank_sources(
            t,
            sources,
            fit_fn=lambda p: ClassMeanTransfer().fit(p),
            discrepancy_weight=0.5,
            temperature=0.05,
        ),
        key=lambda r: r["index"],
    )
    sc = np.array([r["score"] for r in ranking])
    dc = np.array([r["discrepancy"] for r in ranking])
    tr = sc - 0.5 * dc
    w = np.exp(tr / 0.05) / np.exp(tr / 0.05).sum()
    np.testing.assert_allclose([r["weight"] for r in ranking], w, rtol=1e-9)
    assert [r["rank"] for r in ranking] == list(np.argsort(np.argsort(-tr)) + 1)
    assert ranking[0]["rank"] == 1  # the unpermuted source is closest by far


def test_rank_sources_accepts_numpy_scalars(digits):
    # np.float32 is not a Python float: it was refused
    s, t = digits.source, digits.target
    sources = [s, permuted(s, 1)]
    fit = lambda p: ClassMeanTransfer().fit(p)  # noqa: E731
    want = rank_sources(t, sources, fit_fn=fit, temperature=0.5, discrepancy_weight=2)
    got = rank_sources(
        t, sources, fit_fn=fit, temperature=np.float32(0.5), discrepancy_weight=np.int64(2)
    )
    assert [r["weight"] for r in got] == [r["weight"] for r in want]


def test_sources_that_fail_the_checks_are_not_adapted_and_get_no_weight(digits):
    s, t = digits.source, digits.target
    noisy = s.with_features(s.X + np.random.default_rng(0).normal(0, 2 * s.X.std(), s.X.shape))
    sources = {"permuted": permuted(s), "noisy": noisy, "related": s}
    fitted = []

    def fit(pair):
        fitted.append(next(n for n, d in sources.items() if d is pair.source))
        return ClassMeanTransfer().fit(pair)

    ranking = rank_sources(t, sources, fit_fn=fit, check_sources=True)
    assert fitted == ["related"]
    assert [(r["name"], r["check"], r["excluded"]) for r in ranking] == [
        ("related", None, False),
        ("permuted", "unrelated_source", True),
        ("noisy", "noisy_source", True),
    ]
    assert ranking[0]["weight"] == 1.0 and [r["weight"] for r in ranking[1:]] == [0.0, 0.0]
    assert all(np.isnan(r["score"]) and np.isnan(r["transferability"]) for r in ranking[1:])
    best, _ = select_source(t, sources, fit_fn=fit, check_sources=True)
    assert best is s
    # every candidate fails: all are ranked, with a warning
    with pytest.warns(UserWarning, match="every candidate failed the source checks"):
        ranking = rank_sources(t, [sources["permuted"], noisy], fit_fn=fit, check_sources=True)
    assert not any(r["excluded"] for r in ranking)
    assert {r["check"] for r in ranking} == {"unrelated_source", "noisy_source"}
    # off (the default): nothing is checked
    assert all(r["check"] is None for r in rank_sources(t, sources, fit_fn=fit))


def two_blobs(n_per=30, seed=0):
    """Two separated blobs ``(2 n_per, 5)`` and their labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per)
    return np.where(y[:, None] == 1, 6.0, 0.0) + rng.normal(0, 1, (2 * n_per, 5)), y


def test_a_source_whose_adaptation_collapses_the_target_ranks_last():
    # One cluster has no label-free score: rank_sources raised ValueError for it.
    X, y = two_blobs()
    target, sources = Domain(X), {"collapses": Domain(X + 0.5, y), "good": Domain(X + 1, y)}

    def fit(pair):
        collapses = pair.source is sources["collapses"]
        return Fixed(np.zeros(len(X), int) if collapses else y).fit(pair)

    ranking = rank_sources(target, sources, fit_fn=fit)
    assert [(r["name"], r["collapsed"], r["rank"]) for r in ranking] == [
        ("good", False, 1),
        ("collapses", True, 2),
    ]
    good, collapsed = ranking
    assert good["weight"] == 1.0 and good["score"] == pytest.approx(1.0)
    assert collapsed["weight"] == 0.0 and collapsed["check"] is None
    assert np.isnan(collapsed["score"]) and np.isnan(collapsed["transferability"])
    assert select_source(target, sources, fit_fn=fit)[0] is sources["good"]
    # every candidate collapses: all get the same weight, with a warning
    with pytest.warns(UserWarning, match="every adapted candidate collapsed"):
        ranking = rank_sources(target, {"collapses": sources["collapses"]}, fit_fn=fit)
    assert ranking[0]["collapsed"] and ranking[0]["weight"] == 1.0


def test_an_excluded_source_keeps_weight_zero_when_every_adapted_one_collapses(monkeypatch):
    # "a" fails the source checks (not adapted), "b" collapses the target: the equal weights
    # of the all-collapsed case go to the adapted candidates only, so a weighted selection
    # never draws from a source that failed the checks.
    import dtc.monitor.selection as selection

    X, y = two_blobs()
    sources = {"a": Domain(X + 0.5, y, name="a"), "b": Domain(X + 1, y, name="b")}
    verdicts = {"a": {"verdict": "unrelated_source"}, "b": None}
    monkeypatch.setattr(selection, "check_domains", lambda s, t, **kw: verdicts[s.name])
    fitted = []

    def fit(pair):
        fitted.append(pair.source.name)
        return Fixed(np.zeros(len(X), int)).fit(pair)

    with pytest.warns(UserWarning, match="weighing the 1 adapted candidates equally"):
        ranking = rank_sources(Domain(X), sources, fit_fn=fit, check_sources=True)
    by_name = {r["name"]: r for r in ranking}
    assert fitted == ["b"]
    assert by_name["a"]["excluded"] and by_name["a"]["weight"] == 0.0
    assert by_name["b"]["collapsed"] and by_name["b"]["weight"] == 1.0
    # and "best" is the one the weights use: it was "a", failed and never adapted
    assert [r["name"] for r in ranking] == ["b", "a"]
    with pytest.warns(UserWarning, match="weighing the 1 adapted candidates equally"):
        best, _ = select_source(Domain(X), sources, fit_fn=fit, check_sources=True)
    assert best.name == "b"


def test_a_collapsed_source_ranks_after_one_the_checks_excluded(monkeypatch):
    # "excluded ... a rank after every passing source"; "collapsed ... ranked last": a
    # collapsed partition is the worst outcome transfer can have
    import dtc.monitor.selection as selection

    X, y = two_blobs()
    sources = {n: Domain(X + i, y, name=n) for i, n in enumerate(("collapses", "fails", "good"))}
    verdicts = {"collapses": None, "fails": {"verdict": "unrelated_source"}, "good": None}
    monkeypatch.setattr(selection, "check_domains", lambda s, t, **kw: verdicts[s.name])

    def fit(pair):
        return Fixed(np.zeros(len(X), int) if pair.source.name == "collapses" else y).fit(pair)

    ranking = rank_sources(Domain(X), sources, fit_fn=fit, check_sources=True)
    assert [(r["name"], r["rank"]) for r in ranking] == [
        ("good", 1),
        ("fails", 2),
        ("collapses", 3),
    ]
    assert [r["weight"] for r in ranking] == [1.0, 0.0, 0.0]


def test_without_n_clusters_the_first_labelled_source_gives_it():
    # "None: the number of classes of the first labelled source", not the first source's
    X, y = two_blobs()
    sources = {"unlabelled": Domain(X + 1), "labelled": Domain(X + 2, y)}
    seen = []

    def fit(pair):
        seen.append(pair.n_clusters)
        return Fixed(y).fit(pair)

    ranking = rank_sources(Domain(X), sources, fit_fn=fit)
    assert seen == [2, 2] and len(ranking) == 2


def test_labelled_sources_of_other_classes_need_n_clusters():
    # k came from the first labelled source: its order decided k for every candidate
    X, y = two_blobs()
    sources = {"all": Domain(X, y, name="all"), "half": Domain(X[y == 0], y[y == 0] * 0 + 3)}
    with pytest.raises(
        ValueError,
        match="labelled sources hold different classes.*set n_clusters .* and give a fit_fn "
        r"whose DTC does not name clusters by source classes \(e.g. DTC\(model_transfer=False",
    ):
        rank_sources(Domain(X), sources)
    # two files number their own class names 0..k-1: the message showed the same labels
    # twice ("'a': [0, 1]; 'b': [0, 1]"), and names held in an array crashed ("The truth
    # value of an array ... is ambiguous")
    for names in (["bike", "dog"], np.array(["bike", "dog"])):
        named = {
            "a": Domain(X, y, name="a", meta={"classes": np.array(["bike", "cat"])}),
            "b": Domain(X, y, name="b", meta={"classes": names}),
        }
        with pytest.raises(
            ValueError,
            match=r"\('a': labels \[0, 1\], classes \['bike', 'cat'\]; "
            r"'b': labels \[0, 1\], classes \['bike', 'dog'\]\)",
        ):
            rank_sources(Domain(X), named)


def test_sources_sharing_a_name_are_told_apart_by_position():
    """Domains often share a name (Domain(X, y) is "domain"): the classes check, keyed by
    name, kept the last one and never fired in a list, the ranking and the combination
    named every candidate alike, and select_source emptied a generator of sources."""
    X, y = two_blobs()
    both, one = Domain(X, y), Domain(X[y == 0], y[y == 0] * 0 + 3)
    assert both.name == one.name
    for order in ([both, one], [one, both]):
        with pytest.raises(ValueError, match=r"different classes \('0:domain': .*'1:domain'"):
            rank_sources(Domain(X), order)
    fit = Fixed(y).fit
    ranking = rank_sources(Domain(X), [both, Domain(X + 1, y)], fit_fn=fit)
    assert sorted(r["name"] for r in ranking) == ["0:domain", "1:domain"]
    best, _ = select_source(Domain(X), (s for s in [both, Domain(X + 1, y)]), fit_fn=fit)
    assert best is both
    combined = combine_sources([both, both], [0.5, 0.5])
    assert combined.name == "combined(0:domain:0.50+1:domain:0.50)"
    with pytest.raises(ValueError, match=r"'0:domain': labels \[0, 1\]; '1:domain': labels \[3\]"):
        combine_sources([both, one], [0.5, 0.5])
    # a mapping's keys name them, in the ranking and the combination alike
    named = {"amazon": both, "dslr": Domain(X + 0.1, y)}
    combined, ranking = select_source(Domain(X), named, strategy="weighted", fit_fn=fit)
    assert sorted(r["name"] for r in ranking) == ["amazon", "dslr"]
    assert combined.name.startswith("combined(amazon:") and "+dslr:" in combined.name
    assert combined.meta["combined_from"] == ["amazon", "dslr"]


def test_a_weighted_selection_draws_its_combination_with_the_seed_given():
    # the ranking's seed draws the combination's rows as well: seed 0 always drew them
    X, y = two_blobs()
    named = {"a": Domain(X, y), "b": Domain(X + 0.1, y)}
    for seed in (0, 3):
        combined, ranking = select_source(
            Domain(X), named, strategy="weighted", fit_fn=Fixed(y).fit, seed=seed
        )
        weights = [next(r["weight"] for r in ranking if r["name"] == n) for n in named]
        assert min(weights) > 0  # both sources drawn from
        expected = combine_sources(named, weights, seed=seed)
        np.testing.assert_array_equal(combined.X, expected.X)
    assert not np.array_equal(combined.X, combine_sources(named, weights, seed=0).X)


def test_combined_sources_keep_the_class_names_they_share():
    # the combination dropped meta["classes"], so a target numbering them otherwise was
    # no longer refused by DomainPair
    X, y = two_blobs()
    meta = {"classes": ["cat", "dog"]}
    s1, s2 = Domain(X, y, name="s1", meta=meta), Domain(X + 1, y, name="s2", meta=meta)
    combined = combine_sources([s1, s2], [0.5, 0.5])
    assert combined.meta["classes"] == ["cat", "dog"]
    target = Domain(X, y, meta={"classes": ["dog", "cat"]})
    with pytest.raises(ValueError, match="numbers its classes"):
        DomainPair(combined, target)


def test_rank_sources_refuses_max_samples_below_the_score_before_any_fit():
    X, y = two_blobs()
    fitted = []

    def fit(pair):
        fitted.append(pair)
        return Fixed(y).fit(pair)

    with pytest.raises(
        ValueError, match=r"^rank_sources: score 'knn_agreement' .*at least 11 .*max_samples=8 is"
    ):
        rank_sources(Domain(X), [Domain(X, y), Domain(X + 1, y)], fit_fn=fit, max_samples=8)
    assert fitted == []
    # a callable criterion decides for itself what it can score
    ranking = rank_sources(
        Domain(X), [Domain(X, y)], fit_fn=fit, max_samples=8, criterion=lambda X, lab, e: 0.5
    )
    assert ranking[0]["score"] == 0.5 and len(fitted) == 1


def test_the_benchmark_reaches_the_source_checks(digits, monkeypatch):
    """Its family sets the similarity threshold (rule #13): rank_sources hands it on."""
    import dtc.monitor.selection as selection

    seen = []

    def check(source, target, **kwargs):
        seen.append(kwargs.get("benchmark"))
        return selection.check_source(source.X, target.X, **kwargs)

    monkeypatch.setattr(selection, "check_domains", check)
    pairs = []

    def fit(pair):
        pairs.append(pair)
        return ClassMeanTransfer().fit(pair)

    ranking = rank_sources(
        digits.target, [digits.source], fit_fn=fit, check_sources=True, benchmark="digits"
    )
    assert seen == ["digits"] and ranking[0]["check"] is None
    assert [p.benchmark for p in pairs] == ["digits"]  # and so does the adapted pair


def test_the_benchmark_the_target_names_is_the_default(digits):
    # domains loaded from one benchmark (here, halves of the digits by class) were judged
    # without its family's similarity threshold unless benchmark= was given again; and
    # every candidate on the target's scale: a copy of a source without its meta was kept
    # where the source itself was excluded
    from dtc.monitor.selection import check_domains

    src = digits.source.subset(digits.source.y % 2 == 0)
    tgt = digits.target.subset(digits.target.y % 2 == 1).without_labels()
    given = check_domains(src, tgt, benchmark="digits")
    assert given["min_similarity"] is not None and given["verdict"] is not None
    bare = Domain(src.X, src.y)  # the same rows naming no benchmark
    assert check_domains(src, tgt) == given == check_domains(bare, tgt)
    assert check_domains(src, Domain(tgt.X))["min_similarity"] is None  # nothing named
    pairs = []
    ranking = rank_sources(
        tgt,
        {"loaded": src, "bare": bare, "other": digits.source},
        n_clusters=5,
        check_sources=True,
        fit_fn=lambda p: pairs.append(p) or Fixed(np.arange(tgt.n_samples) % 5).fit(p),
    )
    checks = {row["name"]: row["check"] for row in ranking}
    assert checks["loaded"] == checks["bare"] == given["verdict"] and checks["other"] is None
    assert [p.benchmark for p in pairs] == ["digits"]  # the one candidate kept


def test_rank_sources_never_gives_target_labels_to_the_method(digits):
    seen = []
    rank_sources(
        digits.target,
        [digits.source],
        fit_fn=lambda p: (
            seen.append(p.target.y) or Fixed(np.arange(digits.target.n_samples) % 10).fit(p)
        ),
    )
    assert seen == [None]


def test_rank_sources_bad_input(digits):
    s, t = digits.source, digits.target
    with pytest.raises(ValueError, match="at least one candidate"):
        rank_sources(t, [])
    with pytest.raises(ValueError, match="expected one feature space"):
        rank_sources(t, [Domain(s.X[:, :10], s.y)])
    with pytest.raises(ValueError, match="no source is labelled"):
        rank_sources(t, [s.without_labels()])
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        rank_sources(t, [s], temperature=0)
    with pytest.raises(ValueError, match="discrepancy_weight must be a number >= 0"):
        rank_sources(t, [s], discrepancy_weight=-1)
    for bad in (True, float("nan"), float("inf"), np.float32("nan")):
        with pytest.raises(ValueError, match="temperature must be a number > 0"):
            rank_sources(t, [s], temperature=bad)
        with pytest.raises(ValueError, match="discrepancy_weight must be a number >= 0"):
            rank_sources(t, [s], discrepancy_weight=bad)
    with pytest.raises(ValueError, match="needs more"):
        rank_sources(t.subset(np.arange(10)), [s])
    with pytest.raises(ValueError, match="target must be a dtc.data.Domain"):
        rank_sources(t.X, [s])
    with pytest.raises(ValueError, match="source 'raw' must be a dtc.data.Domain"):
        rank_sources(t, {"raw": s.X})
    # the combination checks ran first and failed on .n_features, naming no argument
    with pytest.raises(ValueError, match="weighted.*source 'raw' must be a dtc.data.Domain"):
        select_source(t, {"s": s, "raw": s.X}, strategy="weighted")
    with pytest.raises(ValueError, match=r"combine_sources: source '1' must be a dtc.data.Domain"):
        combine_sources([s, s.X], [1, 1])
    with pytest.raises(ValueError, match=r"source_discrepancy: source .* has 10 features"):
        source_discrepancy(Domain(s.X[:, :10], s.y), t)


# -- combination -------------------------------------------------------------------------------
def test_combine_sources_weights_are_numbers_in_the_sources_order():
    # a dict keyed as the sources failed in numpy's words ("float() argument must be ...
    # not 'dict'"), and the strings "0.7", "0.3" were taken as numbers without a word
    a = Domain(np.zeros((10, 2)), np.arange(10) % 2, name="a")
    b = Domain(np.ones((10, 2)), np.arange(10) % 2, name="b")
    for weights in ({"a": 0.5, "b": 0.5}, ["0.7", "0.3"], [0.5 + 1j, 0.5]):
        with pytest.raises(ValueError, match=r"^combine_sources: weights \(one number per"):
            combine_sources({"a": a, "b": b}, weights)
    # a tensor that requires grad (select_source's scores, say) is read as its numbers
    import torch

    given = torch.tensor([0.7, 0.3], requires_grad=True)
    combined = combine_sources([a, b], given, n_samples=10)
    assert (combined.X[:, 0] == 0).sum() == 7


def test_combine_sources_samples_in_proportion():
    # one label space {0, 1}; the feature value tells the source
    a = Domain(np.zeros((50, 2)), np.arange(50) % 2, name="a")
    b = Domain(np.ones((30, 2)), np.arange(30) % 2, name="b")
    c = combine_sources([a, b], [3, 1], n_samples=40)
    assert c.n_samples == 40 and (c.X[:, 0] == 0).sum() == 30 and (c.X[:, 0] == 1).sum() == 10
    assert set(c.y) == {0, 1}
    big = combine_sources([a, b], [0, 1], n_samples=60)  # more rows than b has: resampled
    assert big.n_samples == 60 and (big.X[:, 0] == 1).all()
    assert combine_sources([a, b], [1, 1]).n_samples == 50  # default: the largest source
    # counts add up to n_samples (largest remainders first), even below one row a source
    assert combine_sources([a, b], [1, 1], n_samples=51).n_samples == 51
    one = combine_sources([a, b, b], [1, 1, 1], n_samples=1)
    assert one.n_samples == 1 and one.X[:, 0].tolist() == [0]
    # beyond its size a source gives every row once, then draws with replacement
    c = Domain(np.arange(30.0)[:, None].repeat(2, 1), np.zeros(30, dtype=int), name="c")
    many = combine_sources([c], [1], n_samples=75)
    assert many.n_samples == 75 and set(many.X[:, 0]) == set(range(30))
    # all the weight on one source: its rows as they are (they were shuffled, and DTC's
    # batches, and its result, with them)
    alone = combine_sources([a, b], [1, 0])
    np.testing.assert_array_equal(alone.X, a.X)
    np.testing.assert_array_equal(alone.y, a.y)


@pytest.mark.parametrize(
    ("weights", "n", "expected"),
    [
        # 7 * (0.45, 0.35, 0.2) = (3.15, 2.45, 1.4): floors (3, 2, 1), one row left, to the
        # largest remainder 0.45 (the second source, not the largest weight)
        ([0.45, 0.35, 0.2], 7, [3, 3, 1]),
        # 4 * (0.5, 0.3, 0.2) = (2, 1.2, 0.8): floors (2, 1, 0), the row left to the third
        ([5, 3, 2], 4, [2, 1, 1]),
        # 5 * (1/3, 1/3, 1/3): floors (1, 1, 1), two rows left, tied: to the earlier sources
        ([1, 1, 1], 5, [2, 2, 1]),
    ],
)
def test_combine_sources_counts_are_hamiltons_largest_remainders_by_hand(weights, n, expected):
    """The rows each source gives, against Hamilton's apportionment worked out by hand
    (floors of ``n * w``, then one more row each for the largest remainders, ties to the
    earlier source); the feature value tells the source of a row."""
    sources = [
        Domain(np.full((20, 2), float(i)), np.arange(20) % 2, name=f"s{i}")
        for i in range(len(weights))
    ]
    combined = combine_sources(sources, weights, n_samples=n)
    counts = [int((combined.X[:, 0] == i).sum()) for i in range(len(weights))]
    assert counts == expected


def test_combine_sources_bad_input():
    a = Domain(np.zeros((5, 2)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="one weight per source"):
        combine_sources([a], [1, 1])
    with pytest.raises(ValueError, match="not all zero"):
        combine_sources([a, a], [0, 0])
    with pytest.raises(ValueError, match="all labelled or all unlabelled"):
        combine_sources([a, a.without_labels()], [1, 1])
    with pytest.raises(ValueError, match="one feature dimension"):
        combine_sources([a, Domain(np.zeros((5, 3)))], [1, 1])
    with pytest.raises(ValueError, match="n_samples: expected an int >= 1, got 0"):
        combine_sources([a, a], [1, 1], n_samples=0)
    with pytest.raises(ValueError, match="n_samples: expected an int >= 1, got 2.5"):
        combine_sources([a, a], [1, 1], n_samples=2.5)  # it was truncated to 2
    # labelled sources of different classes (values, or names where recorded)
    b = Domain(np.zeros((5, 2)), np.arange(5) % 2, name="b")
    with pytest.raises(
        ValueError, match=r"one label space .*'a': labels \[0\]; 'b': labels \[0, 1\]"
    ):
        combine_sources([Domain(a.X, a.y, name="a"), b], [1, 1])
    x = Domain(a.X, a.y, name="x", meta={"classes": ["cat"]})
    z = Domain(a.X, a.y, name="z", meta={"classes": ["dog"]})
    with pytest.raises(ValueError, match=r"'x': labels \[0\], classes \['cat'\]"):
        combine_sources([x, z], [1, 1])
    assert combine_sources([x, a], [1, 1]).n_samples == 5  # names recorded on one only


def test_select_source_best_and_weighted(digits):
    s, t = digits.source, digits.target
    fit = lambda p: ClassMeanTransfer().fit(p)  # noqa: E731
    best, ranking = select_source(t, {"related": s, "permuted": permuted(s)}, fit_fn=fit)
    assert best is s and ranking[0]["name"] == "related"
    mixed, ranking = select_source(
        t, {"related": s, "permuted": permuted(s)}, strategy="weighted", fit_fn=fit
    )
    w = {r["name"]: r["weight"] for r in ranking}
    assert mixed.n_samples == s.n_samples and mixed.meta["weights"] == pytest.approx(
        [w["related"], w["permuted"]]
    )
    with pytest.raises(ValueError, match="strategy must be"):
        select_source(t, [s], strategy="all")


def test_weighted_selection_refuses_sources_it_cannot_mix_before_fitting_any(digits):
    # The label checks ran in combine_sources, after rank_sources had adapted to every
    # candidate (a full DTC fit each, with the default fit_fn).
    s, t = digits.source, digits.target
    fitted = []

    def fit(pair):
        fitted.append(pair.source.name)
        return ClassMeanTransfer().fit(pair)

    three = s.subset(np.flatnonzero(s.y < 3))
    for sources, match in (
        ([s, s.without_labels()], "all labelled or all unlabelled"),
        ([s, three], "one label space"),
    ):
        with pytest.raises(ValueError, match=rf"select_source\(strategy='weighted'\).*{match}"):
            select_source(t, sources, strategy="weighted", fit_fn=fit, n_clusters=10)
        assert fitted == []


# -- model selection ---------------------------------------------------------------------------
def test_select_model_picks_the_best_silhouette_computed_by_hand():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [8, 0], [0, 8]])
    y = np.repeat(np.arange(3), 30)
    X = centres[y] + rng.normal(0, 1, (90, 2))
    pair = DomainPair(Domain(X, y), Domain(X, y), n_clusters=3)
    candidates = {
        "truth": Fixed(y),
        "k2": Fixed(np.minimum(y, 1)),
        "random": Fixed(rng.integers(0, 3, 90)),
    }
    result = select_model(candidates, pair, criterion="silhouette")
    by_hand = {name: silhouette_score(X, c.labels) for name, c in candidates.items()}
    assert result.best == max(by_hand, key=by_hand.get) == "truth"
    assert result.scores == pytest.approx(by_hand)
    assert result.best_estimator is candidates["truth"]
    assert all(c.seen_target_labels is None for c in candidates.values())


def test_select_model_keeps_the_fitted_candidate_whatever_its_fit_returns():
    # "fitted in place": a candidate whose fit returns None (or its labels) was stored as
    # that value, and best_estimator was None
    class NoReturn(Fixed):
        def fit(self, pair):
            super().fit(pair)

    X, y = two_blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)
    candidate = NoReturn(y)
    result = select_model({"a": candidate}, pair)
    assert result.estimators == {"a": candidate} and result.best_estimator is candidate


def test_select_model_with_a_callable_criterion_and_ties():
    X = np.random.default_rng(1).normal(size=(20, 2))
    pair = DomainPair(Domain(X), Domain(X), n_clusters=2)
    labels = np.arange(20) % 2
    result = select_model(
        [Fixed(labels), Fixed(1 - labels)], pair, criterion=lambda X, lab, est: 1.0
    )
    assert result.best == "0:Fixed"  # a tie goes to the earlier candidate
    result = select_model(
        [Fixed(labels), Fixed(labels * 0)], pair, criterion=lambda X, lab, est: -np.unique(lab).size
    )
    assert result.best == "1:Fixed"

    # a value no ranking can use is refused, naming the candidate
    def undefined(X, lab, est):
        return float("nan") if lab[0] == 0 else 1.0

    with pytest.raises(ValueError, match=r"select_model: .*'undefined' gave nan for .*'0:Fixed'"):
        select_model([Fixed(labels), Fixed(1 - labels)], pair, criterion=undefined)
    with pytest.raises(ValueError, match=r"rank_sources: .*gave inf for candidate"):
        rank_sources(
            Domain(X), [Domain(X, labels)], fit_fn=Fixed(labels).fit, criterion=lambda *a: np.inf
        )


def test_a_collapsed_candidate_is_never_chosen_over_one_with_a_score():
    X, y = two_blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)
    candidates = {"collapsed": Fixed(np.zeros(len(X), int)), "good": Fixed(y)}
    result = select_model(candidates, pair)  # raised ValueError for the one cluster
    assert result.best == "good" and result.collapsed == ["collapsed"]
    assert result.scores == {"collapsed": None, "good": pytest.approx(1.0)}
    json.dumps(result.scores, allow_nan=False)  # the report writes them as strict JSON
    with pytest.warns(UserWarning, match="every candidate collapsed"):
        result = select_model([Fixed(np.zeros(len(X), int))] * 2, pair)
    assert result.best == "0:Fixed" and result.collapsed == ["0:Fixed", "1:Fixed"]


def test_a_collapsed_candidate_is_not_chosen_over_a_negative_score():
    # A collapsed partition has no score (None), not a score of 0: a candidate whose
    # partition scores below 0 (a silhouette of a cut across both blobs) still wins.
    X, y = two_blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)
    candidates = {"collapsed": Fixed(np.zeros(len(X), int)), "poor": Fixed(np.arange(len(X)) % 2)}
    result = select_model(candidates, pair, criterion="silhouette")
    assert result.scores["collapsed"] is None and result.scores["poor"] < 0
    assert result.best == "poor" and result.collapsed == ["collapsed"]


def test_select_model_refuses_max_samples_below_the_score_before_any_fit():
    X, y = two_blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)

    class Counted(Fixed):
        fits = 0

        def fit(self, pair):
            Counted.fits += 1
            return super().fit(pair)

    with pytest.raises(ValueError, match=r"^select_model: .*at least 11 .*max_samples=8 is too"):
        select_model({"a": Counted(y), "b": Counted(y)}, pair, max_samples=8)
    # a candidate's own n_clusters counts: 12 clusters need 13 rows
    many = Counted(np.arange(len(X)) % 12)
    many.n_clusters = 12
    with pytest.raises(ValueError, match=r"of 12 clusters needs at least 13 .*candidate 'many'"):
        select_model({"a": Counted(y), "many": many}, pair, criterion="silhouette", max_samples=12)
    assert Counted.fits == 0


def test_select_model_bad_input():
    X = np.zeros((10, 2))
    pair = DomainPair(Domain(X), Domain(X), n_clusters=2)
    with pytest.raises(ValueError, match="at least one candidate"):
        select_model({}, pair)
    with pytest.raises(ValueError, match="has no fit method"):
        select_model({"x": object()}, pair)
    with pytest.raises(ValueError, match="criterion must be one of"):
        select_model([Fixed(np.zeros(10))], pair, criterion="accuracy")
    with pytest.raises(ValueError, match="must be a dtc.data.DomainPair"):
        select_model([Fixed(np.zeros(10))], (X, X))


def test_model_selection_summary_by_hand(load_script):
    """The report's match rate, chance rate, regret and gain over the mean candidate, pooled
    and per axis, on two hand-made selections."""
    script = load_script("model_selection")
    rows = [
        # lam: 4 candidates, the choice is the oracle's
        {
            "axis": "lam",
            "match": True,
            "acc_chosen": 0.8,
            "acc_oracle": 0.8,
            "acc_mean": 0.6,
            "accs": {"a": 0.8, "b": 0.6, "c": 0.5, "d": 0.5},
        },
        # loss: 2 candidates, the choice is 10 points below the oracle
        {
            "axis": "loss",
            "match": False,
            "acc_chosen": 0.5,
            "acc_oracle": 0.6,
            "acc_mean": 0.55,
            "accs": {"a": 0.6, "b": 0.5},
        },
    ]
    lines = script.summary(rows)
    assert lines[0].startswith("all axes: label-free choice = ORACLE in 50% of 2 selections")
    assert "(at random: 38%)" in lines[0]  # (1/4 + 1/2) / 2
    assert "mean regret 5.0 ACC points; chosen vs mean candidate +7.5 points" in lines[0]
    assert lines[1].startswith("lam     : label-free choice = ORACLE in 100% of 1")
    assert lines[2].startswith("loss    : label-free choice = ORACLE in 0% of 1")
    assert "mean regret 10.0" in lines[2] and "candidate -5.0 points" in lines[2]


def test_model_selection_chance_counts_ties_as_its_match_does(load_script):
    # A tie with the ORACLE matches, so a random pick among four candidates all at 0.8
    # matches always: the chance rate read 25 %.
    script = load_script("model_selection")
    row = {"axis": "lam", "acc_chosen": 0.8, "acc_oracle": 0.8, "acc_mean": 0.8}
    tied = {**row, "accs": dict.fromkeys("abcd", 0.8)}
    half = {**row, "accs": {"a": 0.8, "b": 0.8, "c": 0.5, "d": 0.1}}
    assert "(at random: 100%)" in script.summary([tied])[0]
    assert "(at random: 50%)" in script.summary([half])[0]


def test_one_selection_two_files_hold_counts_once_whatever_its_time(load_script):
    # the rows differed in their wall-clock seconds alone, and were refused as "different
    # selections"
    script = load_script("model_selection")
    row = {"pair": "digits", "axis": "lam", "seed": 0, "chosen": "a", "oracle": "a"}
    assert script.distinct_selections([{**row, "seconds": 12.3}, {**row, "seconds": 12.4}]) == [
        {**row, "seconds": 12.3}
    ]
    with pytest.raises(ValueError, match="two rows record different selections"):
        script.distinct_selections([row, {**row, "chosen": "b"}])
    # a row written before the resolved parameters were recorded is the same selection as
    # one that records them; two rows recording other parameters are not
    new = {**row, "benchmark": "digits", "dtc_params": {"lam": 1.0}}
    assert script.distinct_selections([row, new]) == [row]
    assert script.distinct_selections([new, row]) == [new]
    with pytest.raises(ValueError, match="two rows record different selections"):
        script.distinct_selections([new, {**new, "dtc_params": {"lam": 0.5}}])


def test_model_selection_pools_seeds_and_parts_two_settings(load_script):
    """A selection at another seed is another selection (counted, not merged, nor refused as
    a disagreement), and rows of exactly two settings are summarised apart, by hand."""
    script = load_script("model_selection")
    row = {"pair": "digits", "axis": "lam", "acc_oracle": 0.8, "acc_mean": 0.6}
    row |= {"accs": {"a": 0.8, "b": 0.4}, "settings": {"criterion": "knn_agreement"}}
    rows = [{**row, "seed": 0, "acc_chosen": 0.8}, {**row, "seed": 1, "acc_chosen": 0.4}]
    assert script.distinct_selections(rows) == rows
    lines = script.summary_by_settings(rows)
    assert lines[1].startswith("all axes: label-free choice = ORACLE in 50% of 2 selections")
    other = {**rows[1], "settings": {"criterion": "silhouette"}}
    lines = script.summary_by_settings([rows[0], other])
    assert lines[0] == "the rows hold 2 different settings: summarised apart, not pooled"
    assert lines[1] == "criterion=knn_agreement (1 selections):"
    assert lines[2].startswith("  all axes: label-free choice = ORACLE in 100% of 1 selections")
    assert lines[4] == "criterion=silhouette (1 selections):"
    assert lines[5].startswith("  all axes: label-free choice = ORACLE in 0% of 1 selections")


def test_model_selection_candidates_fit_along_every_axis(load_script, digits):
    """Each axis's candidates start from the family's default and change one parameter; the
    k axis clusters the adapted target plainly, so every k fits (with the default's
    head-named clusters any k but the source's 10 classes is an error)."""
    from dtc.pipeline import DTC

    script = load_script("model_selection")
    budget = {"pretrain_epochs": 1, "adapt_epochs": 1, "seed": 0, "n_threads": 1}
    params = {**DTC().benchmark_defaults("digits", {}), **budget}
    lam = script.candidates("lam", 10, params)
    assert {n: e.lam for n, e in lam.items()} == {
        "lam=0.1": 0.1,
        "lam=0.3": 0.3,
        "lam=1.0": 1.0,
        "lam=3.0": 3.0,
    }
    assert {e.loss for e in script.candidates("loss", 10, params).values()} == {
        "dann",
        "mmd",
        "coral",
    }
    ks = script.candidates("k", 10, {**params, "self_training_rounds": 0})
    assert list(ks) == ["k=8", "k=10", "k=12"]
    small = DomainPair(digits.source, digits.target, n_clusters=10, benchmark="digits")
    for name, est in ks.items():
        assert est.final_labels == "cluster" and not est.model_transfer
        assert np.unique(est.fit(small).labels_).size == int(name[2:])
    with pytest.raises(ValueError, match="unknown axis"):
        script.candidates("depth", 10, params)


@pytest.fixture
def faked_model_selection(load_script, digits, monkeypatch):
    """scripts/model_selection.py on the digits pair alone, with a ``select_model`` that fits
    nothing (it picks the first candidate) and counts the candidates of each call in
    ``script.fitted``."""
    from types import SimpleNamespace

    from dtc.monitor.selection import ModelSelection

    script = load_script("model_selection")
    script.fitted = []

    def fake_select_model(candidates, pair, **kwargs):
        script.fitted.append(len(candidates))
        y = pair.target.y
        ests = {name: SimpleNamespace(labels_=y) for name in candidates}
        return ModelSelection(next(iter(ests)), dict.fromkeys(ests, 0.0), ests)

    monkeypatch.setattr(script, "positive_pairs", lambda *a: {"digits": lambda: digits})
    monkeypatch.setattr(script, "select_model", fake_select_model)
    return script


def test_model_selection_out_file_resumes(faked_model_selection, tmp_path, capsys):
    """--out keeps each finished (pair, axis) selection; a rerun fits only the rest."""
    script = faked_model_selection
    out = tmp_path / "ms.jsonl"
    assert script.main(["--axes", "lam", "--out", str(out)]) == 0 and script.fitted == [4]
    capsys.readouterr()
    assert script.main(["--axes", "lam,loss", "--out", str(out), "--json"]) == 0
    assert script.fitted == [4, 3]
    rows = [json.loads(t) for t in out.read_text().splitlines()]
    assert [(r["pair"], r["axis"], r["seed"]) for r in rows] == [
        ("digits", "lam", 0),
        ("digits", "loss", 0),
    ]
    # the resumed selection is output too (a resumed --json file lacked it for --summary)
    printed = [json.loads(t) for t in capsys.readouterr().out.splitlines()]
    assert printed == rows


def test_model_selection_runs_an_axis_named_twice_once(faked_model_selection, tmp_path, capsys):
    """--axes lam,lam fitted the lam grid twice, appended two rows and summarised both."""
    script = faked_model_selection
    out = tmp_path / "ms.jsonl"
    assert script.main(["--axes", "lam,lam", "--out", str(out)]) == 0
    assert script.fitted == [4] and len(out.read_text().splitlines()) == 1
    assert "ORACLE in 100% of 1 selections" in capsys.readouterr().out


def test_model_selection_refuses_an_unknown_axis_before_any_fit(
    faked_model_selection, tmp_path, capsys
):
    """A misspelt --axes name is a usage error before the first fit (it used to run the
    axes before it on the first pair, minutes of fits, then end in a traceback)."""
    script = faked_model_selection
    out = tmp_path / "ms.jsonl"
    with pytest.raises(SystemExit) as exc:
        script.main(["--axes", "lam,lambda", "--out", str(out)])
    assert exc.value.code == 2 and script.fitted == [] and not out.exists()
    assert "--axes: unknown axis lambda; expected lam, loss, k" in capsys.readouterr().err


def test_model_selection_resumes_and_pools_only_the_same_settings(
    faked_model_selection, tmp_path, capsys
):
    """Rows record the criteria and epochs; --out refuses a file recorded under other settings
    (it used to resume it and report the old criterion's selections as the new ones), and
    --summary summarises rows of different settings apart instead of pooling them."""
    script = faked_model_selection
    out = tmp_path / "ms.jsonl"
    budget = ["--pretrain-epochs", "1", "--adapt-epochs", "1"]
    assert script.main(["--axes", "loss", *budget, "--out", str(out)]) == 0
    (row,) = [json.loads(t) for t in out.read_text().splitlines()]
    assert row["settings"] == {
        "criterion": "knn_agreement",
        "k_criterion": "silhouette",
        "pretrain_epochs": 1,
        "adapt_epochs": 1,
        "threads": 1,
    }
    other = ["--criterion", "silhouette", "--pretrain-epochs", "5", "--adapt-epochs", "1"]
    with pytest.raises(SystemExit) as exc:
        script.main(["--axes", "loss", *other, "--out", str(out)])
    assert exc.value.code == 2 and script.fitted == [3]  # refused before fitting
    err = capsys.readouterr().err
    assert "criterion 'knn_agreement', not 'silhouette'; pretrain_epochs 1, not 5" in err
    assert "adapt_epochs" not in err  # only the differing settings are named
    # a file written before the settings were recorded cannot be told to match
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({k: v for k, v in row.items() if k != "settings"}) + "\n")
    with pytest.raises(SystemExit):
        script.main(["--axes", "loss", *budget, "--out", str(old)])
    assert "record no settings" in capsys.readouterr().err
    # the same settings resume
    assert script.main(["--axes", "loss", *budget, "--out", str(out)]) == 0
    assert script.fitted == [3]
    # --summary: one group names its settings; two are summarised apart, not pooled
    capsys.readouterr()
    assert script.main(["--summary", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "settings: criterion=knn_agreement, k_criterion=silhouette, pretrain_epochs=1, "
        "adapt_epochs=1, threads=1"
    )
    assert lines[1].startswith("all axes: label-free choice = ORACLE in 100% of 1 selections")
    other_out = tmp_path / "ms_silhouette.jsonl"
    assert script.main(["--axes", "loss", *other, "--out", str(other_out)]) == 0
    capsys.readouterr()
    assert script.main(["--summary", str(out), str(other_out), str(old)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "the rows hold 3 different settings: summarised apart, not pooled"
    assert "pretrain_epochs=1, adapt_epochs=1, threads=1 (1 selections):" in lines[1]
    assert lines[2].startswith("  all axes: label-free choice = ORACLE in 100% of 1 selections")
    assert [v for v in lines if not v.startswith("  ")][1:] == [
        "criterion=knn_agreement, k_criterion=silhouette, pretrain_epochs=1, adapt_epochs=1, "
        "threads=1 (1 selections):",
        "criterion=silhouette, k_criterion=silhouette, pretrain_epochs=5, adapt_epochs=1, "
        "threads=1 (1 selections):",
        "settings not recorded (1 selections):",
    ]


def test_model_selection_k_axis_keeps_every_k_of_at_least_two(load_script):
    """k - 2 is a candidate down to k - 2 = 2 (two clusters are a partition); only k < 2
    is left out (a mutation to ``v > 2`` dropped k=2 unnoticed: the test used k = 10)."""
    script = load_script("model_selection")
    params = {"pretrain_epochs": 1, "adapt_epochs": 1, "seed": 0, "n_threads": 1}
    assert list(script.candidates("k", 4, params)) == ["k=2", "k=4", "k=6"]
    assert list(script.candidates("k", 3, params)) == ["k=3", "k=5"]


def test_model_selection_rows_by_hand(faked_model_selection, digits, monkeypatch, tmp_path):
    """Each row's ORACLE, match, ACCs and mean candidate ACC, by hand: the candidates'
    partitions are the target classes (ACC 1) or one cluster (ACC = the largest class's
    share); the k axis is judged by --k-criterion, the others by --criterion, with --seed
    (the faked select_model gave every candidate ACC 1, so none of this was checked)."""
    from dtc.monitor.selection import ModelSelection

    script = faked_model_selection
    y = digits.target.y
    one = np.bincount(y).max() / len(y)  # ACC of a single cluster
    good = {"lam=0.3", "lam=1.0", "loss=mmd"}
    best = {"lam": "lam=1.0", "loss": "loss=dann", "k": "k=10"}
    calls = []

    def fake_select_model(candidates, pair, **kwargs):
        calls.append((kwargs["criterion"], kwargs["seed"]))
        ests = {
            name: SimpleNamespace(labels_=y if name in good or name[0] == "k" else 0 * y)
            for name in candidates
        }
        return ModelSelection(best[next(iter(ests)).split("=")[0]], dict.fromkeys(ests, 0.0), ests)

    monkeypatch.setattr(script, "select_model", fake_select_model)
    out = tmp_path / "ms.jsonl"
    assert script.main(["--axes", "lam,loss,k", "--seed", "3", "--out", str(out)]) == 0
    assert calls == [("knn_agreement", 3), ("knn_agreement", 3), ("silhouette", 3)]
    lam, loss, k = [json.loads(t) for t in out.read_text().splitlines()]
    # lam: the choice ties the ORACLE (the first of the best) in ACC: a match
    assert (lam["chosen"], lam["oracle"], lam["match"]) == ("lam=1.0", "lam=0.3", True)
    assert lam["acc_chosen"] == lam["acc_oracle"] == 1.0
    assert lam["acc_mean"] == pytest.approx((2 + 2 * one) / 4)
    # loss: the choice is one cluster, below the ORACLE
    assert (loss["chosen"], loss["oracle"], loss["match"]) == ("loss=dann", "loss=mmd", False)
    assert loss["acc_chosen"] == pytest.approx(one) and loss["acc_oracle"] == 1.0
    assert loss["acc_mean"] == pytest.approx((1 + 2 * one) / 3)
    assert k["match"] and k["accs"] == {"k=8": 1.0, "k=10": 1.0, "k=12": 1.0}


def test_model_selection_quick_runs_its_pairs_and_axes(faked_model_selection, digits, monkeypatch):
    """--quick asks for the digits and office A->W pairs and runs the lam and loss axes."""
    script = faked_model_selection
    asked = []
    monkeypatch.setattr(
        script, "positive_pairs", lambda d, names: asked.append(names) or {"digits": lambda: digits}
    )
    assert script.main(["--quick"]) == 0
    assert asked == [{"digits", "office_A->W"}] and script.fitted == [4, 3]


def test_model_selection_summarises_only_the_axes_asked_for(
    faked_model_selection, tmp_path, capsys
):
    """--out may hold other axes from an earlier run: the summary is of the axes asked for."""
    script = faked_model_selection
    out = tmp_path / "ms.jsonl"
    assert script.main(["--axes", "lam,loss", "--out", str(out)]) == 0
    capsys.readouterr()
    assert script.main(["--axes", "lam", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "all axes: label-free choice = ORACLE in 100% of 1 selections" in shown
    assert "loss" not in shown


def test_model_selection_summarises_only_the_pairs_asked_for(
    faked_model_selection, tmp_path, capsys
):
    """--out may hold other pairs from an earlier run (--quick's pairs, say): the summary is
    of the pairs run now, as of the axes (a row of another pair was counted)."""
    script = faked_model_selection
    out = tmp_path / "ms.jsonl"
    assert script.main(["--axes", "lam", "--out", str(out)]) == 0
    (row,) = [json.loads(t) for t in out.read_text().splitlines()]
    other = {**row, "pair": "other_pair", "acc_chosen": 0.0}
    out.write_text(json.dumps(row) + "\n" + json.dumps(other) + "\n")
    capsys.readouterr()
    assert script.main(["--axes", "lam", "--out", str(out)]) == 0 and script.fitted == [4]
    shown = capsys.readouterr().out
    assert "all axes: label-free choice = ORACLE in 100% of 1 selections" in shown
    assert "other_pair" not in shown


def test_labels_that_are_not_one_per_target_row_are_refused_naming_the_candidate():
    """labels_ of more rows than the target (e.g. source and target stacked) were indexed
    by the scored target rows and scored against rows they do not belong to: here the
    source half's labels, the target's reversed, scored 1.0 like the true partition."""
    X, y = two_blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)
    stacked = np.r_[1 - y, y]
    with pytest.raises(
        ValueError, match=r"^select_model: candidate 'stacked' must have labels_ of shape \(60,\)"
    ):
        select_model({"good": Fixed(y), "stacked": Fixed(stacked)}, pair)
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        select_model({"none": Fixed(None)}, pair)
    with pytest.raises(
        ValueError, match=r"^rank_sources: candidate 'a' must have labels_ of shape \(60,\)"
    ):
        rank_sources(Domain(X), {"a": Domain(X, y)}, fit_fn=Fixed(stacked[:50]).fit)


@pytest.mark.parametrize("k", [2.5, True, 1, np.float64(3.0)])
def test_rank_sources_refuses_an_n_clusters_that_is_not_an_int_of_at_least_two(k):
    """n_clusters=2.5 was truncated to 2 for the fits, True read as 1, and 1 (no label-free
    score has one cluster) made every candidate 'collapsed', weighed equally with a warning."""
    rng = np.random.default_rng(0)
    target = Domain(rng.normal(size=(40, 4)))
    source = Domain(rng.normal(size=(40, 4)), rng.integers(0, 2, 40))
    fits = []

    def fit(pair):
        fits.append(pair)
        return SimpleNamespace(labels_=np.arange(40) % pair.n_clusters)

    with pytest.raises(ValueError, match=r"rank_sources: n_clusters: expected an int >= 2"):
        rank_sources(target, [source], n_clusters=k, fit_fn=fit)
    assert not fits


def test_rank_sources_takes_a_numpy_int_n_clusters():
    rng = np.random.default_rng(0)
    target = Domain(rng.normal(size=(40, 4)))
    source = Domain(rng.normal(size=(40, 4)), rng.integers(0, 2, 40))
    ranking = rank_sources(
        target,
        [source],
        n_clusters=np.int64(2),
        fit_fn=lambda pair: SimpleNamespace(labels_=np.arange(40) % pair.n_clusters),
    )
    assert ranking[0]["collapsed"] is False


def test_a_source_of_weight_zero_has_no_effect_on_the_combination():
    # A rejected candidate (weight 0 in select_source's weighted mix) of 1000 rows made the
    # combination 1000 rows, the 100 of the weighted source drawn again to fill it.
    rng = np.random.default_rng(0)
    a = Domain(rng.normal(size=(100, 3)), np.arange(100) % 2, name="a", image_shape=(3, 1))
    b = Domain(rng.normal(size=(1000, 3)) + 5, np.arange(1000) % 2, name="b")
    alone = combine_sources([a], [1.0], seed=0)
    mixed = combine_sources([a, b], [1.0, 0.0], seed=0)
    assert mixed.X.shape == alone.X.shape == (100, 3)
    np.testing.assert_array_equal(mixed.X, alone.X)
    assert mixed.image_shape == alone.image_shape == (3, 1)


def test_soft_neighbourhood_density_cannot_judge_a_partition(digits):
    # On Student-t assignments to a partition's centroids, random labels (near-uniform
    # assignments, SND's maximum) scored 6.800 against the true classes' 6.736.
    from dtc.monitor import NegativeTransferMonitor
    from dtc.monitor.partition_score import student_t_assignments
    from dtc.monitor.scores import soft_neighborhood_density

    y = digits.target.y
    rand = np.random.default_rng(0).integers(0, 10, y.size)
    X = digits.target.X
    snd = {
        k: soft_neighborhood_density(student_t_assignments(X, v))
        for k, v in (("y", y), ("r", rand))
    }
    assert snd["r"] > snd["y"]  # the blind spot, computed directly
    with pytest.raises(ValueError, match=r"^criterion must be one of .*random labels outscore"):
        select_model(
            {"y": Fixed(y), "r": Fixed(rand)}, digits, criterion="soft_neighborhood_density"
        )
    with pytest.raises(ValueError, match=r"score must be one of .*random labels outscore"):
        NegativeTransferMonitor(score="soft_neighborhood_density")._check_params()
    chosen = select_model(
        {"r": Fixed(rand), "y": Fixed(y)}, digits, criterion="information_maximization"
    )
    assert chosen.best == "y"


def test_source_discrepancies_are_taken_on_draws_of_one_size():
    # Sources from the target's own distribution: the biased MMD of a 40-row source was
    # 6 times that of a 2000-row one, so rank_sources favoured large sources over close ones.
    rng = np.random.default_rng(0)
    target = Domain(rng.normal(size=(600, 20)))
    sources = {n: Domain(rng.normal(size=(n, 20)), np.arange(n) % 2) for n in (40, 2000)}
    shifted = Domain(rng.normal(size=(2000, 20)) + 0.3, np.arange(2000) % 2)
    ranked = rank_sources(
        target,
        {**{f"same{n}": s for n, s in sources.items()}, "shifted": shifted},
        n_clusters=2,
        fit_fn=Fixed(np.arange(600) % 2).fit,
        criterion=lambda X, labels, est: 0.0,
    )
    d = {r["name"]: r["discrepancy"] for r in ranked}
    # each equals source_discrepancy on draws of the smallest source's size, 40 rows
    for name, src in (("same40", sources[40]), ("same2000", sources[2000]), ("shifted", shifted)):
        assert d[name] == source_discrepancy(src, target, max_samples=40)
    assert d["shifted"] > max(d["same40"], d["same2000"])


def test_a_failing_candidate_is_named():
    class Boom:
        def fit(self, pair):
            raise RuntimeError("diverged")

    X, y = two_blobs()
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)
    with pytest.raises(
        RuntimeError, match=r"^select_model: candidate 'boom' raised RuntimeError: diverged"
    ):
        select_model({"ok": Fixed(y), "boom": Boom()}, pair)
    nan = y.astype(float)
    nan[:5] = np.nan
    with pytest.raises(ValueError, match=r"^select_model: candidate 'nan': knn_agreement: labels"):
        select_model({"ok": Fixed(y), "nan": Fixed(nan)}, pair)
    with pytest.raises(RuntimeError, match=r"^rank_sources: candidate 'a' raised RuntimeError"):
        rank_sources(Domain(X), {"a": Domain(X, y)}, fit_fn=Boom().fit)


def test_combine_sources_checks_its_seed():
    # seed=None drew other rows at every call; -1 failed in numpy naming nothing
    rng = np.random.default_rng(0)
    a = Domain(rng.normal(size=(20, 3)), np.arange(20) % 2)
    for bad in (None, -1, 1.5, True):
        with pytest.raises(ValueError, match=r"^combine_sources: seed must be"):
            combine_sources([a], [1.0], seed=bad)


def test_selection_arguments_are_checked_before_any_fit():
    # n_samples was checked after every candidate's fit (weighted) or ignored (best);
    # check_sources="no" ran the checks; max_samples="bogus" an int() error, -1 "too small"
    X, y = two_blobs()
    fits = []

    def fit(pair):
        fits.append(1)
        return Fixed(y).fit(pair)

    target, sources = Domain(X), {"a": Domain(X, y)}
    with pytest.raises(ValueError, match=r"^select_source: n_samples"):
        select_source(target, sources, strategy="weighted", n_samples=-1, fit_fn=fit)
    with pytest.raises(ValueError, match=r"n_samples sizes a weighted combination only"):
        select_source(target, sources, n_samples=10, fit_fn=fit)
    with pytest.raises(ValueError, match=r"^rank_sources: check_sources must be"):
        rank_sources(target, sources, fit_fn=fit, check_sources="no")
    with pytest.raises(ValueError, match=r"^rank_sources: benchmark must be None or a str"):
        rank_sources(target, sources, fit_fn=fit, benchmark=[])
    pair = DomainPair(Domain(X, y), Domain(X), n_clusters=2)
    for bad in ("bogus", -1, True, float("inf")):
        with pytest.raises(
            ValueError, match=r"^select_model: max_samples: expected None or an int"
        ):
            select_model({"y": Fixed(y)}, pair, max_samples=bad)
    assert fits == []


def test_model_selection_out_refuses_selections_made_under_another_family_default(
    load_script, tmp_path, monkeypatch, capsys
):
    # --out resumed by its settings alone: after a family default changed, its rows were
    # kept and summarised as current. Each row records the base DTC's parameters now.
    from types import SimpleNamespace

    from dtc.pipeline import FAMILY_CONFIGS

    script = load_script("model_selection")

    def fake_select(candidates, pair, criterion, seed):
        names = list(candidates)
        fitted = {c: SimpleNamespace(labels_=pair.target.y) for c in names}
        return SimpleNamespace(best=names[0], scores=dict.fromkeys(names, 0.0), estimators=fitted)

    monkeypatch.setattr(script, "select_model", fake_select)
    out = tmp_path / "sel.jsonl"
    argv = ["--quick", "--axes", "lam", "--out", str(out), "--json"]
    assert script.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # --quick runs the SURF pair only where the shared data are found (DTC_DATA)
    expected = {"digits"} | ({"office_caltech10_surf"} if os.environ.get("DTC_DATA") else set())
    assert {r["benchmark"] for r in rows} == expected
    assert all(r["dtc_params"]["adapt_epochs"] == 20 for r in rows)
    capsys.readouterr()
    assert script.main(argv) == 0
    assert f"resuming: {len(expected)} finished selection(s)" in capsys.readouterr().err
    labelled = FAMILY_CONFIGS["digits"]["labelled"]
    monkeypatch.setitem(labelled, "lam", labelled.get("lam", 1.0) + 0.5)
    with pytest.raises(SystemExit):
        script.main(argv)
    assert "made under other DTC parameters (lam" in " ".join(capsys.readouterr().err.split())
