#!/usr/bin/env python3
"""PyTorch peer of `relief-bench vae`: diffusers' AutoencoderKL forward+backward on CPU.

Same configuration and step as Relief's bench: images [batch, 3, size, size] in [-1, 1] are
encoded, a posterior sample decoded, loss = L1(decoded, images) + 1e-6·mean KL, backward to
every weight. Prints one JSON line: the best and median step seconds over `--iterations`
timed steps after one warm-up. Outside CI (needs torch and diffusers).

    python3 scripts/peers/vae_peer.py --threads 2 --batch 8 --size 64 --block-out-channels 32,64,64 --groups 16
"""
import argparse
import json

import torch
from diffusers import AutoencoderKL
from step_timing import time_steps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--block-out-channels", default="32,64,64")
    p.add_argument("--layers-per-block", type=int, default=1)
    p.add_argument("--latent-channels", type=int, default=4)
    p.add_argument("--groups", type=int, default=16)
    p.add_argument("--iterations", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    widths = tuple(int(w) for w in a.block_out_channels.split(","))
    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * len(widths),
                        up_block_types=("UpDecoderBlock2D",) * len(widths), block_out_channels=widths,
                        layers_per_block=a.layers_per_block, latent_channels=a.latent_channels,
                        norm_num_groups=a.groups, sample_size=a.size).train()
    x = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1

    def step():
        vae.zero_grad(set_to_none=False)
        posterior = vae.encode(x).latent_dist
        decoded = vae.decode(posterior.sample()).sample
        loss = (decoded - x).abs().mean() + 1e-6 * posterior.kl().mean()
        loss.backward()

    timing = time_steps(step, a.iterations)
    print(json.dumps({**timing, "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
