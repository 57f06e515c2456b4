"""Report paths no other test reached, checked against hand-written tables: list-valued
parameters whose objects take the run's seed, a row whose runs lack a telling parameter,
a metric some records lack (its table and oracle table leave those rows out) and a row
missing a column under a mean column."""

from dtc.experiment.report import build_tables, oracle_tables, to_markdown


def _rec(label, seed, metrics, *, target="t", params=None, spec=None, grid=None):
    record = {
        "run_id": f"{label}-{target}-{seed}-{params}-{grid}",
        "label": label,
        "method": label,
        "benchmark": "digits",
        "source": "s",
        "target": target,
        "seed": seed,
        "metrics": metrics,
    }
    for key, value in (("params", params), ("spec", spec), ("grid", grid)):
        if value is not None:
            record[key] = value
    return record


def _layers(seed, w=2):
    return {"layers": [{"object": "m.L", "params": {"seed": seed, "w": w}}]}


def test_seeds_of_objects_in_a_list_parameter_are_the_runs():
    # each run gives its seed to the object in the list: one row, the mean of 10, 20, 60
    records = [
        _rec("a", s, {"acc": v}, params=_layers(s)) for s, v in ((0, 0.1), (1, 0.2), (2, 0.6))
    ]
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["a"]
    assert "| a | **30.0 ± 26.5** |" in to_markdown(acc)


def test_a_seed_the_config_fixed_in_a_list_is_kept_even_at_the_runs_seed():
    # the config wrote seed 5 for the object: the run of seed 5 is not told apart from
    # seeds 0 and 1 (which would split it off as the row of another setting)
    spec = {"params": {"layers": [{"object": "m.L", "params": {"seed": 5}}]}}
    records = [
        _rec("a", s, {"acc": v}, params=_layers(5), spec=spec)
        for s, v in ((0, 0.1), (1, 0.2), (5, 0.6))
    ]
    (acc,) = build_tables(records, ["acc"])
    assert acc.rows == ["a"]
    assert acc.cells["a"]["digits:s→t"].values == [10.0, 20.0, 60.0]


def test_list_parameters_that_differ_beside_the_seed_name_their_rows():
    records = [
        _rec("a", s, {"acc": v}, params=_layers(s, w))
        for s in (0, 1)
        for w, v in ((1, 0.1), (2, 0.2))
    ]
    (acc,) = build_tables(records, ["acc"])
    row = 'a (layers=[{{"object": "m.L", "params": {{"w": {}}}}}])'
    assert acc.rows == [row.format(1), row.format(2)]
    assert acc.cells[row.format(2)]["digits:s→t"].values == [20.0, 20.0]


def test_a_run_without_the_telling_parameter_is_named_without_it():
    records = [
        _rec("a", 0, {"acc": 0.1}, params={"lr": 0.1}),
        _rec("a", 0, {"acc": 0.3}, params={}),
    ]
    (acc,) = build_tables(records, ["acc"])
    assert to_markdown(acc).splitlines()[-2:] == ["| a (lr=0.1) | 10.0 |", "| a | **30.0** |"]


def test_records_without_a_metric_have_no_row_in_its_tables():
    # b has no NMI: the NMI table and its oracle table hold a alone, each grid point's
    # score and the best point's
    records = [
        _rec("a", 0, {"acc": 0.1, "nmi": 0.2}, grid={"lr": 1}),
        _rec("a", 0, {"acc": 0.3, "nmi": 0.4}, grid={"lr": 2}),
        _rec("b", 0, {"acc": 0.5}, grid={"lr": 1}),
        _rec("b", 0, {"acc": 0.7}, grid={"lr": 2}),
    ]
    acc, nmi = build_tables(records, ["acc", "nmi"])
    assert acc.rows == ["a [lr=1]", "a [lr=2]", "b [lr=1]", "b [lr=2]"]
    assert nmi.rows == ["a [lr=1]", "a [lr=2]"]
    assert [nmi.cells[r]["digits:s→t"].mean for r in nmi.rows] == [20.0, 40.0]
    oracle_acc, oracle_nmi = oracle_tables(records, [acc, nmi])
    assert oracle_acc.rows == ["a (oracle)", "b (oracle)"]
    assert oracle_nmi.rows == ["a (oracle)"]
    assert oracle_nmi.cells["a (oracle)"]["digits:s→t"].mean == 40.0


def test_a_row_missing_a_column_has_no_mean():
    records = [
        _rec("a", 0, {"acc": 0.1}, target="t1"),
        _rec("a", 0, {"acc": 0.3}, target="t2"),
        _rec("b", 0, {"acc": 0.5}, target="t1"),
    ]
    (acc,) = build_tables(records, ["acc"])
    assert to_markdown(acc).splitlines()[-2:] == [
        "| a | 10.0 | **30.0** | **20.0** |",
        "| b | **50.0** | – | – |",
    ]
