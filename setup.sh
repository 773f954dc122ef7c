#!/usr/bin/env bash
# One-shot set-up of a fresh Debian/Ubuntu machine for spoofbench: system tools, a virtual
# environment (default .venv, override with SPOOFBENCH_VENV), torch + torchaudio, and the package
# with its test extras. Idempotent: a second run with nothing to do takes about a second.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${SPOOFBENCH_VENV:-.venv}"
PY="${PYTHON:-python3}"

# 1. System packages: ffmpeg (codec engine), the offline speech generators of the demo, and a
#    headless browser for the leaderboard page's test.
APT_PKGS=(ffmpeg espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
          chromium chromium-driver)
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
#    The tested pair lives in requirements-tested.txt (one source of truth). torchcodec is not needed:
#    spoofbench reads audio with soundfile/PyAV and never calls torchaudio's I/O.
TORCH_SPEC=${SPOOFBENCH_TORCH:-"$(grep -E '^(torch|torchaudio)==' requirements-tested.txt | tr '\n' ' ')"}
if ! "$VPY" -c "import torch, torchaudio" >/dev/null 2>&1; then
    echo "setup.sh: installing $TORCH_SPEC"
    "$VPY" -m pip install -q --upgrade pip
    "$VPY" -m pip install -q $TORCH_SPEC
fi

# 4. The package (editable) with its test extras; redone only when pyproject.toml or the tested pair changes.
stamp="$VENV/.spoofbench-setup-stamp"
want="$(cat pyproject.toml requirements-tested.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup.sh: installing spoofbench[test] into $VENV"
    "$VPY" -m pip install -q "setuptools>=77,<81" wheel
    "$VPY" -m pip install -q -e ".[test]" $TORCH_SPEC
    echo "$want" > "$stamp"
fi
