"""Tests of the ColTran core (coltran/core.py, coltran/decoders.py) and its config on tiny shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from coltran.core import ColTranCore
from common.color import rgb_to_gray
from common.registry import build_model
from configs.coltran_core import get_config

R = 6  # 6x6 images: 36 raster positions
TINY = dict(
    resolution=R,
    hidden_size=16,
    ff_size=16,
    num_heads=2,
    num_encoder_layers=1,
    num_outer_layers=1,
    num_inner_layers=1,
)


def make_core(seed: int = 0, **overrides) -> ColTranCore:
    """A tiny core whose weights are all random (zero- and one-initialised biases, gains, relative biases
    and poolings would hide paths)."""
    tf.keras.utils.set_random_seed(seed)
    model = ColTranCore(**{**TINY, **overrides})
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if any(k in w.path for k in ("relative_bias", "spatial_weights", "bias", "beta", "gamma")):
            w.assign(w.numpy() + rng.normal(scale=0.5, size=w.shape).astype(np.float32))
    return model


def _random_batch(seed: int, batch: int = 2, res: int = R) -> dict:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(batch, res, res, 3)).astype(np.float32) / 255.0
    return {"gray": rgb_to_gray(rgb).numpy(), "rgb": rgb}


CONDITIONING = [
    {},  # the paper's: affine cLN (learnable pooling), cMLP, cAtt on q, k, v
    {"cond_ln": "none", "cond_mlp": "none", "cond_att": "none"},
    {
        "cond_ln": "shift",
        "cond_ln_pool": "mean",
        "cond_mlp": "scale",
        "cond_att": "shift",
        "cond_att_k": False,
    },
    {"cond_ln": "scale", "cond_mlp": "shift", "cond_att": "scale"},
]


@pytest.mark.parametrize("cond", CONDITIONING, ids=["paper", "none", "shift", "scale"])
def test_decoder_logits_are_causal_in_raster_order(cond):
    """Changing pixel p changes no logit at positions <= p (exactly), and does change later ones."""
    model = make_core(1, **cond)
    rng = np.random.default_rng(2)
    gray8 = tf.constant(rng.integers(0, 256, (1, R, R)), tf.int32)
    symbols = rng.integers(0, 512, (1, R, R))
    z = model.encode(gray8)
    decode = tf.function(model.decode, autograph=False)
    base = decode(z, tf.constant(symbols, tf.int32)).numpy()[0].reshape(R * R, 512)
    for p in range(R * R):
        changed = symbols.copy()
        changed.reshape(-1)[p] = (changed.reshape(-1)[p] + 1 + rng.integers(0, 510)) % 512
        logits = decode(z, tf.constant(changed, tf.int32)).numpy()[0].reshape(R * R, 512)
        delta = np.abs(logits - base).max(axis=-1)
        np.testing.assert_array_equal(delta[: p + 1], 0.0, err_msg=f"pixel {p} leaked into earlier logits")
        if p + 1 < R * R:
            assert delta[p + 1] > 1e-6, f"pixel {p} does not reach the next pixel"
        if p + R < R * R:
            assert delta[p + R] > 1e-6, f"pixel {p} does not reach the pixel below (outer decoder)"


def test_parallel_head_sees_only_the_grayscale():
    model = make_core(3)
    batch = _random_batch(4, batch=1)
    dec1, enc1 = model(batch)
    batch2 = dict(batch, rgb=1.0 - batch["rgb"])
    dec2, enc2 = model(batch2)
    np.testing.assert_array_equal(enc1.numpy(), enc2.numpy())
    assert np.abs(dec1.numpy() - dec2.numpy()).max() > 1e-4
    gray_changed = dict(batch, gray=1.0 - batch["gray"])
    assert np.abs(model(gray_changed)[1].numpy() - enc1.numpy()).max() > 1e-4


def test_loss_metrics_and_log_prob_agree():
    model = make_core(5)
    batch = _random_batch(6, batch=3)
    loss, metrics = model.compute_loss(batch)
    assert loss.shape == (3,) and all(v.shape == (3,) for v in metrics.values())
    dims = R * R * 3
    expected = 0.99 * metrics["bits_per_dim"] + 0.01 * metrics["encoder_bits_per_dim"]
    np.testing.assert_allclose(loss.numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        metrics["bits_per_pixel"].numpy(), 3 * metrics["bits_per_dim"].numpy(), rtol=1e-6
    )
    log_p = model.log_prob(batch).numpy()
    np.testing.assert_allclose(-log_p / (dims * math.log(2.0)), metrics["bits_per_dim"].numpy(), rtol=1e-5)
    # Independent check of the NLL from the logits: -sum log softmax at the coarse symbol of each pixel.
    dec_logits, _ = model(batch)
    rgb8 = np.round(batch["rgb"] * 255).astype(np.int64)
    coarse = rgb8 // 32
    sym = coarse[..., 0] * 64 + coarse[..., 1] * 8 + coarse[..., 2]
    log_softmax = tf.nn.log_softmax(dec_logits).numpy()
    picked = np.take_along_axis(log_softmax, sym[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(picked.sum(axis=(1, 2)), log_p, rtol=1e-5)


def test_core_overfits_a_handful_of_images():
    """The tiny config learns 4 fixed 8x8 images: the loss falls far below the uniform 3 bits/dim."""
    config = get_config("tiny")
    tf.keras.utils.set_random_seed(0)
    model = build_model(config)
    rng = np.random.default_rng(0)
    # Smooth images (a few colour blocks) so that the colours are predictable from position and gray.
    blocks = rng.integers(0, 256, size=(4, 2, 2, 3)).astype(np.float32)
    rgb = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2) / 255.0
    batch = {"gray": rgb_to_gray(rgb), "rgb": tf.constant(rgb)}
    optimizer = tf.keras.optimizers.Adam(3e-3)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    losses = [float(step()) for _ in range(25)]
    assert losses[0] > 2.5  # ~log2(512) / 3 = 3 bits per dim at initialisation
    assert losses[-1] < 0.5 * losses[0], losses[::5]  # measured (post-norm blocks): 3.1 -> 1.1 in 25 steps
    assert all(np.isfinite(losses))


def test_preprocess_crops_resizes_and_runs_in_tf_data():
    model = make_core(0)
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(20, 30, 3)).astype(np.uint8)
    out = model.preprocess({"image": tf.constant(image)}, training=False)
    assert out["gray"].shape == (R, R, 1) and out["rgb"].shape == (R, R, 3)
    rgb = out["rgb"].numpy()
    np.testing.assert_allclose(rgb * 255, np.round(rgb * 255), atol=1e-4)  # 8-bit targets
    np.testing.assert_allclose(out["gray"].numpy(), rgb_to_gray(rgb).numpy(), atol=1e-6)
    # Eval: the centred 20x20 square, area-resized.
    centre = image[:, 5:25].astype(np.float32)
    expected = tf.image.resize(centre, (R, R), method="area").numpy()
    np.testing.assert_allclose(rgb * 255, np.round(expected), atol=1e-3)
    ds = tf.data.Dataset.from_tensors({"image": tf.constant(image)}).repeat(3)
    for ex in ds.map(lambda e: model.preprocess(e, training=True)):
        assert ex["rgb"].shape == (R, R, 3)
        assert 0.0 <= float(tf.reduce_min(ex["rgb"])) and float(tf.reduce_max(ex["rgb"])) <= 1.0


def test_training_crop_follows_the_example_seed():
    """Resume replays the same data only if the random crop is a function of the example's seed."""
    model = make_core(0)
    image = tf.constant(np.random.default_rng(3).integers(0, 256, size=(12, 40, 3)).astype(np.uint8))
    crops = {
        s: model.preprocess({"image": image, "seed": tf.constant([s, 0], tf.int64)}, training=True)["rgb"]
        for s in range(6)
    }
    again = model.preprocess({"image": image, "seed": tf.constant([0, 0], tf.int64)}, training=True)["rgb"]
    np.testing.assert_array_equal(again.numpy(), crops[0].numpy())
    assert len({c.numpy().tobytes() for c in crops.values()}) > 1  # the seed moves the crop


