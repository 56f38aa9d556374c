"""Layers shared by the three ColTran stages (Kumar et al. 2021, §3 and appendix H).

Here: learned per-axis position embeddings, the causal shifts, the named post-norm residual blocks and
the unmasked `AxialEncoder` (the grayscale encoder of the core and the body of both upsamplers), with its
two optional memory savers (strips and rematerialisation, used by the upsamplers at 256x256). The
attention layer lives in `coltran/attention.py` and the conditional cLN / cMLP in
`coltran/conditional.py`; both are re-exported here so every stage imports from one module.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record  # tf.recompute_grad's own way to pause the tape (no public API)

from coltran.attention import AxialAttention
from coltran.conditional import LN_EPSILON, ConditionalLayerNorm, FeedForward

__all__ = [
    "AxialAttention",
    "AxialEncoder",
    "AxialLayer",
    "ConditionalLayerNorm",
    "FeedForward",
    "PositionEmbedding2D",
    "ResidualBlock",
    "shift_down",
    "shift_right",
]


class ResidualBlock(NamedTuple):
    """One post-norm residual block, x <- norm(x + layer(x)) (the authors' code; the paper's appendix H
    draws pre-norm). `layer` is an AxialAttention or a FeedForward, `norm` a LayerNormalization or a
    ConditionalLayerNorm."""

    layer: Any
    norm: Any


class AxialLayer(NamedTuple):
    """One layer of the encoder and of the outer decoder: row attention, MLP, column attention, MLP."""

    row_attention: ResidualBlock
    row_mlp: ResidualBlock
    column_attention: ResidualBlock
    column_mlp: ResidualBlock


def shift_down(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, D] -> [B, H, W, D] with out[:, i] = x[:, i - 1] and zeros in row 0."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def shift_right(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, D] -> [B, H, W, D] with out[:, :, j] = x[:, :, j - 1] and zeros in column 0."""
    return tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


class PositionEmbedding2D(keras.layers.Layer):
    """Adds a learned embedding per row and one per column (ColTran appendix H: factorised positions).

    Call: x [B, H, W, D] -> x + row[H, 1, D] + col[1, W, D]. `table()` returns the sum [H, W, D], and
    `table(rows)` the sum at the rows `rows` [k] -> [k, W, D], so a sampler can add one row's embedding.

    `call` forms the sum at run time from gathers whose indices depend on the input's values (always
    0 + range): with constant indices the TFLite converter folds row + col into one [H, W, D] constant,
    which dynamic-range quantisation leaves in float32 (the spatial upsampler's: 256 x 256 x 512, 128 MB,
    a third of the paper-size .tflite); gathered tables are stored as int8 like the other weights.
    """

    def build(self, input_shape):
        height, width, depth = input_shape[1:]
        init = keras.initializers.RandomNormal(stddev=depth**-0.5)
        self.row = self.add_weight(name="row", shape=(height, 1, depth), initializer=init)
        self.col = self.add_weight(name="col", shape=(1, width, depth), initializer=init)

    def table(self, rows: tf.Tensor | list | None = None) -> tf.Tensor:
        if rows is None:
            return self.row + self.col
        return tf.gather(self.row, rows) + self.col

    def call(self, x: tf.Tensor) -> tf.Tensor:
        # 0, but only known at run time (the class docstring says why): v XOR v of a value of x.
        v = tf.cast(tf.reduce_max(tf.reshape(x, [-1])[:1]), tf.int32)
        zero = tf.bitwise.bitwise_xor(v, v)
        rows = tf.gather(self.row, tf.range(self.row.shape[0]) + zero)
        cols = tf.gather(self.col, tf.range(self.col.shape[1]) + zero, axis=1)
        return x + rows + cols


