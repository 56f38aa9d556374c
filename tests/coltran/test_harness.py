"""The shared model checks (tests/model_harness.py) on ColTran's three models."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coltran.constants import NUM_COARSE_COLORS
from coltran.sampler import sample_symbols
from coltran.upsampler import ColorUpsampler, SpatialUpsampler
from common.color import rgb_to_gray
from tests import model_harness as h
from tests.coltran.test_core import R, make_core


def _rgb_batch(seed: int, res: int, batch: int = 2) -> dict:
    rgb = np.random.default_rng(seed).integers(0, 256, size=(batch, res, res, 3)).astype(np.float32) / 255.0
    return {"gray": rgb_to_gray(rgb).numpy(), "rgb": rgb}


def _perturb_pixel(batch: dict, p: int) -> dict:
    """Another colour (its coarse symbol changes) at raster position p; the grayscale is kept."""
    rgb = np.array(batch["rgb"])
    i, j = divmod(p, rgb.shape[2])
    rgb[:, i, j] = (rgb[:, i, j] + 0.5) % 1.0
    return {**batch, "rgb": rgb}


def _core_sample(model, batch, method, jit):
    gray8 = model.gray_levels(batch["gray"])
    symbols, _, logits = sample_symbols(
        model, gray8, num_samples=2, seed=7, method=method, jit_compile=jit, return_logits=True
    )
    return symbols.numpy(), logits


def _core_sample_logits(model, batch, symbols):
    b, n = symbols.shape[:2]
    z = model.encode(tf.repeat(model.gray_levels(batch["gray"]), n, axis=0))
    logits = model.decode(
        z, tf.constant(symbols.reshape(b * n, R, R)), row_context=model.row_context_sampling
    )
    return tf.reshape(logits, [b, n, R, R, NUM_COARSE_COLORS])


def _sharpen(model) -> None:
    """Output layer x 40: most steps put most of their probability on one colour (a trained model's
    regime), and logits are large, so a relative error would show."""
    model.final_dense.kernel.assign(model.final_dense.kernel * 40.0)


def _core_case(row_context: bool) -> h.ModelCase:
    return h.ModelCase(
        name=f"coltran_core{'-row-context' if row_context else ''}",
        build=lambda seed: make_core(seed, row_context_sampling=row_context),
        batch=lambda seed: _rgb_batch(seed, R),
        logits=lambda model, batch: model(batch)[0],
        num_positions=R * R,
        perturb=_perturb_pixel,
        position_axis=lambda logits: logits.reshape(logits.shape[0], R * R, -1),
        sample=_core_sample,
        sample_logits=_core_sample_logits,
        methods=("naive", "fast"),
        sharpen=_sharpen,
    )


def _randomized(model):
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(w.numpy() + rng.normal(scale=0.3, size=w.shape).astype(np.float32))
    return model


UP = dict(hidden_size=16, ff_size=16, num_heads=2, num_encoder_layers=1, dropout=0.0)
COLOR = h.ModelCase(
    name="coltran_color_upsampler",
    build=lambda seed: _randomized(ColorUpsampler(resolution=4, **UP)),
    batch=lambda seed: {
        **_rgb_batch(seed, 4),
        "coarse": np.random.default_rng(seed).integers(0, 8, (2, 4, 4, 3)),
    },
    logits=lambda model, batch: model(batch),
)
SPATIAL = h.ModelCase(
    name="coltran_spatial_upsampler",
    build=lambda seed: _randomized(SpatialUpsampler(resolution=8, low_resolution=4, num_chunks=2, **UP)),
    batch=lambda seed: {
        **_rgb_batch(seed, 8),
        "low_res": np.random.default_rng(seed).integers(0, 256, (2, 4, 4, 3)),
    },
    logits=lambda model, batch: model(batch),
)
CORE = _core_case(False)
CORE_ROW = _core_case(True)
ALL = [CORE, COLOR, SPATIAL]


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_config_round_trip(case):
    h.check_config_round_trip(case)


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_eager_graph_and_xla_agree(case):
    h.check_eager_graph_xla(case)


def test_core_is_causal_in_raster_order():
    h.check_causality(CORE, positions=[0, R - 1, R + 2, R * R - 2])


@pytest.mark.parametrize("case", [CORE, CORE_ROW], ids=["image-context", "row-context"])
@pytest.mark.parametrize("method,jit", [("naive", False), ("fast", False), ("fast", True)])
def test_core_step_logits_equal_teacher_forcing(case, method, jit):
    h.check_step_logits(case, method, jit)


@pytest.mark.parametrize("case", [CORE, CORE_ROW], ids=["image-context", "row-context"])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_core_fast_sampler_equals_naive_on_a_sharp_model(case, jit):
    sharpness = h.check_samplers_equal(case, "fast", jit)
    assert sharpness > 0.5  # the mean top probability: far from the near-uniform 1/512 of random weights


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_preprocessor_and_sample_spec(case):
    image = np.random.default_rng(0).integers(0, 256, size=(20, 13, 3)).astype(np.uint8)
    h.check_protocol_parts(case, {"image": tf.constant(image), "seed": tf.constant([1, 2], tf.int64)})
