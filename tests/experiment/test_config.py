"""Experiment configs: schema errors name the culprit, overrides, grid expansion, run ids."""

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from dtc.experiment.config import expand, load_config, parse_overrides

BASE = {
    "name": "t",
    "benchmarks": [{"benchmark": "digits", "data": {"shift": 0.5}}],
    "methods": {
        "km": {"method": "kmeans", "params": {"n_init": 1}, "grid": {"max_iter": [10, 20]}}
    },
    "seeds": [0, 1, 2],
}


def _with(**changes):
    return {**BASE, **changes}


def test_expansion_is_methods_x_grid_x_pairs_x_seeds():
    cfg = load_config(
        _with(
            benchmarks=[{"benchmark": "digits", "grid": {"shift": [0.2, 0.8]}}],
            methods={**BASE["methods"], "sp": {"method": "spectral"}},
        )
    )
    tasks = expand(cfg)
    # km: 2 grid points x 2 data points x 3 seeds; sp: 1 x 2 x 3
    assert len(tasks) == 12 + 6
    assert len({t.run_id for t in tasks}) == len(tasks)
    first = tasks[0]
    assert first.label == "km" and first.spec.params == {"n_init": 1, "max_iter": 10}
    assert first.spec.data_params == {"shift": 0.2} and first.grid == {"max_iter": 10}
    assert {t.spec.seed for t in tasks} == {0, 1, 2}


def test_run_id_is_stable_and_depends_on_config_and_seed():
    a = [t.run_id for t in expand(load_config(BASE))]
    assert a == [t.run_id for t in expand(load_config(BASE))]
    b = [t.run_id for t in expand(load_config(BASE, ["methods.km.n_init=2"]))]
    assert not set(a) & set(b)


def test_pairs_all_resolve_to_every_ordered_pair():
    cfg = load_config(_with(benchmarks=[{"benchmark": "mnist_usps", "pairs": "all"}]))
    assert cfg.raw["benchmarks"][0]["pairs"] == [["mnist", "usps"], ["usps", "mnist"]]


def test_overrides_seeds_and_method_param_shorthand():
    cfg = load_config(BASE, ["seeds=[0,1]", "methods.km.max_iter=5", "name=other"])
    assert cfg.raw["seeds"] == [0, 1] and cfg.name == "other"
    # a fixed value replaces the grid over that parameter
    assert cfg.raw["methods"]["km"]["grid"] == {}
    assert cfg.raw["methods"]["km"]["params"] == {"n_init": 1, "max_iter": 5}
    assert len(expand(cfg)) == 2
    cfg = load_config(BASE, ["benchmarks.0.data.shift=0.9"])
    assert cfg.raw["benchmarks"][0]["data"] == {"shift": 0.9}


def test_a_parameter_both_fixed_and_swept_is_an_error():
    """A value in params (or a benchmark's data) that its grid also sweeps would be
    overridden by the grid in every run: refused, naming the key."""
    both = {"method": "kmeans", "params": {"max_iter": 5}, "grid": {"max_iter": [10, 20]}}
    with pytest.raises(ValueError, match="methods.km: 'max_iter' is in both params and grid"):
        load_config(_with(methods={"km": both}))
    bench = {"benchmark": "digits", "data": {"shift": 0.3}, "grid": {"shift": [0.1, 0.2]}}
    with pytest.raises(ValueError, match=r"benchmarks\[0\]: 'shift' is in both data and grid"):
        load_config(_with(benchmarks=[bench]))


def test_an_override_of_a_fixed_value_replaces_the_grid_over_it():
    # spelled out (params.<key>) as the shorthand (methods.km.max_iter=5) has it
    cfg = load_config(BASE, ["methods.km.params.max_iter=5"])
    assert cfg.raw["methods"]["km"]["grid"] == {}
    assert {t.spec.params["max_iter"] for t in expand(cfg)} == {5}
    swept = {"benchmark": "digits", "grid": {"shift": [0.1, 0.2]}}
    cfg = load_config(_with(benchmarks=[swept]), ["benchmarks.0.data.shift=0.9"])
    assert cfg.raw["benchmarks"][0]["grid"] == {}
    assert {t.spec.data_params["shift"] for t in expand(cfg)} == {0.9}
    # and a grid given by an override replaces the fixed value it sweeps
    cfg = load_config(BASE, ["methods.km.grid.n_init=[1,2]"])
    assert cfg.raw["methods"]["km"]["params"] == {}
    assert {t.spec.params["n_init"] for t in expand(cfg)} == {1, 2}
    cfg = load_config(BASE, ["benchmarks.0.grid.shift=[0.1,0.2]"])
    assert cfg.raw["benchmarks"][0]["data"] == {}
    assert {t.spec.data_params["shift"] for t in expand(cfg)} == {0.1, 0.2}


def test_an_override_of_a_row_the_config_lacks_is_an_error_unless_it_names_the_method():
    for override in ("methods.kmeans.n_init=2", "methods.kmeans.params.n_init=2"):
        with pytest.raises(
            ValueError,
            match=r"override methods\.kmeans\.(params\.)?n_init: unknown method label "
            r"'kmeans'; labels: km \(a new row needs methods\.kmeans\.method=<method>\)",
        ):
            load_config(BASE, [override])
    # a new row, explicitly
    cfg = load_config(BASE, ["methods.sp.method=spectral", "methods.sp.n_neighbors=5"])
    assert list(cfg.raw["methods"]) == ["km", "sp"]
    assert cfg.raw["methods"]["sp"]["params"] == {"n_neighbors": 5}


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"method": "kmeans", "params": {"seed": 5}}, r"methods\.km\.params"),
        ({"method": "kmeans", "grid": {"seed": [1, 2]}}, r"methods\.km\.grid"),
        (
            {"method": "kmeans", "benchmark_params": {"digits": {"random_state": 1}}},
            r"methods\.km\.benchmark_params\.digits",
        ),
    ],
)
def test_a_methods_seed_is_refused_in_favour_of_seeds(entry, where):
    # The run's seed would silently replace it.
    with pytest.raises(
        ValueError, match=where + r": '(seed|random_state)' is set to each run's seed"
    ):
        load_config(_with(methods={"km": entry}))
    with pytest.raises(ValueError, match=r"budget: 'seed' .* top-level `seeds:`"):
        load_config(_with(budget={"seed": 3}))


@pytest.mark.parametrize(
    ("bench", "message"),
    [
        ({"data": {"shift": "big"}}, "shift must be a number in"),
        ({"grid": {"shift": [0.5, 1.5]}}, r"\{'shift': 1\.5\}: .*shift must be in"),
        ({"data": {"source_fraction": 1.0}}, "source_fraction must be"),
        (
            {"data": {"imbalance_profile": "exponental", "imbalance_ratio": 10}},
            "profile: expected one of",
        ),
        ({"grid": {"imbalance_ratio": [5, 0.5]}}, r"ratio: expected .* >= 1, got 0\.5"),
        ({"data": {"imbalance_profile": "step"}}, r"\['imbalance_profile'\] need imbalance_ratio"),
        # a negative seed passed here and then failed every run in numpy, unnamed
        (
            {"grid": {"imbalance_ratio": [1, 10], "imbalance_seed": [-1]}},
            "imbalance_seed: expected an int >= 0, got -1",
        ),
    ],
)
def test_data_values_are_checked_at_load_time(bench, message):
    with pytest.raises(ValueError, match=r"benchmarks\[0\] with data .*" + message):
        load_config(_with(benchmarks=[{"benchmark": "digits", **bench}]))


