"""A name -> class registry backed by an entry-point group (one mechanism for methods
and alignment losses).

Lookup order: names registered at run time, then the entry-point group; a
``"package.module:Class"`` string is imported directly.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import inspect
import marshal
import numbers
import os
import re
import sys
import types
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from importlib.util import find_spec
from pathlib import Path

from dtc._warnings import warn

__all__ = [
    "OWN_PACKAGES",
    "PluginRegistry",
    "check_loaded",
    "class_hash",
    "file_hash",
    "hash_ordered",
    "import_object",
    "is_own",
    "module_of",
    "own_package_dir",
    "own_source_hash",
    "plugin_hash",
    "run_seed_arguments",
    "source_files",
    "source_hash",
]


#: The parameter names that take a run's seed (a method's, and an object's it builds).
SEED_NAMES = ("seed", "random_state")


def run_seed_arguments(cls, given, seed: int) -> dict:
    """The arguments that give an instance of ``cls`` the run's ``seed``: each of
    :data:`SEED_NAMES` its ``__init__`` takes, that ``given`` (the arguments written) does
    not set, and whose default is not ``None`` (``None`` is the object's own choice: the
    monitor follows its estimator, scikit-learn draws afresh). Built from their default
    instead, a loss's projections or an object's draws were the same at every seed of a
    sweep. Empty where the signature cannot be read."""
    try:
        takes = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}
    return {
        name: seed
        for name in SEED_NAMES
        if name in takes and name not in given and takes[name].default is not None
    }


def module_of(cls) -> str:
    """The module ``cls`` is defined in, as the sweep's own process names it: a spawned
    worker (``--jobs N``) imports the main script as ``__mp_main__``, so a class of the
    script, ``__main__:Mine`` in the sweep, had another name and hash there, and every
    run of it failed as "the code changed"."""
    return "__main__" if cls.__module__ == "__mp_main__" else cls.__module__


def import_object(path: str, *, what: str = "object"):
    """Import ``"package.module:Attr"``; raise ``ValueError`` naming ``path`` on failure."""
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ValueError(f"expected a {what} name or 'package.module:Class', got {path!r}")
    _check_not_shadowed(module, path, what)
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"could not import {what} {path!r}: {exc}") from exc
    except Exception as exc:  # the module's own code failed (a typo, a raise at import)
        raise ValueError(
            f"could not import {what} {path!r}: importing {module!r} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return obj


#: dtc's own packages: a registered name whose class is defined in one of them is built
#: in, and its code is not part of a run id (it is dtc's, recorded as ``dtc_source``).
OWN_PACKAGES = ("dtc", "baselines")


def is_own(module: str) -> bool:
    """Whether ``module`` (a module name, or a ``"module:Class"`` string) is in dtc's own
    packages."""
    return re.split(r"[.:]", module, maxsplit=1)[0] in OWN_PACKAGES


def own_package_dir(package: str) -> Path | None:
    """The folder of dtc's own ``package`` (one of :data:`OWN_PACKAGES`), or ``None`` where
    it is not installed. They are installed side by side (pyproject's packages), in a
    checkout as in site-packages: found beside ``dtc``, not by the import system, which
    finds a module of the user's of that name first (``baselines.py`` in the working
    directory, which the CLI puts first on ``sys.path``). Where dtc was imported from, not
    resolved: a strict editable install imports from a tree of links to the checkout's
    files, whose folders are not the checkout's."""
    folder = Path(os.path.abspath(__file__)).parent.parent / package
    return folder if (folder / "__init__.py").is_file() else None


def _check_not_shadowed(module: str, path: str, what: str) -> None:
    """``ValueError`` when ``module`` is in dtc's own packages but its package would be
    imported from elsewhere: a user's ``baselines.py`` (or package) earlier on
    ``sys.path`` failed every built-in baseline with "'baselines' is not a package"."""
    package = module.split(".", 1)[0]
    own = own_package_dir(package) if package in OWN_PACKAGES else None
    if own is None:
        return
    loaded = sys.modules.get(package)
    spec = getattr(loaded, "__spec__", None) if loaded is not None else find_spec(package)
    if spec is None:
        return
    places = list(spec.submodule_search_locations or ())
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        places.append(os.path.dirname(spec.origin))
    if any(Path(place).resolve() == own.resolve() for place in places):
        return
    found = spec.origin if spec.origin not in (None, "namespace") else (places or [module])[0]
    raise ValueError(
        f"could not import {what} {path!r}: {package!r} is dtc's package ({own}), but "
        f"{found} of that name comes first on sys.path (the working directory, for `dtc` "
        f"and `python -m`); rename it"
    )


