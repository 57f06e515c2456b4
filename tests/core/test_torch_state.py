"""dtc._torch_state.training_defaults: the torch settings a fit trains under, whatever its
caller (or another thread's caller) set, and the caller's restored after."""

import threading

import pytest
import torch

from dtc._torch_state import _set_fp32_precision, fp32_precision, training_defaults


def test_every_fit_entering_trains_in_float32_also_while_another_runs():
    # Only the first fit in set float32: a caller that set float64 while another thread's
    # fit ran trained its own fit in float64 ("the network has float64 parameters").
    inside, leave = threading.Event(), threading.Event()

    def other_fit():
        with training_defaults():
            inside.set()
            leave.wait(10)

    dtype, precision = torch.get_default_dtype(), fp32_precision(torch)
    other = threading.Thread(target=other_fit)
    other.start()
    try:
        assert inside.wait(10)
        torch.set_default_dtype(torch.float64)
        with training_defaults():
            assert torch.get_default_dtype() == torch.float32
            assert torch.is_grad_enabled()
    finally:
        leave.set()
        other.join(10)
        torch.set_default_dtype(dtype)
    # the first fit in saved the settings, the last one out restored them
    assert torch.get_default_dtype() == dtype and fp32_precision(torch) == precision


def test_nested_and_failing_fits_restore_the_callers_settings():
    dtype, precision = torch.get_default_dtype(), fp32_precision(torch)
    torch.set_default_dtype(torch.float64)
    try:
        with torch.no_grad():
            try:
                with training_defaults():
                    with training_defaults():  # the monitor's reference inside a DTC fit
                        assert torch.get_default_dtype() == torch.float32
                    assert torch.get_default_dtype() == torch.float32
                    raise RuntimeError("a failed fit")
            except RuntimeError:
                pass
            assert not torch.is_grad_enabled()
        assert torch.get_default_dtype() == torch.float64
        assert fp32_precision(torch) == precision
    finally:
        torch.set_default_dtype(dtype)
        _set_fp32_precision(torch, precision)


def test_the_cpu_is_the_default_device_inside_and_the_callers_after():
    # after set_default_device("cuda") (meta stands in for it) a fit built its networks
    # and drew their weights there; nothing is entered when the default is the CPU (the
    # context is a torch function mode, which every call of a fit would pass through)
    with training_defaults():
        assert torch.empty(0).device.type == "cpu"
        assert not torch.overrides._get_current_function_mode_stack()
    torch.set_default_device("meta")
    try:
        with training_defaults():
            assert torch.empty(0).device.type == "cpu"
            assert torch.randperm(3, generator=torch.Generator()).device.type == "cpu"
        assert torch.empty(0).device.type == "meta"
    finally:
        torch.set_default_device(None)
    assert torch.empty(0).device.type == "cpu"


@pytest.mark.skipif(
    not hasattr(torch.backends.cudnn, "conv"), reason="per-backend settings: torch >= 2.9"
)
def test_convolutions_run_at_full_precision_inside_tf32_after():
    # cuDNN's convolutions default to TF32 (torch.backends.cudnn.conv): the conv
    # architecture trained at reduced precision on a recent GPU, where the products did not
    conv = torch.backends.cudnn.conv
    before = conv.fp32_precision
    try:
        conv.fp32_precision = "tf32"
        with training_defaults():
            assert conv.fp32_precision == "ieee"
            assert torch.backends.mkldnn.conv.fp32_precision == "ieee"
        assert conv.fp32_precision == "tf32"
    finally:
        conv.fp32_precision = before


def test_before_per_backend_settings_convolutions_run_at_full_precision(monkeypatch):
    # torch 2.1 to 2.8 have no per-backend fp32_precision: cuDNN's convolutions follow
    # torch.backends.cudnn.allow_tf32 (True by default), which the matmul precision leaves
    import dtc._torch_state as torch_state

    monkeypatch.setattr(torch_state, "_fp32_backends", lambda torch: [])
    before = torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = True
        with training_defaults():
            assert torch.get_float32_matmul_precision() == "highest"
            assert torch.backends.cudnn.allow_tf32 is False
        assert torch.backends.cudnn.allow_tf32 is True
    finally:
        torch.backends.cudnn.allow_tf32 = before
