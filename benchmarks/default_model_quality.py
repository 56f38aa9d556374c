"""Held-out quality of a ColTran pipeline (the embedded default models) against two trivial baselines.

    python benchmarks/default_model_quality.py --weights=coltran/assets/default \
        --train=~/colorize_photos/train --heldout=~/colorize_photos/heldout --num_samples=2

(the photo folders come from `python -m common.data.default_photos`; README "Default models").

Bits/dim: the core's negative log-likelihood of each held-out photo's 64x64 coarse colours (3 bits per RGB
channel, the model's own preprocessing: central square crop, area resize) in bits per dimension
(3 per pixel), as `colorize-train --mode=eval` reports it. Baselines in the same units, fitted on the
training photos' same crops (and their left-right mirrors):
  uniform        log2(512) / 3 = 3 bits/dim;
  global prior   the training pixels' distribution over the 512 coarse colours, the same at every pixel;
  gray prior     that distribution given the pixel's 8-bit gray level (a per-pixel colour lookup from the
                 luminance: what "the training photos' colour distribution at every pixel" can do once the
                 gray is known). Add-one smoothing on the counts.
  gray           (luminance only) has no likelihood.
ab-histogram intersection (PixColor fig. 7; common.metrics, joint 32x32 bins of 8 over Lab a, b), of all
held-out pixels at the photos' size (long side <= 768) pooled, against the ground truth:
  model          the full pipeline's colourings (core -> colour upsampler -> spatial upsampler -> chroma at
                 the photo's size with its own luminance), `--num_samples` per photo, pooled;
  gray           every a, b = 0;
  global prior   the training photos' own ab histogram (what samples from the prior give in expectation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from coltran.pipeline import colorize  # noqa: E402
from common import quantize  # noqa: E402
from common.color import rgb_to_lab_np  # noqa: E402
from common.data.decode import decode_image_file, list_image_files  # noqa: E402
from common.metrics import ab_histograms, histogram_intersection  # noqa: E402
from export.export import load_run  # noqa: E402

STAGES = ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")


def _photos(folder: str) -> list[tuple[str, np.ndarray]]:
    folder = os.path.expanduser(folder)
    return [(f, decode_image_file(os.path.join(folder, f))) for f in list_image_files(folder)]


def _core_batch(core, image: np.ndarray) -> dict[str, tf.Tensor]:
    ex = core.preprocess({"image": tf.constant(image)}, False)
    return {k: v[None] for k, v in ex.items()}


def _symbols_and_gray(core, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = _core_batch(core, image)
    rgb8 = tf.round(b["rgb"] * 255.0)
    sym = quantize.coarse_to_symbol(quantize.to_coarse(rgb8, 3), 3).numpy().ravel()
    gray8 = np.clip(np.round(b["gray"].numpy() * 255.0), 0, 255).astype(np.int64).ravel()
    return sym, gray8


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="coltran/assets/default")
    p.add_argument("--train", default="~/colorize_photos/train")
    p.add_argument("--heldout", default="~/colorize_photos/heldout")
    p.add_argument("--num_samples", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--json", default="", help="also write the figures here")
    a = p.parse_args()

    stages = [load_run(os.path.join(a.weights, s))[1] for s in STAGES]
    core = stages[0]
    train, held = _photos(a.train), _photos(a.heldout)

    # priors over the 512 coarse colours, from the training photos' central crops and their mirrors
    counts = np.ones(512)
    cond = np.ones((256, 512))
    train_ab = []
    for _, img in train:
        for view in (img, img[:, ::-1]):
            sym, g = _symbols_and_gray(core, np.ascontiguousarray(view))
            np.add.at(counts, sym, 1)
            np.add.at(cond, (g, sym), 1)
        train_ab.append(rgb_to_lab_np(img.astype(np.float32) / 255.0)[..., 1:].reshape(-1, 2))
    prior = counts / counts.sum()
    cond_prior = cond / cond.sum(axis=1, keepdims=True)

    model_bpd, prior_bpd, cond_bpd = [], [], []
    gt_ab, model_ab = [], []
    for i, (name, img) in enumerate(held):
        _, metrics = core.compute_loss(_core_batch(core, img), training=False)
        model_bpd.append(float(metrics["bits_per_dim"][0]))
        sym, g = _symbols_and_gray(core, img)
        prior_bpd.append(float(-np.log2(prior[sym]).mean() / 3))
        cond_bpd.append(float(-np.log2(cond_prior[g, sym]).mean() / 3))
        out = colorize(img, *stages, num_samples=a.num_samples, seed=a.seed + i, temperature=a.temperature)
        gt_ab.append(rgb_to_lab_np(img.astype(np.float32) / 255.0)[..., 1:].reshape(-1, 2))
        for s in out.images:
            model_ab.append(rgb_to_lab_np(s.astype(np.float32) / 255.0)[..., 1:].reshape(-1, 2))
        print(f"{name}: model {model_bpd[-1]:.3f} bits/dim, global prior {prior_bpd[-1]:.3f}, "
              f"gray prior {cond_bpd[-1]:.3f}", flush=True)

    def hist(ab: list[np.ndarray]) -> tf.Tensor:
        return ab_histograms(np.concatenate(ab), joint=True)

    h_gt = hist(gt_ab)
    res = {
        "heldout_photos": len(held),
        "train_photos": len(train),
        "num_samples": a.num_samples,
        "bits_per_dim": {
            "model": float(np.mean(model_bpd)),
            "global_prior": float(np.mean(prior_bpd)),
            "gray_prior": float(np.mean(cond_bpd)),
            "uniform": math.log2(512) / 3,
        },
        "ab_histogram_intersection": {
            "model": float(histogram_intersection(hist(model_ab), h_gt, axis=[-2, -1])),
            "gray": float(histogram_intersection(hist([np.zeros((1, 2), np.float32)]), h_gt, axis=[-2, -1])),
            "global_prior": float(histogram_intersection(hist(train_ab), h_gt, axis=[-2, -1])),
        },
    }
    print(json.dumps(res, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
