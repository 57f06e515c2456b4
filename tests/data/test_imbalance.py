"""Imbalanced subsets (dtc.data.imbalance), counts checked against hand-computed sizes."""

from __future__ import annotations

import numpy as np
import pytest

import dtc.data as data
from dtc.data.imbalance import class_sizes, imbalanced_rows


def _balanced(n_per_class=100, n_classes=5):
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = np.arange(y.size, dtype=float).reshape(-1, 1)
    return data.Domain(X, y, name="bal")


def test_exponential_sizes_hand_computed():
    # 100 * 10 ** (-c / 4) for c = 0..4 = 100, 56.2, 31.6, 17.8, 10.
    np.testing.assert_array_equal(class_sizes(5, 100, 10.0), [100, 56, 32, 18, 10])


def test_step_sizes_hand_computed():
    np.testing.assert_array_equal(class_sizes(4, 90, 3.0, "step"), [90, 90, 30, 30])
    np.testing.assert_array_equal(
        class_sizes(5, 90, 4.0, "step", minority_fraction=0.2), [90, 90, 90, 90, 22]
    )


def test_step_minority_size_is_rounded_to_nearest_not_truncated():
    # round(100 / 6) = round(16.67) = 17 (truncation would give 16) and round(100 / 3) =
    # round(33.33) = 33; two of three classes are minorities (fraction 0.5, rounded half up).
    np.testing.assert_array_equal(class_sizes(3, 100, 6.0, "step"), [100, 17, 17])
    np.testing.assert_array_equal(class_sizes(3, 100, 3.0, "step"), [100, 33, 33])
    # the exponential profile rounds the same way: 100 / 6 for the last class
    assert class_sizes(2, 100, 6.0)[-1] == 17


@pytest.mark.parametrize(
    ("n_classes", "fraction", "n_minor"),
    [
        (2, 0.5, 1),
        (3, 0.5, 2),
        (5, 0.5, 3),
        (7, 0.5, 4),
        (4, 0.5, 2),
        (4, 0.125, 1),
        (4, 0.375, 2),
        (4, 0.01, 1),
        (4, 0.99, 3),
        # exactly half-way in decimal, just below it in binary (0.58 * 25 =
        # 14.499999999999998): half up gives 15, floor(x + 0.5) in floats gave 14
        (25, 0.58, 15),
        (50, 0.29, 15),
        (90, 0.35, 32),
    ],
)
def test_step_rounds_the_number_of_minority_classes_half_up(n_classes, fraction, n_minor):
    # Python's round (half to even) made 2 of 3 classes minorities at 0.5 but 2 of 5;
    # clipped to [1, C - 1] so that the ratio is realised.
    sizes = class_sizes(n_classes, 40, 4.0, "step", minority_fraction=fraction)
    np.testing.assert_array_equal(sizes, [40] * (n_classes - n_minor) + [10] * n_minor)


@pytest.mark.parametrize("profile", ["exponential", "step"])
@pytest.mark.parametrize("ratio", [2.0, 7.0, 25.0])
def test_realised_ratio(profile, ratio):
    out = data.make_imbalanced(_balanced(), ratio, profile=profile, seed=1)
    counts = np.bincount(out.y)
    assert counts.max() == 100
    assert counts.min() == round(100 / ratio)
    # Within rounding of the minority size.
    assert abs(counts.max() / counts.min() - ratio) <= ratio / counts.min()
    assert out.meta["imbalance"]["class_sizes"] == dict(enumerate(counts.tolist()))
    assert out.meta["imbalance"]["realised_ratio"] == counts.max() / counts.min()
    assert out.meta["imbalance"]["ratio"] == ratio  # as asked


@pytest.mark.parametrize("profile", ["exponential", "step"])
def test_a_ratio_above_the_smallest_class_size_is_refused(profile):
    # digits' target: smallest class 87 samples. Ratio 150 gave a minority class of
    # round(87 / 150) = 1 sample (realised ratio 87) and recorded ratio 150; 1000 was
    # refused with "at most 87". Every ratio above 87 is refused now, with that bound.
    target = data.load_pair("digits").target
    n_max = int(np.bincount(target.y).min())
    assert n_max == 87
    for ratio in (87.5, 150, 174, 1000):
        with pytest.raises(ValueError, match=r"ratio=.* the ratio can be at most 87$"):
            data.make_imbalanced(target, ratio, profile=profile)
    # The bound itself is realised exactly: 87 samples against 1.
    out = data.make_imbalanced(target, 87, profile=profile)
    counts = np.bincount(out.y)
    assert (counts.max(), counts.min()) == (87, 1)
    assert out.meta["imbalance"]["ratio"] == counts.max() / counts.min()


