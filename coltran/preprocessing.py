"""ColTran's preprocessing, one function per stage, separate from the networks (runs inside `tf.data`).

Each maps a decoded example {"image": uint8 [H, W, 3], optional "seed"} to the unbatched batch its model
reads: a random square crop in training (from the example's seed, so a resumed run replays the same
data), the central one otherwise, an antialiased area resize, 8-bit rounding (ColTran's data pipeline).
The models' classmethod `preprocessor(**model_kwargs)` returns these bound to the config's sizes, so the
command line gets preprocessing without building a model.
"""

from __future__ import annotations

import tensorflow as tf

from coltran.upsampler_base import random_channel, square_8bit
from common import quantize
from common.color import rgb_to_gray
from common.data import preprocess as pp


def core_example(example: dict[str, tf.Tensor], training: bool, *, resolution: int) -> dict[str, tf.Tensor]:
    """-> {"gray": [R, R, 1], "rgb": [R, R, 3]} floats in [0, 1] (the gray is the 8-bit image's luma)."""
    image = example["image"]
    crop = pp.random_square_crop(image, example.get("seed")) if training else pp.central_square_crop(image)
    rgb8 = tf.round(pp.resize_area(crop, resolution))
    rgb = tf.ensure_shape(rgb8 / 255.0, [resolution, resolution, 3])
    return {"gray": rgb_to_gray(rgb), "rgb": rgb}


def color_upsampler_example(
    example: dict[str, tf.Tensor], training: bool, *, resolution: int, coarse_bits: int
) -> dict[str, tf.Tensor]:
    """-> {"gray", "rgb", "coarse" (int levels [R, R, 3])(, "channel" in training)} at `resolution`."""
    rgb8, chan_seed = square_8bit(example, training, resolution)
    rgb = rgb8 / 255.0
    out = {"gray": rgb_to_gray(rgb), "rgb": rgb, "coarse": quantize.to_coarse(rgb8, coarse_bits)}
    if training:
        out["channel"] = random_channel(chan_seed)
    return out


def spatial_upsampler_example(
    example: dict[str, tf.Tensor], training: bool, *, resolution: int, low_resolution: int
) -> dict[str, tf.Tensor]:
    """-> {"gray", "rgb" at `resolution`, "low_res" (int 8-bit [r, r, 3]) at `low_resolution`
    (, "channel" in training)}."""
    rgb8, chan_seed = square_8bit(example, training, resolution)
    rgb = rgb8 / 255.0
    low = tf.cast(tf.round(pp.resize_area(rgb8, low_resolution)), tf.int32)
    out = {"gray": rgb_to_gray(rgb), "rgb": rgb, "low_res": low}
    if training:
        out["channel"] = random_channel(chan_seed)
    return out
