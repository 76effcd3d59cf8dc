#!/usr/bin/env bash
# Installs what is missing, then builds the programs in release.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh
swift build -c release --explicit-target-dependency-import-check error 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Applying)' || true
test "${PIPESTATUS[0]}" -eq 0
