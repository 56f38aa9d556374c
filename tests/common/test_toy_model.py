"""ToyColorizer (common/toy_model.py) implements the model protocol exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from common import registry
from common.protocol import ColorizationModel
from common.toy_model import ToyColorizer
from configs.toy import get_config


@pytest.fixture(scope="module")
def model():
    return ToyColorizer(resolution=8, hidden_size=8, num_layers=2, bits=3)


def _batch(n: int = 2, seed: int = 0) -> dict[str, tf.Tensor]:
    rgb = np.random.default_rng(seed).uniform(0, 1, (n, 8, 8, 3)).astype(np.float32)
    return {
        "rgb": tf.constant(rgb),
        "gray": tf.constant(rgb @ np.array([[0.299], [0.587], [0.114]], np.float32)),
    }


def test_registry_builds_it_from_the_config_and_it_follows_the_protocol():
    built = registry.build_model(get_config("tiny"))
    assert isinstance(built, ToyColorizer) and isinstance(built, ColorizationModel)
    assert (built.resolution, built.hidden_size, built.num_layers, built.bits) == (8, 8, 1, 3)
    clone = ToyColorizer.from_config(built.get_config())
    assert clone.get_config() == built.get_config()


def test_preprocess_crops_resizes_and_gives_matching_gray(model):
    image = tf.constant(np.random.default_rng(1).integers(0, 256, (20, 36, 3)), tf.uint8)
    out = model.preprocess({"image": image}, training=True)
    assert out["rgb"].shape == (8, 8, 3) and out["gray"].shape == (8, 8, 1)
    # the centred 20x20 crop starts at column (36 - 20) // 2 = 8; then 8x8 area means, / 255
    want = tf.image.resize(tf.cast(image[:, 8:28], tf.float32), (8, 8), method="area") / 255.0
    np.testing.assert_allclose(out["rgb"], want, atol=1e-6)
    np.testing.assert_allclose(out["gray"][..., 0], np.asarray(want) @ [0.299, 0.587, 0.114], atol=1e-5)
    in_graph = tf.data.Dataset.from_tensors({"image": image}).map(lambda ex: model.preprocess(ex, False))
    np.testing.assert_allclose(next(iter(in_graph))["rgb"], out["rgb"], atol=1e-6)


def test_log_prob_is_the_sum_of_per_channel_categorical_log_probs(model):
    batch = _batch()
    logits = model(batch["gray"]).numpy()  # [2, 8, 8, 3, 8]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    levels = np.floor(np.round(batch["rgb"].numpy() * 255) / 32).astype(int)
    want = np.take_along_axis(log_p, levels[..., None], -1).sum(axis=(1, 2, 3, 4))
    np.testing.assert_allclose(model.log_prob(batch), want, rtol=1e-5)
    loss, metrics = model.compute_loss(batch)
    np.testing.assert_allclose(loss, -want / (8 * 8 * 3 * math.log(2)), rtol=1e-5)
    np.testing.assert_array_equal(loss, metrics["bits_per_dim"])


def test_sample_shapes_determinism_argmax_and_top_k(model):
    gray = _batch(3)["gray"]
    a = model.sample(gray, num_samples=4, seed=5)
    b = model.sample(gray, num_samples=4, seed=5)
    c = model.sample(gray, num_samples=4, seed=6)
    assert a["rgb"].shape == (3, 4, 8, 8, 3) and a["coarse"].dtype == tf.int32
    np.testing.assert_array_equal(a["coarse"], b["coarse"])
    assert not np.array_equal(a["coarse"], c["coarse"])
    np.testing.assert_allclose(a["rgb"], (a["coarse"].numpy() + 0.5) * 32 / 255, atol=1e-6)
    greedy = model.sample(gray, num_samples=2, seed=1, temperature=0.0)["coarse"].numpy()
    argmax = np.argmax(model(gray).numpy(), axis=-1)
    np.testing.assert_array_equal(greedy, np.repeat(argmax[:, None], 2, axis=1))
    top1 = model.sample(gray, num_samples=2, seed=1, top_k=1)["coarse"].numpy()
    np.testing.assert_array_equal(top1, greedy)
