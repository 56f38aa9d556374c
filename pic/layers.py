"""PixelCNN++'s building blocks as PIC uses them (Salimans et al. 2017, §2.4; PIC's `nn.py`).

  concat_elu(x)            ELU([x, -x]) on the channel axis (channels double)
  down_shift / right_shift move a map one row down / one column right, zeros entering (the causal offset)
  ShiftedConv2D            a weight-normalised convolution padded so that output (i, j) sees only rows
                           <= i ("down": a kh x kw window centred horizontally) or rows <= i and columns
                           <= j ("down_right"); "none" is an ordinary SAME convolution (the embedding)
  GatedResnet              x + a * sigmoid(b), [a, b] = conv2(dropout(concat_elu(conv1(concat_elu(x))
                           + nin(concat_elu(aux))))); `aux` biases the first convolution (PIC §3)
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from pic.weightnorm import WeightNormConv2D

SHIFTS = ("none", "down", "down_right")


def concat_elu(x: tf.Tensor) -> tf.Tensor:
    """[..., C] -> [..., 2C]: ELU of x and of -x, concatenated (PixelCNN++)."""
    return tf.nn.elu(tf.concat([x, -x], axis=-1))


def down_shift(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> the same, rows moved one down, a zero row on top."""
    return tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def right_shift(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> the same, columns moved one right, a zero column on the left."""
    return tf.pad(x[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


def shift_padding(shift: str, kernel_size: tuple[int, int]) -> list[list[int]]:
    """The [top, bottom], [left, right] zero padding a VALID convolution gets for a causal `shift`."""
    kh, kw = kernel_size
    if shift == "down":
        return [[kh - 1, 0], [(kw - 1) // 2, (kw - 1) // 2]]
    if shift == "down_right":
        return [[kh - 1, 0], [kw - 1, 0]]
    raise ValueError(f"pic/layers.py: no padding for shift {shift!r}")


@keras.saving.register_keras_serializable(package="colorize")
class ShiftedConv2D(WeightNormConv2D):
    """A `WeightNormConv2D` made causal by its padding (PIC `nn.down_shifted_conv2d` and
    `nn.down_right_shifted_conv2d`); shift "none" is a plain SAME convolution (`nn.conv`).

    Args: filters, kernel_size, shift (one of SHIFTS), strides and dilation (shift "none" only: the
    authors ignore the dilation of shifted convolutions), init_scale. Variables V, g, b (as the authors').
    Input [B, H, W, C] -> output [B, H / strides, W / strides, filters].
    """

    def __init__(
        self,
        filters: int,
        kernel_size: tuple[int, int] | list[int],
        shift: str = "none",
        dilation: int = 1,
        init_scale: float = 1.0,
        strides: int = 1,
        **kwargs: Any,
    ):
        if shift not in SHIFTS:
            raise ValueError(f"pic/layers.py: shift must be one of {SHIFTS}, got {shift!r}")
        if shift != "none" and strides != 1:
            raise ValueError("pic/layers.py: a shifted convolution has strides 1")
        kwargs.pop("padding", None)
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            dilation=dilation if shift == "none" else 1,
            padding="SAME" if shift == "none" else "VALID",
            init_scale=init_scale,
            **kwargs,
        )
        self.shift = shift

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.shift != "none":
            x = tf.pad(x, [[0, 0], *shift_padding(self.shift, self.kernel_size), [0, 0]])
        return super().call(x)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["padding"]
        return {**config, "shift": self.shift}


@keras.saving.register_keras_serializable(package="colorize")
class GatedResnet(keras.layers.Layer):
    """PixelCNN++'s gated residual block (PIC `nn.gated_resnet`), with the authors' sublayer names.

    Args:
      channels: C, the width of x (and of the output).
      shift: the causal shift of both 3x3 convolutions ("none" in the embedding network).
      dilation: of the first convolution (the embedding's dilated blocks, PIC Table 1).
      has_aux: whether `aux` biases the first convolution through a 1x1 "conv_aux".
      dropout: rate on the gated branch's input in training (PIC: 0.5).
    Inputs: x [B, H, W, C], aux [B, H, W, A] (or None) -> [B, H, W, C].
    """

    def __init__(
        self,
        channels: int,
        shift: str = "none",
        dilation: int = 1,
        has_aux: bool = False,
        dropout: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.shift = shift
        self.dilation = int(dilation)
        self.has_aux = bool(has_aux)
        self.dropout = float(dropout)
        self.conv1 = ShiftedConv2D(channels, (3, 3), shift, dilation, name="conv1")
        self.conv_aux = ShiftedConv2D(channels, (1, 1), name="conv_aux") if has_aux else None
        self.conv2 = ShiftedConv2D(2 * channels, (3, 3), shift, init_scale=0.1, name="conv2")
        self.drop = keras.layers.Dropout(dropout, name="dropout")


    def first(self, x: tf.Tensor, aux: tf.Tensor | None) -> tf.Tensor:
        """concat_elu(conv1(concat_elu(x)) + conv_aux(concat_elu(aux))): [B, H, W, 2C]."""
        c1 = self.conv1(concat_elu(x))
        if self.conv_aux is not None:
            c1 = c1 + self.conv_aux(concat_elu(aux))
        return concat_elu(c1)

    @staticmethod
    def gate(c2: tf.Tensor) -> tf.Tensor:
        """[..., 2C] -> [..., C]: a * sigmoid(b)."""
        a, b = tf.split(c2, 2, axis=-1)
        return a * tf.sigmoid(b)

    def call(self, x: tf.Tensor, aux: tf.Tensor | None = None, training: bool = False) -> tf.Tensor:
        if (aux is None) == self.has_aux:
            raise ValueError(f"pic/layers.py: block {self.name} has_aux={self.has_aux} but aux is {aux}")
        c1 = self.drop(self.first(x, aux), training=training)
        return x + self.gate(self.conv2(c1))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels,
            "shift": self.shift,
            "dilation": self.dilation,
            "has_aux": self.has_aux,
            "dropout": self.dropout,
        }
