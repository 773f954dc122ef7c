"""spoofbench.configs: typed dataclass configs from YAML, with errors that name file and field."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from spoofbench.configs import YamlConfig, check_positive
from spoofbench.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    rate: float = 1.0
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer(YamlConfig):
    size: int
    inner: Inner = field(default_factory=Inner)
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


@pytest.mark.parametrize("text,message", [
    ("size: 3\ncolour: red\n", "c.yaml: <top>: unknown key(s) 'colour'"),
    ("size: three\n", "c.yaml: size: value 'three' is not an integer"),
    ("size: 0\n", "c.yaml: size: value 0 must be > 0"),
    ("size: 1\ninner: {names: a}\n", "c.yaml: inner.names: value 'a' is a str; expected a list"),
    ("size: [1\n", "c.yaml:2: invalid YAML: expected ',' or ']'"),
    ("- 1\n", "top level is a list; expected a mapping"),
])
def test_bad_input_names_file_and_field(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        Outer.from_yaml(path)
    assert message in str(err.value).replace(str(tmp_path) + "/", "")
