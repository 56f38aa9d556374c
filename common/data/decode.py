"""Decoding image files with Pillow: any mode to uint8 RGB, EXIF orientation, one clear error per bad file."""

from __future__ import annotations

import os
import threading

import numpy as np
from absl import logging
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

_reported_lock = threading.Lock()
_reported: set[str] = set()  # bad files already warned about (warn once per process, not every epoch)


class ImageDecodeError(ValueError):
    """A file that is not a decodable image; the message says which file and why."""


# ----------------------------------------------------------------------------------------------- decoding
def _to_uint8_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> uint8 [H, W, 3].

    16-bit and 32-bit integer grayscale are scaled by 255/65535 (rounded), so 65535 -> 255 (Pillow's own
    `convert("L")` clips them instead). Float ("F") images are read as [0, 1]. Transparent images (RGBA,
    LA, PA, palette with a transparent colour) are composited on white. CMYK, YCbCr, Lab, HSV and 1-bit go
    through Pillow's conversion. 16-bit RGB files arrive from Pillow already as 8-bit RGB (high byte).
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        x = np.asarray(img).astype(np.int64)
        gray = np.clip((x * 255 + 32767) // 65535, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "F":
        x = np.asarray(img, dtype=np.float32)
        gray = np.clip(np.round(np.nan_to_num(x) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode == "L":
        return np.repeat(np.asarray(img, dtype=np.uint8)[..., None], 3, axis=-1)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def decode_image_file(path: str) -> np.ndarray:
    """Decodes one image file to uint8 [H, W, 3] RGB with its EXIF orientation applied.

    Raises ImageDecodeError("<path>: <why>") for an empty, truncated, corrupt or non-image file.
    """
    try:
        if os.path.getsize(path) == 0:
            raise ImageDecodeError(f"{path}: empty file (0 bytes)")
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here and not later
            img = ImageOps.exif_transpose(img)
            rgb = _to_uint8_rgb(img)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{path}: not a recognised image format") from None
    except Exception as e:  # Pillow raises many kinds; each means one bad file
        raise ImageDecodeError(f"{path}: {type(e).__name__}: {e}") from None
    if rgb.ndim != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageDecodeError(f"{path}: decoded to an empty image of shape {rgb.shape}")
    return rgb


def _warn_once(message: str) -> None:
    with _reported_lock:
        if message in _reported:
            return
        _reported.add(message)
    logging.warning("Skipping unreadable image %s", message)


def list_image_files(root: str) -> list[str]:
    """All image files under `root` (recursive), as paths relative to `root` with "/", sorted."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"data.folder {root!r} is not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for f in filenames:
            if f.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
    return sorted(found)
