"""The CIC network (Zhang, Isola & Efros 2016, "Colorful Image Colorization", §2 and Fig. 2) as Keras layers.

Eight VGG-style blocks of 3x3 convolutions + ReLU, each but the last ending in a batch normalisation, then
a 1x1 convolution to 313 bin logits. The layer table of the authors' Caffe net (richzhang/colorization,
models/colorization_deploy_v2.prototxt), with C = `base_width` (64 in the paper):

  block  convs  channels  stride / dilation                      output side (input R)
  conv1  2      C         the second conv has stride 2           R / 2
  conv2  2      2C        the second conv has stride 2           R / 4
  conv3  3      4C        the third conv has stride 2            R / 8
  conv4  3      8C        -                                      R / 8
  conv5  3      8C        dilation 2                             R / 8
  conv6  3      8C        dilation 2                             R / 8
  conv7  3      8C        -                                      R / 8
  conv8  3      4C        the first is a 4x4 deconvolution, x2   R / 4   (no batch norm)
  model_out     313       1x1 convolution                        R / 4

Caffe pads the stride-2 convolutions by one pixel on every side (output pixel i is centred on input
pixel 2i); Keras' "same" would pad only after, so those convolutions pad explicitly. Caffe's BatchNorm
without a Scale layer has no learned scale or shift (center=False, scale=False here); eps 1e-5.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from common.cic import NUM_BINS

# (number of convs, width multiple of base_width, dilation, index of the stride-2 conv or -1, batch norm)
BLOCKS: tuple[tuple[int, int, int, int, bool], ...] = (
    (2, 1, 1, 1, True),  # conv1
    (2, 2, 1, 1, True),  # conv2
    (3, 4, 1, 2, True),  # conv3
    (3, 8, 1, -1, True),  # conv4
    (3, 8, 2, -1, True),  # conv5
    (3, 8, 2, -1, True),  # conv6
    (3, 8, 1, -1, True),  # conv7
    (3, 4, 1, -1, False),  # conv8: its first conv is the x2 deconvolution
)
DOWNSAMPLING = 4  # output side = input side / 4
MULTIPLE = 8  # the input side must be a multiple of 8 (three stride-2 convolutions)


@keras.saving.register_keras_serializable(package="colorize")
class ConvBlock(keras.layers.Layer):
    """One block convN: [B, H, W, C_in] -> [B, H', W', width] (H' = H/2 with a stride-2 conv, 2H with
    `upsample`), sublayers convN_1 .. convN_k (+ convN_norm); the prototxt's block N.

    Args:
      index: N (names the sublayers). num_convs, width, dilation: as the table in the module docstring.
      stride_at: which conv (0-based) has stride 2, -1 for none. upsample: the first conv is a 4x4
        stride-2 transposed convolution (conv8_1). batch_norm: end with a BatchNorm (no scale / shift).
      weight_decay: L2 coefficient on kernels and biases, Caffe's convention (gradient += wd * w).
      epsilon: the batch norm's epsilon (Caffe 1e-5).
    """

    def __init__(
        self,
        index: int,
        num_convs: int,
        width: int,
        dilation: int = 1,
        stride_at: int = -1,
        upsample: bool = False,
        batch_norm: bool = True,
        weight_decay: float = 0.0,
        epsilon: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.index, self.num_convs, self.width, self.dilation = index, num_convs, width, dilation
        self.stride_at, self.upsample, self.batch_norm = stride_at, upsample, batch_norm
        self.weight_decay, self.epsilon = weight_decay, epsilon
        # Keras' L2(l) adds l * sum(w^2), gradient 2 l w: half of Caffe's coefficient gives Caffe's step.
        reg = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None
        common = dict(activation="relu", kernel_regularizer=reg, bias_regularizer=reg)
        self.convs = []
        for i in range(num_convs):
            name = f"conv{index}_{i + 1}"
            if upsample and i == 0:
                conv = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", name=name, **common)
            elif i == stride_at:
                conv = keras.layers.Conv2D(width, 3, strides=2, padding="valid", name=name, **common)
            else:
                conv = keras.layers.Conv2D(
                    width, 3, padding="same", dilation_rate=dilation, name=name, **common
                )
            self.convs.append(conv)
        self.norm = (
            keras.layers.BatchNormalization(
                center=False, scale=False, epsilon=epsilon, momentum=0.99, name=f"conv{index}_norm"
            )
            if batch_norm
            else None
        )

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        for i, conv in enumerate(self.convs):
            if i == self.stride_at:
                x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])  # Caffe's pad 1 on both sides
            x = conv(x)
        return self.norm(x, training=training) if self.norm is not None else x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "index": self.index,
            "num_convs": self.num_convs,
            "width": self.width,
            "dilation": self.dilation,
            "stride_at": self.stride_at,
            "upsample": self.upsample,
            "batch_norm": self.batch_norm,
            "weight_decay": self.weight_decay,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="colorize")
class CICNetwork(keras.layers.Layer):
    """Centred lightness [B, R, R, 1] (L - 50, in [-50, 50]) -> bin logits [B, R/4, R/4, 313] float32.

    Blocks conv1 .. conv8 and model_out (the prototxt's conv8_313), as the module docstring's table.
    Args: base_width (64 in the paper), weight_decay (Caffe convention), epsilon (batch norm).
    """

    def __init__(self, base_width: int = 64, weight_decay: float = 0.0, epsilon: float = 1e-5, **kwargs: Any):
        super().__init__(**kwargs)
        self.base_width, self.weight_decay, self.epsilon = base_width, weight_decay, epsilon
        self.blocks = [
            ConvBlock(
                i + 1,
                n,
                mult * base_width,
                dilation=dil,
                stride_at=stride_at,
                upsample=i == len(BLOCKS) - 1,
                batch_norm=bn,
                weight_decay=weight_decay,
                epsilon=epsilon,
                name=f"conv{i + 1}",
            )
            for i, (n, mult, dil, stride_at, bn) in enumerate(BLOCKS)
        ]
        reg = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None
        self.model_out = keras.layers.Conv2D(
            NUM_BINS, 1, kernel_regularizer=reg, bias_regularizer=reg, name="model_out"
        )

    def call(self, lightness: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = lightness
        for block in self.blocks:
            x = block(x, training=training)
        return tf.cast(self.model_out(x), tf.float32)  # softmax and losses in float32 (mixed precision)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "base_width": self.base_width,
            "weight_decay": self.weight_decay,
            "epsilon": self.epsilon,
        }
