#!/usr/bin/env python3
"""Checks a UNet exported by `relief-infer export --format diffusers` against Relief's own output.

    relief-infer export --checkpoint RUN --format diffusers --out EXPORT
    relief-bench unet --checkpoint RUN --dump TENSORS.safetensors    # [--multi-view MODE] [--samples N]
    python3 scripts/checks/unet_export_check.py EXPORT TENSORS.safetensors

Loads EXPORT with diffusers' `UNet2DConditionModel.from_pretrained`, sets the multi-view processor
of scripts/fixtures/multiview_attention.py on every attn1 for the views and mode Relief ran
(the dump's `workload` metadata), runs Relief's inputs in float64 and compares the output with
Relief's (float32): max |error| / max |reference| must be ≤ 1e-4. Outside CI (needs torch and
diffusers); exits non-zero on a mismatch.
"""
import json
import os
import sys

import torch
from diffusers import UNet2DConditionModel
from export_checks import relative_error, run, verdict
from safetensors import safe_open

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from multiview_attention import set_multiview_attention  # noqa: E402


def main(export_dir, tensors_file, tolerance=1e-4):
    with safe_open(tensors_file, framework="pt") as f:
        workload = json.loads(f.metadata()["workload"])
        relief = {name: f.get_tensor(name) for name in f.keys()}
    unet = UNet2DConditionModel.from_pretrained(export_dir).double().eval()
    blocks = set_multiview_attention(unet, views=workload["views"], mode=workload["multi_view"])
    optional = {name: relief[name].double() for name in ("encoder_hidden_states", "class_labels") if name in relief}
    with torch.no_grad():
        ours = unet(relief["sample"].double(), relief["timesteps"].double(),
                    encoder_hidden_states=optional.get("encoder_hidden_states"),
                    class_labels=optional.get("class_labels")).sample
    worst = relative_error("output", relief["output"], ours)
    print(f"output {tuple(ours.shape)} ({workload['samples']} samples × {workload['views']} views, multi-view "
          f"{workload['multi_view']} on {blocks} attn1 blocks): max error / max magnitude = {worst:.2e}")
    return verdict(worst, tolerance)


if __name__ == "__main__":
    run(main, __doc__)
