"""A small generic registry shared by detectors, codecs and corpora.

Entries are either objects or lazy ``"package.module:attr"`` strings, so ``import spoofbench``
imports no torch. Third parties extend a registry through an entry-point group (e.g.
``spoofbench.detectors``) without editing spoofbench::

    [project.entry-points."spoofbench.detectors"]
    my_detector = "my_pkg.detector:build"
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import logging
import os
import sys
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import SpoofbenchError, UnknownPluginError

T = TypeVar("T")


def _resolve(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise SpoofbenchError(f"cannot load {target!r}: {err}") from err
    return obj


def is_object_spec(text: str) -> bool:
    """True for ``"pkg.module:attr"`` (a dotted module path, a colon, a dotted attribute)."""
    module_name, sep, attr = text.partition(":")
    return bool(sep) and all(part.isidentifier() for part in module_name.split(".") + attr.split("."))


def load_object(spec: str, what: str = "object") -> Any:
    """The object named by ``"pkg.module:attr"``; a module not on ``sys.path`` is looked for in the
    current directory too (``my_detector.py`` beside the config: ``my_detector:build``)."""
    if not is_object_spec(spec):
        raise SpoofbenchError(f"{what} {spec!r}: expected 'pkg.module:attr' (e.g. my_detector:build)")
    module_name = spec.partition(":")[0]
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        cwd = os.getcwd()
        if err.name != module_name.split(".")[0] or cwd in sys.path:
            raise SpoofbenchError(f"{what} {spec!r}: cannot import {module_name!r}: {err}") from err
        sys.path.append(cwd)
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as again:
            raise SpoofbenchError(f"{what} {spec!r}: no module {module_name!r} on sys.path nor in {cwd} "
                                  "(add its folder to PYTHONPATH)") from again
    except Exception as err:  # the user's module failed while importing: name it, keep the cause
        raise SpoofbenchError(f"{what} {spec!r}: importing {module_name!r} failed: "
                              f"{type(err).__name__}: {err}") from err
    return _resolve(spec)


class PluginTypeError(SpoofbenchError):
    """A registry entry of the wrong kind (e.g. a codec condition that is an ``int``)."""


class Registry(Generic[T]):
    """Name → object map with lazy entries, entry-point discovery, a type check and helpful errors.

    ``base``: the type(s) an entry must be (an instance, or a subclass for classes); a
    ``"module:attr"`` string is imported only when an entry needs checking, so that a registry of
    torch modules does not import torch. With ``factories=True`` any other callable is accepted too
    (a builder; what it builds is checked where it is called). Objects are checked when they register,
    lazy entries and entry points when they are first loaded.
    """

    def __init__(self, kind: str, entry_point_group: str | None = None, *,
                 base: type | str | tuple[type | str, ...] | None = None, factories: bool = False):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._base = base if isinstance(base, tuple) else ((base,) if base is not None else ())
        self._factories = factories
        self._entries: dict[str, Any] = {}
        self._sources: dict[str, str] = {}
        self._discovered = False
        self._builtins: tuple[dict, dict] = ({}, {})

    # ------------------------------------------------------------------ checks
    def _base_types(self) -> tuple[type, ...]:
        return tuple(_resolve(b) if isinstance(b, str) else b for b in self._base)

    def check(self, name: str, obj: Any) -> None:
        """Raise :class:`PluginTypeError` unless ``obj`` may be registered as ``name``."""
        if not self._base:
            return
        if isinstance(obj, type):
            if issubclass(obj, self._base_types()):
                return
        elif callable(obj) and self._factories:
            return
        elif isinstance(obj, self._base_types()):
            return
        expected = " or ".join(getattr(b, "__name__", str(b)) for b in self._base_types())
        raise PluginTypeError(
            f"{self.kind} {name!r} ({self._sources.get(name, 'being registered')}) is "
            f"{'the class ' + obj.__name__ if isinstance(obj, type) else 'a ' + type(obj).__name__}; "
            f"expected a {expected}{' or a callable building one' if self._factories else ''}")

    # ------------------------------------------------------------------ entries
    def register(self, name: str, obj: T | str | None = None, *, overwrite: bool = False,
                 source: str = "spoofbench") -> Any:
        """Register ``obj`` (or a lazy ``"module:attr"`` string) under ``name``.

        Without ``obj`` it returns a decorator. Registering a taken name raises unless
        ``overwrite=True``; an object of the wrong type raises :class:`PluginTypeError`.
        """
        if obj is None:
            def decorator(target: T) -> T:
                self.register(name, target, overwrite=overwrite, source=source)
                return target
            return decorator
        if name in self._entries and not overwrite:
            raise SpoofbenchError(
                f"{self.kind} {name!r} is already registered (by {self._sources[name]}); "
                f"pass overwrite=True to replace it")
        if not isinstance(obj, str):
            self.check(name, obj)
        self._entries[name] = obj
        self._sources[name] = source
        return obj

    def registered(self, name: str) -> bool:
        """Whether ``name`` is registered, without discovering entry points."""
        return name in self._entries

    def _discover(self) -> None:
        if self._discovered or not self.entry_point_group:
            self._discovered = True
            return
        self._discovered = True
        for ep in metadata.entry_points(group=self.entry_point_group):
            if ep.name in self._entries:
                continue  # built-ins win; a plugin may not silently replace them
            dist = getattr(ep, "dist", None)
            self._entries[ep.name] = ep.value
            self._sources[ep.name] = f"entry point {ep.value} ({dist.name if dist else '?'})"

    def get(self, name: str) -> T:
        """The object registered as ``name`` (lazy entries are imported and checked now)."""
        self._discover()
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownPluginError(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        obj = self._entries[name]
        if isinstance(obj, str):
            obj = _resolve(obj)
            self.check(name, obj)
            self._entries[name] = obj
        return obj

    def loadable(self, load: Callable[[str], Any] | None = None) -> list[tuple[str, Any]]:
        """``(name, load(name))`` for every entry (``load`` defaults to :meth:`get`), in name order.

        A third-party entry that fails to load is logged as one warning and left out, so that a bad
        plugin does not break a listing; a built-in one raises (it is a bug)."""
        load = load or self.get
        out = []
        for name in self.names():
            try:
                out.append((name, load(name)))
            except Exception as err:  # a plugin may raise anything while importing or building
                if self._sources.get(name) == "spoofbench":
                    raise
                logging.getLogger("spoofbench.registry").warning(
                    "skipping %s %r (%s): %s", self.kind, name, self._sources.get(name, "?"), err)
        return out

    def source(self, name: str) -> str:
        self._discover()
        return self._sources.get(name, "?")

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def stored(self, name: str) -> Any:
        """The entry of ``name`` as stored, without importing anything: a ``"module:attr"`` string until
        :meth:`get` first resolves it, then the object; None when ``name`` is not registered."""
        return self._entries.get(name)

    def builtin_entries(self) -> dict[str, Any]:
        """The entries :meth:`mark_builtins` recorded (what the package itself registered), as stored."""
        return dict(self._builtins[0])

    # ------------------------------------------------------------------ tests
    def mark_builtins(self) -> None:
        """Remember the current entries as the state :meth:`reset` returns to."""
        self._builtins = (dict(self._entries), dict(self._sources))

    def reset(self) -> None:
        """Back to the entries of :meth:`mark_builtins`; entry points are discovered again."""
        self._entries, self._sources = dict(self._builtins[0]), dict(self._builtins[1])
        self._discovered = False

    @contextlib.contextmanager
    def isolated(self) -> Iterator["Registry[T]"]:
        """Within the block, registrations are allowed; on exit the registry is as before (tests)."""
        saved = (dict(self._entries), dict(self._sources), self._discovered)
        try:
            yield self
        finally:
            self._entries, self._sources, self._discovered = dict(saved[0]), dict(saved[1]), saved[2]

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


Builder = Callable[..., Any]
