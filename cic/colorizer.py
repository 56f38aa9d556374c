"""CIC behind `colorize --model=cic` (the protocol of common/colorize/protocol.py) and `colorize-evaluate`.

`load(weights)` takes, for `--weights`, a colorize-train work directory of a "cic" model (config.json +
checkpoints/, or its slim copy, common/train/slim.py); None: the embedded default model at
DEFAULT_WEIGHTS when this install has one.

CIC is deterministic: every sample of a photo is the same decode (`CICColorizer.sample`), computed once
per photo; `temperature` scales the paper's annealing temperature (1 = T 0.38, 0 = mode) and `top_k`
keeps the k most probable bins. Up to `batch_size` photos go through the network at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from common.colorize.protocol import Draw, Job
from common.colorize.weights import WeightsError, load_single_run  # noqa: F401 (WeightsError: re-exported)

DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "default")


class LoadedCIC:
    """common.colorize.protocol.Colorizer (and its optional Likelihood) for a CICColorizer."""

    name = "cic"

    def __init__(self, model: Any, weights: str) -> None:
        self.model, self.weights = model, weights
        r = int(model.resolution)
        self.input_sizes = (r,)
        self.likelihood = (
            f"CIC: 313 ab bins per pixel at {r // 4}x{r // 4} (1/4 of {r}x{r}) given the gray (central "
            "square crop, area resize)"
        )
        self._sample = tf.function(self._sample_fn, autograph=False)
        self._log_prob = tf.function(model.log_prob, autograph=False)

    def _sample_fn(self, gray: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor) -> tuple[tf.Tensor, ...]:
        out = self.model.sample(gray, num_samples=1, temperature=temperature, top_k=top_k)
        rgb = tf.cast(tf.clip_by_value(tf.round(out["rgb"][:, 0] * 255.0), 0.0, 255.0), tf.uint8)
        return rgb, out["uncertainty"][:, 0]

    def colorize(
        self, jobs: Sequence[Job], *, num_samples: int, temperature: float, top_k: int, batch_size: int
    ) -> Iterator[Draw]:
        """num_samples equal Draws per job (rgb uint8 [R, R, 3], uncertainty [R/4, R/4]), job-major."""
        r = self.input_sizes[0]
        for start in range(0, len(jobs), max(1, batch_size)):
            chunk = jobs[start : start + max(1, batch_size)]
            gray = tf.constant(np.stack([j.grays[r] for j in chunk])[..., None], tf.float32)
            rgb, prob = self._sample(gray, tf.constant(temperature, tf.float32), tf.constant(top_k, tf.int32))
            rgb, prob = rgb.numpy(), prob.numpy()
            for i in range(len(chunk)):
                for n in range(num_samples):
                    yield Draw(start + i, n, rgb[i], prob[i])

    def bits_per_dim(self, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """uint8 [N, H, W, 3] photos (any size) -> float64 [N]: -log2 p(nearest ab bins | gray) per output
        pixel, each photo preprocessed as for evaluation (central square crop, area resize to R)."""
        side = self.model.output_size
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            examples = [self.model.preprocess({"image": tf.constant(x)}, False) for x in chunk]
            batch = {k: tf.stack([e[k] for e in examples]) for k in ("gray", "ab")}
            out.append(-self._log_prob(batch).numpy().astype(np.float64))
        return np.concatenate(out) / (side * side * np.log(2.0)) if out else np.zeros([0])


def load(weights: str | None) -> LoadedCIC:
    """--weights (see the module docstring) -> a LoadedCIC. Raises WeightsError (one line)."""
    missing = (
        f"no default CIC model in this install ({DEFAULT_WEIGHTS} is missing); pass "
        "--weights=<a colorize-train work directory of configs/cic.py>"
    )
    return LoadedCIC(*load_single_run(weights, "cic", DEFAULT_WEIGHTS, missing))