def _target(ep) -> str:
    """An entry point's ``"module:attr"`` as importlib parses it: the specification allows
    spaces around ``:`` and trailing ``[extras]``, which the raw ``ep.value`` keeps ("No
    module named 'pkg.mod '", "no attribute 'Class [fast]'" where ``ep.load()`` found the
    class)."""
    # importlib's own pattern, matched here: ep.module on a value it cannot parse raises,
    # AttributeError before Python 3.13 and AssertionError from it
    match = EntryPoint.pattern.match(ep.value)
    if match is None:
        # ("my-plugin:Loss"): kept, so that it fails alone, when its name is used, not
        # every lookup of the registry
        return ep.value.strip()
    return f"{match['module']}:{match['attr']}" if match["attr"] else match["module"]


class PluginRegistry:
    """Registry of classes of one kind (``what``), all subclasses of ``base``; ``hint`` ends
    the error for an unknown name (what to give instead, e.g. for "no loss")."""

    def __init__(self, group: str, base: type, what: str, hint: str = "", reserved=()):
        self.group = group
        self.base = base
        self.what = what
        self.hint = hint
        #: names that mean something else where the registry is read (the losses' "none":
        #: no alignment in a benchmark's loss list), refused as names of a class
        self.reserved = tuple(reserved)
        self._registered: dict[str, type | str] = {}

    @property
    def _plural(self) -> str:
        return self.what + ("es" if self.what.endswith("s") else "s")  # "losses", "methods"

    def _all(self) -> dict[str, type | str]:
        found: dict[str, type | str] = {}
        # by name and target: the order entry_points() gives is the directory order of
        # site-packages (install history, the file system), and it chose between two
        # packages registering one name
        read = sorted(
            ((ep, _target(ep)) for ep in entry_points(group=self.group)),
            key=lambda read: (read[0].name, read[1]),
        )
        for ep, target in read:
            if ep.name in self.reserved:
                warn(
                    f"the {self.what} entry point {ep.name!r} ({target}) is ignored: "
                    f"{ep.name!r} is reserved; rename it",
                    RuntimeWarning,
                )
                continue
            if ep.name in found and found[ep.name] != target:
                # Two packages claim one name: the last one read used to win, and which is
                # read last depends on sys.path. dtc's own entry wins, else the first by
                # target ("module:Class") order.
                kept, other = found[ep.name], target
                if is_own(other) and not is_own(kept):
                    kept, other = other, kept
                warn(
                    f"two {self._plural} are registered as {ep.name!r} ({kept} and {other}): "
                    f"{kept} is used",
                    RuntimeWarning,
                )
                found[ep.name] = kept
            else:
                found[ep.name] = target
        for name, target in self._registered.items():
            # a built-in (registered at import) wins over another package's entry point of
            # its name, as among entry points: said, not silent (a benchmark ranked the
            # built-in under the user's name)
            shadowed = found.get(name)
            own = is_own(target if isinstance(target, str) else target.__module__)
            if shadowed is not None and own and not is_own(shadowed):
                warn(
                    f"two {self._plural} are registered as {name!r} (dtc's built-in and the "
                    f"entry point {shadowed}): the built-in is used; rename the entry point",
                    RuntimeWarning,
                )
        found.update(self._registered)
        return found

    def register(self, name: str, cls: type | str, *, overwrite: bool = False) -> None:
        """Register a class (or a ``"module:Class"`` string) under ``name``; anything else
        is refused here, not when the name is first used."""
        if not isinstance(name, str) or not name.strip() or ":" in name or name != name.strip():
            # a name with ":" would read as a "module:Class" string; None means no object;
            # " md " was registered and then not found by the leaderboard, which strips
            raise ValueError(
                "register: name must be a non-empty string without ':' or surrounding "
                f"spaces, got {name!r}"
            )
        if name in self.reserved:
            raise ValueError(
                f"register: {name!r} is reserved (no {self.what}); choose another name"
            )
        if isinstance(cls, str):
            module, _, attr = cls.partition(":")
            if not module or not attr:
                raise ValueError(f"register: expected 'package.module:Class', got {cls!r}")
        elif not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise ValueError(
                f"register: a {self.what} must be a subclass of "
                f"{self.base.__module__}.{self.base.__qualname__}, got {cls!r}"
            )
        # here, not at the top: `import dtc` (this module) stays free of numpy, so a Ctrl-C
        # in the command's first tenth of a second meets dtc.__main__'s handler
        from dtc._validation import check_bool

        # "no" is truthy: it replaced the registered class without a word
        if not check_bool(overwrite, method="register", name="overwrite") and name in self._all():
            raise ValueError(f"register: a {self.what} named {name!r} is already registered")
        self._registered[name] = cls

    def target(self, name: str) -> type | str | None:
        """What ``name`` is registered as: a class, or a ``"module:Class"`` string (not
        imported here); ``None`` for a name not registered (a ``"module:Class"`` string
        given as a name included)."""
        return self._all().get(name)

    def available(self) -> list[str]:
        """Sorted names of everything registered."""
        return sorted(self._all())

    def get_class(self, name: str) -> type:
        """The class registered as ``name`` (or named by a ``"module:Class"`` string)."""
        if not isinstance(name, str):  # a class or an instance: "argument ... not iterable"
            raise ValueError(
                f"{self.what}: expected a registered name or 'module:Class' string, got "
                f"{type(name).__name__} {name!r}"
            )
        found = self._all()
        if name in found:
            target = found[name]
        elif ":" in name:
            target = name
        else:
            raise ValueError(
                f"unknown {self.what} {name!r}; available: {', '.join(self.available())}{self.hint}"
            )
        cls = import_object(target, what=self.what) if isinstance(target, str) else target
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise ValueError(
                f"{self.what} {name!r} resolves to {cls!r}, expected a subclass of "
                f"{self.base.__module__}.{self.base.__qualname__}"
            )
        return cls

    def get(self, name: str, /, **params):
        """An instance of the class registered as ``name``, built with ``params`` (which
        may hold a ``name`` of the class's own: ``name`` here is positional)."""
        return self.get_class(name)(**params)


