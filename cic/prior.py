"""The empirical ab-bin prior of a folder of photos, for CIC's class rebalancing (§2.2).

    python -m cic.prior --data=~/colorize_photos/train --out=prior.npy --resolution=64
    colorize-train --config=configs/cic.py --config.model.prior_file=prior.npy ...

Each photo is preprocessed as for evaluation (central square crop, area resize to --resolution) and the
nearest bin of every output pixel's true ab (1/4 resolution) is counted (common.cic.empirical_prior):
the bins the loss will see. The result, float64 [313] summing to 1, is unsmoothed (the model smooths it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence

import numpy as np


def photo_ab(folder: str, resolution: int) -> Iterator[np.ndarray]:
    """The true ab [R/4, R/4, 2] at the output pixels of each readable photo under `folder`."""
    import tensorflow as tf

    from cic import preprocessing
    from common.color import rgb_to_lab
    from common.data.decode import decode_image_file, list_image_files

    for rel in list_image_files(folder):
        path = os.path.join(folder, rel)
        try:
            image = decode_image_file(path)
        except (OSError, ValueError) as e:
            print(f"cic.prior: skipping {path}: {e}", file=sys.stderr)
            continue
        rgb = preprocessing.square_rgb({"image": tf.constant(image)}, False, resolution)
        yield preprocessing.subsample(rgb_to_lab(rgb)[..., 1:]).numpy()


def compute_prior(folder: str, resolution: int) -> np.ndarray:
    """float64 [313] empirical bin probabilities of the photos under `folder` (one-line error if none)."""
    from common import cic

    if not os.path.isdir(folder):
        raise ValueError(f"cic.prior: --data={folder} is not a folder")
    try:
        return cic.empirical_prior(photo_ab(folder, resolution))
    except ValueError as e:
        raise ValueError(f"cic.prior: --data={folder}: no readable photos ({e})") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cic.prior", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of training photos (searched recursively)")
    parser.add_argument("--out", required=True, help="where to write the prior (.npy of 313 floats)")
    parser.add_argument("--resolution", type=int, default=224, help="the model's resolution (default 224)")
    args = parser.parse_args(argv)
    if args.resolution < 8 or args.resolution % 8:
        parser.error(f"--resolution must be a positive multiple of 8, got {args.resolution}")
    try:
        prior = compute_prior(os.path.expanduser(args.data), args.resolution)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    out = os.path.expanduser(args.out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.save(out, prior)
    print(f"cic.prior: wrote {out} ({int(np.count_nonzero(prior))} of {prior.size} bins seen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
