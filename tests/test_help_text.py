"""Every sub-command's ``--help`` renders cleanly: no literal ``%%`` (argparse formats option help with
``%`` but prints descriptions as written), and every option has help text."""
from __future__ import annotations

import argparse

from cli_examples import _walk
from spoofbench.cli import build_parser


def _parsers():
    return [(" ".join(path) or "spoofbench", parser) for path, parser in _walk(build_parser(), ())]


def test_no_literal_double_percent_in_any_help():
    bad = [name for name, parser in _parsers() if "%%" in parser.format_help()]
    assert not bad, f"'%%' printed literally in the --help of: {bad}"


def test_every_option_has_help_text():
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, parser in _parsers() for action in parser._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help]
    assert not missing, f"options without help text: {missing}"
