#!/usr/bin/env python3
"""Writes the LPIPS weights `relief-infer evaluate --lpips` reads: the `lpips` package's
`LPIPS(net='vgg', version='0.1')` state_dict (torchvision's ImageNet VGG16 trunk, which
torchvision downloads once, and the package's learned `lin` layers) as safetensors, under the
module's own names. The `lins.*` entries alias `lin*` and the scaling layer's constants are
built into Relief, so both are left out.

    pip install lpips torchvision scipy safetensors
    python3 scripts/peers/export_lpips_weights.py --out lpips-vgg.safetensors
"""
import argparse

import lpips
from safetensors.torch import save_file


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = lpips.LPIPS(net="vgg", version="0.1", verbose=False).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k.startswith(("net.", "lin")) and not k.startswith("lins.")}
    save_file(state, args.out)
    print(f"{args.out}: {len(state)} tensors")


if __name__ == "__main__":
    main()
