"""PixColor's refinement network vs bilinear upsampling on real photos (§3.2, fig. 3 / fig. 5).

    python benchmarks/pixcolor_refinement.py                     # 400 steps of the "default" config
    python benchmarks/pixcolor_refinement.py --steps=50 --heldout=rocket.jpg
    python benchmarks/pixcolor_refinement.py --folder=~/colorize_photos   # train/ 33 photos, heldout/ 8
    python benchmarks/pixcolor_refinement.py --folder=~/colorize_photos --workdir=RUN  # a trained run

Trains configs/pixcolor_refinement.py:default (128 x 128, every width / 4) from scratch with the table's
Adam on random square crops (with left-right flips) of the bundled colour photos except `--heldout`, fed
the ground truth's 16 x 16 chroma snapped to the 32 bins (as in training, §3.2); with `--folder`, on
FOLDER/train/* and evaluated on FOLDER/heldout/* (common/data/default_photos.py). Then, in inference mode
(batch-norm moving statistics), compares on the central crop of every photo the refined chroma and the
bilinearly upsampled one with the ground truth: mean absolute chroma error (8-bit levels) and RGB PSNR
(the gray kept as Y). The held-out photo is the honest number; the training photos show the fit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.data import bundled_photos  # noqa: E402
from configs.pixcolor_refinement import get_config  # noqa: E402
from pixcolor.refinement_model import PixColorRefinement, to_rgb, upsample  # noqa: E402


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """In dB, capped at 100 (a gray photo's bilinear chroma is exact)."""
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-10)))


def _train(
    model: PixColorRefinement, train: list[np.ndarray], args: argparse.Namespace, beta1: float
) -> None:
    """`args.steps` Adam steps on batches of `args.batch` training photos (every other one mirrored)."""

    def examples(seed_offset: int):
        for k in range(args.batch):
            img = train[(seed_offset * args.batch + k) % len(train)]
            if (seed_offset + k) % 2:
                img = img[:, ::-1]
            yield model.preprocess(
                {
                    "image": tf.constant(np.ascontiguousarray(img)),
                    "seed": tf.constant([seed_offset, k], tf.int64),
                },
                True,
            )

    optimizer = keras.optimizers.Adam(args.learning_rate, beta_1=beta1)
    optimizer.build(model.trainable_variables)

    @tf.function(autograph=False)
    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    start = time.perf_counter()
    for i in range(args.steps):
        exs = list(examples(i))
        batch = {k: tf.stack([e[k] for e in exs]) for k in exs[0]}
        loss = float(step(batch))
        if i % 100 == 0 or i == args.steps - 1:
            print(f"step {i}: training L1 {loss * 255:.2f} levels")
    print(f"{args.steps} steps of batch {args.batch} in {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heldout", default="coffee.jpg")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--folder", default="", help="a folder with train/ and heldout/ photos")
    parser.add_argument("--workdir", default="", help="measure this trained run instead of training")
    args = parser.parse_args()

    config = get_config("default")
    keras.utils.set_random_seed(0)
    if args.workdir:
        from export.export import load_run

        name, model, _ = load_run(os.path.expanduser(args.workdir))
        if name != "pixcolor_refinement":
            sys.exit(f"--workdir={args.workdir}: holds a {name!r} model, not 'pixcolor_refinement'")
    else:
        model = PixColorRefinement(**{k: v for k, v in config.model.to_dict().items() if k != "name"})
    if args.folder:
        root = os.path.expanduser(args.folder)
        photos, heldout = {}, set()
        for split in ("train", "heldout"):
            for name in sorted(os.listdir(os.path.join(root, split))):
                photos[name] = np.asarray(Image.open(os.path.join(root, split, name)).convert("RGB"))
                if split == "heldout":
                    heldout.add(name)
    else:
        photos, heldout = dict(bundled_photos()), {args.heldout}
    if not args.workdir:
        _train(model, [photos[n] for n in photos if n not in heldout], args, config.train.beta1)

    print(f"\nresolution {model.resolution}, chroma in at {model.resolution // 8} x {model.resolution // 8}:")
    print("| photo | split | L1 refined | L1 bilinear | PSNR refined | PSNR bilinear |")
    print("| --- | --- | --- | --- | --- | --- |")
    totals: dict = {}
    for name, img in photos.items():
        ex = model.preprocess({"image": tf.constant(img)}, False)
        batch = {k: v[None] for k, v in ex.items()}
        refined = tf.clip_by_value(model(batch), 0.0, 1.0).numpy()
        bilinear = upsample(batch["chroma_low"], tf.shape(batch["gray"])[1:3]).numpy()
        truth = batch["chroma"].numpy()
        rgb_true = to_rgb(batch["gray"], truth).numpy()
        cells = [
            f"{np.abs(refined - truth).mean() * 255:.2f}",
            f"{np.abs(bilinear - truth).mean() * 255:.2f}",
            f"{_psnr(to_rgb(batch['gray'], refined).numpy(), rgb_true):.2f}",
            f"{_psnr(to_rgb(batch['gray'], bilinear).numpy(), rgb_true):.2f}",
        ]
        split = "held out" if name in heldout else "train"
        print(f"| {name} | {split} | " + " | ".join(cells) + " |")
        totals.setdefault(split, []).append([float(c) for c in cells])
    for split, rows in totals.items():
        mean = np.mean(rows, axis=0)
        print(f"| mean of {len(rows)} | {split} | " + " | ".join(f"{m:.2f}" for m in mean) + " |")


if __name__ == "__main__":
    main()
