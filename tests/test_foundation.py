"""The package skeleton: registry, CLI contract, import hygiene."""
from __future__ import annotations

import subprocess
import sys

import pytest

from spoofbench.cli import COMMAND_MODULES, build_parser, main
from spoofbench.errors import ManifestError, SpoofbenchError, UnknownPluginError
from spoofbench.registry import Registry


def test_registry_lazy_entries_and_suggestions():
    reg = Registry("widget")
    reg.register("json_dumps", "json:dumps")
    import json

    assert reg.get("json_dumps") is json.dumps
    with pytest.raises(UnknownPluginError, match=r"did you mean 'json_dumps'"):
        reg.get("json_dump")


def test_registry_collision_and_decorator():
    reg = Registry("widget")

    @reg.register("a")
    def build_a():
        return 1

    assert reg.get("a") is build_a
    with pytest.raises(SpoofbenchError, match="already registered"):
        reg.register("a", build_a)
    reg.register("a", len, overwrite=True)
    assert reg.get("a") is len


def test_registry_bad_lazy_target_names_it():
    reg = Registry("widget")
    reg.register("broken", "no_such_module_xyz:thing")
    with pytest.raises(SpoofbenchError, match="no_such_module_xyz:thing"):
        reg.get("broken")


def test_located_error_message():
    err = ManifestError("expected 'bonafide' or 'spoof', got 'fake'", "m.jsonl", 12, "label")
    assert str(err) == "m.jsonl:12: label: expected 'bonafide' or 'spoof', got 'fake'"


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_all_command_modules_exist():
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"spoofbench.commands.{name}")


def test_every_subcommand_help_ends_with_example():
    choices = _subcommands()
    assert {"metrics", "prepare", "validate", "codecs", "models", "train", "score", "run",
            "table", "demo"} <= set(choices)
    for name, sub in choices.items():
        text = sub.format_help().rstrip()
        last = text.splitlines()[-1].strip()
        assert "example:" in text, name
        assert last.startswith("spoofbench "), f"{name}: help does not end with an example: {last!r}"


def test_top_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("metrics", "codecs", "models", "demo"):
        assert name in out


def test_import_does_not_pull_torch():
    code = "import sys, spoofbench, spoofbench.cli; spoofbench.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_stdlib_shadowing():
    import codecs

    assert codecs.__file__ and "spoofbench" not in codecs.__file__
    import spoofbench.codecs as sb_codecs

    assert sb_codecs.__name__ == "spoofbench.codecs"
