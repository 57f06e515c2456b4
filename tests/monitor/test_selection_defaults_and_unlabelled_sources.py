"""rank_sources' default fit (a DTC of 10 pretraining and 10 adaptation epochs at the
call's seed, as its docstring states) and combine_sources of unlabelled sources, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.data import Domain
from dtc.monitor.selection import combine_sources, rank_sources
from dtc.pipeline import DTC


def _blobs(shift: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], 15)
    return 4.0 * y[:, None] + shift + 0.3 * rng.normal(size=(30, 3))


def test_rank_sources_default_fit_is_the_documented_dtc():
    target = Domain(_blobs(0.5, 0))
    sources = {"near": Domain(_blobs(0.0, 1)), "far": Domain(_blobs(3.0, 2))}
    seed = 3
    calls = []

    def documented(pair):
        calls.append(pair)
        return DTC(pretrain_epochs=10, adapt_epochs=10, seed=seed).fit(pair)

    default = rank_sources(target, sources, n_clusters=2, seed=seed)
    given = rank_sources(target, sources, n_clusters=2, seed=seed, fit_fn=documented)
    assert len(calls) == 2
    assert default == given


def test_combine_sources_of_unlabelled_sources_holds_no_labels():
    a, b = Domain(np.arange(12.0).reshape(6, 2)), Domain(-np.arange(8.0).reshape(4, 2))
    whole = combine_sources({"a": a, "b": b}, [1.0, 0.0])
    # all the weight on one source: that source, rows in its order
    assert whole.y is None and np.array_equal(whole.X, a.X)
    mixed = combine_sources({"a": a, "b": b}, [0.5, 0.5], n_samples=4)
    assert mixed.y is None and mixed.X.shape == (4, 2)
    # two rows of each, each source's rows in their own order
    assert set(map(tuple, mixed.X[:2])) <= set(map(tuple, a.X))
    assert set(map(tuple, mixed.X[2:])) <= set(map(tuple, b.X))
    assert (np.diff(mixed.X[:2, 0]) > 0).all() and (np.diff(mixed.X[2:, 0]) < 0).all()
    with pytest.raises(ValueError, match="all labelled or all unlabelled"):
        combine_sources([a, Domain(b.X, np.zeros(4, dtype=int))], [0.5, 0.5])
