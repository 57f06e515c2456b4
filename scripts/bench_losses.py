"""Speed and memory of dtc's alignment losses against pytorch-adapt and POT.

Usage::

    python scripts/bench_losses.py                      # default grid, table
    python scripts/bench_losses.py --json               # one JSON object per line
    python scripts/bench_losses.py --losses mmd,pa_mmd_q33 --n 4096 --d 256
    python scripts/bench_losses.py --losses mmd_linear --n 1000000 --d 64
    python scripts/bench_losses.py --losses my_losses:MeanDifference --n 1024 --d 64
    python scripts/bench_losses.py --out bench.jsonl    # resumable: run it again to resume

A ``module:Class`` key is a user's loss, imported as ``dtc run`` imports one: from the
working directory (``my_losses.py`` there) or any installed module.

What is measured, per (loss, n, d), on ``n`` source and ``n`` target samples
(standard normal, target shifted by 0.5), float32, CPU, ``--threads`` (default 2; on a
machine busy with other jobs, the threads of a small loss wait on each other: CORAL at
n = 512 read 0.26 s on 2 threads for 0.003 s on 1, so the script warns, and ratios of
small losses are worth measuring with ``--threads 1`` there):

``seconds``      median over ``--repeats`` of one forward + backward (wall clock), after one
                 untimed warm-up call (skipped when a call takes over 10 s; then one timed
                 call only);
``cpu_seconds``  the same in process CPU time, all threads (it leaves out the time the
                 process waited for a core, but not the time its threads spent waiting
                 for each other: with ``--threads`` > 1 on a busy machine it rises too);
``peak_mb``      extra peak resident memory: each configuration runs in a **fresh
                 subprocess**; its own high-water mark (``VmHWM``,
                 :func:`dtc._memory.peak_rss_mib`) is set back to the current resident
                 memory once the imports and the inputs exist (baseline,
                 :func:`dtc._memory.reset_peak`: before the thirty-seventh session the
                 peak of the inputs' temporaries stayed in it, and up to one n x d array
                 of the loss's memory read as nothing) and read after the timed calls;
                 the difference, in MiB, is the high-water mark the loss added, the
                 autograd engine's first-backward buffers left out (a backward of a
                 2-element probe before the baseline: a loss that allocates nothing read
                 4.7 MiB at n = 256, d = 64, 2.2 since, its inputs' gradients and the
                 allocator's rounding; memory ratios of losses of a few MiB say little
                 next to that floor). (Where the
                 mark cannot be reset, a loss whose peak stays below the baseline's reads
                 0; tracemalloc does not see torch's
                 allocations, hence RSS. Before the thirty-fifth session this read
                 ``ru_maxrss``, which a worker inherits from this script's process, ~320
                 MB with torch and pytorch-adapt imported: dtc's workers, below that,
                 read too little, often 0, while the peers', above it, read in full.)

Losses: every loss in ``dtc.align.available()`` that builds with default arguments
(called as DTC calls them: all get ``progress=0.5``, and the conditional ones the context
``source_probs``/``target_probs`` = random soft assignments over 10 clusters, drawn once
before the timed calls; the warm-up's value must be a finite real scalar with a gradient,
or the row fails; dtc's wrappers of pytorch-adapt are left out, the peers are measured
directly), a few named variants
(``mmd_1k``: one kernel), and the peers ``pa_mmd_q33`` / ``pa_mmd_q1`` (pytorch-adapt
``MMDLoss(mmd_type="quadratic")`` with its 33 scales / one scale), ``pa_mmd_lin33``
(``mmd_type="linear"``), ``pa_coral`` (``CORALLoss``) and ``pot_swd``
(``ot.sliced_wasserstein_distance`` on torch tensors, 50 projections). dtc's MMD rows use
the peers' kernels (``median="source_with_diagonal"``, scales ``1/s``) so the estimate is
the same number. A configuration that fails, exceeds ``--timeout`` seconds or would not fit
gets a row saying so: pytorch-adapt's quadratic MMD is skipped above n = 4096 (it holds
``3 n^2`` distances and ``3 n^2 S`` exponentials: > 11 GB at n = 4096 with 33 scales) or
when the machine has less memory available than that, scaled to n and S, plus 3 GB (14 GB at
n = 4096, S = 33); quadratic losses are skipped above n = 16384. A peer whose package
(pytorch-adapt, POT) is not installed is skipped with a row saying so.

``--out FILE`` keeps the rows, each appended to FILE as one JSON line as it ends (with the
settings it was measured under, ``settings``, and the id of its ``stretch``), and running
the same command again reuses them. The table compares a dtc loss with its peer *at the
same (n, d)*, and on a noisy machine a ratio means something only between rows measured
back to back, so the unit of reuse is an (n, d) block, measured in one stretch: a block is
reused whole when one earlier stretch of it, under the same settings, holds a row for every
key asked for (the latest such stretch when there are several); otherwise the whole block is
measured again, and its new rows, not the older ones still in FILE, are the ones printed.
The settings are ``--repeats``, ``--threads``, ``--timeout``, the versions of Python, torch,
dtc (its source's hash), pytorch-adapt and POT, torch's CPU kernels and the machine's CPU
model and count; rows of FILE under other settings are not reused, and are kept. A loss of
your own (a ``module:Class`` key, or a name registered to a class outside dtc) is known by
the hash of the file that defines it, as ``dtc run`` knows it (``code`` in its rows): after
an edit to that file its rows are not reused, and its blocks are measured again (an edit to
another file it imports is not seen: give another FILE then).
A row that failed, timed out or was skipped is reused as such (delete its line to measure it
again), but for a peer skipped for lack of the memory free at the time, whose block is
measured again when the memory free now would let it run. A last line cut short by an interruption is not a row (the next append cuts it
off). ``--json`` and the table include the reused rows; an interruption (Ctrl-C, SIGTERM)
says, in one line, where the finished rows are kept, and that the block it cut is measured
again whole.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from dtc._entry import run_script
from dtc._validation import path_argument

DTC_VARIANTS = {
    # name: (registry name, kwargs, estimator, kernels, peer)
    "mmd": ("mmd", {"median": "source_with_diagonal"}, "unbiased", 33, "pa_mmd_q33"),
    "mmd_1k": (
        "mmd",
        {"median": "source_with_diagonal", "scales": [1.0]},
        "unbiased",
        1,
        "pa_mmd_q1",
    ),
    "mmd_linear": ("mmd_linear", {"median": "source_with_diagonal"}, "linear", 33, "pa_mmd_lin33"),
    "coral": ("coral", {}, "", 0, "pa_coral"),
    "swd": ("swd", {}, "", 0, "pot_swd"),
}
PEERS = {
    "pa_mmd_q33": ("mmd", "pytorch-adapt", "unbiased", 33),
    "pa_mmd_q1": ("mmd", "pytorch-adapt", "unbiased", 1),
    "pa_mmd_lin33": ("mmd_linear", "pytorch-adapt", "linear", 33),
    "pa_coral": ("coral", "pytorch-adapt", "", 0),
    "pot_swd": ("swd", "pot", "", 0),
}
QUADRATIC = {"mmd", "mmd_1k", "jmmd", "pa_mmd_q33", "pa_mmd_q1", "sinkhorn"}
SKIP_REGISTRY = {"pytorch_adapt", "pa_mmd", "pa_coral"}  # dtc's wrappers of the peers


def _mem_available_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def _build(key: str, n: int):
    """(callable(x, y) -> scalar, row fields) for one benchmark key at ``n`` samples per
    domain; what the callable needs besides ``x`` and ``y`` is made here, untimed."""
    import torch

    if key in PEERS:
        loss, impl, estimator, kernels = PEERS[key]
        if key.startswith("pa_mmd"):
            from pytorch_adapt.layers import MMDLoss
            from pytorch_adapt.layers.utils import get_kernel_scales

            scales = get_kernel_scales() if kernels == 33 else 1.0
            mmd_type = "linear" if estimator == "linear" else "quadratic"
            fn = MMDLoss(kernel_scales=scales, mmd_type=mmd_type)
        elif key == "pa_coral":
            from pytorch_adapt.layers import CORALLoss

            fn = CORALLoss()
        else:
            import ot

            def fn(x, y):
                return ot.sliced_wasserstein_distance(x, y, n_projections=50, seed=0)

        return fn, dict(loss=loss, impl=impl, estimator=estimator, kernels=kernels)
    import dtc.align as align

    if key in DTC_VARIANTS:
        name, kwargs, estimator, kernels, _ = DTC_VARIANTS[key]
        loss = align.get(name, **kwargs)
    else:
        name, kwargs, estimator = key, {}, getattr(align.get_class(key), "estimator", "")
        loss = align.get(name, **kwargs)
        kernels = kernel_count(loss)
    row = dict(
        loss=key, impl="dtc", estimator=getattr(loss, "estimator", estimator), kernels=kernels
    )
    # The context the pipeline passes (DTC._context): the progress to every loss, the soft
    # assignments only to a conditional one (a loss taking (source, target, progress=0.0),
    # which trains in DTC, failed here on source_probs). Made once, before the timed calls:
    # an input, as x and y are (drawn inside the timed call it was timed for dtc's rows
    # alone, ~12 ms a call, 90x pa_coral's time at n = 64).
    context = {"progress": 0.5}
    if getattr(loss, "conditional", False):
        gen = torch.Generator().manual_seed(1)
        context["source_probs"] = torch.softmax(torch.randn(n, 10, generator=gen), 1)
        context["target_probs"] = torch.softmax(torch.randn(n, 10, generator=gen), 1)

    def fn(x, y):
        return loss(x, y, **context)

    return fn, row


def kernel_count(loss) -> int | None:
    """S of a loss outside :data:`DTC_VARIANTS`: the Gaussian kernels of its
    :class:`~dtc.align.mmd.GaussianFamily` attributes (their product for JMMD's joint
    kernels, 33 x 1), 0 for a dtc loss without any, ``None`` (``-``) for a user's loss whose
    kernels are not dtc's (0 was printed: the README's one-kernel subclass of ``mmd``)."""
    from dtc.align.mmd import GaussianFamily

    families = [v for v in vars(loss).values() if isinstance(v, GaussianFamily)]
    if families:
        return math.prod(len(f.sigmas or f.scales) for f in families)
    # a pytorch-adapt MMDLoss wrapped by dtc (pa_mmd, pytorch_adapt): its kernel_scales
    scales = getattr(getattr(loss, "layer", None), "kernel_scales", None)
    if scales is not None:
        return scales.numel() if hasattr(scales, "numel") else 1
    return 0 if type(loss).__module__.startswith("dtc.") else None


def _busy(threads: int) -> float | None:
    """The 1-minute load average when other jobs hold the cores that ``threads`` threads
    need (more than one core short), else None (or where the load cannot be read)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return None
    # more threads than cores leave no core free: busy past one more job (not at any load)
    if threads > 1 and load > max(0, (os.cpu_count() or 1) - threads) + 1:
        return load
    return None


