"""From one photo of any size to N colourings at its own resolution with ColTran's three stages.

    image [H, W] or [H, W, 3] (or a file)      luminance Y [H, W] at full resolution, kept to the end
      -> Y area-resized to r x r (r = 64)       the whole frame, squashed to a square; nothing cropped
      -> ColTranCore.sample                     N coarse 3-bit colourings [N, r, r, 3] + uncertainty
      -> ColorUpsampler.sample (argmax)         8-bit colours [N, r, r, 3]
      -> SpatialUpsampler.sample (argmax)       8-bit colours [N, R, R, 3] (R = 256), one sample at a time
      -> chroma (YCbCr Cb, Cr), bilinear to H x W (un-squashing the aspect ratio), joined with Y
      -> N uint8 RGB images [N, H, W, 3]

Why squash rather than crop or pad: the authors' script centre-crops to 256x256 and so drops the sides
of every non-square photo; padding would spend the model's 64x64 on empty borders. Squashing keeps every
pixel in view at the full 64x64 and the distortion is undone when the chroma is resized back to H x W.
Only chroma comes from the model: the output's luminance is the input's (to 8-bit rounding), so no detail
of the photo is lost. Where the model's chroma would leave the RGB gamut at that luminance, the chroma is
scaled towards gray just enough to fit, instead of clipping RGB (clipping would change the luminance).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import tensorflow as tf

from common.color import rgb_to_gray_np, rgb_to_ycbcr
from common.colorize.imageio import join_rows
from common.data.sources import decode_image_file
from common.quantize import coarse_to_8bit
from common.sampling import fold_seed


@dataclasses.dataclass(frozen=True)
class Colorization:
    """The pipeline's output for one image and N samples (r = core resolution, R = spatial resolution).

    images: uint8 [N, H, W, 3], the colourings at the input's size.
    uncertainty: float32 [N, r, r], the core's maximum predicted probability at each pixel (ColTran
        fig. 5: low = uncertain), for contact sheets.
    coarse: uint8 [N, r, r, 3] the core's coarse colours as 8-bit values; low_res: uint8 [N, r, r, 3] the
        colour upsampler's output; high_res: uint8 [N, R, R, 3] the spatial upsampler's (square) output.
    luminance: float32 [H, W] in [0, 1], the input's Y (BT.601), which every image keeps.
    """

    images: np.ndarray
    uncertainty: np.ndarray
    coarse: np.ndarray
    low_res: np.ndarray
    high_res: np.ndarray
    luminance: np.ndarray


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decodes an image file to uint8 [H, W, 3] with its EXIF orientation applied.

    Raises common.data.sources.ImageDecodeError (a ValueError) "<path>: <why>" for a missing, empty,
    truncated or non-image file.
    """
    return decode_image_file(os.fspath(path))


def luminance(image: Any) -> np.ndarray:
    """An image -> its luminance Y float32 [H, W] in [0, 1] (BT.601, common.color.rgb_to_gray_np).

    `image`: a file path, or an array [H, W], [H, W, 1] (gray) or [H, W, 3] (RGB); uint8 (or other
    integers) in [0, 255], or float in [0, 1]. A bad argument raises one ValueError saying what is wrong.
    """
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    x = np.asarray(image)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[-1] != 3) or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"coltran.pipeline: image must be [H, W], [H, W, 1] or [H, W, 3], got {x.shape}")
    if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"coltran.pipeline: image must be integer (0..255) or float (0..1), got {x.dtype}")
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise ValueError(
                f"coltran.pipeline: integer image values must be in 0..255, got {x.min()}..{x.max()}"
            )
        scale = 1.0 / 255.0
    else:
        if not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0:
            raise ValueError(
                "coltran.pipeline: float image values must be finite and in [0, 1] (divide 8-bit values by "
                f"255), got {np.nanmin(x)}..{np.nanmax(x)}"
            )
        scale = 1.0

    def gray_rows(rows: np.ndarray) -> np.ndarray:
        rows = rows.astype(np.float64) * scale
        return rows if rows.ndim == 2 else rgb_to_gray_np(rows)[..., 0]

    return np.clip(_by_rows(gray_rows, x), 0.0, 1.0).astype(np.float32)


def _by_rows(fn: Any, *arrays: np.ndarray, rows: int = 256) -> np.ndarray:
    """fn applied to bands of `rows` rows of same-height arrays, concatenated: a large photo's float64
    temporaries stay a band's worth instead of the whole image's."""
    height = arrays[0].shape[0]
    return np.concatenate([fn(*(a[top : top + rows] for a in arrays)) for top in range(0, height, rows)])


