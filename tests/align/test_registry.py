"""The loss registry: built-in names, run-time registration, ``module:Class`` strings and
the ``dtc.losses`` entry-point group, with clear errors."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import EntryPoint

import pytest
import torch

import dtc._plugins
import dtc.align
import dtc.methods
from dtc.align.registry import _LOSSES, ENTRY_POINT_GROUP


class MeanGapLoss(dtc.align.AlignmentLoss):
    """A user's loss living outside dtc: squared distance between the domain means."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale

    def compute(self, source, target, **context):
        return self.scale * (source.mean(0) - target.mean(0)).square().sum()


class NotALoss:
    pass


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch):
    # Run-time registrations made by a test must not leak into other tests.
    monkeypatch.setattr(_LOSSES, "_registered", dict(_LOSSES._registered))


def test_builtin_names_are_available():
    names = dtc.align.available()
    assert {"coral", "log_coral"} <= set(names)
    assert names == sorted(names)


def test_loss_loaded_from_module_class_string():
    loss = dtc.align.get(f"{__name__}:MeanGapLoss", scale=2.0)
    assert isinstance(loss, MeanGapLoss)
    source, target = torch.zeros(4, 3), torch.ones(5, 3)
    assert loss(source, target).item() == pytest.approx(2.0 * 3)


class OneKernelMMD(dtc.align.MMDLoss):
    """The README's variant of a built-in loss (section "Benchmark your own alignment loss")."""

    def __init__(self):
        super().__init__(scales=[1.0])


def test_variant_of_a_builtin_loss_by_module_class_string():
    loss = dtc.align.get(f"{__name__}:OneKernelMMD")
    reference = dtc.align.MMDLoss(scales=[1.0])
    g = torch.Generator().manual_seed(0)
    source, target = torch.randn(16, 3, generator=g), torch.randn(12, 3, generator=g) + 0.5
    assert len(loss.gammas(source, target)) == 1
    assert loss(source, target).item() == reference(source, target).item()
    assert loss(source, target).item() != dtc.align.MMDLoss()(source, target).item()


def test_register_class_and_string():
    dtc.align.register("mean_gap", MeanGapLoss)
    dtc.align.register("mean_gap_str", f"{__name__}:MeanGapLoss")
    assert {"mean_gap", "mean_gap_str"} <= set(dtc.align.available())
    assert dtc.align.get_class("mean_gap") is MeanGapLoss
    assert dtc.align.get_class("mean_gap_str") is MeanGapLoss
    with pytest.raises(ValueError, match="'mean_gap' is already registered"):
        dtc.align.register("mean_gap", MeanGapLoss)
    dtc.align.register("mean_gap", MeanGapLoss, overwrite=True)
    # overwrite must be a bool: "no" is truthy, and replaced the registered class silently
    with pytest.raises(ValueError, match="overwrite must be True or False"):
        dtc.align.register("mean_gap", MeanGapLoss, overwrite="no")
    # refused when registered, not when first used
    with pytest.raises(ValueError, match=r"a loss must be a subclass of torch.nn.*Module, got 3"):
        dtc.align.register("bad", 3)
    with pytest.raises(ValueError, match="expected 'package.module:Class', got 'mmd'"):
        dtc.align.register("bad", "mmd")
    with pytest.raises(ValueError, match="expected 'package.module:Class', got 'mod:'"):
        dtc.align.register("bad", "mod:")
    # None (which means no alignment), "", a number or a "module:Class"-like name: refused,
    # before they could break available() (None sorted among strings) or shadow None
    for name in (None, "", "  ", 3, "a:b"):
        with pytest.raises(ValueError, match="name must be a non-empty string without ':'"):
            dtc.align.register(name, MeanGapLoss)
    assert "bad" not in dtc.align.available()


