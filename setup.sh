#!/usr/bin/env bash
# One-shot set-up of a fresh Debian/Ubuntu machine for spoofbench: system tools, a virtual
# environment (default .venv, override with SPOOFBENCH_VENV) holding exactly the tested set of
# packages pinned in requirements-tested.txt (the lock; tools/lock.sh regenerates it), and the
# package itself (editable). Idempotent: a second run with nothing to do takes about a second.
# SPOOFBENCH_UNLOCKED=1 installs pyproject.toml's supported ranges instead of the lock.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${SPOOFBENCH_VENV:-.venv}"
PY="${PYTHON:-python3}"

# 1. System packages: ffmpeg (codec engine), the codec libraries the native engine calls in-process
#    (GSM, Speex, Codec 2, AMR-NB, AMR-WB), the offline speech generators of the demo, bubblewrap (the
#    sandbox of model submissions) and a headless browser for the leaderboard page's test.
APT_PKGS=(ffmpeg libgsm1 libspeex1 libcodec2-1.0 libopencore-amrnb0 libopencore-amrwb0 libvo-amrwbenc0
          espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
          bubblewrap chromium chromium-driver)
missing=()
for pkg in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
    if [ "$SUDO" = "none" ]; then
        echo "setup.sh: not root and no sudo; ask an administrator for: apt-get install ${missing[*]}" >&2
        echo "setup.sh: continuing; codec conditions and demo attacks needing them will be reported unavailable." >&2
    else
        echo "setup.sh: apt-get install ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# 2. Virtual environment.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"

# 3. torch + torchaudio first (another package's requirement would otherwise pull a different build).
#    The tested pair is pinned in the lock (one source of truth). torchcodec is not needed: spoofbench
#    reads audio with soundfile/PyAV and never calls torchaudio's I/O.
LOCK=requirements-tested.txt
TORCH_SPEC=${SPOOFBENCH_TORCH:-"$(grep -E '^(torch|torchaudio)==' "$LOCK" | tr '\n' ' ')"}
if ! "$VPY" -c "import torch, torchaudio" >/dev/null 2>&1; then
    echo "setup.sh: installing $TORCH_SPEC"
    "$VPY" -m pip install -q --upgrade pip
    "$VPY" -m pip install -q $TORCH_SPEC
fi

# 4. The locked set, then the package (editable, without re-resolving), then removal of anything the
#    lock does not hold; redone only when pyproject.toml or the lock changes.
stamp="$VENV/.spoofbench-setup-stamp"
want="$(cat pyproject.toml "$LOCK" | sha256sum | cut -d' ' -f1) ${SPOOFBENCH_UNLOCKED:-0} ${SPOOFBENCH_TORCH:-}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    if [ "${SPOOFBENCH_UNLOCKED:-0}" = "1" ]; then
        echo "setup.sh: installing spoofbench[test,perf] with pyproject.toml's ranges (not the lock)"
        "$VPY" -m pip install -q "setuptools>=77,<81" wheel
        "$VPY" -m pip install -q -e ".[test,perf]" $TORCH_SPEC
    else
        echo "setup.sh: installing the locked set ($LOCK) into $VENV"
        if [ -n "${SPOOFBENCH_TORCH:-}" ]; then  # the user's torch pair replaces the locked one
            grep -vE '^(torch|torchaudio)==' "$LOCK" > "$VENV/.lock-without-torch.txt"
            "$VPY" -m pip install -q -r "$VENV/.lock-without-torch.txt" $TORCH_SPEC
        else
            "$VPY" -m pip install -q -r "$LOCK"
        fi
        "$VPY" -m pip install -q --no-deps --no-build-isolation -e .
        extras="$("$VPY" -m spoofbench.lockfile extras)"
        if [ -n "$extras" ]; then
            echo "setup.sh: removing packages the lock does not hold: $(echo $extras)"
            "$VPY" -m pip uninstall -q -y $extras
        fi
    fi
    "$VPY" -m pip check >/dev/null || { "$VPY" -m pip check >&2; exit 1; }
    echo "$want" > "$stamp"
fi
