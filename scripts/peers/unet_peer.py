#!/usr/bin/env python3
"""PyTorch peer of `relief-bench unet`: diffusers' UNet2DConditionModel forward+backward on CPU.

Same configuration and step as Relief's bench, read from the JSON line it prints (`--config`, the
JSON itself or a file holding it): the UNet's diffusers config, samples × views images of
size² latents, (size/2)² cross-attention tokens, class labels, and the multi-view mode set on every
attn1 with scripts/fixtures/multiview_attention.py. One step: loss = mean of the output², backward
to every weight, no optimizer. Prints one JSON line: every timed step's seconds and their best and
median, over `--iterations` timed steps after one warm-up. Outside CI (needs torch and diffusers).

    .build/release/relief-bench unet --print-config > unet.json     # --stage low, --multi-view sparse, ...
    python3 scripts/peers/unet_peer.py --threads 2 --iterations 5 --config unet.json
"""
import argparse
import json
import os
import sys

import diffusers
import torch
from diffusers import UNet2DConditionModel
from step_timing import time_steps

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from multiview_attention import set_multiview_attention  # noqa: E402


def read_config(text_or_path):
    """The bench's JSON line, given as is or as a file holding it."""
    if text_or_path.lstrip().startswith("{"):
        return json.loads(text_or_path)
    with open(text_or_path) as f:
        return json.loads(f.read())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, help="relief-bench unet's configuration JSON, or a file holding it")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    config = read_config(a.config)
    samples, views, size, tokens = config["samples"], config["views"], config["size"], config["tokens"]
    images = samples * views

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(config["unet"]).train()
    set_multiview_attention(unet, views=views, mode=config["multi_view"])
    c = unet.config
    sample = torch.randn(images, c.in_channels, size, size)
    timesteps = torch.randint(0, 1000, (samples,)).repeat_interleave(views)
    states = torch.randn(images, tokens, c.cross_attention_dim)
    labels = torch.randn(images, c.projection_class_embeddings_input_dim) if c.class_embed_type == "projection" else None

    def step():
        unet.zero_grad(set_to_none=False)
        output = unet(sample, timesteps, encoder_hidden_states=states, class_labels=labels).sample
        (output ** 2).mean().backward()

    timing = time_steps(step, a.iterations)
    print(json.dumps({**timing, "threads": a.threads, "torch": torch.__version__, "diffusers": diffusers.__version__}))


if __name__ == "__main__":
    main()
