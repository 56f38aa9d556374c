"""Optimisers and learning-rate schedules from the `train` section of a config (configs/base.py).

  optimizer "adam"     keras Adam(beta1, beta2, epsilon)     PIC: beta1 0.95, beta2 0.9995, eps 1e-6
  optimizer "rmsprop"  keras RMSprop(rho 0.9, epsilon)       ColTran: RMSprop, lr 3e-4, no schedule
  lr_schedule "constant"     lr
  lr_schedule "exponential"  lr * lr_decay**step             PIC: per-step decay 0.99999 (ImageNet)
  warmup_steps > 0           times min(1, (step + 1) / warmup_steps)

Gradient clipping by global norm (`grad_clip_norm` > 0) is done by the training loop, after gradients
are summed over replicas (Keras' own `global_clipnorm` would clip each replica's part separately).

One all-reduce per step: Keras 3.15's TensorFlow optimiser sums the gradients over replicas itself
inside `apply` (`TFOptimizer._all_reduce_sum_gradients`, called from `_backend_update_step` in a replica
context; Keras 3 has no `skip_gradients_aggregation` argument). The loop already sums them once (it
needs the sum for clipping), so the optimisers made here skip that second sum: they expect gradients
that are already the global ones (`aggregates_gradients(optimizer)` is False).

mixed_precision "mixed_float16" wraps the optimiser in a dynamic `keras.optimizers.LossScaleOptimizer`;
a step whose scaled gradients overflow is skipped (the scale halves) but still counts as a step, so the
optimiser's iteration count stays the loop's step count (resume and the schedule rely on it).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

OPTIMIZERS = ("adam", "rmsprop")
SCHEDULES = ("constant", "exponential")


@keras.saving.register_keras_serializable(package="colorize")
class StepDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = base * decay**step * min(1, (step + 1) / warmup_steps); step counts from 0.

    decay 1.0 and warmup_steps 0 give a constant rate. PIC decays multiplicatively every step.
    """

    def __init__(self, base: float, decay: float = 1.0, warmup_steps: int = 0) -> None:
        self.base = float(base)
        self.decay = float(decay)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.base, tf.float32)
        if self.decay != 1.0:
            # exp(step * log(decay)) with the log taken in float64: float32(0.99999) ** 1e6 would be off by
            # 1.4%. float32 only, so it also runs on TPUs.
            lr = lr * tf.exp(step * tf.constant(math.log(self.decay), tf.float32))
        if self.warmup_steps > 0:
            lr = lr * tf.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
        return lr

    def get_config(self) -> dict:
        return {"base": self.base, "decay": self.decay, "warmup_steps": self.warmup_steps}


def learning_rate_schedule(train_cfg: Any) -> StepDecaySchedule:
    """The schedule named by `train_cfg.lr_schedule` (see the module docstring)."""
    if train_cfg.lr_schedule not in SCHEDULES:
        raise ValueError(
            f"config train.lr_schedule={train_cfg.lr_schedule!r} is not one of {', '.join(SCHEDULES)}"
        )
    if train_cfg.learning_rate <= 0:
        raise ValueError(f"config train.learning_rate must be > 0, got {train_cfg.learning_rate}")
    decay = train_cfg.lr_decay if train_cfg.lr_schedule == "exponential" else 1.0
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"config train.lr_decay must be in (0, 1], got {decay}")
    return StepDecaySchedule(train_cfg.learning_rate, decay, train_cfg.warmup_steps)


class _PreAggregated:
    """Mixin: `apply` takes gradients already summed over replicas (no second all-reduce)."""

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


class PreAggregatedAdam(_PreAggregated, keras.optimizers.Adam):
    """keras Adam whose gradients the caller has already summed over replicas."""


class PreAggregatedRMSprop(_PreAggregated, keras.optimizers.RMSprop):
    """keras RMSprop whose gradients the caller has already summed over replicas."""


class StepCountingLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """Dynamic loss scaling in which a skipped (overflowed) step still advances `iterations`."""

    def _stateful_handle_non_finite_grads(self):
        super()._stateful_handle_non_finite_grads()
        self.inner_optimizer.iterations.assign_add(1)


def aggregates_gradients(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether `optimizer.apply` sums gradients over replicas itself (Keras' default) or not (ours)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return not isinstance(inner, _PreAggregated)


def make_optimizer(train_cfg: Any) -> keras.optimizers.Optimizer:
    """A fresh Keras optimiser for `train_cfg` (create it inside `strategy.scope()`).

    It expects gradients already summed over replicas (see the module docstring); under
    `mixed_precision="mixed_float16"` it is wrapped in a `StepCountingLossScaleOptimizer`.
    """
    lr = learning_rate_schedule(train_cfg)
    if train_cfg.optimizer == "adam":
        opt = PreAggregatedAdam(lr, beta_1=train_cfg.beta1, beta_2=train_cfg.beta2, epsilon=train_cfg.epsilon)
    elif train_cfg.optimizer == "rmsprop":
        opt = PreAggregatedRMSprop(lr, rho=0.9, epsilon=train_cfg.epsilon)
    else:
        raise ValueError(
            f"config train.optimizer={train_cfg.optimizer!r} is not one of {', '.join(OPTIMIZERS)}"
        )
    if mixed_precision_policy(train_cfg) == "mixed_float16":
        return StepCountingLossScaleOptimizer(opt)
    return opt


MIXED_PRECISION = ("", "mixed_bfloat16", "mixed_float16")


def mixed_precision_policy(train_cfg: Any) -> str:
    """`train_cfg.mixed_precision` checked: "" (float32), "mixed_bfloat16" or "mixed_float16"."""
    policy = train_cfg.get("mixed_precision", "")
    if policy not in MIXED_PRECISION:
        raise ValueError(
            f"config train.mixed_precision={policy!r} is not one of "
            f"{', '.join(repr(p) for p in MIXED_PRECISION)}"
        )
    return policy


def grad_accum_steps(train_cfg: Any) -> int:
    """`train_cfg.grad_accum_steps` checked (an int >= 1; 1 when the config predates it)."""
    k = train_cfg.get("grad_accum_steps", 1)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"config train.grad_accum_steps must be an int >= 1, got {k!r}")
    return k


def global_norm_clip_factor(global_norm: tf.Tensor, clip_norm: float) -> tf.Tensor:
    """min(1, clip_norm / global_norm): multiplying every gradient by it clips their global norm."""
    return tf.minimum(1.0, clip_norm / tf.maximum(global_norm, 1e-12))
