#!/usr/bin/env bash
# The import-linter contracts of pyproject.toml (layers, no cycles), checked over the package as installed.
# spoofbench maps four folders onto one import root (pyproject's package-dir), which import-linter's graph
# builder cannot follow, so the .py files are first laid out as one `spoofbench` tree in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SPOOFBENCH_VENV:-.venv}"
tree="$(mktemp -d "${TMPDIR:-/tmp}/spoofbench-imports.XXXXXX")"
trap 'rm -rf "$tree"' EXIT
copy() {  # copy FOLDER's .py files to DEST, keeping sub-folders
    (cd "$1" && find . -name '*.py' -not -path '*/__pycache__/*' -exec install -D -m 644 {} "$2/{}" \;)
}
copy benchmark "$tree/spoofbench"
copy models "$tree/spoofbench/models"
copy codecs "$tree/spoofbench/codecs"
copy data_manifests "$tree/spoofbench/data_manifests"
(cd "$tree" && PYTHONPATH="$tree" "$OLDPWD/$VENV/bin/lint-imports" "$OLDPWD/pyproject.toml" --no-cache)
