"""EMA / Polyak averaging (common/train/ema.py): the update rule and swapping weights in and out."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.train.ema import ExponentialMovingAverage, maybe_averaged


def _vars():
    return [tf.Variable([1.0, 2.0]), tf.Variable([[3.0]])]


def test_update_follows_the_polyak_rule():
    variables = _vars()
    ema = ExponentialMovingAverage(variables, decay=0.9)
    want = [v.numpy() for v in variables]  # shadows start at the weights
    for step in range(3):
        for v in variables:
            v.assign_add(tf.ones_like(v) * (step + 1))
        ema.update()
        want = [0.9 * w + 0.1 * v.numpy() for w, v in zip(want, variables, strict=True)]
    for shadow, w in zip(ema.shadows, want, strict=True):
        np.testing.assert_allclose(shadow.numpy(), w, rtol=1e-6)


def test_update_inside_tf_function_and_strategy_run():
    strategy = tf.distribute.get_strategy()
    variables = _vars()
    ema = ExponentialMovingAverage(variables, decay=0.5)
    variables[0].assign([3.0, 4.0])

    @tf.function
    def step():
        strategy.run(ema.update)

    step()
    np.testing.assert_allclose(ema.shadows[0].numpy(), [2.0, 3.0])


def test_averaged_swaps_in_and_restores_exactly():
    variables = _vars()
    ema = ExponentialMovingAverage(variables, decay=0.99)
    variables[0].assign([10.0, 20.0])
    ema.update()
    trained = [v.numpy() for v in variables]
    shadows = [s.numpy() for s in ema.shadows]
    with maybe_averaged(ema):
        np.testing.assert_array_equal(variables[0].numpy(), shadows[0])
    for v, t in zip(variables, trained, strict=True):
        np.testing.assert_array_equal(v.numpy(), t)
    with pytest.raises(RuntimeError), ema.averaged():
        raise RuntimeError("an error inside still restores the weights")
    np.testing.assert_array_equal(variables[0].numpy(), trained[0])
    with maybe_averaged(None):  # no EMA configured: nothing changes
        np.testing.assert_array_equal(variables[0].numpy(), trained[0])


def test_reset_and_bad_decay():
    variables = _vars()
    ema = ExponentialMovingAverage(variables, decay=0.9)
    variables[1].assign([[7.0]])
    ema.reset()
    np.testing.assert_array_equal(ema.shadows[1].numpy(), [[7.0]])
    with pytest.raises(ValueError, match="train.ema_decay must be in"):
        ExponentialMovingAverage(variables, decay=1.0)
