"""The two trivial baselines of `colorize-evaluate`, as Colorizers (common/colorize/protocol.py).

gray          the luminance only (a, b = 0): what a model must beat to be worth running (ColTran Table 2's
              "grayscale" row). Deterministic, no likelihood.
prior         the training photos' ab distribution at every pixel: each pixel's colour is one of CIC's 313
              ab bins (Zhang et al. 2016 sec. 2.1) drawn i.i.d. from the global 313-bin prior, at the
              photo's own L. Its likelihood: -log2 p(bin of the ground-truth ab) per pixel.
The prior is a [313] probability vector: `--prior=<.npy>`, or counted from `--prior_data=<folder>`, or
the shipped DEFAULT_PRIOR file when it exists (made from the default models' training photos).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np

from common import cic
from common.color import lab_to_rgb_np, rgb_to_lab_np
from common.colorize.protocol import Draw, Job

DEFAULT_PRIOR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "ab_prior_default.npy"
)
PRIOR_FLOOR = 1e-4  # mixed in uniformly, so a ground-truth bin the training photos never hit is not -log 0


def load_prior(prior: str = "", prior_data: str = "", size: int = 64) -> tuple[np.ndarray | None, str]:
    """(prior float64 [313] summing to 1, where it came from) or (None, why there is none).

    Raises ValueError (one line) for a bad --prior file or an empty --prior_data folder."""
    if prior:
        try:
            p = np.load(prior)
        except (OSError, ValueError) as e:
            raise ValueError(f"--prior={prior}: cannot read it as a .npy file ({e})") from None
        p = np.asarray(p, np.float64)
        if p.shape != (cic.NUM_BINS,) or not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
            raise ValueError(f"--prior={prior}: need 313 non-negative probabilities, got shape {p.shape}")
        return p / p.sum(), f"--prior={prior}"
    if prior_data:
        from common.evaluate.data import iter_images

        labs = (
            rgb_to_lab_np(x.rgb / 255.0)[..., 1:]
            for x in iter_images(prior_data, size)
            if not isinstance(x, str)
        )
        try:
            return cic.empirical_prior(labs), f"--prior_data={prior_data} ({size}x{size} frames)"
        except ValueError:
            raise ValueError(f"--prior_data={prior_data}: no readable photos in it") from None
    if os.path.isfile(DEFAULT_PRIOR):
        return load_prior(DEFAULT_PRIOR)[0], f"shipped {os.path.basename(DEFAULT_PRIOR)}"
    return None, "no --prior or --prior_data given and no shipped common/assets/ab_prior_default.npy"


class GrayColorizer:
    """Luminance only: every draw is the gray image as RGB."""

    name = "gray"
    weights = "baseline: luminance only"
    likelihood = None

    def __init__(self, size: int) -> None:
        self.input_sizes = (int(size),)

    def colorize(
        self, jobs: Sequence[Job], *, num_samples: int, temperature: float, top_k: int, batch_size: int
    ) -> Iterator[Draw]:
        for j, job in enumerate(jobs):
            y = np.clip(np.round(job.grays[self.input_sizes[0]] * 255.0), 0, 255).astype(np.uint8)
            for n in range(num_samples):
                yield Draw(j, n, np.repeat(y[..., None], 3, axis=-1), None)


class PriorColorizer:
    """Global-prior colours: each pixel's ab bin drawn i.i.d. from `prior` [313] (seed pair [image
    seed, sample]), at the pixel's L; its likelihood is over the 313-bin ab space."""

    name = "prior"

    def __init__(self, prior: np.ndarray, size: int, source: str) -> None:
        self.prior = np.asarray(prior, np.float64) / np.sum(prior)
        self.input_sizes = (int(size),)
        self.weights = f"baseline: global ab prior ({source})"
        self.likelihood = (
            f"global prior: one of CIC's 313 ab bins per pixel of the {size}x{size} frame, i.i.d. "
            f"(prior mixed with {PRIOR_FLOOR:g} uniform)"
        )

    def colorize(
        self, jobs: Sequence[Job], *, num_samples: int, temperature: float, top_k: int, batch_size: int
    ) -> Iterator[Draw]:
        size = self.input_sizes[0]
        centres = cic.ab_bins().astype(np.float64)
        for j, job in enumerate(jobs):
            y = np.asarray(job.grays[size], np.float64)
            lightness = rgb_to_lab_np(np.repeat(y[..., None], 3, axis=-1))[..., :1]
            for n in range(num_samples):
                rng = np.random.default_rng([job.seed, n])
                bins = rng.choice(cic.NUM_BINS, size=y.shape, p=self.prior)
                rgb = lab_to_rgb_np(np.concatenate([lightness, centres[bins]], axis=-1))
                yield Draw(j, n, np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8), None)

    def bits_per_dim(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, 3] -> float64 [N]: mean over pixels of -log2 p(nearest bin of the true ab)."""
        p = (1.0 - PRIOR_FLOOR) * self.prior + PRIOR_FLOOR / cic.NUM_BINS
        out = []
        for image in images:
            bins = cic.nearest_bin_np(rgb_to_lab_np(np.asarray(image) / 255.0)[..., 1:])
            out.append(float(np.mean(-np.log2(p[bins]))))
        return np.asarray(out, np.float64)