# -- the code of a user's plugin, hashed: the runs and checkpoints of edited code are new --
def file_hash(module_name: str) -> str | None:
    """The SHA-256 (16 hex digits) of the file of module ``module_name``; ``None`` for a
    module without a file or that cannot be imported.

    The hash is the file's as it is now, what a new process (a worker of ``--jobs N``)
    imports and runs. The first hash this process takes is recorded with the module, for
    :func:`check_loaded` (code run here, from the module in memory)."""
    try:
        module = importlib.import_module(module_name)
    except Exception:  # a module raising at import: the run's own lookup names the error
        return None
    path = getattr(module, "__file__", None)
    if not path:
        return None
    data = _module_bytes(module, path)
    if data is None:
        return None
    sha = hashlib.sha256(data).hexdigest()[:16]
    # Recorded on the module's spec, which a reload (or a fresh import) replaces.
    spec = getattr(module, "__spec__", None)
    if spec is not None and getattr(spec, "_dtc_file_sha", None) is None:
        with contextlib.suppress(AttributeError):
            spec._dtc_file_sha = sha
    return sha


def _module_bytes(module, path: str) -> bytes | None:
    """The bytes of ``module``'s file ``path``: read from the disk, else through its
    loader (a module imported from a zip archive on ``sys.path``, whose ``__file__`` is
    ``archive.zip/mod.py``: reading it failed every run of the plugin with a bare
    ``NotADirectoryError``); ``None`` where neither reads it (a file deleted since)."""
    try:
        return Path(path).read_bytes()
    except OSError:
        pass
    get_data = getattr(getattr(getattr(module, "__spec__", None), "loader", None), "get_data", None)
    if get_data is None:
        return None
    try:
        return get_data(path)
    except OSError:
        return None


