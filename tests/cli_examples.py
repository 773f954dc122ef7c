"""The commands users copy: each sub-command's ``--help`` example and the README's fenced code blocks.

Both lists are read from their source (the argparse parsers, README.md) every time, so the tests that run
them (tests/test_help_examples.py, tests/test_readme_commands.py) follow the documentation as it changes.
The commands run in-process (``spoofbench.cli.main``) from a work folder beside a ``shared`` link to
``../shared``, with ``data_manifests`` and the quick demo run (``runs/demo-quick``) in place: the layout
of a checkout where ``spoofbench demo --quick`` has run.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import io
import os
import re
import shlex
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

from testenv import REPO

#: How a documented command line may start; what follows is the CLI's argv.
PREFIXES = (("python", "-m", "spoofbench"), (".venv/bin/python", "-m", "spoofbench"), (".venv/bin/spoofbench",),
            ("spoofbench",))
#: Options whose value is written, not read (so an absent folder there is no missing input).
OUTPUT_OPTIONS = frozenset({"--out", "--save", "--det", "--write-clean", "--log-file", "--cache-dir", "--plot"})
#: The smallest quick demo: what ``spoofbench demo --quick --out runs/demo-quick`` adds to stay short in tests.
QUICK_DEMO = ("demo", "--quick", "--out", "runs/demo-quick")
QUICK_DEMO_SMALL = ("--detectors", "lfcc_gmm", "--no-real-attacks", "--epochs", "1", "--bootstrap", "20",
                    "--device", "cpu", "--no-progress")


@dataclass(frozen=True)
class Command:
    """One documented command line: where it is written, the line, and the CLI argv (None: not spoofbench)."""
    where: str
    line: str
    argv: tuple[str, ...] | None

    @property
    def id(self) -> str:
        return f"{self.where}: {self.line}"[:140]


@dataclass(frozen=True)
class Outcome:
    status: str  # "passed", "failed" or "skipped"
    detail: str = ""


def logical_lines(text: str) -> list[str]:
    """Non-empty lines of a shell snippet, backslash continuations joined, ``#`` comment lines dropped."""
    lines, pending = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def split_line(line: str) -> list[list[str]]:
    """Shell words of each ``&&``-joined part of ``line`` (comments dropped)."""
    words = shlex.split(line, comments=True)
    parts, current = [], []
    for word in words:
        if word == "&&":
            parts.append(current)
            current = []
        else:
            current.append(word)
    return [p for p in parts + [current] if p]


def spoofbench_argv(words: list[str]) -> tuple[str, ...] | None:
    for prefix in PREFIXES:
        if tuple(words[:len(prefix)]) == prefix:
            return tuple(words[len(prefix):])
    return None


def _commands_of(where: str, text: str) -> list[Command]:
    out = []
    for line in logical_lines(text):
        for words in split_line(line):
            out.append(Command(where, " ".join(shlex.quote(w) for w in words), spoofbench_argv(words)))
    return out


def help_commands() -> list[Command]:
    """Every command of every sub-command's ``--help`` example, in ``--help`` order, without repeats."""
    from spoofbench.cli import build_parser

    seen: dict[str, Command] = {}
    for path, parser in _walk(build_parser(), ()):
        epilog = parser.epilog or ""
        if not path or "example:" not in epilog:
            continue
        for command in _commands_of(" ".join(path) + " --help", epilog.split("example:", 1)[1]):
            seen.setdefault(command.line, command)
    return list(seen.values())


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


_FENCE = re.compile(r"^```(\w*)\s*$")


