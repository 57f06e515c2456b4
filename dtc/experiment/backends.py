"""Where the runs of a sweep execute: in this process, in local processes, or on Ray.

Every backend takes :class:`~dtc.experiment.config.Task` s and yields
``(task, record, error)`` as runs finish (in completion order), with exactly one of
``record`` and ``error`` set. Backends never write results: the parent process
appends each record itself, so the results file has a single writer whatever the
parallelism.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from dtc._plugins import module_of
from dtc._validation import is_int_at_least
from dtc.experiment.config import Task, _registry
from dtc.experiment.store import Terminated

__all__ = ["BACKENDS", "check_backend", "check_workers_can_import", "execute", "run_tasks"]

BACKENDS = ("local", "ray")


# The registries a sweep's parent may have names registered in at run time, by module.
_REGISTRIES = {"dtc.methods": "_METHODS", "dtc.align.registry": "_LOSSES"}


def registrations() -> list[tuple[str, str, bytes]]:
    """``(registry module, name, pickled class or "module:Class")`` of every name this
    process registered at run time (``dtc.methods.register``, ``dtc.align.register``).

    A worker process starts with only the built-in and entry-point names: a method or
    loss that a script registers before its sweep (in its ``if __name__ == "__main__":``
    block) passes the config's checks here, and would be unknown in every run of
    ``jobs > 1``. The workers register these again (:func:`_register`). A class that does
    not pickle is left out: a sweep whose runs name it is refused before it starts
    (:func:`check_workers_can_import`)."""
    out = []
    for module, attr in _REGISTRIES.items():
        if module not in sys.modules:  # never imported: nothing registered in it
            continue
        for name, cls in getattr(sys.modules[module], attr)._registered.items():
            try:
                out.append((module, name, pickle.dumps(cls)))
            except Exception:  # e.g. a class defined in a function
                continue
    return out


#: ``{(kind, name): why}`` for the names of :func:`registrations` that this (worker)
#: process could not load (:func:`_register`), kind as in ``Task.code``: "loss", "method".
_UNLOADED: dict[tuple[str, str], str] = {}


def _register(registered) -> None:
    """Register in this (worker) process the names of :func:`registrations`. One whose
    class cannot be loaded here (defined under the script's ``if __name__ ==
    "__main__":``, which a worker skips) is noted in :data:`_UNLOADED`, for its runs to
    say so (:func:`_check_registered`)."""
    for module, name, blob in registered or ():
        registry = getattr(importlib.import_module(module), _REGISTRIES[module])
        try:
            cls = pickle.loads(blob)
        except Exception as exc:
            _UNLOADED[registry.what, name] = f"{type(exc).__name__}: {exc}"
            continue
        _UNLOADED.pop((registry.what, name), None)
        registry.register(name, cls, overwrite=True)


def _check_registered(code: dict) -> None:
    """A name registered in the sweep's process that a task's run id hashed (``"loss NAME
    -> module:Class"``) was loaded in this one: else its run failed with "the code
    changed since the sweep was planned" (:func:`_check_unchanged` finds no code for it
    here), and running the sweep again failed the same way."""
    for key in code:
        named, arrow, path = key.partition(" -> ")
        kind, _, name = named.partition(" ")
        if arrow and (why := _UNLOADED.get((kind, name))) is not None:
            raise ValueError(
                f"{kind} {name!r} ({path}) was registered in the sweep's process, but this "
                f"worker process could not load its class ({why}): define it in a module "
                "file the workers import (at its top level, not a package's __main__), or "
                "run with jobs=1"
            )


def _check_loaded(code: dict) -> None:
    """The plugins a task's run id hashed (``Task.code``: ``"module:Class"``, or ``"loss
    NAME -> module:Class"`` for a registered name) run here from the modules in memory:
    refused when those are older than the files hashed (:func:`dtc._plugins.check_loaded`).
    A worker of ``--jobs N`` imports them afresh."""
    from dtc import align, methods
    from dtc._plugins import check_loaded

    for key in code:
        named, arrow, path = key.partition(" -> ")
        if not arrow:
            check_loaded(key)
            continue
        kind, _, name = named.partition(" ")
        registry = align if kind == "loss" else methods
        try:
            cls = registry.get_class(name)
        except ValueError:  # no longer registered: the run's own lookup names it
            cls = None
        check_loaded(path, cls)


def _check_unchanged(task: Task) -> None:
    """The plugins' code is still what the task's run id hashed. A worker of ``--jobs N``
    imports a plugin afresh, from the file as it is when the task starts: a file edited
    in the middle of a sweep ran its new code, stored under the old hash (so a rerun of
    the old code took those results as its own)."""
    from dtc.experiment.config import plugin_code

    if not task.code:
        return
    now = plugin_code(task.spec.method, task.spec.params)
    changed = [k for k in task.code if now.get(k) != task.code[k]]
    if changed:
        raise ValueError(
            f"{', '.join(changed)}: the code changed since the sweep was planned (hash "
            f"{task.code[changed[0]]} then, {now.get(changed[0])} now); its results would "
            "be stored as the old code's: run the sweep again"
        )


def execute(task_dict: dict, data_dir=None, registered=None) -> dict:
    """Run one task (given as :meth:`Task.to_dict`, so it pickles cheaply) and return
    its record, with ``run_id``, ``label``, ``grid``, ``config`` and ``spec`` added.
    ``registered``: the parent's :func:`registrations`, for a process of its own."""
    from dtc.experiment.single import run_single

    _register(registered)
    task = Task.from_dict(task_dict)
    _check_registered(task.code)
    _check_loaded(task.code)
    _check_unchanged(task)
    record = run_single(task.spec, data_dir=data_dir, imbalance=task.imbalance)
    record.update(
        run_id=task.run_id,
        label=task.label,
        grid=task.grid,
        config=task.config_name,
        spec=task.spec.to_dict(),
    )
    if task.code:  # the code of the plugins it ran (provenance; part of its run_id)
        record["code"] = task.code
    return record


