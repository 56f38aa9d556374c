"""The gated conditional PixelCNN over 28 x 28 x 2 chroma bins (PixColor §3.1 and the appendix table).

Table: masked 7x7 conv of 64; 10 gated conv blocks 5x5 of 64; masked 1x1 of 1024; masked 1x1 of 2 * 32.
The gated blocks follow van den Oord et al. 2016 (Conditional PixelCNN, fig. 2): a vertical stack that
sees the rows above with the full kernel width and a horizontal stack that sees the current row to the
left, the vertical stack's features entering the horizontal one shifted down one row, so no blind spot
remains (the pixel above-right of (i, j) reaches (i, j); (i, j + 1) does not). Inside a pixel Cr comes
before Cb: channels are split in Cr / Cb groups and masked at the center tap (pixcolor/masked_conv.py).
The conditioning signal s [B, h, w, C] (the adaptation network's output, one vector per chroma pixel)
enters every gate of both stacks through 1x1 convolutions (the location-dependent conditioning of van den
Oord et al. 2016, §2.3). Nonlinearities the table leaves out, as in van den Oord et al.: the gates
tanh(f) * sigmoid(g), and ReLUs before each of the two output 1x1 convolutions.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from pixcolor.constants import NUM_BINS, NUM_CHROMA
from pixcolor.masked_conv import MaskedConv2D


def gate(features: tf.Tensor) -> tf.Tensor:
    """[..., 2p] pre-activations [f | g] -> [..., p] = tanh(f) * sigmoid(g)."""
    f, g = tf.split(features, 2, axis=-1)
    return tf.tanh(f) * tf.sigmoid(g)


def shift_down(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> row i holds row i - 1 (zeros in row 0)."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@keras.saving.register_keras_serializable(package="colorize")
class GatedBlock(keras.layers.Layer):
    """One gated block: (v [B, H, W, p], h [B, H, W, p], s [B, H, W, C]) -> (v', h').

    v_feat = vertical(v) (2p); v' = gate(v_feat + cond_v(s));
    h' = h + residual(gate(horizontal(h) + link(shift_down(v_feat)) + cond_h(s))), horizontal and residual
    masked "B" by Cr / Cb group. van den Oord et al. 2016, fig. 2; sizes from PixColor's appendix table.
    The last block has no vertical output (`vertical_output=False`: v' is None, no cond_v): nothing reads it.
    """

    def __init__(
        self, channels: int, size: int, init_stddev: float = 0.1, vertical_output: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)
        self.init_stddev = float(init_stddev)
        self.vertical_output = bool(vertical_output)
        two_p, std = 2 * self.channels, self.init_stddev
        self.vertical = MaskedConv2D(two_p, size, "vertical", None, init_stddev=std, name="vertical")
        self.horizontal = MaskedConv2D(
            two_p, size, "horizontal", "B", "plain", "gated", init_stddev=std, name="horizontal"
        )
        self.link = MaskedConv2D(two_p, 1, "pointwise", None, "gated", "gated", init_stddev=std, name="link")
        self.cond_v = (
            MaskedConv2D(two_p, 1, "pointwise", None, use_bias=False, init_stddev=std, name="cond_v")
            if self.vertical_output
            else None
        )
        self.cond_h = MaskedConv2D(
            two_p, 1, "pointwise", None, use_bias=False, init_stddev=std, name="cond_h"
        )
        self.residual = MaskedConv2D(self.channels, 1, "pointwise", "B", init_stddev=std, name="residual")

    def call(self, v: tf.Tensor, h: tf.Tensor, s: tf.Tensor) -> tuple[tf.Tensor | None, tf.Tensor]:
        v_feat = self.vertical(v)
        v_out = gate(v_feat + self.cond_v(s)) if self.vertical_output else None
        h_feat = self.horizontal(h) + self.link(shift_down(v_feat)) + self.cond_h(s)
        return v_out, h + self.residual(gate(h_feat))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels,
            "size": self.size,
            "init_stddev": self.init_stddev,
            "vertical_output": self.vertical_output,
        }


@keras.saving.register_keras_serializable(package="colorize")
class GatedPixelCNN(keras.layers.Layer):
    """Teacher-forced logits of the chroma bins: (x [B, h, w, 2], s [B, h, w, C]) -> [B, h, w, 2, K].

    x: the chroma of every pixel as numbers in [-1, 1] (bin centre * 2 - 1), channel 0 = Cr, 1 = Cb; the
    logits of (i, j, Cr) depend on pixels before (i, j) only, those of (i, j, Cb) also on Cr at (i, j).
    Args (appendix table values): channels 64, first_size 7, num_blocks 10, block_size 5, head_channels
      1024, num_bins 32 (K); init_stddev 0.1 (truncated normal, biases 0).
    Named parts: `first`, `blocks[i]` ("block_i"), `head_hidden`, `head_out` (the fast sampler applies
    their kernels one pixel at a time, pixcolor/sampler.py).
    """

    def __init__(
        self,
        channels: int = 64,
        first_size: int = 7,
        num_blocks: int = 10,
        block_size: int = 5,
        head_channels: int = 1024,
        num_bins: int = NUM_BINS,
        init_stddev: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.first_size = int(first_size)
        self.num_blocks = int(num_blocks)
        self.block_size = int(block_size)
        self.head_channels = int(head_channels)
        self.num_bins = int(num_bins)
        self.init_stddev = float(init_stddev)
        std = self.init_stddev
        self.first = MaskedConv2D(self.channels, first_size, "causal", "A", init_stddev=std, name="first")
        self.blocks = [
            GatedBlock(self.channels, block_size, std, i + 1 < num_blocks, name=f"block_{i}")
            for i in range(num_blocks)
        ]
        self.head_hidden = MaskedConv2D(
            head_channels, 1, "pointwise", "B", init_stddev=std, name="head_hidden"
        )
        self.head_out = MaskedConv2D(
            NUM_CHROMA * num_bins, 1, "pointwise", "B", init_stddev=std, name="head_out"
        )

    def head(self, h: tf.Tensor) -> tf.Tensor:
        """Horizontal-stack features [..., p] -> logits [..., 2 * K] (Cr bins first)."""
        return self.head_out(tf.nn.relu(self.head_hidden(tf.nn.relu(h))))

    def call(self, x: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
        v = h = self.first(x)
        for block in self.blocks:
            v, h = block(v, h, s)
        logits = self.head(h)
        if None in logits.shape[1:-1]:
            return tf.reshape(logits, tf.concat([tf.shape(logits)[:-1], [NUM_CHROMA, self.num_bins]], 0))
        return tf.reshape(logits, [-1, *logits.shape[1:-1], NUM_CHROMA, self.num_bins])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels,
            "first_size": self.first_size,
            "num_blocks": self.num_blocks,
            "block_size": self.block_size,
            "head_channels": self.head_channels,
            "num_bins": self.num_bins,
            "init_stddev": self.init_stddev,
        }
