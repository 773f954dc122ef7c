#!/usr/bin/env bash
# The GPU path in one command: train rawcnn_2m and aasist_l for a fixed number of steps under bf16
# autocast, score with batching while sampling GPU utilisation, compare with CPU fp32 scores.
# Exits non-zero on CUDA when scoring keeps the GPU below 80% busy or scores differ beyond the
# stated tolerance; without a GPU (or with --mode cpu) it runs on the CPU with those thresholds
# skipped. All options: perf/gpu_check.sh --help  (see perf/gpu_check.py). On CUDA it then times batched vs
# per-clip neural-codec coding (perf/bench_neural_batch.py --device cuda).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$here/../.venv/bin/python" ]]; then python="$here/../.venv/bin/python"; else python="python3"; fi
fi
status=0
"$python" "$here/gpu_check.py" "$@" || status=$?
# batched neural-codec coding, the case scoring batches (EnCodec on CUDA): per clip vs batched, same run
if "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  "$python" "$here/bench_neural_batch.py" --device cuda --clips 64 || status=$?
fi
exit "$status"
