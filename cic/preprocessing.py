"""CIC's preprocessing (runs inside `tf.data`): a photo -> the network's input and its training targets.

From {"image": uint8 [H, W, 3], optional "seed"}: a random square crop in training (from the example's
seed), the central one otherwise, an area resize to R x R and 8-bit rounding (as every model of this
library), then CIE Lab (common/color.py) and, at the output resolution R/4, the soft-encoded targets of
CIC §2.1 and the near-gray mask of the authors' training net. Constants and conversions shared by the
model, the export and the tests live here, once.
"""

from __future__ import annotations

import tensorflow as tf

from common import cic
from common.color import lab_to_rgb, rgb_to_gray, rgb_to_lab
from common.data import preprocess as pp

STRIDE = 4  # the network's output is 1/4 of its input side
GRAY_THRESHOLD = 5.0  # ref NonGrayMaskLayer: an image whose |a| and |b| never exceed 5 counts as gray
L_CENTER = 50.0  # ref data_l_meansub: the network reads L - 50


def lightness(gray: tf.Tensor) -> tf.Tensor:
    """Luma [..., 1] in [0, 1] -> CIE L [..., 1] in [0, 100]: the lightness of the gray colour (y, y, y).

    Every model here is conditioned on the BT.601 luma that `colorize` and the other models use; CIC's
    network reads Lab lightness, so it reads the lightness of that gray (what a grayscale photo converted
    to Lab gives; for a colour photo it differs slightly from the photo's own L).
    """
    gray = tf.convert_to_tensor(gray, tf.float32)
    return rgb_to_lab(tf.concat([gray, gray, gray], axis=-1))[..., :1]


def subsample(ab: tf.Tensor) -> tf.Tensor:
    """ab [..., R, R, 2] -> [..., R/4, R/4, 2]: every 4th pixel from the first (ref data_ab_ss, a 1x1
    convolution of stride 4; the network's output pixel i is aligned with input pixel 4i)."""
    return ab[..., ::STRIDE, ::STRIDE, :]


def upsample(ab: tf.Tensor) -> tf.Tensor:
    """ab [B, h, w, 2] -> [B, 4h, 4w, 2] bilinear, output pixel x reading input position x / 4 (the
    alignment of `subsample`; TF1's resize_bilinear without half-pixel centres, a TFLite builtin)."""
    size = tf.shape(ab)[1:3] * STRIDE
    return tf.raw_ops.ResizeBilinear(images=ab, size=size, align_corners=False, half_pixel_centers=False)


def lab_rgb(gray: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
    """Luma [..., R, R, 1] + ab [..., R, R, 2] -> sRGB [..., R, R, 3] in [0, 1] (L = lightness(gray))."""
    return lab_to_rgb(tf.concat([lightness(gray), ab], axis=-1))


def is_colorful(ab: tf.Tensor) -> tf.Tensor:
    """ab [..., h, w, 2] -> float32 [...]: 1 if some |a| or |b| exceeds 5, else 0 (ref NonGrayMaskLayer)."""
    return tf.cast(tf.reduce_any(tf.abs(ab) > GRAY_THRESHOLD, axis=[-3, -2, -1]), tf.float32)


def square_rgb(example: dict[str, tf.Tensor], training: bool, resolution: int) -> tf.Tensor:
    """{"image": uint8 [H, W, 3](, "seed")} -> rgb [R, R, 3] in [0, 1] (8-bit values): the random (training)
    or central square crop, area resized."""
    image = example["image"]
    crop = pp.random_square_crop(image, example.get("seed")) if training else pp.central_square_crop(image)
    return tf.ensure_shape(tf.round(pp.resize_area(crop, resolution)) / 255.0, [resolution, resolution, 3])


def example(
    example: dict[str, tf.Tensor], training: bool, *, resolution: int, soft_neighbors: int, soft_sigma: float
) -> dict[str, tf.Tensor]:
    """-> {"gray": [R, R, 1] luma in [0, 1], "rgb": [R, R, 3] in [0, 1], "ab": [R/4, R/4, 2] the true
    Lab ab at the output pixels, "targets": [R/4, R/4, 313] their soft encoding (k neighbours, Gaussian
    sigma; each sums to 1), "mask": [] 1.0, or 0.0 for a near-gray image (its loss is masked)}."""
    rgb = square_rgb(example, training, resolution)
    ab = subsample(rgb_to_lab(rgb)[..., 1:])
    side = resolution // STRIDE
    targets = cic.encode_soft(ab, k=soft_neighbors, sigma=soft_sigma)
    return {
        "gray": rgb_to_gray(rgb),
        "rgb": rgb,
        "ab": ab,
        "targets": tf.ensure_shape(targets, [side, side, cic.NUM_BINS]),
        "mask": is_colorful(ab),
    }
