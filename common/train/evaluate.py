"""Evaluation: the model's loss and metrics (bits/dim, ...) over a split, with the EMA weights.

Sums of per-example values and the number of examples are reduced over replicas, so the result is the
exact mean over the examples seen, whatever the batch split (a last, smaller batch included).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging

from common.train import checkpoint as ckpt_lib
from common.train import summaries
from common.train.ema import maybe_averaged
from common.train.state import DatasetFn, build_state, element_spec
from common.train.strategy import is_chief


def evaluate(
    config: Any,
    workdir: str,
    *,
    dataset_fn: DatasetFn,
    strategy: tf.distribute.Strategy | None = None,
    checkpoint: str = "",
    split_name: str = "eval",
    use_ema: bool = True,
) -> dict[str, float]:
    """Mean loss and metrics of the checkpoint over `dataset_fn`'s batches (at most config.eval.num_batches).

    Args:
      checkpoint: a prefix, run or checkpoints folder; "" = the latest checkpoint in `workdir`. A missing
        or unmatched checkpoint raises CheckpointError.
      split_name: names the result file <workdir>/eval/<split_name>_step<N>.json and the TensorBoard tag.
      use_ema: evaluate the EMA weights when the config keeps an EMA (the paper numbers use them) and
        the checkpoint has them (a weights-only one from `save_model_checkpoint` has not).
    Returns:
      {"loss": ..., <metric>: ..., "num_examples": n, "step": checkpoint step}.
    """
    strategy = strategy or tf.distribute.get_strategy()
    state = build_state(config, strategy, element_spec(dataset_fn, strategy), with_optimizer=False)
    path = ckpt_lib.resolve_checkpoint(checkpoint or workdir)
    restored = ckpt_lib.restore(path, state.sections, optional=(ckpt_lib.EMA_KEY,))
    ema = state.ema if use_ema and ckpt_lib.EMA_KEY in restored else None
    step = ckpt_lib.checkpoint_step(path)
    names = ["loss"] + state.metric_names
    model = state.model

    def replica_step(batch):
        def sums():
            loss, metrics = model.compute_loss(batch, training=False)
            totals = [tf.reduce_sum(loss)] + [tf.reduce_sum(metrics[k]) for k in state.metric_names]
            return tf.stack(totals + [tf.cast(tf.shape(loss)[0], tf.float32)])

        # At the end of a split some replicas get empty batches; keep them away from the model (an
        # empty batch trips fused oneDNN convolutions on CPU).
        size = tf.shape(tf.nest.flatten(batch)[0])[0]
        return tf.cond(size > 0, sums, lambda: tf.zeros([len(names) + 1]))

    @tf.function
    def eval_step(batch):
        return strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(batch,)), axis=None
        )

    totals = np.zeros(len(names) + 1, np.float64)
    limit = config.eval.num_batches or None
    with maybe_averaged(ema):
        for i, batch in enumerate(strategy.distribute_datasets_from_function(dataset_fn)):
            if limit is not None and i >= limit:
                break
            totals += eval_step(batch).numpy()
    count = totals[-1]
    if count == 0:
        raise ValueError(f"evaluation of {path!r} saw no examples (empty split {split_name!r}?)")
    result = {k: float(v / count) for k, v in zip(names, totals[:-1], strict=True)}
    result.update(num_examples=int(count), step=step)
    logging.info(
        "Evaluated %s on %s (%d examples): %s",
        path,
        split_name,
        int(count),
        ", ".join(f"{k} {result[k]:.4f}" for k in names),
    )
    if is_chief(strategy):
        out_dir = os.path.join(workdir, "eval")
        tf.io.gfile.makedirs(out_dir)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", split_name)
        with tf.io.gfile.GFile(os.path.join(out_dir, f"{safe}_step{step}.json"), "w") as f:
            json.dump({**result, "checkpoint": path, "ema": ema is not None}, f, indent=2)
        writer = tf.summary.create_file_writer(out_dir)
        summaries.write_scalars(writer, step, {f"{safe}/{k}": result[k] for k in names})
        writer.close()
    return result