def _check_value(value, key: str) -> None:
    """``ValueError`` unless ``value``, what loss ``key`` returned, is one DTC trains with
    (DTC checks it in its dry call, then each batch): a real floating-point scalar tensor
    with a gradient, and finite. A vector failed in backward with torch's bare "grad can be
    implicitly created only for scalar outputs", and a NaN was timed and reported "ok"."""
    import torch

    from dtc.align.base import check_loss_value

    check_loss_value(value, f"loss {key}")
    if not value.requires_grad:
        raise ValueError(
            f"loss {key} returned a value without a gradient (detached, computed under "
            "torch.no_grad, or outside torch): it cannot move the embeddings"
        )
    if not torch.isfinite(value.detach()).all():
        raise ValueError(f"loss {key} returned {float(value.detach())}, expected a finite value")


def _worker(key: str, n: int, d: int, repeats: int, threads: int) -> dict:
    import torch

    from dtc._memory import peak_rss_mib, reset_peak

    # A "module:Class" key names a user's module in the working directory (the worker runs
    # in the invoker's), which ``python scripts/...`` does not put on sys.path: added as
    # dtc's command line does for its plugins (dtc.cli._import_here, not imported here so
    # the worker's baseline memory holds no CLI modules).
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())

    torch.set_num_threads(threads)
    fn, row = _build(key, n)
    row.update(n=n, d=d)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=gen).requires_grad_(True)
    y = (torch.randn(n, d, generator=gen) + 0.5).requires_grad_(True)
    # The autograd engine's first backward allocates what every later one reuses (its
    # threads, their buffers): counted in the first loss's peak, a loss that allocates
    # nothing read 4.7 MiB, and the memory ratios of small losses leaned towards 1.
    probe = torch.ones(2, requires_grad=True)
    (probe * 2).sum().backward()
    reset_peak()  # the inputs' temporaries are gone: not the baseline's peak
    base_mib = peak_rss_mib()

    def once(check=False):
        x.grad = y.grad = None
        w0, c0 = time.perf_counter(), time.process_time()
        value = fn(x, y)
        if check:  # before backward, whose errors name no loss (microseconds, warm-up only)
            _check_value(value, key)
        value.backward()
        return time.perf_counter() - w0, time.process_time() - c0

    first = once(check=True)  # warm-up (allocator, thread pool, MKL)
    times = [first] if first[0] > 10 else [once() for _ in range(repeats)]
    peak_mib = peak_rss_mib()
    row.update(
        seconds=statistics.median(t[0] for t in times),
        cpu_seconds=statistics.median(t[1] for t in times),
        peak_mb=round(peak_mib - base_mib, 1),
        status="ok",
    )
    return row


