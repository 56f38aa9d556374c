"""ColTran's colour and spatial upsamplers (coltran/upsampler.py) with their tiny configs."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from coltran.layers import AxialEncoder
from coltran.upsampler import ColorUpsampler, SpatialUpsampler, area_upsample
from coltran.upsampler_base import NUM_CHANNELS
from common import quantize
from common.color import rgb_to_gray
from common.data.sources import bundled_photos
from common.registry import build_model
from configs import coltran_color_upsampler, coltran_spatial_upsampler

CONFIGS = {"color": coltran_color_upsampler, "spatial": coltran_spatial_upsampler}


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """Four real photos (scikit-image's, shipped with the package)."""
    return [image for _, image in bundled_photos()[:4]]


@pytest.fixture(scope="module", params=["color", "spatial"])
def kind(request) -> str:
    return request.param


def _model(kind: str, **overrides):
    config = CONFIGS[kind].get_config("tiny")
    config.model.update(overrides)
    keras.utils.set_random_seed(0)
    return build_model(config)


def _batch(model, photos, training: bool = False) -> dict[str, tf.Tensor]:
    examples = [
        model.preprocess({"image": tf.constant(p), "seed": tf.constant([i, 7])}, training)
        for i, p in enumerate(photos)
    ]
    return {k: tf.stack([e[k] for e in examples]) for k in examples[0]}


def _cond_kwargs(model, batch) -> dict[str, tf.Tensor]:
    return {"coarse": batch["coarse"]} if isinstance(model, ColorUpsampler) else {"low_res": batch["low_res"]}


# ------------------------------------------------------------------------------------------------ configs
def test_tiny_configs_are_derived_and_small():
    c = coltran_color_upsampler.get_config("tiny")
    s = coltran_spatial_upsampler.get_config("tiny")
    assert (c.model.hidden_size, c.model.num_heads, c.model.num_encoder_layers) == (32, 2, 1)
    assert c.model.resolution == 8
    assert (s.model.resolution, s.model.low_resolution) == (32, 8)  # the paper's 4x factor
    assert c.train.optimizer == s.train.optimizer == "rmsprop"
    with pytest.raises(ValueError, match="unknown variant 'huge'"):
        coltran_color_upsampler.get_config("huge")


def test_registry_builds_and_get_config_mirrors_init(kind):
    config = CONFIGS[kind].get_config("tiny")
    model = build_model(config)
    assert isinstance(model, ColorUpsampler if kind == "color" else SpatialUpsampler)
    got = model.get_config()
    expected = {k: v for k, v in config.model.to_dict().items() if k != "name"}
    assert {k: got[k] for k in expected} == expected
    clone = type(model).from_config(got)
    assert clone.get_config() == got
    # Weights exist right after construction (optimizer, EMA and checkpoint restore need them).
    assert [v.shape for v in clone.weights] == [v.shape for v in model.weights]
    assert len(model.trainable_variables) > 4


# --------------------------------------------------------------------------------------------- preprocess
def test_preprocess_targets_and_conditioning(kind, photos):
    model = _model(kind)
    r = model.resolution
    ex = model.preprocess({"image": tf.constant(photos[0])}, training=False)
    rgb8 = ex["rgb"].numpy() * 255.0
    assert ex["rgb"].shape == (r, r, 3) and ex["gray"].shape == (r, r, 1)
    np.testing.assert_allclose(rgb8, np.round(rgb8), atol=1e-3)  # 8-bit values
    np.testing.assert_allclose(ex["gray"], rgb_to_gray(ex["rgb"]), atol=1e-6)
    if kind == "color":
        np.testing.assert_array_equal(ex["coarse"], np.floor(np.round(rgb8) / 32).astype(np.int32))
    else:
        low = model.low_resolution
        f = r // low
        expect = np.round(np.round(rgb8).reshape(low, f, low, f, 3).mean(axis=(1, 3)))  # block means
        np.testing.assert_array_equal(ex["low_res"], expect.astype(np.int32))
    assert "channel" not in ex


def test_preprocess_same_in_tf_data_and_seeded_channel(kind, photos):
    model = _model(kind)
    seeds = [[0, s] for s in range(12)]
    eager = [model.preprocess({"image": tf.constant(photos[1]), "seed": tf.constant(s)}, True) for s in seeds]
    ds = tf.data.Dataset.from_tensor_slices({"seed": tf.constant(seeds)})
    ds = ds.map(lambda e: model.preprocess({"image": tf.constant(photos[1]), "seed": e["seed"]}, True))
    graph = list(ds)
    for a, b in zip(eager, graph, strict=True):
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)
    channels = {int(e["channel"]) for e in eager}
    assert channels <= {0, 1, 2} and len(channels) > 1  # a random channel per example