def test_rows_are_original_rows_in_order_and_seeded():
    dom = _balanced()
    out = data.make_imbalanced(dom, 4.0, seed=3)
    rows = out.X[:, 0].astype(int)
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(out.y, dom.y[rows])
    same = data.make_imbalanced(dom, 4.0, seed=3)
    np.testing.assert_array_equal(same.X, out.X)
    other = data.make_imbalanced(dom, 4.0, seed=4)
    assert not np.array_equal(other.X, out.X)


def test_ratio_one_keeps_balance_at_smallest_class():
    y = np.array([0] * 30 + [1] * 20 + [2] * 25)
    dom = data.Domain(np.zeros((y.size, 2)), y)
    out = data.make_imbalanced(dom, 1.0)
    np.testing.assert_array_equal(np.bincount(out.y), [20, 20, 20])


def test_errors():
    dom = _balanced()
    with pytest.raises(ValueError, match=r"ratio: expected the imbalance ratio .* >= 1"):
        data.make_imbalanced(dom, 0.5)
    with pytest.raises(ValueError, match="unlabelled"):
        data.make_imbalanced(dom.without_labels(), 2.0)
    with pytest.raises(ValueError, match="profile"):
        data.make_imbalanced(dom, 2.0, profile="linear")
    with pytest.raises(ValueError, match="ratio can be at most 100"):
        data.make_imbalanced(dom, 500.0)
    with pytest.raises(ValueError, match="minority_fraction"):
        data.make_imbalanced(dom, 2.0, profile="step", minority_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2 classes"):
        data.make_imbalanced(data.Domain(np.zeros((3, 1)), [0, 0, 0]), 2.0)
    with pytest.raises(ValueError, match="seed: expected an int >= 0, got -1"):
        data.make_imbalanced(dom, 2.0, seed=-1)
    # a string was compared with 0.0: a TypeError naming nothing
    for bad in ("0.5", None, True, float("nan")):
        with pytest.raises(ValueError, match=r"minority_fraction: expected a number in \(0, 1\)"):
            data.make_imbalanced(dom, 10, profile="step", minority_fraction=bad)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 2, float("nan"), "0.5", True])
def test_minority_fraction_is_checked_whatever_the_profile(bad):
    # "exponential" ignores it, but a wrong value passed silently there
    from dtc.experiment.single import imbalance_options

    with pytest.raises(ValueError, match=r"minority_fraction: expected a number in \(0, 1\)"):
        data.make_imbalanced(_balanced(), 10, profile="exponential", minority_fraction=bad)
    with pytest.raises(ValueError, match=r"imbalance_minority_fraction: expected a number in"):
        imbalance_options({"imbalance_ratio": 10, "imbalance_minority_fraction": bad})


@pytest.mark.parametrize(
    ("y", "match"),
    [
        # 2-d: np.unique flattened it to one "class"
        (np.zeros((4, 2), dtype=int), r"y: expected a 1-d label vector .* got shape \(4, 2\)"),
        # non-integer labels were taken as classes 0.5, 1.5
        (np.array([0.5, 0.5, 1.5, 1.5]), "y: expected integer class labels"),
        (np.array([0.0, np.nan, 1.0, 1.0]), "y: expected integer class labels"),
        (np.array(["a", "a", "b", "b"]), "y: expected integer class labels, got dtype <U1"),
        (np.array([-1, -1, 0, 0]), "y: expected non-negative class labels, got minimum -1"),
        # numpy's "zero-size array to reduction operation minimum"
        (np.array([], dtype=int), "y: expected the labels of at least 2 classes, got an empty"),
    ],
)
def test_imbalanced_rows_names_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        imbalanced_rows(y, 2.0)


