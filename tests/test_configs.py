"""spoofbench.configs: typed pydantic configs from YAML, with errors naming file, line and field path."""
from __future__ import annotations

from dataclasses import field

import pytest

from spoofbench.configs import YamlConfig, check_positive, config_dataclass
from spoofbench.errors import ConfigError


@config_dataclass
class Inner:
    rate: float = 1.0
    names: tuple[str, ...] = ()


@config_dataclass
class Outer(YamlConfig):
    size: int
    inner: Inner = field(default_factory=Inner)
    items: tuple[Inner, ...] = ()
    label: str | None = None

    def validate(self, path=None):
        check_positive(self.size, "size", path)
        return self


def test_round_trip_and_nesting(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("size: 3\ninner: {rate: 1e-3, names: [a, b]}\n")
    config = Outer.from_yaml(path)
    assert config == Outer(3, Inner(0.001, ("a", "b")))
    assert Outer.from_dict(config.to_dict()) == config
    assert Outer.from_yaml(tmp_path / "c.yaml", label="x").label == "x"


def test_configs_are_frozen():
    config = Outer(3)
    with pytest.raises(Exception):
        config.size = 4  # type: ignore[misc]


@pytest.mark.parametrize("text,message", [
    ("size: 3\ncolour: red\n", "c.yaml:2: colour: unknown key; expected one of size, inner, items, label"),
    ("size: 3\ninner:\n  rat: 2\n", "c.yaml:3: inner.rat: unknown key, did you mean rate?"),
    ("size: 3\nitems:\n  - {rate: 1}\n  - {rates: 2}\n", "c.yaml:4: items[1].rates: unknown key, did you mean rate?"),
    ("size: three\n", "c.yaml:1: size: value 'three' is not an integer"),
    ("size: 0\n", "c.yaml:1: size: value 0 must be > 0"),
    ("size: 1\ninner: {names: a}\n", "c.yaml:2: inner.names: value 'a' is a str; expected a list"),
    ("inner: {}\n", "c.yaml: size: required key missing"),
    ("size: [1\n", "c.yaml:2: invalid YAML: expected ',' or ']'"),
    ("- 1\n", "top level is a list; expected a mapping"),
])
def test_bad_input_names_file_line_and_field(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        Outer.from_yaml(path)
    assert message in str(err.value).replace(str(tmp_path) + "/", "")
