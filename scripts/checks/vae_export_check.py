#!/usr/bin/env python3
"""Checks a VAE exported by `relief-infer export --format diffusers` against Relief's own outputs.

    relief-infer export --checkpoint RUN --format diffusers --out EXPORT
    relief-infer vae --checkpoint RUN --input SUBJECT --out INFER      # writes INFER/tensors.safetensors
    python3 scripts/checks/vae_export_check.py EXPORT INFER/tensors.safetensors

Loads EXPORT with diffusers' `AutoencoderKL.from_pretrained`, encodes Relief's input in float64
and compares the posterior mean, log-variance and the decoding of the mean with Relief's
(float32) results: max |error| / max |reference| must be ≤ 1e-4. Outside CI (needs torch and
diffusers); exits non-zero on a mismatch.
"""
import sys

import diffusers
import torch
from diffusers import AutoencoderKL
from safetensors.torch import load_file


def main(export_dir, tensors_file, tolerance=1e-4):
    vae = AutoencoderKL.from_pretrained(export_dir).double().eval()
    relief = load_file(tensors_file)
    with torch.no_grad():
        posterior = vae.encode(relief["input"].double()).latent_dist
        decoded = vae.decode(posterior.mean).sample
    worst = 0.0
    for name, ours in [("mean", posterior.mean), ("logvar", posterior.logvar), ("decoded", decoded)]:
        theirs = relief[name].double()
        assert theirs.shape == ours.shape, f"{name}: Relief {tuple(theirs.shape)} vs diffusers {tuple(ours.shape)}"
        error = ((theirs - ours).abs().max() / ours.abs().max().clamp_min(1e-12)).item()
        worst = max(worst, error)
        print(f"{name:8s} {tuple(ours.shape)}: max error / max magnitude = {error:.2e}")
    print(f"diffusers {diffusers.__version__}, torch {torch.__version__}: worst {worst:.2e} (tolerance {tolerance:g})")
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
