#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs every test in release
# (numeric tests are 10-100x slower in debug). One build: `swift test` builds the programs the
# tests launch too. Tests that launch mpirun handle running as root. A module importing a target
# it does not list in Package.swift fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
swift test -c release --disable-swift-testing --explicit-target-dependency-import-check error 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Applying)|^Test Case .* (started|passed)'
exit "${PIPESTATUS[0]}"
