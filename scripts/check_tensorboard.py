#!/usr/bin/env python3
"""Reads a Relief run's TensorBoard events with TensorBoard's own EventAccumulator and checks
them against the run's other records (outside CI; needs `pip install tensorboard`):

  - every scalar of metrics.jsonl (kind "train"/"eval", each key) is the scalar `<kind>/<key>`
    at that step, as a float32, exactly once; and there is no scalar metrics.jsonl lacks;
  - every evaluation grid eval/step-*.png is the image `eval/grid` at its step, byte for byte;
  - the text `recipe` is there, the last one being the recipe saved with the latest checkpoint.

Both with TensorBoard's purging of orphaned steps (SessionLog START) and without it: after a
resume the files themselves hold each step once.

    python3 scripts/check_tensorboard.py checkpoints/probe
"""
import glob
import json
import math
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check(run, purge):
    acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0},
                              purge_orphaned_data=purge)
    acc.Reload()
    tags = acc.Tags()
    problems = []

    expected = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            for key, value in row.items():
                if key in ("step", "kind"):
                    continue
                expected.setdefault(f"{row['kind']}/{key}", {})[row["step"]] = float("nan") if value is None else float32(value)
    scalars_checked = 0
    for tag in sorted(set(expected) | set(tags["scalars"])):
        events = acc.Scalars(tag) if tag in tags["scalars"] else []
        steps = [e.step for e in events]
        if len(steps) != len(set(steps)):
            problems.append(f"{tag}: steps written more than once: {sorted(s for s in set(steps) if steps.count(s) > 1)}")
        got = {e.step: e.value for e in events}
        want = expected.get(tag, {})
        for step in sorted(set(got) | set(want)):
            if step not in got:
                problems.append(f"{tag} step {step}: in metrics.jsonl, not in the events")
            elif step not in want:
                problems.append(f"{tag} step {step}: in the events, not in metrics.jsonl")
            elif not same(got[step], want[step]):
                problems.append(f"{tag} step {step}: events {got[step]!r}, metrics.jsonl {want[step]!r}")
            else:
                scalars_checked += 1

    grids = {int(os.path.basename(p)[5:13]): p for p in glob.glob(os.path.join(run, "eval", "step-*.png"))}
    images = acc.Images("eval/grid") if "eval/grid" in tags["images"] else []
    image_steps = [e.step for e in images]
    if sorted(image_steps) != sorted(grids):
        problems.append(f"eval/grid at steps {image_steps}; grid files at steps {sorted(grids)}")
    for e in images:
        if e.step in grids and open(grids[e.step], "rb").read() != e.encoded_image_string:
            problems.append(f"eval/grid step {e.step}: the image differs from {grids[e.step]}")

    recipes = acc.Tensors("recipe") if "recipe" in tags["tensors"] else []
    texts = [tensor_util.make_ndarray(e.tensor_proto).item().decode() for e in recipes]
    latest = os.path.join(run, open(os.path.join(run, "latest")).read().strip(), "recipe.yaml")
    saved = open(latest).read().strip("\n")
    if not texts:
        problems.append("no recipe text")
    elif texts[-1] != f"```yaml\n{saved}\n```":
        problems.append(f"the last recipe text is not {latest}")
    plugin = acc.SummaryMetadata("recipe").plugin_data.plugin_name if recipes else None

    print(f"{'purging' if purge else 'not purging'}: {scalars_checked} scalars in {len(expected)} tags match metrics.jsonl; "
          f"{len(images)} images at steps {image_steps} match eval/; recipe texts at steps {[e.step for e in recipes]} "
          f"(plugin '{plugin}'); events files {sorted(os.path.basename(p) for p in glob.glob(os.path.join(run, 'events.out.tfevents.*')))}")
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    problems = check(sys.argv[1], purge=True) + check(sys.argv[1], purge=False)
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
