"""The condition registry and named matrices.

Built-in conditions and matrices come from ``conditions.yaml`` next to this module. Users add
their own with :func:`load_conditions` (a YAML of the same shape) or a wheel exposing entry points
in the ``spoofbench.codecs`` group whose target is a :class:`CodecCondition`, a mapping of its
fields, or a zero-argument callable returning either.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from spoofbench.errors import ConfigError, UnknownPluginError
from spoofbench.registry import Registry

from .condition import CodecCondition, condition_from_dict

BUILTIN_YAML = Path(__file__).with_name("conditions.yaml")

CONDITIONS: Registry = Registry("codec condition", "spoofbench.codecs", base=(CodecCondition, Mapping),
                                factories=True)
#: Matrix name → condition ids (in order).
MATRICES: dict[str, tuple[str, ...]] = {}


def _read_yaml(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read codec conditions: {err.strerror}", path) from err
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(err, 'problem', err)}", path,
                          line=mark.line + 1 if mark else None) from err


def load_conditions(path: str | os.PathLike, *, overwrite: bool = False,
                    source: str | None = None) -> list[CodecCondition]:
    """Register the conditions (and matrices) of a YAML file; returns its conditions.

    The file holds ``conditions:`` (a list of condition mappings) and optionally ``matrices:``
    (name → list of condition ids, which must all be known once the file is loaded)."""
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping with 'conditions' and 'matrices', got {type(raw).__name__}", path)
    unknown = set(raw) - {"conditions", "matrices"}
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {sorted(unknown)}; expected 'conditions', 'matrices'", path)
    items = raw.get("conditions") or []
    if not isinstance(items, list):
        raise ConfigError(f"expected a list of conditions, got {items!r}", path, field="conditions")
    conditions = [condition_from_dict(item, path, where=f"conditions[{i}]") for i, item in enumerate(items)]
    seen: set[str] = set()
    for cond in conditions:
        if cond.id in seen:
            raise ConfigError(f"condition id {cond.id!r} appears twice", path, field="conditions")
        seen.add(cond.id)
    for cond in conditions:
        if CONDITIONS.registered(cond.id) and not overwrite:
            raise ConfigError(f"condition id {cond.id!r} is already defined (by {CONDITIONS.source(cond.id)}); "
                              f"choose another id", path, field=f"conditions.{cond.id}")
    for cond in conditions:
        CONDITIONS.register(cond.id, cond, overwrite=overwrite, source=source or str(path))
    matrices = raw.get("matrices") or {}
    if not isinstance(matrices, Mapping):
        raise ConfigError(f"expected a mapping name → list of ids, got {matrices!r}", path, field="matrices")
    for name, ids in matrices.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ConfigError(f"expected a list of condition ids, got {ids!r}", path, field=f"matrices.{name}")
        missing = [i for i in ids if i not in CONDITIONS]
        if missing:
            raise ConfigError(f"unknown condition id(s) {missing}; known: {', '.join(CONDITIONS.names())}",
                              path, field=f"matrices.{name}")
        if name in MATRICES and not overwrite and source != "spoofbench":
            raise ConfigError(f"matrix {name!r} is already defined; choose another name", path,
                              field=f"matrices.{name}")
        MATRICES[name] = tuple(ids)
    return conditions


def get_condition(condition_id: str | CodecCondition) -> CodecCondition:
    """The registered condition ``condition_id`` (a :class:`CodecCondition` passes through)."""
    if isinstance(condition_id, CodecCondition):
        return condition_id
    obj = CONDITIONS.get(condition_id)
    if callable(obj) and not isinstance(obj, CodecCondition):
        obj = obj()
    if isinstance(obj, Mapping):
        obj = condition_from_dict({"id": condition_id, **obj}, CONDITIONS.source(condition_id))
    if not isinstance(obj, CodecCondition):
        raise ConfigError(f"codec condition {condition_id!r} from {CONDITIONS.source(condition_id)} is a "
                          f"{type(obj).__name__}; expected a CodecCondition or a mapping of its fields")
    CONDITIONS.register(condition_id, obj, overwrite=True, source=CONDITIONS.source(condition_id))
    return obj


def get_matrix(name: str) -> list[CodecCondition]:
    """The conditions of the named matrix, in order."""
    if name not in MATRICES:
        raise UnknownPluginError(f"unknown codec matrix {name!r} (known: {', '.join(sorted(MATRICES))})")
    return [get_condition(cid) for cid in MATRICES[name]]


load_conditions(BUILTIN_YAML, source="spoofbench")
CONDITIONS.mark_builtins()
