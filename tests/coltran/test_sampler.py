"""Tests of coltran/sampler.py: the fast sampler against teacher forcing and against the naive sampler."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coltran.constants import NUM_COARSE_COLORS
from coltran.sampler import draw, row_gumbel, sample_symbols
from common.quantize import coarse_to_8bit, symbol_to_coarse
from tests.coltran.test_core import CONDITIONING, R, make_core


def _gray(seed: int, batch: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(batch, R, R, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def core():
    return make_core(11)


def _teacher_forced(model, gray: np.ndarray, symbols: np.ndarray, row_context: bool = False) -> np.ndarray:
    """Logits [B, N, R, R, 512] of the teacher-forced decoder on each sampled image."""
    batch, num = symbols.shape[:2]
    gray8 = tf.repeat(model.gray_levels(gray), num, axis=0)
    z = model.encode(gray8)
    logits = model.decode(
        z, tf.constant(symbols.reshape(batch * num, R, R), tf.int32), row_context=row_context
    )
    return logits.numpy().reshape(batch, num, R, R, NUM_COARSE_COLORS)


@pytest.mark.parametrize(
    "cond,method,jit,row_context",
    [(c, "fast", False, False) for c in CONDITIONING]
    + [(CONDITIONING[0], "fast", True, False), (CONDITIONING[0], "naive", False, False)]
    + [(CONDITIONING[0], m, j, True) for m, j in (("fast", False), ("fast", True), ("naive", False))],
    ids=["fast-paper", "fast-none", "fast-shift", "fast-scale", "fast-paper-xla", "naive-paper"]
    + ["row-context-fast", "row-context-fast-xla", "row-context-naive"],
)
def test_step_logits_equal_teacher_forced_logits(cond, method, jit, row_context):
    """Every step's logits equal the teacher-forced decoder's on the sampled image; with the authors'
    sampling context, the teacher-forced decoder with `row_context` (each row's cLNs pool that row)."""
    model = make_core(12, **cond, row_context_sampling=row_context)
    gray = _gray(1)
    gray8 = model.gray_levels(gray)
    symbols, max_prob, logits = sample_symbols(
        model, gray8, num_samples=2, seed=5, method=method, return_logits=True, jit_compile=jit
    )
    expected = _teacher_forced(model, gray, symbols.numpy(), row_context)
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(max_prob.numpy(), tf.nn.softmax(expected).numpy().max(-1), atol=1e-5)


@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (0.0, 0), (0.7, 5)])
def test_fast_samples_equal_naive_samples(core, temperature, top_k):
    gray = _gray(2)
    kwargs = dict(num_samples=2, seed=9, temperature=temperature, top_k=top_k)
    fast = core.sample(gray, **kwargs)
    naive = core.sample(gray, method="naive", **kwargs)
    np.testing.assert_array_equal(fast["symbols"].numpy(), naive["symbols"].numpy())
    np.testing.assert_allclose(fast["uncertainty"].numpy(), naive["uncertainty"].numpy(), atol=1e-5)
    if temperature == 0:  # argmax decoding: the two samples agree
        np.testing.assert_array_equal(fast["symbols"].numpy()[:, 0], fast["symbols"].numpy()[:, 1])


def test_images_of_one_call_get_independent_noise(core):
    """Two copies of one image in a batch get different samples (today's noise is per image); an
    image's samples depend on its index and the seed, not on its batch-mates nor on the batch size."""
    gray = _gray(3, batch=3)
    twins = np.stack([gray[0], gray[0]])
    out = core.sample(twins, num_samples=1, seed=4)["symbols"].numpy()
    assert (out[0] != out[1]).mean() > 0.5  # near-uniform random model: most pixels differ
    batched = core.sample(gray, num_samples=2, seed=4)["symbols"].numpy()
    other_mates = core.sample(np.stack([gray[0], gray[2], gray[1]]), num_samples=2, seed=4)["symbols"].numpy()
    np.testing.assert_array_equal(other_mates[0], batched[0])
    np.testing.assert_array_equal(
        core.sample(gray[:1], num_samples=2, seed=4)["symbols"].numpy()[0], batched[0]
    )
    np.testing.assert_array_equal(
        core.sample(gray[:2], num_samples=2, seed=4)["symbols"].numpy(), batched[:2]
    )


def test_seeds_and_samples_differ_and_repeat(core):
    gray = _gray(4, batch=1)
    a = core.sample(gray, num_samples=2, seed=1)["symbols"].numpy()
    b = core.sample(gray, num_samples=2, seed=1)["symbols"].numpy()
    c = core.sample(gray, num_samples=2, seed=2)["symbols"].numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.5  # random weights give near-uniform logits: most pixels differ
    assert (a[:, 0] != a[:, 1]).mean() > 0.5


def test_sample_output_contract(core):
    gray = _gray(5)
    out = core.sample(gray, num_samples=3, seed=0)
    assert out["rgb"].shape == (2, 3, R, R, 3) and out["rgb"].dtype == tf.float32
    assert out["coarse"].shape == (2, 3, R, R, 3) and out["coarse"].dtype == tf.int32
    assert out["uncertainty"].shape == (2, 3, R, R)
    np.testing.assert_array_equal(out["coarse"].numpy(), symbol_to_coarse(out["symbols"]).numpy())
    np.testing.assert_allclose(out["rgb"].numpy(), coarse_to_8bit(out["coarse"]).numpy() / 255.0)
    u = out["uncertainty"].numpy()
    assert np.all(u >= 1.0 / NUM_COARSE_COLORS - 1e-6) and np.all(u <= 1.0)