#: The module each peer imports (its package's name, for the row that says it is missing).
PEER_MODULES = {
    "pa_mmd_q33": ("pytorch_adapt", "pytorch-adapt"),
    "pa_mmd_q1": ("pytorch_adapt", "pytorch-adapt"),
    "pa_mmd_lin33": ("pytorch_adapt", "pytorch-adapt"),
    "pa_coral": ("pytorch_adapt", "pytorch-adapt"),
    "pot_swd": ("ot", "POT"),
}


def pa_quadratic_gb(n: int, kernels: int) -> float:
    """GB pytorch-adapt's quadratic MMD needs at ``n`` per domain with ``kernels`` scales:
    its n x n distances and n x n x S exponentials, scaled from the 10.8 GB measured at
    n = 4096, S = 33 (0.73 GB at n = 1024)."""
    return 11.0 * (n / 4096) ** 2 * (kernels + 2) / 35


#: How a row skipped for the memory the machine had *then* begins: not reused by ``--out``.
MEMORY_SKIP = "skipped: only"


def _skip_reason(key: str, n: int) -> str | None:
    if key in PEER_MODULES:
        module, package = PEER_MODULES[key]
        if importlib.util.find_spec(module) is None:
            return f"skipped: {package} is not installed (the peer {key} needs it)"
    if key.startswith("pa_mmd_q") and n > 4096:
        return "skipped: pytorch-adapt quadratic holds 3 n^2 S floats (>11 GB at n=4096, S=33)"
    if key.startswith("pa_mmd_q"):
        # what it needs, plus 3 GB for the rest of the machine
        need = pa_quadratic_gb(n, PEERS[key][3]) + 3
        if _mem_available_gb() < need:
            return f"{MEMORY_SKIP} {_mem_available_gb():.1f} GB available, needs ~{need:.1f} GB"
    if key == "pa_mmd_lin33" and n > 16384:
        return "skipped: pytorch-adapt's linear estimate still builds n x n distances"
    if key in QUADRATIC and n > 16384:
        return "skipped: quadratic in n"
    return None


