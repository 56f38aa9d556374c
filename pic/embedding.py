"""PIC's embedding network g (Royer et al. 2017, §3 and Table 1; the authors' `models.Embedding*`).

One family for both variants of Table 1, by its arguments:
  conv_leak 3x3 (channels)
  3 stages of 2 gated residual blocks ("down_leak_1".."down_leak_6"), each followed by a 3x3 convolution
    "downscale_leak_s" doubling the width, of stride 2 for the first log2(downsample) stages, 1 after
  per dilation d: 3 gated residual blocks of dilation d, then a 3x3 convolution ("downscale_leak_4", ...)
    keeping the width, the last one to `out_channels`
CIFAR-10: channels 32, downsample 2, dilations (2,), out 256 (Table 1 left).
ILSVRC: channels 64, downsample 4, dilations (2, 4), out 160: the authors' code ends in 160 channels
(their "minor bug" comment; Table 1 says 512), and their released checkpoint has 160.

Input: the normalised luminance with a ones channel, [B, R, R, 2] -> embedding [B, R/d, R/d, out_channels].
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

from pic.layers import GatedResnet, ShiftedConv2D

NUM_STAGES = 3  # Table 1: three widths before the dilated blocks
BLOCKS_PER_STAGE = 2  # Table 1: "Resid. block x 2"
BLOCKS_PER_DILATION = 3  # Table 1: "Resid. block x 3"


@keras.saving.register_keras_serializable(package="colorize")
class EmbeddingNetwork(keras.layers.Layer):
    """g(X^L): grayscale -> per-pixel embedding at the chroma resolution.

    Args:
      channels: width of the first stage (doubles after each stage).
      downsample: 1, 2, 4 or 8 (the chroma subsampling; that many stride-2 convolutions, log2 of it).
      dilations: dilation of each group of dilated blocks, e.g. (2,) or (2, 4).
      out_channels: width of the embedding.
    """

    def __init__(
        self,
        channels: int = 64,
        downsample: int = 4,
        dilations: tuple[int, ...] | list[int] = (2, 4),
        out_channels: int = 160,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        num_strided = int(round(math.log2(downsample))) if downsample >= 1 else -1
        if downsample < 1 or 2**num_strided != downsample or num_strided > NUM_STAGES:
            raise ValueError(f"pic/embedding.py: downsample must be 1, 2, 4 or 8, got {downsample}")
        self.channels = int(channels)
        self.downsample = int(downsample)
        self.dilations = tuple(int(d) for d in dilations)
        self.out_channels = int(out_channels)
        if not self.dilations:
            raise ValueError("pic/embedding.py: give at least one dilation (Table 1 has 2, or 2 and 4)")
        width = channels
        self.conv_leak = ShiftedConv2D(width, (3, 3), name="conv_leak")
        self.stages: list[tuple[list[GatedResnet], ShiftedConv2D, int]] = []
        block = 0
        for s in range(NUM_STAGES):
            blocks = []
            for _ in range(BLOCKS_PER_STAGE):
                block += 1
                blocks.append(GatedResnet(width, name=f"down_leak_{block}"))
            width *= 2
            stride = 2 if s < num_strided else 1
            conv = ShiftedConv2D(width, (3, 3), strides=stride, name=f"downscale_leak_{s + 1}")
            self.stages.append((blocks, conv, stride))
        self.dilated: list[tuple[list[GatedResnet], ShiftedConv2D]] = []
        for i, d in enumerate(self.dilations):
            blocks = []
            for _ in range(BLOCKS_PER_DILATION):
                block += 1
                blocks.append(GatedResnet(width, dilation=d, name=f"down_leak_{block}"))
            last = i == len(self.dilations) - 1
            name = f"downscale_leak_{NUM_STAGES + 1 + i}"
            conv = ShiftedConv2D(out_channels if last else width, (3, 3), name=name)
            self.dilated.append((blocks, conv))


    def call(self, gray: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = self.conv_leak(gray)
        for blocks, conv, _ in self.stages:
            for blk in blocks:
                x = blk(x, training=training)
            x = conv(x)
        for blocks, conv in self.dilated:
            for blk in blocks:
                x = blk(x, training=training)
            x = conv(x)
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels,
            "downsample": self.downsample,
            "dilations": list(self.dilations),
            "out_channels": self.out_channels,
        }
