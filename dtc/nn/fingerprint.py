"""A fingerprint of a network for cache and checkpoint keys: what fixes its results.

``repr(module)`` shows a network's structure but not its weights, its buffers, every plain
setting (an ``MMDLoss``'s median mode) nor its code (two classes of one name and one repr
whose ``forward`` differ); :func:`module_fingerprint` hashes all of them, so that a key built
on it changes whenever the network would compute something else.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn

from dtc._plugins import class_text, file_hash, module_of

__all__ = ["class_code", "module_fingerprint", "setting_text"]


def setting_text(value, depth: int = 0) -> str:
    """A description of a module's plain attribute ``value`` for the checkpoint key, the
    same in every process: repr of numbers and strings, the bytes of tensors and arrays,
    containers and plain objects (e.g. a kernel family) item by item; anything else (a
    function, a module seen by ``named_modules`` anyway) by its type only."""
    if isinstance(value, np.generic):  # its repr follows numpy's print options (legacy=)
        return f"{value.dtype}:{value.item()!r}"
    if isinstance(value, (type(None), bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, nn.parameter.UninitializedTensorMixin):
        return "<uninitialised>"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous()
        raw = value.flatten().view(torch.uint8).numpy().tobytes()
        return f"tensor({value.dtype}, {tuple(value.shape)}, {hashlib.sha256(raw).hexdigest()})"
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
    if hasattr(value, "__dict__") and not callable(value):
        attrs = ", ".join(
            f"{k}={setting_text(v, depth + 1)}" for k, v in sorted(vars(value).items())
        )
        return f"{type(value).__qualname__}({attrs})"
    return type(value).__qualname__


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
    and the bytes of its non-persistent buffers, which the state dict leaves out. A class's
    code is that of every class of its method resolution order (a base class in another
    file computes as much as the class itself), torch's and Python's own by name."""
    h = hashlib.sha256(repr(module).encode())
    for mod_name, m in module.named_modules():
        cls = type(m)
        h.update(f"{mod_name}:{module_of(cls)}.{cls.__qualname__};".encode())
        # two classes of one name and one repr, whose forward differ, were one network
        h.update(class_code(cls))
        for attr, value in sorted(vars(m).items()):
            if not attr.startswith("_") and attr != "training":
                h.update(f"{mod_name}.{attr}={setting_text(value)};".encode())
    state = module.state_dict()
    # non-persistent buffers (a fixed random projection) compute too, but are no state
    transient = [(n, b) for n, b in module.named_buffers() if n not in state]
    for name, t in [*state.items(), *transient]:
        h.update(name.encode())
        if isinstance(t, nn.parameter.UninitializedTensorMixin):
            h.update(b"<uninitialised>")
        else:
            h.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
