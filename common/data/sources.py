"""Where images come from: TFDS datasets, a folder of image files, and photos shipped by installed packages.

Every source yields examples {"image": uint8 [H, W, 3], "name": string} (RGB, any size), which is what a
model's `preprocess(example, training)` receives (common/protocol.py).

  tfds_source(name, split, ...)      any TFDS image dataset whose image key is "image"; already prepared
                                     under `data_dir` (nothing is downloaded at run time).
  folder_source(root, split, ...)    every jpg/jpeg/png/webp/bmp/tif/tiff under `root` (recursive, sorted),
                                     decoded with Pillow; unreadable files are logged by name and skipped.
  bundled_source(split, ...)         `bundled_photos()`: scikit-image's colour photos plus any wallpapers
                                     under /usr/share/backgrounds and /usr/share/wallpapers.

Sharding (`num_shards`, `shard_index`) splits the examples into disjoint shards that together cover the
split: by example for TFDS (`tfds.even_splits`), by file index before any decoding for the folder.
`split` for folder and bundled sources is the whole pool of images, optionally sliced like TFDS:
"train" (all), "train[:90%]", "train[-10:]", "test[100:200]" (the name before the bracket is ignored).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# scikit-image's colour photographs, shipped inside the package (no download).
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
WALLPAPER_DIRS = ("/usr/share/backgrounds", "/usr/share/wallpapers")
_WALLPAPER_MIN_SIDE = 256  # smaller files there are icons / previews, not photographs

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


# ------------------------------------------------------------------------------------------------ splits
_SLICE_RE = re.compile(r"^[^\[\]]*(?:\[\s*(-?\d+%?)?\s*:\s*(-?\d+%?)?\s*\])?$")


def slice_split(split: str, n: int) -> slice:
    """The TFDS-style slice in `split` ("train[:90%]", "x[-10:]", "train") as a Python slice over n items.

    Percentages of n are rounded to the nearest item (Python's round()).
    """
    m = _SLICE_RE.match(split.strip())
    if not m:
        raise ValueError(f"split {split!r}: expected NAME or NAME[start:end] (ints or percentages)")

    def bound(s: str | None) -> int | None:
        if s is None:
            return None
        if s.endswith("%"):
            return int(round(int(s[:-1]) * n / 100))
        return int(s)

    return slice(bound(m.group(1)), bound(m.group(2)))


def _shard(items: Sequence, num_shards: int, shard_index: int) -> list:
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} is not in [0, {num_shards})")
    return list(items[shard_index::num_shards])


# -------------------------------------------------------------------------------------------------- TFDS
def tfds_source(
    name: str,
    split: str,
    *,
    data_dir: str = "",
    shuffle_files: bool = False,
    seed: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
) -> tf.data.Dataset:
    """A prepared TFDS image dataset as {"image": uint8 [H, W, 3], "name": string}.

    Grayscale datasets ([H, W, 1]) are tiled to 3 channels. "name" is the dataset's "file_name" feature
    when it has one (imagenet2012), else "<name>/<split>/<shard>". Never downloads: a dataset that is not
    prepared under `data_dir` raises FileNotFoundError saying how to prepare it.
    """
    import tensorflow_datasets as tfds  # heavy import, only when this source is used

    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} is not in [0, {num_shards})")
    read_split = tfds.even_splits(split, n=num_shards)[shard_index] if num_shards > 1 else split
    read_config = tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=False)
    try:
        ds = tfds.load(
            name,
            split=read_split,
            data_dir=data_dir or None,
            download=False,
            shuffle_files=shuffle_files,
            read_config=read_config,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"data.tfds_name {name!r} is not a TFDS dataset name") from None
    except AssertionError:  # TFDS's way of saying "not prepared"
        where = data_dir or "the TFDS default data_dir (~/tensorflow_datasets)"
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared in {where}; prepare it once with "
            f"`tfds build {name} --data_dir=<dir>` (imagenet2012 needs its tar files in "
            f"<dir>/downloads/manual) and set data.data_dir"
        ) from None
    spec = ds.element_spec
    if not isinstance(spec, dict) or "image" not in spec:
        raise ValueError(f"TFDS dataset {name!r} has no 'image' feature (features: {spec})")
    fallback_name = f"{name}/{split}/{shard_index}"

    def to_example(ex: dict) -> dict[str, tf.Tensor]:
        image = ex["image"]
        if image.shape.rank != 3:
            raise ValueError(f"TFDS dataset {name!r}: 'image' has rank {image.shape.rank}, expected 3")
        channels = image.shape[-1]
        if channels == 1:
            image = tf.tile(image, [1, 1, 3])
        elif channels is None:
            image = tf.cond(
                tf.shape(image)[-1] == 1, lambda: tf.tile(image, [1, 1, 3]), lambda: image[..., :3]
            )
        else:
            image = image[..., :3]
        image = tf.ensure_shape(tf.cast(image, tf.uint8), [None, None, 3])
        ex_name = ex["file_name"] if "file_name" in ex else tf.constant(fallback_name)
        return {"image": image, "name": ex_name}

    return ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# ------------------------------------------------------------------------------------------------ folder
def _indexed_source(names: Sequence[str], load, *, shuffle: bool, seed: int) -> tf.data.Dataset:
    """Examples 0..len(names)-1, decoded by `load(i) -> uint8 [H, W, 3] | None` (None = skip)."""
    names_t = tf.constant(list(names), tf.string)
    ds = tf.data.Dataset.range(len(names))
    if shuffle:
        # The whole index list, so shuffling is exact and costs nothing (nothing decoded yet).
        ds = ds.shuffle(len(names), seed=seed, reshuffle_each_iteration=True)

    def load_np(i: np.int64) -> np.ndarray:
        image = load(int(i))
        return np.zeros((0, 0, 3), np.uint8) if image is None else image

    def decode(i: tf.Tensor) -> dict[str, tf.Tensor]:
        image = tf.numpy_function(load_np, [i], tf.uint8, stateful=False)
        return {"image": tf.ensure_shape(image, [None, None, 3]), "name": tf.gather(names_t, i)}

    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.filter(lambda ex: tf.size(ex["image"]) > 0)


def folder_source(
    root: str,
    split: str = "train",
    *,
    shuffle_files: bool = False,
    seed: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
) -> tf.data.Dataset:
    """Every image file under `root` as {"image": uint8 [H, W, 3], "name": path relative to root}.

    Files are listed recursively and sorted; `split` slices that list (see module docstring); shard
    `shard_index` of `num_shards` takes files shard_index, shard_index + num_shards, ... before any
    decoding. With `shuffle_files` the shard's file order is reshuffled every epoch (the same sequence of
    orders for the same seed). Bad files are logged (one absl warning: path and reason) and skipped.
    """
    files = list_image_files(root)
    if not files:
        raise FileNotFoundError(f"data.folder {root!r} holds no {'/'.join(IMAGE_EXTENSIONS)} files")
    selected = files[slice_split(split, len(files))]
    if not selected:
        raise ValueError(f"split {split!r} selects none of the {len(files)} images in {root!r}")
    shard = _shard(selected, num_shards, shard_index)
    if not shard:
        raise ValueError(f"shard {shard_index} of {num_shards} is empty ({len(selected)} images in {root!r})")

    def load(i: int) -> np.ndarray | None:
        try:
            return decode_image_file(os.path.join(root, shard[i]))
        except ImageDecodeError as e:
            _warn_once(str(e))
            return None

    return _indexed_source(shard, load, shuffle=shuffle_files, seed=seed)


# ----------------------------------------------------------------------------------------------- bundled
def _skimage_photos() -> list[tuple[str, np.ndarray]]:
    try:
        import skimage.data
    except ImportError:
        logging.warning("scikit-image is not installed: no bundled skimage photos")
        return []
    data_dir = os.path.dirname(skimage.data.__file__)
    photos = []
    for fname in SKIMAGE_PHOTOS:
        path = os.path.join(data_dir, fname)
        try:
            photos.append((f"skimage/{fname}", decode_image_file(path)))
        except (ImageDecodeError, FileNotFoundError) as e:
            _warn_once(str(e))
    return photos


_RESOLUTION_NAME = re.compile(r"^(\d+)x(\d+)\.\w+$")


def _one_resolution_per_folder(files: list[str], max_pixels: int) -> list[str]:
    """KDE Plasma ships each wallpaper as <name>/contents/images/<W>x<H>.<ext> in many sizes: keep one.

    Per folder, of the files named <W>x<H>.<ext> keep the largest with W*H <= max_pixels (else the
    smallest); other files are all kept.
    """
    by_folder: dict[str, list[tuple[int, str]]] = {}
    kept = []
    for rel in files:
        m = _RESOLUTION_NAME.match(os.path.basename(rel))
        if m:
            by_folder.setdefault(os.path.dirname(rel), []).append((int(m.group(1)) * int(m.group(2)), rel))
        else:
            kept.append(rel)
    for sizes in by_folder.values():
        fitting = [x for x in sizes if x[0] <= max_pixels]
        kept.append(max(fitting)[1] if fitting else min(sizes)[1])
    return sorted(kept)


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Antialiased downscale so the long side is at most max_side (aspect ratio kept)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def _wallpapers(dirs: Sequence[str], max_side: int) -> list[tuple[str, np.ndarray]]:
    photos = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for rel in _one_resolution_per_folder(list_image_files(d), max_pixels=1920 * 1200):
            try:
                image = decode_image_file(os.path.join(d, rel))
            except ImageDecodeError as e:
                _warn_once(str(e))
                continue
            if min(image.shape[:2]) >= _WALLPAPER_MIN_SIDE:
                photos.append((f"{os.path.basename(d)}/{rel}", _shrink(image, max_side)))
    return photos


def bundled_photos(
    wallpaper_dirs: Sequence[str] = WALLPAPER_DIRS, max_side: int = 1024
) -> list[tuple[str, np.ndarray]]:
    """Real colour photos that installed packages ship: (name, uint8 [H, W, 3]), in a fixed order.

    scikit-image's astronaut, chelsea, coffee, rocket and motorcycle_left (read from its package folder,
    never downloaded; at most 741 px), then every image at least 256 px on its short side under
    `wallpaper_dirs` (Debian's mate-backgrounds, lomiri-wallpapers, plasma-workspace-wallpapers install
    there), sorted, one size per multi-resolution Plasma wallpaper, shrunk (antialiased) so the long side
    is at most `max_side` to bound memory. Every call decodes them again.
    """
    return _skimage_photos() + _wallpapers(wallpaper_dirs, max_side)


def bundled_source(
    split: str = "train",
    *,
    shuffle_files: bool = False,
    seed: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
    wallpaper_dirs: Sequence[str] = WALLPAPER_DIRS,
    max_side: int = 1024,
) -> tf.data.Dataset:
    """`bundled_photos()` as a tf.data source of {"image": uint8 [H, W, 3], "name": string}."""
    photos = bundled_photos(wallpaper_dirs, max_side)
    if not photos:
        raise FileNotFoundError("no bundled photos found (install scikit-image)")
    selected = photos[slice_split(split, len(photos))]
    shard = _shard(selected, num_shards, shard_index)
    if not shard:
        raise ValueError(f"split {split!r}, shard {shard_index} of {num_shards} selects no bundled photo")
    return _indexed_source([n for n, _ in shard], lambda i: shard[i][1], shuffle=shuffle_files, seed=seed)