def test_imbalanced_rows_takes_a_column_and_integer_valued_floats_like_a_domain():
    y = np.repeat([0, 1], [6, 4])
    index, record = imbalanced_rows(y, 2.0, seed=5)
    for same in (y[:, None], y.astype(float)):
        other_index, other_record = imbalanced_rows(same, 2.0, seed=5)
        np.testing.assert_array_equal(other_index, index)
        assert other_record == record
    assert record["class_sizes"] == {0: 4, 1: 2}


@pytest.mark.parametrize(
    "imbalance, match",
    [
        (10, r"imbalance: expected a dict of .* or None, got 10"),
        ({}, r"imbalance: expected the keys .*ratio required.*got \[\]"),
        ({"ratio": 10, "ratoi_seed": 1}, r"imbalance: expected the keys .*'ratoi_seed'"),
        ({"ratio": 0.5}, r"imbalance: ratio: expected the imbalance ratio"),
        ({"ratio": 10, "seed": -1}, r"imbalance: seed: expected an int >= 0, got -1"),
    ],
)
def test_the_loaders_name_a_bad_imbalance_argument(imbalance, match):
    for load in (
        lambda: data.load_pair("digits", imbalance=imbalance),
        lambda: data.load_domain("digits", "target", imbalance=imbalance),
    ):
        with pytest.raises(ValueError, match=match):
            load()


def test_a_run_refuses_imbalance_as_a_data_parameter():
    # load_pair's own argument: passed twice it was a TypeError with a traceback.
    from dtc.experiment import RunSpec
    from dtc.experiment.single import load_spec_pair

    spec = RunSpec(method="kmeans", benchmark="digits", data_params={"imbalance": 10})
    with pytest.raises(ValueError, match="data parameter 'imbalance': give imbalance_ratio"):
        load_spec_pair(spec)


def test_an_imbalanced_benchmark_target_is_cut_before_it_is_standardised():
    # z-scored on the balanced target and then cut, the kept rows had column means of up
    # to 0.8 std: the statistics came from rows the method never sees.
    from dtc.experiment.single import RunSpec, load_spec_pair

    params = {"imbalance_ratio": 10, "preprocess": "zscore"}
    target = load_spec_pair(RunSpec("kmeans", "digits", data_params=params)).target
    balanced = data.load_pair("digits", preprocess="raw").target
    expected = data.make_imbalanced(balanced, ratio=10)
    np.testing.assert_array_equal(target.y, expected.y)  # the same rows
    assert target.meta["imbalance"] == expected.meta["imbalance"]
    np.testing.assert_allclose(target.X, data.standardize(expected).X, atol=1e-5)
    np.testing.assert_allclose(target.X.mean(axis=0), 0.0, atol=1e-5)


@pytest.mark.parametrize("preprocess", ["standard", "raw", "l2"])
def test_row_wise_preprocessing_of_an_imbalanced_target_is_unchanged(preprocess):
    # Cutting and scaling rows commute: the shipped imbalanced settings (digits raw,
    # MNIST-USPS per-row L2) give the arrays they gave when the cut came second.
    pair = data.load_pair("digits", preprocess=preprocess)
    cut_after = data.make_imbalanced(pair.target, ratio=5, seed=3)
    cut_first = data.load_pair(
        "digits", preprocess=preprocess, imbalance={"ratio": 5, "seed": 3}
    ).target
    np.testing.assert_array_equal(cut_first.X, cut_after.X)
    np.testing.assert_array_equal(cut_first.y, cut_after.y)
    np.testing.assert_array_equal(
        data.load_pair("digits", preprocess=preprocess).source.X, pair.source.X
    )


def test_table3_mnist_target_is_unchanged_and_a_surf_target_is_standardised_on_its_rows(
    data_dir,
):
    # usps -> mnist, per-row L2 (Table 3): the same arrays as when the cut came second.
    for ratio in (1, 5, 10, 20):
        pair = data.load_pair("mnist_usps", "usps", "mnist", data_dir)
        cut_after = data.make_imbalanced(pair.target, ratio=ratio)
        cut_first = data.load_pair(
            "mnist_usps", "usps", "mnist", data_dir, imbalance={"ratio": ratio}
        ).target
        np.testing.assert_array_equal(cut_first.X, cut_after.X)
        np.testing.assert_array_equal(cut_first.y, cut_after.y)
    # SURF's sum_zscore is per column: z-scored on the rows kept
    target = data.load_domain("office_caltech10_surf", "webcam", data_dir, imbalance={"ratio": 3})
    np.testing.assert_allclose(target.X.mean(axis=0), 0.0, atol=1e-5)