def join_luminance_chroma(y: np.ndarray, cbcr: np.ndarray) -> np.ndarray:
    """Y float [H, W] in [0, 1] + CbCr float [H, W, 2] in [0, 1] -> uint8 RGB [H, W, 3] with luminance Y.

    In JPEG YCbCr, RGB = Y * (1, 1, 1) + d(Cb, Cr), where d has zero luma. Where Y + d leaves [0, 1],
    d is scaled by the largest s in [0, 1] that fits, so the luma of the result stays exactly Y (up to
    the final rounding to 8 bits: at most half an 8-bit level).
    """
    return _by_rows(join_rows, np.asarray(y), np.asarray(cbcr))


def _resize(x: np.ndarray | tf.Tensor, size: tuple[int, int], method: str) -> tf.Tensor:
    """[H, W, C] -> float32 [h, w, C]; antialiased when shrinking (area is antialiased by itself)."""
    return tf.image.resize(tf.cast(x, tf.float32), size, method=method, antialias=method != "area")


def colorize(
    image: Any,
    core: Any,
    color_upsampler: Any,
    spatial_upsampler: Any,
    *,
    num_samples: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    upsampler_temperature: float = 0.0,
) -> Colorization:
    """Colours one image N times at its own resolution (see the module docstring for the stages).

    Args:
      image: file path, or array [H, W], [H, W, 1] or [H, W, 3], uint8 / int in [0, 255] or float in [0, 1];
        any size and aspect ratio, colour or gray (only its luminance is used).
      core: a ColTranCore (any size); its `sample` gives "coarse" and "uncertainty" (coltran/core.py).
      color_upsampler: a ColorUpsampler whose `resolution` is the core's.
      spatial_upsampler: a SpatialUpsampler whose `low_resolution` is the colour upsampler's `resolution`.
      num_samples: N colourings.
      seed: the same seed gives the same colourings.
      temperature, top_k: the core's sampling (ColTran appendix E); 0 = argmax.
      upsampler_temperature: both upsamplers' temperature; 0 (the paper's argmax) by default.
    Returns:
      Colorization with images uint8 [N, H, W, 3].
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"coltran.pipeline.colorize: num_samples must be an int >= 1, got {num_samples!r}")
    r = int(color_upsampler.resolution)
    big = int(spatial_upsampler.resolution)
    if int(spatial_upsampler.low_resolution) != r:
        raise ValueError(
            f"coltran.pipeline.colorize: spatial_upsampler.low_resolution "
            f"({spatial_upsampler.low_resolution}) must equal color_upsampler.resolution ({r})"
        )
    core_res = getattr(core, "resolution", r)
    if int(core_res) != r:
        raise ValueError(f"coltran.pipeline.colorize: core resolution {core_res} != color_upsampler's {r}")

    y = luminance(image)
    height, width = y.shape
    y_img = y[..., None]
    gray_small = _resize(y_img, (r, r), "area")[None]  # [1, r, r, 1], the whole frame squashed
    gray_big = _resize(y_img, (big, big), "area")[None]  # [1, R, R, 1]

    core_out = core.sample(
        gray_small, num_samples=num_samples, seed=seed, temperature=temperature, top_k=top_k
    )
    coarse = tf.reshape(tf.cast(core_out["coarse"], tf.int32), [num_samples, r, r, 3])
    uncertainty = tf.reshape(tf.cast(core_out["uncertainty"], tf.float32), [num_samples, r, r])

    color_out = color_upsampler.sample(
        tf.repeat(gray_small, num_samples, axis=0),
        coarse=coarse,
        num_samples=1,
        seed=fold_seed(seed, 1),
        temperature=upsampler_temperature,
    )
    low_res = color_out["labels"][:, 0]  # [N, r, r, 3] 8-bit

    images, high_res = [], []
    for n in range(num_samples):  # batch 1 through the 256x256 stage keeps memory to one image's worth
        out = spatial_upsampler.sample(
            gray_big,
            low_res=low_res[n : n + 1],
            num_samples=1,
            seed=fold_seed(seed, 2 + n),
            temperature=upsampler_temperature,
        )
        rgb_big = out["rgb"][0, 0]  # [R, R, 3] in [0, 1]
        cbcr = _resize(rgb_to_ycbcr(rgb_big)[..., 1:], (height, width), "bilinear")
        images.append(join_luminance_chroma(y, cbcr.numpy()))
        high_res.append(out["labels"][0, 0].numpy())

    return Colorization(
        images=np.stack(images),
        uncertainty=uncertainty.numpy(),
        coarse=coarse_to_8bit(coarse, color_upsampler.coarse_bits).numpy().astype(np.uint8),
        low_res=low_res.numpy().astype(np.uint8),
        high_res=np.stack(high_res).astype(np.uint8),
        luminance=y,
    )
