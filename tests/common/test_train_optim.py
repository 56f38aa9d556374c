"""Optimisers and learning-rate schedules from the config's train section (common/train/optim.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from common.train.optim import (
    StepDecaySchedule,
    aggregates_gradients,
    global_norm_clip_factor,
    learning_rate_schedule,
    make_optimizer,
)
from configs.base import base_config


def _train(**overrides):
    t = base_config().train
    for k, v in overrides.items():
        t[k] = v
    return t


def test_exponential_schedule_decays_every_step():
    """PIC: lr * decay**step, step counted from 0 (the first update uses the base rate)."""
    schedule = learning_rate_schedule(
        _train(learning_rate=1.6e-4, lr_schedule="exponential", lr_decay=0.99999)
    )
    steps = np.array([0, 1, 10, 100_000, 3_000_000])
    np.testing.assert_allclose(schedule(steps), 1.6e-4 * 0.99999**steps, rtol=1e-5)


def test_constant_schedule_ignores_decay_and_warmup_ramps_linearly():
    constant = learning_rate_schedule(_train(learning_rate=3e-4, lr_decay=0.5))  # "constant" ignores decay
    np.testing.assert_allclose(constant(np.array([0, 7, 10**6])), [3e-4] * 3, rtol=1e-6)
    warm = learning_rate_schedule(_train(learning_rate=1e-3, warmup_steps=4))
    np.testing.assert_allclose(warm(np.arange(6)), [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3], rtol=1e-6)
    again = StepDecaySchedule.from_config(warm.get_config())
    np.testing.assert_allclose(again(np.arange(6)), warm(np.arange(6)))


def test_optimizers_carry_the_config_hyperparameters():
    adam = make_optimizer(_train(optimizer="adam", beta1=0.95, beta2=0.9995, epsilon=1e-6))  # PIC's values
    assert isinstance(adam, keras.optimizers.Adam)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.95, 0.9995, 1e-6)
    rms = make_optimizer(_train(optimizer="rmsprop", learning_rate=3e-4))  # ColTran
    assert isinstance(rms, keras.optimizers.RMSprop) and rms.rho == 0.9
    np.testing.assert_allclose(float(rms.learning_rate), 3e-4, rtol=1e-6)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("optimizer", "sgd", "train.optimizer='sgd' is not one of adam, rmsprop"),
        ("lr_schedule", "cosine", "train.lr_schedule='cosine' is not one of"),
        ("learning_rate", 0.0, "train.learning_rate must be > 0"),
        ("mixed_precision", "float16", "train.mixed_precision='float16' is not one of"),
    ],
)
def test_bad_values_name_the_config_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(_train(**{field: value}))
    with pytest.raises(ValueError, match="train.lr_decay must be in"):
        make_optimizer(_train(lr_schedule="exponential", lr_decay=1.5))


def test_clip_factor():
    np.testing.assert_allclose(global_norm_clip_factor(np.float32(10.0), 2.0), 0.2)
    np.testing.assert_allclose(global_norm_clip_factor(np.float32(1.0), 2.0), 1.0)
    assert np.isfinite(global_norm_clip_factor(np.float32(0.0), 2.0))


def test_optimisers_do_not_sum_gradients_over_replicas_again():
    """The loop all-reduces once; Keras' own second all-reduce must be off (also inside loss scaling)."""
    for cfg in (
        _train(optimizer="adam"),
        _train(optimizer="rmsprop"),
        _train(mixed_precision="mixed_float16"),
    ):
        assert not aggregates_gradients(make_optimizer(cfg))
    assert aggregates_gradients(keras.optimizers.Adam())


def test_mixed_float16_scales_the_loss_and_counts_a_skipped_step():
    opt = make_optimizer(_train(mixed_precision="mixed_float16", learning_rate=0.1))
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    w = keras.Variable(np.ones(3, np.float32))
    opt.build([w])
    scale = float(opt.dynamic_scale)
    opt.apply_gradients([(np.full(3, np.inf, np.float32), w)])  # an overflowed step: skipped ...
    assert float(opt.dynamic_scale) == scale / 2 and np.all(w.numpy() == 1.0)
    assert int(opt.iterations) == 1  # ... but counted, so the optimiser's step stays the loop's step
    opt.apply_gradients([(np.full(3, scale / 2, np.float32), w)])  # a scaled gradient of 1: applied
    assert int(opt.iterations) == 2 and np.all(w.numpy() < 1.0)