def test_config_round_trip_and_ablation_switches():
    model = make_core(0, cond_att="none", cond_mlp="shift", cond_ln="none")
    config = model.get_config()
    for key, value in {**TINY, "cond_att": "none", "cond_mlp": "shift", "cond_ln": "none"}.items():
        assert config[key] == value
    clone = ColTranCore.from_config(config)
    assert sorted((w.path, w.shape) for w in clone.weights) == sorted(
        (w.path, w.shape) for w in model.weights
    )
    paths = " ".join(w.path for w in model.outer.weights + model.inner.weights)
    assert "cond_q" not in paths and "gamma" in paths and "spatial_weights" not in paths
    full = make_core(0)
    paths = " ".join(w.path for w in full.outer.weights + full.inner.weights)
    assert "cond_q" in paths and "spatial_weights" in paths and "gamma" not in paths


def test_tiny_config_is_derived_and_bad_variants_are_named():
    """The paper values are checked against the authors' released models (test_import_authors.py)."""
    paper, tiny = get_config(), get_config("tiny")
    assert tiny.model.hidden_size == paper.model.hidden_size // 16
    assert tiny.model.resolution == paper.model.resolution // 8
    assert paper.model.row_context_sampling is False  # models trained here sample what they learned
    with pytest.raises(ValueError, match="coltran_core.py"):
        get_config("huge")


def test_bad_gray_is_rejected_with_a_clear_error():
    model = make_core(0)
    with pytest.raises(ValueError, match="coltran/core.py: gray must be"):
        model.sample(np.zeros((1, R + 1, R + 1, 1), np.float32))
    with pytest.raises(ValueError, match="coltran/core.py: gray must be"):
        model.log_prob(
            {"gray": np.zeros((1, R, R, 3), np.float32), "rgb": np.zeros((1, R, R, 3), np.float32)}
        )
