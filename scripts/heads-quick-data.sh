#!/usr/bin/env bash
# data/heads-quick: 240 heads (120 identities x 2 variants, seed 1) seen by the 20°-elevation
# reconstructor rig, 32 views each at 64², 10% of identities held out. They are the main job's
# data/ring-64 heads with the same held-out identities (same seed), which the main job's GS-LRM
# relies on: it starts on these views. Made once for scripts/quickstart.sh and scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release
if [ ! -f data/heads-quick/manifest.json ]; then
    echo "== synthesising 240 heads (120 identities x 2 variants), 32 views each at 64x64 (reconstructor rig)"
    "$bin/data-tools" synth --out data/renders/heads-quick --identities 120 --variants 2 --resolution 64 --rig reconstructor --seed 1
    echo "== converting to HDF5 shards (10% of identities held out)"
    "$bin/data-tools" convert --input data/renders/heads-quick --out data/heads-quick --resolution 64 --val-fraction 0.1
fi