def test_a_methods_data_values_are_checked_with_each_benchmark():
    entry = {"method": "kmeans", "data": {"imbalance_ratio": "ten"}}
    # blamed on the method's data, not on the benchmark entry (which was fine)
    where = r"methods\.km\.data on benchmarks\[0\] with data .*"
    with pytest.raises(ValueError, match=where + "ratio: expected a number >= 1, got 'ten'"):
        load_config(_with(methods={"km": entry}))
    entry = {"method": "kmeans", "data": {"shift": "big"}}
    with pytest.raises(ValueError, match=where + "shift must be a number in"):
        load_config(_with(methods={"km": entry}))


@pytest.mark.parametrize(
    ("entry", "overrides", "message"),
    [
        ({"method": "dtc"}, ["methods.d.lam=[0.1,0.2]"], r"methods\.d on digits: DTC: lam must"),
        (
            {"method": "dtc", "grid": {"lam": [0.5, "big"]}},
            [],
            r"methods\.d at grid point \{'lam': 'big'\} on digits: DTC: lam must be a number",
        ),
        # checked with the other values of its run (epochs per round)
        (
            {"method": "dtc", "params": {"self_training_rounds": 2, "self_training_epochs": 0}},
            [],
            "self_training_rounds=2 needs self_training_epochs >= 1",
        ),
        ({"method": "idec", "params": {"tol": "x"}}, [], "IDEC: tol"),
        # a grid over losses sharing a loss_params that one of them does not take
        (
            {
                "method": "dtc",
                "params": {"loss_params": {"sigmas": [1.0]}},
                "grid": {"loss": ["mmd", "coral"]},
            },
            [],
            r"grid point \{'loss': 'coral'\} on digits: DTC: loss_params do not fit loss "
            r"'coral': got an unexpected keyword argument 'sigmas'",
        ),
        (
            {"method": "dtc", "params": {"loss": None, "loss_params": {"sigmas": [1.0]}}},
            [],
            r"loss_params apply to a loss given by name; got loss=None \(no alignment\)",
        ),
    ],
)
def test_method_values_are_checked_at_load_time_by_the_methods_check(entry, overrides, message):
    """A wrongly typed value is one error when the config loads, not a failed run each."""
    with pytest.raises(ValueError, match=message):
        load_config(_with(methods={"d": entry}), overrides)


def test_a_baselines_wrong_value_fails_at_load_not_in_each_run():
    """Every baseline checks its data-free values in ``check_params`` (not only DTC, DEC
    and IDEC): ``n_init: 0`` is one error naming the row and the value."""
    entry = {"method": "kmeans", "params": {"n_init": 0}}
    with pytest.raises(
        ValueError,
        match=r"^config: methods\.KM on digits: TargetKMeans: n_init must be an int >= 1, got 0$",
    ):
        load_config(_with(methods={"KM": entry}))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"method": "spectral", "grid": {"n_neighbors": [5, 0]}}, "TargetSpectral: n_neighbors"),
        ({"method": "coral", "params": {"direction": "both"}}, "CORAL: direction must be one"),
        ({"method": "ot_sinkhorn", "params": {"reg_e": 0}}, "OTSinkhorn: reg_e must be"),
        ({"method": "gmm", "params": {"n_clusters": 0}}, "TargetGMM: n_clusters must be"),
        (
            {"method": "ensemble", "params": {"members": ["kmeans", "gmm"], "n_member_seeds": 1}},
            None,
        ),
    ],
)
def test_baseline_values_are_checked_at_load_time(entry, message):
    if message is None:  # valid values load
        load_config(_with(methods={"b": entry}))
        return
    with pytest.raises(ValueError, match=r"^config: methods\.b.* on digits: " + message):
        load_config(_with(methods={"b": entry}))


def test_the_imbalance_metric_set_names_what_evaluate_adds():
    from dtc.experiment.config import EXTRA_METRICS
    from dtc.metrics import evaluate

    y = [0, 0, 1, 1]
    added = set(evaluate(y, y, imbalance=True)) - set(evaluate(y, y))
    assert set(EXTRA_METRICS["imbalance"]) == added


def test_budget_applies_to_methods_having_the_parameter():
    cfg = load_config(
        _with(
            methods={"km": {"method": "kmeans"}, "sp": {"method": "spectral"}}, budget={"n_init": 2}
        )
    )
    assert cfg.raw["methods"]["km"]["budget"] == {"n_init": 2}
    assert cfg.raw["methods"]["sp"]["budget"] == {}
    params = {t.label: t.spec.params for t in expand(cfg)}
    assert params == {"km": {"n_init": 2}, "sp": {}}


def test_budget_values_are_checked_like_params():
    """A budget applies to every method with the parameter: its loss names and objects are
    checked at load time as a method's params are."""
    dtc_row = {"d": {"method": "dtc"}}
    with pytest.raises(ValueError, match="budget.loss: unknown loss 'mdd'; available: .*mmd"):
        load_config(_with(methods=dtc_row, budget={"loss": "mdd"}))
    bad = {"callbacks": [{"object": "no_such_module:X"}]}
    with pytest.raises(ValueError, match="budget.callbacks: could not import object"):
        load_config(_with(methods=dtc_row, budget=bad))
    assert load_config(_with(methods=dtc_row, budget={"loss": "coral"}))


