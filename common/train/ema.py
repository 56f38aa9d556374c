"""Exponential moving average (Polyak averaging) of a model's trainable weights.

ColTran keeps an EMA with decay 0.999 and evaluates / samples with it; PIC uses Polyak averaging 0.999.
shadow <- decay * shadow + (1 - decay) * weight after every optimiser step; the shadows start equal to
the weights. `averaged()` swaps the shadows into the model for evaluation, sampling and export.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import tensorflow as tf


def _tf_variable(v):
    """The tf.Variable behind a Keras 3 variable (or `v` itself)."""
    return v if isinstance(v, tf.Variable) else v.value


class ExponentialMovingAverage:
    """Shadow copies of `variables`, created under the current strategy's scope. Checkpoints store each
    shadow under its variable's name (`ema/<path>`, common/train/checkpoint.py).

    Args:
      variables: the model's trainable variables (Keras 3 or tf.Variables), already built.
      decay: in (0, 1); 0.999 for ColTran and PIC.
    """

    def __init__(self, variables: Sequence, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"config train.ema_decay must be in (0, 1) (0 disables EMA), got {decay}")
        self.decay = float(decay)
        self._targets = [_tf_variable(v) for v in variables]
        self.shadows = [
            tf.Variable(
                tf.zeros(t.shape, t.dtype),
                trainable=False,
                name=f"ema_{i}",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for i, t in enumerate(self._targets)
        ]
        self.reset()

    def reset(self) -> None:
        """Sets every shadow to its variable's current value (call after loading fine-tuning weights)."""
        for shadow, target in zip(self.shadows, self._targets, strict=True):
            shadow.assign(target.read_value())

    def update(self) -> None:
        """One EMA step. Works in a replica context (inside `strategy.run`) and in a cross-replica one."""
        ctx = tf.distribute.get_replica_context()
        if ctx is None:
            self._update(tf.distribute.get_strategy())
        else:
            # Mirrored weights are identical on every replica: update each device's copy locally,
            # no communication (the way optimisers update slot variables).
            ctx.merge_call(self._update)

    def _update(self, strategy: tf.distribute.Strategy) -> None:
        decay = self.decay

        def step(shadow, value):
            return shadow.assign(decay * shadow + (1.0 - decay) * value)

        for shadow, target in zip(self.shadows, self._targets, strict=True):
            strategy.extended.update(shadow, step, args=(target,), group=False)

    def swap(self) -> None:
        """Exchanges the model's weights with the shadows (twice = no change). Cross-replica context."""
        for shadow, target in zip(self.shadows, self._targets, strict=True):
            weights = tf.identity(target.read_value())
            target.assign(shadow.read_value())
            shadow.assign(weights)

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Within the block the model holds the averaged weights; the training weights come back after."""
        self.swap()
        try:
            yield
        finally:
            self.swap()


@contextlib.contextmanager
def maybe_averaged(ema: ExponentialMovingAverage | None) -> Iterator[None]:
    """`ema.averaged()`, or nothing when the config has no EMA."""
    if ema is None:
        yield
    else:
        with ema.averaged():
            yield
