"""dtc._validation's small helpers, pinned where only their callers were tested
(mutation-test gaps)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dtc._validation import (
    SAFE_LOG2,
    check_features,
    check_number,
    is_int_at_least,
    path_argument,
    pow2_exponent,
    times_pow2,
    user_path,
)


def test_is_int_at_least_takes_python_and_numpy_ints_but_not_a_bool():
    assert is_int_at_least(3, 3) and is_int_at_least(np.int64(4), 3)
    assert not is_int_at_least(2, 3)
    assert not is_int_at_least(2.0, 1) and not is_int_at_least("3", 1)
    assert not is_int_at_least(True, 1) and not is_int_at_least(np.bool_(True), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_features_returns_a_c_contiguous_array_for_a_strided_view(dtype):
    view = np.arange(24, dtype=dtype).reshape(4, 6)[:, ::2]
    X = check_features(view)
    assert X.flags.c_contiguous and X.dtype == np.float32
    np.testing.assert_array_equal(X, view)


def test_check_number_takes_both_ends_of_a_closed_range():
    assert check_number(0.0, "p", low=0.0, high=1.0) == 0.0
    assert check_number(1, "p", low=0.0, high=1.0) == 1.0
    with pytest.raises(ValueError, match=r"p must be a number in \[0.0, 1.0\]"):
        check_number(1.0 + 1e-12, "p", low=0.0, high=1.0)


def test_user_path_expands_a_leading_tilde(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_path("~/runs.jsonl") == tmp_path / "runs.jsonl"
    assert user_path(Path("~")) == tmp_path
    assert path_argument("~/out") == tmp_path / "out"
    assert user_path("a/~b") == Path("a/~b")  # only a leading one
    assert os.fspath(user_path("rel")) == "rel"


def test_probability_rows_allow_the_rounding_of_their_own_dtype():
    # a bfloat16 softmax (8-bit mantissa) sums to 1 only within a few 1e-3; float32 rows
    # are held to 1e-4 (mutation-test gap: a fixed 1e-4 refused the bfloat16 ones)
    import torch

    from dtc._validation import check_probability_rows

    rows = torch.tensor([[0.332, 0.332, 0.332], [0.5, 0.25, 0.25]])
    assert check_probability_rows(rows.bfloat16(), "q") is not None
    with pytest.raises(ValueError, match="q rows must sum to 1"):
        check_probability_rows(rows, "q")
    with pytest.raises(ValueError, match="q must be finite and non-negative"):
        check_probability_rows(torch.tensor([[1.5, -0.5]]), "q")


def test_a_strict_range_is_named_open_at_its_low_end():
    # "must be a number in [0.0, 1.0], got 0.0" (confident_mask's fraction) named 0.0 in range
    with pytest.raises(ValueError, match=r"f must be a number in \(0.0, 1.0\], got 0.0"):
        check_number(0.0, "f", low=0.0, high=1.0, strict=True)
    with pytest.raises(ValueError, match=r"f must be a number in \(0.0, 1.0\], got 2.0"):
        check_number(2.0, "f", low=0.0, high=1.0, strict=True)
    assert check_number(1.0, "f", low=0.0, high=1.0, strict=True) == 1.0


def test_float32_data_below_the_normal_range_is_taken_as_given():
    # only a cast from a wider float loses bits below float32's normal range: float32
    # data there is used as it is (mutation-test gap: itemsize >= 4 refused it)
    tiny = np.full((3, 2), 1e-40, dtype=np.float32)
    np.testing.assert_array_equal(check_features(tiny), tiny)
    with pytest.raises(ValueError, match="below float32's normal range"):
        check_features(tiny.astype(np.float64))


def test_the_cluster_modules_check_int_refuses_a_bool_and_takes_its_minimum():
    from dtc.cluster.kmeans import check_int

    assert check_int(np.int64(1), "n") == 1 and check_int(0, "n", minimum=0) == 0
    for bad in (True, np.bool_(True), 1.0, 0):
        with pytest.raises(ValueError, match="n: expected an int >= 1"):
            check_int(bad, "n")


def test_make_generator_is_seeded():
    import torch

    from dtc.nn.training import make_generator

    a = torch.rand(4, generator=make_generator(7))
    assert torch.equal(a, torch.rand(4, generator=make_generator(7)))
    assert not torch.equal(a, torch.rand(4, generator=make_generator(8)))


@pytest.mark.parametrize("dtype", ["datetime64[s]", "timedelta64[s]"])
def test_check_features_refuses_times_by_their_dtype(dtype):
    # float32 took timestamps for their counts since 1970 (mutation-test gap: without the
    # dtype check the cast took timedelta64 as its counts without a word)
    with pytest.raises(ValueError, match=f"got dtype {dtype.replace('[', '.').replace(']', '.')}"):
        check_features(np.array([[1, 2], [3, 4]], dtype=dtype))


def test_pow2_exponent_and_times_pow2_scale_exactly_outside_the_safe_range():
    x = np.array([[3.0, -5.0], [0.25, 1.0]])
    assert pow2_exponent(x, torch.from_numpy(x)) == 0  # in range: used as given
    assert pow2_exponent(np.zeros((2, 2)), np.zeros((0, 3))) == 0  # zeros; empty skipped
    assert pow2_exponent(np.array([np.inf])) == 0  # the input checks refuse non-finite rows
    for scale in (2.0 ** (SAFE_LOG2 + 1), 1e-30, 1e-310, 1e170, 1e300):
        y = x * scale
        e = pow2_exponent(y)
        assert e != 0 and 0.5 <= np.abs(np.ldexp(y, e)).max() < 1.0
        # two half steps, exact: np.ldexp's one, bit for bit (2.0**e alone overflows at
        # 1e-310, whose e is 1030)
        assert np.array_equal(times_pow2(y, e), np.ldexp(y, e))
        assert np.array_equal(times_pow2(times_pow2(y, e), -e), y)
    assert pow2_exponent(x * 2.0**SAFE_LOG2 / 5.0) == 0  # the bound itself is in range
    # a tensor keeps its gradient: d(2**e x)/dx = 2**e
    t = torch.tensor([1e-20, -3e-20], dtype=torch.float64, requires_grad=True)
    e = pow2_exponent(t)
    times_pow2(t, e).sum().backward()
    assert t.grad.tolist() == [math.ldexp(1.0, e)] * 2
    assert times_pow2(x, 0) is x
