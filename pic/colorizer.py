"""PIC behind `colorize --model=pic` (the protocol of common/colorize/protocol.py) and `colorize-evaluate`.

`load(weights)` takes, for `--weights`, a work directory of a "pic" model: what colorize-train writes
(config.json + checkpoints/, or its slim copy, common/train/slim.py) and what colorize-import-pic writes
from the authors' checkpoints (their Polyak averages: `load_for_inference` reads the EMA section). None:
the embedded default model at DEFAULT_WEIGHTS when this install has one.

The runner hands the squashed frame's BT.601 luminance Y; PIC reads Lab L / 100, taken here as the
lightness of the gray sRGB pixel (Y, Y, Y). Sample n of a photo is `PICColorizer.sample` of that square
as a batch of one with the seed pair [image seed, n] (Royer et al. 2017 §3: chroma drawn pixel by pixel
at R/d, upsampled and joined with L), so it depends on neither the other photos nor `batch_size`; each
draw is one sampler call (the fast sampler's memory is that of one draw, whatever batch_size).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from common.color import rgb_to_lab
from common.colorize.protocol import Draw, Job
from common.colorize.weights import WeightsError, load_single_run  # noqa: F401 (WeightsError: re-exported)

DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "default")


def gray_lightness(y: np.ndarray | tf.Tensor) -> tf.Tensor:
    """Luminance Y [..., R, R] in [0, 1] -> PIC's input, Lab L / 100 of the gray pixel, [..., R, R, 1]."""
    y = tf.convert_to_tensor(y, tf.float32)[..., None]
    return rgb_to_lab(tf.tile(y, [1] * (y.shape.rank - 1) + [3]))[..., :1] / 100.0


class LoadedPIC:
    """common.colorize.protocol.Colorizer (and its optional Likelihood) for a PICColorizer."""

    name = "pic"

    def __init__(self, model: Any, weights: str) -> None:
        self.model, self.weights = model, weights
        r = int(model.resolution)
        self.input_sizes = (r,)
        small = model.low_resolution
        self.likelihood = (
            f"PIC: Lab (a, b) on 256 x 256 bins per pixel at {small}x{small} (1/{model.downsample} of "
            f"{r}x{r}) given L (central square crop, area resize)"
        )
        self._log_prob = tf.function(model.log_prob, autograph=False)

    def _draw(
        self, gray: np.ndarray, seed: int, n: int, temperature: float, top_k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One draw: (rgb uint8 [R, R, 3], uncertainty [r, r])."""
        out = self.model.sample(
            gray_lightness(gray[None]),
            num_samples=1,
            seed=tf.constant([seed, n], tf.int32),
            temperature=tf.constant(temperature, tf.float32),
            top_k=int(top_k),
        )
        rgb = np.clip(np.round(out["rgb"].numpy()[0, 0] * 255.0), 0, 255).astype(np.uint8)
        return rgb, out["uncertainty"].numpy()[0, 0]

    def colorize(
        self, jobs: Sequence[Job], *, num_samples: int, temperature: float, top_k: int, batch_size: int
    ) -> Iterator[Draw]:
        """num_samples Draws per job (rgb uint8 [R, R, 3], uncertainty [r, r]), job-major, one per call."""
        del batch_size  # one draw per sampler call (see the module docstring)
        r = self.input_sizes[0]
        for index, job in enumerate(jobs):
            for n in range(num_samples):
                rgb, uncertainty = self._draw(job.grays[r], job.seed, n, temperature, top_k)
                yield Draw(index, n, rgb, uncertainty)

    def bits_per_dim(self, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """uint8 [N, H, W, 3] photos (any size) -> float64 [N]: f's -log2 p(a, b | L) per chroma dimension
        (r * r * 2), each photo preprocessed as for evaluation (central square crop, area resize to R)."""
        dims = self.model.low_resolution**2 * 2
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            examples = [self.model.preprocess({"image": tf.constant(x)}, False) for x in chunk]
            batch = {k: tf.stack([e[k] for e in examples]) for k in ("gray", "rgb")}
            out.append(-self._log_prob(batch).numpy().astype(np.float64))
        return np.concatenate(out) / (dims * math.log(2.0)) if out else np.zeros([0])


def load(weights: str | None) -> LoadedPIC:
    """--weights (see the module docstring) -> a LoadedPIC. Raises WeightsError (one line)."""
    missing = (
        f"no default PIC model in this install ({DEFAULT_WEIGHTS} is missing); pass --weights=<a "
        "colorize-train work directory of configs/pic.py, or one written by colorize-import-pic>"
    )
    return LoadedPIC(*load_single_run(weights, "pic", DEFAULT_WEIGHTS, missing))
