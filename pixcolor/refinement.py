"""PixColor's refinement network: gray + upsampled low-resolution chroma -> full-resolution chroma (§3.2).

Appendix table, in order (every conv 3x3 unless noted, batch norm + ReLU after each but the last):
  encoder   conv 64 /2; 2x conv 128 (strides 1, 2); 2x conv 256 (1, 2); 2x conv 512; conv 256
  global    4x conv 512 (strides 2, 1, 2, 1); conv 5x5 1024; conv 512
  decoder   2x conv 128; bilinear upsample; 2x conv 64; bilinear upsample; 2x conv 32; conv 1x1 2
The paper calls it "similar in architecture to [LTBC, Iizuka et al. 2016] but with more layers in the
decoding part" with bilinear instead of learned upsampling, and gives no wiring beyond the table. We read
it as LTBC: the encoder reaches stride 8 ([28, 28, 256] at 224), the "global" convolutions continue to
stride 32 and their output, bilinearly resized back to stride 8, is concatenated with the encoder's (LTBC's
fusion of global and mid-level features); the decoder upsamples twice to stride 2, and the 2-channel output
is resized bilinearly to the input size (LTBC also predicts at half resolution). Ours as well: the network
predicts a correction added to its bilinearly upsampled chroma input, its output layer starting at 0
(`residual`), so the untrained network is bilinear upsampling. Any input size works (all resizes go to the
sizes the encoder produced). Kernels truncated normal (0.1), biases 0 (table).

`skips` (ours, off for the paper's config): after each decoder upsampling the encoder's features of that
stride (enc_4 at stride 4, enc_2 at stride 2) are concatenated (U-Net style), so the decoder sees the gray's
edges at a finer stride than the chroma input's. Without them everything finer than stride 8 must pass the
stride-8 bottleneck; trained on few photos (BENCHMARKS.md, PixColor refinement) that network only
memorised its training photos and did not beat bilinear upsampling on unseen ones.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

# With `skips`, the encoder output the decoder's n-th upsampling concatenates (strides 4, then 2).
SKIPS = ("enc_4", "enc_2")
# (name, filters, kernel, stride) per part, the table's rows.
ENCODER = [
    ("enc_1", 64, 3, 2), ("enc_2", 128, 3, 1), ("enc_3", 128, 3, 2), ("enc_4", 256, 3, 1),
    ("enc_5", 256, 3, 2), ("enc_6", 512, 3, 1), ("enc_7", 512, 3, 1), ("enc_8", 256, 3, 1),
]  # fmt: skip
GLOBAL = [
    ("global_1", 512, 3, 2), ("global_2", 512, 3, 1), ("global_3", 512, 3, 2), ("global_4", 512, 3, 1),
    ("global_5", 1024, 5, 1), ("global_6", 512, 3, 1),
]  # fmt: skip
DECODER = [  # (name, filters, kernel, stride); "up" marks a bilinear upsampling
    ("dec_1", 128, 3, 1), ("dec_2", 128, 3, 1), ("up", 0, 0, 0), ("dec_3", 64, 3, 1), ("dec_4", 64, 3, 1),
    ("up", 0, 0, 0), ("dec_5", 32, 3, 1), ("dec_6", 32, 3, 1),
]  # fmt: skip


@keras.saving.register_keras_serializable(package="colorize")
class ConvBN(keras.layers.Layer):
    """conv (same padding) -> batch norm -> ReLU: [B, H, W, Cin] -> [B, H/stride, W/stride, filters]."""

    def __init__(
        self,
        filters: int,
        size: int,
        stride: int,
        init_stddev: float = 0.1,
        momentum: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.filters, self.size, self.stride = int(filters), int(size), int(stride)
        self.init_stddev = float(init_stddev)
        init = keras.initializers.TruncatedNormal(stddev=init_stddev)
        self.conv = keras.layers.Conv2D(
            filters, size, stride, padding="same", kernel_initializer=init, name="conv"
        )
        self.bn = keras.layers.BatchNormalization(momentum=self.momentum, name="bn")

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return tf.nn.relu(self.bn(self.conv(x), training=training))

    def get_config(self) -> dict:
        c = {
            "filters": self.filters,
            "size": self.size,
            "stride": self.stride,
            "init_stddev": self.init_stddev,
            "momentum": self.momentum,
        }
        return {**super().get_config(), **c}


@keras.saving.register_keras_serializable(package="colorize")
class RefinementNetwork(keras.layers.Layer):
    """(gray [B, H, W, 1], chroma_up [B, H, W, 2]) in [0, 1] -> chroma [B, H, W, 2] (Cr, Cb).

    chroma_up: the low-resolution chroma bilinearly upsampled to H x W (PixColorRefinement does it).
    Args: width_divisor (1 = the table's widths; tests shrink every layer by it), residual and skips (see
      module docstring), init_stddev (0.1, table), batch_norm_momentum (of the moving statistics; Keras'
      0.99; short runs need less, or the statistics lag weights that still move).
    """

    def __init__(
        self,
        width_divisor: int = 1,
        residual: bool = True,
        init_stddev: float = 0.1,
        batch_norm_momentum: float = 0.99,
        skips: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.width_divisor = int(width_divisor)
        self.residual = bool(residual)
        self.skips = bool(skips)
        self.init_stddev = float(init_stddev)
        self.batch_norm_momentum = float(batch_norm_momentum)

        def make(rows: list) -> dict:
            return {
                name: ConvBN(
                    max(1, f // self.width_divisor), k, s, init_stddev, self.batch_norm_momentum, name=name
                )
                for name, f, k, s in rows
                if name != "up"
            }

        self.encoder = make(ENCODER)
        self.global_convs = make(GLOBAL)
        self.decoder = make(DECODER)
        out_init = "zeros" if self.residual else keras.initializers.TruncatedNormal(stddev=init_stddev)
        self.out = keras.layers.Conv2D(2, 1, kernel_initializer=out_init, name="out")

    def call(self, gray: tf.Tensor, chroma_up: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = tf.concat([gray, chroma_up], axis=-1) - 0.5
        sizes = []  # spatial sizes the encoder produced, for the decoder's upsamplings
        skipped = {}  # with skips: the encoder outputs named in SKIPS
        for name, layer in self.encoder.items():
            x = layer(x, training=training)
            sizes.append(tf.shape(x)[1:3])
            if self.skips and name in SKIPS:
                skipped[name] = x
        g = x
        for layer in self.global_convs.values():
            g = layer(g, training=training)
        # tf.image.resize computes in float32: cast back (mixed precision keeps features in bfloat16).
        x = tf.concat([x, tf.cast(tf.image.resize(g, tf.shape(x)[1:3], "bilinear"), x.dtype)], axis=-1)
        targets = [sizes[2], sizes[0]]  # stride 4 then stride 2, as the encoder's 3rd and 1st outputs
        up = 0
        for name, *_ in DECODER:
            if name == "up":
                x = tf.cast(tf.image.resize(x, targets[up], "bilinear"), x.dtype)
                if self.skips:
                    x = tf.concat([x, skipped[SKIPS[up]]], axis=-1)
                up += 1
            else:
                x = self.decoder[name](x, training=training)
        out = tf.image.resize(self.out(x), tf.shape(gray)[1:3], "bilinear")
        return tf.cast(chroma_up, tf.float32) + out if self.residual else out  # float32 (resize's)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "width_divisor": self.width_divisor,
            "residual": self.residual,
            "skips": self.skips,
            "init_stddev": self.init_stddev,
            "batch_norm_momentum": self.batch_norm_momentum,
        }
