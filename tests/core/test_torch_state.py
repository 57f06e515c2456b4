"""dtc._torch_state.training_defaults: the torch settings a fit trains under, whatever its
caller (or another thread's caller) set, and the caller's restored after."""

import threading

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


def test_onednn_convolutions_are_pinned_and_cudnn_is_left_as_the_caller_set_it():
    # oneDNN's conv setting is pinned with the products' (a caller's "bf16" changed a CPU
    # fit's convolutions). cuDNN's is not written: any write lost its untouched state (a
    # caller's later generic setting no longer reached it after one fit), and its conv
    # setting written alone made a read of its switch in the fit fail
    cudnn = torch.backends.cudnn
    before = (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) if hasattr(cudnn, "conv") else ()
    with training_defaults():
        if hasattr(torch.backends.mkldnn, "conv"):
            assert torch.backends.mkldnn.conv.fp32_precision == "ieee"
        with cudnn.flags(enabled=False):  # a read of its switch in a fit (a callback's)
            pass
        if before:
            assert (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) == before
    if before:
        assert (cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision) == before


def test_a_fit_inside_no_grad_inference_mode_or_autocast_trains_with_grad_in_float32():
    # documented: a fit inside the caller's no_grad() / inference_mode() failed at the first
    # backward, and inside autocast("cpu", bfloat16) trained in bfloat16 (mutation-test gap)
    a = torch.ones(3, 3)
    for outer in (torch.no_grad, torch.inference_mode):
        with outer():
            with training_defaults():
                assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
                w = torch.ones(3, requires_grad=True)
                (a @ w).sum().backward()
                assert w.grad is not None
            assert not torch.is_grad_enabled()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with training_defaults():
            assert (a @ a).dtype == torch.float32
        assert (a @ a).dtype == torch.bfloat16


def test_a_fit_inside_a_fit_enters_the_global_state_lock_again():
    # GLOBAL_STATE_LOCK is re-entrant: the monitor's reference is fitted inside a DTC fit
    # (a plain lock waited for itself for ever); the inner fit's seeding is undone after it
    from dtc.nn.training import deterministic

    drawn = []

    def nested():
        with deterministic(0):
            first = torch.rand(2)
            with deterministic(0):
                drawn.append(torch.equal(torch.rand(2), first))
            drawn.append(not torch.equal(torch.rand(2), first))

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(10)
    assert drawn == [True, True]


def test_cpu_vendor_reads_the_vendor_id_line(monkeypatch):
    import dtc._torch_state as state

    cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n"

    class FakePath:
        def __init__(self, name):
            assert name == "/proc/cpuinfo"

        def read_text(self):
            return cpuinfo

    monkeypatch.setattr(state, "Path", FakePath)
    assert state.cpu_vendor.__wrapped__() == "AuthenticAMD"


def test_deterministic_restores_the_callers_warn_only_setting_too():
    from dtc.nn.training import deterministic

    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        for was in ((True, False), (True, True), (False, False)):
            torch.use_deterministic_algorithms(was[0], warn_only=was[1])
            with deterministic(0):
                assert torch.are_deterministic_algorithms_enabled()
                assert torch.is_deterministic_algorithms_warn_only_enabled()
            assert (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            ) == was
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
