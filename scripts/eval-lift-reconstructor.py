#!/usr/bin/env python3
"""The pipeline reconstructor's upper bound on held-out subjects: a GS-LRM checkpoint given the six
ground-truth diffusion views of each subject (0° elevation, α + {0, 45, 90, 180, 270, 315}°), scored
by PSNR / SSIM on the subject's views at another elevation (the 32 views at 20° of a `pipeline` rig).

For each held-out subject of DATASET (`data-tools inspect DATASET --subjects val`), it runs
`relief-infer reconstruct --views <the six views>` on the subject's render folder under RENDERS and
reads its metrics.json. The ring is found from opencv_cameras.json (views at 0° elevation whose
azimuth is a multiple of 45°, azimuth 0 in front of the face: the centre c = −Rᵀt lies at
|c|·(cos e·sin a, −cos e·cos a, sin e)), as DiffusionRing does. α is 0 (`--alpha front`) or drawn
per subject from `--seed` (`--alpha random`).

  scripts/eval-lift-reconstructor.py --checkpoint RUN --dataset data/ring-64 --renders data/renders/ring-64 \\
      --alpha front --out OUT [--bin .build/release]

Writes OUT/<subject>/ (reconstruct's outputs) and OUT/summary.json; prints the means and, beside them, the
PSNR of predicting every scored view as the pixelwise mean of the six inputs (needs numpy and Pillow).
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys

DIFFUSION_STEPS = [0, 1, 2, 4, 6, 7]  # α + {0, 45, 90, 180, 270, 315}° in ring steps of 45°
TOLERANCE = 0.5  # degrees, DiffusionRing.toleranceDegrees


def angles(w2c):
    r = [row[:3] for row in w2c[:3]]
    t = [row[3] for row in w2c[:3]]
    c = [-sum(r[i][j] * t[i] for i in range(3)) for j in range(3)]
    azimuth = math.degrees(math.atan2(c[0], -c[1])) % 360
    elevation = math.degrees(math.atan2(c[2], math.hypot(c[0], c[1])))
    return azimuth, elevation


def ring_and_levels(cameras_path):
    frames = json.load(open(cameras_path))["frames"]
    ring = [None] * 8
    others = []
    for v, frame in enumerate(frames):
        azimuth, elevation = angles(frame["w2c"])
        k = round(azimuth / 45)
        if abs(elevation) <= TOLERANCE and abs(azimuth - 45 * k) <= TOLERANCE:
            if ring[k % 8] is None:
                ring[k % 8] = v
        elif abs(elevation) > TOLERANCE:
            others.append(v)
    if None in ring:
        sys.exit(f"{cameras_path}: no ring of 8 views at 0° elevation and azimuths 0, 45, …, 315° "
                 "(make the data with `data-tools synth --rig pipeline`)")
    return ring, others


def mean_input_baseline_psnr(folder, inputs, scored):
    """PSNR of predicting every scored view as the pixelwise mean of the inputs (on white), the
    trainer's `psnr_mean_input_baseline`; None without numpy / Pillow."""
    try:
        import numpy as np
        from PIL import Image
    except ImportError:
        return None
    frames = json.load(open(os.path.join(folder, "opencv_cameras.json")))["frames"]

    def image(v):
        rgba = np.asarray(Image.open(os.path.join(folder, frames[v]["file_path"])).convert("RGBA"), dtype=np.float64) / 255
        return rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])

    mean = np.mean([image(v) for v in inputs], axis=0)
    return float(np.mean([-10 * math.log10(max(np.mean((mean - image(v)) ** 2), 1e-10)) for v in scored]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True, help="converted dataset: its held-out split names the subjects")
    p.add_argument("--renders", required=True, help="render folder holding the subjects")
    p.add_argument("--alpha", choices=["front", "random"], default="front")
    p.add_argument("--seed", type=int, default=0, help="seed of the random α draws")
    p.add_argument("--weights", default="auto")
    p.add_argument("--split", default="val")
    p.add_argument("--limit", type=int, help="score only the first N subjects")
    p.add_argument("--bin", default=".build/release")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    subjects = subprocess.run([os.path.join(args.bin, "data-tools"), "inspect", args.dataset, "--subjects", args.split],
                              check=True, capture_output=True, text=True).stdout.split()[:args.limit]
    rng = random.Random(args.seed)
    rows = []
    for subject in subjects:
        folder = os.path.join(args.renders, subject)
        ring, others = ring_and_levels(os.path.join(folder, "opencv_cameras.json"))
        alpha = 0 if args.alpha == "front" else rng.randrange(8)
        inputs = [ring[(alpha + s) % 8] for s in DIFFUSION_STEPS]
        out = os.path.join(args.out, subject)
        run = subprocess.run([os.path.join(args.bin, "relief-infer"), "reconstruct", "--checkpoint", args.checkpoint,
                              "--input", folder, "--out", out, "--views", ",".join(map(str, inputs)),
                              "--weights", args.weights], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"{subject}: relief-infer reconstruct failed:\n{run.stdout}{run.stderr}")
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        scored = [m for m in metrics["novel_views"] if m["view"] in set(others)]
        if len(scored) != len(others):
            sys.exit(f"{subject}: {len(others)} views off the ring, {len(scored)} scored")
        psnr = sum(m["psnr"] for m in scored) / len(scored)
        ssim = sum(m["ssim"] for m in scored) / len(scored)
        baseline = mean_input_baseline_psnr(folder, inputs, others)
        rows.append({"subject": subject, "alpha_degrees": 45 * alpha, "inputs": inputs, "views": len(scored),
                     "psnr": psnr, "ssim": ssim, "psnr_mean_input_baseline": baseline})
        print(f"{subject}: α {45 * alpha:3d}°, {len(scored)} views, PSNR {psnr:.2f} dB, SSIM {ssim:.4f}", flush=True)
    summary = {"checkpoint": args.checkpoint, "dataset": args.dataset, "split": args.split, "alpha": args.alpha,
               "seed": args.seed, "subjects": len(rows),
               "psnr": sum(r["psnr"] for r in rows) / len(rows), "ssim": sum(r["ssim"] for r in rows) / len(rows),
               "psnr_mean_input_baseline": None if None in [r["psnr_mean_input_baseline"] for r in rows]
               else sum(r["psnr_mean_input_baseline"] for r in rows) / len(rows),
               "per_subject": rows}
    os.makedirs(args.out, exist_ok=True)
    json.dump(summary, open(os.path.join(args.out, "summary.json"), "w"), indent=2)
    baseline = summary["psnr_mean_input_baseline"]
    print(f"{len(rows)} subjects, α {args.alpha}: PSNR {summary['psnr']:.2f} dB, SSIM {summary['ssim']:.4f}"
          + ("" if baseline is None else f"; mean-of-inputs baseline {baseline:.2f} dB"))


if __name__ == "__main__":
    main()
