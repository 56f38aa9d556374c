"""Dataset functions for the trainer built from a config's `data` section (common.data.build_dataset)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from common import registry
from common.train.state import DatasetFn


def make_dataset_fn(config: Any, *, split: str, training: bool, batch_size: int) -> DatasetFn:
    """input_context -> per-replica batches of `split`, preprocessed by the config's model.

    `batch_size` is global; each input pipeline reads its shard (`input_context`). The model's
    `preprocess` depends only on its constructor arguments, so a separate, unbuilt instance serves it.
    """
    from common.data import build_dataset  # imported here: the trainer's core does not need common.data

    preprocess = registry.build_model(config).preprocess

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return build_dataset(
            config.data,
            split=split,
            preprocess_fn=preprocess,
            batch_size=context.get_per_replica_batch_size(batch_size),
            training=training,
            seed=config.train.seed,
            input_context=context,
        )

    return dataset_fn


def preview_batch(config: Any, num_images: int = 4) -> dict[str, tf.Tensor]:
    """The first `num_images` of the eval split, preprocessed (for the sample images in TensorBoard)."""
    fn = make_dataset_fn(config, split=config.data.eval_split, training=False, batch_size=num_images)
    return next(iter(fn(tf.distribute.InputContext())))