def _short_of_memory(key: str, n: int) -> bool:
    """Whether ``key`` at ``n`` would be skipped now for the memory free."""
    return str(_skip_reason(key, n)).startswith(MEMORY_SKIP)


def _run_one(key, n, d, args) -> dict:
    reason = _skip_reason(key, n)
    if reason is None:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", key, str(n), str(d)]
        cmd += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            reason = f"timeout: over {args.timeout} s"
        else:
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode == 0 and lines:
                return json.loads(lines[-1])
            err = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]
            reason = f"failed (exit {out.returncode}): {err[:160]}"
    return dict(loss=key, impl="?", n=n, d=d, seconds=None, peak_mb=None, status=reason)


def default_keys() -> list[str]:
    import dtc.align as align

    keys = list(DTC_VARIANTS)
    for name in align.available():
        if name not in keys and name not in SKIP_REGISTRY:
            keys.append(name)
    return keys + list(PEERS)


def _secs(seconds: float) -> str:
    """Seconds in the table: 3 decimals, or 2 significant digits under a millisecond (a
    cheap loss read 0.000)."""
    return f"{seconds:.3f}" if seconds >= 0.001 else f"{seconds:.1e}"


def _or_dash(value) -> str:
    return "-" if value is None else str(value)


def _table(rows: list[dict]) -> str:
    by_key = {(r["loss_key"], r["n"], r["d"]): r for r in rows}
    # a user's "module:Class" key is longer than dtc's names: it ran into the next column
    w = max([14, *(len(r["loss_key"]) + 2 for r in rows)])
    lines = [
        f"{'loss':<{w}}{'impl':<15}{'est':<10}{'S':>3}{'n':>9}{'d':>5}{'sec':>9}{'cpu_s':>9}"
        f"{'peak MiB':>9}  peer: time ratio dtc/peer, memory ratio"
    ]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"{r['loss_key']:<{w}}{'':<28}{r['n']:>9}{r['d']:>5}  {r['status']}")
            continue
        extra = ""
        peer = DTC_VARIANTS.get(r["loss_key"], (None,) * 5)[4]
        p = by_key.get((peer, r["n"], r["d"]))
        if p and p["status"] == "ok":
            mem = f"{r['peak_mb'] / p['peak_mb']:.3f}" if p["peak_mb"] else "n/a"
            extra = f"  {peer}: {r['seconds'] / p['seconds']:.3f}x time, {mem}x mem"
        elif p:
            extra = f"  {peer}: {p['status'][:60]}"
        lines.append(
            f"{r['loss_key']:<{w}}{r['impl']:<15}{r['estimator'] or '-':<10}{_or_dash(r['kernels']):>3}"
            f"{r['n']:>9}{r['d']:>5}{_secs(r['seconds']):>9}{_secs(r['cpu_seconds']):>9}"
            f"{r['peak_mb']:>9.1f}{extra}"
        )
    return "\n".join(lines)