def test_area_upsample_repeats_pixels():
    low = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3))
    up = area_upsample(tf.constant(low), 16).numpy()
    np.testing.assert_array_equal(up, np.repeat(np.repeat(low, 4, axis=1), 4, axis=2))


# ------------------------------------------------------------------------------------------------ the loss
def test_loss_matches_logits_and_log_prob(kind, photos):
    model = _model(kind)
    batch = _batch(model, photos)
    r = model.resolution
    logits = model(batch)  # [B, R, R, 3, 256]
    assert logits.shape == (4, r, r, 3, 256)
    labels = quantize.to_8bit(batch["rgb"])
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits).numpy()  # [B, R, R, 3]
    loss, metrics = model.compute_loss(batch, training=False)
    np.testing.assert_allclose(loss, ce.mean(axis=(1, 2, 3)) / math.log(2), rtol=1e-5)
    np.testing.assert_allclose(metrics["bits_per_dim"], loss)
    np.testing.assert_allclose(model.log_prob(batch), -ce.sum(axis=(1, 2, 3)), rtol=1e-5)
    # Training scores each example's own channel only.
    batch["channel"] = tf.constant([2, 0, 1, 2])
    loss_t, _ = model.compute_loss(batch, training=True)
    per_channel = ce.mean(axis=(1, 2)) / math.log(2)  # [B, 3]
    np.testing.assert_allclose(loss_t, per_channel[np.arange(4), [2, 0, 1, 2]], rtol=1e-5)


