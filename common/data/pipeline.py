"""`build_dataset`: source (shard, shuffle, repeat, skip, decode) -> colorness filter -> preprocess -> batch.

The trainer calls it once per input pipeline (inside `strategy.distribute_datasets_from_function`,
passing the `tf.distribute.InputContext` and the per-replica batch from
`input_context.get_per_replica_batch_size(global_batch)`); evaluation calls it without a context.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import ml_collections
import tensorflow as tf

from common.data import sources
from common.data.preprocess import is_colorful, random_flip_left_right, split_seed

SOURCES = ("tfds", "folder", "bundled", "system_photos")
PreprocessFn = Callable[[dict[str, tf.Tensor], bool], dict[str, tf.Tensor]]


def shard_info(input_context: tf.distribute.InputContext | None) -> tuple[int, int]:
    """(num_shards, shard_index): (num_input_pipelines, input_pipeline_id), or (1, 0) without a context."""
    if input_context is None:
        return 1, 0
    return input_context.num_input_pipelines, input_context.input_pipeline_id


def make_source(
    data_cfg: ml_collections.ConfigDict,
    split: str,
    *,
    shuffle_files: bool = False,
    seed: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
    repeat: bool = False,
    skip: int = 0,
) -> tf.data.Dataset:
    """The unbatched examples {"image": uint8 [H, W, 3], "name": string} chosen by `data_cfg.source`.

    `repeat` / `skip`: an endless stream that starts at record `skip` of this shard, with nothing before
    it decoded (sources.py). For TFDS, a training stream (`shuffle_files`) is also shuffled in a buffer
    of `data_cfg.shuffle_buffer` encoded records. `~` in data.folder and data.data_dir is expanded.
    """
    kwargs = dict(
        shuffle_files=shuffle_files,
        seed=seed,
        num_shards=num_shards,
        shard_index=shard_index,
        repeat=repeat,
        skip=skip,
    )
    if data_cfg.source == "tfds":
        buffer = data_cfg.shuffle_buffer if shuffle_files else 0
        data_dir = os.path.expanduser(data_cfg.data_dir) if data_cfg.data_dir else ""
        return sources.tfds_source(
            data_cfg.tfds_name, split, data_dir=data_dir, shuffle_buffer=buffer, **kwargs
        )
    if data_cfg.source == "folder":
        if not data_cfg.folder:
            raise ValueError(
                "data.source is 'folder' but data.folder is empty; set it to a directory of images"
            )
        return sources.folder_source(os.path.expanduser(data_cfg.folder), split, **kwargs)
    if data_cfg.source == "bundled":
        return sources.bundled_source(split, **kwargs)
    if data_cfg.source == "system_photos":
        return sources.system_photos_source(split, **kwargs)
    raise ValueError(f"config data.source {data_cfg.source!r} is not one of {', '.join(SOURCES)}")


def augment_image(image: tf.Tensor, seed: tf.Tensor, crop_min_scale: float, flip: bool) -> tf.Tensor:
    """uint8 [H, W, C] -> a random crop of the same aspect ratio, its sides a fraction s ~ U[crop_min_scale,
    1] of the image's (uniformly placed), mirrored left-right with probability 1/2 when `flip`.

    For training on a few dozen photos (the embedded default models): many views of each photo. The
    randomness comes from the example's own seed (folded with a constant, so the model's preprocessing,
    which splits the same seed, draws independently), so a resumed run replays the same crops.
    """
    own = tf.random.experimental.stateless_fold_in(seed, 7919)
    scale_seed, crop_seed, flip_seed = tf.unstack(split_seed(own, 3))
    if crop_min_scale < 1.0:
        shape = tf.shape(image)
        s = tf.random.stateless_uniform([], scale_seed, crop_min_scale, 1.0)
        h = tf.maximum(1, tf.cast(tf.round(s * tf.cast(shape[0], tf.float32)), tf.int32))
        w = tf.maximum(1, tf.cast(tf.round(s * tf.cast(shape[1], tf.float32)), tf.int32))
        image = tf.image.stateless_random_crop(image, tf.stack([h, w, shape[2]]), seed=crop_seed)
    if flip:
        image = random_flip_left_right(image, flip_seed)
    return image


def build_dataset(
    data_cfg: ml_collections.ConfigDict,
    *,
    split: str,
    preprocess_fn: PreprocessFn,
    batch_size: int,
    training: bool,
    seed: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    skip_examples: int = 0,
) -> tf.data.Dataset:
    """A batched `tf.data.Dataset` of `preprocess_fn` outputs (dicts of [batch_size, ...] tensors).

    Args:
      data_cfg: the `data` section of configs/base.py (source, tfds_name, data_dir, folder,
        shuffle_buffer, colorness_threshold).
      split: e.g. data_cfg.train_split; TFDS split syntax (folder / bundled sources: see sources.py).
      preprocess_fn: the model's `preprocess(example, training)`. `example` holds "image" uint8
        [H, W, 3], "name" string and "seed" int64 [2], a stateless seed distinct for every example
        (derived from `seed`, the shard and the example's position) for the random ops of preprocess.py.
      batch_size: the batch this pipeline yields (per replica when `input_context` is given).
      training: shuffle (seeded: the same seed gives the same order, epoch after epoch), repeat forever,
        drop the last partial batch. Otherwise one pass in file order, keeping the partial batch.
      seed: the run seed.
      input_context: shard by input_pipeline_id over num_input_pipelines (disjoint shards covering the
        split). Without it, the whole split.

    Training augmentation (configs/base.py, off by default): `data_cfg.crop_min_scale` < 1 and
    `data_cfg.random_flip` apply `augment_image` to the decoded image before `preprocess_fn`.

    Examples with colorness(image) < data_cfg.colorness_threshold are dropped when the threshold is >= 0
    (PixColor: 0.05), in training and evaluation alike, after decoding (TFDS: after the shuffle buffer of
    encoded records; the other sources shuffle file indices).

    Resuming: `skip_examples` = the examples this pipeline's earlier steps consumed (steps x its replicas
    x per-replica batch). They are dropped at the record level, before decoding, so the cost does not
    grow with the step (sources.py): the stream then equals the uninterrupted one from that point,
    including the per-example seeds, as long as no record was dropped (unreadable file, colorness
    filter) among the skipped ones; each such record shifts the resumed stream by one example.
    (Iterator checkpointing was the alternative: it would store TFDS's shuffle buffer of images in
    every checkpoint, and a non-chief worker's checkpoint is not kept.)
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    num_shards, shard_index = shard_info(input_context)
    if skip_examples < 0:
        raise ValueError(f"skip_examples must be >= 0, got {skip_examples}")
    ds = make_source(
        data_cfg,
        split,
        shuffle_files=training,
        seed=seed,
        num_shards=num_shards,
        shard_index=shard_index,
        repeat=training,  # endless, reshuffled per epoch, before decoding (sources.py)
        skip=skip_examples,
    )

    threshold = float(data_cfg.colorness_threshold)
    if threshold >= 0:

        def colorful(ex: dict[str, tf.Tensor]) -> tf.Tensor:
            return is_colorful(ex["image"], threshold)

        ds = ds.filter(colorful)

    base_seed = tf.constant([seed, shard_index], tf.int64)

    def add_seed(index: tf.Tensor, ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {**ex, "seed": tf.random.experimental.stateless_fold_in(base_seed, index)}

    def preprocess(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return preprocess_fn(ex, training)

    ds = ds.enumerate(start=skip_examples)
    ds = ds.map(add_seed, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    crop_min_scale = float(data_cfg.get("crop_min_scale", 1.0))
    flip = bool(data_cfg.get("random_flip", False))
    if training and (crop_min_scale < 1.0 or flip):

        def augment(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            return {**ex, "image": augment_image(ex["image"], ex["seed"], crop_min_scale, flip)}

        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(
        batch_size, drop_remainder=training, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )

    options = tf.data.Options()
    options.deterministic = True
    if input_context is not None:
        # Sharded here already; tf.distribute must not shard again.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
