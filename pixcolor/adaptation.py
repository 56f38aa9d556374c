"""PixColor's adaptation network: conditioning features -> the PixelCNN's conditioning signal (fig. 4).

Figure 4 puts an adaptation network between the conditioning network and the PixelCNN; the appendix
table lists, after the ResNet blocks, "3x Conv2D 3x3, stride 1, 64": these three convolutions are the
adaptation network here (the only layers between the trunk and the PixelCNN), trained from step 0 while
the gradient multiplier holds the trunk (pixcolor/conditioning.py). ReLU after the first two; the third is
linear (the PixelCNN projects it into every gate). Truncated normal (0.1) kernels, zero biases (table).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="colorize")
class AdaptationNetwork(keras.layers.Layer):
    """features [B, h, w, Cin] -> conditioning signal [B, h, w, channels] (same size, 3x3 convolutions).

    Args: channels (64), num_layers (3), init_stddev (0.1): the appendix table.
    """

    def __init__(
        self, channels: int = 64, num_layers: int = 3, init_stddev: float = 0.1, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.num_layers = int(num_layers)
        self.init_stddev = float(init_stddev)
        init = keras.initializers.TruncatedNormal(stddev=self.init_stddev)
        self.convs = [
            keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer=init, name=f"conv_{i}")
            for i in range(num_layers)
        ]

    def call(self, x: tf.Tensor) -> tf.Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i + 1 < len(self.convs):
                x = tf.nn.relu(x)
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "channels": self.channels,
            "num_layers": self.num_layers,
            "init_stddev": self.init_stddev,
        }
