#!/usr/bin/env bash
# Installs the Debian packages Relief builds against, only those missing.
set -euo pipefail
packages=(libopenblas-dev libhdf5-dev libpng-dev libopenmpi-dev openmpi-bin pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The safetensors interop tests read and write files with Python's reference implementation;
# where python3 has pip, install it (the tests skip, saying so, where it cannot be had).
if command -v python3 >/dev/null && ! python3 -c "import numpy, safetensors.numpy" 2>/dev/null; then
    python3 -m pip install --quiet safetensors numpy 2>/dev/null || echo "note: python3 safetensors unavailable; its interop tests will be skipped"
fi