@functools.cache
def own_source_hash() -> str:
    """The SHA-256 (16 hex digits) of the source of the ``dtc`` package as this process
    first read it (:func:`source_hash` of its folder; ``dtc/__init__.py`` reads it when
    ``dtc`` is first imported): what a stored result computed by dtc's own code is keyed
    on, so that an edit of that code is never resumed as if it had made the result (a
    format number bumped by hand was forgotten). Installed without source files (a zip,
    ``.pyc`` only): the package's version, ``"version <v>"``."""
    root = own_package_dir("dtc")  # where dtc was imported from, as its siblings are found
    digest = None if root is None else source_hash(root)
    if digest is None:
        try:
            return f"version {version('dtc')}"
        except PackageNotFoundError:
            return "version unknown"
    return digest


def source_files(root: Path) -> list[Path]:
    """The ``.py`` files under ``root``, sorted, but an editor's hidden lock files and links
    to nothing (reading one failed)."""
    return sorted(p for p in Path(root).rglob("*.py") if not p.name.startswith(".") and p.is_file())


def source_hash(root: Path) -> str | None:
    """The SHA-256 (16 hex digits) of the ``.py`` files under ``root``, by relative path
    (an editor's hidden lock files and links to nothing left out); ``None`` where there is
    none."""
    paths = source_files(root)
    if not paths:
        return None
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_loaded(path: str, cls: type | None = None) -> None:
    """``ValueError`` when the code of ``"module:Class"`` that would run in this process is
    not the file's: the file was edited after the module was imported (and first hashed)
    here, and not reloaded, or ``cls`` (a class registered under a name) is the class the
    module defined before a reload. A script or notebook that benchmarked a loss, edited
    it and benchmarked it again ran the old class, and stored its results under the new
    file's hash, where later runs reused them."""
    module_name, _, attr = path.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        return  # not imported here: it will be, from the file as it is
    file = getattr(module, "__file__", None)
    seen = getattr(getattr(module, "__spec__", None), "_dtc_file_sha", None)
    if file and seen is not None and seen != file_hash(module_name):
        raise ValueError(
            f"{file} changed since this process imported module {module_name!r}: the code "
            "in memory is the old one, whose results would be stored as the new code's; "
            f"restart the process, or importlib.reload({module_name}) (and register its "
            "classes again)"
        )
    now = getattr(module, attr, None) if attr and "." not in attr else None
    if cls is not None and isinstance(now, type) and now is not cls:
        raise ValueError(
            f"{path} was reloaded since its class was registered: the name still holds "
            "the class of the old code; register the reloaded class again"
        )


def _code_bytes(code: types.CodeType) -> bytes:
    """``code`` marshalled with its file name and first line blanked, nested functions
    too: the same definition run again (another notebook cell, another ``-c``) gives
    the same bytes."""
    consts = tuple(_code_const(c) for c in code.co_consts)
    return marshal.dumps(code.replace(co_filename="", co_firstlineno=1, co_consts=consts))


def _code_const(value):
    if isinstance(value, types.CodeType):
        return _code_bytes(value)
    if isinstance(value, frozenset) and sys.version_info < (3, 11) and hash_ordered(value):
        # ``x in {"a", "b"}`` compiles to a frozenset constant, which marshal wrote in the
        # order of its hashes before Python 3.11: a per-process order of strings
        # (PYTHONHASHSEED), and a class's hash differed in every process
        return ("<frozenset>", *sorted(map(repr, value)))
    return value


# the class attributes of a fileless class hashed by value (a dunder is Python's own)
# containers too: a notebook's class with SCALES = [1.0, 1.0] and one with [1.0, 100.0]
# computed otherwise and had one code (run ids, checkpoint keys); sets in sorted order
_CONSTANTS = (int, float, str, bytes, bool, tuple, list, dict, set, frozenset, type(None))