def readme_blocks(readme: Path = REPO / "README.md") -> list[tuple[str, int, str]]:
    """``(language, first line number, text)`` of each fenced code block."""
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(readme.read_text(encoding="utf-8").splitlines(), 1):
        match = _FENCE.match(line.strip())
        if match and lang is None:
            lang, start, body = match.group(1) or "text", number + 1, []
        elif line.strip() == "```" and lang is not None:
            blocks.append((lang, start, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def readme_commands(readme: Path = REPO / "README.md") -> list[Command]:
    """The commands of the README's ``bash``/``sh``/``shell``/``console`` blocks, in order."""
    out = []
    for lang, start, text in readme_blocks(readme):
        if lang in ("bash", "sh", "shell", "console"):
            out += _commands_of(f"README.md:{start}", text)
    return out


def readme_imports(readme: Path = REPO / "README.md") -> list[str]:
    """``from spoofbench... import ...`` / ``import spoofbench...`` lines of the README's python blocks."""
    pattern = re.compile(r"^\s*(from\s+spoofbench[\w.]*\s+import\s+.+|import\s+spoofbench[\w.]*)\s*$")
    return [line.strip() for lang, _, text in readme_blocks(readme) if lang in ("python", "py")
            for line in text.splitlines() if pattern.match(line)]


def expand_globs(argv: tuple[str, ...], cwd: Path) -> tuple[str, ...]:
    """What the shell would pass: ``*``/``?`` words replaced by their sorted matches (kept when none match)."""
    out = []
    for word in argv:
        matches = sorted(glob.glob(word, root_dir=cwd)) if any(c in word for c in "*?") else []
        out += matches or [word]
    return tuple(out)


def missing_inputs(argv: tuple[str, ...], cwd: Path) -> list[str]:
    """Path-like words (with a ``/``) read by the command whose top folder is absent: data a checkout may
    lack (``/data/...``, ``../shared/...`` without ../shared, a user's ``dist/`` or submission folder).
    A missing file in a folder that exists (``runs/x``, a bare ``in.wav``) is no excuse: the command runs."""
    missing, after_output = [], False
    for word in argv:
        if after_output or word.startswith("-") or "/" not in word or re.search(r"[()\[\]$^|{}]", word):
            after_output = word in OUTPUT_OPTIONS
            continue
        path = Path(word)
        top = Path(path.anchor) / path.parts[1] if path.is_absolute() else cwd / path.parts[0]
        if path.parts[0] == "..":
            top = cwd.parent / path.parts[1]
        if not top.exists():
            missing.append(word)
    return missing


@contextlib.contextmanager
def working_directory(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def make_workdir(base: Path, name: str, demo_run: Path | None) -> Path:
    """``base/name``: ``data_manifests`` (benchmarks copied so their ``../../runs`` land here, the rest
    linked), ``runs/demo-quick`` linked to ``demo_run``; ``base/shared`` links to ../shared."""
    from testenv import SHARED

    if SHARED.exists() and not (base / "shared").exists():
        (base / "shared").symlink_to(SHARED.resolve(), target_is_directory=True)
    work = base / name
    (work / "data_manifests").mkdir(parents=True)
    for child in (REPO / "data_manifests").iterdir():
        if child.name == "benchmarks":
            shutil.copytree(child, work / "data_manifests" / child.name)
        elif not child.name.startswith("__"):
            (work / "data_manifests" / child.name).symlink_to(child)
    (work / "runs").mkdir()
    if demo_run is not None:
        (work / "runs" / "demo-quick").symlink_to(demo_run, target_is_directory=True)
    return work


def run_command(command: Command, cwd: Path) -> Outcome:
    """Run one documented command in ``cwd``: skipped when it needs data that is absent or is not a
    spoofbench command, failed on a non-zero exit or an exception."""
    if command.argv is None:
        return Outcome("skipped", f"not a spoofbench command: {command.line}")
    argv = expand_globs(command.argv, cwd)
    if absent := missing_inputs(argv, cwd):
        return Outcome("skipped", f"needs data that is absent here: {', '.join(absent)}")
    from spoofbench.cli import main

    output = io.StringIO()
    with working_directory(cwd), contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
        except Exception:  # noqa: BLE001 - reported as the test's failure
            code = f"an exception:\n{traceback.format_exc()}"
    if code in (0, None):
        return Outcome("passed")
    return Outcome("failed", f"`{command.line}` exited {code}; its output ended with:\n{output.getvalue()[-3000:]}")


def run_all(commands: list[Command], cwd: Path, special=None) -> dict[str, Outcome]:
    """Each command's outcome, run in order (later commands may read what earlier ones wrote);
    ``special(command) -> Outcome | None`` decides first (a documented skip, a command run elsewhere)."""
    outcomes = {}
    for command in commands:
        outcome = special(command) if special else None
        outcomes[command.id] = outcome or run_command(command, cwd)
    return outcomes


def build_quick_demo(base: Path) -> tuple[Path, Outcome]:
    """``spoofbench demo --quick --out runs/demo-quick`` with the smallest settings, in ``base/demo``."""
    work = make_workdir(base, "demo", None)
    outcome = run_command(Command("quick demo", " ".join(QUICK_DEMO + QUICK_DEMO_SMALL),
                                  QUICK_DEMO + QUICK_DEMO_SMALL), work)
    return work / "runs" / "demo-quick", outcome
