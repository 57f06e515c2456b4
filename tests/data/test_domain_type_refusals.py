"""The data functions that take a Domain refuse anything else by name; a domain and a pair
describe themselves in one line; a shift of no images is no images."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.data import Domain, DomainPair, make_imbalanced
from dtc.data.shifts import apply_shift, shift_domain


@pytest.mark.parametrize(
    ("func", "name"), [(make_imbalanced, "make_imbalanced"), (shift_domain, "shift_domain")]
)
def test_an_array_for_a_domain_is_refused_by_name(func, name):
    message = f"{name}: expected a dtc.data.Domain, got <class 'numpy.ndarray'>"
    with pytest.raises(ValueError, match=f"^{message}$"):
        func(np.zeros((4, 2)), 0.5)


def test_the_reprs_of_a_domain_and_a_pair():
    source = Domain(np.zeros((4, 2)), np.array([0, 0, 1, 1]), name="s")
    target = Domain(np.zeros((3, 2)), None, name="t")
    assert repr(source) == "Domain('s', n=4, d=2, 2 classes)"
    assert repr(target) == "Domain('t', n=3, d=2, unlabelled)"
    pair = DomainPair(source, target, n_clusters=2)
    assert repr(pair) == f"DomainPair(source={source!r}, target={target!r})"
    wide = Domain(np.zeros((3, 5)), None, name="w")
    cross = DomainPair(source, wide, n_clusters=2, heterogeneous=True)
    assert repr(cross) == f"DomainPair(source={source!r}, target={wide!r}, heterogeneous)"


def test_no_images_shift_to_no_images():
    out = apply_shift(np.zeros((0, 2, 3)), 0.5)
    assert out.shape == (0, 2, 3)
