"""Tests of coltran/pixel_step.py's pieces (the whole step is tested against teacher forcing in
test_sampler.py, with and without XLA)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coltran.pixel_step import normalize, split_dot, split_kernel


@pytest.mark.parametrize("parts,fan_in", [(1, 8), (2, 8), (4, 8), (2, 7)], ids=["1", "2", "4", "indivisible"])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_split_dot_equals_the_plain_product(parts, fan_in, jit):
    rng = np.random.default_rng(parts + fan_in)
    kernel = rng.normal(size=(fan_in, 6)).astype(np.float32)
    x = rng.normal(size=(3, fan_in)).astype(np.float32)
    blocks = split_kernel(tf.constant(kernel), parts)
    assert blocks.shape[0] == (parts if fan_in % parts == 0 else 1)
    out = tf.function(split_dot, jit_compile=jit)(tf.constant(x), blocks).numpy()
    np.testing.assert_allclose(out, x @ kernel, rtol=1e-5, atol=1e-5)


def test_normalize_matches_keras_layer_norm():
    x = np.random.default_rng(0).normal(loc=3.0, scale=2.0, size=(4, 16)).astype(np.float32)
    keras_ln = tf.keras.layers.LayerNormalization(epsilon=1e-6, center=False, scale=False)
    np.testing.assert_allclose(normalize(tf.constant(x), 1e-6).numpy(), keras_ln(x).numpy(), atol=1e-5)
