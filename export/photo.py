"""Photo in / colourings out with numpy and Pillow only (no TensorFlow): what a phone app does around a
.tflite model, and what the serving client does around a request.

A model's output colours are used for their chroma only: the photo's own luminance is kept at its own
resolution (as coltran/pipeline.py does), so no detail is lost.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps

# BT.601 / JPEG YCbCr (as common/color.py, which imports TensorFlow; tests check they agree).
_Y = np.array([0.299, 0.587, 0.114])
_CB = np.array([-0.168735892, -0.331264108, 0.5])
_CR = np.array([0.5, -0.418687589, -0.081312411])
_RGB_FROM_CBCR = np.linalg.inv(np.stack([_Y, _CB, _CR]))[:, 1:]  # [3, 2]: RGB offset per unit Cb, Cr

__all__ = ["join_luminance", "luminance", "read_photo", "resize_gray"]


def read_photo(path: str | os.PathLike) -> np.ndarray:
    """An image file -> uint8 [H, W, 3] with its EXIF orientation applied; one-line error if unreadable."""
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{os.fspath(path)}: cannot read image ({e})") from None


def luminance(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] (or [H, W] gray) -> Y float64 [H, W] in [0, 1] (BT.601)."""
    x = np.asarray(rgb, np.float64) / 255.0
    return np.clip(x @ _Y if x.ndim == 3 else x, 0.0, 1.0)


def resize_gray(y: np.ndarray, size: int) -> np.ndarray:
    """Y float [H, W] in [0, 1] -> uint8 [size, size], the whole frame squashed by area averaging."""
    image = Image.fromarray(y.astype(np.float32), mode="F").resize((size, size), Image.BOX)
    return np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


def join_luminance(y: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The photo's Y float [H, W] + a model's colours uint8 [h, w, 3] -> uint8 [H, W, 3].

    The colours' chroma (Cb, Cr) is resized bilinearly to H x W and added to Y; where that would leave
    the RGB gamut, the chroma is scaled towards gray just enough to fit, so the luminance stays Y.
    """
    height, width = y.shape
    x = np.asarray(rgb, np.float64) / 255.0
    chroma = []
    for weights in (_CB, _CR):
        plane = Image.fromarray((x @ weights).astype(np.float32), mode="F")
        chroma.append(np.asarray(plane.resize((width, height), Image.BILINEAR), np.float64))
    d = np.stack(chroma, axis=-1) @ _RGB_FROM_CBCR.T  # [H, W, 3], zero luma
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(d > 0, (1.0 - y)[..., None] / d, np.inf)
        down = np.where(d < 0, y[..., None] / -d, np.inf)
    s = np.clip(np.minimum(up.min(axis=-1), down.min(axis=-1)), 0.0, 1.0)
    return np.clip(np.round((y[..., None] + s[..., None] * d) * 255.0), 0, 255).astype(np.uint8)
