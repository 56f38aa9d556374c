"""Colourise a photo with an exported .tflite on the CPU, as a phone app would: ai_edge_litert, numpy
and Pillow only (no TensorFlow import anywhere on this path).

The .tflite is a whole-pipeline signature (export/spec.py, e.g. ColTran's "colorize_square"):
inputs gray uint8 [B, S, S, 1], num_samples, seed, temperature, top_k; outputs rgb uint8 [B, N, S, S, 3]
and optionally uncertainty [B, N, h, w].
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from export.photo import join_luminance, luminance, read_photo, resize_gray

__all__ = ["TFLiteColorizer", "TFLiteResult"]


@dataclasses.dataclass(frozen=True)
class TFLiteResult:
    """images uint8 [N, H, W, 3] at the photo's size; uncertainty float32 [N, h, w] (or None); gray Y."""

    images: np.ndarray
    uncertainty: np.ndarray | None
    gray: np.ndarray


class TFLiteColorizer:
    """A .tflite whole-pipeline model; `colorize(photo)` gives N colourings at the photo's size."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        if not os.path.isfile(path):
            raise ValueError(f"--model: no such file {os.fspath(path)!r}")
        self.interpreter = Interpreter(model_path=os.fspath(path), num_threads=num_threads)
        signatures = self.interpreter.get_signature_list()
        self.signature = next(iter(signatures))
        names = set(signatures[self.signature]["inputs"])
        if not {"gray", "num_samples", "seed", "temperature", "top_k"} <= names:
            raise ValueError(
                f"--model: {os.fspath(path)} is not a whole-pipeline model (its signature "
                f"{self.signature!r} takes {sorted(names)}; export colorize_square)"
            )
        self.runner = self.interpreter.get_signature_runner(self.signature)
        self.size = int(self.runner.get_input_details()["gray"]["shape_signature"][1])

    def run(
        self,
        gray: np.ndarray,
        *,
        num_samples: int = 2,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int = 0,
    ) -> dict[str, np.ndarray]:
        """gray uint8 [B, S, S, 1] -> the model's raw outputs."""
        if num_samples < 1 or temperature < 0:
            raise ValueError(
                f"num_samples must be >= 1 and temperature >= 0, got {num_samples}, {temperature}"
            )
        return self.runner(
            gray=np.asarray(gray, np.uint8),
            num_samples=np.int32(num_samples),
            seed=np.int32(seed),
            temperature=np.float32(temperature),
            top_k=np.int32(top_k),
        )

    def colorize(self, photo: str | os.PathLike | np.ndarray, **kwargs) -> TFLiteResult:
        """A photo (file or uint8 [H, W, 3] / [H, W]) -> N colourings keeping its luminance."""
        rgb = read_photo(photo) if isinstance(photo, (str, os.PathLike)) else np.asarray(photo)
        y = luminance(rgb)
        out = self.run(resize_gray(y, self.size)[None, ..., None], **kwargs)
        images = np.stack([join_luminance(y, sample) for sample in out["rgb"][0]])
        uncertainty = out["uncertainty"][0] if "uncertainty" in out else None
        return TFLiteResult(images=images, uncertainty=uncertainty, gray=y)
