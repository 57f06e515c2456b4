"""dtc.nn.fingerprint: a network's fingerprint changes with whatever changes its results."""

from __future__ import annotations

import types

import torch
from torch import nn

from dtc.nn.fingerprint import module_fingerprint


def test_the_code_of_a_users_class_counts(encoders_of_one_name):
    relu_cls, tanh_cls = encoders_of_one_name
    torch.manual_seed(0)
    relu = relu_cls(8, 3)
    torch.manual_seed(0)
    tanh = tanh_cls(8, 3)
    assert repr(relu) == repr(tanh)
    pairs = zip(relu.state_dict().values(), tanh.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)
    assert module_fingerprint(relu) != module_fingerprint(tanh)
    torch.manual_seed(0)
    assert module_fingerprint(relu_cls(8, 3)) == module_fingerprint(relu)  # the same network


def test_weights_buffers_and_plain_settings_count():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    base = module_fingerprint(net)
    net[1].running_mean += 1.0  # a buffer
    assert module_fingerprint(net) != base
    net[1].running_mean -= 1.0
    assert module_fingerprint(net) == base
    net[1].momentum = 0.5  # a plain attribute that repr shows neither... nor its weights
    assert module_fingerprint(net) != base
    # ... but not the mode, which the fit sets: an encoder handed over after .eval() (to
    # look at its embedding) is the same network, whose checkpoints it resumes
    net[1].momentum = 0.1
    assert module_fingerprint(net.eval()) == base and not net[1].training


class _Projection(nn.Module):
    def __init__(self, seed):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("proj", torch.randn(4, 3, generator=gen), persistent=False)

    def forward(self, x):
        return torch.cos(x @ self.proj)


def test_a_non_persistent_buffer_counts():
    # left out of the state dict, and so of the fingerprint: two projections one network
    a, b = _Projection(0), _Projection(1)
    assert not torch.equal(a(torch.ones(1, 4)), b(torch.ones(1, 4)))
    assert module_fingerprint(a) != module_fingerprint(b)
    assert module_fingerprint(_Projection(0)) == module_fingerprint(a)


def test_a_base_class_in_another_file_counts(tmp_path, monkeypatch):
    # class Enc(Base): pass, with Base.forward in another file: an edit to it changed the
    # output but not the fingerprint (only the class's own module was hashed)
    import importlib
    import sys

    base = tmp_path / "dtc_fp_base.py"
    base.write_text(
        "import torch\n"
        "class Base(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(3, 2)\n"
        "    def forward(self, x):\n"
        "        return torch.relu(self.lin(x))\n"
    )
    (tmp_path / "dtc_fp_sub.py").write_text(
        "from dtc_fp_base import Base\nclass Enc(Base):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("dtc_fp_base", "dtc_fp_sub"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    torch.manual_seed(0)
    before = module_fingerprint(importlib.import_module("dtc_fp_sub").Enc())
    base.write_text(base.read_text().replace("torch.relu", "torch.tanh"))
    for name in ("dtc_fp_base", "dtc_fp_sub"):
        del sys.modules[name]
    torch.manual_seed(0)
    assert module_fingerprint(importlib.import_module("dtc_fp_sub").Enc()) != before


class _Activated(nn.Module):
    """A linear layer and an activation held as a plain attribute (a function)."""

    def __init__(self, act):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.act = act

    def forward(self, x):
        return self.act(self.lin(x))


def _seeded(build):
    torch.manual_seed(0)
    return build()


def test_what_trains_and_what_is_shared_count():
    # A frozen layer and tied weights compute otherwise, and had one fingerprint: a fit
    # with a frozen first layer resumed the unfrozen fit's checkpoints (529 labels apart)
    net = _seeded(lambda: nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)))
    base = module_fingerprint(net)
    net[0].weight.requires_grad_(False)
    assert module_fingerprint(net) != base
    untied = _seeded(lambda: nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)))
    untied[1].weight.data.copy_(untied[0].weight.data)
    tied = _seeded(lambda: nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)))
    tied[1].weight = tied[0].weight
    tied[1].bias.data.copy_(untied[1].bias.data)
    x = torch.ones(1, 3)
    assert torch.equal(tied(x), untied(x))  # one function now; trained, they part
    assert module_fingerprint(tied) != module_fingerprint(untied)