def test_draw_follows_softmax_with_temperature_and_top_k():
    """Gumbel-max on the hashed noise reproduces softmax(top_k(logits) / T) frequencies."""
    num = 4096
    noise = tf.reshape(
        row_gumbel(tf.constant([3, 0]), 0, 1, num), [num, NUM_COARSE_COLORS]
    )  # one pixel per draw
    logits = np.full((num, NUM_COARSE_COLORS), -30.0, np.float32)
    logits[:, :4] = [2.0, 1.0, 0.5, 0.0]
    for temperature, top_k in [(1.0, 0), (0.5, 0), (1.0, 2)]:
        draws = draw(tf.constant(logits), noise, tf.constant(temperature), top_k)[0].numpy()
        kept = logits[0, :4] if top_k == 0 else np.where(np.arange(4) < top_k, logits[0, :4], -np.inf)
        p = np.exp(kept / temperature - np.max(kept / temperature))
        p /= p.sum()
        counts = np.bincount(draws, minlength=NUM_COARSE_COLORS)
        assert counts[4:].sum() == 0
        np.testing.assert_allclose(counts[:4] / num, p, atol=0.03)  # std of each frequency <= 0.008
    # Temperature 0 is the argmax whatever the noise.
    np.testing.assert_array_equal(draw(tf.constant(logits), noise, tf.constant(0.0), 0)[0].numpy(), 0)


def test_xla_fast_sampler_gives_the_same_samples(core):
    """XLA on the per-pixel loop: the hashed noise is integer arithmetic, identical under XLA."""
    gray = _gray(6, batch=1)
    plain = core.sample(gray, num_samples=2, seed=3, jit_compile=False)
    xla = core.sample(gray, num_samples=2, seed=3, jit_compile=True)
    np.testing.assert_array_equal(plain["symbols"].numpy(), xla["symbols"].numpy())
    np.testing.assert_allclose(plain["uncertainty"].numpy(), xla["uncertainty"].numpy(), atol=1e-5)


def test_partial_rows_match_the_full_sample(core):
    """The benchmark times the first rows only; they are the same rows as in a full sample."""
    gray8 = core.gray_levels(_gray(7, batch=1))
    full = sample_symbols(core, gray8, seed=2)[0].numpy()
    part = sample_symbols(core, gray8, seed=2, num_rows=2, method="naive")[0].numpy()
    np.testing.assert_array_equal(part, full[:, :, :2])


def test_bad_sampler_arguments_are_named(core):
    gray8 = core.gray_levels(_gray(0, batch=1))
    with pytest.raises(ValueError, match="method"):
        sample_symbols(core, gray8, method="beam")
    with pytest.raises(ValueError, match="top_k"):
        sample_symbols(core, gray8, top_k=-1)
    with pytest.raises(ValueError, match="num_samples"):
        sample_symbols(core, gray8, num_samples=0)
    with pytest.raises(ValueError, match="temperature"):
        sample_symbols(core, gray8, temperature=-0.5)
    with pytest.raises(ValueError, match="num_rows"):
        sample_symbols(core, gray8, num_rows=R + 1)
    with pytest.raises(ValueError, match="jit_compile"):
        sample_symbols(core, gray8, jit_compile="yes")


@pytest.mark.parametrize("in_place", [False, True], ids=["rolling", "in-place"])
def test_sampler_cached_row_attention_ignores_unwritten_slots_and_equals_full_masked_attention(in_place):
    """The fast sampler's own cached step (rolling buffer, or in-place slots as under XLA) on
    garbage-initialised caches: at every pixel it equals the full masked row attention, so nothing beyond
    the written slots leaks in."""
    from coltran.attention import AxialAttention
    from coltran.sampler import _cached_step, _step_tables

    b, w, d, heads = 2, 5, 8, 2
    att = AxialAttention(d, heads, axis="row", masked=True, cond_mode="affine")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(b, 1, w, d)).astype(np.float32)
    ctx = rng.normal(size=(b, 1, w, d)).astype(np.float32)
    att(x, ctx)
    for v in att.weights:
        v.assign(rng.normal(scale=0.5, size=v.shape).astype(np.float32))
    mods = att.modulation(ctx)
    full = att(x, ctx).numpy()[:, 0]  # [B, W, D]
    garbage = rng.normal(loc=50.0, size=(b * heads, w, d // heads)).astype(np.float32)
    caches = [(tf.constant(garbage), tf.constant(-garbage))]
    table = _step_tables(att, in_place)
    for p in range(w):
        pixel_mods = {k: tuple(t[:, 0, p] for t in m) for k, m in mods.items()}
        qkv = att.project(tf.constant(x[:, 0, p]), pixel_mods)  # each [B, heads, d]
        step = att.output(_cached_step(caches, 0, table, tf.constant(p), qkv, in_place)).numpy()
        np.testing.assert_allclose(step, full[:, p], rtol=1e-5, atol=1e-5)
