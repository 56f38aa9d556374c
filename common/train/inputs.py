"""Dataset functions for the trainer built from a config's `data` section (common.data.build_dataset)."""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf

from common import registry


@dataclasses.dataclass(frozen=True, eq=False)
class ConfigDatasetFn:
    """input_context -> per-replica batches of `split`, preprocessed for the config's model.

    `batch_size` is global (per optimiser step); each input pipeline reads its shard (`input_context`).
    `preprocess` comes from `registry.build_preprocess` (no model weights are created for it).
    `start_step`: the pipeline begins with the data of that optimiser step: the records of the earlier
    steps (steps x this pipeline's replicas x per-replica batch) are dropped before decoding, so the
    trainer resumes at any step for the same cost (`starting_at`, used by common.train.loop).
    """

    config: Any
    split: str
    training: bool
    batch_size: int
    preprocess: registry.Preprocess
    start_step: int = 0

    def __call__(self, context: tf.distribute.InputContext) -> tf.data.Dataset:
        from common.data import build_dataset  # imported here: the trainer's core does not need common.data

        per_replica = context.get_per_replica_batch_size(self.batch_size)
        replicas_here = context.num_replicas_in_sync // context.num_input_pipelines
        return build_dataset(
            self.config.data,
            split=self.split,
            preprocess_fn=self.preprocess,
            batch_size=per_replica,
            training=self.training,
            seed=self.config.train.seed,
            input_context=context,
            skip_examples=self.start_step * replicas_here * per_replica,
        )

    def starting_at(self, step: int) -> ConfigDatasetFn:
        """The same dataset function, beginning with the data of optimiser step `step` (0-based)."""
        if step < 0:
            raise ValueError(f"start step must be >= 0, got {step}")
        return dataclasses.replace(self, start_step=int(step))


def make_dataset_fn(config: Any, *, split: str, training: bool, batch_size: int) -> ConfigDatasetFn:
    """The trainer's / evaluator's dataset function for `config` (see ConfigDatasetFn)."""
    return ConfigDatasetFn(config, split, training, batch_size, registry.build_preprocess(config))


def preview_batch(config: Any, num_images: int = 4) -> dict[str, tf.Tensor]:
    """The first `num_images` of the eval split, preprocessed (for the sample images in TensorBoard)."""
    fn = make_dataset_fn(config, split=config.data.eval_split, training=False, batch_size=num_images)
    return next(iter(fn(tf.distribute.InputContext())))
