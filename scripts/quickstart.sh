#!/usr/bin/env bash
# The GS-LRM-only quickstart (the main job before the diffusion model joined it; scripts/demo.sh
# is the whole pipeline): synthesises a small head dataset, converts it to HDF5
# shards, trains the GS-LRM reconstructor (recipes/quickstart.yaml) on 2 MPI ranks, and
# reconstructs a held-out subject from 4 views. Re-running reuses the data already made and
# starts a fresh run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin=.build/release
renders=data/renders/heads-quick
dataset=data/heads-quick

scripts/heads-quick-data.sh
"$bin/data-tools" verify "$dataset"
"$bin/data-tools" preview --input "$renders" --out data/heads-quick-preview.png --subjects 6 --views 8

echo "== training recipes/quickstart.yaml on 2 ranks"
rm -rf checkpoints/quickstart
# The timeout gives the ranks 30 s between SIGTERM and SIGKILL after a Ctrl-C, time for a step and
# a checkpoint (Open MPI's default is 1 s; README.md, "Stopping a run").
mpirun --oversubscribe --mca odls_base_sigkill_timeout 30 -np 2 "$bin/relief-train" recipes/quickstart.yaml

subject=$("$bin/data-tools" inspect "$dataset" --subjects val | head -n 1)
out=outputs/quickstart/$subject
echo "== reconstructing held-out subject $subject from views 0,8,16,24"
rm -rf "$out"
"$bin/relief-infer" reconstruct --checkpoint checkpoints/quickstart --input "$renders/$subject" --out "$out" --views 0,8,16,24

echo
echo "data preview:     data/heads-quick-preview.png"
echo "loss curve:       checkpoints/quickstart/loss.png (held-out PSNR: checkpoints/quickstart/eval-psnr.png)"
echo "evaluation grids: checkpoints/quickstart/eval/"
echo "checkpoint:       checkpoints/quickstart/latest -> $(cat checkpoints/quickstart/latest)"
echo "Gaussians (PLY):  $out/gaussians.ply"
echo "turntable:        $out/turntable/"
echo "metrics:          $out/metrics.json"
