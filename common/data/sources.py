"""Where images come from: TFDS datasets, a folder of image files, the package's photos, the system's photos.

Every source yields examples {"image": uint8 [H, W, 3], "name": string} (RGB, any size), which is what a
model's `preprocess(example, training)` receives (common/protocol.py).

  tfds_source(name, split, ...)      any TFDS image dataset whose image key is "image"; already prepared
                                     under `data_dir` (nothing is downloaded at run time).
  folder_source(root, split, ...)    every jpg/jpeg/png/webp/bmp/tif/tiff under `root` (recursive, sorted),
                                     decoded with Pillow; unreadable files are logged by name and skipped.
  bundled_source(split, ...)         `photos.bundled_photos()`: the package's four colour photos (fixed).
  system_photos_source(split, ...)   `photos.system_photos()`: scikit-image's photos and wallpapers
                                     (opt-in; depends on the machine).

Sharding (`num_shards`, `shard_index`) splits the examples into disjoint shards that together cover the
split: by example for TFDS (`tfds.even_splits`), by file index before any decoding for the others.
`split` for folder and photo sources is the whole pool of images, optionally sliced like TFDS:
"train" (all), "train[:90%]", "train[-10:]", "test[100:200]" (the name before the bracket is ignored).

Training streams (`repeat=True`) and their start position (`skip`, in records of this shard): resuming
at step s must not decode what steps 0..s-1 consumed. Every source therefore drops the first `skip`
records BEFORE decoding: the folder and photo sources order their file indices per epoch by a stateless
permutation of (seed, epoch), so the start epoch and offset come by arithmetic (nothing before them is
read: the cost does not grow with the step); TFDS shuffles the still-encoded records
(`tfds.decode.SkipDecoding`), skips, then decodes, so the consumed records are read as bytes but not
decoded (TFRecord files allow no random access; that I/O is the one cost left that grows with the step).
A record that yields no example (an unreadable file) shifts a resumed stream by one example from the
uninterrupted one; with every record readable, the two are identical.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from common.data import photos as photo_sets
from common.data.decode import (
    IMAGE_EXTENSIONS,
    ImageDecodeError,
    _warn_once,
    decode_image_file,
    list_image_files,
)
from common.data.photos import BUNDLED_PHOTOS, WALLPAPER_DIRS, bundled_photos, system_photos

__all__ = [
    "BUNDLED_PHOTOS",
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "bundled_photos",
    "bundled_source",
    "decode_image_file",
    "folder_source",
    "list_image_files",
    "slice_split",
    "system_photos",
    "system_photos_source",
    "tfds_source",
]

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
    shuffle_buffer: int = 0,
    repeat: bool = False,
    skip: int = 0,
) -> tf.data.Dataset:
    """A prepared TFDS image dataset as {"image": uint8 [H, W, 3], "name": string}.

    Grayscale datasets ([H, W, 1]) are tiled to 3 channels. "name" is the dataset's "file_name" feature
    when it has one (imagenet2012), else "<name>/<split>/<shard>". Never downloads: a dataset that is not
    prepared under `data_dir` raises FileNotFoundError saying how to prepare it.
    Records are read encoded: shuffled in a buffer of `shuffle_buffer` encoded records (> 1; seeded,
    reshuffled each epoch), repeated when `repeat`, the first `skip` dropped, and only then decoded.
    """
    import tensorflow_datasets as tfds  # heavy import, only when this source is used

    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} is not in [0, {num_shards})")
    read_split = tfds.even_splits(split, n=num_shards)[shard_index] if num_shards > 1 else split
    read_config = tfds.ReadConfig(shuffle_seed=seed, add_tfds_id=False)
    try:
        ds, info = tfds.load(
            name,
            split=read_split,
            data_dir=data_dir or None,
            download=False,
            shuffle_files=shuffle_files,
            read_config=read_config,
            decoders={"image": tfds.decode.SkipDecoding()},
            with_info=True,
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
    image_feature = info.features["image"]
    if shuffle_buffer > 1:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if skip:
        ds = ds.skip(skip)

    def to_example(ex: dict) -> dict[str, tf.Tensor]:
        image = image_feature.decode_example(ex["image"])
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
def _index_stream(n: int, *, shuffle: bool, seed: int, repeat: bool, skip: int) -> tf.data.Dataset:
    """int64 indices into n records; the first `skip` dropped with nothing decoded (module docstring).

    Without `repeat`: one pass, in order or (shuffle) in a seeded order that changes each time the dataset
    is iterated again. With `repeat`: epoch e in order or permuted by the stateless seed (seed, e),
    forever; the start epoch skip // n is reached by arithmetic, the offset skip % n by skipping ints.
    """
    if not repeat:
        ds = tf.data.Dataset.range(n)
        if shuffle:
            # The whole index list, so shuffling is exact and costs nothing (nothing decoded yet).
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        return ds.skip(skip) if skip else ds
    first_epoch, offset = divmod(int(skip), n)

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        indices = tf.range(n, dtype=tf.int64)
        if shuffle:
            indices = tf.random.experimental.stateless_shuffle(indices, seed=tf.stack([int(seed), e]))
        return tf.data.Dataset.from_tensor_slices(indices)

    ds = tf.data.Dataset.counter(first_epoch).flat_map(epoch)
    return ds.skip(offset) if offset else ds


def _indexed_source(
    names: Sequence[str], load, *, shuffle: bool, seed: int, repeat: bool = False, skip: int = 0
) -> tf.data.Dataset:
    """Examples from indices into `names` (`_index_stream`), decoded by `load(i) -> uint8 [H, W, 3] | None`
    (None = skip the record)."""
    names_t = tf.constant(list(names), tf.string)
    ds = _index_stream(len(names), shuffle=shuffle, seed=seed, repeat=repeat, skip=skip)

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
    repeat: bool = False,
    skip: int = 0,
) -> tf.data.Dataset:
    """Every image file under `root` as {"image": uint8 [H, W, 3], "name": path relative to root}.

    Files are listed recursively and sorted; `split` slices that list (see module docstring); shard
    `shard_index` of `num_shards` takes files shard_index, shard_index + num_shards, ... before any
    decoding. With `shuffle_files` the shard's file order is reshuffled every epoch (the same sequence of
    orders for the same seed). Bad files are logged (one absl warning: path and reason) and skipped.
    `repeat` and `skip`: an endless stream starting at record `skip` (module docstring).
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

    return _indexed_source(shard, load, shuffle=shuffle_files, seed=seed, repeat=repeat, skip=skip)


