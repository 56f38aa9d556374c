"""PIC's autoregressive network f: PixelCNN++ at one resolution (Royer et al. 2017, §3).

The authors' `models.PIColorization`.

Two streams over the chroma canvas x (the RGB image in [-1, 1] at the chroma resolution, plus a ones
channel that tells the zero padding apart, as the authors'):
  u  = down_shift(conv_down(x))                       2x3 down-shifted: rows strictly above
  ul = down_shift(conv_down_2(x)) + right_shift(conv_down_right(x))
                                                      1x3 of the row above + 2x1 of the pixels to the left
  for each of the `num_blocks` blocks:  u  = shortrange_down_k(u, aux=embedding)
                                        ul = shortrange_down_right_k(ul, aux=[u, embedding])
  params = conv_last(elu(ul))                          1x1 to the 8K mixture parameters
so params at (i, j) depend on x at raster positions < (i, j) only, and on the whole embedding. "Biasing
every block with the embedding" is the 1x1 `conv_aux` of each gated residual block (pic/layers.py).

Inputs: canvas [B, h, w, 3] in [-1, 1], embedding [B, h, w, E] -> params [B, h, w, 8K].
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from pic.layers import GatedResnet, ShiftedConv2D, down_shift, right_shift


def pad_ones(x: tf.Tensor) -> tf.Tensor:
    """[..., C] -> [..., C + 1] with a channel of ones (the authors' "x_pad" / "gray_pad")."""
    return tf.concat([x, tf.ones_like(x[..., :1])], axis=-1)


@keras.saving.register_keras_serializable(package="colorize")
class PixelCNNPP(keras.layers.Layer):
    """f: the two-stream PixelCNN++ of PIC, layer names as the authors' variable scopes.

    Args:
      channels: width of every convolution (PIC: 160).
      num_blocks: gated residual blocks per stream (PIC: 4).
      num_mixtures: K logistic components (PIC: 10); the output has 8K channels (common/logistic_mixture).
      dropout: in every block, in training (PIC: 0.5).
    """

    def __init__(
        self,
        channels: int = 160,
        num_blocks: int = 4,
        num_mixtures: int = 10,
        dropout: float = 0.5,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.num_blocks = int(num_blocks)
        self.num_mixtures = int(num_mixtures)
        self.dropout = float(dropout)
        c = channels
        self.conv_down = ShiftedConv2D(c, (2, 3), "down", name="conv_down")
        self.conv_down_2 = ShiftedConv2D(c, (1, 3), "down", name="conv_down_2")
        self.conv_down_right = ShiftedConv2D(c, (2, 1), "down_right", name="conv_down_right")
        self.u_blocks = [
            GatedResnet(c, "down", has_aux=True, dropout=dropout, name=f"shortrange_down_{k}")
            for k in range(num_blocks)
        ]
        self.ul_blocks = [
            GatedResnet(c, "down_right", has_aux=True, dropout=dropout, name=f"shortrange_down_right_{k}")
            for k in range(num_blocks)
        ]
        self.conv_last = ShiftedConv2D(8 * num_mixtures, (1, 1), name="conv_last")


    def streams_in(self, x_pad: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The streams' first maps (u, ul), each [B, h, w, C], from the ones-padded canvas."""
        u = down_shift(self.conv_down(x_pad))
        ul = down_shift(self.conv_down_2(x_pad)) + right_shift(self.conv_down_right(x_pad))
        return u, ul

    def head(self, ul: tf.Tensor) -> tf.Tensor:
        """[..., C] -> mixture parameters [..., 8K]."""
        return self.conv_last(tf.nn.elu(ul))

    def streams(
        self, canvas: tf.Tensor, embedding: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The last maps of both streams (u, ul), each [B, h, w, C]."""
        u, ul = self.streams_in(pad_ones(canvas))
        for u_blk, ul_blk in zip(self.u_blocks, self.ul_blocks, strict=True):
            u = u_blk(u, embedding, training=training)
            ul = ul_blk(ul, tf.concat([u, embedding], axis=-1), training=training)
        return u, ul

    def call(self, canvas: tf.Tensor, embedding: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.head(self.streams(canvas, embedding, training)[1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels,
            "num_blocks": self.num_blocks,
            "num_mixtures": self.num_mixtures,
            "dropout": self.dropout,
        }
