#!/usr/bin/env bash
# The GPU path in one command: train rawcnn_2m and aasist_l for a fixed number of steps under bf16
# autocast, score with batching while sampling GPU utilisation, compare with CPU fp32 scores.
# Exits non-zero on CUDA when scoring keeps the GPU below 80% busy or scores differ beyond the
# stated tolerance; without a GPU (or with --mode cpu) it runs on the CPU with those thresholds
# skipped. All options: perf/gpu_check.sh --help  (see perf/gpu_check.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$here/../.venv/bin/python" ]]; then python="$here/../.venv/bin/python"; else python="python3"; fi
fi
exec "$python" "$here/gpu_check.py" "$@"
