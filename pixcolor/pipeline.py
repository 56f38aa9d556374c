"""PixColor's whole pipeline in graph ops: PixelCNN draws -> refinement -> colour with the input's luminance
(Guadarrama et al. 2017, §3, fig. 2: "the PixelCNN samples low-resolution chroma, the refinement network
turns each sample into a full-resolution colouring").

Shared by pixcolor/export_spec.py (SavedModel / TFLite) and pixcolor/colorizer.py (`colorize`), so both give
the same colourings. Every draw d runs as a batch of one with its own seed pair seeds[d] = [seed, n]
(the fast sampler, pixcolor/sampler.py, numbers its noise by the position in the batch, so a batch of one
is what makes a draw independent of the other draws): draw [s, 0] of an image equals
`PixColor.sample(that image alone, num_samples=1, seed=s)`. All of it is TFLite builtins (the loops are
WHILE, the TensorArrays have static element shapes; `top_k` may be a run-time tensor).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from common.color import rgb_to_gray_np, ycbcr_to_rgb
from pixcolor.constants import CB, CR, NUM_CHROMA
from pixcolor.sampler import _fast  # the cached sampler of one batch (pixcolor/sampler.py)

__all__ = ["draw_chroma", "join_in_gamut", "luminance", "to_uint8"]


def luminance(image: tf.Tensor) -> tf.Tensor:
    """uint8 [B, H, W, 1 or 3] -> luma Y float32 [B, H, W, 1] in [0, 1] (BT.601 = JPEG YCbCr's Y)."""
    weights = tf.constant(rgb_to_gray_np(np.eye(3))[:, 0], tf.float32)  # [3]
    x = tf.cast(image, tf.float32) / 255.0
    y = tf.cond(
        tf.shape(image)[-1] == 3,
        lambda: tf.reduce_sum(x[..., :3] * weights, axis=-1, keepdims=True),
        lambda: x[..., :1],
    )
    return tf.ensure_shape(tf.clip_by_value(y, 0.0, 1.0), [None, None, None, 1])


def join_in_gamut(y: tf.Tensor, chroma: tf.Tensor) -> tf.Tensor:
    """Y float [..., 1] and chroma [..., 2] (Cr, Cb) in [0, 1] -> rgb float [..., 3] in [0, 1] with luma Y:
    the chroma offset is scaled towards gray just enough to stay in the RGB gamut (as the `colorize`
    runner joins, common/colorize/imageio.join_rows), so the input's luminance is kept exactly."""
    cbcr = tf.concat([chroma[..., CB : CB + 1], chroma[..., CR : CR + 1]], axis=-1)
    d = ycbcr_to_rgb(tf.concat([tf.zeros_like(y), cbcr], axis=-1), clip=False)  # RGB offset from gray
    big = tf.constant(1e30, tf.float32)
    up = tf.where(d > 0, (1.0 - y) / tf.where(d > 0, d, 1.0), big)
    down = tf.where(d < 0, y / tf.where(d < 0, -d, 1.0), big)
    s = tf.minimum(tf.reduce_min(up, -1, keepdims=True), tf.reduce_min(down, -1, keepdims=True))
    return tf.clip_by_value(y + tf.clip_by_value(s, 0.0, 1.0) * d, 0.0, 1.0)


def to_uint8(x: tf.Tensor) -> tf.Tensor:
    """float in [0, 1] -> uint8 (rounded)."""
    return tf.cast(tf.clip_by_value(tf.round(x * 255.0), 0.0, 255.0), tf.uint8)


def draw_chroma(
    model: Any,
    refinement: Any,
    gray_small: tf.Tensor,
    gray_big: tf.Tensor | None,
    seeds: tf.Tensor,
    temperature: tf.Tensor,
    top_k: int | tf.Tensor,
) -> dict[str, tf.Tensor]:
    """D draws, one at a time (memory: one image's activations).

    Args:
      model, refinement: a PixColor and a PixColorRefinement.
      gray_small: float32 [D, R, R, 1] in [0, 1], R = model.resolution (static).
      gray_big: float32 [D, S, S, 1], S = the refinement's input side (static; any multiple of 8); None:
        the PixelCNN only (no "chroma" in the result; `refinement` unused).
      seeds: int32 [D, 2] one seed pair per draw; temperature: float32 scalar; top_k: int or int32 scalar.
    Returns:
      {"bins": int32 [D, h, h, 2] (Cr, Cb), "chroma": float32 [D, S, S, 2] refined (Cr, Cb) in [0, 1],
       "uncertainty": float32 [D, h, h] the lower of the two channels' maximum probabilities};
      h = R / 8.
    """
    h = model.low_resolution
    count = tf.shape(gray_small)[0]
    refined = gray_big is not None
    big = int(gray_big.shape[1]) if refined else 0

    def body(d, bins_ta, prob_ta, chroma_ta):
        s = model.condition(gray_small[d][None])  # [1, h, h, C]
        bins, prob = _fast(model.pixelcnn, s, seeds[d], temperature, top_k, False)  # [1, h, h, 2] each
        if refined:
            low = model.quantizer.decode(bins)
            chroma = tf.clip_by_value(refinement.refine(gray_big[d][None], low), 0.0, 1.0)
            chroma_ta = chroma_ta.write(d, chroma[0])
        return d + 1, bins_ta.write(d, bins[0]), prob_ta.write(d, tf.reduce_min(prob[0], axis=-1)), chroma_ta

    arrays = (
        tf.TensorArray(tf.int32, count, element_shape=[h, h, NUM_CHROMA]),
        tf.TensorArray(tf.float32, count, element_shape=[h, h]),
        tf.TensorArray(tf.float32, count if refined else 0, element_shape=[big, big, NUM_CHROMA]),
    )
    _, bins, prob, chroma = tf.while_loop(lambda d, *_: d < count, body, (tf.constant(0),) + arrays)
    out = {"bins": bins.stack(), "uncertainty": prob.stack()}
    if refined:
        out["chroma"] = chroma.stack()
    return out
