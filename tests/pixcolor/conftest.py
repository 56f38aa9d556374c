"""Tiny PixColor models shared by tests/pixcolor (built once per session: building costs seconds)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pixcolor.model import PixColor
from pixcolor.refinement_model import PixColorRefinement

R = 32  # gray side: 4 x 4 chroma, 32 autoregressive positions
LOW = R // 8
TINY = dict(
    resolution=R,
    resnet_blocks=[1, 1, 1],
    resnet_width=4,
    adaptation_channels=8,
    adaptation_layers=2,
    channels=8,
    first_size=7,
    num_blocks=2,
    block_size=5,
    head_channels=16,
    batch_norm_momentum=0.9,
)
TINY_REFINEMENT = dict(resolution=R, width_divisor=32, batch_norm_momentum=0.9, skips=True)  # as the default
_CACHE: dict = {}


def randomize(model, seed: int):
    """Every bias and batch-norm parameter random too (zero biases and unit gains would hide paths)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, size=w.shape).astype(np.float32))
        elif any(k in w.path for k in ("bias", "beta", "gamma", "moving_mean")):
            w.assign(w.numpy() + rng.normal(scale=0.3, size=w.shape).astype(np.float32))
    return model


def tiny_pixcolor(seed: int = 0, key: str = "", **overrides) -> PixColor:
    """A tiny PixColor with random weights, built once per (key, seed, overrides) and shared."""
    cache_key = ("pixcolor", key, seed, tuple(sorted(overrides.items())))
    if cache_key not in _CACHE:
        tf.keras.utils.set_random_seed(seed)
        _CACHE[cache_key] = randomize(PixColor(**{**TINY, **overrides}), seed)
    return _CACHE[cache_key]


def tiny_refinement(seed: int = 0) -> PixColorRefinement:
    if ("refinement", seed) not in _CACHE:
        tf.keras.utils.set_random_seed(seed)
        model = randomize(PixColorRefinement(**TINY_REFINEMENT), seed)
        # The output layer starts at 0 (the residual design); random here so the network's path shows.
        rng = np.random.default_rng(seed)
        out = model.network.out.kernel
        out.assign(rng.normal(scale=0.1, size=out.shape).astype(np.float32))
        _CACHE[("refinement", seed)] = model
    return _CACHE[("refinement", seed)]


def pixcolor_batch(seed: int, batch: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "gray": rng.uniform(size=(batch, R, R, 1)).astype(np.float32),
        "chroma": rng.integers(0, 32, size=(batch, LOW, LOW, 2)).astype(np.int32),
    }


def refinement_batch(seed: int, batch: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "gray": rng.uniform(size=(batch, R, R, 1)).astype(np.float32),
        "chroma": rng.uniform(size=(batch, R, R, 2)).astype(np.float32),
        "chroma_low": rng.uniform(size=(batch, LOW, LOW, 2)).astype(np.float32),
    }