class RunError(RuntimeError):
    """A run's failure as its text, made in the worker: the exception itself had to be
    pickled back to the sweep, and one that could not (an exception whose ``__init__``
    takes other arguments than its message, or one holding a lock) broke the pool, was
    reported as a dead worker, and killed the run beside it."""


#: Whether this worker process is running a task (see :func:`_worker_sigterm`).
_RUNNING = False


def _worker_sigterm(signum, frame) -> None:
    """A worker's SIGTERM (the sweep stopping it, :func:`_stopping`): during a run it is
    raised as :class:`Terminated`, so that the run's clean-up (a checkpoint or cache file
    half written) runs before :func:`_execute_in_worker` exits the process; an idle worker
    exits at once. Killed outright, a worker left its temporary files behind for good."""
    if _RUNNING:
        raise Terminated
    os._exit(Terminated.exit_code)


def _execute_in_worker(task_dict: dict, data_dir=None, registered=None) -> dict:
    """:func:`execute` in a worker process: a failure leaves it as a :class:`RunError`."""
    global _RUNNING
    _RUNNING = True
    try:
        return execute(task_dict, data_dir, registered)
    except Terminated:
        # the run's clean-up ran while this unwound; the pool would take the exception
        # as the run's result and wait for the next task
        os._exit(Terminated.exit_code)
    except (Exception, SystemExit) as exc:  # a method's sys.exit too, as in _serial
        raise RunError(_error_text(exc)) from None
    finally:
        _RUNNING = False


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, RunError):  # already the run's own error, as text
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _serial(tasks, data_dir) -> Iterator[tuple[Task, dict | None, str | None]]:
    for task in tasks:
        try:
            result = execute(task.to_dict(), data_dir)
        # a failing run is reported, the sweep goes on; a method's sys.exit too, as in a
        # worker of --jobs 2 (it ended the sweep with its code, unreported, at every rerun)
        except (Exception, SystemExit) as exc:
            yield task, None, _error_text(exc)
        else:
            yield task, result, None


#: How long stopped workers may take, together, to clean up their runs before those still
#: running are killed (seconds).
STOP_TIMEOUT_S = 10.0

#: How often a worker checks that the sweep that started it is still alive (seconds).
PARENT_CHECK_S = 1.0