def positive_ints(text: str) -> list[int]:
    """An argparse ``type``: comma-separated distinct integers >= 1 (``--n``, ``--d``)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:  # as a loss given twice: each of its blocks was measured twice
        twice = ", ".join(map(str, repeated))
        raise argparse.ArgumentTypeError(f"{twice} given twice (measured twice), in {text!r}")
    return values


#: The most ``--threads``: torch takes a C int, and 10**11 passed, then failed every
#: worker ("Overflow when unpacking long") while the script exited 0. Not the machine's
#: cores: more threads than cores is a measurement this script takes (it warns when the
#: machine is busy); 256 is past every machine it runs on, and a larger count a typo.
MAX_THREADS = 256


def positive_int(text: str, maximum: int | None = None) -> int:
    """An argparse ``type``: an integer >= 1 (``--repeats``), and <= ``maximum`` when given
    (:func:`thread_count`)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"expected an integer <= {maximum}, got {text!r}")
    return value


def thread_count(text: str) -> int:
    """An argparse ``type``: ``--threads``, an integer in [1, :data:`MAX_THREADS`]."""
    return positive_int(text, MAX_THREADS)


def positive_seconds(text: str) -> float:
    """An argparse ``type``: a number of seconds > 0 (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):  # nan too; inf ended in a traceback
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def unknown_keys(keys: list[str]) -> list[str]:
    """The keys of ``keys`` that name no loss here: not a variant, a peer, a registered loss
    or a ``module:Class`` that imports as a loss (as the worker imports it, from the
    working directory), each shown with why."""
    import dtc.align as align

    known = {*DTC_VARIANTS, *PEERS, *align.available()}
    out = []
    for key in keys:
        if ":" in key:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            try:
                align.get_class(key)
            except ValueError as exc:  # every worker would fail on it, one per (n, d)
                out.append(f"{key!r} ({exc})")
        elif key not in known:
            out.append(repr(key))
    return out


def loss_keys(text: str | None) -> list[str]:
    """``--losses`` as keys: comma-separated, spaces stripped; ``None``: every loss."""
    if text is None:
        return default_keys()
    keys = [k.strip() for k in text.split(",")]
    if not all(keys):
        # "" ran every loss (hours on the default grid), "mmd," an empty key
        raise ValueError(f"--losses: expected comma-separated loss keys, got {text!r}")
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"--losses: {', '.join(repeated)} given twice (measured twice)")
    return keys


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measurement_settings(args) -> dict:
    """What a row's figures depend on besides its (loss, n, d), as ``--out`` records it and
    compares it (JSON round-tripped): the options, the versions of the packages measured
    (dtc's source hash included) and the machine's CPU."""
    # here, not at module level: the worker's baseline memory holds none of it
    from dtc.experiment.single import package_versions

    versions = package_versions()
    try:
        versions["pytorch-adapt"] = version("pytorch-adapt")
    except PackageNotFoundError:
        versions["pytorch-adapt"] = None
    settings = {
        "repeats": args.repeats,
        "threads": args.threads,
        "timeout": args.timeout,
        "versions": versions,
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
    }
    return json.loads(json.dumps(settings))


def loss_code(key: str) -> dict:
    """The hash of the file defining ``key``'s loss when it is a user's (a ``module:Class``
    key or a name registered to a class outside dtc), as ``dtc run`` puts it in a run id
    (:func:`dtc.experiment.config.plugin_code`); ``{}`` for dtc's losses and the peers."""
    from dtc.experiment.config import plugin_code

    return plugin_code(key)


def reusable_blocks(
    records: list[dict],
    settings: dict,
    keys: list[str],
    codes: dict | None = None,
    short_now=None,
) -> tuple[dict, int]:
    """``({(n, d): {key: row}}, other)``: for each (n, d) of ``records`` (``--out``'s rows)
    with a stretch under ``settings`` that holds a row of every key of ``keys``, the rows
    of the latest such stretch; ``other``: how many records were made under other settings
    (or are not rows of this script). A row whose ``code`` is not ``codes[key]`` (by
    :func:`loss_code`: a user's loss edited since) is not reused, nor counted in ``other``.
    A row skipped for the memory free then is no row unless ``short_now(key, n)`` (the
    machine still lacks that memory: measuring the block again would skip it again)."""
    codes = codes or {}
    stretches: dict[tuple, dict[str, dict]] = {}  # in file order: a stretch is contiguous
    other = 0
    for r in records:
        if r.get("settings") != settings or not {"loss_key", "n", "d", "stretch"} <= set(r):
            other += 1
            continue
        if r.get("code", {}) != codes.get(r["loss_key"], {}):
            continue  # measured on another version of a user's loss: measure it again
        if str(r.get("status", "")).startswith(MEMORY_SKIP) and not (
            short_now is not None and short_now(r["loss_key"], r["n"])
        ):
            continue  # the memory free then, not a property of the loss: measure it again
        stretches.setdefault((r["n"], r["d"], r["stretch"]), {})[r["loss_key"]] = r
    blocks = {}
    for (n, d, _), rows in stretches.items():
        if all(k in rows for k in keys):
            blocks[n, d] = rows  # a later stretch replaces an earlier one
    return blocks, other


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--losses", help="comma-separated keys (default: all); see module docstring")
    ap.add_argument(
        "--n",
        type=positive_ints,
        default="256,1024,4096,16384",
        help="samples per domain, comma-separated",
    )
    ap.add_argument(
        "--d", type=positive_ints, default="64,256", help="feature dimensions, comma-separated"
    )
    ap.add_argument("--repeats", type=positive_int, default=3)
    ap.add_argument(
        "--threads", type=thread_count, default=2, help=f"torch threads (at most {MAX_THREADS})"
    )
    ap.add_argument(
        "--timeout", type=positive_seconds, default=120.0, help="seconds per configuration"
    )
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument(
        "--out",
        metavar="FILE",
        type=path_argument,
        help="append each finished row to FILE as a JSON line; run again with the same FILE "
        "and the (n, d) blocks it holds whole, under the same settings, are reused, not "
        "measured again (see the module docstring)",
    )
    ap.add_argument("--worker", nargs=3, metavar=("KEY", "N", "D"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        key, n, d = args.worker[0], int(args.worker[1]), int(args.worker[2])
        print(json.dumps(_worker(key, n, d, args.repeats, args.threads)), flush=True)
        return 0
    try:
        keys = loss_keys(args.losses)
    except ValueError as exc:
        ap.error(str(exc))
    unknown = unknown_keys(keys)
    if unknown:  # each (n, d) would start a worker that fails on it
        ap.error(
            f"--losses: unknown key(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(default_keys())} or module:Class"
        )
    # here, not at module level: the worker's baseline memory holds none of it
    from dtc.experiment.store import (
        append_record,
        check_appendable,
        exit_on_interrupt,
        read_records,
        record_check,
    )

    name = Path(__file__).name
    # A block's ratios compare rows measured back to back, so resuming reuses whole blocks.
    cut = "the (n, d) block it was measuring is measured again whole"
    with exit_on_interrupt(name, args.out, cut if args.out is not None else None):
        blocks = [(n, d) for d in args.d for n in args.n]
        settings, reused, other = None, {}, 0
        codes = {}
        if args.out is not None:
            settings = measurement_settings(args)
            # a user's module in the working directory, importable to hash, as the worker
            # imports it
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            codes = {key: code for key in keys if (code := loss_code(key))}
            try:
                # another script's file (a sweep's results.jsonl) took these rows too, and
                # its own reader then refused them
                records = read_records(args.out, check=record_check("loss_key", "n", "d", "status"))
                check_appendable(args.out)
            except (OSError, ValueError) as exc:  # a broken line, a directory
                ap.error(f"--out: {exc}")
            reused, other = reusable_blocks(records, settings, keys, codes, _short_of_memory)
            reused = {b: rows for b, rows in reused.items() if b in blocks}
        total = len(keys) * len(blocks)
        todo = total - len(keys) * len(reused)
        said = f"{name}: {total} configurations in {_count(len(blocks), '(n, d) block')}"
        if args.out is not None:
            said += (
                f": {total - todo} reused from {args.out} ({_count(len(reused), 'whole block')}), "
                f"{todo} to do"
            )
            if other:
                said += f"; {other} rows there are of other settings, not reused"
        print(said, file=sys.stderr, flush=True)
        if (load := _busy(args.threads)) is not None:
            print(
                f"{name}: the machine is busy (1-minute load {load:.1f} on "
                f"{os.cpu_count()} cores): with --threads {args.threads} the threads of a "
                "small loss wait on each other and its time reads high, up to 100 times; "
                "use --threads 1, or measure on an idle machine",
                file=sys.stderr,
                flush=True,
            )
        rows = []
        done = 0
        start = time.perf_counter()
        for n, d in blocks:
            if (n, d) in reused:
                for key in keys:
                    row = reused[n, d][key]
                    rows.append(row)
                    if args.json:
                        print(json.dumps(row), flush=True)
                if not args.json:
                    print(
                        f"[reused] n={n} d={d}: {len(keys)} configurations from {args.out}",
                        file=sys.stderr,
                        flush=True,
                    )
                continue
            stretch = uuid.uuid4().hex[:12]  # one block, measured back to back
            for key in keys:
                row = _run_one(key, n, d, args)
                row["loss_key"] = key
                if args.out is not None:
                    row.update(settings=settings, stretch=stretch)
                    if key in codes:
                        row["code"] = codes[key]
                    append_record(args.out, row)
                rows.append(row)
                done += 1
                if args.json:
                    print(json.dumps(row), flush=True)
                else:  # the table comes at the end: say how far it got
                    print(
                        f"[{done}/{todo} {time.perf_counter() - start:6.0f}s] "
                        f"{key} n={n} d={d}: {row['status']}",
                        file=sys.stderr,
                        flush=True,
                    )
        if not args.json:
            print(_table(rows))
        # every worker failed (--threads 10**11 failed each one) and the exit was 0: as
        # run_baselines.py and `dtc run`, a failure is exit 1; a skip is by design, not one
        failed = [r for r in rows if str(r["status"]).startswith(("failed", "timeout"))]
        if failed:
            shown = ", ".join(f"{r['loss_key']} n={r['n']} d={r['d']}" for r in failed[:5])
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            print(
                f"{name}: {len(failed)} of {_count(len(rows), 'configuration')} failed or timed "
                f"out ({shown}{more}): exit 1",
                file=sys.stderr,
                flush=True,
            )
            return 1
        return 0


if __name__ == "__main__":
    run_script(main)
