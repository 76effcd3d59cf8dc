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
import torch
from diffusers import AutoencoderKL
from export_checks import relative_error, run, verdict
from safetensors.torch import load_file


def main(export_dir, tensors_file, tolerance=1e-4):
    vae = AutoencoderKL.from_pretrained(export_dir).double().eval()
    relief = load_file(tensors_file)
    with torch.no_grad():
        posterior = vae.encode(relief["input"].double()).latent_dist
        decoded = vae.decode(posterior.mean).sample
    worst = 0.0
    for name, ours in [("mean", posterior.mean), ("logvar", posterior.logvar), ("decoded", decoded)]:
        error = relative_error(name, relief[name], ours)
        worst = max(worst, error)
        print(f"{name:8s} {tuple(ours.shape)}: max error / max magnitude = {error:.2e}")
    return verdict(worst, tolerance)


if __name__ == "__main__":
    run(main, __doc__)
