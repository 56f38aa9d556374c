"""A tiny but real colorization model for testing the trainer: independent coarse colours per pixel.

p(rgb | gray) = prod over pixels and R, G, B of Categorical(2**bits levels), the logits coming from a few
3x3 GELU convolutions of the grayscale. Colours are ColTran's coarse levels (common.quantize.to_coarse, 3 bits
= 8 levels per channel). Being per-pixel it cannot make coherent colourings; it exists so the trainer,
evaluator and command line can be tested end to end in seconds. Implements common/protocol.py.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import keras
import tensorflow as tf

from common.color import rgb_to_gray
from common.data.preprocess import central_square_crop, resize_area
from common.protocol import InputSpec
from common.quantize import to_coarse
from common.sampling import sample_categorical


def _preprocess(example: dict[str, tf.Tensor], training: bool, *, resolution: int) -> dict[str, tf.Tensor]:
    del training  # deterministic: centre crop, area resize
    rgb = resize_area(central_square_crop(example["image"]), resolution) / 255.0
    rgb = tf.ensure_shape(rgb, [resolution, resolution, 3])
    return {"gray": rgb_to_gray(rgb), "rgb": rgb}


@keras.saving.register_keras_serializable(package="colorize")
class ToyColorizer(keras.Model):
    """gray [B, R, R, 1] in [0, 1] -> logits [B, R, R, 3, 2**bits] over coarse levels of R, G, B.

    Args:
      resolution: side R of the square images the model sees (centre crop, area resize).
      hidden_size: channels of each 3x3 convolution.
      num_layers: number of 3x3 GELU convolutions before the 1x1 output (GELU, unlike ReLU on oneDNN,
        keeps a NaN input NaN, so the trainer's NaN guard can be tested with a NaN batch).
      bits: bits per colour channel (3 -> 8 levels, ColTran's coarse colours).
    """

    def __init__(
        self, resolution: int = 16, hidden_size: int = 32, num_layers: int = 2, bits: int = 3, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.resolution = resolution
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bits = bits
        self.levels = 2**bits
        self.convs = [
            keras.layers.Conv2D(hidden_size, 3, padding="same", activation="gelu", name=f"conv{i}")
            for i in range(num_layers)
        ]
        self.head = keras.layers.Conv2D(3 * self.levels, 1, name="logits")

    def call(self, gray: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = gray * 2.0 - 1.0
        for conv in self.convs:
            x = conv(x)
        logits = tf.cast(self.head(x), tf.float32)  # softmax and loss in float32 under mixed precision
        shape = tf.shape(logits)
        return tf.reshape(logits, tf.concat([shape[:3], [3, self.levels]], axis=0))

    @classmethod
    def preprocessor(cls, resolution: int = 16, **model_kwargs: Any):
        """`preprocess` without a model (common.registry.build_preprocess): only `resolution` matters."""
        del model_kwargs
        return functools.partial(_preprocess, resolution=resolution)

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray": [R, R, 1], "rgb": [R, R, 3]} in [0, 1] (deterministic)."""
        return _preprocess(example, training, resolution=self.resolution)

    def _labels(self, rgb: tf.Tensor) -> tf.Tensor:
        return to_coarse(tf.round(rgb * 255.0), self.bits)

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """log p(coarse rgb | gray) in nats, [B]."""
        log_p = tf.nn.log_softmax(self(batch["gray"]), axis=-1)
        picked = tf.gather(log_p, self._labels(batch["rgb"]), axis=-1, batch_dims=4)
        return tf.reduce_sum(picked, axis=[1, 2, 3])

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, dict]:
        """Per-example bits per dimension (R * R * 3 coarse channel values) as loss and metric."""
        log_p = self.log_prob(batch)
        dims = tf.cast(tf.reduce_prod(tf.shape(batch["rgb"])[1:]), tf.float32)
        bpd = -log_p / (dims * math.log(2.0))
        return bpd, {"bits_per_dim": bpd}

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int = 0,
    ) -> dict[str, tf.Tensor]:
        """gray [B, R, R, 1] -> {"rgb": [B, N, R, R, 3] bin centres in [0, 1], "coarse": int32 levels}."""
        logits = self(tf.convert_to_tensor(gray, tf.float32))
        logits = tf.repeat(logits[:, None], num_samples, axis=1)
        coarse = sample_categorical(logits, seed=seed, temperature=temperature, top_k=top_k)
        width = 256.0 / self.levels
        rgb = (tf.cast(coarse, tf.float32) + 0.5) * width / 255.0
        return {"rgb": tf.clip_by_value(rgb, 0.0, 1.0), "coarse": coarse}

    def sample_spec(self) -> dict[str, InputSpec]:
        """The input of `sample`: the grayscale only (common/protocol.py)."""
        r = self.resolution
        return {"gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma in [0, 1]")}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bits": self.bits,
        }