def test_a_run_sets_the_step_profiles_minority_fraction():
    # make_imbalanced's minority_fraction had no data parameter: imbalance_minority_fraction
    # was refused as an unknown option of the benchmark, so a run's step profile always
    # made half of the classes minorities (and the report's default for it never applied).
    from dtc.experiment.config import load_config
    from dtc.experiment.single import RunSpec, load_spec_pair

    params = {"imbalance_ratio": 3, "imbalance_profile": "step", "imbalance_minority_fraction": 0.2}
    target = load_spec_pair(RunSpec("kmeans", "digits", data_params=params)).target
    # digits' target: smallest class 87; 10 classes * 0.2 = the last 2 keep round(87 / 3) = 29
    np.testing.assert_array_equal(np.bincount(target.y), [87] * 8 + [29] * 2)
    config = {
        "methods": {"km": {"method": "kmeans"}},
        "benchmarks": [{"benchmark": "digits", "data": params}],
        "seeds": [0],
    }
    load_config(config)  # accepted
    bad = {**params, "imbalance_minority_fraction": 1.5}
    with pytest.raises(ValueError, match=r"imbalance_minority_fraction: expected a number in"):
        load_config({**config, "benchmarks": [{"benchmark": "digits", "data": bad}]})


def test_the_readme_states_the_class_sizes_of_table3s_sources(data_dir):
    # The README said Table 3's sources were "about balanced already" (digits' 87 to 91
    # rows), but its USPS source (usps -> mnist) holds 126 to 352 rows per class.
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    readme = " ".join((root / "README.md").read_text().split())
    config = yaml.safe_load((root / "experiments/paper/table3.yaml").read_text())
    for entry in config["benchmarks"]:
        for source, target in entry.get("pairs", [[None, None]]):
            pair = data.load_pair(entry["benchmark"], source, target, data_dir)
            counts = np.bincount(pair.source.y)
            stated = f"{counts.min()} to {counts.max()} rows"
            assert re.search(re.escape(stated), readme), (pair.source.name, stated)


def test_a_complex_ratio_is_refused():
    from dtc.data.imbalance import check_imbalance

    with pytest.raises(ValueError, match="ratio: expected a number >= 1"):
        check_imbalance(np.complex128(2))


def test_class_sizes_and_ratios_of_other_kinds_are_refused_by_name():
    from fractions import Fraction

    from dtc.data.imbalance import check_imbalance, class_sizes

    # 2.5 classes gave three sizes on the exponent of 1.5 (a ratio of 5 for 4)
    with pytest.raises(ValueError, match="n_classes and n_max must be ints, got 2.5"):
        class_sizes(2.5, 10, 4)
    with pytest.raises(ValueError, match="n_classes and n_max must be ints, got 4.5"):
        class_sizes(3, 4.5, 2)
    # numpy's isfinite failed on them, naming nothing
    for ratio in (Fraction(5, 2), 10**400):
        if ratio == Fraction(5, 2):
            check_imbalance(ratio)  # a finite number >= 1 is a ratio
        else:
            with pytest.raises(ValueError, match="ratio: expected the imbalance ratio"):
                check_imbalance(ratio)
    with pytest.raises(ValueError, match="minority_fraction: expected a number in"):
        check_imbalance(2, minority_fraction=np.complex64(0.5 + 0.3j))


def test_the_step_record_draws_the_same_rows_again():
    from dtc.data.imbalance import imbalanced_rows

    y = np.repeat(np.arange(4), 10)
    rows, record = imbalanced_rows(y, 2, "step", 0, 0.25)
    keys = ("ratio", "profile", "seed", "minority_fraction")
    again, _ = imbalanced_rows(y, **{k: record[k] for k in keys})
    np.testing.assert_array_equal(again, rows)  # the fraction was not recorded


