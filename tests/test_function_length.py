"""No function in benchmark/, models/ or codecs/ is longer than 60 lines (the style brief's limit).

Measured on the source with ``ast``: from the ``def`` line to the function's last line, its docstring and
nested functions included. A function over the limit is split into helpers that each do one job.
"""
from __future__ import annotations

import ast
from pathlib import Path

MAX_LINES = 60
REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "models", "codecs")


def long_functions(root: Path, limit: int = MAX_LINES, base: Path = REPO) -> list[str]:
    """``path:line name (n lines)`` (path relative to ``base``) of every function or method under ``root``
    longer than ``limit`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(base)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_longer_than_the_limit():
    too_long = [entry for package in PACKAGES for entry in long_functions(REPO / package)]
    assert not too_long, f"functions over {MAX_LINES} lines; split them:\n" + "\n".join(too_long)


def test_the_walk_finds_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "mod.py").write_text(f"class C:\n    def short(self):\n        return 1\n\n"
                                     f"def long():\n{body}\n", encoding="utf-8")
    assert long_functions(tmp_path, base=tmp_path) == [f"mod.py:5 long ({MAX_LINES + 1} lines)"]
    assert long_functions(tmp_path, limit=MAX_LINES + 1, base=tmp_path) == []
