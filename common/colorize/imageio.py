"""Image files in and out for `colorize`, with memory bounded by a few bytes per input pixel.

Reading: the header is checked first (size, decompression bombs: refused before any pixel is decoded),
then the pixels are decoded (any Pillow mode: 16-bit, CMYK, palette, RGBA on white, EXIF orientation
honoured; common.data.decode) and turned into the luminance Y float32 [H, W] in row strips.
Un-squashing: a model colours the whole frame squashed to a square R x R; its chroma is resized to H x W
and joined with Y in strips of STRIP_ROWS rows (float64 temporaries of one strip only).
Peak memory per image, independent of the number of samples: Y (4 bytes/pixel) + the decoded file
(1 byte/pixel gray, 3 colour, plus Pillow's copy while decoding) or one output (3 bytes/pixel, plus
Pillow's copy and the encoded file while saving): measured 14 (gray) to 16 (colour JPEG) bytes per input
pixel on a 40-megapixel photo, whatever the number of samples (the pipeline takes ~49).
Writing: a temporary file in the output folder renamed into place (os.replace), so an interrupted run
leaves either no file or a whole one; provenance in PNG text chunks or JPEG EXIF (ImageDescription).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from common.color import rgb_to_gray_np, rgb_to_ycbcr_np, ycbcr_to_rgb_np
from common.data.decode import _to_uint8_rgb

STRIP_ROWS = 256
PNG_LEVEL = 1  # zlib level: on a 40 MP photo 5 s and 48 MB, against 28 s and 40 MB at Pillow's default 6
PROVENANCE_KEY = "colorize"  # PNG text chunk holding the provenance JSON
_EXIF_DESCRIPTION, _EXIF_SOFTWARE = 0x010E, 0x0131


class BadImage(ValueError):
    """A file that cannot be coloured; the message is one line "<path>: <why>"."""


# ------------------------------------------------------------------------------------------------ reading
def read_luminance(path: str, max_pixels: int) -> np.ndarray:
    """An image file -> its luminance Y float32 [H, W] in [0, 1] (BT.601, as coltran.pipeline.luminance).

    Raises BadImage for a missing, empty, non-image, truncated or corrupt file and for one over
    `max_pixels` pixels (read from the header, before decoding).
    """
    try:
        if os.path.getsize(path) == 0:
            raise BadImage(f"{path}: empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise BadImage(
                        f"{path}: {width}x{height} = {width * height} pixels is over --max_pixels="
                        f"{max_pixels} (a decompression bomb or a huge scan); not decoded"
                    )
                img.load()  # decodes now: a truncated file fails here
                img = ImageOps.exif_transpose(img)
                if img.mode == "L":
                    levels = np.asarray(img)
                    del img
                    return _by_strips(lambda rows: rows / 255.0, levels)
                rgb = _to_uint8_rgb(img)
            del img
    except BadImage:
        raise
    except Image.DecompressionBombError as e:
        raise BadImage(f"{path}: refused as a decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise BadImage(f"{path}: not a recognised image format") from None
    except Exception as e:  # Pillow raises many kinds; each means one bad file
        raise BadImage(f"{path}: {type(e).__name__}: {e}".replace("\n", " ")) from None
    return _by_strips(lambda rows: rgb_to_gray_np(rows / 255.0)[..., 0], rgb)


def _by_strips(fn: Any, x: np.ndarray) -> np.ndarray:
    """float32 [H, W] from fn applied to strips of rows of x (float64 temporaries of one strip only)."""
    out = np.empty(x.shape[:2], np.float32)
    for top in range(0, x.shape[0], STRIP_ROWS):
        out[top : top + STRIP_ROWS] = np.clip(fn(x[top : top + STRIP_ROWS].astype(np.float64)), 0.0, 1.0)
    return out


# ------------------------------------------------------------------------------------------------ resizing
def area_matrix(src: int, dst: int) -> np.ndarray:
    """float64 [dst, src]: tf.image.resize(method="area") along one axis as a matrix (each output pixel
    the mean of the input span it covers, partial pixels weighted by their overlap)."""
    scale = src / dst
    out = np.zeros((dst, src))
    for i in range(dst):
        a, b = i * scale, (i + 1) * scale
        k = np.arange(int(np.floor(a)), min(src, int(np.ceil(b))))
        out[i, k] = np.clip(np.minimum(b, k + 1) - np.maximum(a, k), 0.0, None) / scale
    return out


def _area_along_width(rows: np.ndarray, size: int) -> np.ndarray:
    """float [h, W] -> float64 [h, size]: area resize along the width in O(h W): differences of the
    running sum, read (linearly: it is piecewise linear) at the fractional span boundaries."""
    width = rows.shape[1]
    cum = np.zeros((rows.shape[0], width + 1))
    np.cumsum(rows, axis=1, out=cum[:, 1:])
    edges = np.arange(size + 1) * (width / size)
    left = np.minimum(np.floor(edges).astype(int), width - 1)
    at = cum[:, left] + (edges - left) * (cum[:, left + 1] - cum[:, left])
    return np.diff(at, axis=1) / (width / size)


def squash(y: np.ndarray, size: int) -> np.ndarray:
    """Y [H, W] -> float32 [size, size]: the whole frame area-resized to a square (as the pipeline's
    tf.image.resize(method="area"), to float32 rounding), one strip of rows at a time."""
    a_h = area_matrix(y.shape[0], size)
    out = np.zeros((size, size))
    for top in range(0, y.shape[0], STRIP_ROWS):
        out += a_h[:, top : top + STRIP_ROWS] @ _area_along_width(
            y[top : top + STRIP_ROWS].astype(np.float64), size
        )
    return out.astype(np.float32)


def bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """float64 [dst, src]: tf.image.resize(method="bilinear", antialias=True) along one axis (the
    pipeline's chroma resize), read off by resizing an identity matrix (the resize is linear, separable)."""
    import tensorflow as tf

    eye = np.eye(src, dtype=np.float32)[:, :, None]
    return (
        tf.image.resize(eye, (dst, src), method="bilinear", antialias=True).numpy()[..., 0].astype(np.float64)
    )


def join_rows(y: np.ndarray, cbcr: np.ndarray) -> np.ndarray:
    """Y float [h, W] + CbCr float [h, W, 2] in [0, 1] -> uint8 RGB [h, W, 3] with luminance Y: the chroma
    offset is scaled towards gray just enough to stay in gamut (coltran.pipeline.join_luminance_chroma)."""
    y = np.asarray(y, np.float64)
    zeros = np.zeros(y.shape + (1,))
    d = ycbcr_to_rgb_np(np.concatenate([zeros, np.asarray(cbcr, np.float64)], axis=-1), clip=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(d > 0, (1.0 - y)[..., None] / d, np.inf)
        down = np.where(d < 0, y[..., None] / -d, np.inf)
    s = np.clip(np.minimum(up.min(axis=-1), down.min(axis=-1)), 0.0, 1.0)
    return np.clip(np.round((y[..., None] + s[..., None] * d) * 255.0), 0, 255).astype(np.uint8)


def unsquash(y: np.ndarray, rgb_square: np.ndarray) -> np.ndarray:
    """Y float32 [H, W] + a colouring of the squashed frame uint8 [R, R, 3] -> uint8 RGB [H, W, 3]: the
    colouring's chroma (YCbCr Cb, Cr) resized to H x W and joined with Y, STRIP_ROWS rows at a time."""
    height, width = y.shape
    size = rgb_square.shape[0]
    cbcr = rgb_to_ycbcr_np(np.asarray(rgb_square, np.float64) / 255.0)[..., 1:]  # [R, R, 2]
    a_h, a_w = bilinear_matrix(size, height), bilinear_matrix(size, width)
    cols = (a_w @ cbcr.transpose(1, 0, 2).reshape(size, -1)).reshape(width, size, 2)
    cols = np.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(size, width * 2)  # [R, W * 2], width done
    out = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, STRIP_ROWS):
        weights = a_h[top : top + STRIP_ROWS]
        used = np.flatnonzero(np.any(weights != 0, axis=0))  # the few source rows this strip reads
        lo, hi = used[0], used[-1] + 1
        strip = (weights[:, lo:hi] @ cols[lo:hi]).reshape(-1, width, 2)
        out[top : top + STRIP_ROWS] = join_rows(y[top : top + STRIP_ROWS], strip)
    return out


def thumbnail(image: np.ndarray, height: int) -> np.ndarray:
    """uint8 [H, W, 3] or float [H, W] in [0, 1] -> uint8 of at most `height` rows (contact sheets); a
    float image is shrunk before it is converted, so no full-size temporary is made."""
    a = np.asarray(image)
    img = Image.fromarray(a if a.dtype == np.uint8 else a.astype(np.float32, copy=False))
    if img.height > height:
        img = img.resize((max(1, round(img.width * height / img.height)), height), Image.BOX)
    out = np.asarray(img)
    return out if out.dtype == np.uint8 else np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ writing
def write_image(image: np.ndarray, path: str, provenance: dict[str, Any], quality: int = 95) -> None:
    """Writes uint8 [H, W, 3] as PNG or JPEG (by extension) atomically: `path` is afterwards absent, the
    old file, or the whole new one. `provenance` goes into the PNG text chunk "colorize" (JSON) or the
    JPEG's EXIF ImageDescription (JSON); "Software" names the library in both."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    ext = os.path.splitext(path)[1].lower()
    text = json.dumps(provenance, sort_keys=True)
    software = f"colorize {provenance.get('library_version', '')}".strip()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=ext)
    try:
        with os.fdopen(fd, "wb") as f:
            img = Image.fromarray(np.asarray(image, np.uint8))
            if ext in (".jpg", ".jpeg"):
                exif = Image.Exif()
                exif[_EXIF_DESCRIPTION] = text
                exif[_EXIF_SOFTWARE] = software
                img.save(f, format="JPEG", quality=quality, exif=exif.tobytes())
            else:
                info = PngInfo()
                info.add_text(PROVENANCE_KEY, text)
                info.add_text("Software", software)
                img.save(f, format="PNG", pnginfo=info, compress_level=PNG_LEVEL)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; an output is as readable as any file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_provenance(path: str) -> dict[str, Any]:
    """The provenance `write_image` stored in a PNG or JPEG (KeyError if none)."""
    with Image.open(path) as img:
        if img.format == "PNG":
            return json.loads(img.text[PROVENANCE_KEY])
        return json.loads(img.getexif()[_EXIF_DESCRIPTION])
