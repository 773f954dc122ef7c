#!/usr/bin/env bash
# Regenerate the lock of the tested environment, requirements-tested.txt, with pip-tools' pip-compile:
# pyproject.toml's ranges (the package, its test and perf extras) + tools/lock-pins.in (the torch pair).
# pip-tools runs from its own throw-away venv, so it is not part of the locked set. Then re-install
# the locked set with ./setup.sh and run the tests. Usage: tools/lock.sh [--upgrade]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
PIP_TOOLS_VERSION=7.7.0
TOOLS="${SPOOFBENCH_LOCK_TOOLS:-${TMPDIR:-/tmp}/spoofbench-pip-tools}"
[ -x "$TOOLS/bin/pip-compile" ] || { "$PY" -m venv "$TOOLS" && "$TOOLS/bin/pip" install -q "pip-tools==$PIP_TOOLS_VERSION"; }
CUSTOM_COMPILE_COMMAND="tools/lock.sh" "$TOOLS/bin/pip-compile" --quiet --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
    --extra test --extra perf --output-file requirements-tested.txt "$@" pyproject.toml tools/lock-pins.in
echo "tools/lock.sh: wrote requirements-tested.txt ($(grep -c '==' requirements-tested.txt) pins); now run ./setup.sh"
