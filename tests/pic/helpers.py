"""A tiny PIC model and batches for tests/pic (random weights everywhere, so no path hides)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common.color import lab_to_rgb, rgb_to_lab
from pic.model import PICColorizer

R, D = 8, 2  # 8x8 luminance, 4x4 chroma: 16 raster positions
r = R // D
TINY = dict(
    resolution=R,
    downsample=D,
    embedding_channels=4,
    embedding_dilations=[2],
    embedding_out_channels=16,
    channels=8,
    num_blocks=2,
    num_mixtures=2,
    dropout=0.0,
)


def make_pic(seed: int = 0, **overrides) -> PICColorizer:
    """Every V, g and b moved off its initial value (g = 1, b = 0 would hide paths)."""
    tf.keras.utils.set_random_seed(seed)
    model = PICColorizer(**{**TINY, **overrides})
    rng = np.random.default_rng(seed)
    for w in model.weights:
        noise = rng.normal(scale=0.3, size=w.shape).astype(np.float32)
        w.assign(w.numpy() + (noise if not w.path.endswith("/V") else 0.3 * noise))
    return model


def random_batch(seed: int, batch: int = 2, res: int = R) -> dict:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(batch, res, res, 3)).astype(np.float32) / 255.0
    return {"gray": (rgb_to_lab(rgb)[..., :1] / 100.0).numpy(), "rgb": rgb}


def canvas_from_ab(model: PICColorizer, gray: np.ndarray, ab: np.ndarray) -> tf.Tensor:
    """The canvas f reads for drawn chroma ab [B', r, r, 2] (grid) under gray [B', R, R, 1]: RGB in
    [-1, 1], [B', r, r, 3]."""
    lum = model.low_res_luminance(gray)
    lab = tf.concat([lum * 50.0 + 50.0, ab * 127.5 + tf.constant(model.ab_offset)], axis=-1)
    return lab_to_rgb(lab) * 2.0 - 1.0