def _exit_when_orphaned(parent: int) -> None:
    """Exit this worker as soon as its parent is gone: a parent killed with ``kill -9``
    cannot stop its workers, which would otherwise sit idle for good (re-parented, with
    hundreds of MB each). The run in progress is lost; it was not stored, and the next
    invocation runs it again."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _init_worker(threads: int, parent: int, registered=()) -> None:
    # Each worker gets its share of the cores: more threads than cores only thrash.
    # Set before torch is imported in the worker (spawned children start clean).
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    # The variables come too late for the libraries already loaded when the initializer
    # was unpickled (numpy's and scipy's OpenBLAS, scikit-learn's OpenMP), which kept one
    # thread per core in every worker: limited in place.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    # A Ctrl-C in a terminal reaches the whole process group: the parent alone answers
    # it (by stopping the workers, :func:`_stopping`), without a traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    _register(registered)  # the names the parent registered at run time


# A worker that dies (killed, out of memory, a crash in native code) breaks the whole
# pool: every run still pending in it fails with BrokenProcessPool, and which of them
# killed the worker is unknown. Those runs are run again one at a time, so only the run
# that kills its worker is reported as failed; the sweep then goes on in parallel.
DIED = (
    "the worker process died running this run (killed, out of memory, or a crash in "
    "native code; or, started from a script, the script runs the sweep at import: workers "
    'import it again, so the call must sit under `if __name__ == "__main__":`); the next '
    "invocation retries it"
)


def _pool(jobs: int, threads: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: torch and OpenMP state must not be copied into children.
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads, os.getpid(), registrations()),
    )


@contextmanager
def _stopping(jobs: int, threads: int):
    """A pool (:func:`_pool`) that is shut down when the block ends, and whose workers are
    stopped at once when it ends by an interrupt (Ctrl-C, a generator closed early).

    Leaving a pool's ``with`` block waits for the runs in progress, which can take minutes,
    and an interrupt that lands while the pool starts a worker leaves that worker out of the
    pool's books: nothing ever stops it, and the interpreter waits for it at exit for good.
    So on an interrupt every child process started since the pool was made is terminated;
    the runs they held were not stored, and the next invocation runs them again."""
    import multiprocessing as mp

    before = set(mp.active_children())
    pool = _pool(jobs, threads)
    try:
        yield pool
    except BaseException:
        # A worker inside a long native call answers when it returns to Python: one
        # deadline for all (10 s per worker in turn was 160 s at --jobs 16), and whatever
        # is alive after it, or after a second Ctrl-C / SIGTERM anywhere in this clean-up,
        # is killed (left running, it held the interpreter's exit for good).
        try:
            pool.shutdown(wait=False, cancel_futures=True)
            started = [p for p in mp.active_children() if p not in before]
            for process in started:
                process.terminate()  # SIGTERM: the run's clean-up, then exit (_worker_sigterm)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            for process in started:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            left = [p for p in mp.active_children() if p not in before]
            for process in left:
                process.kill()
            for process in left:
                process.join()
        raise
    pool.shutdown()


def _parallel_pass(todo: Iterator[Task], data_dir, jobs: int, threads: int, broken: list[Task]):
    """Run ``todo`` in one pool until it is exhausted or the pool breaks; yield finished
    runs, and leave in ``broken`` the runs that were pending when it broke."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = {}
    with _stopping(jobs, threads) as pool:

        def refill() -> bool:
            """Submit until 2 x jobs runs are pending; False if the pool is broken."""
            # Submitting lazily keeps at most 2 x jobs runs queued, so an interrupt
            # loses little queued work and memory stays flat on long sweeps.
            while len(pending) < 2 * jobs:
                task = next(todo, None)
                if task is None:
                    return True
                try:
                    pending[pool.submit(_execute_in_worker, task.to_dict(), data_dir)] = task
                except BrokenProcessPool:
                    # A worker died after the last wait returned: this run never
                    # started, and is retried with the runs the break caught.
                    broken.append(task)
                    return False
            return True

        alive = refill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broke = not alive or any(isinstance(f.exception(), BrokenProcessPool) for f in done)
            if broke:  # every run not finished by now failed with the pool, innocent or not
                done = {f for f in pending if f.done()}
            for future in done:
                exc = future.exception()
                if not isinstance(exc, BrokenProcessPool):
                    task = pending.pop(future)
                    yield (
                        task,
                        (None if exc else future.result()),
                        (_error_text(exc) if exc else None),
                    )
            if broke:
                broken.extend(pending.values())
                return
            alive = refill()


def _one_at_a_time(tasks: list[Task], data_dir, threads: int):
    """Run each of ``tasks`` alone in a worker of its own; a run whose worker dies fails
    alone."""
    from concurrent.futures.process import BrokenProcessPool

    for task in tasks:
        with _stopping(1, threads) as pool:
            future = pool.submit(_execute_in_worker, task.to_dict(), data_dir)
            # the worker's exception, not .result(): that re-raised a KeyboardInterrupt or
            # SystemExit of the method in this process, which then stopped the sweep as if
            # the user had pressed Ctrl-C (a Ctrl-C here still interrupts the wait)
            exc = future.exception()
        if isinstance(exc, BrokenProcessPool):
            yield task, None, DIED
        elif exc is not None:
            yield task, None, _error_text(exc)
        else:
            yield task, future.result(), None


