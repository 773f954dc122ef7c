"""docs/interfaces.md is generated where it can be: every module has a layer, the layer table is current, its
links resolve, and no document points outside the repository."""
from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import layers  # noqa: E402


def test_every_module_has_a_layer():
    assert len(layers.modules()) > 100
    assert [m for m in layers.modules() if layers.layer_of(m) is None] == []
    assert layers.layer_of("spoofbench.runner.result_model") == "bench"
    assert layers.layer_of("spoofbench.runner.report") == "report"
    assert layers.layer_of("spoofbench.metrics.paired") == "domain"
    assert layers.layer_of("spoofbench.locks") == "foundation"


def test_the_layer_table_in_interfaces_md_is_the_generated_one():
    text = (REPO / "docs" / "interfaces.md").read_text(encoding="utf-8")
    assert layers.section() in text, "docs/interfaces.md is stale: run `python tools/layers.py --write`"


def test_doc_links_resolve_inside_the_repository():
    for name in ("interfaces.md", "design.md"):
        text = (REPO / "docs" / name).read_text(encoding="utf-8")
        assert "../shared" not in text
        for target in re.findall(r"\]\(([^)#]+)", text):
            assert (REPO / "docs" / target).exists(), (name, target)


def test_the_import_linter_contracts_in_pyproject_are_the_generated_ones():
    """The contracts tools/check_imports.sh (and .ci/run) enforce are generated from the same LAYERS."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert layers.importlinter_contracts() in text, "pyproject.toml is stale: run `python tools/layers.py --write`"
