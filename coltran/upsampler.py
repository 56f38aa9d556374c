"""ColTran's two parallel upsamplers (Kumar et al. 2021, §4.3 and fig. 2, right).

ColorUpsampler:   coarse 3-bit RGB [B, 64, 64, 3] + grayscale [B, 64, 64, 1] -> 8-bit RGB at 64x64.
SpatialUpsampler: 8-bit RGB [B, 64, 64, 3], area-upsampled (blocky) to 256x256, + grayscale
                  [B, 256, 256, 1] -> 8-bit RGB at 256x256.

Both are the same network (`ChannelUpsampler`, coltran/upsampler_base.py): one colour channel at a time,
the channel's conditioning value (offset by the channel index, so the embedding also says which channel it
is) is embedded and added to an embedding of the 8-bit grayscale, an unmasked axial encoder
(coltran.layers.AxialEncoder) mixes the whole image, and a dense layer gives 256-way logits per pixel.
Every pixel and channel is predicted in parallel given the conditioning (no autoregression), so decoding is
one forward pass per channel; the paper decodes by argmax (temperature 0 here), and temperature > 0
samples each pixel independently.

Differences from the authors' code (google-research coltran/models/upsampler.py), all on purpose:
  * Their one-hot -> Dense(no bias) embeddings, concatenated and passed through a Dense, are a linear
    function of the two one-hots; a sum of two embedding lookups is the same family of functions without
    the [B, H, W, 2D] concatenation and its matmul (the 256x256 tensors dominate memory).
  * Channels are processed one after another and never stacked along the batch, and at evaluation and
    sampling only one channel's activations and logits are alive at a time (memory at 256x256).
  * Training on a random channel per example (ref `random_channel`) uses `batch["channel"]`, written by
    `preprocess`; without it (evaluation) all three channels are scored.
  * Memory (ref users run out of it at 256x256, their issues #838, #896): `num_chunks` runs the encoder
    in strips of whole rows / columns, and `remat` recomputes each residual branch, strip by strip, in
    backprop. Both are exact; both are options of coltran.layers.AxialEncoder (see its docstring) and
    BENCHMARKS.md (ColTran upsamplers).

Constructor arguments (the config's `model` section minus `name`): hidden_size, ff_size, num_heads,
num_encoder_layers, dropout (the AxialEncoder's), resolution R, remat, num_chunks, plus coarse_bits
(ColorUpsampler) or low_resolution (SpatialUpsampler).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from coltran import preprocessing
from coltran.constants import NUM_CHANNELS, NUM_LEVELS
from coltran.upsampler_base import ChannelUpsampler
from common import quantize
from common.protocol import InputSpec

__all__ = ["ColorUpsampler", "SpatialUpsampler", "area_upsample"]


def area_upsample(low8: tf.Tensor, size: int) -> tf.Tensor:
    """8-bit RGB [B, h, w, 3] (int, or float in [0, 255]) -> int32 [B, size, size, 3] by area resize.

    Upsampling by an integer factor with area averaging repeats each pixel (ref datasets_utils
    `downsample_and_upsample`: the "blurry" spatial-upsampler input); that case is done by repeating (XLA
    has no area resize), any other factor by `tf.image.resize(..., "area")`.
    """
    low8 = tf.cast(low8, tf.float32)
    height, width = low8.shape[1], low8.shape[2]
    if height and width and size % height == 0 and size % width == 0:
        up = tf.repeat(tf.repeat(low8, size // height, axis=1), size // width, axis=2)
    else:
        up = tf.image.resize(low8, (size, size), method="area")
    return tf.cast(tf.clip_by_value(tf.round(up), 0.0, 255.0), tf.int32)


class ColorUpsampler(ChannelUpsampler):
    """Coarse 3-bit colours + grayscale -> 8-bit RGB, all at `resolution` (ColTran §4.3, "color upsampler").

    Batch (from `preprocess`): "gray" float [B, R, R, 1] in [0, 1]; "rgb" float [B, R, R, 3] in [0, 1]
    (target, 8-bit values / 255); "coarse" int32 [B, R, R, 3] in [0, 2**coarse_bits) (in training the
    ground truth's coarse colours, ref teacher forcing); "channel" int32 [B] in training.
    Paper config: hidden 512, ff 512, 4 heads, 4 encoder layers, R = 64, 3 bits; no remat, 1 strip.
    """

    cond_key = "coarse"

    def __init__(
        self,
        hidden_size: int = 512,
        ff_size: int = 512,
        num_heads: int = 4,
        num_encoder_layers: int = 4,
        dropout: float = 0.0,
        resolution: int = 64,
        coarse_bits: int = 3,
        remat: bool = False,
        num_chunks: int = 1,
        **kwargs: Any,
    ) -> None:
        self.coarse_bits = int(coarse_bits)
        levels = 2**self.coarse_bits
        super().__init__(
            hidden_size,
            ff_size,
            num_heads,
            num_encoder_layers,
            dropout,
            resolution,
            cond_levels=levels,
            remat=remat,
            num_chunks=num_chunks,
            **kwargs,
        )

    def get_config(self) -> dict[str, Any]:
        return {**self._base_config(), "coarse_bits": self.coarse_bits}

    def _conditioning(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.cast(batch["coarse"], tf.int32)

    @classmethod
    def preprocessor(
        cls, resolution: int = 64, coarse_bits: int = 3, **_: Any
    ) -> Callable[[dict, bool], dict]:
        """`preprocess` for a config's `model` section, without building the model."""
        return functools.partial(
            preprocessing.color_upsampler_example, resolution=resolution, coarse_bits=coarse_bits
        )

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray", "rgb", "coarse"(, "channel")} at `resolution`."""
        return preprocessing.color_upsampler_example(
            example, training, resolution=self.resolution, coarse_bits=self.coarse_bits
        )

    def sample_spec(self) -> dict[str, InputSpec]:
        """The inputs of `sample`: the grayscale and the core's coarse colours (common/protocol.py)."""
        r = self.resolution
        return {
            "gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma in [0, 1] (read as 8-bit levels)"),
            "coarse": InputSpec("int32", (None, r, r, 3), 0, self.cond_levels - 1, "coarse RGB levels"),
        }

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int | tf.Tensor = 0,
        temperature: float = 0.0,
        top_k: int = 0,
        coarse: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """8-bit colourings of coarse colours.

        Args:
          gray: float [B, R, R, 1] in [0, 1].
          coarse: int [B, R, R, 3] coarse levels in [0, 2**coarse_bits) (ColTranCore.sample's "coarse"):
            the conditioning, required (`sample_spec()["coarse"]`).
          temperature: 0 (default, the paper's argmax) or > 0 to sample every pixel independently.
        Returns:
          {"rgb": float32 [B, N, R, R, 3] in [0, 1], "labels": int32 [B, N, R, R, 3] 8-bit values}.
        """
        gray = self._check_gray(gray, "sample")
        self._check_num_samples(num_samples)
        if coarse is None:
            raise ValueError(
                "ColorUpsampler.sample: the conditioning `coarse` (int [B, R, R, 3] coarse levels, the core "
                "output) is required; nothing is conditioned on the grayscale alone"
            )
        coarse = tf.convert_to_tensor(coarse)
        if coarse.dtype.is_floating or tuple(coarse.shape) != tuple(gray.shape[:3]) + (NUM_CHANNELS,):
            raise ValueError(
                f"ColorUpsampler.sample: coarse must be int [B, {self.resolution}, {self.resolution}, 3] "
                f"levels in [0, {self.cond_levels}) matching gray {gray.shape}, "
                f"got {coarse.dtype.name} {coarse.shape}"
            )
        coarse = tf.clip_by_value(tf.cast(coarse, tf.int32), 0, self.cond_levels - 1)
        return self._sample(gray, coarse, num_samples, seed, temperature, top_k)