def _processes(tasks, data_dir, jobs: int) -> Iterator[tuple[Task, dict | None, str | None]]:
    threads = max(1, (os.cpu_count() or 1) // jobs)
    todo = iter(tasks)
    while True:
        broken: list[Task] = []
        yield from _parallel_pass(todo, data_dir, jobs, threads, broken)
        if not broken:
            return
        yield from _one_at_a_time(broken, data_dir, threads)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "--backend ray needs the optional extra: pip install -e '.[ray]' in the dtc repository "
            "(or pip install ray)"
        ) from exc
    return ray


def check_backend(backend: str, jobs: int) -> None:
    """``ValueError`` for an unknown backend or a wrong ``jobs``, ``RuntimeError`` when the
    backend's optional extra is not installed: what :func:`run_tasks` would raise, before a
    sweep creates its output folder."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not is_int_at_least(jobs, 1):  # numpy's ints too, as every parameter check
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if backend == "ray":
        _import_ray()


#: The fields of a statement that hold the statements it runs (its blocks).
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _is_main_guard(test: ast.expr) -> bool:
    """``test`` is ``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and [type(op) for op in test.ops] == [ast.Eq]):
        return False
    sides = [test.left, *test.comparators]
    names = {side.id for side in sides if isinstance(side, ast.Name)}
    values = {side.value for side in sides if isinstance(side, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def _bindings(body: list, guarded: bool = False) -> Iterator[tuple[str, bool]]:
    """``(name, guarded)`` for every name the statements of ``body`` bind in their module
    (not in a function or class), ``guarded`` when under ``if __name__ == "__main__":``."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield stmt.name, guarded
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield from ((a.asname or a.name.partition(".")[0], guarded) for a in stmt.names)
            continue
        # what the statement itself assigns (a target, a `with ... as`), not its blocks
        for field, value in ast.iter_fields(stmt):
            if field not in _BLOCKS:
                for node in value if isinstance(value, list) else [value]:
                    if isinstance(node, ast.AST):
                        for n in ast.walk(node):
                            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                                yield n.id, guarded
        inner = guarded or (isinstance(stmt, ast.If) and _is_main_guard(stmt.test))
        yield from _bindings(getattr(stmt, "body", []), inner)
        for field in ("orelse", "finalbody"):  # an else of the guard runs in a worker
            yield from _bindings(getattr(stmt, field, []), guarded)
        for block in getattr(stmt, "handlers", []) + getattr(stmt, "cases", []):
            yield from _bindings(block.body, guarded)


def _main_guarded(name: str) -> bool:
    """Whether the main script binds ``name`` only under ``if __name__ == "__main__":``: a
    spawned worker imports the script as ``__mp_main__``, which skips that block, so the
    class is missing there. False when the script cannot be read, or binds ``name``
    elsewhere too (or nowhere: the worker's own error then says so, :func:`_register`)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    try:
        with open(path, "rb") as file:
            tree = ast.parse(file.read())
    except (OSError, SyntaxError, TypeError, ValueError):
        return False
    guarded = {g for n, g in _bindings(tree.body) if n == name}
    return guarded == {True}


def _unloadable_reason(module_name: str, qualname: str, cls: type | None = None) -> str | None:
    """Why a worker process cannot load the class ``qualname`` of ``module_name``, as what
    follows its name in an error; None when it can. ``cls``: the class, for one sent
    pickled (a name registered at run time, :func:`registrations`), which names its module
    and qualified name; without it the worker imports ``"module:Class"`` itself."""
    module = sys.modules.get(module_name)
    if module is not None and getattr(module, "__file__", None) is None:
        return "is defined where there is no file (a notebook cell or python -c)"
    if cls is not None and "<locals>" in qualname:
        return "is defined inside a function"
    if module_name == "__main__":
        spec_name = getattr(getattr(module, "__spec__", None), "name", "")
        found = module
        for part in qualname.split("."):  # Outer.Inner too
            found = getattr(found, part, None)
        there = found is not None and (cls is None or found is cls)
        if spec_name.endswith(".__main__") and there:
            # multiprocessing's spawn does not import a package's __main__ in its workers
            # (it would run the package's command again): none of its classes are there
            package = spec_name[: -len(".__main__")]
            return (
                f"is defined in {spec_name} (run as python -m {package}), a module spawned "
                "processes skip"
            )
        if _main_guarded(qualname.partition(".")[0]):
            return f'is defined under `if __name__ == "__main__":` in {module.__file__}'
    if cls is not None:
        try:
            pickle.dumps(cls)
        except Exception as exc:  # registrations() leaves it out: unknown in the workers
            return f"cannot be pickled ({type(exc).__name__}: {exc})"
    return None


def _unloadable_plugin(key: str) -> str | None:
    """The plugin a run id's code ``key`` (:func:`~dtc.experiment.config.plugin_code`)
    names, as ``"method NAME (module:Class)"`` or ``"'module:Class'"``, followed by why a
    worker process cannot load it (:func:`_unloadable_reason`); else None."""
    named, _, path = key.rpartition(" -> ")
    kind, _, name = named.partition(" ")
    registry = _registry(kind, name) if named else None
    # a class registered at run time is sent pickled; a string (an entry point, a
    # "module:Class" value) the worker imports by its path
    target = path if not named else None if registry is None else registry.target(name)
    if isinstance(target, type):
        reason = _unloadable_reason(module_of(target), target.__qualname__, target)
    elif isinstance(target, str):
        module_name, _, attr = target.partition(":")
        reason = _unloadable_reason(module_name, attr)
    else:  # no longer registered: the run's own lookup names it
        return None
    if reason is None:
        return None
    return f"{kind} {name!r} ({path}) {reason}" if named else f"{path!r} {reason}"


def check_workers_can_import(tasks: Iterable[Task], jobs: int, backend: str) -> None:
    """``ValueError`` when the runs go to other processes (``jobs > 1``, or Ray) and a task
    names a user's class that those cannot load (:func:`_unloadable_reason`): one defined
    without a file, inside a function, under the script's ``if __name__ == "__main__":``,
    or in a package's ``__main__`` (``python -m pkg``). Each of its runs would fail as an unknown name (or, for a registered
    name, as code changed since the sweep was planned)."""
    if backend == "local" and jobs == 1:
        return
    checked = set()
    for task in tasks:
        for key in task.code.keys() - checked:
            checked.add(key)
            if (plugin := _unloadable_plugin(key)) is not None:
                raise ValueError(
                    f"{plugin}, and the worker processes of jobs={jobs} / backend="
                    f"{backend!r} cannot import it: run with jobs=1, or define it in a module "
                    "file the workers import (at its top level, not a package's __main__)"
                )


def _ray(tasks, data_dir, address, jobs) -> Iterator[tuple[Task, dict | None, str | None]]:
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": jobs}
        ray.init(**kwargs, log_to_driver=False, include_dashboard=False)
    pending = {}
    try:
        remote = ray.remote(num_cpus=1)(_execute_in_worker)
        registered = registrations()
        for t in tasks:  # one by one: an interrupt while submitting cancels those sent
            pending[remote.remote(t.to_dict(), data_dir, registered)] = t
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield task, ray.get(ref), None
                except Exception as exc:  # RayTaskError wraps the run's own error
                    yield task, None, _error_text(getattr(exc, "cause", None) or exc)
    finally:
        # An interrupted sweep (Ctrl-C, the generator closed) stops the tasks it submitted:
        # on an instance it did not start (ray.init() in a notebook, a cluster) they kept
        # running, their results thrown away. A running task gets a KeyboardInterrupt, so
        # its clean-up runs (force=True would kill its worker).
        for ref in pending:
            with contextlib.suppress(Exception):  # the interrupt is what to report
                ray.cancel(ref)
        if started:
            ray.shutdown()


def run_tasks(
    tasks: Iterable[Task],
    *,
    jobs: int = 1,
    backend: str = "local",
    address: str | None = None,
    data_dir=None,
) -> Iterator[tuple[Task, dict | None, str | None]]:
    """Execute ``tasks``; yield ``(task, record, error)`` as each finishes.

    ``backend="local"`` runs in this process when ``jobs == 1`` and in ``jobs``
    spawned processes otherwise; ``backend="ray"`` connects to ``address`` (or
    starts a local Ray instance with ``jobs`` CPUs when ``address`` is ``None``).
    """
    check_backend(backend, jobs)
    tasks = list(tasks)
    check_workers_can_import(tasks, jobs, backend)
    data_dir = None if data_dir is None else str(data_dir)
    if backend == "ray":
        return _ray(tasks, data_dir, address, jobs)
    if jobs == 1:
        return _serial(tasks, data_dir)
    return _processes(tasks, data_dir, jobs)
