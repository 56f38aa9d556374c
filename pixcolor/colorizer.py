"""PixColor behind `colorize --model=pixcolor` (the protocol of common/colorize/protocol.py) and
`colorize-evaluate`.

`load(weights)` takes, for `--weights`, a folder holding two colorize-train work directories (or their slim
copies, common/train/slim.py): pixcolor/ (configs/pixcolor.py) and pixcolor_refinement/
(configs/pixcolor_refinement.py); None: the embedded default models at DEFAULT_WEIGHTS when this install
has them.

Sampling (pixcolor/pipeline.py, the same graph as the export's): draw n of a photo uses the seed pair
[image seed, n] as a batch of one, so it depends on neither the other photos nor the batch size, and
equals sample n of the exported serving_default for that photo alone with seed = its image seed. Up to
`batch_size` (photo, sample) draws go into one model call, run one after another inside it. A draw is
coloured at the refinement's resolution S (the squashed frame; the runner un-squashes and keeps the
photo's luminance); its uncertainty [h, h] is the lower of the Cr and Cb maximum probabilities.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from common.colorize.protocol import Draw, Job
from pixcolor import pipeline
from pixcolor.constants import NUM_CHROMA

DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "default")
STAGES = ("pixcolor", "pixcolor_refinement")


class WeightsError(ValueError):
    """--weights names nothing loadable; the message is one line saying what was expected."""


class LoadedPixColor:
    """common.colorize.protocol.Colorizer (and its optional Likelihood) for a PixColor + refinement."""

    name = "pixcolor"

    def __init__(self, model: Any, refinement: Any, weights: str) -> None:
        self.model, self.refinement, self.weights = model, refinement, weights
        self.r, self.big = int(model.resolution), int(refinement.resolution)
        self.input_sizes = tuple(sorted({self.r, self.big}))
        h = model.low_resolution
        self.likelihood = (
            f"PixColor: {model.num_bins} Cr and {model.num_bins} Cb bins per pixel at {h}x{h} (1/8 of "
            f"{self.r}x{self.r}) given the gray (central square crop, area resize)"
        )
        self._draw = tf.function(
            self._draw_fn,
            input_signature=[
                tf.TensorSpec([None, self.r, self.r, 1], tf.float32),
                tf.TensorSpec([None, self.big, self.big, 1], tf.float32),
                tf.TensorSpec([None, 2], tf.int32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.int32),
            ],
            autograph=False,
        )
        self._log_prob = tf.function(model.log_prob, autograph=False)

    def _draw_fn(self, small, large, seeds, temperature, top_k) -> tuple[tf.Tensor, tf.Tensor]:
        out = pipeline.draw_chroma(self.model, self.refinement, small, large, seeds, temperature, top_k)
        return pipeline.to_uint8(pipeline.join_in_gamut(large, out["chroma"])), out["uncertainty"]

    def colorize(
        self, jobs: Sequence[Job], *, num_samples: int, temperature: float, top_k: int, batch_size: int
    ) -> Iterator[Draw]:
        """num_samples Draws per job (rgb uint8 [S, S, 3], uncertainty [h, h]), job-major, at most
        batch_size draws per model call. top_k >= num_bins (32) keeps every bin, as 0 does."""
        pairs = [(j, n) for j in range(len(jobs)) for n in range(num_samples)]
        step = max(1, batch_size)
        for start in range(0, len(pairs), step):
            chunk = pairs[start : start + step]
            small = np.stack([jobs[j].grays[self.r] for j, _ in chunk])[..., None]
            large = np.stack([jobs[j].grays[self.big] for j, _ in chunk])[..., None]
            seeds = np.array([[jobs[j].seed, n] for j, n in chunk], np.int32)
            rgb, prob = self._draw(
                tf.constant(small, tf.float32),
                tf.constant(large, tf.float32),
                tf.constant(seeds),
                tf.constant(temperature, tf.float32),
                tf.constant(top_k, tf.int32),
            )
            rgb, prob = rgb.numpy(), prob.numpy()
            for i, (j, n) in enumerate(chunk):
                yield Draw(j, n, rgb[i], prob[i])

    def bits_per_dim(self, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """uint8 [N, H, W, 3] photos (any size) -> float64 [N]: -log2 p(chroma bins | gray) per chroma
        value (h * h * 2), each photo preprocessed as for evaluation (central square crop, area resize)."""
        dims = self.model.low_resolution**2 * NUM_CHROMA
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            examples = [self.model.preprocess({"image": tf.constant(x)}, False) for x in chunk]
            batch = {k: tf.stack([e[k] for e in examples]) for k in ("gray", "chroma")}
            out.append(-self._log_prob(batch).numpy().astype(np.float64))
        return np.concatenate(out) / (dims * np.log(2.0)) if out else np.zeros([0])


def load(weights: str | None) -> LoadedPixColor:
    """--weights (see the module docstring) -> a LoadedPixColor. Raises WeightsError (one line)."""
    from common.train.errors import TrainError
    from export.export import load_run

    if weights is None:
        if not all(os.path.isfile(os.path.join(DEFAULT_WEIGHTS, s, "config.json")) for s in STAGES):
            raise WeightsError(
                f"no default PixColor models in this install ({DEFAULT_WEIGHTS}/{{{','.join(STAGES)}}} "
                "missing); pass --weights=<a folder with pixcolor/ and pixcolor_refinement/ work directories>"
            )
        path, label = DEFAULT_WEIGHTS, f"default: {DEFAULT_WEIGHTS}"
    else:
        path = label = os.path.abspath(os.path.expanduser(weights))
        if not os.path.isdir(path):
            raise WeightsError(f"--weights={weights}: no such folder")
    for stage in STAGES:  # both present before either loads
        if not os.path.isdir(os.path.join(path, stage)):
            raise WeightsError(
                f"--weights={weights}: no {stage}/ work directory (expected pixcolor/ and "
                "pixcolor_refinement/)"
            )
    models = {}
    for stage in STAGES:
        try:
            name, model, _ = load_run(os.path.join(path, stage))
        except (FileNotFoundError, ValueError, TrainError) as e:
            raise WeightsError(f"--weights={weights}: {e}") from None
        if name != stage:
            raise WeightsError(f"--weights={weights}: {stage}/ holds a {name!r} model, not {stage!r}")
        models[stage] = model
    return LoadedPixColor(models["pixcolor"], models["pixcolor_refinement"], label)
