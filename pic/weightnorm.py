"""A 2-D convolution with weight normalisation and data-dependent initialisation (Salimans & Kingma 2016).

PIC (Royer et al. 2017, §3) and PixelCNN++ (Salimans et al. 2017) build every convolution this way: the
kernel is W = g * V / ||V|| (norm over the kernel's spatial and input axes, one per output channel) and
the output is conv(x, W) + b. A 1x1 `WeightNormConv2D` is the weight-normalised dense layer ("nin").

Data-dependent initialisation (the authors' `nn.conv` under `tf.GLOBAL['init']`): a call made while
`init_pass` is True computes t = conv(x, V / ||V||) on that batch, its per-channel mean m and variance v,
assigns g = init_scale / sqrt(v + 1e-8) and b = -m * g, and returns g * (t - m) (so every following
layer of the same pass is initialised on normalised activations). Run it once, eagerly, on a real batch
before training: `pic.model.PICColorizer.initialize(batch)` sets the flag on every such layer, calls the
network and clears it. Without it the layer starts at g = 1, b = 0.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="colorize")
class WeightNormConv2D(keras.layers.Layer):
    """conv(x, g * V / ||V||) + b, variables named "V", "g", "b" as the authors'.

    Args:
      filters: output channels.
      kernel_size: (kh, kw).
      strides: 1 or 2 (both axes).
      dilation: dilation rate (both axes; strides must then be 1).
      padding: "SAME" or "VALID" (TensorFlow's rules, as the authors' tf.nn.conv2d).
      init_scale: the output's standard deviation after data-dependent initialisation (0.1 for the second
        convolution of a gated residual block, 1 elsewhere).
    Input [B, H, W, C_in] -> output [B, H', W', filters].
    """

    def __init__(
        self,
        filters: int,
        kernel_size: tuple[int, int] | list[int],
        strides: int = 1,
        dilation: int = 1,
        padding: str = "SAME",
        init_scale: float = 1.0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"pic/weightnorm.py: padding must be 'SAME' or 'VALID', got {padding!r}")
        if strides != 1 and dilation != 1:
            raise ValueError("pic/weightnorm.py: a dilated convolution must have strides 1 (as the authors')")
        self.filters = int(filters)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.strides = int(strides)
        self.dilation = int(dilation)
        self.padding = padding
        self.init_scale = float(init_scale)
        self.init_pass = False  # set by PICColorizer.initialize; not part of the config

    def build(self, input_shape: Any) -> None:
        in_channels = int(input_shape[-1])
        self.V = self.add_weight(
            name="V",
            shape=(*self.kernel_size, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(0.0, 0.05),  # the authors' N(0, 0.05)
        )
        self.g = self.add_weight(name="g", shape=(self.filters,), initializer="ones")
        self.b = self.add_weight(name="b", shape=(self.filters,), initializer="zeros")

    def direction(self) -> tf.Tensor:
        """V / ||V||, [kh, kw, C_in, filters] (the authors' tf.nn.l2_normalize over axes 0, 1, 2)."""
        v = tf.convert_to_tensor(self.V)
        sq = tf.reduce_sum(tf.square(v), axis=[0, 1, 2], keepdims=True)
        return v * tf.math.rsqrt(tf.maximum(sq, 1e-12))

    def kernel(self) -> tf.Tensor:
        """The effective kernel g * V / ||V||, [kh, kw, C_in, filters] (used by the fast sampler too)."""
        return tf.convert_to_tensor(self.g) * self.direction()

    def _conv(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(
            x, tf.cast(kernel, x.dtype), self.strides, self.padding, dilations=self.dilation
        )

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.init_pass:
            t = self._conv(x, self.direction())
            mean, var = tf.nn.moments(t, axes=[0, 1, 2])
            scale = self.init_scale / tf.sqrt(var + 1e-8)
            self.g.assign(scale)
            self.b.assign(-mean * scale)
            return scale * (t - mean)
        return self._conv(x, self.kernel()) + tf.cast(self.b, x.dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": self.strides,
            "dilation": self.dilation,
            "padding": self.padding,
            "init_scale": self.init_scale,
        }
