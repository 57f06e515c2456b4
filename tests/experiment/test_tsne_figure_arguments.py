"""``tsne_figure`` refuses a bad ``seed`` or ``max_points`` naming it: numpy's words named
neither ("SeedSequence expects int ...", "negative dimensions are not allowed"), and
``max_points=0`` read as a panel of 0 points."""

from __future__ import annotations

import numpy as np
import pytest

from dtc.experiment.plots import tsne_figure


def panels():
    rng = np.random.default_rng(0)
    return {"after": (rng.normal(size=(30, 3)), rng.normal(size=(25, 3)), np.arange(25) % 3)}


@pytest.mark.parametrize("max_points", [0, 1, -1, 2.5, None, True, "500"])
def test_a_bad_max_points_is_named(tmp_path, max_points):
    with pytest.raises(ValueError, match=r"^tsne_figure: max_points must be an int >= 2"):
        tsne_figure(panels(), tmp_path / "t.png", max_points=max_points)
    assert not (tmp_path / "t.png").exists()


@pytest.mark.parametrize("seed", [1.5, -1, None, True, "3", 2**32])
def test_a_bad_seed_is_named(tmp_path, seed):
    with pytest.raises(ValueError, match=r"^tsne_figure: seed must be an int"):
        tsne_figure(panels(), tmp_path / "t.png", seed=seed)


def test_two_points_per_domain_and_a_numpy_seed_are_drawn(tmp_path):
    path = tsne_figure(panels(), tmp_path / "t.png", max_points=np.int64(2), seed=np.int64(1))
    assert path.stat().st_size > 0
