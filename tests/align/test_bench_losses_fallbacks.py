"""scripts/bench_losses.py where the machine tells it less (no ``MemAvailable``, no load
average, no ``model name`` in /proc/cpuinfo, as on ARM), a ``--repeats`` that is no integer,
and a run without ``--losses``: every default key, in order, in each block."""

import io
import json
import platform

import pytest


@pytest.fixture
def bench(load_script):
    return load_script("bench_losses")


def _opener(text: str):
    def fake_open(path, *args, **kwargs):
        return io.StringIO(text)

    return fake_open


def test_a_meminfo_without_memavailable_is_no_memory_limit(bench, monkeypatch):
    # kernels before 3.14 have no MemAvailable line: nothing is skipped for the memory
    monkeypatch.setattr(
        bench, "open", _opener("MemTotal: 1024 kB\nMemFree: 512 kB\n"), raising=False
    )
    assert bench._mem_available_gb() == float("inf")
    monkeypatch.setattr(bench, "open", _opener("MemAvailable: 2097152 kB\n"), raising=False)
    assert bench._mem_available_gb() == 2.0


def test_a_cpuinfo_without_a_model_name_falls_back_to_platform(bench, monkeypatch):
    arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n"
    monkeypatch.setattr(bench, "open", _opener(arm), raising=False)
    assert bench._cpu_model() == (platform.processor() or platform.machine())
    monkeypatch.setattr(bench, "open", _opener("model name\t: Some CPU @ 2.0GHz\n"), raising=False)
    assert bench._cpu_model() == "Some CPU @ 2.0GHz"


def test_no_load_average_is_not_busy(bench, monkeypatch):
    def no_load():
        raise OSError("load average unobtainable")

    monkeypatch.setattr(bench.os, "getloadavg", no_load)
    assert bench._busy(64) is None


def test_repeats_that_is_no_integer_is_a_usage_error(bench, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--losses", "coral", "--repeats", "abc"])
    assert exit_.value.code == 2
    assert "--repeats: expected an integer >= 1, got 'abc'" in capsys.readouterr().err


def test_without_losses_every_default_key_is_measured_in_each_block(bench, monkeypatch, capsys):
    ran = []

    def run_one(key, n, d, args):
        ran.append((key, n, d))
        return dict(loss=key, impl="?", n=n, d=d, seconds=None, peak_mb=None, status="skipped")

    monkeypatch.setattr(bench, "_run_one", run_one)
    monkeypatch.setattr(bench, "_busy", lambda threads: None)
    assert bench.main(["--n", "8", "--d", "2,3", "--json"]) == 0
    keys = bench.default_keys()
    assert ran == [(k, 8, 2) for k in keys] + [(k, 8, 3) for k in keys]
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["loss_key"] for r in rows] == keys + keys
