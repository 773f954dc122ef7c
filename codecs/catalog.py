"""The condition registry and named matrices.

Built-in conditions and matrices come from ``conditions.yaml`` (classic codecs) and then
``channels.yaml`` (channel conditions: laundering, reverb, replay, silence, neural codecs and
chains; :mod:`.channel`) next to this module. A condition mapping with ``steps:`` is a
:class:`~.channel.ChannelCondition`, any other a :class:`CodecCondition`. Users add
their own with :func:`load_conditions` (a YAML of the same shape) or a wheel exposing entry points
in the ``spoofbench.codecs`` group whose target is a :class:`CodecCondition`, a mapping of its
fields, or a zero-argument callable returning either.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import StrictStr

from spoofbench.configs import LineMap, build, config_dataclass, line_of, load_yaml_lines
from spoofbench.errors import ConfigError, UnknownPluginError
from spoofbench.registry import Registry

from .channel import ChannelCondition, channel_from_dict, is_channel_mapping
from .condition import CodecCondition, condition_from_dict

BUILTIN_YAML = Path(__file__).with_name("conditions.yaml")
CHANNELS_YAML = Path(__file__).with_name("channels.yaml")
#: Either kind of condition.
Condition = CodecCondition | ChannelCondition

CONDITIONS: Registry = Registry("codec condition", "spoofbench.codecs",
                                base=(CodecCondition, Mapping, ChannelCondition), factories=True)
#: Matrix name → condition ids (in order).
MATRICES: dict[str, tuple[str, ...]] = {}


@config_dataclass
class ConditionsFile:
    """The shape of a conditions YAML: condition mappings (typed one by one) and named matrices."""

    conditions: tuple[Mapping[str, Any], ...] | None = None
    matrices: Mapping[str, tuple[StrictStr, ...]] | None = None


def _from_dict(raw: Mapping[str, Any], path: Any = None, where: Any = None, lines: LineMap | None = None):
    """A channel condition (the mapping has ``steps``) or a codec condition."""
    if is_channel_mapping(raw):
        return channel_from_dict(raw, path, where, lines)
    return condition_from_dict(raw, path, where, lines)


def _read(path: Path) -> tuple[list[Condition], dict[str, tuple[str, ...]], LineMap]:
    """The typed conditions and matrices of a YAML file and its line map; errors give file:line: field."""
    data, lines = load_yaml_lines(path)
    parsed = build(ConditionsFile, data, path=path, lines=lines)
    conditions = [_from_dict(item, path, ("conditions", i), lines)
                  for i, item in enumerate(parsed.conditions or ())]
    seen: dict[str, int] = {}
    for i, cond in enumerate(conditions):
        if cond.id in seen:
            raise ConfigError(f"condition id {cond.id!r} appears twice (also conditions[{seen[cond.id]}])",
                              path, line_of(lines, ("conditions", i)), f"conditions[{i}].id")
        seen[cond.id] = i
    return conditions, dict(parsed.matrices or {}), lines


def load_conditions(path: str | os.PathLike, *, overwrite: bool = False,
                    source: str | None = None) -> list[CodecCondition]:
    """Register the conditions (and matrices) of a YAML file; returns its conditions.

    The file holds ``conditions:`` (a list of condition mappings) and optionally ``matrices:``
    (name → list of condition ids, which must all be known once the file is loaded)."""
    path = Path(path)
    conditions, matrices, lines = _read(path)
    for i, cond in enumerate(conditions):
        if CONDITIONS.registered(cond.id) and not overwrite:
            raise ConfigError(f"condition id {cond.id!r} is already defined (by {CONDITIONS.source(cond.id)}); "
                              f"choose another id", path, line_of(lines, ("conditions", i)),
                              f"conditions.{cond.id}")
    for cond in conditions:
        CONDITIONS.register(cond.id, cond, overwrite=overwrite, source=source or str(path))
    for i, cond in enumerate(conditions):
        for j, step in enumerate(getattr(cond, "steps", ())):
            if step.kind == "codec" and step.id not in CONDITIONS:
                raise ConfigError(f"unknown condition id {step.id!r}; known: {', '.join(CONDITIONS.names())}",
                                  path, line_of(lines, ("conditions", i, "steps", j)),
                                  f"conditions[{i}].steps[{j}].id")
            if step.kind == "codec" and step.id == cond.id:
                raise ConfigError("a condition cannot apply itself", path,
                                  line_of(lines, ("conditions", i, "steps", j)), f"conditions[{i}].steps[{j}].id")
    for name, ids in matrices.items():
        missing = [i for i in ids if i not in CONDITIONS]
        where = line_of(lines, ("matrices", name))
        if missing:
            raise ConfigError(f"unknown condition id(s) {missing}; known: {', '.join(CONDITIONS.names())}",
                              path, where, f"matrices.{name}")
        if name in MATRICES and not overwrite and source != "spoofbench":
            raise ConfigError(f"matrix {name!r} is already defined; choose another name", path, where,
                              f"matrices.{name}")
        MATRICES[name] = tuple(ids)
    return conditions


def get_condition(condition_id: str | Condition) -> Condition:
    """The registered condition ``condition_id`` (a condition record passes through)."""
    if isinstance(condition_id, (CodecCondition, ChannelCondition)):
        return condition_id
    obj = CONDITIONS.get(condition_id)
    if callable(obj) and not isinstance(obj, (CodecCondition, ChannelCondition)):
        obj = obj()
    if isinstance(obj, Mapping):
        obj = _from_dict({"id": condition_id, **obj}, CONDITIONS.source(condition_id))
    if not isinstance(obj, (CodecCondition, ChannelCondition)):
        raise ConfigError(f"codec condition {condition_id!r} from {CONDITIONS.source(condition_id)} is a "
                          f"{type(obj).__name__}; expected a CodecCondition, a ChannelCondition or a "
                          f"mapping of its fields")
    CONDITIONS.register(condition_id, obj, overwrite=True, source=CONDITIONS.source(condition_id))
    return obj


def get_matrix(name: str) -> list[Condition]:
    """The conditions of the named matrix, in order."""
    if name not in MATRICES:
        raise UnknownPluginError(f"unknown codec matrix {name!r} (known: {', '.join(sorted(MATRICES))})")
    return [get_condition(cid) for cid in MATRICES[name]]


load_conditions(BUILTIN_YAML, source="spoofbench")
load_conditions(CHANNELS_YAML, source="spoofbench")
CONDITIONS.mark_builtins()
