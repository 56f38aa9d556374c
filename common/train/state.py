"""Building a model (and its optimiser and EMA) under a strategy, from a config and the data's shapes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from common import registry
from common.train.checkpoint import EMA_KEY, MODEL_KEY, OPTIMIZER_KEY, ema_shadows_by_name, named_variables
from common.train.ema import ExponentialMovingAverage
from common.train.optim import make_optimizer

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


@dataclasses.dataclass
class TrainState:
    """Everything a checkpoint holds. `sections` maps "model" (and "ema" when the config keeps one) to
    {variable path: variable}; `checkpoint` (for saving) tracks those and the optimizer (if any)."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer | None
    ema: ExponentialMovingAverage | None
    checkpoint: tf.train.Checkpoint
    metric_names: list[str]
    sections: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy()) if self.optimizer is not None else 0


def element_spec(dataset_fn: DatasetFn, strategy: tf.distribute.Strategy) -> Any:
    """The per-replica batch structure that `dataset_fn` produces (builds the pipeline, reads nothing)."""
    context = tf.distribute.InputContext(1, 0, strategy.num_replicas_in_sync)
    return dataset_fn(context).element_spec


def dummy_batch(spec: Any) -> Any:
    """Zeros (empty strings) shaped like one example of `spec` ([1, ...]; unknown sizes become 1)."""

    def zeros(s: tf.TensorSpec) -> tf.Tensor:
        shape = [1] + [1 if d is None else d for d in s.shape.as_list()[1:]]
        if s.dtype == tf.string:
            return tf.fill(shape, "")
        return tf.zeros(shape, s.dtype)

    return tf.nest.map_structure(zeros, spec)


def example_batch(model: Any, size: int = 256) -> dict[str, tf.Tensor]:
    """A batch of one black `size` x `size` photo through the model's own `preprocess` (no data needed)."""
    example = {
        "image": tf.zeros([size, size, 3], tf.uint8),
        "name": tf.constant(""),
        "seed": tf.zeros([2], tf.int64),
    }
    return {k: v[None] for k, v in model.preprocess(example, False).items()}


def build_state(
    config: Any, strategy: tf.distribute.Strategy, spec: Any = None, *, with_optimizer: bool = True
) -> TrainState:
    """Creates the registry's model for `config` under `strategy.scope()` and creates its variables.

    Variables come from one eager `compute_loss(training=False)` on a zero batch shaped like `spec` (or,
    without `spec`, on `example_batch`), so every weight exists (and is mirrored) before the first step
    and before any restore. Weights are initialised from `config.train.seed`, so two runs (or two
    strategies) start from the same weights.
    """
    keras.utils.set_random_seed(config.train.seed)
    with strategy.scope():
        model = registry.build_model(config)
        batch = dummy_batch(spec) if spec is not None else example_batch(model)
        _, metrics = model.compute_loss(batch, training=False)
        optimizer = None
        if with_optimizer:
            optimizer = make_optimizer(config.train)
            # Needed before the first step under MirroredStrategy (slots must exist outside tf.function).
            optimizer.build(model.trainable_variables)
            if callable(getattr(model, "bind_training_step", None)):  # optional: a model that reads the step
                model.bind_training_step(optimizer.iterations)  # (PixColor's gradient multiplier)
        ema = (
            ExponentialMovingAverage(model.trainable_variables, config.train.ema_decay)
            if config.train.ema_decay
            else None
        )
    sections = {MODEL_KEY: named_variables(model)}
    if ema is not None:
        sections[EMA_KEY] = ema_shadows_by_name(model, ema.shadows)
    tracked: dict[str, Any] = {k: dict(v) for k, v in sections.items()}
    if optimizer is not None:
        tracked[OPTIMIZER_KEY] = optimizer
    return TrainState(model, optimizer, ema, tf.train.Checkpoint(**tracked), sorted(metrics), sections)


def load_for_inference(config: Any, checkpoint: str, *, use_ema: bool = True) -> keras.Model:
    """The model of `config` with the weights of `checkpoint` (a ckpt-N prefix, a run's workdir or its
    checkpoints folder): the EMA weights when the config keeps an EMA and `use_ema`, else the raw ones.
    For sampling, export and demos. A checkpoint without EMA (one written by `save_model_checkpoint`
    without `ema_values`) gives the raw weights. Missing / unmatched checkpoint -> CheckpointError."""
    from common.train.checkpoint import resolve_checkpoint, restore

    state = build_state(config, tf.distribute.get_strategy(), with_optimizer=False)
    path = resolve_checkpoint(checkpoint)
    restored = restore(path, state.sections, optional=(EMA_KEY,))
    if use_ema and EMA_KEY in restored:
        state.ema.swap()  # the model now holds the averages (the shadows hold the raw weights)
    return state.model
