"""The shared model checks (tests/model_harness.py) on a tiny PIC, plus the causality of each stream."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pic.sampler import sample_chroma
from tests import model_harness as h
from tests.pic.helpers import D, canvas_from_ab, make_pic, r, random_batch


def _perturb_pixel(batch: dict, p: int) -> dict:
    """Another colour at the full-resolution pixel that chroma position p reads; the luminance is kept."""
    rgb = np.array(batch["rgb"])
    i, j = divmod(p, r)
    rgb[:, i * D, j * D] = (rgb[:, i * D, j * D] + 0.5) % 1.0
    return {**batch, "rgb": rgb}


def _sample(model, batch, method, jit):
    """(drawn levels int [B, N, r, r, 2] in [0, 256), step parameters [B, N, r, r, 8K]); levels, as XLA
    may write a level's value 1 ulp off."""
    ab, params = sample_chroma(model, batch["gray"], num_samples=2, seed=7, method=method, jit_compile=jit)
    return np.round((ab.numpy() + 1.0) * 127.5).astype(np.int32), params


def _sample_params(model, batch, levels):
    """Teacher-forced mixture parameters on the drawn chroma, [B, N, r, r, 8K]."""
    ab = levels / 127.5 - 1.0
    b, n = ab.shape[:2]
    gray = np.repeat(batch["gray"], n, axis=0)
    canvas = canvas_from_ab(model, gray, ab.reshape(b * n, r, r, 2))
    params, _ = model.networks(gray, canvas)
    return tf.reshape(params, [b, n, r, r, -1])


def _sharpen(model) -> None:
    """A trained model's regime, in which a small error of a parameter would move a draw: component logits
    far apart (x 4), scales of about a level (log-scale channels near -5), means mostly inside [-1, 1]."""
    conv, k = model.pixelcnn.conv_last, model.num_mixtures
    factor = np.ones(8 * k, np.float32)
    factor[:k] = 4.0
    factor[4 * k :] = 0.3
    log_scale = np.zeros(8 * k, bool)
    log_scale[5 * k : 6 * k] = log_scale[7 * k :] = True
    factor[log_scale] = 0.1
    conv.g.assign(conv.g * factor)
    conv.b.assign(np.where(log_scale, -5.0, conv.b.numpy() * factor))


CASE = h.ModelCase(
    name="pic",
    build=lambda seed: make_pic(seed),
    batch=lambda seed: random_batch(seed),
    logits=lambda model, batch: model(batch)[0],
    num_positions=r * r,
    perturb=_perturb_pixel,
    position_axis=lambda logits: logits.reshape(logits.shape[0], r * r, -1),
    sample=_sample,
    sample_logits=_sample_params,
    methods=("naive", "fast"),
    sharpen=_sharpen,
)


def test_config_round_trip():
    h.check_config_round_trip(CASE)


def test_eager_graph_and_xla_agree():
    h.check_eager_graph_xla(CASE)


def test_mixture_parameters_are_causal_in_raster_order():
    h.check_causality(CASE, positions=[0, r - 1, r + 2, r * r - 2])


def test_each_stream_is_causal():
    """u (down-shifted) sees only rows above; ul (down-right-shifted) only earlier pixels in raster order."""
    model, batch = make_pic(0), random_batch(3)
    emb = model.embedding(model.embedding_input(batch["gray"]))
    canvas = model.canvas_and_targets(batch["rgb"])[0].numpy()
    u0, ul0 = (t.numpy() for t in model.pixelcnn.streams(canvas, emb))
    for i, j in [(0, 0), (1, 2), (2, 0), (3, 3)]:
        moved = canvas.copy()
        moved[:, i, j] += 0.5
        u, ul = (t.numpy() for t in model.pixelcnn.streams(moved, emb))
        du = np.abs(u - u0).max(axis=(0, 2, 3))  # per row
        dul = np.abs(ul - ul0).max(axis=(0, 3)).reshape(-1)  # per raster position
        assert du[: i + 1].max() < 1e-6, f"u moved at or above row {i}"
        assert i == r - 1 or du[i + 1 :].max() > 1e-4
        assert dul[: i * r + j + 1].max() < 1e-6, f"ul moved at or before ({i}, {j})"
        assert i * r + j == r * r - 1 or dul[i * r + j + 1 :].max() > 1e-4


@pytest.mark.parametrize("method", ["naive", "fast"])
def test_step_parameters_equal_teacher_forcing(method):
    h.check_step_logits(CASE, method)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_fast_sampler_equals_naive_on_a_sharp_model(jit):
    h.check_samplers_equal(CASE, "fast", jit)


def test_preprocessor_and_sample_spec():
    image = np.random.default_rng(0).integers(0, 256, size=(20, 13, 3)).astype(np.uint8)
    h.check_protocol_parts(CASE, {"image": tf.constant(image), "seed": tf.constant([1, 2], tf.int64)})


def test_sharpened_model_is_sharp():
    """The samplers-equal check above is only meaningful if draws sit far from decision boundaries."""
    model, batch = make_pic(0), random_batch(5)
    _sharpen(model)
    params = model(batch)[0].numpy()
    k = model.num_mixtures
    weights = tf.nn.softmax(params[..., :k]).numpy()
    assert weights.max(-1).mean() > 0.8
    assert np.median(np.exp(params[..., 5 * k : 6 * k])) < 0.02  # scales of a: about a level (1 / 127.5)
    assert np.mean(np.abs(params[..., 4 * k : 5 * k]) < 0.9) > 0.5  # means of a: most not clipped