def test_benchmark_params_are_a_benchmarks_defaults_below_params_and_grid():
    cfg = load_config(
        _with(
            benchmarks=[{"benchmark": "digits"}, {"benchmark": "coil20", "pairs": "default"}],
            methods={
                "km": {
                    "method": "kmeans",
                    "params": {"max_iter": 7},
                    "benchmark_params": {"coil20": {"n_init": 4, "max_iter": 9}},
                    "grid": {"n_clusters": [5]},
                }
            },
            budget={"n_init": 2},
            seeds=[0],
        )
    )
    params = {t.spec.benchmark: t.spec.params for t in expand(cfg)}
    assert params["digits"] == {"n_init": 2, "max_iter": 7, "n_clusters": 5}
    # budget < benchmark_params < params < grid
    assert params["coil20"] == {"n_init": 4, "max_iter": 7, "n_clusters": 5}
    for entry, message in [
        ({"nope": {"n_init": 1}}, "benchmark_params: unknown benchmark 'nope'"),
        ({"coil20": {"n_inits": 1}}, "unknown parameter 'n_inits' of method 'kmeans'"),
        ({"coil20": 3}, "benchmark_params.coil20: expected a mapping"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_config(_with(methods={"km": {"method": "kmeans", "benchmark_params": entry}}))


@pytest.mark.parametrize(
    ("changes", "overrides", "message"),
    [
        ({"colour": 1}, [], "unknown key 'colour'"),
        ({"methods": {"x": {"method": "nope"}}}, [], "unknown method 'nope'; available: .*kmeans"),
        ({}, ["methods.km.n_inits=3"], "unknown parameter 'n_inits' of method 'kmeans'"),
        ({"methods": {"km": {"method": "kmeans", "lr": 1}}}, [], r"methods.km: unknown key 'lr'"),
        ({"seeds": "zero"}, [], "seeds: expected an int or a list of ints"),
        ({"seeds": [0, 0]}, [], "duplicated seeds"),
        ({"benchmarks": [{"benchmark": "mnist"}]}, [], "unknown benchmark 'mnist'"),
        (
            {"benchmarks": [{"benchmark": "mnist_usps", "pairs": [["usps", "coil1"]]}]},
            [],
            r"pairs\[0\]",
        ),
        (
            {"benchmarks": [{"benchmark": "digits", "data": {"shfit": 1}}]},
            [],
            "unknown data parameter 'shfit'",
        ),
        (
            {"benchmarks": [{"benchmark": "digits", "data": {"preprocess": "pca"}}]},
            [],
            "unknown preprocess 'pca'",
        ),
        (
            {"methods": {"km": {"method": "kmeans", "grid": {"n_init": 3}}}},
            [],
            r"grid.n_init: expected a non-empty list",
        ),
        ({"metrics": ["speed"]}, [], "unknown metric set 'speed'"),
        ({"budget": {"epochs": 3}}, [], "budget: parameter 'epochs'"),
        ({}, ["seeds"], "expected key=value"),
        ({}, ["benchmarks.3.data.shift=1"], "expected an index in 0..0"),
        ({}, ["seeds=[0, 1"], "override 'seeds=\\[0, 1': value is not valid YAML"),
        ({}, ["name.x=1"], "override name.x: .* is not a mapping or a list"),
        ({"seeds": 0}, [], "seeds: expected a positive int or a list of ints, got 0"),
        ({"seeds": []}, [], "seeds: expected at least one seed"),
        ({"seeds": [0, 1.5]}, [], "seeds: expected ints, got 1.5"),
        ({"seeds": [-1]}, [], r"seeds: expected ints in \[0, 2\*\*32 - 1\], got -1"),
        ({"seeds": [2**32]}, [], r"seeds: expected ints in \[0, 2\*\*32 - 1\], got 4294967296"),
        ({"seeds": 10**11}, [], "seeds: expected a positive int .* got 100000000000"),
        ({"seeds": True}, [], "seeds: expected an int or a list of ints, got True"),
        # named once ("config: config: missing ..." before)
        ({"methods": {}}, [], "^config: missing or empty key 'methods'"),
        ({"name": ""}, [], r"name: expected a folder name .*got ''"),
        ({"name": "../escaped"}, [], r"name: expected a folder name .*got '../escaped'"),
        ({"name": "/abs"}, [], r"name: expected a folder name"),
        ({"name": ".."}, [], r"name: expected a folder name"),
        ({}, ["name=a\\b"], r"name: expected a folder name"),
        (
            {"benchmarks": [{"benchmark": "digits", "pairs": []}]},
            [],
            r"benchmarks\[0\].pairs: expected at least one \[source, target\], got \[\]",
        ),
    ],
)
def test_bad_configs_name_the_problem(changes, overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config(_with(**changes), overrides)


def test_unknown_loss_is_rejected_at_load_time(monkeypatch):
    from dtc import methods
    from dtc.methods import TransferClusterer

    class WithLoss(TransferClusterer):
        def __init__(self, loss="mmd"):
            self.loss = loss

    monkeypatch.setattr(methods, "get_class", lambda name: WithLoss)
    with pytest.raises(
        ValueError, match="methods.m.params.loss: unknown loss 'mdd'; available: .*mmd"
    ):
        load_config(_with(methods={"m": {"method": "x", "params": {"loss": "mdd"}}}))
    assert load_config(_with(methods={"m": {"method": "x", "params": {"loss": "coral"}}}))


def test_yaml_file_and_name_default(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("benchmarks: [digits]\nmethods: {kmeans: }\n")
    cfg = load_config(path)
    assert cfg.name == "mine" and cfg.raw["seeds"] == [0]
    path.write_text("- a list\n")
    with pytest.raises(ValueError, match="expected a mapping at the top level"):
        load_config(path)
    with pytest.raises(FileNotFoundError, match="absent.yaml"):
        load_config(tmp_path / "absent.yaml")
    path.write_text("methods: {kmeans: [\n")
    with pytest.raises(ValueError, match="mine.yaml: not valid YAML"):
        load_config(path)


def test_description_is_a_string(tmp_path):
    # a list or a mapping was kept as it was, and an override description.x=1 made one
    path = tmp_path / "mine.yaml"
    path.write_text("description: [1, 2]\nbenchmarks: [digits]\nmethods: {kmeans: }\n")
    with pytest.raises(ValueError, match="description: expected a string, got list"):
        load_config(path)
    path.write_text("description: mine\nbenchmarks: [digits]\nmethods: {kmeans: }\n")
    assert load_config(path).raw["description"] == "mine"
    with pytest.raises(ValueError, match="description"):
        load_config(path, ["description.x=1"])


def test_yaml_file_refuses_a_key_given_twice(tmp_path):
    """A row copied under its old label, or a second ``seeds:``, is an error naming the key
    and its line: yaml.safe_load kept the last one, dropping the other without a word."""
    path = tmp_path / "twice.yaml"
    rows = "  km: {method: kmeans, params: {n_init: 2}}\n  km: {method: kmeans}\n"
    path.write_text(f"benchmarks: [digits]\nmethods:\n{rows}seeds: 2\n")
    with pytest.raises(
        ValueError, match=r"(?s)twice.yaml: not valid YAML \(duplicate key 'km'.*line 4"
    ):
        load_config(path)
    path.write_text("benchmarks: [digits]\nmethods: {kmeans: }\nseeds: 1\nseeds: 3\n")
    with pytest.raises(ValueError, match="duplicate key 'seeds'"):
        load_config(path)
    # merge keys are not duplicates; the same key in two mappings is no clash
    path.write_text(
        "benchmarks: [digits]\nbase: &b {n_init: 2}\nmethods:\n"
        "  a: {method: kmeans, params: {<<: *b, max_iter: 5}}\n  b: {method: kmeans, params: *b}\n"
    )
    with pytest.raises(ValueError, match="unknown key 'base'"):  # only the anchor's key
        load_config(path)


def test_a_key_written_beside_a_merge_overrides_the_merged_one(tmp_path):
    # The merge-key spec (and yaml.safe_load): the mapping's own key wins. It was refused
    # as "not valid YAML (duplicate key 'params')".
    path = tmp_path / "merge.yaml"
    path.write_text(
        "benchmarks: [digits]\nseeds: [0]\nmethods:\n"
        "  KM: &km {method: kmeans, params: &p {n_init: 2, max_iter: 50}}\n"
        "  KM-long: {<<: *km, params: {n_init: 10}}\n"
        "  KM-5: {method: kmeans, params: {<<: *p, n_init: 5}}\n"
    )
    params = {t.label: t.spec.params for t in expand(load_config(path))}
    assert params == {
        "KM": {"n_init": 2, "max_iter": 50},
        "KM-long": {"n_init": 10},
        "KM-5": {"n_init": 5, "max_iter": 50},
    }
    path.write_text("benchmarks: [digits]\nmethods: {a: {<<: {x: 1}, seeds: 1, seeds: 2}}\n")
    with pytest.raises(ValueError, match="duplicate key 'seeds'"):  # its own keys still count
        load_config(path)


def test_parse_overrides_types():
    assert parse_overrides(["a=1", "b=false", "c.d=[1, 2]", "e=x", "f="]) == [
        (["a"], 1),
        (["b"], False),
        (["c", "d"], [1, 2]),
        (["e"], "x"),
        (["f"], None),
    ]


def test_exponent_notation_is_a_float_in_files_and_overrides(tmp_path):
    """YAML 1.1 (PyYAML) read 1e-4 as the string '1e-4', and every method refused it
    ("reg_covar must be a number >= 0, got '1e-4'"), on the command line and in files."""
    assert parse_overrides(["a=1e-3", "b=1E5", "c=-2.5e+1", "d=.5e1", "e=1e", "f=e5"]) == [
        (["a"], 0.001),
        (["b"], 100000.0),
        (["c"], -25.0),
        (["d"], 5.0),
        (["e"], "1e"),
        (["f"], "e5"),
    ]
    path = tmp_path / "gmm.yaml"
    path.write_text(
        "benchmarks: [digits]\nmethods:\n  g: {method: gmm, params: {reg_covar: 1e-4}}\n"
    )
    assert load_config(path).raw["methods"]["g"]["params"] == {"reg_covar": 1e-4}
    cfg = load_config(path, ["methods.g.grid.reg_covar=[1e-3, 1e-2]"])
    assert cfg.raw["methods"]["g"]["grid"] == {"reg_covar": [1e-3, 1e-2]}


def test_integers_are_read_as_python_reads_them_not_as_yaml_1_1(tmp_path):
    # YAML 1.1 read "010" as octal 8 and "1:30" as 90 (base 60): batch_size: 010 ran with 8,
    # and seeds: [08, 09, 010] was two strings and an 8.
    got = parse_overrides(["a=010", "b=[08, 09, 010]", "c=1:30", "d=0o10", "e=-0x1F", "f=1_000"])
    assert [v for _, v in got] == [10, [8, 9, 10], "1:30", 8, -31, 1000]
    # floats, infinities, booleans and null as before; base 60 (1:30.5 was 90.5) is text
    got = parse_overrides(["a=1.5", "b=1.", "c=-.inf", "d=1:30.5", "e=true", "f=~", "g=7"])
    assert [v for _, v in got] == [1.5, 1.0, float("-inf"), "1:30.5", True, None, 7]
    assert all(type(v) is int for v in (got[-1][1], parse_overrides(["a=010"])[0][1]))
    with pytest.raises(ValueError, match="expected an integer, got '1:30'"):
        parse_overrides(["a=!!int 1:30"])
    path = tmp_path / "km.yaml"
    path.write_text(
        "benchmarks: [digits]\nseeds: [08, 010]\nmethods:\n  kmeans: {params: {n_init: 010}}\n"
    )
    cfg = load_config(path)
    assert (cfg.raw["seeds"], cfg.raw["methods"]["kmeans"]["params"]) == ([8, 10], {"n_init": 10})


def test_parse_overrides_refuses_a_string():
    # iterated, it was split into characters: "override 's': expected key=value"
    with pytest.raises(ValueError, match="overrides: expected a list of key=value strings"):
        parse_overrides("seeds=[0]")


def test_shipped_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "experiments"
    paths = sorted(root.rglob("*.yaml"))
    assert paths, "no configs shipped"
    for path in paths:
        assert expand(load_config(path)), path


def test_object_params_are_built_and_checked():
    from dtc.experiment.single import build_objects

    built = build_objects(
        {"cb": [{"object": "fractions:Fraction", "params": {"numerator": 3}}], "x": 1}
    )
    assert built["cb"][0] == 3 and built["x"] == 1
    bad = {"object": "fractions:Nope"}
    with pytest.raises(
        ValueError, match=r"methods.km.params.n_init: could not import object 'fractions:Nope'"
    ):
        load_config(BASE, [f"methods.km.n_init={bad}".replace("'", "")])


def test_objects_a_config_builds_take_the_runs_seed_unless_given_one():
    # a loss built as an object (swd's projections, cdan's randomized map) kept its own
    # default seed 0 at every seed of a sweep, where the same loss named by DTC's `loss`
    # follows the fit's seed
    from dtc.experiment.single import RunSpec, build_objects, configured_method, describe_params

    swd = {"object": "dtc.align.ot:SlicedWassersteinLoss", "params": {"n_projections": 8}}
    assert build_objects(swd).seed == 0  # no run: the class's own default
    assert build_objects(swd, seed=3).seed == 3
    given = {**swd, "params": {"seed": 5}}
    assert build_objects({"loss": [given]}, seed=3)["loss"][0].seed == 5
    # a default of None is the object's own choice, left to it: the monitor follows the
    # estimator's seed (given the run's, a seed near 2**32 - 1 was refused, and its
    # description differed by seed), scikit-learn's random_state=None draws afresh
    km = {"object": "sklearn.cluster:KMeans", "params": {"n_clusters": 2}}
    assert build_objects(km, seed=4).random_state is None
    monitor = {"object": "dtc.monitor:NegativeTransferMonitor", "params": {}}
    assert build_objects(monitor, seed=2**32 - 1).seed is None
    assert build_objects({"object": "fractions:Fraction", "params": {"numerator": 3}}, seed=4) == 3
    for seed in (0, 3):
        spec = RunSpec("dtc", seed=seed, params={"loss": swd})
        assert configured_method(spec).loss.seed == seed
        # a run only described (to check a finished one) describes what the run built
        fitted = describe_params(configured_method(spec))
        assert describe_params(configured_method(spec, seeded=False)) == fitted
        assert fitted["loss"]["params"]["seed"] == seed


def test_method_data_params_apply_to_that_method_only():
    cfg = load_config(
        _with(
            methods={
                "km": {"method": "kmeans", "data": {"preprocess": "raw"}},
                "sp": {"method": "spectral"},
            }
        )
    )
    by_label = {t.label: t.spec.data_params for t in expand(cfg)}
    # the base config's shift 0.5 is the digits' default: left out, as if not written
    assert by_label == {"km": {"preprocess": "raw"}, "sp": {}}
    with pytest.raises(ValueError, match="methods.km.data: unknown data parameter 'shfit'"):
        load_config(_with(methods={"km": {"method": "kmeans", "data": {"shfit": 1}}}))


def test_resolved_params_describe_objects_the_way_configs_build_them():
    import numpy as np

    from dtc.experiment.single import RunSpec, build_objects, configured_method, describe_params

    monitor = {
        "object": "dtc.monitor:NegativeTransferMonitor",
        "params": {"policy": "rollback", "every": 5},
    }
    spec = RunSpec("dtc", seed=3, params={"callbacks": [monitor], "hidden": (16, 8)})
    described = describe_params(configured_method(spec))
    assert described["seed"] == 3 and described["hidden"] == [16, 8]
    (cb,) = described["callbacks"]
    assert cb["object"] == "dtc.monitor.negative_transfer:NegativeTransferMonitor"
    assert cb["params"]["policy"] == "rollback" and cb["params"]["every"] == 5
    assert cb["params"]["calibrate"] is True  # the defaults are spelled out too
    # the description builds the same monitor again, and describes identically
    again = RunSpec("dtc", seed=3, params=build_objects({"callbacks": [cb], "hidden": [16, 8]}))
    assert describe_params(configured_method(again)) == described
    # plain data only: numpy values become Python ones
    km = describe_params(configured_method(RunSpec("kmeans", params={"max_iter": np.int64(7)})))
    assert km["max_iter"] == 7 and type(km["max_iter"]) is int
    # An argument the object does not keep under its name was dropped: the record read as an
    # MMD built without its scales. And a set was an object "builtins:set" with no items.
    mmd = {"object": "dtc.align.mmd:MMDLoss", "params": {"scales": [0.05]}}
    described = describe_params(configured_method(RunSpec("dtc", params={"loss": mmd})))
    assert "scales" in described["loss"]["unreadable"]
    assert "unreadable" not in cb  # every argument of the monitor is read back
    assert describe_params(SimpleNamespace(get_params=lambda deep: {"drop": {10, 2}})) == {
        "drop": [2, 10]
    }


def test_objects_a_run_builds_draw_from_the_runs_seed():
    # Built from the process's global RNG: the same record's run (a DANN loss given as an
    # object, whose discriminator is drawn at construction) gave another result in
    # another order of runs.
    import torch

    from dtc.experiment.single import RunSpec, configured_method

    dann = {"object": "dtc.align.dann:DANNLoss", "params": {}}
    spec = RunSpec("dtc", seed=3, params={"loss": dann})
    weights = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        state = torch.get_rng_state()
        loss = configured_method(spec).loss
        weights.append(loss.discriminator.net[2].weight.detach().clone())
        assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG as it was
    assert torch.equal(*weights)
    # only described or checked (seeded=False): not seeded, the caller's RNG as it was
    state = torch.get_rng_state()
    configured_method(spec, seeded=False)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    ("label", "setting"), [("DTC", "labelled"), ("DTC (no source labels)", "unlabelled")]
)
def test_paper_dtc_rows_run_every_familys_documented_default(label, setting):
    # Table 1's DTC rows run the per-family defaults of dtc.pipeline.FAMILY_CONFIGS (budget
    # aside), which the runner applies before a row's own params.
    from pathlib import Path

    from dtc.experiment.single import configured_method
    from dtc.pipeline import FAMILY_CONFIGS

    path = Path(__file__).resolve().parents[2] / "experiments" / "paper" / "table1.yaml"
    cfg = load_config(path)
    budget = set(cfg.raw["budget"]) | {"batch_size"}
    seen = set()
    for task in expand(cfg):
        if task.label != label:
            continue
        family = FAMILY_CONFIGS[task.spec.benchmark][setting]
        resolved = configured_method(task.spec).get_params()
        assert {k: resolved[k] for k in family if k not in budget} == {
            k: v for k, v in family.items() if k not in budget
        }, task.spec.benchmark
        seen.add(task.spec.benchmark)
    assert seen == set(FAMILY_CONFIGS)


@pytest.mark.parametrize("label", ["AE + K-means", "Source AE + K-means", "DEC", "IDEC"])
def test_paper_autoencoder_rows_train_as_long_as_their_defaults(label):
    # Table 1 holds DTC to its epoch budget but not the autoencoder baselines: they run at
    # their own (documented) pretraining length, whatever the budget says.
    from pathlib import Path

    from baselines.autoencoder import PRETRAIN_EPOCHS
    from dtc import methods
    from dtc.experiment.single import configured_method

    path = Path(__file__).resolve().parents[2] / "experiments" / "paper" / "table1.yaml"
    tasks = [t for t in expand(load_config(path)) if t.label == label]
    assert len(tasks) == 54  # 18 pairs x 3 seeds
    defaults = methods.get(tasks[0].spec.method).get_params()
    for task in tasks:
        resolved = configured_method(task.spec).get_params()
        for key in ("epochs", "pretrain_epochs", "max_epochs"):
            if key in defaults:
                assert resolved[key] == defaults[key], (task.spec.benchmark, key)
        assert resolved.get("epochs", resolved.get("pretrain_epochs")) == PRETRAIN_EPOCHS == 200


def test_runs_start_from_the_methods_documented_benchmark_defaults():
    from dtc.experiment.single import RunSpec, configured_method
    from dtc.pipeline import family_config

    coil = configured_method(RunSpec("dtc", benchmark="coil20", params={"adapt_epochs": 3}))
    assert coil.final_labels == "head_spread" and coil.std_floor_quantile is None
    assert coil.adapt_epochs == 3  # the run's params win; epochs are never a family default
    unl = configured_method(RunSpec("dtc", benchmark="coil20", params={"use_source_labels": False}))
    assert {k: unl.get_params()[k] for k in ("clusterer", "n_latent", "spherical")} == {
        k: family_config("coil20", "unlabelled")[k] for k in ("clusterer", "n_latent", "spherical")
    }
    mine = configured_method(RunSpec("dtc", benchmark="coil20", params={"final_labels": "head"}))
    assert mine.final_labels == "head"
    digits = configured_method(RunSpec("dtc", benchmark="digits"))
    assert digits.final_labels == "head_clusters"  # the digits family default is DTC()'s
    km = configured_method(RunSpec("kmeans", benchmark="coil20"))
    assert km.benchmark_defaults("coil20", {}) == {}


def test_a_spec_may_not_set_its_seed_in_its_params():
    from dtc.experiment.single import RunSpec, configured_method

    # the seed would be overwritten by RunSpec.seed, while the spec recorded says otherwise
    with pytest.raises(ValueError, match=r"RunSpec.params: 'random_state' .* RunSpec.seed"):
        configured_method(RunSpec("kmeans", seed=0, params={"random_state": 5}))


def test_a_run_record_says_what_the_monitor_concluded():
    from dtc.data import load_pair
    from dtc.experiment.single import RunSpec, build_objects, fit_evaluate

    monitor = {"object": "dtc.monitor:NegativeTransferMonitor", "params": {"policy": "rollback"}}
    budget = {"pretrain_epochs": 2, "adapt_epochs": 2, "hidden": [32, 16]}
    params = build_objects({"callbacks": [monitor], **budget})
    pair = load_pair("digits")
    record, fitted = fit_evaluate(RunSpec("dtc", params=params), pair)
    verdict = record["monitor"]
    assert verdict["negative_transfer"] == fitted.negative_transfer_
    assert verdict["fell_back_to_reference"] == fitted.fell_back_to_reference_
    assert verdict["decisions"] == [e["decision"] for e in fitted.monitor_trail_]
    assert verdict["reason"] == fitted.monitor_trail_[-1]["reason"]
    json.dumps(verdict)  # plain data
    plain, _ = fit_evaluate(RunSpec("dtc", params=budget), pair)
    assert "monitor" not in plain


# -- the code of plugins registered by name, in run ids ----------------------------------
ONE_RUN = {"name": "t", "benchmarks": [{"benchmark": "digits"}], "seeds": [0]}


def _plugin(tmp_path, monkeypatch, name: str, source: str):
    """A user's module ``name`` (file, imported) of ``source`` (the ``user_plugin``
    fixture), dropped from sys.modules afterwards."""
    import importlib
    import sys

    path = tmp_path / f"{name}.py"
    path.write_text(source.format(clusters=2))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    monkeypatch.setitem(sys.modules, name, module)
    return path, module


def _sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _own_registrations(monkeypatch):
    """The method and loss registries' run-time names, restored after the test."""
    from dtc import methods
    from dtc.align import registry

    for reg in (methods._METHODS, registry._LOSSES):
        monkeypatch.setattr(reg, "_registered", dict(reg._registered))


def _codes(config) -> list[tuple[str, dict]]:
    return [(t.run_id, t.code) for t in expand(load_config(config))]


def test_a_method_registered_by_name_puts_its_files_hash_in_the_run_id(
    tmp_path, monkeypatch, user_plugin
):
    """Edited code under the same registered name is another run, as for "module:Class"
    (the runs of the old code would otherwise be kept as the new code's)."""
    from dtc import methods

    path, module = _plugin(tmp_path, monkeypatch, "dtc_named_method_plugin", user_plugin)
    _own_registrations(monkeypatch)
    methods.register("named_stripes", module.Stripes)
    config = {
        **ONE_RUN,
        "methods": {
            "s": {"method": "named_stripes"},
            "ens": {"method": "ensemble", "params": {"members": ["kmeans", "named_stripes"]}},
        },
    }
    key = "method named_stripes -> dtc_named_method_plugin:Stripes"
    before = _codes(config)
    assert [code for _, code in before] == [{key: _sha(path)}] * 2  # the row, a member
    path.write_text(user_plugin.format(clusters=3))
    after = _codes(config)
    assert [code for _, code in after] == [{key: _sha(path)}] * 2
    assert not {i for i, _ in before} & {i for i, _ in after}
    # the name registered to another class of the same file: another run too
    methods.register("named_stripes", module.Bands, overwrite=True)
    ((bands, code), _) = _codes(config)
    assert code == {"method named_stripes -> dtc_named_method_plugin:Bands": _sha(path)}
    assert bands != after[0][0]


def test_a_loss_registered_by_name_puts_its_files_hash_in_the_run_id(
    tmp_path, monkeypatch, user_plugin
):
    from dtc import align

    path, module = _plugin(tmp_path, monkeypatch, "dtc_named_loss_plugin", user_plugin)
    _own_registrations(monkeypatch)
    align.register("named_coral", module.MyCORAL)
    config = {
        **ONE_RUN,
        "methods": {"d": {"method": "dtc", "grid": {"loss": ["coral", "named_coral"]}}},
    }
    key = "loss named_coral -> dtc_named_loss_plugin:MyCORAL"
    (coral, before) = _codes(config)
    assert coral[1] == {} and before[1] == {key: _sha(path)}  # the built-in: nothing
    path.write_text(user_plugin.format(clusters=3))
    (coral_after, after) = _codes(config)
    assert coral_after == coral
    assert after[1] == {key: _sha(path)} and after[0] != before[0]


def test_a_class_a_package_imports_from_another_file_hashes_that_file(
    tmp_path, monkeypatch, user_plugin
):
    # "mypkg:Stripes" with Stripes defined in mypkg/impl.py: the hash was of
    # mypkg/__init__.py alone, so an edit of impl.py did not run its runs again
    import importlib
    import sys

    package = tmp_path / "dtc_reexport_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from dtc_reexport_pkg.impl import Stripes\n")
    impl = package / "impl.py"
    impl.write_text(user_plugin.format(clusters=2))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("dtc_reexport_pkg", "dtc_reexport_pkg.impl"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.import_module("dtc_reexport_pkg")
    config = {**ONE_RUN, "methods": {"s": {"method": "dtc_reexport_pkg:Stripes"}}}
    before = _codes(config)
    impl.write_text(user_plugin.format(clusters=3))
    for name in ("dtc_reexport_pkg", "dtc_reexport_pkg.impl"):
        del sys.modules[name]
    importlib.import_module("dtc_reexport_pkg")
    after = _codes(config)
    assert before[0][0] != after[0][0]  # another run id: the edited class runs again
    assert set(before[0][1]) == {"dtc_reexport_pkg:Stripes"}


def test_an_entry_points_name_puts_its_files_hash_in_the_run_id(tmp_path, monkeypatch, user_plugin):
    from importlib.metadata import EntryPoint, entry_points

    import dtc._plugins
    import dtc.experiment.config

    path, _ = _plugin(tmp_path, monkeypatch, "dtc_entry_point_plugin", user_plugin)
    extra = [
        EntryPoint("ep_stripes", "dtc_entry_point_plugin:Stripes", "dtc.methods"),
        EntryPoint("ep_coral", "dtc_entry_point_plugin:MyCORAL", "dtc.losses"),
        # an entry point cannot replace a built-in loss: the built-in's code is dtc's
        EntryPoint("coral", "dtc_entry_point_plugin:MyCORAL", "dtc.losses"),
    ]

    def with_extra(*, group):
        return [*entry_points(group=group), *(ep for ep in extra if ep.group == group)]

    monkeypatch.setattr(dtc._plugins, "entry_points", with_extra)
    monkeypatch.setattr(dtc.experiment.config, "entry_points", with_extra)
    config = {
        **ONE_RUN,
        "methods": {
            "s": {"method": "ep_stripes"},
            "d": {"method": "dtc", "grid": {"loss": ["ep_coral", "coral"]}},
        },
    }
    sha = _sha(path)
    # the built-in wins, with a warning
    with pytest.warns(RuntimeWarning, match="registered as 'coral' .dtc's built-in"):
        before = _codes(config)
    assert [code for _, code in before] == [
        {"method ep_stripes -> dtc_entry_point_plugin:Stripes": sha},
        {"loss ep_coral -> dtc_entry_point_plugin:MyCORAL": sha},
        {},
    ]
    path.write_text(user_plugin.format(clusters=3))
    with pytest.warns(RuntimeWarning, match="registered as 'coral'"):
        after = _codes(config)
    assert [i for i, _ in after][:2] != [i for i, _ in before][:2] and after[2] == before[2]


# Built-in methods and losses, named as configs name them: ids computed before registered
# names' code entered run ids. They must never change (finished runs would run again).
BUILT_IN = {
    "name": "pinned",
    "benchmarks": [{"benchmark": "digits"}],
    "methods": {
        "DTC": {
            "method": "dtc",
            "params": {"pretrain_epochs": 2, "lam_schedule": "dann", "clusterer": "kmeans"},
            "grid": {"loss": ["mmd", "coral", "dann", None]},
        },
        "K-means": {"method": "kmeans", "params": {"n_init": 2}},
        "ensemble": {"method": "ensemble", "params": {"members": ["kmeans", "gmm"]}},
    },
    "seeds": [0, 1],
}
BUILT_IN_IDS = [
    "6b98aa16d0d1db41",
    "04eb0bd28567fc2a",
    "a3e750ad55a7c741",
    "f5369cb9bd71c83b",
    "61ded61abd3b1150",
    "296fe0e56493b7e8",
    "52d0fb372f38ef1e",
    "301d8854649791a7",
    "fd636e44e762222b",
    "1deee4faaaf61068",
    "936f3169dcf3b8f4",
    "4f303308a9cd94db",
]


def test_built_in_methods_and_losses_keep_their_run_ids():
    from dtc import align, methods
    from dtc.experiment.config import plugin_code

    assert _codes(BUILT_IN) == [(i, {}) for i in BUILT_IN_IDS]
    for registry in (methods._METHODS, align.registry._LOSSES):
        for name in registry.available():
            if registry.get_class(name).__module__.partition(".")[0] in ("dtc", "baselines"):
                assert plugin_code(name, {"loss": name, "members": [name]}) == {}, name


def test_expansion_order_is_row_grid_benchmark_pair_data_grid_seed():
    """The product's order is the results file's and the report's row order."""
    cfg = load_config(
        _with(
            benchmarks=[
                {"benchmark": "digits", "data": {"shift": 0.2}},
                {"benchmark": "digits", "grid": {"shift": [0.4, 0.6]}},
            ],
            seeds=[0, 1],
        )
    )
    got = [(t.grid["max_iter"], t.spec.data_params["shift"], t.spec.seed) for t in expand(cfg)]
    assert got == [(m, s, seed) for m in (10, 20) for s in (0.2, 0.4, 0.6) for seed in (0, 1)]


#: A user's method defined where there is no file (a notebook cell, ``python -c``).
FILELESS = """
import numpy as np

from dtc.methods import TransferClusterer


class Cells(TransferClusterer):
    def __init__(self, n_clusters=None, seed={seed}):
        self.n_clusters = n_clusters
        self.seed = seed

    def _fit(self, pair):
        self.labels_ = np.arange(pair.target.n_samples) % {clusters}


class Rows(Cells):
    pass
"""


def _fileless_codes(monkeypatch, filename: str, clusters=2, seed=0, lead=""):
    """The codes of a config naming ``Cells`` by a registered name and by "module:Class",
    after running FILELESS as a notebook cell would: in a module without a file."""
    import sys
    import types

    from dtc import methods

    module = types.ModuleType("dtc_fileless_plugin")
    source = lead + FILELESS.format(clusters=clusters, seed=seed)
    exec(compile(source, filename, "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    methods.register("cells", module.Cells, overwrite=True)
    methods.register("rows", module.Rows, overwrite=True)
    methods_ = {"c": "cells", "m": "dtc_fileless_plugin:Cells", "r": "rows"}
    config = {**ONE_RUN, "methods": {k: {"method": v} for k, v in methods_.items()}}
    return _codes(config)


def test_a_class_defined_without_a_file_is_hashed_by_its_code(monkeypatch):
    """A class of a notebook cell (or ``python -c``) has no file to hash: its edits put
    nothing in the run id, so a rerun after an edit kept the old code's results as the new
    code's. Its own bytecode is hashed instead, blind to the cell and the line it is in."""
    _own_registrations(monkeypatch)
    first = _fileless_codes(monkeypatch, "<cell-1>")
    assert [list(code) for _, code in first] == [
        ["method cells -> dtc_fileless_plugin:Cells"],
        ["dtc_fileless_plugin:Cells"],
        ["method rows -> dtc_fileless_plugin:Rows"],
    ]
    # the same definition run again in another cell, three lines further down: same runs
    assert _fileless_codes(monkeypatch, "<cell-2>", lead="\n\n\n") == first
    # an edit of a method's body, of a default, of a base class: other runs
    for edit in ({"clusters": 3}, {"seed": 1}):
        edited = _fileless_codes(monkeypatch, "<cell-3>", **edit)
        assert all(a != b for (a, _), (b, _) in zip(first, edited)), edit


def test_canonical_data_params_leave_out_what_loads_as_if_left_out():
    from dtc.experiment.single import canonical_data_params

    given = {
        "shift": 0.5,  # the digits' default
        "source_fraction": 0.3,
        "imbalance_ratio": 10,
        "imbalance_seed": 0,  # make_imbalanced's default
        "imbalance_minority_fraction": 0.2,  # read by the "step" profile only
        "preprocess": "raw",
    }
    assert canonical_data_params("digits", given) == {
        "source_fraction": 0.3,
        "imbalance_ratio": 10,
        "preprocess": "raw",
    }
    step = {**given, "imbalance_profile": "step"}
    assert canonical_data_params("digits", step)["imbalance_minority_fraction"] == 0.2
    # the digits' shift is no default of another benchmark; a string or a bool is no number
    assert canonical_data_params("coil20", {"shift": 0.5}) == {"shift": 0.5}
    # load_pair's default preprocessing, written out: the same run (its id changed)
    assert canonical_data_params("mnist_usps", {"preprocess": "standard"}) == {}
    plain = expand(load_config({**ONE_RUN, "methods": {"k": {"method": "kmeans"}}}))
    spelt = {**ONE_RUN, "benchmarks": [{"benchmark": "digits", "data": {"preprocess": "standard"}}]}
    assert [
        t.run_id for t in expand(load_config({**spelt, "methods": {"k": {"method": "kmeans"}}}))
    ] == [t.run_id for t in plain]
    assert canonical_data_params("digits", {"shift": "0.5", "seed": False}) == {
        "shift": "0.5",
        "seed": False,
    }
    # 10 and 10.0 are one ratio: one run id, one report column
    ten = canonical_data_params("digits", {"imbalance_ratio": 10.0, "shift": 1.0})
    assert ten == {"imbalance_ratio": 10, "shift": 1} and type(ten["imbalance_ratio"]) is int


def test_yaml_never_builds_python_objects(tmp_path):
    # yaml.safe_load's rule: an unsafe loader would run the tag's call on load
    tag = "!!python/object/apply:os.getpid []"
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\npid: {tag}\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(ValueError, match="could not determine a constructor"):
        parse_overrides([f"seeds={tag}"])


def test_an_override_of_a_row_sharing_an_anchor_changes_that_row_only(tmp_path):
    # YAML aliases and merge keys share one mapping between rows: an override of one row
    # wrote into both, and the other ran (under its own label) with the new value.
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "name: anchors\n"
        "benchmarks: [digits]\n"
        "methods:\n"
        "  KM: &km {method: kmeans, params: &p {n_init: 2}}\n"
        "  KM-long:\n"
        "    <<: *km\n"
        "  KM-alias: {method: kmeans, params: *p}\n"
        "seeds: [0]\n"
    )
    cfg = load_config(path, ["methods.KM-long.n_init=10", "methods.KM-alias.n_init=5"])
    params = {t.label: t.spec.params["n_init"] for t in expand(cfg)}
    assert params == {"KM": 2, "KM-long": 10, "KM-alias": 5}


def test_a_label_with_an_equals_sign_or_a_dot_can_be_overridden():
    # split at the first "=" (Table 2's row "loss=none"): "unknown ... methods.loss: expected
    # a mapping", about a row the config does not have
    raw = {
        **ONE_RUN,
        "methods": {
            "loss=none": {"method": "kmeans", "params": {"n_init": 1}},
            "k.means": {"method": "kmeans", "params": {"n_init": 1}},
        },
    }
    cfg = load_config(raw, ["methods.loss=none.n_init=4", "methods.k.means.n_init=3"])
    assert {t.label: t.spec.params["n_init"] for t in expand(cfg)} == {
        "loss=none": 4,
        "k.means": 3,
    }
    assert parse_overrides(["methods.a=b.c=1"], labels=["a=b"]) == [(["methods", "a=b", "c"], 1)]


def test_labels_that_are_one_string_are_refused_and_int_labels_overridable():
    # 1 and "1" were one row (the other dropped without a word); an int label could not be
    # overridden ("unknown method label '1'; labels: 1")
    both = {**ONE_RUN, "methods": {1: {"method": "kmeans"}, "1": {"method": "kmeans"}}}
    with pytest.raises(ValueError, match="methods: label '1' given twice"):
        load_config(both)
    one = {**ONE_RUN, "methods": {1: {"method": "kmeans", "params": {"n_init": 1}}}}
    (task,) = expand(load_config(one, ["methods.1.n_init=3"]))
    assert task.label == "1" and task.spec.params["n_init"] == 3


def test_an_explicit_null_preprocess_is_refused_at_load():
    # it loaded, and every run failed ("preprocess must be 'standard' or one of ...")
    raw = {**ONE_RUN, "methods": {"km": {"method": "kmeans", "data": {"preprocess": None}}}}
    with pytest.raises(ValueError, match="unknown preprocess None"):
        load_config(raw)
    bench = {**ONE_RUN, "benchmarks": [{"benchmark": "digits", "data": {"preprocess": None}}]}
    with pytest.raises(ValueError, match="unknown preprocess None"):
        load_config({**bench, "methods": {"km": {"method": "kmeans"}}})


def test_overrides_reach_short_form_benchmarks_and_negative_indices():
    # benchmarks: [digits] could not take benchmarks.0.data.*; a negative index left the
    # value in the data grid too ("in both data and grid")
    short = {**ONE_RUN, "benchmarks": ["digits"], "methods": {"km": {"method": "kmeans"}}}
    (task,) = expand(load_config(short, ["benchmarks.0.data.shift=0.9"]))
    assert task.spec.data_params["shift"] == 0.9
    gridded = {
        **ONE_RUN,
        "benchmarks": [{"benchmark": "digits", "grid": {"shift": [0.3, 0.7]}}],
        "methods": {"km": {"method": "kmeans"}},
    }
    (task,) = expand(load_config(gridded, ["benchmarks.-1.data.shift=0.9"]))
    assert task.spec.data_params["shift"] == 0.9


def test_an_object_of_a_config_must_be_a_class(tmp_path):
    # Loading a config builds its objects to check them: it called any function it named,
    # e.g. subprocess.check_call with arguments of the file's choosing.
    marker = tmp_path / "ran"
    obj = {"object": "pathlib:Path.touch", "params": {"self": str(marker)}}
    config = {**ONE_RUN, "methods": {"dtc": {"method": "dtc", "params": {"callbacks": [obj]}}}}
    with pytest.raises(ValueError, match=r"object 'pathlib:Path.touch' is not a class"):
        load_config(config)
    assert not marker.exists()


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\n")
    with pytest.raises(ValueError, match=r"bomb.yaml: more than 100000 values once its YAML"):
        load_config(path)


def test_a_budget_value_every_row_overrides_is_named():
    # budget.pretrain_epochs=-1 loaded without a word: every row with the parameter set
    # its own, so the value reached no run and was never checked
    raw = {
        "benchmarks": [{"benchmark": "digits"}],
        "methods": {"DTC": {"method": "dtc", "params": {"pretrain_epochs": 2}}},
        "budget": {"pretrain_epochs": -1},
    }
    with pytest.warns(UserWarning, match=r"budget: pretrain_epochs=-1 reaches no run.*DTC"):
        load_config(raw)
    raw["methods"]["KM"] = {"method": "dtc"}  # a row it reaches: checked, refused
    with pytest.raises(ValueError, match="pretrain_epochs"):
        load_config(raw)
    del raw["methods"]["KM"]
    raw["budget"] = {"adapt_epochs": 3}  # reaches DTC: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(raw)


def test_benchmark_params_of_a_benchmark_the_config_does_not_run_are_named(tmp_path, monkeypatch):
    """Checked as a benchmark, then looked up under the names of benchmarks: alone, an
    entry for another benchmark (or a folder spelled otherwise) was dropped without a word."""
    root = tmp_path / "my_data"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.savez(root / f"{name}.npz", X=rng.normal(size=(12, 3)), y=np.arange(12) % 3)
    monkeypatch.chdir(tmp_path)
    for key in ("./my_data", "my_data/", "office_caltech10_surf"):
        raw = _with(
            benchmarks=[{"benchmark": "my_data"}],
            methods={"km": {"method": "kmeans", "benchmark_params": {key: {"n_init": 2}}}},
        )
        with pytest.warns(UserWarning, match=rf"benchmark_params: '{key}' is none of the"):
            cfg = load_config(raw)
        assert all(t.spec.params == {} for t in expand(cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw["methods"]["km"]["benchmark_params"] = {"my_data": {"n_init": 2}}
        assert {t.spec.params["n_init"] for t in expand(load_config(raw))} == {2}
