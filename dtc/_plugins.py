"""A name -> class registry backed by an entry-point group (one mechanism for methods
and alignment losses).

Lookup order: names registered at run time, then the entry-point group; a
``"package.module:Class"`` string is imported directly.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

__all__ = ["PluginRegistry", "import_object"]


def import_object(path: str, *, what: str = "object"):
    """Import ``"package.module:Attr"``; raise ``ValueError`` naming ``path`` on failure."""
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ValueError(f"expected a {what} name or 'package.module:Class', got {path!r}")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"could not import {what} {path!r}: {exc}") from exc
    return obj


class PluginRegistry:
    """Registry of classes of one kind (``what``), all subclasses of ``base``; ``hint`` ends
    the error for an unknown name (what to give instead, e.g. for "no loss")."""

    def __init__(self, group: str, base: type, what: str, hint: str = ""):
        self.group = group
        self.base = base
        self.what = what
        self.hint = hint
        self._registered: dict[str, type | str] = {}

    def _all(self) -> dict[str, type | str]:
        found: dict[str, type | str] = {ep.name: ep.value for ep in entry_points(group=self.group)}
        found.update(self._registered)
        return found

    def register(self, name: str, cls: type | str, *, overwrite: bool = False) -> None:
        """Register a class (or a ``"module:Class"`` string) under ``name``; anything else
        is refused here, not when the name is first used."""
        if not isinstance(name, str) or not name.strip() or ":" in name:
            # a name with ":" would read as a "module:Class" string; None means no object
            raise ValueError(f"register: name must be a non-empty string without ':', got {name!r}")
        if isinstance(cls, str):
            module, _, attr = cls.partition(":")
            if not module or not attr:
                raise ValueError(f"register: expected 'package.module:Class', got {cls!r}")
        elif not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise ValueError(
                f"register: a {self.what} must be a subclass of "
                f"{self.base.__module__}.{self.base.__qualname__}, got {cls!r}"
            )
        if not overwrite and name in self._all():
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

    def get(self, name: str, **params):
        """An instance of the class registered as ``name``, built with ``params``."""
        return self.get_class(name)(**params)
