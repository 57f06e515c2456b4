"""The process-wide torch state fits share: the settings a fit trains under, whatever its
caller set (:func:`training_defaults`), and the lock held while the global RNGs are seeded
and restored (:data:`GLOBAL_STATE_LOCK`).

Standard library only at import (torch is used where it is already loaded), so that every
room may use it: the method contract (``dtc.methods``), the networks (``dtc.nn``), the
monitor's reference and the experiment runner.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["GLOBAL_STATE_LOCK", "cpu_kernels", "cpu_vendor", "training_defaults"]


@functools.cache
def cpu_vendor() -> str:
    """The CPU's vendor as the kernel reports it (``"GenuineIntel"``, ``"AuthenticAMD"``),
    else :func:`platform.processor`, else ``"unknown"``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "vendor_id" and value.strip():
                return value.strip()
    return platform.processor() or "unknown"


def cpu_kernels() -> str:
    """``"<instruction set of torch's CPU kernels>:<CPU vendor>"`` (``"AVX2:GenuineIntel"``):
    part of what a result computed on the CPU depends on (the float reductions round
    otherwise on another of them, at identical code, packages and threads), so a stored
    stage or reference keyed on it is never resumed as another platform's. torch is
    imported: callers train with it."""
    import torch

    return f"{torch.backends.cpu.get_cpu_capability()}:{cpu_vendor()}"


#: Held by :func:`dtc.nn.training.deterministic` (and by whatever else seeds and restores
#: the global RNGs): the global torch state it sets and restores is the process's, so two
#: fits in two threads restored each other's (the caller's RNG moved, deterministic
#: algorithms left on) and one gave another result than alone. Fits in threads of one
#: process run one at a time; re-entrant, for a fit inside a fit (the monitor's reference).
GLOBAL_STATE_LOCK = threading.RLock()

# The default dtype and the float32 precision are the process's, not a thread's: fits in
# two threads each saved and restored them around itself, and one restored the caller's
# float64 while the other was building its networks ("the network has float64
# parameters"), whose restore then left float32 behind. The first fit in saves them, the
# last one out restores them (a change a caller makes while any fit runs is undone).
_lock = threading.Lock()
_active = 0
_saved: tuple = ()


@contextlib.contextmanager
def training_defaults() -> Iterator[None]:
    """Torch's grad mode on, autocast off, the CPU the default device, float32 the default
    dtype and float32 matrix products (and oneDNN's convolutions; cuDNN's are the caller's,
    see :func:`_fp32_backends`) at full precision in the body, whatever the caller set
    (restored after).

    A fit inside the caller's ``torch.no_grad()`` or ``inference_mode()`` failed at the
    first backward ("element 0 of tensors does not require grad"); inside
    ``torch.autocast("cpu", dtype=torch.bfloat16)`` the networks trained in bfloat16 until
    the first embedding failed ("unsupported ScalarType BFloat16"); after
    ``torch.set_default_dtype(torch.float64)`` the networks were built in float64 and
    refused as the user's; after ``torch.set_float32_matmul_precision("medium")`` (bfloat16
    products on a CPU that has them; or ``torch.backends.mkldnn.matmul.fp32_precision =
    "bf16"``) the same seed gave other labels (7 of 899 on the digits pair), and a
    checkpoint of one precision resumed a fit of the other. After
    ``torch.set_default_device("cuda")`` the networks were built, and their weights drawn,
    on the GPU whatever the fit's ``device`` (a CPU fit's seed then fixed nothing: it seeds
    no GPU's RNG), and the CPU generators of batch order met GPU factories (a device
    mismatch). Grad mode, autocast and the default device are the thread's own; the dtype and precision are shared by the threads fitting at once, and
    other threads see them while any fit runs (a change one makes meanwhile is undone).
    Nothing to do where torch is not loaded: no caller can have set any."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    _enter(torch)
    try:
        with (
            torch.inference_mode(False),
            torch.enable_grad(),
            torch.autocast("cpu", enabled=False),
            torch.autocast("cuda", enabled=False),
            _cpu_default_device(torch),
        ):
            yield
    finally:
        _leave(torch)


def _cpu_default_device(torch):
    # Only when the caller set another: the context is a torch function mode, which every
    # torch call of the fit would otherwise pass through. (``get_default_device`` is torch
    # 2.3's; before it, a new tensor says where the default is.)
    get = getattr(torch, "get_default_device", None)
    current = get() if get is not None else torch.empty(0).device
    return contextlib.nullcontext() if current.type == "cpu" else torch.device("cpu")


def _fp32_backends(torch) -> list:
    """The per-backend float32 settings of matrix products and convolutions
    (``fp32_precision``: "ieee", "tf32", "bf16" or "none", following the generic one) where
    torch has them (2.9 and later): those are what the kernels consult. There, the legacy
    matmul getter fails once a caller has used them ("a mix of the legacy and new APIs"),
    and reads what it last set, not what applies.

    cuDNN's convolutions are left as the caller set them (TF32 on a recent GPU, torch's
    default): any write of their settings loses the untouched state, which no public call
    restores (after one fit, a caller's later generic setting no longer reached them), and
    setting its conv one alone made every read of its switch in the fit fail
    (``torch.backends.cudnn.flags()``). A caller who wants them at full precision sets
    ``torch.backends.cudnn.conv.fp32_precision = "ieee"``."""
    mkldnn = getattr(torch.backends, "mkldnn", None)
    backends = [
        getattr(torch.backends.cuda, "matmul", None),
        getattr(mkldnn, "matmul", None),
        getattr(mkldnn, "conv", None),
    ]
    return [b for b in backends if b is not None and hasattr(b, "fp32_precision")]


def fp32_precision(torch):
    """What decides the precision of float32 matrix products (and oneDNN's convolutions) now:
    the per-backend settings (a tuple) where torch has them, else
    ``torch.get_float32_matmul_precision()``."""
    backends = _fp32_backends(torch)
    if backends:
        return tuple(b.fp32_precision for b in backends)
    return torch.get_float32_matmul_precision()


def _set_fp32_precision(torch, precision) -> None:
    backends = _fp32_backends(torch)
    if not backends:
        torch.set_float32_matmul_precision(precision)
        return
    values = (precision,) * len(backends) if isinstance(precision, str) else precision
    for backend, value in zip(backends, values):
        backend.fp32_precision = value


def _enter(torch) -> None:
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = (torch.get_default_dtype(), fp32_precision(torch))
        # set by every fit that enters, not only the first: a caller that set float64 while
        # another thread's fit ran trained its own fit in float64
        torch.set_default_dtype(torch.float32)
        _set_fp32_precision(torch, "ieee" if _fp32_backends(torch) else "highest")
        _active += 1


def _leave(torch) -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            dtype, precision = _saved
            torch.set_default_dtype(dtype)
            _set_fp32_precision(torch, precision)
