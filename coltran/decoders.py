"""The outer and inner decoders of the ColTran core (Kumar et al. 2021, §3, §4.1, appendix H).

Outer decoder: per layer, unmasked row attention then masked column attention (each followed by an
MLP); its output is shifted down one row, so row i of the result summarises rows < i of the colours.
Inner decoder: the colour embeddings are shifted right one pixel; per layer, masked row attention and an
MLP; pixel (i, j) sees pixels (i, < j) through it, rows < i through the outer decoder's context and the
whole grayscale through the encoder output z.

Conditioning (§4.1): cLN everywhere pools z only (pooling the outer context would leak future rows); cAtt
and cMLP project z in the outer decoder and concat(z, outer context) in the inner decoder.

All blocks are post-norm residual, x <- cLN(x + f(x)) (`coltran.layers.ResidualBlock`), as in the
authors' code (their `OuterDecoder` / `InnerDecoder`); neither decoder has a final norm (the core's head
adds a plain LayerNorm). The outer decoder runs its block stack through one `body` that takes the
attention of its masked layers as a function, so the teacher-forced pass and the sampler's cached row step
(`coltran/sampler.py`) share every line except how masked attention reads its keys and values. The
sampler's inner decoder is rearranged for speed one pixel at a time (`coltran/pixel_step.py`); tests hold
its logits to the teacher-forced `InnerDecoder` ones.

Sampling context (`row_context`): the authors' sampler gives the inner decoder one row of z as its
context, so the inner cLNs pool that row (their spatial weights broadcast over the rows) while training
pools all of z. `InnerDecoder(..., row_context=True)` computes that function for every row at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import keras
import tensorflow as tf

from coltran.attention import AxialAttention
from coltran.conditional import ConditionalLayerNorm, FeedForward
from coltran.layers import AxialLayer, PositionEmbedding2D, ResidualBlock, shift_down, shift_right


def _full_attention(index: int, att: AxialAttention, x: tf.Tensor, modulation: dict) -> tf.Tensor:
    del index
    return att(x, modulation=modulation)


class _Decoder(keras.layers.Layer):
    """Shared constructor arguments and helpers of the two decoders."""

    def __init__(
        self,
        hidden_size: int,
        ff_size: int,
        num_heads: int,
        num_layers: int,
        dropout: float = 0.0,
        cond_ln: str = "affine",
        cond_ln_pool: str = "learnable",
        cond_mlp: str = "affine",
        cond_att: str = "affine",
        cond_att_q: bool = True,
        cond_att_k: bool = True,
        cond_att_v: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.ff_size = ff_size
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.dropout = dropout
        self.cond_ln = cond_ln
        self.cond_ln_pool = cond_ln_pool
        self.cond_mlp = cond_mlp
        self.cond_att = cond_att
        self.cond_att_q, self.cond_att_k, self.cond_att_v = cond_att_q, cond_att_k, cond_att_v
        self.pos = PositionEmbedding2D(name="position")
        self.drop = keras.layers.Dropout(dropout)
        self.norms: list[ConditionalLayerNorm] = []

    def _norm(self, name: str) -> ConditionalLayerNorm:
        norm = ConditionalLayerNorm(self.cond_ln, self.cond_ln_pool, name=name)
        self.norms.append(norm)
        return norm

    def _att(self, axis: str, masked: bool, name: str) -> AxialAttention:
        return AxialAttention(
            self.hidden_size,
            self.num_heads,
            axis=axis,
            masked=masked,
            cond_mode=self.cond_att,
            cond_q=self.cond_att_q,
            cond_k=self.cond_att_k,
            cond_v=self.cond_att_v,
            name=name,
        )

    def _mlp(self, name: str) -> FeedForward:
        return FeedForward(self.hidden_size, self.ff_size, cond_mode=self.cond_mlp, name=name)

    def ln_modulations(self, z: tf.Tensor) -> list:
        """The cLN (scale, shift) of every norm, in order, from the whole encoder output z [B, H, W, D]."""
        for norm in self.norms:
            if not norm.built:  # normalised features and z both have width D
                norm.build(z.shape, z.shape)
        return [norm.modulation(z) for norm in self.norms]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            ff_size=self.ff_size,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            dropout=self.dropout,
            cond_ln=self.cond_ln,
            cond_ln_pool=self.cond_ln_pool,
            cond_mlp=self.cond_mlp,
            cond_att=self.cond_att,
            cond_att_q=self.cond_att_q,
            cond_att_k=self.cond_att_k,
            cond_att_v=self.cond_att_v,
        )
        return config


class OuterDecoder(_Decoder):
    """Rows < i of the colour embeddings -> context for row i (ColTran §3, "outer decoder").

    Call: x_emb [B, H, W, D] colour embeddings, z [B, H, W, D] encoder output -> [B, H, W, D], already
    shifted down (row 0 is zero). Layers: `axial_layers`, each an `AxialLayer` of four `ResidualBlock`s.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.axial_layers: list[AxialLayer] = []
        for i in range(self.num_layers):
            self.axial_layers.append(
                AxialLayer(
                    ResidualBlock(self._att("row", False, f"row_att_{i}"), self._norm(f"row_att_norm_{i}")),
                    ResidualBlock(self._mlp(f"row_mlp_{i}"), self._norm(f"row_mlp_norm_{i}")),
                    ResidualBlock(self._att("column", True, f"col_att_{i}"), self._norm(f"col_att_norm_{i}")),
                    ResidualBlock(self._mlp(f"col_mlp_{i}"), self._norm(f"col_mlp_norm_{i}")),
                )
            )

    @property
    def blocks(self) -> list[ResidualBlock]:
        return [block for layer in self.axial_layers for block in layer]

    def position_modulations(self, context: tf.Tensor) -> list:
        """Per block, the cAtt / cMLP modulation from z (or a row of it) [B, h, W, D]."""
        return [block.layer.modulation(context) for block in self.blocks]

    def body(
        self,
        h: tf.Tensor,
        ln_mods: list,
        pos_mods: list,
        col_attention: Callable = _full_attention,
        training: bool = False,
    ) -> tf.Tensor:
        """The block stack on h [B, h, W, D] (all rows, or one row when `col_attention` is cached)."""
        for k, block in enumerate(self.blocks):
            layer = block.layer
            if isinstance(layer, AxialAttention) and layer.masked:
                out = col_attention(k // 4, layer, h, pos_mods[k])
            else:
                out = layer(h, modulation=pos_mods[k])
            h = block.norm(h + self.drop(out, training=training), modulation=ln_mods[k])
        return h

    def call(self, x_emb: tf.Tensor, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        h = self.pos(x_emb) + z
        out = self.body(h, self.ln_modulations(z), self.position_modulations(z), training=training)
        return shift_down(out)


class InnerLayer(NamedTuple):
    """One layer of the inner decoder: masked row attention, MLP."""

    attention: ResidualBlock
    mlp: ResidualBlock


class InnerDecoder(_Decoder):
    """Colours of pixels (i, < j), outer context and z -> features of pixel (i, j) (ColTran §3).

    Call: x_emb [B, h, W, D] colour embeddings (not yet shifted), upper [B, h, W, D] outer-decoder
    context, z [B, H, W, D] the whole encoder output; `row` None means h == H (teacher forcing), else
    x_emb and upper hold the single row `row` (the naive sampler). row_context: the cLNs pool only the
    row's own z (the authors' sampling context) instead of all of z. Returns [B, h, W, D].
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inner_layers: list[InnerLayer] = []
        for i in range(self.num_layers):
            self.inner_layers.append(
                InnerLayer(
                    ResidualBlock(self._att("row", True, f"row_att_{i}"), self._norm(f"row_att_norm_{i}")),
                    ResidualBlock(self._mlp(f"mlp_{i}"), self._norm(f"mlp_norm_{i}")),
                )
            )

    @property
    def blocks(self) -> list[ResidualBlock]:
        return [block for layer in self.inner_layers for block in layer]

    def position_modulations(self, context: tf.Tensor) -> list:
        """Per block, the cAtt / cMLP modulation from concat(z, upper) [B, h, W, 2D]."""
        return [block.layer.modulation(context) for block in self.blocks]

    def row_ln_modulations(self, z: tf.Tensor) -> list:
        """The cLN (scale, shift) of every norm under the authors' sampling context, each [B, H, 1, D]:
        row r's from row r of z alone."""
        for norm in self.norms:
            if not norm.built:
                norm.build(z.shape, z.shape)
        return [norm.row_modulation(z) for norm in self.norms]

    def body(self, h: tf.Tensor, ln_mods: list, pos_mods: list, training: bool = False) -> tf.Tensor:
        for k, block in enumerate(self.blocks):
            out = block.layer(h, modulation=pos_mods[k])
            h = block.norm(h + self.drop(out, training=training), modulation=ln_mods[k])
        return h

    def call(
        self,
        x_emb: tf.Tensor,
        upper: tf.Tensor,
        z: tf.Tensor,
        row: tf.Tensor | None = None,
        training: bool = False,
        row_context: bool = False,
    ) -> tf.Tensor:
        if not self.pos.built:
            self.pos.build(z.shape)
        if row is None:
            pos, z_rows = self.pos.table(), z
        else:
            pos, z_rows = self.pos.table([row]), tf.gather(z, [row], axis=1)
        h = shift_right(x_emb) + pos + z_rows + upper
        pos_mods = self.position_modulations(tf.concat([z_rows, upper], axis=-1))
        if not row_context:
            ln_mods = self.ln_modulations(z)
        elif row is None:
            ln_mods = self.row_ln_modulations(z)
        else:  # as the authors' sampler: the row's z, pooled with the spatial weights broadcast over rows
            ln_mods = self.ln_modulations(z_rows)
        return self.body(h, ln_mods, pos_mods, training=training)
