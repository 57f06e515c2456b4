"""A fingerprint of a network for cache and checkpoint keys: what fixes its results.

``repr(module)`` shows a network's structure but not its weights, its buffers, every plain
setting (an ``MMDLoss``'s median mode) nor its code (two classes of one name and one repr
whose ``forward`` differ); :func:`module_fingerprint` hashes all of them, so that a key built
on it changes whenever the network would compute something else.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import types

import numpy as np
import torch
from torch import nn

from dtc._plugins import _code_bytes, class_text, file_hash, module_of

__all__ = ["class_code", "module_fingerprint", "setting_text"]


def setting_text(value, depth: int = 0) -> str:
    """A description of a module's plain attribute ``value`` for the checkpoint key, the
    same in every process: repr of numbers and strings, the dtype, shape and bytes of
    tensors and arrays, containers item by item, plain objects (e.g. a kernel family, a
    callable one too; a dataclass by its fields) by their class and attributes, functions
    by module, qualified name, bytecode (of a decorated one's body too), defaults, closure
    and bound object, a class by its code, a ``partial`` by its function and arguments;
    anything else (a module seen by ``named_modules`` anyway) by its type only."""
    if isinstance(value, np.generic):  # its repr follows numpy's print options (legacy=)
        return f"{value.dtype}:{value.item()!r}"
    if isinstance(value, (type(None), bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, nn.parameter.UninitializedTensorMixin):
        return "<uninitialised>"
    if isinstance(value, torch.Tensor):
        layout = "" if value.layout == torch.strided else f", {value.layout}"
        return f"tensor({value.dtype}, {tuple(value.shape)}{layout}, {_tensor_digest(value)})"
    if isinstance(value, np.ndarray) and value.dtype != object:
        raw = np.ascontiguousarray(value).tobytes()
        return f"array({value.dtype}, {value.shape}, {hashlib.sha256(raw).hexdigest()})"
    if depth >= 4 or isinstance(value, nn.Module):
        return type(value).__qualname__
    if isinstance(value, np.ndarray):  # of Python objects: their bytes are addresses
        value = value.tolist()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [setting_text(v, depth + 1) for v in value]
        if isinstance(value, (set, frozenset)):
            items.sort()
        return f"{type(value).__name__}[{', '.join(items)}]"
    if isinstance(value, dict):
        items = sorted(
            f"{setting_text(k, depth + 1)}: {setting_text(v, depth + 1)}" for k, v in value.items()
        )
        return f"dict{{{', '.join(items)}}}"
    if isinstance(value, functools.partial):
        parts = (value.func, value.args, value.keywords)
        return f"partial({', '.join(setting_text(v, depth + 1) for v in parts)})"
    if callable(value) and hasattr(value, "__qualname__"):
        # by its type alone, torch.relu and torch.tanh were one setting (an encoder's
        # self.act): a fit with tanh resumed the relu fit's checkpoints (413 labels apart)
        module = getattr(value, "__module__", None)
        module = "__main__" if module == "__mp_main__" else module  # as module_of
        name = f"{module}.{value.__qualname__}"
        if isinstance(value, type):
            if value.__module__.partition(".")[0] not in ("torch", "builtins"):
                name += f"[{hashlib.sha256(class_code(value)).hexdigest()}]"
            return name
        fns = [value]
        try:
            inner = inspect.unwrap(value)
        except ValueError:
            inner = value
        if inner is not value:
            fns.append(inner)
        for fn in fns:
            fn = getattr(fn, "__func__", fn)
            code = getattr(fn, "__code__", None)  # two lambdas share a qualified name
            if isinstance(code, types.CodeType):
                name += f"[{hashlib.sha256(_code_bytes(code)).hexdigest()}]"
            if isinstance(fn, types.FunctionType):
                cells = []
                for c in fn.__closure__ or ():
                    try:
                        cells.append(c.cell_contents)
                    except ValueError:
                        cells.append("<empty cell>")
                extra = (fn.__defaults__, fn.__kwdefaults__, tuple(cells))
                name += f"{{{setting_text(extra, depth + 1)}}}"
        if isinstance(value, types.MethodType):
            name += f"@{setting_text(value.__self__, depth + 1)}"
        return name
    # a callable object too (a kernel with __call__): by its type alone, Scale(1.0) and
    # Scale(100.0) were one setting, and a fit with one resumed the other's checkpoints.
    # A dataclass by its fields, which a slotted one (slots=True) keeps out of __dict__.
    if dataclasses.is_dataclass(value):
        # a field with init=False may be unset: named as such, not an AttributeError
        items = {f.name: getattr(value, f.name, "<unset>") for f in dataclasses.fields(value)}
    elif hasattr(value, "__dict__"):
        items = vars(value)
    else:
        return type(value).__qualname__
    attrs = ", ".join(f"{k}={setting_text(v, depth + 1)}" for k, v in sorted(items.items()))
    # the class by its code too, as a class setting is: two classes of one name whose
    # __call__ differ were one setting
    return f"{setting_text(type(value), depth)}({attrs})"


def _tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 of the values of ``t``: a sparse tensor's dense values, a conjugate or
    negative view's resolved ones (their raw bytes were refused by torch, and a fit with
    ``checkpoint_dir`` failed where it ran without)."""
    t = t.detach().cpu()
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.resolve_conj().resolve_neg().contiguous()
    return hashlib.sha256(t.flatten().view(torch.uint8).numpy().tobytes()).hexdigest()


def class_code(cls: type) -> bytes:
    """The code of every class of ``cls``'s method resolution order but torch's and
    Python's own (which their versions pin): each one's bytecode
    (:func:`dtc._plugins.class_text`) and its file's hash. A base class in another file
    computes as much as the class itself: hashing the class's own file alone kept a result
    of the base's code before an edit."""
    parts = []
    for base in cls.__mro__:
        if base.__module__.partition(".")[0] in ("torch", "builtins"):
            continue
        parts += [class_text(base), str(file_hash(base.__module__)).encode()]
    return b"".join(parts)


def module_fingerprint(module: nn.Module) -> str:
    """SHA-256 hex digest of ``module``: its ``repr``, the code of every class in its tree
    (the bytecode of its methods, :func:`dtc._plugins.class_text`, and its file's hash;
    torch's own classes by name, as the torch version pins them), the plain attributes of
    every submodule (:func:`setting_text`), its state dict's bytes (a lazily sized,
    uninitialised tensor by a mark: its name and the seed that will draw it stand for it)
    and the bytes of its non-persistent buffers, which the state dict leaves out (each with
    its dtype and shape), and which parameters train (``requires_grad``) and which are one
    tensor shared by two modules (tied weights). A class's
    code is that of every class of its method resolution order (a base class in another
    file computes as much as the class itself), torch's and Python's own by name."""
    h = hashlib.sha256(repr(module).encode())
    for mod_name, m in module.named_modules():
        cls = type(m)
        h.update(f"{mod_name}:{module_of(cls)}.{cls.__qualname__};".encode())
        # two classes of one name and one repr, whose forward differ, were one network
        h.update(class_code(cls))
        for attr, value in sorted(vars(m).items()):
            # every plain setting counts but the training mode: the fit sets it (train() to
            # fit, eval() to embed), so an encoder handed over in evaluation mode is the same
            if not attr.startswith("_") and attr != "training":
                h.update(f"{mod_name}.{attr}={setting_text(value)};".encode())
    state = module.state_dict()
    # non-persistent buffers (a fixed random projection) compute too, but are no state
    transient = [(n, b) for n, b in module.named_buffers() if n not in state]
    for name, t in [*state.items(), *transient]:
        # with dtype and shape: a float32 1.0 and an int32 of its bytes, a (4,) and a
        # (4, 1) buffer were one state; an extra state (get_extra_state) may be no tensor
        h.update(f"{name}={setting_text(t)};".encode())
    # What trains: a frozen parameter and weights tied between two modules compute
    # otherwise (a fit with a frozen first layer resumed the unfrozen fit's checkpoints)
    first: dict[int, str] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        tied = first.setdefault(id(p), name)
        h.update(f"{name}:requires_grad={p.requires_grad}:same_as={tied};".encode())
    return h.hexdigest()
