"""PixColor's conditioning network: a ResNet-101 trunk on the grayscale (appendix table, fig. 4).

Table: 224 x 224 x 3 input; conv 7x7 / 2 of 64; 3 bottleneck blocks 64/256 (strides 2, 1, 1); 4 blocks
128/512 (2, 1, 1, 1); 23 blocks 256/1024 (stride 1) -> [B, 28, 28, 1024], output stride 8 (no max pool:
the first block of the first stage strides instead). The paper pre-trains it on COCO segmentation
(fig. 4, following DeepLab); that cannot be reproduced here. It can start instead from a local Keras
applications ResNet-101 weights file (`load_keras_resnet_weights`): our layers carry Keras' names
(conv1_conv, conv2_block1_1_conv, ...) and the same shapes (strides do not change weights). Its own
initialisation is Keras ResNet's (Glorot uniform, biases 0, batch norm epsilon 1.001e-5); the table's
truncated normal (0.1) describes the layers trained from scratch.

`scale_gradient` is the table's "gradient multiplier, engaged at 100,000 steps": the identity forward, the
gradient into the trunk times `scale` (0 before the engage step, so a pre-trained trunk stays fixed while
the layers after it learn).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import tensorflow as tf

BN_EPSILON = 1.001e-5  # keras.applications ResNet's


def scale_gradient(x: tf.Tensor, scale: tf.Tensor | float) -> tf.Tensor:
    """x unchanged forward; d/dx of the result is `scale` (a gradient multiplier, no custom gradient)."""
    frozen = tf.stop_gradient(x)
    return frozen + tf.cast(scale, x.dtype) * (x - frozen)


@keras.saving.register_keras_serializable(package="colorize")
class Bottleneck(keras.layers.Layer):
    """ResNet v1 bottleneck block [B, H, W, Cin] -> [B, H/stride, W/stride, 4 * width] (He et al. 2016).

    1x1 (stride) -> 3x3 -> 1x1, batch norm after each, ReLU, a projection shortcut in a stage's first block;
    the stride sits in the first 1x1 as in Keras' ResNet, whose layer names the parts keep (`1_conv`, ...).
    """

    def __init__(
        self, width: int, stride: int = 1, projection: bool = False, momentum: float = 0.99, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.width = int(width)
        self.stride = int(stride)
        self.projection = bool(projection)
        conv = keras.layers.Conv2D

        def bn(**kw):
            return keras.layers.BatchNormalization(momentum=self.momentum, **kw)

        self.parts: dict[str, keras.layers.Layer] = {}
        if self.projection:
            self.parts["0_conv"] = conv(4 * width, 1, strides=stride, name="0_conv")
            self.parts["0_bn"] = bn(epsilon=BN_EPSILON, name="0_bn")
        self.parts["1_conv"] = conv(width, 1, strides=stride, name="1_conv")
        self.parts["1_bn"] = bn(epsilon=BN_EPSILON, name="1_bn")
        self.parts["2_conv"] = conv(width, 3, padding="same", name="2_conv")
        self.parts["2_bn"] = bn(epsilon=BN_EPSILON, name="2_bn")
        self.parts["3_conv"] = conv(4 * width, 1, name="3_conv")
        self.parts["3_bn"] = bn(epsilon=BN_EPSILON, name="3_bn")

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        p = self.parts
        shortcut = p["0_bn"](p["0_conv"](x), training=training) if self.projection else x
        y = tf.nn.relu(p["1_bn"](p["1_conv"](x), training=training))
        y = tf.nn.relu(p["2_bn"](p["2_conv"](y), training=training))
        y = p["3_bn"](p["3_conv"](y), training=training)
        return tf.nn.relu(shortcut + y)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "width": self.width,
            "stride": self.stride,
            "projection": self.projection,
            "momentum": self.momentum,
        }


@keras.saving.register_keras_serializable(package="colorize")
class ResNetTrunk(keras.layers.Layer):
    """x [B, H, W, 3] (caffe-style: BGR, mean-subtracted, 0..255 scale) -> [B, H/8, W/8, 16 * width].

    Args:
      blocks: bottleneck blocks per stage, (3, 4, 23) in the table (ResNet-101's first three stages).
      width: bottleneck width of the first stage (64); stage s has width * 2**s, outputs 4x that.
      strides: each stage's first stride, (2, 2, 1) in the table.
      momentum: of the batch norms' moving statistics (Keras' 0.99; short runs need less).
    """

    def __init__(
        self,
        blocks: Sequence[int] = (3, 4, 23),
        width: int = 64,
        strides: Sequence[int] = (2, 2, 1),
        momentum: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if len(blocks) != len(strides) or min(blocks) < 1:
            raise ValueError(
                f"pixcolor/conditioning.py: blocks {list(blocks)} and strides {list(strides)} must have one "
                "entry >= 1 per stage"
            )
        self.blocks = [int(b) for b in blocks]
        self.width = int(width)
        self.strides = [int(s) for s in strides]
        self.momentum = float(momentum)
        self.conv1_conv = keras.layers.Conv2D(width, 7, strides=2, name="conv1_conv")
        self.conv1_bn = keras.layers.BatchNormalization(
            momentum=self.momentum, epsilon=BN_EPSILON, name="conv1_bn"
        )
        self.stages = [
            [
                Bottleneck(
                    width * 2**s,
                    stride if b == 0 else 1,
                    projection=b == 0,
                    momentum=self.momentum,
                    name=f"conv{s + 2}_block{b + 1}",
                )
                for b in range(n)
            ]
            for s, (n, stride) in enumerate(zip(self.blocks, self.strides, strict=True))
        ]

    @property
    def output_channels(self) -> int:
        return 4 * self.width * 2 ** (len(self.blocks) - 1)

    @property
    def stride(self) -> int:
        total = 2
        for s in self.strides:
            total *= s
        return total

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]])  # Keras' conv1_pad
        x = tf.nn.relu(self.conv1_bn(self.conv1_conv(x), training=training))
        for stage in self.stages:
            for block in stage:
                x = block(x, training=training)
        return x

    def keras_named_layers(self) -> Iterator[tuple[str, keras.layers.Layer]]:
        """(Keras applications layer name, our layer) for every layer with weights."""
        yield "conv1_conv", self.conv1_conv
        yield "conv1_bn", self.conv1_bn
        for stage in self.stages:
            for block in stage:
                for part, layer in block.parts.items():
                    yield f"{block.name}_{part}", layer

    def get_config(self) -> dict:
        c = {"blocks": self.blocks, "width": self.width, "strides": self.strides, "momentum": self.momentum}
        return {**super().get_config(), **c}


def load_keras_resnet_weights(trunk: ResNetTrunk, source: str | keras.Model) -> int:
    """Copies Keras applications ResNet weights into `trunk` by layer name; returns the layers copied.

    source: a local ResNet-101 weights file (include_top=False: the published
      resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5, or a `.weights.h5` that Keras 3 wrote), read
      into `keras.applications.ResNet101`; or a built Keras ResNet model (any depth with these names).
    The trunk must be built, with width 64 and no more blocks per stage than the source. Nothing is
    downloaded."""
    if isinstance(source, str):
        path = os.path.expanduser(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"pixcolor/conditioning.py: resnet_weights {source!r} is not a file; give a local Keras "
                "ResNet101 weights file (include_top=False), e.g. "
                "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5"
            )
        source = keras.applications.ResNet101(include_top=False, weights=path, input_shape=(None, None, 3))
    names = {layer.name for layer in source.layers}
    missing = [name for name, _ in trunk.keras_named_layers() if name not in names]
    if trunk.width != 64 or missing:
        raise ValueError(
            f"pixcolor/conditioning.py: the trunk (width {trunk.width}, blocks {trunk.blocks}) does not fit "
            f"the Keras ResNet (width 64; missing layers: {', '.join(missing[:4]) or 'none'})"
        )
    count = 0
    for name, layer in trunk.keras_named_layers():
        layer.set_weights(source.get_layer(name).get_weights())
        count += 1
    return count