@pytest.mark.parametrize(
    ("n_classes", "n_max", "ratio", "smallest"),
    # 23 / 9.2 = 2.5 and 33 / 4.4 = 7.5 exactly: half to even gives 2 and 8; in binary they
    # are 2.5000000000000004 (exponential: 3) and 7.499999999999999 (both profiles: 7)
    [(2, 23, 9.2, 2), (3, 33, 4.4, 8), (4, 30, 4, 8), (3, 50, 20, 2)],
)
@pytest.mark.parametrize("profile", ["exponential", "step"])
def test_both_profiles_round_the_smallest_class_of_the_decimal_ratio(
    n_classes, n_max, ratio, smallest, profile
):
    sizes = class_sizes(n_classes, n_max, ratio, profile)
    assert sizes[0] == n_max and sizes[-1] == smallest
    assert (np.diff(sizes) <= 0).all()


def test_class_sizes_errors_name_class_sizes_and_its_arguments():
    # "make_imbalanced: ..." and "the smallest class of the input" of a function that takes
    # no input and is not make_imbalanced
    with pytest.raises(ValueError, match="^class_sizes: expected at least 2 classes, got 1"):
        class_sizes(1, 10, 2.0)
    with pytest.raises(ValueError, match=r"^class_sizes: ratio=10 cannot be realised with n_max=5"):
        class_sizes(3, 5, 10)
    # a fractional ratio between n_max and n_max + 1: the smallest class would hold 5 / 5.5
    with pytest.raises(
        ValueError, match=r"^class_sizes: ratio=5.5 cannot be realised with n_max=5"
    ):
        class_sizes(3, 5, 5.5)
    with pytest.raises(ValueError, match="^class_sizes: n_max must be >= 1, got 0"):
        class_sizes(3, 0, 1.0)


def test_make_imbalanced_keeps_the_domains_meta_and_records_the_exponential_draw():
    bal = _balanced(n_per_class=10, n_classes=3)
    dom = data.Domain(bal.X, bal.y, name="bal", meta={"src": "x"})
    out = data.make_imbalanced(dom, 2.0, seed=1)
    assert out.meta["src"] == "x"
    # by hand: sizes round(10 * 2 ** (-c / 2)) = 10, 7, 5
    assert out.meta["imbalance"] == {
        "ratio": 2.0,
        "realised_ratio": 2.0,
        "profile": "exponential",
        "class_sizes": {0: 10, 1: 7, 2: 5},
        "seed": 1,
    }  # no minority_fraction: the exponential profile does not use it


@pytest.mark.parametrize("benchmark", ["digits", "coil20"])
def test_a_configs_imbalance_ratio_given_to_load_pair_is_pointed_to_imbalance(benchmark):
    # imbalance_ratio is the runner's data parameter; load_pair takes imbalance=, and its
    # refusal did not say so
    from dtc.data import load_pair

    source, target = ("source", "target") if benchmark == "digits" else ("coil1", "coil2")
    with pytest.raises(ValueError, match=r"an imbalanced target is imbalance=\{'ratio'"):
        load_pair(benchmark, source=source, target=target, imbalance_ratio=10)


def test_data_dependent_errors_name_the_callers_arguments_not_class_sizes():
    # make_imbalanced and load_pair never call class_sizes as far as their caller knows:
    # "class_sizes: ratio=200 ... n_max=87" named neither `imbalance` nor `y`
    dom = data.Domain(np.zeros((6, 1)), [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"^ratio=5 cannot be realised: .*at most 3$"):
        data.make_imbalanced(dom, 5)
    with pytest.raises(ValueError, match=r"^y: expected the labels of at least 2 classes, got 1"):
        data.make_imbalanced(data.Domain(np.zeros((3, 1)), [0, 0, 0]), 2.0)
    with pytest.raises(
        ValueError, match=r"^imbalance: ratio=200 cannot be realised: .*at most 87$"
    ):
        data.load_pair("digits", imbalance={"ratio": 200})


def test_a_fractional_ratio_just_above_the_smallest_class_names_the_callers_arguments():
    # 3 < 3.5 < 4: refused by make_imbalanced itself, naming y, not class_sizes
    dom = data.Domain(np.zeros((6, 1)), [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"^ratio=3\.5 cannot be realised: .*at most 3$"):
        data.make_imbalanced(dom, 3.5)
