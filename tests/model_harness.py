"""The checks every model package of this library passes, written once (STYLE.md, habit 11).

A model package describes its tiny model by one `ModelCase`; its test file parametrises the `check_*`
functions below over its cases (ColTran: tests/coltran/test_harness.py; PIC and PixColor add theirs):

  check_config_round_trip     get_config() is JSON, from_config rebuilds the same config and function
  check_eager_graph_xla       the teacher-forced logits agree eagerly, in a tf.function and under XLA
  check_causality             (autoregressive) perturbing the target at position p moves no logit at
                              positions <= p in the model's order, and moves some later ones
  check_step_logits           (with a sampler) each sampling step's logits equal the teacher-forced
                              logits on the sampled image
  check_samplers_equal        (with several samplers) the same samples and step logits, on a model
                              sharpened so that a 1e-3 change of any logit is caught
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

Batch = dict[str, Any]


@dataclass
class ModelCase:
    """What the harness needs to know about one tiny model.

    build(seed) -> model with random weights (every bias, gain and table random, so no path hides).
    batch(seed) -> a batch as the model's `preprocess` writes it (numpy or tensors).
    logits(model, batch) -> teacher-forced logits [B, positions..., K] (float tensor).
    Autoregressive models also give:
      num_positions: positions in generation order; perturb(batch, p) -> batch with position p's target
        changed (nothing else); position_axis(logits) -> logits reshaped [B, num_positions, K].
      sample(model, batch, method, jit) -> (samples, step logits [B, num_positions..., K]) drawn with a
        fixed seed; sample_logits(model, batch, samples) -> teacher-forced logits on the samples, shaped as
        the step logits; methods: the sampler names (the first is the reference).
    sharpen(model): scales the output layer so that predictions are sharp (see check_samplers_equal).
    """

    name: str
    build: Callable[[int], Any]
    batch: Callable[[int], Batch]
    logits: Callable[[Any, Batch], tf.Tensor]
    num_positions: int = 0
    perturb: Callable[[Batch, int], Batch] | None = None
    position_axis: Callable[[np.ndarray], np.ndarray] | None = None
    sample: Callable[..., tuple[Any, tf.Tensor]] | None = None
    sample_logits: Callable[[Any, Batch, Any], tf.Tensor] | None = None
    methods: tuple[str, ...] = field(default_factory=tuple)
    sharpen: Callable[[Any], None] | None = None
    atol: float = 1e-4


def check_config_round_trip(case: ModelCase) -> None:
    model = case.build(0)
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config, "get_config() must be plain JSON"
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    for a, b in zip(clone.weights, model.weights, strict=True):
        a.assign(b)
    batch = case.batch(1)
    np.testing.assert_allclose(
        case.logits(clone, batch).numpy(), case.logits(model, batch).numpy(), atol=1e-6
    )


def check_eager_graph_xla(case: ModelCase) -> None:
    model, batch = case.build(0), case.batch(2)
    batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
    eager = case.logits(model, batch).numpy()
    graph = tf.function(lambda b: case.logits(model, b), autograph=False)(batch).numpy()
    xla = tf.function(lambda b: case.logits(model, b), jit_compile=True, autograph=False)(batch).numpy()
    np.testing.assert_allclose(graph, eager, atol=case.atol, rtol=0)
    np.testing.assert_allclose(xla, eager, atol=case.atol, rtol=0)


def check_causality(case: ModelCase, positions: list[int]) -> None:
    """For each p: logits at positions <= p unchanged (to 1e-6), some after p changed (by > 1e-4)."""
    model, batch = case.build(0), case.batch(3)
    base = case.position_axis(case.logits(model, batch).numpy())
    for p in positions:
        moved = np.abs(case.position_axis(case.logits(model, case.perturb(batch, p)).numpy()) - base)
        moved = moved.max(axis=(0, 2))  # [positions]
        assert moved[: p + 1].max() < 1e-6, f"{case.name}: a logit at or before position {p} moved"
        if p + 1 < case.num_positions:
            assert moved[p + 1 :].max() > 1e-4, f"{case.name}: nothing after position {p} moved"


def check_step_logits(case: ModelCase, method: str, jit: bool = False) -> None:
    model, batch = case.build(0), case.batch(4)
    samples, step_logits = case.sample(model, batch, method, jit)
    expected = case.sample_logits(model, batch, samples).numpy()
    np.testing.assert_allclose(step_logits.numpy(), expected, atol=case.atol, rtol=0)


def check_samplers_equal(case: ModelCase, method: str, jit: bool = False) -> float:
    """`method` against the reference sampler `case.methods[0]` on a sharpened model: equal samples and
    step logits within `case.atol` (< 1e-3, so a 1e-3 change of any logit fails). Returns the largest
    step probability's mean over positions (callers assert the model is sharp)."""
    model, batch = case.build(0), case.batch(5)
    case.sharpen(model)
    ref_samples, ref_logits = case.sample(model, batch, case.methods[0], False)
    samples, logits = case.sample(model, batch, method, jit)
    np.testing.assert_array_equal(np.asarray(samples), np.asarray(ref_samples))
    np.testing.assert_allclose(logits.numpy(), ref_logits.numpy(), atol=case.atol, rtol=0)
    return float(tf.reduce_mean(tf.reduce_max(tf.nn.softmax(ref_logits), axis=-1)))


def check_protocol_parts(case: ModelCase, example: dict) -> None:
    """The class's `preprocessor(**config)` equals the instance's `preprocess` (no model needed for it),
    and `sample_spec()` starts with "gray" and describes inputs that `sample` accepts by those names."""
    model = case.build(0)
    config = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable", "dtype")}
    for training in (False, True):
        got = type(model).preprocessor(**config)(example, training)
        want = model.preprocess(example, training)
        assert sorted(got) == sorted(want)
        for key in want:
            np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]))
    spec = model.sample_spec()
    assert next(iter(spec)) == "gray"
    batch = case.batch(6)
    inputs = {}
    for name, s in spec.items():
        value = np.asarray(batch[name])
        assert value.shape[1:] == tuple(s.shape[1:]), f"{case.name}: {name} {value.shape} vs {s.shape}"
        assert s.minval <= value.min() and value.max() <= s.maxval, f"{case.name}: {name} out of its range"
        inputs[name] = tf.constant(value, s.dtype)
    gray = inputs.pop("gray")
    out = model.sample(gray, num_samples=1, seed=0, temperature=0.0, **inputs)
    assert out["rgb"].shape[:2] == (gray.shape[0], 1)
