#!/usr/bin/env bash
# Prove the README's two commands on a fresh machine: clone this repository (its committed HEAD) into
# an empty folder, with an empty pip cache and no virtual environment, then run the README's set-up +
# test command and the quick demo there, printing the wall time of each step.
# Usage: tools/fresh_check.sh [WORK_DIR]   (default: a new folder under ${TMPDIR:-/tmp}; kept afterwards)
# ../shared beside this checkout, when present, is linked beside the clone (the tests skip without it).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d "${TMPDIR:-/tmp}/spoofbench-fresh.XXXXXX")}"
mkdir -p "$WORK"
[ -z "$(ls -A "$WORK")" ] || { echo "fresh_check: $WORK is not empty" >&2; exit 2; }
export PIP_CACHE_DIR="$WORK/pip-cache" XDG_CACHE_HOME="$WORK/cache"
mkdir -p "$PIP_CACHE_DIR"
git clone -q "$SRC" "$WORK/main"
[ -d "$SRC/../shared" ] && ln -s "$(cd "$SRC/../shared" && pwd)" "$WORK/shared"
cd "$WORK/main"
step() {  # step NAME COMMAND...: run, time, and stop at the first failure
    local name="$1"; shift
    local start=$SECONDS
    echo "fresh_check: $name: $*"
    if "$@" > "$WORK/$name.log" 2>&1; then
        echo "fresh_check: $name: ok in $((SECONDS - start)) s (log $WORK/$name.log)"
    else
        echo "fresh_check: $name: FAILED after $((SECONDS - start)) s; last lines of $WORK/$name.log:" >&2
        tail -n 30 "$WORK/$name.log" >&2
        exit 1
    fi
}
echo "fresh_check: commit $(git rev-parse --short HEAD) in $WORK/main, empty pip cache $PIP_CACHE_DIR"
step setup ./setup.sh
# The README's commands as written (set-up again is a no-op taking about a second):
step tests bash -c './setup.sh && .venv/bin/python -m pytest -q -p no:cacheprovider'
step demo_quick bash -c './setup.sh && .venv/bin/spoofbench demo --quick --out runs/fresh-demo'
tail -n 1 "$WORK/tests.log"
echo "fresh_check: passed (setup, tests, demo --quick) from an empty folder"