def _value_text(value, depth: int = 0) -> str:
    """``repr(value)``, the same in every process: where the repr holds a memory address
    (a default argument that is a function, ``act=F.relu``, or a sentinel ``object()``),
    functions and classes are named by module and qualified name and other such objects
    by their type, item by item through tuples, lists and dicts (four levels deep). Such an
    address made a user loss's checkpoint key differ in every process, so its fits never
    resumed; so did a set of strings, whose order follows the strings' hashes
    (:func:`hash_ordered`): written in sorted order."""
    text = repr(value)
    if depth >= 4 or (" at 0x" not in text and not hash_ordered(value)):
        return text  # as before: the hashes of every other class are unchanged
    if isinstance(value, (set, frozenset)) and hash_ordered(value):
        items = ", ".join(sorted(_value_text(v, depth + 1) for v in value))
        return f"{type(value).__name__}({{{items}}})"
    if isinstance(value, (tuple, list)):
        items = ", ".join(_value_text(v, depth + 1) for v in value)
        return f"{type(value).__name__}({items})"
    if isinstance(value, dict):
        pairs = value.items()
        items = (f"{_value_text(k, depth + 1)}: {_value_text(v, depth + 1)}" for k, v in pairs)
        return "{" + ", ".join(items) + "}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', None)}.{value.__qualname__}"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def hash_ordered(value, depth: int = 0) -> bool:
    """Whether ``value`` holds a set whose order, and so whose repr, may differ between
    processes: a set or frozenset with an item other than a number among its items (a
    string's hash follows ``PYTHONHASHSEED``, and so do an enum member's, a path's or a
    date's; a function's follows its address), also inside tuples, lists, dicts and sets,
    four levels deep. A set of numbers has one order in every process."""
    if depth > 4:
        return False
    if isinstance(value, (set, frozenset)):
        return not all(_hashed_by_value(v) for v in value)
    if isinstance(value, (tuple, list)):
        return any(hash_ordered(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(hash_ordered(v, depth + 1) for v in (*value.keys(), *value.values()))
    return False


def _hashed_by_value(item) -> bool:
    # a number's hash is its value's (the same in every process), and so is that of a
    # tuple or frozenset of numbers
    if isinstance(item, (tuple, frozenset)):
        return all(_hashed_by_value(x) for x in item)
    return isinstance(item, numbers.Number)


def class_text(cls: type) -> bytes:
    """What identifies the code of a class that has no file: the bytecode of the functions
    it defines, with their defaults, and its plain constants, after those of its bases
    defined in the same module. (Not its source: ``inspect`` finds none for a class of a
    module without a file, a notebook's included.)"""
    parts = [class_text(base) for base in cls.__bases__ if base.__module__ == cls.__module__]
    for name, value in sorted(vars(cls).items()):
        # staticmethod / classmethod wrap a function; a property holds up to three
        members = [getattr(value, "__func__", value)]
        if isinstance(value, property):
            members = [value.fget, value.fset, value.fdel]
        for member in members:
            # a decorated method (@torch.no_grad()) wraps the user's function: its own
            # bytecode is the wrapper's, the same whatever the function does
            member = inspect.unwrap(member) if callable(member) else member
            if isinstance(member, types.FunctionType):
                defaults = _value_text((member.__defaults__, member.__kwdefaults__))
                parts.append(f"{name} {defaults}".encode() + _code_bytes(member.__code__))
            elif isinstance(member, _CONSTANTS) and not (name[:2] == name[-2:] == "__"):
                parts.append(f"{name} = {_value_text(member)}".encode())
    return b"\0".join(parts)


def class_hash(cls: type) -> str | None:
    """The SHA-256 (16 hex digits) of the code of a user's class: the file of its module,
    or, for a class without one (defined in a notebook or by ``python -c``),
    :func:`class_text` (its bytecode differs between Python versions: such a class's runs
    are run again under another Python)."""
    sha = file_hash(cls.__module__)
    if sha is not None:
        return sha
    return hashlib.sha256(class_text(cls)).hexdigest()[:16]


def plugin_hash(path: str) -> str | None:
    """:func:`file_hash` of the module of ``"module:Class"``, or when that module has no
    file (``"__main__:MyLoss"`` in a notebook), :func:`class_hash` of the class it names
    (``None`` there when the name is no class); ``None`` when the module cannot be
    imported. A class that
    ``module`` imports from another module (``"mypkg:MyMethod"`` with ``MyMethod`` defined
    in ``mypkg/impl.py``) hashes both files: the named one alone did not change when the
    class did, and its runs were not run again."""
    module_name = path.partition(":")[0]
    sha = file_hash(module_name)
    if module_name not in sys.modules:
        return sha
    try:
        obj = import_object(path)
    except ValueError:  # no such attribute: the config's checks name it
        return sha
    if not isinstance(obj, type):
        return sha
    if sha is None:
        return class_hash(obj)
    if module_of(obj) == module_name:
        return sha
    both = f"{sha} {class_hash(obj)}".encode()
    return hashlib.sha256(both).hexdigest()[:16]
