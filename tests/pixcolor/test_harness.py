"""The shared model checks (tests/model_harness.py) on PixColor's two models, plus PixColor's own order:
Cr before Cb inside a pixel, no blind spot (the pixel above-right counts, the next pixel does not)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pixcolor.sampler import sample_bins
from tests import model_harness as h
from tests.pixcolor.conftest import (
    LOW,
    pixcolor_batch,
    refinement_batch,
    tiny_pixcolor,
    tiny_refinement,
)

POSITIONS = LOW * LOW * 2  # (i, j, channel) in generation order: p = (i * LOW + j) * 2 + channel


def _perturb(batch: dict, p: int) -> dict:
    """Another bin (16 away) at position p; nothing else changes."""
    chroma = np.array(batch["chroma"])
    pixel, channel = divmod(p, 2)
    i, j = divmod(pixel, LOW)
    chroma[:, i, j, channel] = (chroma[:, i, j, channel] + 16) % 32
    return {**batch, "chroma": chroma}


def _sample(model, batch, method, jit):
    bins, _, logits = sample_bins(
        model, batch["gray"], num_samples=2, seed=7, method=method, jit_compile=jit, return_logits=True
    )
    return bins.numpy(), tf.reshape(logits, [*bins.shape[:2], POSITIONS, -1])  # 4-D: oneDNN's softmax


def _sample_logits(model, batch, bins):
    b, n = bins.shape[:2]
    gray = tf.repeat(tf.constant(batch["gray"]), n, axis=0)
    logits = model.logits(gray, tf.constant(bins.reshape(b * n, LOW, LOW, 2)))
    return tf.reshape(logits, [b, n, POSITIONS, -1])


def _sharpen(model) -> None:
    """Output layer x 40, once: most steps put most of their probability on one bin (a trained model's
    regime) and the logits are large, so a relative error would show."""
    if not getattr(model, "_sharpened", False):
        kernel = model.pixelcnn.head_out.kernel
        kernel.assign(kernel * 40.0)
        model._sharpened = True


def _pixcolor_case(key: str) -> h.ModelCase:
    return h.ModelCase(
        name=f"pixcolor{key}",
        build=lambda seed: tiny_pixcolor(seed, key),
        batch=pixcolor_batch,
        logits=lambda model, batch: model(batch),
        num_positions=POSITIONS,
        perturb=_perturb,
        position_axis=lambda logits: logits.reshape(logits.shape[0], POSITIONS, -1),
        sample=_sample,
        sample_logits=_sample_logits,
        methods=("naive", "fast"),
        sharpen=_sharpen,
    )


PIXCOLOR = _pixcolor_case("")
SHARP = _pixcolor_case("-sharp")
REFINEMENT = h.ModelCase(
    name="pixcolor_refinement",
    build=tiny_refinement,
    batch=refinement_batch,
    logits=lambda model, batch: model(batch),
)
ALL = [PIXCOLOR, REFINEMENT]


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_config_round_trip(case):
    h.check_config_round_trip(case)


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_eager_graph_and_xla_agree(case):
    h.check_eager_graph_xla(case)


def test_pixcolor_is_causal_in_raster_then_cr_cb_order():
    # Cr and Cb of the first pixel, the end of row 0, the start of row 1, inside the last row.
    h.check_causality(PIXCOLOR, positions=[0, 1, 2 * LOW - 1, 2 * LOW, POSITIONS - 3])


def _moved(model, batch, changed) -> np.ndarray:
    """|logits(changed) - logits(batch)| maxed over batch and bins: [LOW, LOW, 2]."""
    return np.abs(model(changed).numpy() - model(batch).numpy()).max(axis=(0, 4))


def test_cr_comes_before_cb_inside_a_pixel_and_there_is_no_blind_spot():
    model, batch = tiny_pixcolor(0), pixcolor_batch(3)
    i, j = 1, 1
    # Cr of (i, j) moves the Cb logits of (i, j) and not its own Cr logits.
    moved = _moved(model, batch, _perturb(batch, (i * LOW + j) * 2))
    assert moved[i, j, 1] > 1e-4 and moved[i, j, 0] < 1e-6
    # Cb of (i, j) moves neither logit of (i, j).
    assert _moved(model, batch, _perturb(batch, (i * LOW + j) * 2 + 1))[i, j].max() < 1e-6
    # The pixel above-right (i - 1, j + 1), both channels: moves both logits of (i, j) (no blind spot).
    above_right = _perturb(_perturb(batch, ((i - 1) * LOW + j + 1) * 2), ((i - 1) * LOW + j + 1) * 2 + 1)
    assert _moved(model, batch, above_right)[i, j].min() > 1e-4
    # The next pixel (i, j + 1): moves no logit of (i, j) nor of any earlier pixel.
    nxt = _perturb(_perturb(batch, (i * LOW + j + 1) * 2), (i * LOW + j + 1) * 2 + 1)
    assert _moved(model, batch, nxt).reshape(-1, 2)[: i * LOW + j + 1].max() < 1e-6


def test_the_vertical_stack_carries_the_row_above_beyond_the_first_layer():
    """3x3 kernels: (i - 1, j + 2) lies outside the first layer's reach of (i, j); only the vertical stack,
    shifted down into the horizontal one, brings it (3 blocks widen it by one column each). The path runs
    through 3 gates, so it is weak with random weights: logits that do not depend on a pixel stay bitwise
    equal (Cb of (i - 1, j + 3), which no feature of row i - 1 sees: exactly 0), so 1e-7 is a clear margin."""
    model = tiny_pixcolor(0, "narrow", first_size=3, block_size=3, num_blocks=3, init_stddev=0.2)
    batch = pixcolor_batch(3, batch=8)
    i, j = 2, 0
    far = _perturb(_perturb(batch, ((i - 1) * LOW + j + 2) * 2), ((i - 1) * LOW + j + 2) * 2 + 1)
    assert _moved(model, batch, far)[i, j].min() > 1e-7
    assert _moved(model, batch, _perturb(batch, ((i - 1) * LOW + j + 3) * 2 + 1))[i, j].max() == 0.0


@pytest.mark.parametrize("method", ["naive", "fast"])
def test_step_logits_equal_teacher_forcing(method):
    h.check_step_logits(PIXCOLOR, method)


def test_fast_sampler_equals_naive_on_a_sharp_model():
    sharpness = h.check_samplers_equal(SHARP, "fast")
    assert sharpness > 0.5  # the mean top probability: far from 1/32


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_preprocessor_and_sample_spec(case):
    image = np.random.default_rng(0).integers(0, 256, size=(40, 56, 3)).astype(np.uint8)
    h.check_protocol_parts(case, {"image": tf.constant(image), "seed": tf.constant([1, 2], tf.int64)})
