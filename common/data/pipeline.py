"""`build_dataset`: source -> shard -> colorness filter -> shuffle/repeat -> preprocess -> batch -> prefetch.

The trainer calls it once per input pipeline (inside `strategy.distribute_datasets_from_function`,
passing the `tf.distribute.InputContext` and the per-replica batch from
`input_context.get_per_replica_batch_size(global_batch)`); evaluation calls it without a context.
"""

from __future__ import annotations

from collections.abc import Callable

import ml_collections
import tensorflow as tf

from common.data import sources
from common.data.preprocess import is_colorful

SOURCES = ("tfds", "folder", "bundled")
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
) -> tf.data.Dataset:
    """The unbatched examples {"image": uint8 [H, W, 3], "name": string} chosen by `data_cfg.source`."""
    kwargs = dict(shuffle_files=shuffle_files, seed=seed, num_shards=num_shards, shard_index=shard_index)
    if data_cfg.source == "tfds":
        return sources.tfds_source(data_cfg.tfds_name, split, data_dir=data_cfg.data_dir, **kwargs)
    if data_cfg.source == "folder":
        if not data_cfg.folder:
            raise ValueError(
                "data.source is 'folder' but data.folder is empty; set it to a directory of images"
            )
        return sources.folder_source(data_cfg.folder, split, **kwargs)
    if data_cfg.source == "bundled":
        return sources.bundled_source(split, **kwargs)
    raise ValueError(f"data.source {data_cfg.source!r} is not one of {SOURCES}")


def build_dataset(
    data_cfg: ml_collections.ConfigDict,
    *,
    split: str,
    preprocess_fn: PreprocessFn,
    batch_size: int,
    training: bool,
    seed: int = 0,
    input_context: tf.distribute.InputContext | None = None,
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

    Examples with colorness(image) < data_cfg.colorness_threshold are dropped when the threshold is >= 0
    (PixColor: 0.05), in training and evaluation alike, before shuffling.

    Resuming: either save the iterator with `tf.train.Checkpoint(iterator=it)` (exact; for TFDS that
    stores the shuffle buffer of decoded images, for folder/bundled only file indices), or rebuild with
    the same seed and `.skip(batches_done)` (the same continuation, at the cost of re-reading).
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    num_shards, shard_index = shard_info(input_context)
    ds = make_source(
        data_cfg, split, shuffle_files=training, seed=seed, num_shards=num_shards, shard_index=shard_index
    )

    threshold = float(data_cfg.colorness_threshold)
    if threshold >= 0:

        def colorful(ex: dict[str, tf.Tensor]) -> tf.Tensor:
            return is_colorful(ex["image"], threshold)

        ds = ds.filter(colorful)

    if training:
        # Folder and bundled sources already shuffle their whole file list before decoding.
        if data_cfg.source == "tfds" and data_cfg.shuffle_buffer > 1:
            ds = ds.shuffle(data_cfg.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat()

    base_seed = tf.constant([seed, shard_index], tf.int64)

    def add_seed(index: tf.Tensor, ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {**ex, "seed": tf.random.experimental.stateless_fold_in(base_seed, index)}

    def preprocess(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return preprocess_fn(ex, training)

    ds = ds.enumerate().map(add_seed, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
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
