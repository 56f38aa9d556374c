"""The one interface between models and the trainer, evaluator, exporter and command lines.

Every trainable model in this library is a `keras.Model` that also implements `ColorizationModel`.
Nothing outside a model's own package knows more about it than this protocol and its registry name
(`common.registry`). The distribution strategy never reaches a model: losses are returned per example
and the trainer reduces them over the global batch.

Batch conventions (a `dict[str, tf.Tensor]`, built by the model's `preprocess`):
  every model reads what its own `preprocess` wrote; keys shared by convention are
  "gray":    [B, H, W, 1] float32 luminance in [0, 1] at the model's conditioning resolution,
  "rgb":     [B, H, W, 3] float32 RGB in [0, 1] (the colour target at the model's resolution).

Sampling inputs: `sample_spec()` names every input of `sample` with its dtype, shape and value range:
"gray" always, plus the model's conditioning inputs (e.g. a colour upsampler's coarse colours), which
`sample` takes as keyword arguments of the same names and which are required (a model never silently
conditions on the grayscale alone). An exporter builds its signatures from it; a trainer previewing
samples passes `{k: batch[k] for k in sample_spec() if k != "gray"}` from a preprocessed batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import tensorflow as tf

Batch = dict[str, tf.Tensor]


@dataclass(frozen=True)
class InputSpec:
    """One input of a model's `sample`.

    dtype: "float32" or "int32"; shape: with None for the batch (and any dynamic) dimension;
    minval, maxval: the closed range of valid values; description: what it is, in one line.
    """

    dtype: str
    shape: tuple[int | None, ...]
    minval: float
    maxval: float
    description: str


@runtime_checkable
class ColorizationModel(Protocol):
    """What every trainable model implements (besides being a `keras.Model`).

    Methods:
      preprocess(example, training) -> Batch
          Maps one decoded example {"image": uint8 [H, W, 3]} to the model's unbatched inputs and
          targets. Runs inside `tf.data` (graph mode), so it must use TensorFlow ops only.
      compute_loss(batch, training) -> (loss [B], metrics {name: [B]})
          Per-example training loss (what the optimiser minimises) and per-example metrics (e.g.
          "bits_per_dim"). The trainer averages over the global batch; models never do.
      log_prob(batch) -> [B]
          Log-likelihood of the colour targets given the grayscale, in nats, per example.
      sample(gray, *, num_samples, seed, temperature, top_k) -> dict
          Draws `num_samples` colourings per grayscale image [B, H, W, 1]; returns at least
          "rgb": [B, num_samples, H', W', 3] float32 in [0, 1]. `top_k=0` means no truncation;
          `temperature=0` means argmax / mode decoding. The same seed gives the same samples.
          Conditioning inputs named by `sample_spec()` besides "gray" come as keyword arguments.
      sample_spec() -> {name: InputSpec}
          The inputs of `sample` ("gray" first), for exporters and callers that only know the protocol.
      preprocessor(**model_kwargs) -> Callable[[example, training], Batch]   (classmethod)
          The model's `preprocess` without building the model (`common.registry.build_preprocess`).
    Optional:
      bind_training_step(step: tf.Variable) -> None
          The trainer hands the optimiser's step counter to a model that reads it (PixColor's gradient
          multiplier engages at a step); the model must not track it as one of its weights.
      initialize(batch: Batch) -> None
          Data-dependent initialisation (PIC's weight normalisation): the trainer calls it once, eagerly,
          with the first training batch before the first step of a fresh run (not on resume, not when
          fine-tuning from --init_checkpoint); it assigns the model's weights from that batch.
    """

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> Batch: ...

    def compute_loss(
        self, batch: Batch, training: bool = False
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]: ...

    def log_prob(self, batch: Batch) -> tf.Tensor: ...

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int = 0,
    ) -> dict[str, Any]: ...

    def sample_spec(self) -> dict[str, InputSpec]: ...