def _remat_strips(fn: Any, x: tf.Tensor, sizes: list[int], axis: int, residual: bool) -> tf.Tensor:
    """fn(x) (or x + fn(x) when `residual`) strip by strip along `axis`, with gradient checkpointing.

    The forward pass keeps nothing but `x` for backprop; the backward pass recomputes each strip's
    forward under its own tape, so only one strip's intermediates exist at any time. `fn` must act on
    each strip independently (the caller's strips respect the attention axis). Two details save memory
    over `tf.recompute_grad` per strip, which would keep a copy of the branch's weights per strip and,
    through the identity that `tf.custom_gradient` puts on its output, the branch output too: here the
    weights are recorded once per branch and the residual sum is formed inside, so the output kept is
    the next branch's input, which is kept anyway.
    """

    @tf.custom_gradient
    def run(t: tf.Tensor) -> tuple[tf.Tensor, Any]:
        with record.stop_recording():  # what tf.recompute_grad does: no intermediates on the outer tape
            y = tf.concat([fn(part) for part in tf.split(t, sizes, axis=axis)], axis=axis)
            if residual:
                y = t + y

        def grad(dy: tf.Tensor, variables: list[tf.Variable] | None = None) -> tuple[tf.Tensor, list]:
            variables = list(variables or [])
            dvars: list[tf.Tensor | None] = [None] * len(variables)
            dxs = []
            parts = zip(tf.split(t, sizes, axis=axis), tf.split(dy, sizes, axis=axis), strict=True)
            for part, dpart in parts:
                # In a graph, make the recomputation wait for the incoming gradient and the previous strip,
                # so that it is neither merged with the forward ops (common subexpression elimination
                # would keep every forward intermediate alive) nor run for all strips at once.
                with tf.control_dependencies([dpart, *dxs[-1:]]):
                    part = tf.identity(part)
                with tf.GradientTape() as tape:
                    tape.watch(part)
                    tape.watch(variables)
                    out = fn(part)
                g = tape.gradient(out, [part, *variables], output_gradients=dpart)
                dxs.append(g[0] + dpart if residual else g[0])
                for i, gv in enumerate(g[1:]):
                    if gv is not None:
                        gv = tf.convert_to_tensor(gv)
                        dvars[i] = gv if dvars[i] is None else dvars[i] + gv
            dvars = [tf.zeros_like(v) if d is None else d for v, d in zip(variables, dvars, strict=True)]
            return tf.concat(dxs, axis=axis), dvars

        return y, grad

    return run(x)


