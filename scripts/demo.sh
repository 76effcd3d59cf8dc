#!/usr/bin/env bash
# The main job on the built-in default, the whole single-image → 3D story at quick scale:
# synthesises heads seen by the pipeline rig (the diffusion ring of 8 views at 0° elevation and
# 32 views at 20°), converts them to HDF5 shards at 64² and 32², trains on 2 MPI ranks every
# model the pipeline needs — the VAE, the multi-view diffusion model in its latent space, and
# the GS-LRM (first on 4 random views of a 20°-elevation rig of the same heads, then on the six
# diffusion views) — then lifts a held-out head from one image with
# `relief-infer lift` and prints where the views, PLY, turntable and metrics are.
# Re-running reuses the data and resumes each run (a finished run is left as it is).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin=.build/release
renders=data/renders/ring-64
dataset=data/ring-64

if [ ! -f "$dataset/manifest.json" ] || [ ! -f data/ring-32/manifest.json ]; then
    echo "== synthesising 240 heads (120 identities x 2 variants), 40 views each at 64x64 (pipeline rig)"
    "$bin/data-tools" synth --out "$renders" --identities 120 --variants 2 --resolution 64 --rig pipeline --seed 1
    echo "== converting to HDF5 shards at 64x64 and 32x32 (10% of identities held out)"
    "$bin/data-tools" convert --input "$renders" --out "$dataset" --resolution 64 --val-fraction 0.1
    "$bin/data-tools" convert --input "$renders" --out data/ring-32 --resolution 32 --val-fraction 0.1
fi
scripts/heads-quick-data.sh   # the same heads seen by the 20° rig, for the GS-LRM's first stage
for d in "$dataset" data/ring-32 data/heads-quick; do "$bin/data-tools" verify "$d"; done

train() {  # recipe run-name: trains on 2 ranks, resuming the run if it has a checkpoint
    local resume=()
    [ -f "checkpoints/$2/latest" ] && resume=(--resume latest)
    echo "== training $1 on 2 ranks${resume:+ (resuming)}"
    # The timeout gives the ranks 30 s between SIGTERM and SIGKILL after a Ctrl-C, time for a step
    # and a checkpoint (Open MPI's default is 1 s; README.md, "Stopping a run").
    mpirun --oversubscribe --mca odls_base_sigkill_timeout 30 -np 2 "$bin/relief-train" "$1" "${resume[@]}"
}
train recipes/lift-quick-vae.yaml lift-quick-vae
train recipes/lift-quick-diffusion.yaml lift-quick-diffusion
train recipes/quickstart.yaml quickstart
train recipes/gslrm-lift-quick.yaml gslrm-lift-quick

subject=$("$bin/data-tools" inspect "$dataset" --subjects val | head -n 1)
out=outputs/lift-quick/$subject
echo "== lifting held-out subject $subject from its front view alone"
rm -rf "$out"
"$bin/relief-infer" lift --diffusion checkpoints/lift-quick-diffusion --reconstructor checkpoints/gslrm-lift-quick \
    --input "$renders/$subject" --view 0 --out "$out"

echo
echo "training curves:  checkpoints/{lift-quick-vae,lift-quick-diffusion,quickstart,gslrm-lift-quick}/loss.png (tensorboard --logdir checkpoints/)"
echo "generated views:  $out/sheet.png (portrait | six generated views / ground truth at their cameras)"
echo "Gaussians (PLY):  $out/gaussians.ply"
echo "turntable:        $out/turntable/"
echo "metrics:          $out/metrics.json (PSNR/SSIM of all 40 views of the subject, seconds per stage)"
echo "whole job:        $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