def test_entry_point_group_plugs_a_loss_in(monkeypatch):
    def fake_entry_points(group):
        assert group == ENTRY_POINT_GROUP == "dtc.losses"
        return [EntryPoint(name="mean_gap_ep", value=f"{__name__}:MeanGapLoss", group=group)]

    monkeypatch.setattr(dtc._plugins, "entry_points", fake_entry_points)
    assert "mean_gap_ep" in dtc.align.available()
    assert isinstance(dtc.align.get("mean_gap_ep"), MeanGapLoss)


def test_entry_point_values_are_read_as_importlib_parses_them(monkeypatch):
    # The entry-points specification allows spaces around ":" and trailing [extras]; the raw
    # value was imported as is ("No module named 'tests.align.test_registry '").
    values = {
        "spaced": f"{__name__} : MeanGapLoss",
        "extras": f"{__name__}:MeanGapLoss [fast]",
        "both": f"{__name__}  :  MeanGapLoss  [fast, gpu]",
    }

    def fake_entry_points(group):
        return [EntryPoint(name=n, value=v, group=group) for n, v in values.items()]

    monkeypatch.setattr(dtc._plugins, "entry_points", fake_entry_points)
    for name, value in values.items():
        assert EntryPoint(name=name, value=value, group="x").load() is MeanGapLoss
        assert dtc.align.get_class(name) is MeanGapLoss
    # one that importlib cannot parse fails alone, when used (it failed every lookup)
    values["broken"] = "my-plugin:Loss"
    assert "broken" in dtc.align.available()
    assert dtc.align.get_class("coral").__name__ == "CORALLoss"
    with pytest.raises(ValueError, match="could not import loss 'my-plugin:Loss'"):
        dtc.align.get_class("broken")


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match=r"unknown loss 'no_such_loss'; available: .*coral.*null"):
        dtc.align.get("no_such_loss")


def test_unknown_name_says_how_a_loss_of_ones_own_is_named():
    """A name registered in a script and then given to `dtc run` / `dtc bench-losses` was
    "unknown loss 'md'; available: ..." with no word of the ways a user's loss is named
    there."""
    with pytest.raises(ValueError) as err:
        dtc.align.get("no_such_loss")
    assert "'package.module:Class'" in str(err.value)
    assert "entry-point group dtc.losses" in str(err.value)
    assert "dtc.align.register is known in its own process only" in str(err.value)
    with pytest.raises(ValueError) as err:
        dtc.methods.get("no_such_method")
    assert "'package.module:Class'" in str(err.value)
    assert "entry-point group dtc.methods" in str(err.value)


def test_unimportable_string_and_non_loss_class():
    with pytest.raises(ValueError, match="could not import loss"):
        dtc.align.get("no_such_module_xyz:Loss")
    with pytest.raises(
        ValueError, match=r"expected a subclass of torch\.nn\.modules\.module\.Module"
    ):
        dtc.align.get(f"{__name__}:NotALoss")


@pytest.mark.parametrize("name", sorted(_LOSSES._registered))
@pytest.mark.parametrize(
    ("source", "target", "match"),
    [
        (
            torch.zeros(6, 3, dtype=torch.long),
            torch.zeros(6, 3, dtype=torch.long),
            "source has dtype torch.int64, expected a floating-point dtype",
        ),
        (torch.randn(6, 3), torch.randn(6, 3).double(), "target has dtype torch.float64"),
        (torch.zeros(6, 0), torch.zeros(6, 0), r"source has shape \(6, 0\), expected d >= 1"),
    ],
    ids=["integer", "mixed_dtypes", "no_features"],
)
def test_every_builtin_loss_names_itself_and_the_bad_input(request, name, source, target, match):
    # Checked before any computation, so the message is the loss's, not a matmul's.
    if name in ("pytorch_adapt", "pa_mmd", "pa_coral"):
        request.getfixturevalue("pa_layers")
    loss = dtc.align.get(name)
    probs = {"source_probs": torch.full((6, 2), 0.5), "target_probs": torch.full((6, 2), 0.5)}
    with pytest.raises(ValueError, match=f"^{type(loss).__name__}: {match}"):
        loss(source, target, progress=0.5, **probs)