class AxialEncoder(keras.layers.Layer):
    """Unmasked axial transformer: per layer a row-attention block then a column-attention block.

    ColTran appendix H, in the authors' post-norm form (`FactorizedAttention`): each block is
    x <- LN(x + Att(x)), x <- LN(x + MLP(x)) (`ResidualBlock`); learned per-axis position embeddings are
    added to the input; no final norm.

    Two memory savers for large images (the upsamplers at 256x256; ref users run out of memory there,
    their issues #838, #896). Both give the same values and gradients as the plain pass
    (tests/coltran/test_layers.py):
      * strips (`num_chunks` > 1, at inference and in remat training): each residual branch runs on
        horizontal strips of whole rows (row attention, MLP, layer norms) or vertical strips of whole
        columns (column attention), which is exact because nothing mixes across them, so only one
        strip's attention weights and MLP activations exist at a time;
      * `remat` in training: every branch (each strip) is recomputed in backprop (gradient
        checkpointing), so only its input is kept for the backward pass, not its intermediates. Skipped
        with dropout > 0, where a recomputed branch would draw a different mask.

    Args:
      hidden_size: D; ff_size: MLP inner width; num_heads: attention heads; num_layers: row+column pairs;
      dropout: residual dropout rate during training; num_chunks: strips per branch (1: none);
      remat: recompute each branch in backprop.
    Call:
      x [B, H, W, D] (H, W static) -> [B, H, W, D].
    """

    def __init__(
        self,
        hidden_size: int,
        ff_size: int,
        num_heads: int,
        num_layers: int,
        dropout: float = 0.0,
        num_chunks: int = 1,
        remat: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(num_chunks, bool) or not isinstance(num_chunks, (int, np.integer)) or num_chunks < 1:
            raise ValueError(
                f"coltran/layers.py:AxialEncoder: num_chunks must be an int >= 1, got {num_chunks!r}."
            )
        self.hidden_size = hidden_size
        self.ff_size = ff_size
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.dropout = dropout
        self.num_chunks = int(num_chunks)
        self.remat = bool(remat)
        self.pos = PositionEmbedding2D(name="position")
        self.axial_layers: list[AxialLayer] = []
        for i in range(num_layers):
            parts = []
            for axis in ("row", "column"):
                parts.append(
                    ResidualBlock(
                        AxialAttention(hidden_size, num_heads, axis=axis, name=f"{axis}_att_{i}"),
                        keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{axis}_att_norm_{i}"),
                    )
                )
                parts.append(
                    ResidualBlock(
                        FeedForward(hidden_size, ff_size, name=f"{axis}_mlp_{i}"),
                        keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{axis}_mlp_norm_{i}"),
                    )
                )
            self.axial_layers.append(AxialLayer(*parts))
        self.drop = keras.layers.Dropout(dropout)

    @property
    def blocks(self) -> list[ResidualBlock]:
        """Every residual block in order (per layer: row attention, MLP, column attention, MLP)."""
        return [block for layer in self.axial_layers for block in layer]

    def _check_width(self, shape: Any) -> None:
        if shape[-1] != self.hidden_size:
            raise ValueError(
                f"coltran/layers.py:AxialEncoder: expected inputs [B, H, W, {self.hidden_size}], got {shape}."
            )

    def build(self, input_shape):
        shape = tuple(input_shape)
        self._check_width(shape)
        # In the order a first call would build them, so seeded initial weights are those of a call.
        self.pos.build(shape)
        for block in self.blocks:
            if isinstance(block.layer, AxialAttention):
                block.layer.build(shape)
            else:
                # FeedForward has no `build` of its own: build its two Dense layers (unconditional here) in
                # its name scope, so the weights get the paths a call would give them.
                mlp = block.layer
                with keras.name_scope(mlp.name, caller=mlp):
                    mlp.inner.build(shape)
                    mlp.outer.build(shape[:-1] + (self.ff_size,))
                mlp.build(shape)  # Keras's default: marks it built and records the shape, as a call would
            block.norm.build(shape)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        self._check_width(x.shape)
        remat = self.remat and training and self.dropout == 0.0
        x = self.pos(x)
        if not remat and (training or self.num_chunks == 1):
            # Strips without remat save nothing in training (the tape keeps every strip's intermediates).
            for block in self.blocks:
                x = block.norm(x + self.drop(block.layer(x), training=training))
            return x
        for block in self.blocks:
            # Keep whole rows (row attention, MLP, norms) / whole columns (column attention) together.
            axis = 2 if isinstance(block.layer, AxialAttention) and block.layer.axis == "column" else 1
            x = self._branch(lambda t, b=block: b.norm(t + b.layer(t)), x, axis, remat)
        return x

    def _branch(self, fn: Any, x: tf.Tensor, axis: int, remat: bool) -> tf.Tensor:
        """fn(x) strip by strip along `axis` (1 = rows, 2 = columns)."""
        size = x.shape[axis]
        sizes = [len(part) for part in np.array_split(np.arange(size), min(self.num_chunks, size))]
        if remat:
            return _remat_strips(fn, x, sizes, axis, residual=False)
        return (
            fn(x) if len(sizes) == 1 else tf.concat([fn(p) for p in tf.split(x, sizes, axis=axis)], axis=axis)
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            ff_size=self.ff_size,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            dropout=self.dropout,
            num_chunks=self.num_chunks,
            remat=self.remat,
        )
        return config
