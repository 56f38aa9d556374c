"""What a model package implements to be a `colorize --model=...` (ColTran: coltran/colorizer.py).

The runner hands a model the whole frame of each photo squashed to squares (its `input_sizes`, area
resized from the full-resolution luminance; the model never sees a full-resolution image), and takes back
for each photo and sample one colouring of the squashed frame (uint8 [R, R, 3]) and optionally an
uncertainty map. The runner un-squashes the chroma to the photo's own size and keeps the photo's
luminance (common/colorize/imageio.py), so every model gets the same memory bound and output handling.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

MODELS = {  # --model -> the module whose load(weights) gives a Colorizer
    "coltran": "coltran.colorizer",
    "cic": "cic.colorizer",
    "pic": "pic.colorizer",
    "pixcolor": "pixcolor.colorizer",
}


@dataclasses.dataclass(frozen=True)
class Job:
    """One photo's model input.

    grays: {size: float32 [size, size] luminance in [0, 1]} for each of the model's `input_sizes`.
    seed: the photo's own seed (`image_seed`): its colourings depend on it, not on its batch.
    """

    grays: dict[int, np.ndarray]
    seed: int


@dataclasses.dataclass(frozen=True)
class Draw:
    """Sample `sample` of job `job` (its index in the `colorize` call): rgb uint8 [R, R, 3], the squashed
    frame coloured; uncertainty float32 [r, r] in [0, 1] (low = uncertain) or None."""

    job: int
    sample: int
    rgb: np.ndarray
    uncertainty: np.ndarray | None


class Colorizer(Protocol):
    """A loaded model. `describe` is recorded in every output's provenance."""

    name: str  # the --model value
    weights: str  # where the weights came from (a path, or "default: <path>")
    input_sizes: tuple[int, ...]  # the squares the model reads

    def colorize(
        self,
        jobs: Sequence[Job],
        *,
        num_samples: int,
        temperature: float,
        top_k: int,
        batch_size: int,
    ) -> Iterator[Draw]:
        """Yields num_samples Draws per job, job-major (all of job 0's, then job 1's, ...), computing at
        most `batch_size` (job, sample) pairs per model call, so memory does not grow with num_samples."""
        ...


class Likelihood(Protocol):
    """OPTIONAL part of a Colorizer, used by `colorize-evaluate` (common/evaluate/): a model with a
    likelihood sets `likelihood` to one line naming the event space its bits/dim are over (e.g. "ColTran
    core: 64x64 RGB at 3 bits per channel given the gray"; figures over different spaces are not
    comparable) and implements `bits_per_dim`. A model without one has no such attribute, or None."""

    likelihood: str | None

    def bits_per_dim(self, images: np.ndarray) -> np.ndarray:
        """Ground-truth photos uint8 [N, H, W, 3] (any size) -> -log2 p(colours | gray) per dimension of
        the event space, float [N]."""
        ...


def likelihood_of(model: object) -> str | None:
    """The model's event-space line when it has a usable `bits_per_dim`, else None."""
    text = getattr(model, "likelihood", None)
    return text if text and callable(getattr(model, "bits_per_dim", None)) else None


def image_seed(seed: int, name: str) -> int:
    """The seed of the photo with output name `name` under `--seed=seed`: a 31-bit hash of both, so a
    photo's colourings do not depend on its batch, on --batch_size or on which photos a resumed run skips."""
    digest = hashlib.sha256(f"{int(seed)}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