# -------------------------------------------------------------------------------------------- photo sets
def _photo_source(
    photos: list[tuple[str, np.ndarray]],
    what: str,
    split: str,
    *,
    shuffle_files: bool,
    seed: int,
    num_shards: int,
    shard_index: int,
    repeat: bool,
    skip: int,
) -> tf.data.Dataset:
    selected = photos[slice_split(split, len(photos))]
    shard = _shard(selected, num_shards, shard_index)
    if not shard:
        raise ValueError(f"split {split!r}, shard {shard_index} of {num_shards} selects no {what} photo")
    names = [n for n, _ in shard]
    return _indexed_source(
        names, lambda i: shard[i][1], shuffle=shuffle_files, seed=seed, repeat=repeat, skip=skip
    )


def bundled_source(
    split: str = "train",
    *,
    shuffle_files: bool = False,
    seed: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
    repeat: bool = False,
    skip: int = 0,
) -> tf.data.Dataset:
    """`bundled_photos()` (the package's four colour photos) as {"image": uint8 [H, W, 3], "name": string}."""
    return _photo_source(
        bundled_photos(),
        "bundled",
        split,
        shuffle_files=shuffle_files,
        seed=seed,
        num_shards=num_shards,
        shard_index=shard_index,
        repeat=repeat,
        skip=skip,
    )


def system_photos_source(
    split: str = "train",
    *,
    shuffle_files: bool = False,
    seed: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
    repeat: bool = False,
    skip: int = 0,
    wallpaper_dirs: Sequence[str] = WALLPAPER_DIRS,
    max_side: int = 1024,
) -> tf.data.Dataset:
    """`system_photos()` (scikit-image's and the wallpapers this machine has) as a tf.data source."""
    found = photo_sets.system_photos(wallpaper_dirs, max_side)
    if not found:
        raise FileNotFoundError(
            "data.source 'system_photos' found no photo (install scikit-image or a wallpaper package such as "
            "mate-backgrounds; data.source 'bundled' needs neither)"
        )
    return _photo_source(
        found,
        "system",
        split,
        shuffle_files=shuffle_files,
        seed=seed,
        num_shards=num_shards,
        shard_index=shard_index,
        repeat=repeat,
        skip=skip,
    )
