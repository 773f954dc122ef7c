"""The package skeleton: registry, CLI contract, import hygiene."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from cli_examples import logical_lines
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
        assert "example:" in text, name
        last = logical_lines(text.rsplit("example:", 1)[1])[-1]  # backslash continuations joined
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


def _all_parsers():
    """``(command path, parser)`` of every sub-command, nested ones included."""
    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield " ".join(path + (name,)), sub
                    yield from walk(sub, path + (name,))
    return list(walk(build_parser(), ()))


def _arguments(parser):
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions if not isinstance(a, skip)]


def test_every_option_and_argument_has_help():
    missing = [f"{path}: {'/'.join(a.option_strings) or a.dest}" for path, parser in _all_parsers()
               for a in _arguments(parser) if not a.help]
    assert not missing, f"options without help text: {missing}"


def test_device_option_is_the_same_on_every_command():
    from spoofbench.cli import DEVICE_CHOICES, DEVICE_HELP

    devices = {path: parser._option_string_actions["--device"] for path, parser in _all_parsers()
               if "--device" in parser._option_string_actions}
    assert {"train", "score", "demo", "models score"} <= set(devices)
    for path, action in devices.items():
        assert (action.default, tuple(action.choices or ()), action.help) == (None, DEVICE_CHOICES, DEVICE_HELP), path


def test_list_valued_options_take_several_values_and_repeats():
    lists = [(path, a) for path, parser in _all_parsers() for a in _arguments(parser)
             if a.option_strings and (a.nargs in ("+", "*") or isinstance(a, argparse._AppendAction))]
    assert len(lists) >= 5
    for path, action in lists:
        assert isinstance(action, argparse._ExtendAction) and action.nargs == "+", (path, action.option_strings)
        assert not action.default, f"{path} {action.option_strings}: a default list would be extended, not replaced"


@pytest.mark.parametrize("argv, dest, expected", [
    ("score --run r --manifest m --root x --codec none mp3_32k g711_mulaw", "codec", ["none", "mp3_32k", "g711_mulaw"]),
    ("score --run r --manifest m --root x --codec none --codec mp3_32k", "codec", ["none", "mp3_32k"]),
    ("metrics --scores s --keys k --by attack codec --by speaker", "by", ["attack", "codec", "speaker"]),
    ("demo --codecs tel_gsm g711_mulaw --codecs g722", "codecs", ["tel_gsm", "g711_mulaw", "g722"]),
    ("table r.json --metric eer --metric min_dcf", "metric", ["eer", "min_dcf"]),
])
def test_list_flags_parse_both_spellings(argv, dest, expected):
    assert getattr(build_parser().parse_args(argv.split()), dest) == expected
