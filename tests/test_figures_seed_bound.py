"""``scripts/figures.py``: the largest seed it accepts is the largest 32-bit one."""

from dtc._validation import SEED_MAX


def test_figures_accepts_the_largest_seed(load_script, tmp_path, monkeypatch):
    script = load_script("figures")
    drawn = []
    monkeypatch.setattr(script, "load_spec_pair", lambda spec, data_dir=None: "data")
    monkeypatch.setattr(script, "draw", lambda args, data: drawn.append(args.seed))
    script.main(["--out", str(tmp_path / "fig"), "--seed", str(SEED_MAX)])
    assert drawn == [SEED_MAX] and SEED_MAX == 2**32 - 1
