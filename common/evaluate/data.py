"""The photos `colorize-evaluate` scores models on: a folder or a prepared TFDS split, in a fixed order.

Every photo is brought to one evaluation frame: its central square, area-resized to `size` x `size`
and rounded to uint8 (ColTran's evaluation preprocessing, coltran/preprocessing.py), so every model,
baseline and the ground truth are compared on the same pixels. Names are stable across runs (the file's
path below the folder, or the record's index in the split), which is what the sample cache keys on.
A file that cannot be decoded is reported (one line) and skipped, as in `colorize`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np

from common.data.decode import ImageDecodeError, decode_image_file


@dataclasses.dataclass(frozen=True)
class EvalImage:
    """name: unique, "/"-separated, no extension; rgb: uint8 [size, size, 3] ground truth."""

    name: str
    rgb: np.ndarray


def to_frame(rgb: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [size, size, 3]: central square crop, antialiased area resize, rounding."""
    import tensorflow as tf

    from common.data import preprocess as pp

    crop = pp.central_square_crop(tf.constant(rgb))
    return np.clip(np.round(pp.resize_area(crop, size).numpy()), 0, 255).astype(np.uint8)


def _folder_items(root: str, max_pixels: int) -> Iterator[tuple[str, np.ndarray | str]]:
    from PIL import Image

    from common.colorize.inputs import collect

    found, problems = collect([root])
    for p in problems:
        yield "", p
    for inp in found:
        try:
            try:
                with Image.open(inp.path) as img:
                    w, h = img.size  # the header only: a decompression bomb is refused undecoded
            except Exception:  # decode_image_file says what is wrong, in its words
                w = h = 0
            if w * h > max_pixels:
                yield inp.name, f"{inp.path}: {w}x{h} pixels is over --max_pixels={max_pixels}; skipped"
                continue
            yield inp.name, decode_image_file(inp.path)
        except (ImageDecodeError, OSError, ValueError) as e:
            message = str(e) if str(e).startswith(inp.path) else f"{inp.path}: {type(e).__name__}: {e}"
            yield inp.name, message


def _tfds_items(spec: str, data_dir: str) -> Iterator[tuple[str, np.ndarray | str]]:
    from common.data.sources import tfds_source

    name, _, split = spec.partition(":")
    ds = tfds_source(name, split, data_dir=data_dir)
    for i, ex in enumerate(ds.as_numpy_iterator()):
        yield f"{name}/{split}/{i:06d}", ex["image"]


def iter_images(
    data: str, size: int, *, data_dir: str = "", max_pixels: int = 180_000_000
) -> Iterator[EvalImage | str]:
    """`data` (a folder, or "tfds_name:split") -> EvalImages in the source's order, and for each bad file
    one problem line (a str) in its place. Raises ValueError (one line) for a `data` that is neither."""
    if os.path.isdir(data):
        items = _folder_items(data, max_pixels)
    elif ":" in data and not os.path.exists(data):
        items = _tfds_items(data, data_dir)
    else:
        raise ValueError(
            f"--data={data}: neither a folder of photos nor a TFDS 'name:split' (imagenet2012:validation)"
        )
    for name, item in items:
        yield item if isinstance(item, str) else EvalImage(name, to_frame(item, size))


def take(
    data: str, count: int, size: int, *, reference: int = 0, data_dir: str = "", max_pixels: int = 180_000_000
) -> tuple[list[EvalImage], list[EvalImage], list[str]]:
    """The first `count` good photos, the next `reference` good ones (FID's held-out real images, the
    ColTran protocol: REFERENCES.md) and the problem lines met on the way."""
    images: list[EvalImage] = []
    held_out: list[EvalImage] = []
    problems: list[str] = []
    for item in iter_images(data, size, data_dir=data_dir, max_pixels=max_pixels):
        if isinstance(item, str):
            problems.append(item)
        elif len(images) < count:
            images.append(item)
        elif len(held_out) < reference:
            held_out.append(item)
        if len(images) >= count and len(held_out) >= reference:
            break
    return images, held_out, problems
