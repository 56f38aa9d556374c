"""PICColorizer beyond the harness: loss conventions, data-dependent initialisation, overfitting, the
embedding-only ablation, sampling at any size, temperature and mode decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import rgb2lab

from common import logistic_mixture as lm
from tests.pic.helpers import R, make_pic, r, random_batch


@pytest.fixture(scope="module")
def model():
    return make_pic(0)


def test_loss_is_bits_per_dim_of_the_lab_chroma_on_the_grid(model):
    """Targets read independently (skimage Lab, the authors' offsets a - 0.5, b + 0.5, every 2nd pixel)."""
    batch = random_batch(1)
    lab = rgb2lab(batch["rgb"].astype(np.float64))[:, ::2, ::2]
    ab = np.round((lab[..., 1:] - [0.5, -0.5]) / 127.5 * 127.5 + 127.5) / 127.5 - 1.0
    lum = batch["gray"][:, ::2, ::2] * 2.0 - 1.0
    params = model(batch)[0]
    want = tf.reduce_sum(lm.log_prob(params, ab.astype(np.float32), lum), axis=[1, 2]).numpy()
    np.testing.assert_allclose(model.log_prob(batch).numpy(), want, rtol=1e-5)
    loss, metrics = model.compute_loss(batch)
    bpd = -want / (r * r * 2 * math.log(2.0))
    np.testing.assert_allclose(metrics["bits_per_dim"].numpy(), bpd, rtol=1e-5)
    np.testing.assert_allclose(loss.numpy(), bpd + metrics["embedding_bits_per_dim"].numpy(), rtol=1e-5)


def test_data_dependent_init_normalises_each_layer_on_the_batch():
    model, batch = make_pic(1), random_batch(2, batch=4)
    model.initialize(batch)
    x = model.embedding_input(batch["gray"])
    out = model.embedding.conv_leak(x).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
    # The second convolution of a gated block starts at a tenth of the scale (init_scale 0.1).
    blk = model.embedding.stages[0][0][0]
    h = model.embedding.conv_leak(x)
    c2 = blk.conv2(blk.first(h, None)).numpy()
    np.testing.assert_allclose(c2.std(axis=(0, 1, 2)), 0.1, atol=1e-3)
    assert not any(getattr(la, "init_pass", False) for la in model._flatten_layers())


def test_overfits_one_batch():
    model, batch = make_pic(3), random_batch(4, batch=2)
    model.initialize(batch)
    opt = tf.keras.optimizers.Adam(3e-3, beta_1=0.95, beta_2=0.9995, epsilon=1e-6)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    first = float(step())
    for _ in range(60):
        last = float(step())
    assert last < 0.6 * first, (first, last)


def test_embedding_only_ablation():
    model, batch = make_pic(4, embedding_only=True), random_batch(5)
    assert model.pixelcnn is None and not any(w.path.startswith("pcnn") for w in model.weights)
    loss, metrics = model.compute_loss(batch)
    np.testing.assert_allclose(loss.numpy(), metrics["embedding_bits_per_dim"].numpy())
    out = model.sample(batch["gray"], num_samples=2, seed=1, temperature=0.0)
    emb = model.embedding(model.embedding_input(batch["gray"]))
    want = lm.mode(model.embedding_params(emb), model.low_res_luminance(batch["gray"])).numpy()
    np.testing.assert_allclose(out["ab"].numpy(), np.stack([want, want], axis=1), atol=1e-6)  # MAP
    drawn = model.sample(batch["gray"], num_samples=2, seed=1)["ab"].numpy()
    assert (drawn[:, 0] != drawn[:, 1]).any()


def test_sampling_any_size_joins_the_chroma_with_the_input_luminance(model):
    gray = np.random.default_rng(6).uniform(0.3, 0.7, size=(2, 11, 7, 1)).astype(np.float32)
    out = model.sample(gray, num_samples=2, seed=3)
    assert out["rgb"].shape == (2, 2, 11, 7, 3) and out["ab"].shape == (2, 2, r, r, 2)
    rgb = out["rgb"].numpy().astype(np.float64)
    lightness = rgb2lab(rgb)[..., 0]
    # Where no RGB channel was clipped (random weights draw much out-of-gamut chroma), L is the input's.
    unclipped = ((rgb > 1e-3) & (rgb < 1 - 1e-3)).all(-1)
    assert unclipped.mean() > 0.05
    np.testing.assert_allclose(lightness[unclipped], np.broadcast_to(gray[:, None, ..., 0] * 100.0,
                                                                      lightness.shape)[unclipped], atol=0.05)
    again = model.sample(gray, num_samples=2, seed=3)
    np.testing.assert_array_equal(again["rgb"].numpy(), out["rgb"].numpy())
    other = model.sample(gray, num_samples=2, seed=4)["ab"].numpy()
    assert (other != out["ab"].numpy()).any()


def test_temperature_zero_is_the_mode_at_every_step(model):
    from pic.sampler import sample_chroma

    gray = random_batch(7, batch=1)["gray"]  # batch 1: static shapes in the sampling loops
    ab, params = sample_chroma(model, gray, num_samples=1, seed=0, temperature=0.0)
    lum = model.low_res_luminance(gray)[:, None]
    # (1e-6: a level's value may be written 1 ulp apart in a graph and eagerly)
    np.testing.assert_allclose(ab.numpy(), lm.mode(params, lum).numpy(), atol=1e-6)
    ab2, _ = sample_chroma(model, gray, num_samples=1, seed=9, temperature=0.0)
    np.testing.assert_array_equal(ab.numpy(), ab2.numpy())
    # A tensor temperature (exported graphs) of 0 is the same decoding.
    ab3, _ = sample_chroma(model, gray, num_samples=1, seed=9, temperature=tf.constant(0.0))
    np.testing.assert_allclose(ab.numpy(), ab3.numpy(), atol=1e-6)


def test_bad_inputs_are_clear_errors(model):
    with pytest.raises(ValueError, match="gray must be"):
        model.log_prob({"gray": np.zeros((1, R + 1, R, 1), np.float32), "rgb": np.zeros((1, R, R, 3))})
    with pytest.raises(ValueError, match="method"):
        model.sample(np.zeros((1, R, R, 1), np.float32), method="slow")
    with pytest.raises(ValueError, match="downsample"):
        type(model)(resolution=10, downsample=4)
