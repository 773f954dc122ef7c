"""Typed, frozen configs from YAML (``safe_load``), validated by pydantic v2, shared by every config.

A config is a frozen pydantic dataclass (:func:`config_dataclass`: extra keys forbidden) with the
:class:`YamlConfig` mixin, which gives ``from_dict``/``from_yaml``/``to_dict``; the class supplies
``validate(path) -> self`` for checks across fields. Every error is one
:class:`~spoofbench.errors.ConfigError` naming the file, the line (when the input came from YAML), the
full field path, the bad value and what was expected::

    bench.yaml:14: training.epoch: unknown key, did you mean epochs?

Lines come from a node-based YAML load (:func:`load_yaml_lines`): every key and list item remembers
where it was written.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as _pydantic_dataclass
from pydantic_core import PydanticCustomError

from .errors import ConfigError

#: Where each key / list item of a YAML document was written: path tuple → 1-based line.
LineMap = dict[tuple, int]

#: pydantic settings of every config: unknown keys are errors.
CONFIG = ConfigDict(extra="forbid")


def config_dataclass(cls: type | None = None, /, *, frozen: bool = True, **kwargs: Any):
    """A frozen pydantic dataclass rejecting unknown keys (positional construction still works).

    A drop-in for ``@dataclass(frozen=True)``: ``dataclasses.fields``/``replace``/``asdict`` work.
    """
    if not frozen:
        raise TypeError("configs are frozen")

    def wrap(klass: type) -> type:
        return _pydantic_dataclass(klass, frozen=True, config=CONFIG, **kwargs)
    return wrap if cls is None else wrap(cls)


class YamlConfig:
    """Mixin for frozen config dataclasses with a ``validate(path=None) -> self`` method."""

    def validate(self, path: Any = None):  # pragma: no cover - every config overrides it
        return self

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Any = None, lines: LineMap | None = None, *,
                  prefix: tuple = ()):
        """Build and validate; ``lines``/``prefix`` locate errors in the YAML ``path``."""
        with located_errors(path, lines, prefix):
            return build(cls, data, prefix, path).validate(path)

    @classmethod
    def from_yaml(cls, path: str | Path, **defaults: Any):
        """Load ``path``; ``defaults`` fill keys the file leaves out."""
        data, lines = load_yaml_lines(path)
        return cls.from_dict({**defaults, **data}, path, lines)


# ---------------------------------------------------------------------------------------------- YAML
def load_yaml(path: str | Path) -> dict:
    """The mapping at the top of a YAML file (``{}`` when empty)."""
    return load_yaml_lines(path)[0]


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases (``*name``): a config never needs one, and nested aliases expand
    exponentially when walked (a "billion laughs" YAML bomb)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"alias *{event.anchor} is not allowed in a spoofbench "
                                              "config (write the value out)", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml_lines(path: str | Path) -> tuple[dict, LineMap]:
    """The top mapping of a YAML file and the line of every key and list item in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config: {err.strerror}", path) from err
    except UnicodeDecodeError as err:
        line = err.object[:err.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text (byte 0x{err.object[err.start]:02x}); save the file as UTF-8",
                          path, line=line) from None
    loader = _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(err, 'problem', err)}", path,
                          line=mark.line + 1 if mark else None) from err
    finally:
        loader.dispose()
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"top level is a {type(data).__name__}; expected a mapping", path)
    lines: LineMap = {}
    _record_lines(node, (), lines)
    return data, lines


