"""PixColor trains: a tiny model overfits one batch of real photos; the gradient multiplier holds the trunk
until its engage step, reading the step the trainer binds; the refinement network starts as bilinear
upsampling and beats it after a short fit; a Keras ResNet's weights load by name."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.data import bundled_photos
from pixcolor.conditioning import ResNetTrunk, load_keras_resnet_weights
from pixcolor.model import PixColor
from pixcolor.refinement_model import PixColorRefinement
from tests.pixcolor.conftest import TINY, TINY_REFINEMENT, pixcolor_batch


def _photo_batch(model) -> dict:
    """The four bundled colour photos through the model's own preprocessing (central crops)."""
    examples = [model.preprocess({"image": tf.constant(img)}, False) for _, img in bundled_photos()]
    return {k: tf.stack([e[k] for e in examples]) for k in examples[0]}


def _fit(model, batch: dict, steps: int, learning_rate: float) -> list[float]:
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)  # outside the trace: tracing the creation costs seconds

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True)
        )
        return loss

    return [float(step()) for _ in range(steps)]


def test_tiny_pixcolor_overfits_one_batch_of_photos():
    keras.utils.set_random_seed(0)
    model = PixColor(**TINY)
    batch = _photo_batch(model)
    losses = _fit(model, batch, steps=200, learning_rate=3e-3)
    assert losses[0] > 4.0  # bits per dim: near log2(32) = 5 at the start
    assert losses[-1] < 0.4 * losses[0], losses[::20]


def _grad_norms(model, batch) -> tuple[float, float]:
    """(|gradient| of the trunk's weights, of the adaptation network's) for the loss on `batch`."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.compute_loss(batch, training=False)[0])
    trunk, adapt = model.trunk.trainable_variables, model.adaptation.trainable_variables
    grads = tape.gradient(loss, trunk + adapt)
    return float(tf.linalg.global_norm(grads[: len(trunk)])), float(
        tf.linalg.global_norm(grads[len(trunk) :])
    )


def test_gradient_multiplier_holds_the_trunk_until_the_engage_step():
    model = PixColor(**{**TINY, "engage_step": 3, "freeze_trunk_batch_norm": True})
    batch = pixcolor_batch(0)
    before = model(batch).numpy()
    # Frozen batch norms: training mode changes neither the trunk's statistics nor its output.
    stats = [w.numpy() for w in model.trunk.non_trainable_weights]
    np.testing.assert_allclose(model(batch, training=True).numpy(), before, atol=1e-5)
    for w, old in zip(model.trunk.non_trainable_weights, stats, strict=True):
        np.testing.assert_array_equal(w.numpy(), old)
    step = tf.Variable(0, dtype=tf.int64)
    model.bind_training_step(step)
    assert not any(v is step for v in model.variables)  # the bound counter is not one of the weights
    np.testing.assert_array_equal(model(batch).numpy(), before)  # the identity forward
    trunk, adapt = _grad_norms(model, batch)
    assert trunk == 0.0 and adapt > 0.0
    step.assign(3)
    trunk, adapt = _grad_norms(model, batch)
    assert trunk > 0.0 and adapt > 0.0


def test_the_trainer_binds_its_optimizer_step(tmp_path):
    from common.train.state import build_state
    from configs.pixcolor import get_config

    config = get_config("tiny")
    config.model.update(TINY)
    config.model.engage_step = 5
    state = build_state(config, tf.distribute.get_strategy())
    assert state.model.trunk_gradient_scale().numpy() == 0.0
    state.optimizer.iterations.assign(5)
    assert state.model.trunk_gradient_scale().numpy() == 1.0


@pytest.mark.parametrize("skips", [False, True])  # the table's network; ours with U-Net skips
def test_refinement_starts_as_bilinear_and_beats_it_after_a_short_fit(skips):
    keras.utils.set_random_seed(0)
    model = PixColorRefinement(**{**TINY_REFINEMENT, "skips": skips})
    batch = _photo_batch(model)
    loss, metrics = model.compute_loss(batch)
    np.testing.assert_allclose(loss.numpy(), metrics["l1_bilinear"].numpy(), atol=1e-6)
    _fit(model, batch, steps=120, learning_rate=3e-3)
    for training in (True, False):  # batch statistics as in the fit; the moving ones, as at sampling
        loss, metrics = model.compute_loss(batch, training=training)
        assert float(tf.reduce_mean(loss)) < 0.9 * float(tf.reduce_mean(metrics["l1_bilinear"])), training


def _keras_resnet(blocks_per_stage: int) -> keras.Model:
    """Keras' own ResNet code at a small depth (the same layer names as ResNet101's first blocks)."""
    from keras.src.applications import resnet

    def stack_fn(x):
        for name, width, stride in (("conv2", 64, 1), ("conv3", 128, 2), ("conv4", 256, 2)):
            x = resnet.stack_residual_blocks_v1(x, width, blocks_per_stage, stride1=stride, name=name)
        return x

    return resnet.ResNet(stack_fn, False, True, include_top=False, weights=None, input_shape=(None, None, 3))


def test_keras_resnet_weights_load_by_name():
    keras.utils.set_random_seed(0)
    source = _keras_resnet(1)
    for w in source.weights:  # nothing left at its zero / one initial value
        w.assign(np.random.default_rng(len(w.path)).uniform(0.5, 1.5, size=w.shape).astype(np.float32))
    trunk = ResNetTrunk([1, 1, 1], 64)
    trunk(tf.zeros([1, 16, 16, 3]))
    assert load_keras_resnet_weights(trunk, source) == 2 + 3 * 8  # conv1 + 3 blocks of 4 convs + 4 norms
    for name, layer in trunk.keras_named_layers():
        for ours, theirs in zip(layer.get_weights(), source.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match="conv2_block2"):
        deeper = ResNetTrunk([2, 1, 1], 64)
        deeper(tf.zeros([1, 16, 16, 3]))
        load_keras_resnet_weights(deeper, source)
    with pytest.raises(FileNotFoundError, match="resnet_weights"):
        load_keras_resnet_weights(trunk, "/nonexistent/resnet101_notop.h5")
