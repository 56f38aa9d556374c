"""Contact sheets: a grid of labelled image tiles written as one PNG (grayscale | samples | ...)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

LABEL_HEIGHT = 14


def _to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """[H, W], [H, W, 1] or [H, W, 3]; uint8, or float in [0, 1] -> uint8 [H, W, 3]."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(np.round(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"contact sheet tile must be [H, W], [H, W, 1] or [H, W, 3], got {a.shape}")
    return np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a


def contact_sheet(
    rows: Sequence[Sequence[np.ndarray]],
    labels: Sequence[str] | None = None,
    tile_height: int = 192,
    gap: int = 4,
) -> np.ndarray:
    """Lays out rows of tiles, each resized to `tile_height` keeping its aspect ratio.

    Args:
      rows: rows of images ([H, W], [H, W, 1] or [H, W, 3]; uint8 or float in [0, 1]).
      labels: optional column labels drawn above the first row.
      tile_height: height of every tile in pixels.
      gap: white space between tiles.
    Returns:
      uint8 [H_sheet, W_sheet, 3].
    """
    if not rows or not all(rows):
        raise ValueError("contact sheet needs at least one non-empty row")
    scaled = []
    for row in rows:
        tiles = []
        for image in row:
            tile = Image.fromarray(_to_uint8_rgb(image))
            width = max(1, round(tile.width * tile_height / tile.height))
            # Nearest keeps low-resolution inputs (28x28 chroma, 64x64) visibly blocky, as in the papers.
            resample = Image.NEAREST if tile.height < tile_height / 2 else Image.BICUBIC
            tiles.append(tile.resize((width, tile_height), resample))
        scaled.append(tiles)
    ncols = max(len(r) for r in scaled)
    col_widths = [max(r[c].width for r in scaled if c < len(r)) for c in range(ncols)]
    top = LABEL_HEIGHT + gap if labels else 0
    width = sum(col_widths) + gap * (ncols + 1)
    height = top + len(scaled) * (tile_height + gap) + gap
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    x = gap
    for c, w in enumerate(col_widths):
        if labels and c < len(labels):
            draw.text((x, gap // 2), labels[c], fill="black")
        x += w + gap
    for r, tiles in enumerate(scaled):
        x = gap
        y = top + gap + r * (tile_height + gap)
        for c, tile in enumerate(tiles):
            sheet.paste(tile, (x, y))
            x += col_widths[c] + gap
    return np.asarray(sheet)


def write_png_atomic(image: np.ndarray, path: str) -> None:
    """Writes a PNG so that `path` is either absent, the old file, or the complete new file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(_to_uint8_rgb(image)).save(f, format="PNG")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a written image is as readable as any file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
