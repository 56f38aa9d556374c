"""PIC's preprocessing and its Lab conventions, separate from the networks (runs inside `tf.data`).

`example` maps a decoded example {"image": uint8 [H, W, 3], optional "seed"} to {"gray": Lab L / 100
[R, R, 1], "rgb": [R, R, 3]}, floats in [0, 1]: a random square crop in training, the central one
otherwise, an antialiased area resize to R, 8-bit rounding. Horizontal flips (the authors' only
augmentation) are the data pipeline's `random_flip` (configs/pic.py turns it on).

The networks' inputs, as the authors' code (`utils.pcnn_norm`, `utils.downsample_tf`):
  luminance   (L - 50) / 50; the embedding reads it at R x R
  chroma      a -> (a - 0.5) / 127.5, b -> (b + 0.5) / 127.5 (AB_OFFSET), then rounded to the 256-level
              grid of [-1, 1] here (the authors score unrounded values; rounding makes the bits/dim those
              of a distribution over the 256 x 256 bins)
  chroma resolution  every d-th pixel (`subsample`): the authors' TF1 `resize_bilinear` (no half-pixel
              centres) reads exactly those pixels at an integer factor d
"""

from __future__ import annotations

import tensorflow as tf

from common.color import rgb_to_lab
from common.data import preprocess as pp

AB_OFFSET = (0.5, -0.5)  # Lab (a, b) = normalised * 127.5 + AB_OFFSET (the authors' pcnn_norm)


def example(example: dict[str, tf.Tensor], training: bool, *, resolution: int) -> dict[str, tf.Tensor]:
    """-> {"gray": Lab L / 100 [R, R, 1], "rgb": [R, R, 3]}, floats in [0, 1]."""
    image = example["image"]
    crop = pp.random_square_crop(image, example.get("seed")) if training else pp.central_square_crop(image)
    rgb = tf.ensure_shape(tf.round(pp.resize_area(crop, resolution)) / 255.0, [resolution, resolution, 3])
    return {"gray": rgb_to_lab(rgb)[..., :1] / 100.0, "rgb": rgb}


def subsample(x: tf.Tensor, factor: int) -> tf.Tensor:
    """[B, H, W, C] -> [B, H / d, W / d, C], every d-th row and column from the first."""
    return x[:, ::factor, ::factor]


def lab_to_targets(lab: tf.Tensor) -> tf.Tensor:
    """Lab [..., 3] -> (a, b) [..., 2] normalised as the authors' and rounded to the 256-level grid."""
    ab = (lab[..., 1:] - tf.constant(AB_OFFSET, lab.dtype)) / 127.5
    return tf.round((tf.clip_by_value(ab, -1.0, 1.0) + 1.0) * 127.5) / 127.5 - 1.0
