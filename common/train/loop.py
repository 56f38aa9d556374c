"""The custom training loop: any registered model, any strategy, several steps per `tf.function` call.

Per replica: loss = sum of the model's per-example losses / global batch size, so the gradients that
Keras sums over replicas are those of the mean over the global batch (TF Model Garden's convention).
Gradient clipping (if configured) uses the global norm of the summed gradient, then each replica's part
is scaled by the same factor. The EMA of the weights is updated after every step.

Resume: a run restarted in the same workdir restores its latest checkpoint (model, optimiser, EMA; the
step is the optimiser's iteration count) and skips the batches already consumed, so with a
deterministic `dataset_fn` the data order and the losses from there on equal an uninterrupted run's.
(The alternative, checkpointing the tf.data iterator, would store whole shuffle buffers and is not
supported by every strategy; skipping re-reads the consumed input once, which costs input time only.)

Stops: after `num_steps`, or on SIGTERM / SIGINT (saves first), or when the loss is NaN / Inf
(`DivergedError`, nothing saved: the last periodic checkpoint stays the newest).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging

from common.train import checkpoint as ckpt_lib
from common.train import summaries
from common.train.config_io import check_workdir_config, write_config
from common.train.ema import maybe_averaged
from common.train.errors import ConfigError, DivergedError
from common.train.optim import global_norm_clip_factor, learning_rate_schedule
from common.train.state import DatasetFn, TrainState, build_state, element_spec
from common.train.strategy import is_chief, task_info


@dataclasses.dataclass
class TrainResult:
    step: int  # the step training stopped at
    checkpoint: str | None  # the newest checkpoint of the run
    state: TrainState  # model, optimiser, EMA (the model holds the training weights, not the EMA)


def _skipping(dataset_fn: DatasetFn, start_step: int) -> DatasetFn:
    """`dataset_fn` with the batches of the first `start_step` steps skipped (one per local replica)."""

    def fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        ds = dataset_fn(context)
        per_step = context.num_replicas_in_sync // context.num_input_pipelines
        return ds.skip(start_step * per_step) if start_step else ds

    return fn


def _steps_function(state: TrainState, strategy: tf.distribute.Strategy, config: Any):
    """A tf.function (iterator, n) -> float32 [n, 1 + M]: per step the loss and the M metrics."""
    model, optimizer, ema = state.model, state.optimizer, state.ema
    global_batch = config.train.batch_size
    num_replicas = strategy.num_replicas_in_sync
    clip_norm = float(config.train.grad_clip_norm)
    names = state.metric_names

    def replica_step(batch):
        with tf.GradientTape() as tape:
            loss, metrics = model.compute_loss(batch, training=True)
            scaled = tf.reduce_sum(loss) / global_batch
            if model.losses:  # weight regularisers and add_loss terms, once over all replicas
                scaled += tf.add_n(model.losses) / num_replicas
        variables = model.trainable_variables
        grads = tape.gradient(scaled, variables)
        if clip_norm > 0:
            present = [g for g in grads if g is not None]
            summed = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, present)
            factor = global_norm_clip_factor(tf.linalg.global_norm(summed), clip_norm)
            grads = [None if g is None else g * factor for g in grads]
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables, strict=True) if g is not None])
        if ema is not None:
            ema.update()
        return tf.stack([scaled] + [tf.reduce_sum(metrics[k]) / global_batch for k in names])

    @tf.function
    def train_steps(iterator, num_steps):
        rows = tf.TensorArray(tf.float32, size=num_steps)
        for i in tf.range(num_steps):
            per_replica = strategy.run(replica_step, args=(next(iterator),))
            rows = rows.write(i, strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))
        return rows.stack()

    return train_steps


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM / SIGINT (first one only) while training, so the loop can save and stop."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        logging.warning("Received signal %d: saving a checkpoint and stopping after this call.", signum)
        stop.set()
        signal.signal(signum, previous[signum])  # a second signal acts as usual

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


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
    os.makedirs(workdir, exist_ok=True)
    check_workdir_config(workdir, config)
    if chief:
        write_config(workdir, config)

    state = build_state(config, strategy, element_spec(dataset_fn, strategy))
    latest = ckpt_lib.latest_checkpoint(workdir)
    if latest:
        ckpt_lib.restore(state.checkpoint, latest, num_model_variables=len(state.model.variables))
        logging.info("Resumed from checkpoint %s at step %d.", latest, state.step)
    elif init_checkpoint:
        source = ckpt_lib.load_model_weights(state.model, init_checkpoint)
        if state.ema is not None:
            state.ema.reset()
        logging.info("Fine-tuning from the model weights of %s (optimiser and step reset).", source)
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

    def save(step: int) -> str | None:
        if chief:
            return manager.save(checkpoint_number=step)
        state.checkpoint.write(os.path.join(scratch, "ckpt"))
        shutil.rmtree(scratch, ignore_errors=True)
        return None

    iterator = iter(strategy.distribute_datasets_from_function(_skipping(dataset_fn, start)))
    train_steps = _steps_function(state, strategy, config)
    schedule = learning_rate_schedule(tc)  # the optimiser's schedule, evaluated here for the log
    names = ["loss"] + state.metric_names
    log = summaries.MetricsLog(os.path.join(workdir, summaries.METRICS_FILE), start) if chief else None
    writer = tf.summary.create_file_writer(os.path.join(workdir, "train")) if chief else None
    progress = summaries.Progress(start, tc.num_steps)
    step, saved_at, window = start, latest, []
    try:
        with _stop_on_signals() as stop:
            while step < tc.num_steps and not stop.is_set():
                end = min(
                    tc.num_steps,
                    step + max(1, tc.steps_per_call),
                    _next_boundary(step, tc.checkpoint_every),
                    _next_boundary(step, tc.log_every),
                    _next_boundary(step, tc.image_summary_every),
                )
                values = train_steps(iterator, tf.constant(end - step)).numpy()
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
            if stop.is_set() and step < tc.num_steps:
                saved_at = save(step) or saved_at
                logging.info("Stopped at step %d; checkpoint %s saved.", step, saved_at)
    finally:
        if log is not None:
            log.close()
        if writer is not None:
            writer.close()
    return TrainResult(step, saved_at if chief else ckpt_lib.latest_checkpoint(workdir), state)


def _write_samples(state: TrainState, batch: dict, writer, step: int, *, seed: int) -> None:
    """TensorBoard image "samples": gray | 2 samples (EMA weights) | truth, one row per preview image."""
    with maybe_averaged(state.ema):
        out = state.model.sample(batch["gray"], num_samples=2, seed=seed)
    strip = summaries.sample_strip(batch["gray"], out["rgb"], batch.get("rgb"))
    summaries.write_images(writer, step, "samples", strip)
