"""PixColor's preprocessing, separate from the networks (runs inside `tf.data`, graph ops only).

Both models map a decoded example {"image": uint8 [H, W, 3], optional "seed"} to their unbatched batch: a
square crop (uniformly placed in training, from the example's seed; central otherwise), an antialiased
area resize to `resolution` (224), YCbCr (JPEG full range, common/color.py) with gray = Y, and the chroma
area-resized to `low_resolution` (28; §3, fig. 3: "the true chroma image downsampled"). Chroma channels
are (Cr, Cb), the generation order (pixcolor/constants.py).

Near-gray photos (colorness < 0.05, the appendix table) are dropped before preprocessing by the data
pipeline (configs set data.colorness_threshold; common/data/pipeline.py applies
common.data.preprocess.is_colorful as a `tf.data` filter), so no model code is involved.

Sampling any size (§5, fig. 9's non-square samples): `sampling_size(height, width)` gives the gray size
whose short side is `resolution` (multiples of the network stride 8), so the low-resolution chroma keeps
the aspect ratio with its short side 28; the chroma is then upsampled to the original size and joined
with the original luminance.
"""

from __future__ import annotations

import tensorflow as tf

from common.color import rgb_to_ycbcr
from common.data import preprocess as pp
from common.quantize import NeutralCenteredQuantizer
from pixcolor.constants import STRIDE


def _crop(example: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
    image = example["image"]
    return pp.random_square_crop(image, example.get("seed")) if training else pp.central_square_crop(image)


def ycbcr_at(crop: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 [S, S, 3] -> YCbCr float32 [size, size, 3] in [0, 1] (area resize of the 8-bit RGB, rounded)."""
    rgb = tf.round(pp.resize_area(crop, size)) / 255.0
    return rgb_to_ycbcr(tf.ensure_shape(rgb, [size, size, 3]))


def cr_cb(ycbcr: tf.Tensor) -> tf.Tensor:
    """YCbCr [..., 3] -> chroma [..., 2] in PixColor's order (Cr, Cb)."""
    return tf.stack([ycbcr[..., 2], ycbcr[..., 1]], axis=-1)


def pixcolor_example(
    example: dict[str, tf.Tensor], training: bool, *, resolution: int, low_resolution: int, num_bins: int
) -> dict[str, tf.Tensor]:
    """-> {"gray": float32 [R, R, 1] in [0, 1], "chroma": int32 [r, r, 2] bins of (Cr, Cb)}."""
    crop = _crop(example, training)
    gray = ycbcr_at(crop, resolution)[..., :1]
    low = cr_cb(ycbcr_at(crop, low_resolution))
    return {"gray": gray, "chroma": NeutralCenteredQuantizer(num_bins).encode(low)}


def refinement_example(
    example: dict[str, tf.Tensor],
    training: bool,
    *,
    resolution: int,
    low_resolution: int,
    num_bins: int,
) -> dict[str, tf.Tensor]:
    """-> {"gray": [R, R, 1], "chroma": [R, R, 2] the target, "chroma_low": [r, r, 2] the ground truth's
    low-resolution chroma (§3.2: trained on it, never on samples), as bin centres when num_bins > 0 (what
    the PixelCNN's samples are), else exact}; floats in [0, 1]."""
    crop = _crop(example, training)
    full = ycbcr_at(crop, resolution)
    low = cr_cb(ycbcr_at(crop, low_resolution))
    if num_bins:
        quantizer = NeutralCenteredQuantizer(num_bins)
        low = quantizer.decode(quantizer.encode(low))
    return {"gray": full[..., :1], "chroma": cr_cb(full), "chroma_low": low}


def sampling_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """(h, w) to resize a gray photo to before sampling: the short side `resolution`, the long side scaled
    by the same factor and rounded to a multiple of 8 (the network stride), so the chroma is [h/8, w/8]
    with its short side resolution / 8 (28 at 224). E.g. (600, 400) -> (336, 224) -> chroma 42 x 28."""
    if height < 1 or width < 1:
        raise ValueError(f"pixcolor/preprocessing.py: image size must be positive, got {height} x {width}")
    short = min(height, width)

    def side(n: int) -> int:
        return resolution if n == short else max(STRIDE, round(n * resolution / short / STRIDE) * STRIDE)

    return side(height), side(width)