def _record_lines(node: yaml.Node, where: tuple, lines: LineMap) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            lines[where + (name,)] = key.start_mark.line + 1
            _record_lines(value, where + (name,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[where + (i,)] = item.start_mark.line + 1
            _record_lines(item, where + (i,), lines)


def line_of(lines: LineMap | None, where: tuple) -> int | None:
    """The line of ``where`` or of its nearest written ancestor."""
    if not lines:
        return None
    for end in range(len(where), 0, -1):
        if where[:end] in lines:
            return lines[where[:end]]
    return None


def field_path(where: tuple) -> str:
    """``("detectors", 1, "train")`` → ``detectors[1].train``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top>"


def parse_field_path(text: str) -> tuple:
    """The inverse of :func:`field_path`."""
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", text))


class located_errors:
    """Context manager: a ConfigError raised inside gets ``prefix`` before its field and the field's line."""

    def __init__(self, path: Any, lines: LineMap | None, prefix: tuple = ()):
        self.path, self.lines, self.prefix = path, lines, tuple(prefix)

    def __enter__(self) -> "located_errors":
        return self

    def __exit__(self, kind, err, tb) -> Literal[False]:
        if not isinstance(err, ConfigError) or err.field is None or (err.line is not None and not self.prefix):
            return False
        where = parse_field_path(err.field) if err.field != "<top>" else ()
        if where[:len(self.prefix)] != self.prefix:
            where = self.prefix + where
        line = err.line if err.line is not None else line_of(self.lines, where)
        if field_path(where) == err.field and line == err.line:
            return False
        message = str(err.args[0])
        prefix = _location_text(err.path, err.line, err.field)
        raise ConfigError(message[len(prefix):] if message.startswith(prefix) else message,
                          err.path if err.path is not None else self.path, line, field_path(where)) from err


def _location_text(path: Any, line: int | None, field: str | None) -> str:
    from .errors import located
    return located("", path, line, field)


# ---------------------------------------------------------------------------------------------- build
def invalid(message: str) -> PydanticCustomError:
    """The error a field validator raises: ``message`` (which names the value) becomes the ConfigError's text."""
    return PydanticCustomError("config", "{message}", {"message": message})


@functools.lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def build(cls: type, data: Any, prefix: tuple | str = (), path: Any = None, lines: LineMap | None = None) -> Any:
    """Validate ``data`` (a mapping) into ``cls``; the first problem becomes a located ConfigError."""
    prefix = parse_field_path(prefix) if isinstance(prefix, str) else tuple(prefix)
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"value {data!r} is a {type(data).__name__}; expected a mapping", path,
                          line_of(lines, prefix), field_path(prefix))
    try:
        return _adapter(cls).validate_python(dict(data))
    except ValidationError as err:
        errors = err.errors(include_url=False)
        unknown = [e for e in errors if e["type"] in ("unexpected_keyword_argument", "extra_forbidden")]
        first = (unknown or errors)[0]  # a misspelt key before the "required key missing" it causes
        raise _config_error(cls, first, prefix, path, lines) from None


_EXPECTED = {
    "int_parsing": "is not an integer", "int_type": "is not an integer", "int_from_float": "is not an integer",
    "float_parsing": "is not a number", "float_type": "is not a number", "string_type": "is not a string",
    "bool_parsing": "is not true/false", "bool_type": "is not true/false",
}
#: pydantic's bound checks → the comparison and the ctx key holding the bound.
_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"), "less_than": ("<", "lt"),
           "less_than_equal": ("<=", "le")}


def _config_error(cls: type, error: Mapping[str, Any], prefix: tuple, path: Any, lines: LineMap | None
                  ) -> ConfigError:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    where = prefix + loc
    kind, value = error["type"], error.get("input")
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        known = _fields_at(cls, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f", did you mean {close[0]}?" if close else f"; expected one of {', '.join(known)}"
        message = f"unknown key{hint}"
    elif kind in ("missing", "missing_argument"):
        message = "required key missing"
    elif kind in ("tuple_type", "list_type"):
        message = f"value {value!r} is a {type(value).__name__}; expected a list"
    elif kind in ("dict_type", "mapping_type", "dataclass_type", "dataclass_exact_type", "model_type"):
        message = f"value {value!r} is a {type(value).__name__}; expected a mapping"
    elif kind == "config":
        message = error["ctx"]["message"]
    elif kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        message = f"value {value!r} must be {op} {error['ctx'][key]}"
    elif kind == "literal_error":
        message = f"value {value!r}: expected one of {error['ctx']['expected'].replace(' or ', ', ')}"
    elif _EXPECTED.get(kind):
        message = f"value {value!r} {_EXPECTED[kind]}"
    else:
        message = f"value {value!r}: {error['msg']}"
    return ConfigError(message, path, line_of(lines, where), field_path(where))


def _fields_at(cls: Any, loc: tuple) -> list[str]:
    """The field names of the dataclass reached from ``cls`` along ``loc`` (empty if none)."""
    hint: Any = cls
    for part in loc:
        hint = _unwrap(hint)
        if isinstance(part, int):
            continue
        if typing.get_origin(hint) in (dict, Mapping, collections.abc.Mapping):
            hint = typing.get_args(hint)[-1] if typing.get_args(hint) else Any
            continue
        if not dataclasses.is_dataclass(hint):
            return []
        hints = typing.get_type_hints(hint)
        if part not in hints:
            return []
        hint = hints[part]
    hint = _unwrap(hint)
    return [f.name for f in dataclasses.fields(hint)] if dataclasses.is_dataclass(hint) else []


def _unwrap(hint: Any) -> Any:
    """Optional[X] → X, tuple[X, ...] → X."""
    while True:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            hint = inner[0] if inner else hint
            if len(inner) != 1:
                return hint
        elif origin in (tuple, list) and args:
            hint = args[0]
        else:
            return hint


def to_plain(obj: Any) -> Any:
    """Dataclasses, tuples and mappings → plain dicts and lists (for YAML / JSON)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------------------------------------- checks
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
