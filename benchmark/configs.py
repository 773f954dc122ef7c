"""Typed, frozen dataclass configs from YAML (``safe_load``), shared by every config in spoofbench.

``build(cls, data, prefix, path)`` turns a mapping into ``cls`` recursively (nested dataclasses,
tuples, optional fields), rejecting unknown keys and wrong types with a
:class:`~spoofbench.errors.ConfigError` that names the file, the dotted field, the bad value and
what was expected. :class:`YamlConfig` gives a dataclass ``from_dict``/``from_yaml``/``to_dict``;
the dataclass supplies ``validate(path) -> self``.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError


class YamlConfig:
    """Mixin for frozen dataclass configs with a ``validate(path=None) -> self`` method."""

    def validate(self, path: Any = None):  # pragma: no cover - every config overrides it
        return self

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Any = None):
        return build(cls, data, "", path).validate(path)

    @classmethod
    def from_yaml(cls, path: str | Path, **defaults: Any):
        """Load ``path``; ``defaults`` fill keys the file leaves out."""
        return cls.from_dict({**defaults, **load_yaml(path)}, path)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config: {err.strerror}", path) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(err, 'problem', err)}", path,
                          line=mark.line + 1 if mark else None) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"top level is a {type(data).__name__}; expected a mapping", path)
    return data


def build(cls: type, data: Any, prefix: str, path: Any) -> Any:
    where = prefix.rstrip(".") or "<top>"
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"value {data!r} is a {type(data).__name__}; expected a mapping", path,
                          field=where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected some of "
                          f"{', '.join(fields)}", path, field=where)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{prefix}{name}", path)
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field left out
        raise ConfigError(f"{err}", path, field=where) from err


def _coerce(value: Any, hint: Any, where: str, path: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where + ".", path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"value {value!r} is a {type(value).__name__}; expected a list", path,
                              field=where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where, path) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"value {value!r} has {len(value)} items; expected {len(args)}", path,
                              field=where)
        return tuple(_coerce(v, a, where, path) for v, a in zip(value, args))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"value {value!r} is a {type(value).__name__}; expected a mapping",
                              path, field=where)
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"value {value!r} is not true/false", path, field=where)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"value {value!r} is not an integer", path, field=where)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML 1.1 reads '1e-3' as a string: accept numeric strings
            try:
                return float(value) if isinstance(value, str) else _raise()
            except (ValueError, TypeError):
                raise ConfigError(f"value {value!r} is not a number", path, field=where) from None
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"value {value!r} is not a string", path, field=where)
        return value
    return value


def _raise() -> Any:
    raise ValueError


def to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj


def check_choice(value: Any, choices: tuple, where: str, path: Any) -> None:
    if value not in choices:
        raise ConfigError(f"value {value!r} is not allowed; expected one of {', '.join(choices)}",
                          path, field=where)


def check_positive(value: Any, where: str, path: Any) -> None:
    if not value > 0:
        raise ConfigError(f"value {value!r} must be > 0", path, field=where)


def check_nonneg(value: Any, where: str, path: Any) -> None:
    if value < 0:
        raise ConfigError(f"value {value!r} must be >= 0", path, field=where)


def check_probability(value: Any, where: str, path: Any) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"value {value!r} is not a probability; expected 0 <= p <= 1", path,
                          field=where)


def check_pair(value: tuple, where: str, path: Any) -> None:
    if value[0] > value[1]:
        raise ConfigError(f"range {list(value)} is reversed; expected [low, high]", path, field=where)
