"""``scripts/dtc_benchmark.py``: rows of an older DTC default are set aside and run again."""

from __future__ import annotations

from dtc.experiment.store import read_records, write_records


def test_rows_run_with_another_default_are_moved_aside(load_script, tmp_path):
    script = load_script("dtc_benchmark")
    current = script.dtc_params("coil20", "dtc_labelled")
    old = {**current, "final_labels": "head_clusters", "std_floor_quantile": 0.5}
    key = {"family": "coil20", "pair": "coil1->coil2", "seed": 0, "acc": 0.5}
    rows = [
        {**key, "method": "kmeans"},  # references have no DTC parameters: kept
        {**key, "method": "dtc_labelled", "params": current},
        {**key, "method": "dtc_labelled", "seed": 1, "params": old},
        {**key, "method": "dtc_unlabelled"},  # written before rows recorded parameters
    ]
    out = tmp_path / "bench.jsonl"
    write_records(out, rows)
    kept = script.set_aside_stale(out, read_records(out))
    assert kept == rows[:2] and read_records(out) == rows[:2]
    assert read_records(tmp_path / "bench.stale.jsonl") == rows[2:]
    assert script.set_aside_stale(out, kept) == kept  # nothing stale: nothing moves
    assert read_records(tmp_path / "bench.stale.jsonl") == rows[2:]
