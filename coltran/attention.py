"""Axial (row or column) multi-head self-attention, optionally masked and conditional.

ColTran (Kumar et al. 2021) §3 and appendix H: attention runs along one image axis only (a row or a
column), with a learned relative-position bias per head; the decoders mask the future along that axis
(the current position stays visible). §4.1, Table 1 ("cAtt"): the queries, keys and values may be scaled
and/or shifted by 1x1 projections of a context tensor of the same height and width.

Layouts are the authors' (google-research coltran/models/layers.py `SelfAttentionND`), so their
checkpoints load by reshaping alone: q, k, v kernels [D, heads * d] (theirs [D, heads, d]), the output
kernel [heads * d, D], no biases; a conditional projection gives per head (scale, shift), i.e. its
[C, 2D] kernel is their [C, heads, 2d]; the relative bias table is [heads, 2L] (their last column is
never read: offsets k - q + L - 1 span [0, 2L - 2]).

The layer exposes its pieces (`modulation`, `project`, `attend`, `step_bias`, `output`) so that the
fast sampler (`coltran/sampler.py`) can run one row or one pixel at a time with cached keys and values.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from coltran.conditional import COND_MODES, affine_modulation, apply_modulation

MASK_BIAS = -1e9  # added to masked logits; exp underflows to exactly 0 in float32


def _shape(t: tf.Tensor) -> list:
    """Static dims where known, dynamic ones elsewhere (static reshapes add no ops to a sampling step)."""
    dynamic = tf.shape(t)
    return [dynamic[i] if d is None else d for i, d in enumerate(t.shape.as_list())]


class AxialAttention(keras.layers.Layer):
    """Multi-head self-attention along the rows or the columns of a [B, H, W, D] tensor.

    Args:
      hidden_size: D, the model width (also the total width of q, k, v over heads).
      num_heads: number of heads; must divide hidden_size.
      axis: "row" (attend along W within each row) or "column" (along H within each column).
      masked: if True, position p attends only to positions <= p along `axis` (causal, present kept).
      cond_mode: "none" | "shift" | "scale" | "affine": how the context modulates q, k, v (Table 1).
      cond_q, cond_k, cond_v: which of q, k, v are conditioned (ignored when cond_mode == "none").
    Call:
      x [B, H, W, D], context [B, H, W, C] (needed when conditional) -> [B, H, W, D].
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        axis: str = "row",
        masked: bool = False,
        cond_mode: str = "none",
        cond_q: bool = True,
        cond_k: bool = True,
        cond_v: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"coltran/attention.py: hidden_size {hidden_size} is not divisible by num_heads {num_heads}."
            )
        if axis not in ("row", "column"):
            raise ValueError(f"coltran/attention.py: axis must be 'row' or 'column', got {axis!r}.")
        if cond_mode not in COND_MODES:
            raise ValueError(
                f"coltran/attention.py: cond_mode must be one of {COND_MODES}, got {cond_mode!r}."
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.axis = axis
        self.masked = masked
        self.cond_mode = cond_mode
        self.cond_q, self.cond_k, self.cond_v = cond_q, cond_k, cond_v
        self.q_proj = keras.layers.Dense(hidden_size, use_bias=False, name="q")
        self.k_proj = keras.layers.Dense(hidden_size, use_bias=False, name="k")
        self.v_proj = keras.layers.Dense(hidden_size, use_bias=False, name="v")
        self.out_proj = keras.layers.Dense(hidden_size, use_bias=False, name="output")
        width = 2 * hidden_size if cond_mode == "affine" else hidden_size
        # 1x1 projections of the context into (scale, shift) of q, k, v (§4.1).
        self.cond_proj = {}
        if cond_mode != "none":
            for name, on in (("q", cond_q), ("k", cond_k), ("v", cond_v)):
                if on:
                    self.cond_proj[name] = keras.layers.Dense(width, use_bias=False, name=f"cond_{name}")

    def build(self, input_shape):
        length = input_shape[2] if self.axis == "row" else input_shape[1]
        if length is None:
            raise ValueError("coltran/attention.py: the attended axis must have a static length.")
        self.length = int(length)
        # bias[h, q, k] = rel[h, k - q + L - 1]: one learned scalar per head and relative offset (the
        # authors' [heads, 2L] table; its last column is never read).
        self.rel_bias = self.add_weight(
            name="relative_bias", shape=(self.num_heads, 2 * self.length), initializer="zeros"
        )
        for layer in (self.q_proj, self.k_proj, self.v_proj):
            layer.build(tuple(input_shape))
        self.out_proj.build(tuple(input_shape[:-1]) + (self.hidden_size,))

    # -- pieces used by the samplers ---------------------------------------------------------------
    def split_modulation(self, projected: tf.Tensor) -> tuple:
        """One conditional projection [..., K] -> (scale, shift), each [..., D] or None.

        "affine": per head (scale, shift), the authors' layout: [..., heads, 2d] split on its last axis."""
        if self.cond_mode != "affine":
            return affine_modulation(projected, self.cond_mode)
        lead = _shape(projected)[:-1]
        per_head = tf.reshape(projected, lead + [self.num_heads, 2 * self.head_size])
        scale, shift = tf.split(per_head, 2, axis=-1)
        return tf.reshape(scale, lead + [self.hidden_size]), tf.reshape(shift, lead + [self.hidden_size])

    def modulation(self, context: tf.Tensor | None) -> dict:
        """{name: (scale or None, shift or None)} for the conditioned projections; context [..., C]."""
        if not self.cond_proj:
            return {}
        if context is None:
            raise ValueError(f"coltran/attention.py:{self.name}: this layer is conditional; pass `context`.")
        return {n: self.split_modulation(p(context)) for n, p in self.cond_proj.items()}

    def project(self, x: tf.Tensor, modulation: dict) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """x [..., D] -> q, k, v [..., heads, head_size]; q already carries the 1/sqrt(d) factor."""
        out = []
        for name, proj in (("q", self.q_proj), ("k", self.k_proj), ("v", self.v_proj)):
            t = apply_modulation(proj(x), modulation.get(name))
            out.append(tf.reshape(t, _shape(t)[:-1] + [self.num_heads, self.head_size]))
        q, k, v = out
        return q * (self.head_size**-0.5), k, v

    def output(self, o: tf.Tensor) -> tf.Tensor:
        """[..., heads, head_size] -> [..., D]."""
        o = tf.reshape(o, _shape(o)[:-2] + [self.hidden_size])
        return self.out_proj(o)

    def attend(self, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
        """Full attention along axis 2 of q, k, v [B, X, L, heads, d] -> [B, X, L, heads, d]."""
        logits = tf.einsum("bxqnd,bxknd->bxnqk", q, k)
        pos = np.arange(self.length)
        index = pos[None, :] - pos[:, None] + self.length - 1  # [q, k]
        bias = tf.gather(self.rel_bias, index, axis=1)  # [heads, q, k]
        if self.masked:
            future = np.triu(np.full((self.length,) * 2, MASK_BIAS, np.float32), k=1)
            bias = bias + tf.cast(future, bias.dtype)  # bias is bfloat16 under mixed precision
        weights = tf.nn.softmax(logits + bias, axis=-1)
        return tf.einsum("bxnqk,bxknd->bxqnd", weights, v)

    def step_bias(self) -> tf.Tensor:
        """Relative bias plus mask for every query position: [L (query), L (key), 1, 1, heads].

        Computed once per sampling call; a step at position p takes row p (one gather)."""
        pos = np.arange(self.length)
        index = pos[None, :] - pos[:, None] + self.length - 1  # [q, k]
        bias = tf.transpose(tf.gather(self.rel_bias, index, axis=1), [1, 2, 0])  # [q, k, heads]
        if self.masked:
            future = np.triu(np.full((self.length,) * 2, MASK_BIAS, np.float32), k=1)
            bias = bias + tf.cast(future, bias.dtype)[..., None]
        return bias[:, :, None, None, :]

    def call(
        self, x: tf.Tensor, context: tf.Tensor | None = None, modulation: dict | None = None
    ) -> tf.Tensor:
        if modulation is None:
            modulation = self.modulation(context)
        if self.axis == "column":
            x = tf.transpose(x, [0, 2, 1, 3])
            modulation = {
                n: tuple(None if t is None else tf.transpose(t, [0, 2, 1, 3]) for t in m)
                for n, m in modulation.items()
            }
        q, k, v = self.project(x, modulation)
        out = self.output(self.attend(q, k, v))
        if self.axis == "column":
            out = tf.transpose(out, [0, 2, 1, 3])
        return out

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            axis=self.axis,
            masked=self.masked,
            cond_mode=self.cond_mode,
            cond_q=self.cond_q,
            cond_k=self.cond_k,
            cond_v=self.cond_v,
        )
        return config
