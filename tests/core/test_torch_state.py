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


per_backend = pytest.mark.skipif(
    not hasattr(torch.backends.cudnn, "conv"), reason="per-backend settings: torch >= 2.9"
)


@pytest.fixture
def cudnn():
    """``torch.backends.cudnn``, its TF32 switch (and torch's generic float32 setting)
    restored after the test: the switch sets its conv and RNN settings too."""
    generic = getattr(torch.backends, "fp32_precision", None)
    before = torch.backends.cudnn.allow_tf32
    yield torch.backends.cudnn
    if generic is not None:
        torch.backends.fp32_precision = generic
    torch.backends.cudnn.allow_tf32 = before


def test_convolutions_run_at_full_precision_inside_tf32_after(cudnn):
    # cuDNN's convolutions default to TF32 (its switch, torch.backends.cudnn.allow_tf32):
    # the conv architecture trained at reduced precision on a recent GPU, where the
    # products did not; oneDNN's conv setting is pinned with the products'
    cudnn.allow_tf32 = True
    with training_defaults():
        assert cudnn.allow_tf32 is False
        with cudnn.flags(enabled=False):  # a read of the switch in a fit (a callback's)
            pass
        if hasattr(torch.backends.mkldnn, "conv"):
            assert torch.backends.mkldnn.conv.fp32_precision == "ieee"
    assert cudnn.allow_tf32 is True
    cudnn.allow_tf32 = False  # nor does a fit change a caller's False
    with training_defaults():
        pass
    assert cudnn.allow_tf32 is False


@per_backend
def test_cudnn_settings_a_caller_set_apart_are_left_alone(cudnn):
    # torch refuses to read the switch once cuDNN's conv and RNN settings differ: a fit
    # then leaves them as the caller set them (and does not fail)
    cudnn.conv.fp32_precision = "ieee"  # the RNN's stays "tf32"
    with training_defaults():
        assert (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) == ("ieee", "tf32")
    assert (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) == ("ieee", "tf32")


@per_backend
def test_convolutions_run_at_full_precision_under_the_generic_tf32_setting(cudnn):
    # torch's own API for TF32 everywhere: the switch set to False left cuDNN's conv
    # setting at "none", which follows the generic "tf32" (and the switch could not be read)
    torch.backends.fp32_precision = "tf32"
    with training_defaults():
        assert (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) == ("ieee", "ieee")
        assert cudnn.allow_tf32 is False
        with cudnn.flags(enabled=False):
            pass
    assert (cudnn.conv.fp32_precision, cudnn.allow_tf32) == ("tf32", True)
