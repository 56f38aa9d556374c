"""The custom training loop: any registered model, any strategy, several steps per `tf.function` call.

Per replica: loss = sum of the model's per-example losses / global batch size (TF Model Garden's
convention), over `train.grad_accum_steps` micro-batches whose gradients are summed locally; then ONE
all-reduce (SUM) over replicas gives the gradient of the mean over the global batch. Clipping (if
configured) uses the global norm of that summed gradient; the optimiser applies it without aggregating
again (common/train/optim.py), and the EMA of the weights moves once per optimiser step.

Resume: a run restarted in the same workdir restores its latest checkpoint (model, optimiser, EMA; the
step is the optimiser's iteration count) and continues the data where it stopped: a dataset function of
ours (common/train/inputs.py) starts its stream at that step without decoding what was consumed (file
indices are skipped arithmetically; see common/data/pipeline.py), a plain `fn(input_context)` is skipped
with `ds.skip` (which re-reads and re-preprocesses the consumed input). With a deterministic pipeline the
losses from there on equal an uninterrupted run's.

Stops: after `num_steps`, or on SIGTERM / SIGINT to any worker (every worker saves at the same step,
then `train` returns; common/train/preemption.py), or when the loss is NaN / Inf (`DivergedError`,
nothing saved: the last periodic checkpoint stays the newest).

The workdir is read and written only through `tf.io.gfile` (local, gs://, ram://, ...).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from common.train import checkpoint as ckpt_lib
from common.train import preemption, summaries
from common.train.config_io import check_workdir_config, write_config
from common.train.ema import maybe_averaged
from common.train.errors import ConfigError, DivergedError
from common.train.optim import (
    aggregates_gradients,
    global_norm_clip_factor,
    grad_accum_steps,
    learning_rate_schedule,
)
from common.train.state import DatasetFn, TrainState, build_state, element_spec
from common.train.strategy import is_chief, task_info


@dataclasses.dataclass
class TrainResult:
    step: int  # the step training stopped at
    checkpoint: str | None  # the newest checkpoint of the run
    state: TrainState  # model, optimiser, EMA (the model holds the training weights, not the EMA)


def _skipping(dataset_fn: DatasetFn, start_step: int) -> DatasetFn:
    """`dataset_fn` positioned after the data of the first `start_step` optimiser steps.

    A dataset function of ours (anything with `starting_at(step)`, e.g. common.train.inputs
    .make_dataset_fn) starts there itself, dropping records before they are decoded, so resuming costs
    the same at any step (common/data/sources.py says why and when it is exact). A plain user
    `fn(input_context)` gets `ds.skip` of the consumed batches (one per local replica and step): its
    whole pipeline runs again over everything consumed, O(start_step).
    """
    if not start_step:
        return dataset_fn
    starting_at = getattr(dataset_fn, "starting_at", None)
    if callable(starting_at):
        return starting_at(start_step)

    def fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_step = context.num_replicas_in_sync // context.num_input_pipelines
        return dataset_fn(context).skip(start_step * per_step)

    return fn


def _steps_function(state: TrainState, strategy: tf.distribute.Strategy, config: Any):
    """A tf.function (iterator, n) -> float32 [n, 1 + M]: per optimiser step the loss and the M metrics.

    One optimiser step takes one element of the iterator: per replica, batch_size / replicas examples,
    split into `train.grad_accum_steps` micro-batches run one after another (a while loop with one
    iteration in flight, so only one micro-batch's activations live at a time). Their gradients of
    sum(per-example loss) / batch_size are summed locally, then summed over replicas by the step's only
    all-reduce: the gradient of the mean loss over the global batch, exactly as one batch k times as
    large. That sum is clipped by its global norm and applied by an optimiser that does not all-reduce
    again (optim.make_optimizer); the EMA moves once per optimiser step. mixed_float16: the loss is
    scaled before differentiation, the clipping threshold is compared with the unscaled norm and the
    LossScaleOptimizer unscales (and skips overflowed steps). Losses and metrics are reported in float32.
    """
    model, optimizer, ema = state.model, state.optimizer, state.ema
    tc = config.train
    global_batch = tc.batch_size
    num_replicas = strategy.num_replicas_in_sync
    accum = grad_accum_steps(tc)
    if global_batch % (num_replicas * accum):
        raise ConfigError(
            f"config train.batch_size={global_batch} is not divisible by {num_replicas} replicas x "
            f"train.grad_accum_steps={accum}"
        )
    if aggregates_gradients(optimizer):
        raise ConfigError("the optimiser must come from common.train.optim.make_optimizer (one all-reduce)")
    clip_norm = float(tc.grad_clip_norm)
    loss_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    names = state.metric_names
    variables = model.trainable_variables

    def micro_step(batch):
        """Dense gradients (None: no path to the loss) and the [1 + M] share of loss and metrics."""
        with tf.GradientTape() as tape:
            loss, metrics = model.compute_loss(batch, training=True)
            if loss.dtype != tf.float32:  # seen while tracing; the model should cast its logits
                logging.log_first_n(
                    logging.WARNING,
                    "%s computes its per-example loss in %s: cast the logits to float32 before the softmax.",
                    1,
                    type(model).__name__,
                    loss.dtype.name,
                )
            scaled = tf.reduce_sum(tf.cast(loss, tf.float32)) / global_batch
            if model.losses:  # weight regularisers and add_loss terms, once over all replicas
                scaled += tf.cast(tf.add_n(model.losses), tf.float32) / (num_replicas * accum)
            target = optimizer.scale_loss(scaled) if loss_scaled else scaled
        grads = tape.gradient(target, variables)
        row = [scaled] + [tf.reduce_sum(tf.cast(metrics[k], tf.float32)) / global_batch for k in names]
        return [None if g is None else tf.convert_to_tensor(g) for g in grads], tf.stack(row)

    def accumulated(batch):
        if accum == 1:
            return micro_step(batch)
        size = tf.shape(tf.nest.flatten(batch)[0])[0] // accum
        missing = set()  # filled while the body is traced

        def body(i, sums, rows):
            grads, row = micro_step(tf.nest.map_structure(lambda x: x[i * size : (i + 1) * size], batch))
            missing.update(j for j, g in enumerate(grads) if g is None)
            return i + 1, [s if g is None else s + g for s, g in zip(sums, grads, strict=True)], rows + row

        init = (tf.constant(0), [tf.zeros(v.shape, v.dtype) for v in variables], tf.zeros([1 + len(names)]))
        _, sums, rows = tf.while_loop(lambda i, *_: i < accum, body, init, parallel_iterations=1)
        return [None if j in missing else s for j, s in enumerate(sums)], rows

    def replica_step(batch):
        grads, row = accumulated(batch)
        present = [j for j, g in enumerate(grads) if g is not None]
        summed = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, [grads[j] for j in present]
        )
        if clip_norm > 0:
            norm = tf.linalg.global_norm(summed)
            if loss_scaled:
                norm = norm / tf.cast(optimizer.dynamic_scale, tf.float32)
            factor = global_norm_clip_factor(norm, clip_norm)
            summed = [g * factor for g in summed]
        optimizer.apply_gradients(list(zip(summed, [variables[j] for j in present], strict=True)))
        if ema is not None:
            ema.update()
        return row

    @tf.function
    def train_steps(iterator, num_steps):
        rows = tf.TensorArray(tf.float32, size=num_steps)
        for i in tf.range(num_steps):
            per_replica = strategy.run(replica_step, args=(next(iterator),))
            rows = rows.write(i, strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))
        return rows.stack()

    return train_steps


def _next_boundary(step: int, every: int) -> int:
    """The next multiple of `every` after `step` (never, for every <= 0)."""
    return (step // every + 1) * every if every > 0 else 1 << 62


def _at(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def train(
    config: Any,
    workdir: str,
    *,
    dataset_fn: DatasetFn,
    strategy: tf.distribute.Strategy | None = None,
    init_checkpoint: str = "",
    preview_batch: dict[str, tf.Tensor] | None = None,
) -> TrainResult:
    """Trains `config.model` for `config.train.num_steps` steps in `workdir` (resuming if it holds a run).

    Args:
      config: a resolved config (configs/base.py schema).
      workdir: the run's folder: config.json, metrics.jsonl, checkpoints/, train/ (TensorBoard).
      dataset_fn: input_context -> tf.data.Dataset of per-replica batches (dicts from the model's
        `preprocess`), batch size `input_context.get_per_replica_batch_size(config.train.batch_size)`,
        repeated, deterministic for resume.
      strategy: a `tf.distribute.Strategy` (default: the current one, normally one device).
      init_checkpoint: fine-tune: load the model weights (not the optimiser) from this checkpoint, run
        or checkpoints folder when `workdir` has no checkpoint yet. Missing / unmatched -> CheckpointError.
      preview_batch: a small batch with "gray" (and "rgb") for sample images in TensorBoard.
    Raises:
      CheckpointError, ConfigError, DivergedError (all `TrainError`).
    """
    strategy = strategy or tf.distribute.get_strategy()
    tc = config.train
    if tc.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(
            f"config train.batch_size={tc.batch_size} is not divisible by the "
            f"{strategy.num_replicas_in_sync} replicas"
        )
    chief = is_chief(strategy)
    tf.io.gfile.makedirs(workdir)
    check_workdir_config(workdir, config)
    if chief:
        write_config(workdir, config)

    state = build_state(config, strategy, element_spec(dataset_fn, strategy))
    latest = ckpt_lib.latest_checkpoint(workdir)
    if latest:
        ckpt_lib.restore(latest, state.sections, optimizer=state.optimizer)
        logging.info("Resumed from checkpoint %s at step %d.", latest, state.step)
    elif init_checkpoint:
        source = ckpt_lib.load_model_weights(state.model, init_checkpoint)
        if state.ema is not None:
            state.ema.reset()
        logging.info("Fine-tuning from the model weights of %s (optimiser and step reset).", source)
    elif callable(getattr(state.model, "initialize", None)):
        _data_dependent_init(state, dataset_fn, strategy)
    start = state.step
    if start >= tc.num_steps:
        logging.info("Step %d already reached num_steps=%d: nothing to train.", start, tc.num_steps)
        return TrainResult(start, latest, state)

    manager = tf.train.CheckpointManager(
        state.checkpoint, ckpt_lib.checkpoint_dir(workdir), tc.keep_checkpoints
    )
    # Every worker must take part in a save (variables may be reduced across workers); only the chief's
    # copy is kept.
    scratch = os.path.join(workdir, "tmp_{}_{}".format(*task_info(strategy)))

    last_save = [start, latest]  # a step is saved once, though a stop may come right at a checkpoint

    def save(step: int) -> str | None:
        if step == last_save[0]:
            return last_save[1]
        if log is not None:
            log.flush()
        if chief:
            path = manager.save(checkpoint_number=step)
        else:
            state.checkpoint.write(os.path.join(scratch, "ckpt"))
            if tf.io.gfile.exists(scratch):
                tf.io.gfile.rmtree(scratch)
            path = None
        last_save[:] = [step, path]
        return path

    iterator = iter(strategy.distribute_datasets_from_function(_skipping(dataset_fn, start)))
    train_steps = _steps_function(state, strategy, config)
    schedule = learning_rate_schedule(tc)  # the optimiser's schedule, evaluated here for the log
    names = ["loss"] + state.metric_names
    log = summaries.MetricsLog(os.path.join(workdir, summaries.METRICS_FILE), start) if chief else None
    writer = tf.summary.create_file_writer(os.path.join(workdir, "train")) if chief else None
    progress = summaries.Progress(start, tc.num_steps)
    step, saved_at, window = start, latest, []
    try:
        with preemption.watch(strategy, manager, save) as guard:
            while step < tc.num_steps:
                end = min(
                    tc.num_steps,
                    step + max(1, tc.steps_per_call),
                    _next_boundary(step, tc.checkpoint_every),
                    _next_boundary(step, tc.log_every),
                    _next_boundary(step, tc.image_summary_every),
                )
                values = guard.run(step, train_steps, iterator, tf.constant(end - step))
                if values is None:  # a signal: every worker saved at `step`
                    break
                values = values.numpy()
                lrs = np.broadcast_to(np.asarray(schedule(np.arange(step, end)), np.float64), (end - step,))
                bad = np.flatnonzero(~np.isfinite(values[:, 0]))
                rows = [
                    dict(zip(names, v.tolist(), strict=True), learning_rate=lr)
                    for v, lr in zip(values, lrs, strict=True)
                ]
                if bad.size:
                    rows = rows[: bad[0]]
                if log is not None:
                    for i, row in enumerate(rows):
                        log.write(step + i + 1, row)
                if bad.size:
                    raise DivergedError(
                        f"loss is {values[bad[0], 0]} at step {step + bad[0] + 1}: training stopped without "
                        "saving; the last good checkpoint is "
                        f"{ckpt_lib.latest_checkpoint(workdir) or 'none'}. "
                        "Lower train.learning_rate or set train.grad_clip_norm, then resume."
                    )
                step, window = end, window + rows
                if _at(step, tc.log_every) or step == tc.num_steps:
                    mean = {k: float(np.mean([r[k] for r in window])) for k in window[0]}
                    line, rate = progress.line(step, mean)
                    logging.info("%s", line)
                    if writer is not None:
                        summaries.write_scalars(writer, step, {**mean, "steps_per_second": rate})
                    window = []
                if _at(step, tc.image_summary_every) and chief and preview_batch:
                    _write_samples(state, preview_batch, writer, step, seed=tc.seed)
                if _at(step, tc.checkpoint_every) or step == tc.num_steps:
                    saved_at = save(step) or saved_at
            if guard.stopped:
                saved_at = guard.saved or saved_at
                logging.info("Stopped at step %d; checkpoint %s saved.", step, saved_at)
    finally:
        if log is not None:
            log.close()
        if writer is not None:
            writer.close()
    return TrainResult(step, saved_at if chief else ckpt_lib.latest_checkpoint(workdir), state)


def _data_dependent_init(state: TrainState, dataset_fn: DatasetFn, strategy: tf.distribute.Strategy) -> None:
    """A fresh run's optional `model.initialize(batch)` (common/protocol.py), once, before the first step.

    The batch is the first one of the un-sharded pipeline (`InputContext(1, 0, replicas)`: what the
    first step's first replica reads), so every worker computes the same values without communicating;
    the call runs eagerly in the cross-replica context, where an assignment reaches every replica's copy.
    The EMA shadows then restart from the initialised weights.
    """
    context = tf.distribute.InputContext(1, 0, strategy.num_replicas_in_sync)
    batch = next(iter(dataset_fn(context)))
    with strategy.scope():
        state.model.initialize(batch)
    if state.ema is not None:
        state.ema.reset()
    logging.info("Data-dependent initialisation of %s on one batch.", type(state.model).__name__)


def _write_samples(state: TrainState, batch: dict, writer, step: int, *, seed: int) -> None:
    """TensorBoard image "samples": gray | 2 samples (EMA weights) | truth, one row per preview image."""
    conditioning = {k: batch[k] for k in state.model.sample_spec() if k != "gray"}  # e.g. an upsampler's
    with maybe_averaged(state.ema):
        out = state.model.sample(batch["gray"], num_samples=2, seed=seed, **conditioning)
    strip = summaries.sample_strip(batch["gray"], out["rgb"], batch.get("rgb"))
    summaries.write_images(writer, step, "samples", strip)
