#!/usr/bin/env bash
# The checks .ci/run adds to the tests: ruff, the import-linter contracts (layers, no cycles) and mypy over
# the foundation, the metrics and the run-result model, all configured in pyproject.toml.
# spoofbench maps four folders onto one import root (pyproject's package-dir); import-linter's graph builder
# and mypy cannot follow that mapping, so the .py files are first laid out as one `spoofbench` tree in a
# temporary folder and both tools run there.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
BIN="$REPO/${SPOOFBENCH_VENV:-.venv}/bin"
status=0

echo "lint: ruff"
"$BIN/ruff" check --quiet benchmark models codecs tests perf tools docs || status=1

tree="$(mktemp -d "${TMPDIR:-/tmp}/spoofbench-lint.XXXXXX")"
trap 'rm -rf "$tree"' EXIT
copy() {  # copy FOLDER's .py files to DEST, keeping sub-folders
    (cd "$1" && find . -name '*.py' -not -path '*/__pycache__/*' -exec install -D -m 644 {} "$2/{}" \;)
}
copy benchmark "$tree/spoofbench"
copy models "$tree/spoofbench/models"
copy codecs "$tree/spoofbench/codecs"
copy data_manifests "$tree/spoofbench/data_manifests"

echo "lint: import-linter (pyproject.toml [tool.importlinter])"
(cd "$tree" && PYTHONPATH="$tree" "$BIN/lint-imports" "$REPO/pyproject.toml" --no-cache) > "$tree/imports.log" 2>&1 \
    || { cat "$tree/imports.log"; status=1; }
grep -E "KEPT|BROKEN" "$tree/imports.log" || true

echo "lint: mypy (pyproject.toml [tool.mypy])"
(cd "$tree" && "$BIN/mypy" --config-file "$REPO/pyproject.toml" --cache-dir "$tree/.mypy_cache") || status=1

[ "$status" -eq 0 ] && echo "lint: all checks passed" || echo "lint: FAILED" >&2
exit "$status"