def test_a_states_dtype_and_shape_count_and_every_state_is_read():
    flat, column, ints = nn.Module(), nn.Module(), nn.Module()
    flat.register_buffer("s", torch.ones(4))
    column.register_buffer("s", torch.ones(4, 1))
    ints.register_buffer("s", torch.ones(4).view(torch.int32))  # the same bytes
    prints = {module_fingerprint(m) for m in (flat, column, ints)}
    assert len(prints) == 3
    # an extra state that is no tensor, and a sparse buffer, failed the fingerprint (and
    # so a fit with checkpoint_dir, which ran without one)

    class WithExtra(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def get_extra_state(self):
            return {"k": self.k}

        def set_extra_state(self, state):
            self.k = state["k"]

    assert module_fingerprint(WithExtra(1)) != module_fingerprint(WithExtra(2))
    sparse = nn.Module()
    sparse.register_buffer("s", torch.eye(3).to_sparse())
    dense = nn.Module()
    dense.register_buffer("s", torch.eye(3))
    assert module_fingerprint(sparse) != module_fingerprint(dense)  # layouts differ
    assert module_fingerprint(sparse) == module_fingerprint(_seeded(lambda: sparse))


def test_a_function_held_as_a_setting_counts():
    # torch.relu and torch.tanh were one setting (its type): a fit with tanh resumed the
    # relu fit's checkpoints (413 labels apart)
    import functools

    prints = [
        module_fingerprint(_seeded(lambda act=act: _Activated(act)))
        for act in (
            torch.relu,
            torch.tanh,
            lambda x: x,
            lambda x: 2 * x,
            functools.partial(torch.clamp, min=0.0),
            functools.partial(torch.clamp, min=1.0),
        )
    ]
    assert len(set(prints)) == len(prints)
    assert module_fingerprint(_seeded(lambda: _Activated(torch.relu))) == prints[0]


def test_what_a_function_setting_computes_with_counts():
    # closures, defaults, a decorated body and a bound object compute too: only the outer
    # code was hashed (a slope in a closure resumed another slope's checkpoints)
    import functools

    def closing(slope):
        return lambda x: torch.nn.functional.leaky_relu(x, slope)

    def defaulted(slope):
        def act(x, s=slope):
            return torch.nn.functional.leaky_relu(x, s)

        return act

    def wrapped(fn):
        @functools.wraps(fn)
        def inner(x):
            return fn(x)

        return inner

    class Scale:
        def __init__(self, s):
            self.s = s

        def apply(self, x):
            return self.s * x

    pairs = [
        (closing(0.1), closing(0.9)),
        (defaulted(0.1), defaulted(0.9)),
        (wrapped(torch.relu), wrapped(torch.tanh)),
        (Scale(1.0).apply, Scale(3.0).apply),
    ]
    for a, b in pairs:
        fa = module_fingerprint(_seeded(lambda a=a: _Activated(a)))
        fb = module_fingerprint(_seeded(lambda b=b: _Activated(b)))
        assert fa != fb
        assert fa == module_fingerprint(_seeded(lambda a=a: _Activated(a)))


def test_a_function_of_the_main_script_is_one_setting_in_a_worker():
    # a --jobs worker imports the main script as __mp_main__: its functions had another
    # name there, and a serial run's checkpoints were not resumed by the sweep
    from dtc.nn.fingerprint import setting_text

    def act(x):
        return x

    main = types.FunctionType(act.__code__, {}, "act")
    worker = types.FunctionType(act.__code__, {}, "act")
    main.__module__, worker.__module__ = "__main__", "__mp_main__"
    assert setting_text(main) == setting_text(worker)


def test_an_arrays_dtype_and_shape_are_part_of_its_setting_text():
    import numpy as np

    from dtc.nn.fingerprint import setting_text

    flat = np.arange(4, dtype=np.float32)
    column = flat.reshape(4, 1)  # the same bytes in another shape
    ints = flat.view(np.int32)  # the same bytes of another dtype
    texts = {setting_text(a) for a in (flat, column, ints)}
    assert len(texts) == 3
    assert setting_text(flat.copy()) == setting_text(flat)


def test_a_sets_text_does_not_depend_on_its_iteration_order():
    from dtc.nn.fingerprint import setting_text

    # equal sets whose iteration orders differ (1 and 9 share a slot of an 8-slot table)
    assert list({1, 9}) != list({9, 1})
    assert setting_text({1, 9}) == setting_text({9, 1})
    assert setting_text(frozenset([1, 9])) == setting_text(frozenset([9, 1]))


def _body(step):
    def body(x):  # one name and one code for every step: the closure tells them apart
        return x + step

    return body


def _wrapped(body):
    # a wrapper that holds its body in no closure cell, reached through __wrapped__ alone
    import functools

    return functools.update_wrapper(lambda *args: None, body)


def test_a_decorated_functions_body_and_keyword_defaults_count():
    from dtc.nn.fingerprint import setting_text

    assert setting_text(_wrapped(_body(1))) != setting_text(_wrapped(_body(2)))
    assert setting_text(_wrapped(_body(1))) == setting_text(_wrapped(_body(1)))
    one = lambda x, *, scale=1.0: x * scale  # noqa: E731
    two = lambda x, *, scale=2.0: x * scale  # noqa: E731
    assert setting_text(one) != setting_text(two)


def test_a_conjugate_or_negative_view_is_hashed_by_its_resolved_values():
    from dtc.nn.fingerprint import setting_text

    z = torch.tensor([1 + 2j, 3 - 1j])
    assert setting_text(z.conj()) == setting_text(z.conj().resolve_conj())
    assert setting_text(z.conj()) != setting_text(z)
    neg = torch._neg_view(torch.tensor([1.0, -2.0]))
    assert setting_text(neg) == setting_text(torch.tensor([-1.0, 2.0]))


def test_an_uninitialised_parameter_and_an_object_array_have_a_text():
    import numpy as np

    from dtc.nn.fingerprint import setting_text

    torch.manual_seed(0)
    lazy = nn.LazyLinear(3)
    assert module_fingerprint(lazy) == module_fingerprint(lazy)
    assert setting_text(lazy.weight) == "<uninitialised>"
    one = np.array([1, "a"], dtype=object)
    two = np.array([2, "a"], dtype=object)
    assert setting_text(one) != setting_text(two)  # item by item, not by their addresses