def test_channels_are_predicted_independently(kind, photos):
    """Changing channel 1's conditioning moves channel 1's logits only (one channel at a time)."""
    model = _model(kind)
    batch = _batch(model, photos[:2])
    key = model.cond_key
    changed = dict(batch)
    levels = model.cond_levels
    changed[key] = tf.concat(
        [batch[key][..., :1], (batch[key][..., 1:2] + levels // 2) % levels, batch[key][..., 2:]], axis=-1
    )
    a, b = model(batch).numpy(), model(changed).numpy()
    np.testing.assert_array_equal(a[..., 0, :], b[..., 0, :])
    np.testing.assert_array_equal(a[..., 2, :], b[..., 2, :])
    assert np.abs(a[..., 1, :] - b[..., 1, :]).max() > 1e-3


def test_strips_give_the_same_logits(kind, photos):
    """The encoder run in strips (uneven ones here: 3 + 3 + 2 rows of 8) equals the encoder in one go."""
    whole = _model(kind, num_chunks=1)
    strips = _model(kind, num_chunks=3)
    strips.set_weights(whole.get_weights())
    batch = _batch(whole, photos[:2])
    np.testing.assert_allclose(strips(batch), whole(batch), rtol=1e-5, atol=1e-5)


def test_strips_are_used_at_inference(kind, photos, monkeypatch):
    """The upsampler hands `num_chunks` to its encoder, which then runs every branch strip by strip."""
    model = _model(kind, num_chunks=3)
    assert (model.encoder.num_chunks, model.encoder.remat) == (3, model.remat)
    strips = []
    original = AxialEncoder._branch

    def spy(self, fn, *args, **kwargs):
        return original(self, lambda t: strips.append(tuple(t.shape[1:3])) or fn(t), *args, **kwargs)

    monkeypatch.setattr(AxialEncoder, "_branch", spy)
    model(_batch(model, photos[:1]))
    r = model.resolution
    rows = [(n, r) for n in (len(p) for p in np.array_split(np.arange(r), 3))]
    columns = [(r, n) for n, _ in rows]
    # Per channel, one layer of post-norm blocks: row attention and MLP on row strips, column attention
    # on column strips, MLP on row strips.
    assert strips == NUM_CHANNELS * (rows + rows + columns + rows)


def test_remat_gives_the_same_loss_and_gradients(photos, monkeypatch):
    import coltran.layers as layers

    plain = _model("spatial", remat=False, num_chunks=1)
    remat = _model("spatial", remat=True, num_chunks=8)  # strips of 4 rows / columns
    remat.set_weights(plain.get_weights())
    calls = []
    original = layers._remat_strips
    monkeypatch.setattr(layers, "_remat_strips", lambda *a, **k: calls.append(1) or original(*a, **k))
    batch = _batch(plain, photos[:2], training=True)

    def loss_and_grads(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model.compute_loss(batch, training=True)[0])
        return loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]

    expected = loss_and_grads(plain)
    # Eagerly and inside a tf.function (where the recomputation must survive graph optimisations).
    for got in (loss_and_grads(remat), tf.function(loss_and_grads)(remat)):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
        assert len(got[1]) == len(expected[1])
        for g, e in zip(got[1], expected[1], strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)
    assert len(calls) == 2 * (2 * 2)  # one layer: 2 axes x (attention, MLP) post-norm blocks; twice


# ---------------------------------------------------------------------------------------------- sampling
def test_argmax_sampling(kind, photos):
    model = _model(kind)
    batch = _batch(model, photos[:3])
    out = model.sample(batch["gray"], num_samples=2, temperature=0.0, **_cond_kwargs(model, batch))
    r = model.resolution
    assert out["labels"].shape == out["rgb"].shape == (3, 2, r, r, 3)
    expected = tf.argmax(model(batch), axis=-1, output_type=tf.int32).numpy()
    np.testing.assert_array_equal(out["labels"][:, 0], expected)
    np.testing.assert_array_equal(out["labels"][:, 1], expected)
    np.testing.assert_allclose(out["rgb"], out["labels"].numpy() / 255.0, atol=1e-7)
    # Batched decoding equals decoding each image alone.
    one = {k: v[1:2] for k, v in batch.items()}
    alone = model.sample(one["gray"], temperature=0.0, **_cond_kwargs(model, one))
    np.testing.assert_array_equal(alone["labels"][0, 0], expected[1])


def test_sampling_with_temperature_is_seeded(kind, photos):
    model = _model(kind)
    batch = _batch(model, photos[:2])
    cond = _cond_kwargs(model, batch)
    a = model.sample(batch["gray"], num_samples=2, seed=5, temperature=1.0, **cond)["labels"].numpy()
    b = model.sample(batch["gray"], num_samples=2, seed=5, temperature=1.0, **cond)["labels"].numpy()
    c = model.sample(batch["gray"], num_samples=2, seed=6, temperature=1.0, **cond)["labels"].numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.5  # an untrained model's 256-way draws rarely agree
    assert (a[:, 0] != a[:, 1]).mean() > 0.5  # the N samples differ from each other
    assert a.min() >= 0 and a.max() <= 255


def test_sample_rejects_a_missing_conditioning(kind, photos):
    """No silent conditioning on the grayscale: the colour input is required."""
    model = _model(kind)
    gray = _batch(model, photos[:2])["gray"]
    with pytest.raises(
        ValueError, match="coarse` .* is required" if kind == "color" else "low_res` .* is required"
    ):
        model.sample(gray)


def test_sample_rejects_bad_inputs(kind):
    model = _model(kind)
    r = model.resolution
    with pytest.raises(ValueError, match=rf"gray must be float \[B, {r}, {r}, 1\]"):
        model.sample(tf.zeros([1, r + 1, r, 1]))
    with pytest.raises(ValueError, match="num_samples"):
        model.sample(tf.zeros([1, r, r, 1]), num_samples=0)
    if kind == "color":
        with pytest.raises(ValueError, match="coarse must be int"):
            model.sample(tf.zeros([1, r, r, 1]), coarse=tf.zeros([1, r, r, 3]))  # float levels
    else:
        with pytest.raises(ValueError, match="low_res must be"):
            model.sample(tf.zeros([1, r, r, 1]), low_res=tf.zeros([1, r, r, 3], tf.int32))  # not low-res
    with pytest.raises(ValueError, match="low_resolution"):
        SpatialUpsampler(
            hidden_size=8, ff_size=8, num_heads=1, num_encoder_layers=1, resolution=8, low_resolution=16
        )


# ------------------------------------------------------------------------------------------------ training
@pytest.mark.slow
def test_overfits_a_handful_of_images_with_the_tiny_config(kind, photos):
    """The tiny config's optimizer, learning rate and step count bring the eval loss on 4 photos down."""
    config = CONFIGS[kind].get_config("tiny")
    model = _model(kind)
    assert config.train.optimizer == "rmsprop"
    optimizer = keras.optimizers.RMSprop(config.train.learning_rate)
    train_batch = _batch(model, photos, training=True)
    eval_batch = _batch(model, photos, training=False)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    before = float(tf.reduce_mean(model.compute_loss(eval_batch)[0]))
    for i in range(config.train.num_steps):
        # Cycle the trained channel so every channel is seen, as random channels would over time.
        train_batch["channel"] = tf.constant([(i + j) % 3 for j in range(4)])
        step(train_batch)
    after = float(tf.reduce_mean(model.compute_loss(eval_batch)[0]))
    assert before > 7.5  # about log2(256) = 8 bits per dimension untrained
    assert after < 0.8 * before, (before, after)  # measured: about 0.6 (colour) and 0.7 (spatial)