def test_entry_point_named_like_a_builtin_does_not_break_import(tmp_path):
    # An installed package declaring a ``dtc.losses`` entry point named "coral" made
    # ``import dtc.align`` raise "a loss named 'coral' is already registered": the built-ins
    # were registered with the collision check that also looks at the entry points.
    import os
    import subprocess
    import sys
    from pathlib import Path

    info = tmp_path / "thirdparty_losses-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-losses\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dtc.losses]\ncoral = thirdparty_mod:Coral\nextra_loss = thirdparty_mod:Extra\n"
    )
    root = Path(dtc.align.__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    code = (
        "import dtc.align\n"
        "assert dtc.align.get_class('coral') is dtc.align.CORALLoss\n"
        "assert 'extra_loss' in dtc.align.available()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # the built-in wins, but not silently: a leaderboard ranked it under the user's name
    assert (
        "two losses are registered as 'coral' (dtc's built-in and the entry point thirdparty_mod:Coral)"
        in (" ".join(done.stderr.split()))
    )


def test_none_is_reserved_for_no_alignment(monkeypatch):
    # bench-losses reads "none" as no alignment: a loss registered so was ranked as none
    with pytest.raises(ValueError, match="register: 'none' is reserved"):
        dtc.align.register("none", MeanGapLoss)

    def fake_entry_points(group):
        return [EntryPoint(name="none", value=f"{__name__}:MeanGapLoss", group=group)]

    monkeypatch.setattr(dtc._plugins, "entry_points", fake_entry_points)
    with pytest.warns(RuntimeWarning, match="entry point 'none' .* is ignored"):
        assert "none" not in dtc.align.available()


def test_register_refuses_a_class_of_another_kind():
    # a class that is not a loss is refused when registered, not when first used
    with pytest.raises(ValueError, match=r"a loss must be a subclass of torch.nn.*NotALoss"):
        dtc.align.register("not_a_loss", NotALoss)
    assert "not_a_loss" not in dtc.align.available()


@pytest.mark.parametrize(
    ("body", "raised"),
    [
        ("raise RuntimeError('needs a GPU')", "RuntimeError: needs a GPU"),
        ("import json\nCFG = json.loads('{bad')", "JSONDecodeError: Expecting property name"),
        ("class S(object)\n    pass", "SyntaxError: expected ':'"),
    ],
)
def test_a_module_that_fails_on_import_is_named_with_its_loss(tmp_path, monkeypatch, body, raised):
    # Only ImportError / AttributeError were caught: the module's own errors came out bare
    # ("error: needs a GPU"), or as a traceback, naming neither the loss nor its module.
    (tmp_path / "dtc_broken_loss.py").write_text(body + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dtc_broken_loss", raising=False)
    with pytest.raises(ValueError) as info:
        dtc.align.get("dtc_broken_loss:MyLoss")
    message = str(info.value)
    assert message.startswith("could not import loss 'dtc_broken_loss:MyLoss': importing")
    assert raised in message


def test_an_edit_after_import_is_refused_until_reloaded(tmp_path, monkeypatch):
    # A script that benchmarks its loss, edits the file and benchmarks again ran the class
    # in memory (the old code) under the hash of the new file, and later runs reused it.
    source = (
        "import torch\n"
        "class MyLoss(torch.nn.Module):\n"
        "    def forward(self, source, target, **context):\n"
        "        return SCALE * (source.mean(0) - target.mean(0)).square().sum()\n"
        "SCALE = {}\n"
    )
    module = tmp_path / "dtc_edited_loss.py"
    module.write_text(source.format(1))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dtc_edited_loss", raising=False)
    path = "dtc_edited_loss:MyLoss"
    first = dtc._plugins.plugin_hash(path)
    old = dtc.align.get_class(path)
    assert dtc._plugins.class_hash(old) == first
    dtc._plugins.check_loaded(path, old)  # as imported: runs here as hashed
    module.write_text(source.format(100))
    assert dtc._plugins.plugin_hash(path) != first  # the file's, what a new process runs
    with pytest.raises(ValueError, match="changed since this process imported module"):
        dtc._plugins.check_loaded(path)
    importlib.reload(sys.modules["dtc_edited_loss"])
    new = dtc.align.get_class(path)
    dtc._plugins.check_loaded(path, new)
    # a name registered before the reload still holds the old class
    with pytest.raises(ValueError, match="register the reloaded class again"):
        dtc._plugins.check_loaded(path, old)


def test_a_loss_imported_from_a_zip_archive_is_hashed_by_its_source(tmp_path, monkeypatch):
    # zipimport's __file__ is "archive.zip/module.py": reading it failed every run of the
    # plugin (`dtc run --method zipped:Mine`) with a bare NotADirectoryError
    import hashlib
    import zipfile

    source = (
        "import torch\n"
        "class MyLoss(torch.nn.Module):\n"
        "    def forward(self, source, target, **context):\n"
        "        return (source.mean(0) - target.mean(0)).square().sum()\n"
    )
    with zipfile.ZipFile(tmp_path / "plugins.zip", "w") as archive:
        archive.writestr("dtc_zipped_loss.py", source)
    monkeypatch.syspath_prepend(str(tmp_path / "plugins.zip"))
    monkeypatch.delitem(sys.modules, "dtc_zipped_loss", raising=False)
    path = "dtc_zipped_loss:MyLoss"
    expected = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert dtc._plugins.plugin_hash(path) == expected
    assert dtc._plugins.class_hash(dtc.align.get_class(path)) == expected
    dtc._plugins.check_loaded(path, dtc.align.get_class(path))


def test_import_object_needs_module_and_attribute_and_follows_dots():
    # "module:Outer.inner" walks the attributes after the colon
    assert dtc._plugins.import_object("dtc.align:MMDLoss.gammas") is dtc.align.MMDLoss.gammas
    for path in ("dtc.align", "dtc.align:", ":MMDLoss"):
        with pytest.raises(ValueError, match=r"expected a loss name or 'package.module:Class'"):
            dtc._plugins.import_object(path, what="loss")


def test_target_is_what_a_name_is_registered_as_and_none_otherwise():
    dtc.align.register("mean_gap_str", f"{__name__}:MeanGapLoss")
    assert _LOSSES.target("mean_gap_str") == f"{__name__}:MeanGapLoss"  # not imported
    assert _LOSSES.target("coral") is dtc.align.CORALLoss
    # a name not registered, a "module:Class" string given as a name included
    assert _LOSSES.target("no_such_loss") is None
    assert _LOSSES.target(f"{__name__}:MeanGapLoss") is None


def test_a_loss_with_a_parameter_called_name_builds_by_name():
    # get(name, **params) took the class's own `name` for its own: "multiple values".
    from torch import nn

    from dtc import align

    class Named(nn.Module):
        def __init__(self, name="mean", weight=1.0):
            super().__init__()
            self.label, self.weight = name, weight

        def forward(self, source, target, **context):
            return (source.mean(0) - target.mean(0)).pow(2).sum() * self.weight

    align.register("named_param_loss", Named)
    assert align.get("named_param_loss", name="x").label == "x"
    with pytest.raises(ValueError, match=r"surrounding spaces"):
        align.register(" md ", Named)


def test_loss_params_of_cdan_e_and_pytorch_adapt_layers_are_checked(pa_layers):
    from dtc import DTC

    with pytest.raises(ValueError, match=r"loss_params do not fit loss 'cdan_e'.*entropy_gradiant"):
        DTC(loss="cdan_e", loss_params={"entropy_gradiant": True}).check_params()
    DTC(loss="cdan_e", loss_params={"entropy_gradient": True}).check_params()
    from dtc.align.interop import PytorchAdaptLoss

    with pytest.raises(ValueError, match=r"params do not fit MMDLoss.*kernal_scales"):
        PytorchAdaptLoss("MMDLoss", kernal_scales=1.0)


def test_a_loss_needing_arguments_none_gives_is_refused_by_check_params():
    from torch import nn

    from dtc import DTC, align

    class NeedsWeight(nn.Module):
        def __init__(self, weight):
            super().__init__()
            self.weight = weight

        def forward(self, source, target, **context):
            return (source.mean(0) - target.mean(0)).pow(2).sum() * self.weight

    align.register("needs_weight_loss", NeedsWeight, overwrite=True)
    with pytest.raises(ValueError, match=r"without parameters: missing a required argument"):
        DTC(loss="needs_weight_loss").check_params()
    DTC(loss="needs_weight_loss", loss_params={"weight": 2.0}).check_params()


class OtherGapLoss(MeanGapLoss):
    pass


@pytest.mark.parametrize("reverse", [False, True])
def test_two_packages_claiming_one_name_resolve_alike_in_every_order(monkeypatch, reverse):
    # "the first" read won: the order entry_points() gives is site-packages' directory
    # order (install history, the file system), so two machines ran different code
    found = [
        EntryPoint(name="gap_twice", value=f"{__name__}:MeanGapLoss", group=ENTRY_POINT_GROUP),
        EntryPoint(name="gap_twice", value=f"{__name__}:OtherGapLoss", group=ENTRY_POINT_GROUP),
    ]
    found = found[::-1] if reverse else found

    def fake_entry_points(group):
        return found if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(dtc._plugins, "entry_points", fake_entry_points)
    with pytest.warns(RuntimeWarning, match="registered as 'gap_twice'.*MeanGapLoss is used"):
        assert dtc.align.get_class("gap_twice") is MeanGapLoss


def test_is_own_reads_a_module_or_a_module_class_string():
    # the package is what comes before the first "." or ":": a top-level "dtc:Class" is
    # dtc's own, a package whose name merely starts with "dtc" is not
    assert dtc._plugins.is_own("dtc") and dtc._plugins.is_own("dtc.align.mmd")
    assert dtc._plugins.is_own("dtc:DTC") and dtc._plugins.is_own("baselines:TargetKMeans")
    assert not dtc._plugins.is_own("dtcx.losses:Loss")
    assert not dtc._plugins.is_own("mypkg:dtc")


@pytest.mark.parametrize("reverse", [False, True])
def test_dtcs_own_entry_point_wins_a_name_over_another_packages(monkeypatch, reverse):
    # dtc's own entry wins, even where the other package's target sorts first
    # (mutation-test gap: without the preference "aaa_plugin:Gap" was used)
    found = [
        EntryPoint(name="gap_twice", value="aaa_plugin:Gap", group=ENTRY_POINT_GROUP),
        EntryPoint(name="gap_twice", value="dtc.align.own:Gap", group=ENTRY_POINT_GROUP),
    ]
    found = found[::-1] if reverse else found
    monkeypatch.setattr(
        dtc._plugins, "entry_points", lambda group: found if group == ENTRY_POINT_GROUP else []
    )
    with pytest.warns(RuntimeWarning, match=r"\(dtc.align.own:Gap and aaa_plugin:Gap\)"):
        assert _LOSSES.target("gap_twice") == "dtc.align.own:Gap"


def test_a_set_of_tuples_of_numbers_has_one_order_in_every_process():
    # a tuple (or frozenset) of numbers hashes by value: its set's repr is left as it is,
    # and the hashes of such classes unchanged (mutation-test gap)
    assert not dtc._plugins.hash_ordered({(1, 2), (3, 4.5)})
    assert not dtc._plugins.hash_ordered({frozenset({1, 2}), (3, (4, 5))})
    assert dtc._plugins.hash_ordered({("a", 1)}) and dtc._plugins.hash_ordered([{"a"}])


def test_a_plugin_file_its_loader_cannot_read_either_has_no_hash(monkeypatch):
    # a zip-imported module whose archive is gone: no hash, not the loader's OSError
    def get_data(path):
        raise OSError(f"can't read {path}")

    module = type(sys)("gone_zip_plugin")
    module.__file__ = "/nonexistent/plugins.zip/gone_zip_plugin.py"
    module.__spec__ = type(
        "Spec", (), {"loader": type("L", (), {"get_data": staticmethod(get_data)})}
    )()
    monkeypatch.setitem(sys.modules, "gone_zip_plugin", module)
    assert dtc._plugins.file_hash("gone_zip_plugin") is None


def _cell_class(source: str, name: str = "C"):
    # a class as a notebook cell defines it: a module without a file
    namespace = {"__name__": "a_notebook_cell"}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace[name]


def _text(source: str, name: str = "C") -> bytes:
    return dtc._plugins.class_text(_cell_class(source, name))


def test_the_code_of_a_fileless_class_covers_what_it_computes_and_nothing_else():
    # mutation-test gaps of class_text: each edit below that changes what runs changes
    # the text; a class docstring or the cell's line does not
    base = "class A:\n    def f(self):\n        return {}\nclass C(A):\n    pass\n"
    assert _text(base.format(1)) != _text(base.format(2))  # a base of the same module
    method = "class C:\n    def f(self, x={}):\n        return x\n"
    assert _text(method.format(1)) != _text(method.format(2))  # a default
    assert _text(method.format(1)) == _text("\n\n\n" + method.format(1))  # another cell line
    nested = "class C:\n    def f(self):\n        return sorted([2, 1], key=lambda v: v * {})\n"
    assert _text(nested.format(1)) == _text("\n" + nested.format(1))  # its lambda's line too
    assert _text(nested.format(1)) != _text(nested.format(-1))
    prop = "class C:\n    @property\n    def p(self):\n        return 1\n"
    prop += "    @p.setter\n    def p(self, v):\n        self.v = v * {}\n"
    assert _text(prop.format(1)) != _text(prop.format(2))  # a property's setter
    wrapped = "import functools\ndef deco(f):\n    @functools.wraps(f)\n    def w(*a):\n"
    wrapped += "        return f(*a)\n    return w\nclass C:\n    @deco\n    def f(self):\n"
    wrapped += "        return {}\n"
    assert _text(wrapped.format(1)) != _text(wrapped.format(2))  # a decorated method
    doc = 'class C:\n    "{}"\n    K = 3\n'
    assert _text(doc.format("one")) == _text(doc.format("two"))  # a dunder is Python's own


def test_the_seed_goes_to_each_seed_parameter_not_given_and_not_defaulting_to_none():
    class Est:
        def __init__(self, seed=0, random_state=None, other=1):
            pass

    assert dtc._plugins.run_seed_arguments(Est, {}, 5) == {"seed": 5}
    assert dtc._plugins.run_seed_arguments(Est, {"seed": 1}, 5) == {}


def test_source_hash_covers_file_names_and_leaves_out_hidden_and_dangling_files(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = dtc._plugins.source_hash(tmp_path)
    (tmp_path / ".#a.py").write_text("an editor's lock")
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    assert dtc._plugins.source_hash(tmp_path) == first
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert dtc._plugins.source_hash(tmp_path) != first  # the same bytes under another name
    assert dtc._plugins.source_hash(tmp_path / "none") is None


def test_own_source_hash_is_the_source_as_this_process_first_read_it(monkeypatch):
    first = dtc._plugins.own_source_hash()
    monkeypatch.setattr(dtc._plugins, "source_hash", lambda root: "edited since")
    assert dtc._plugins.own_source_hash() == first


def test_a_class_of_a_spawned_workers_main_script_is_named_as_the_sweep_names_it():
    cls = type("Mine", (), {"__module__": "__mp_main__"})
    assert dtc._plugins.module_of(cls) == "__main__"
    assert dtc._plugins.module_of(MeanGapLoss) == __name__
