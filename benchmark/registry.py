"""A small generic registry shared by detectors, codecs and corpora.

Entries are either objects or lazy ``"package.module:attr"`` strings, so ``import spoofbench``
imports no torch. Third parties extend a registry through an entry-point group (e.g.
``spoofbench.detectors``) without editing spoofbench::

    [project.entry-points."spoofbench.detectors"]
    my_detector = "my_pkg.detector:build"
"""
from __future__ import annotations

import difflib
import importlib
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


class Registry(Generic[T]):
    """Name → object map with lazy entries, entry-point discovery and helpful errors."""

    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Any] = {}
        self._sources: dict[str, str] = {}
        self._discovered = False

    def register(self, name: str, obj: T | str | None = None, *, overwrite: bool = False,
                 source: str = "spoofbench") -> Any:
        """Register ``obj`` (or a lazy ``"module:attr"`` string) under ``name``.

        Without ``obj`` it returns a decorator. Registering a taken name raises unless
        ``overwrite=True``.
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
        self._entries[name] = obj
        self._sources[name] = source
        return obj

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
        """The object registered as ``name`` (lazy entries are imported now)."""
        self._discover()
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownPluginError(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        obj = self._entries[name]
        if isinstance(obj, str):
            obj = _resolve(obj)
            self._entries[name] = obj
        return obj

    def source(self, name: str) -> str:
        self._discover()
        return self._sources.get(name, "?")

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


Builder = Callable[..., Any]
