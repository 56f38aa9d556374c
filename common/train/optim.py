"""Optimisers and learning-rate schedules from the `train` section of a config (configs/base.py).

  optimizer "adam"     keras Adam(beta1, beta2, epsilon)     PIC: beta1 0.95, beta2 0.9995, eps 1e-6
  optimizer "rmsprop"  keras RMSprop(rho 0.9, epsilon)       ColTran: RMSprop, lr 3e-4, no schedule
  lr_schedule "constant"     lr
  lr_schedule "exponential"  lr * lr_decay**step             PIC: per-step decay 0.99999 (ImageNet)
  warmup_steps > 0           times min(1, (step + 1) / warmup_steps)

Gradient clipping by global norm (`grad_clip_norm` > 0) is done by the training loop, after gradients
are summed over replicas (Keras' own `global_clipnorm` would clip each replica's part separately).
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


def make_optimizer(train_cfg: Any) -> keras.optimizers.Optimizer:
    """A fresh Keras optimiser for `train_cfg` (create it inside `strategy.scope()`)."""
    lr = learning_rate_schedule(train_cfg)
    if train_cfg.optimizer == "adam":
        return keras.optimizers.Adam(
            lr, beta_1=train_cfg.beta1, beta_2=train_cfg.beta2, epsilon=train_cfg.epsilon
        )
    if train_cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, rho=0.9, epsilon=train_cfg.epsilon)
    raise ValueError(f"config train.optimizer={train_cfg.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")


def global_norm_clip_factor(global_norm: tf.Tensor, clip_norm: float) -> tf.Tensor:
    """min(1, clip_norm / global_norm): multiplying every gradient by it clips their global norm."""
    return tf.minimum(1.0, clip_norm / tf.maximum(global_norm, 1e-12))
