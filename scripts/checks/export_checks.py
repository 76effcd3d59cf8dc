"""What the export checks share: the error measure, the verdict and the command line."""
import sys

import diffusers
import torch


def relative_error(name, theirs, ours):
    """max |Relief − diffusers| / max |diffusers| of one output (shapes must agree)."""
    assert theirs.shape == ours.shape, f"{name}: Relief {tuple(theirs.shape)} vs diffusers {tuple(ours.shape)}"
    return ((theirs.double() - ours).abs().max() / ours.abs().max().clamp_min(1e-12)).item()


def verdict(worst, tolerance):
    """Prints the versions and the worst error; the exit status: 0 within tolerance, else 1."""
    print(f"diffusers {diffusers.__version__}, torch {torch.__version__}: worst {worst:.2e} (tolerance {tolerance:g})")
    return 0 if worst <= tolerance else 1


def run(main, doc):
    """main(EXPORT_DIR, TENSORS_FILE) from the command line; the usage (`doc`) otherwise."""
    if len(sys.argv) != 3:
        sys.exit(doc)
    sys.exit(main(sys.argv[1], sys.argv[2]))
