"""What low-resolution chroma keeps of a photo: PixColor fig. 3, ColTran's coarse colours and CIC's bins.

Each model in this library predicts colour at a resolution and precision far below the photo's and puts
the photo's own luminance back at the end. This shows, on real photos, how much of the colour survives
each model's output space when the true colours are pushed through it:
  PixColor (Guadarrama et al. 2017, fig. 3): YCbCr chroma area-resized to 28 px on the smallest side and
    quantized to 32 bins per channel (bins centred on neutral gray, so gray stays gray);
  ColTran (Kumar et al. 2021, sec. 4): the whole image at 64x64 with 3 bits per RGB channel (512 colours);
  CIC (Zhang et al. 2016): Lab ab at a quarter of the resolution, snapped to the nearest of the 313 bins.
Each is brought back to full size and joined with the original luminance.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common import cic, color, quantize

PIXCOLOR_CHROMA_SIDE = 28  # PixColor: chroma predicted at 28x28 (sec. 3)
PIXCOLOR_BINS = 32  # PixColor: 32 bins each for Cb and Cr
COLTRAN_SIZE = 64  # ColTran: core at 64x64
COLTRAN_BITS = 3  # ColTran: 3 bits per channel, 512 coarse colours
CIC_DOWNSAMPLE = 4  # CIC predicts ab at 1/4 of the input resolution


def _small_side_size(height: int, width: int, side: int) -> tuple[int, int]:
    scale = side / min(height, width)
    return max(side, round(height * scale)), max(side, round(width * scale))


def _join_luma_chroma(rgb01: tf.Tensor, chroma_rgb01: tf.Tensor) -> tf.Tensor:
    """Keeps Y of `rgb01` and CbCr of `chroma_rgb01` (both [H, W, 3] in [0, 1])."""
    y = color.rgb_to_ycbcr(rgb01)[..., :1]
    cbcr = color.rgb_to_ycbcr(chroma_rgb01)[..., 1:]
    return tf.clip_by_value(color.ycbcr_to_rgb(tf.concat([y, cbcr], -1)), 0.0, 1.0)


def pixcolor_low_res_chroma(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [H, W, 3]: original Y with 28-px, 32-bin CbCr, bilinearly upsampled."""
    x = tf.convert_to_tensor(rgb, tf.float32) / 255.0
    height, width = rgb.shape[:2]
    ycbcr = color.rgb_to_ycbcr(x)
    small = tf.image.resize(ycbcr[..., 1:], _small_side_size(height, width, PIXCOLOR_CHROMA_SIDE), "area")
    q = quantize.NeutralCenteredQuantizer(PIXCOLOR_BINS)
    small = tf.cast(q.decode(q.encode(small)), tf.float32)
    cbcr = tf.image.resize(small, (height, width), "bilinear")
    out = color.ycbcr_to_rgb(tf.concat([ycbcr[..., :1], cbcr], -1))
    return _to_uint8(out)


def coltran_coarse_colors(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [H, W, 3] -> (64x64 3-bit colours uint8 [64, 64, 3], full-size result uint8 [H, W, 3]).

    The whole image is area-resized to 64x64 (squashed, nothing cropped), reduced to 3 bits per
    channel, resized back to [H, W] and joined with the original luminance.
    """
    x = tf.convert_to_tensor(rgb, tf.float32)
    small = tf.image.resize(x, (COLTRAN_SIZE, COLTRAN_SIZE), "area")
    coarse = quantize.to_coarse(tf.round(small), bits=COLTRAN_BITS)
    small8 = tf.cast(quantize.coarse_to_8bit(coarse, bits=COLTRAN_BITS), tf.float32) / 255.0
    up = tf.image.resize(small8, rgb.shape[:2], "bilinear")
    return _to_uint8(small8), _to_uint8(_join_luma_chroma(x / 255.0, up))


def cic_313_bins(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [H, W, 3]: original L with ab at 1/4 size snapped to the 313 CIC bins."""
    x = tf.convert_to_tensor(rgb, tf.float32) / 255.0
    height, width = rgb.shape[:2]
    lab = color.rgb_to_lab(x)
    small = tf.image.resize(lab[..., 1:], (max(1, height // CIC_DOWNSAMPLE), max(1, width // CIC_DOWNSAMPLE)),
                            "area")
    snapped = tf.gather(tf.constant(cic.ab_bins()), cic.encode_hard(small))
    ab = tf.image.resize(snapped, (height, width), "bilinear")
    return _to_uint8(color.lab_to_rgb(tf.concat([lab[..., :1], ab], -1)))


def gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [H, W]: the luma the models condition on."""
    x = tf.convert_to_tensor(rgb, tf.float32) / 255.0
    return _to_uint8(color.rgb_to_gray(x))[..., 0]


def figure_row(rgb: np.ndarray) -> list[np.ndarray]:
    """One contact-sheet row: original | gray | PixColor chroma | ColTran 64x64 | ColTran full | CIC."""
    coltran_small, coltran_full = coltran_coarse_colors(rgb)
    return [rgb, gray(rgb), pixcolor_low_res_chroma(rgb), coltran_small, coltran_full, cic_313_bins(rgb)]


COLUMN_LABELS = [
    "original",
    "grayscale input",
    "PixColor: 28px CbCr, 32 bins",
    "ColTran: 64x64, 3 bits",
    "ColTran coarse + original Y",
    "CIC: ab/4 in 313 bins",
]


def _to_uint8(x: tf.Tensor) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)
