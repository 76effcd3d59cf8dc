#!/usr/bin/env bash
# The main job on the built-in default: makes a small synthetic head dataset, converts it to
# HDF5 shards, checks it, and trains recipes/probe.yaml on 2 MPI ranks. Re-running reuses the
# data already made and starts a fresh run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin=.build/release

if [ ! -f data/heads-demo/manifest.json ]; then
    echo "== synthesising 48 heads (24 identities x 2 variants), 32 views each at 64x64"
    "$bin/data-tools" synth --out data/renders/heads-demo --identities 24 --variants 2 --resolution 64 --rig reconstructor --seed 1
    echo "== converting to HDF5 shards"
    "$bin/data-tools" convert --input data/renders/heads-demo --out data/heads-demo --resolution 64 --val-fraction 0.1
fi
"$bin/data-tools" verify data/heads-demo
"$bin/data-tools" preview --input data/renders/heads-demo --out data/heads-demo-preview.png --subjects 6 --views 8

echo "== training recipes/probe.yaml on 2 ranks"
rm -rf checkpoints/probe
mpirun --oversubscribe -np 2 "$bin/relief-train" recipes/probe.yaml

echo
echo "data preview:     data/heads-demo-preview.png"
echo "loss curve:       checkpoints/probe/loss.png"
echo "evaluation grids: checkpoints/probe/eval/"
echo "checkpoint:       checkpoints/probe/latest -> $(cat checkpoints/probe/latest)"
