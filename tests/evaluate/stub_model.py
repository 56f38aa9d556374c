"""A tiny TensorFlow Colorizer for the distribution tests (registered as "stub" by the tests only):
colours are stateless random draws from the seed pair [image seed, sample] times a variable, in an XLA
function (as ColTran's sampler), so equal seeds must give
equal samples whatever the device, replica or worker; each draw records the device it ran on and,
with STUB_LOG set, appends "<TF_CONFIG task index> <image seed>" to that file."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import tensorflow as tf

from common.colorize.protocol import Draw

DEVICES: list[str] = []
_LOCK = threading.Lock()


class StubColorizer:
    name = "stub"
    input_sizes = (16,)

    def __init__(self, weights: str | None) -> None:
        self.weights = f"stub: {weights}"
        self.scale = tf.Variable(1.0)  # on the device it is loaded under, like a real model's weights
        # XLA, as ColTran's sampler: it cannot read a variable that lives on another device
        self._draw = tf.function(
            lambda seed: tf.random.stateless_uniform([16, 16, 3], seed=seed) * self.scale, jit_compile=True
        )

    def colorize(self, jobs, *, num_samples, temperature, top_k, batch_size):
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
        for j, job in enumerate(jobs):
            if os.environ.get("STUB_LOG"):
                with _LOCK, open(os.environ["STUB_LOG"], "a") as f:
                    f.write(f"{task} {job.seed}\n")
            for n in range(num_samples):
                u = self._draw(tf.constant([job.seed, n], tf.int64))
                with _LOCK:
                    DEVICES.append(u.device)
                yield Draw(j, n, np.round(u.numpy() * 255).astype(np.uint8), None)


def load(weights: str | None) -> StubColorizer:
    return StubColorizer(weights)