class SpatialUpsampler(ChannelUpsampler):
    """Blurry area-upsampled 8-bit RGB + grayscale at `resolution` -> sharp 8-bit RGB (ColTran §4.3).

    Batch (from `preprocess`): "gray" float [B, R, R, 1] in [0, 1]; "rgb" float [B, R, R, 3] (target);
    "low_res" int32 [B, r, r, 3] 8-bit values at r = `low_resolution` (area-downsampled target; the model
    area-upsamples it to R itself, see `area_upsample`); "channel" int32 [B] in training.
    Paper config: hidden 512, ff 512, 4 heads, 3 encoder layers, 64 -> 256; remat, 8 strips (ours).
    """

    cond_key = "low_res"

    def __init__(
        self,
        hidden_size: int = 512,
        ff_size: int = 512,
        num_heads: int = 4,
        num_encoder_layers: int = 3,
        dropout: float = 0.0,
        resolution: int = 256,
        low_resolution: int = 64,
        remat: bool = True,
        num_chunks: int = 8,
        **kwargs: Any,
    ) -> None:
        self.low_resolution = int(low_resolution)
        if not 0 < self.low_resolution <= int(resolution):
            raise ValueError(
                f"SpatialUpsampler: low_resolution must be in (0, resolution={resolution}], "
                f"got {low_resolution}"
            )
        super().__init__(
            hidden_size,
            ff_size,
            num_heads,
            num_encoder_layers,
            dropout,
            resolution,
            cond_levels=NUM_LEVELS,
            remat=remat,
            num_chunks=num_chunks,
            **kwargs,
        )

    def get_config(self) -> dict[str, Any]:
        return {**self._base_config(), "low_resolution": self.low_resolution}

    def _conditioning(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        return area_upsample(batch["low_res"], self.resolution)

    @classmethod
    def preprocessor(
        cls, resolution: int = 256, low_resolution: int = 64, **_: Any
    ) -> Callable[[dict, bool], dict]:
        """`preprocess` for a config's `model` section, without building the model."""
        return functools.partial(
            preprocessing.spatial_upsampler_example, resolution=resolution, low_resolution=low_resolution
        )

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray", "rgb" at `resolution`, "low_res" at `low_resolution`
        (, "channel")}."""
        return preprocessing.spatial_upsampler_example(
            example, training, resolution=self.resolution, low_resolution=self.low_resolution
        )

    def sample_spec(self) -> dict[str, InputSpec]:
        """The inputs of `sample`: the grayscale and the low-resolution colours (common/protocol.py)."""
        r, low = self.resolution, self.low_resolution
        return {
            "gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma in [0, 1] (read as 8-bit levels)"),
            "low_res": InputSpec("int32", (None, low, low, 3), 0, 255, "8-bit RGB at the low resolution"),
        }

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int | tf.Tensor = 0,
        temperature: float = 0.0,
        top_k: int = 0,
        low_res: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """Super-resolves low-resolution colours under a full-resolution grayscale.

        Args:
          gray: float [B, R, R, 1] in [0, 1].
          low_res: [B, r, r, 3] low-resolution RGB, int 8-bit values (ColorUpsampler.sample's "labels") or
            float in [0, 1]: the conditioning, required (`sample_spec()["low_res"]`).
          temperature: 0 (default, the paper's argmax) or > 0 to sample every pixel independently.
        Returns:
          {"rgb": float32 [B, N, R, R, 3] in [0, 1], "labels": int32 [B, N, R, R, 3] 8-bit values}.
        """
        gray = self._check_gray(gray, "sample")
        self._check_num_samples(num_samples)
        r = self.low_resolution
        if low_res is None:
            raise ValueError(
                "SpatialUpsampler.sample: the conditioning `low_res` ([B, r, r, 3] 8-bit RGB, the colour "
                "upsampler's output) is required; nothing is conditioned on the grayscale alone"
            )
        low_res = tf.convert_to_tensor(low_res)
        if tuple(low_res.shape) != (gray.shape[0], r, r, NUM_CHANNELS):
            raise ValueError(
                f"SpatialUpsampler.sample: low_res must be [B, {r}, {r}, 3] matching gray {gray.shape}, "
                f"got {low_res.shape}"
            )
        if low_res.dtype.is_floating:
            low8 = quantize.to_8bit(low_res)
        else:
            low8 = tf.clip_by_value(tf.cast(low_res, tf.int32), 0, 255)
        return self._sample(gray, area_upsample(low8, self.resolution), num_samples, seed, temperature, top_k)
