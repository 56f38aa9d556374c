"""The outer and inner decoders of the ColTran core (Kumar et al. 2021, §3, §4.1, appendix H).

Outer decoder: per layer, unmasked row attention then masked column attention (each followed by an
MLP); its output is shifted down one row, so row i of the result summarises rows < i of the colours.
Inner decoder: the colour embeddings are shifted right one pixel; per layer, masked row attention and an
MLP; pixel (i, j) sees pixels (i, < j) through it, rows < i through the outer decoder's context and the
whole grayscale through the encoder output z.

Conditioning (§4.1): cLN everywhere pools z only (pooling the outer context would leak future rows); cAtt
and cMLP project z in the outer decoder and concat(z, outer context) in the inner decoder.

All blocks are pre-norm residual. The outer decoder runs its block stack through one `body` that takes
the attention of its masked layers as a function, so the teacher-forced pass and the sampler's cached row
step (`coltran/sampler.py`) share every line except how masked attention reads its keys and values. The
sampler's inner decoder is rearranged for speed one pixel at a time (`coltran/pixel_step.py`); tests hold
its logits to the teacher-forced `InnerDecoder` ones.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from coltran.attention import AxialAttention
from coltran.conditional import ConditionalLayerNorm, FeedForward
from coltran.layers import PositionEmbedding2D, shift_down, shift_right


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
    shifted down (row 0 is zero).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = []
        for i in range(self.num_layers):
            self.groups.append(
                (
                    self._norm(f"row_att_norm_{i}"),
                    self._att("row", False, f"row_att_{i}"),
                    self._norm(f"row_mlp_norm_{i}"),
                    self._mlp(f"row_mlp_{i}"),
                    self._norm(f"col_att_norm_{i}"),
                    self._att("column", True, f"col_att_{i}"),
                    self._norm(f"col_mlp_norm_{i}"),
                    self._mlp(f"col_mlp_{i}"),
                )
            )
        self.final_norm = self._norm("final_norm")

    def position_modulations(self, context: tf.Tensor) -> list:
        """Per layer, the cAtt / cMLP modulations from z (or a row of it) [B, h, W, D]."""
        return [
            (ra.modulation(context), rm.modulation(context), ca.modulation(context), cm.modulation(context))
            for _, ra, _, rm, _, ca, _, cm in self.groups
        ]

    def body(
        self,
        h: tf.Tensor,
        ln_mods: list,
        pos_mods: list,
        col_attention: Callable = _full_attention,
        training: bool = False,
    ) -> tf.Tensor:
        """The block stack on h [B, h, W, D] (all rows, or one row when `col_attention` is cached)."""
        for i, (rn, ra, rmn, rm, cn, ca, cmn, cm) in enumerate(self.groups):
            ra_m, rm_m, ca_m, cm_m = pos_mods[i]
            h = h + self.drop(ra(rn(h, modulation=ln_mods[4 * i]), modulation=ra_m), training=training)
            h = h + self.drop(rm(rmn(h, modulation=ln_mods[4 * i + 1]), modulation=rm_m), training=training)
            h = h + self.drop(
                col_attention(i, ca, cn(h, modulation=ln_mods[4 * i + 2]), ca_m), training=training
            )
            h = h + self.drop(cm(cmn(h, modulation=ln_mods[4 * i + 3]), modulation=cm_m), training=training)
        return self.final_norm(h, modulation=ln_mods[-1])

    def call(self, x_emb: tf.Tensor, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        h = self.pos(x_emb) + z
        out = self.body(h, self.ln_modulations(z), self.position_modulations(z), training=training)
        return shift_down(out)


class InnerDecoder(_Decoder):
    """Colours of pixels (i, < j), outer context and z -> features of pixel (i, j) (ColTran §3).

    Call: x_emb [B, h, W, D] colour embeddings (not yet shifted), upper [B, h, W, D] outer-decoder
    context, z [B, H, W, D] the whole encoder output; `row` None means h == H (teacher forcing), else
    x_emb and upper hold the single row `row` (the naive sampler). Returns [B, h, W, D].
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = []
        for i in range(self.num_layers):
            self.groups.append(
                (
                    self._norm(f"row_att_norm_{i}"),
                    self._att("row", True, f"row_att_{i}"),
                    self._norm(f"mlp_norm_{i}"),
                    self._mlp(f"mlp_{i}"),
                )
            )
        self.final_norm = self._norm("final_norm")

    def position_modulations(self, context: tf.Tensor) -> list:
        """Per layer, the cAtt / cMLP modulations from concat(z, upper) [B, h, W, 2D]."""
        return [(att.modulation(context), mlp.modulation(context)) for _, att, _, mlp in self.groups]

    def body(
        self,
        h: tf.Tensor,
        ln_mods: list,
        pos_mods: list,
        training: bool = False,
    ) -> tf.Tensor:
        for i, (an, att, mn, mlp) in enumerate(self.groups):
            att_m, mlp_m = pos_mods[i]
            h = h + self.drop(att(an(h, modulation=ln_mods[2 * i]), modulation=att_m), training=training)
            h = h + self.drop(mlp(mn(h, modulation=ln_mods[2 * i + 1]), modulation=mlp_m), training=training)
        return self.final_norm(h, modulation=ln_mods[-1])

    def call(
        self,
        x_emb: tf.Tensor,
        upper: tf.Tensor,
        z: tf.Tensor,
        row: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf.Tensor:
        if not self.pos.built:
            self.pos.build(z.shape)
        if row is None:
            pos, z_rows = self.pos.table(), z
        else:
            pos, z_rows = tf.gather(self.pos.table(), [row]), tf.gather(z, [row], axis=1)
        h = shift_right(x_emb) + pos + z_rows + upper
        pos_mods = self.position_modulations(tf.concat([z_rows, upper], axis=-1))
        return self.body(h, self.ln_modulations(z), pos_mods, training=training)
