"""Layers shared by the three ColTran stages (Kumar et al. 2021, §3 and appendix H).

Here: learned per-axis position embeddings, the causal shifts, the pre-norm residual axial blocks and
the unmasked `AxialEncoder` (the grayscale encoder of the core and the body of both upsamplers). The
attention layer lives in `coltran/attention.py` and the conditional cLN / cMLP in
`coltran/conditional.py`; both are re-exported here so every stage imports from one module.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from coltran.attention import AxialAttention
from coltran.conditional import ConditionalLayerNorm, FeedForward

__all__ = [
    "AxialAttention",
    "AxialEncoder",
    "ConditionalLayerNorm",
    "FeedForward",
    "PositionEmbedding2D",
    "shift_down",
    "shift_right",
]


def shift_down(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, D] -> [B, H, W, D] with out[:, i] = x[:, i - 1] and zeros in row 0."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def shift_right(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, D] -> [B, H, W, D] with out[:, :, j] = x[:, :, j - 1] and zeros in column 0."""
    return tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


class PositionEmbedding2D(keras.layers.Layer):
    """Adds a learned embedding per row and one per column (ColTran appendix H: factorised positions).

    Call: x [B, H, W, D] -> x + row[H, 1, D] + col[1, W, D]. `table()` returns the sum [H, W, D] so a
    sampler can add the embedding of one row or one pixel.
    """

    def build(self, input_shape):
        height, width, depth = input_shape[1:]
        init = keras.initializers.RandomNormal(stddev=depth**-0.5)
        self.row = self.add_weight(name="row", shape=(height, 1, depth), initializer=init)
        self.col = self.add_weight(name="col", shape=(1, width, depth), initializer=init)

    def table(self) -> tf.Tensor:
        return self.row + self.col

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x + self.table()


class AxialEncoder(keras.layers.Layer):
    """Unmasked axial transformer: per layer a row-attention block then a column-attention block.

    ColTran appendix H. Each block is pre-norm residual: x += Att(LN(x)); x += MLP(LN(x)). Learned
    per-axis position embeddings are added to the input; a final LayerNorm closes the pre-norm stack.

    Args:
      hidden_size: D; ff_size: MLP inner width; num_heads: attention heads; num_layers: row+column pairs;
      dropout: residual dropout rate during training.
    Call:
      x [B, H, W, D] (H, W static) -> [B, H, W, D].
    """

    def __init__(
        self, hidden_size: int, ff_size: int, num_heads: int, num_layers: int, dropout: float = 0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.ff_size = ff_size
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.dropout = dropout
        self.pos = PositionEmbedding2D(name="position")
        self.blocks = []
        for i in range(num_layers):
            for axis in ("row", "column"):
                self.blocks.append(
                    (
                        keras.layers.LayerNormalization(epsilon=1e-6, name=f"{axis}_att_norm_{i}"),
                        AxialAttention(hidden_size, num_heads, axis=axis, name=f"{axis}_att_{i}"),
                        keras.layers.LayerNormalization(epsilon=1e-6, name=f"{axis}_mlp_norm_{i}"),
                        FeedForward(hidden_size, ff_size, name=f"{axis}_mlp_{i}"),
                    )
                )
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.drop = keras.layers.Dropout(dropout)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        if x.shape[-1] != self.hidden_size:
            raise ValueError(
                f"coltran/layers.py:AxialEncoder: expected inputs [B, H, W, {self.hidden_size}], "
                f"got {x.shape}."
            )
        x = self.pos(x)
        for att_norm, att, mlp_norm, mlp in self.blocks:
            x = x + self.drop(att(att_norm(x)), training=training)
            x = x + self.drop(mlp(mlp_norm(x)), training=training)
        return self.final_norm(x)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            ff_size=self.ff_size,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            dropout=self.dropout,
        )
        return config
