"""The inner decoder one pixel at a time: the fast sampler's inner loop, arranged for a CPU.

`PixelDecoder.step` computes what `InnerDecoder.body` followed by the head (LayerNorm, Dense) computes at one
pixel (tests: step logits == teacher-forced logits, samples == the naive sampler's), on flat [BN, D]
rows. At batch 1 a step is a chain of matrix-vector products that reads every weight matrix of the inner
decoder once: the step is bound by memory bandwidth, not arithmetic. Two arrangements cut its time:

* Split products: every product x W is computed as P partial products over blocks of W's rows, one
  batched matmul, then summed; XLA's CPU backend runs the blocks of a batched dot on different cores, so
  both cores stream weights at once (a plain [1, D] x [D, D] product runs on one core).
* No first-layer projections: the blocks are post-norm, so the first layer's queries, keys and values
  are linear in its input h = e[s] + base (s the previous pixel's colour, base the position, z and outer
  context): h W_qkv = T[s] + base W_qkv, where T = E W_qkv (E the 512 colour embeddings plus a zero row
  for "no previous pixel") is one table per sampling call and base W_qkv is computed for a whole row at
  once (`row_projections`). The step gathers one row of T instead of reading three D x D matrices.
  Equal to the plain computation up to float round-off.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from coltran.conditional import apply_modulation

START = 512  # index of the zero "previous colour" of column 0 (the inner decoder's shift right)


def split_kernel(kernel: tf.Tensor, parts: int) -> tf.Tensor:
    """[in, out] -> [P, in / P, out]: the kernel's rows in P blocks (a reshape, no copy; P = 1 when
    `parts` does not divide `in`)."""
    fan_in, fan_out = kernel.shape
    parts = parts if fan_in % parts == 0 else 1
    return tf.reshape(kernel, [parts, fan_in // parts, fan_out])


def split_dot(x: tf.Tensor, blocks: tf.Tensor) -> tf.Tensor:
    """x [M, in] times the kernel split by `split_kernel` [P, in / P, out] -> [M, out].

    P partial products over slices of the contracted axis, then their sum: XLA's CPU backend runs the P
    products of the batched dot on different cores. (Splitting the output columns instead gets rewritten
    by XLA into one dot plus a copy of the weights at every step.)
    """
    parts, width, _ = blocks.shape
    if parts == 1:
        return tf.matmul(x, blocks[0])
    x = tf.transpose(tf.reshape(x, [-1, parts, width]), [1, 0, 2])  # [P, M, in / P]
    return tf.reduce_sum(tf.matmul(x, blocks), axis=0)


def normalize(x: tf.Tensor, epsilon: float) -> tf.Tensor:
    """Layer normalisation without gain and bias over the last axis."""
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + epsilon)


def norm_affine(norm, modulation: tuple | None) -> tuple:
    """(gamma, beta) after normalisation of a ConditionalLayerNorm: its cLN (scale, shift) [BN, D] (None
    parts mean 1 / 0), or the learned gain and bias of a plain LayerNorm (mode "none")."""
    if norm.mode == "none":
        return norm.norm.gamma, norm.norm.beta
    return modulation


class PixelDecoder:
    """The inner decoder and the head (LayerNorm, Dense) of a ColTranCore, one pixel per `step`.

    Built once per sampling call (inside the traced function) from the model. Post-norm blocks
    (`coltran.decoders.InnerDecoder`): h <- cLN(h + Att(h)), h <- cLN(h + MLP(h)).
    """

    def __init__(self, model, parts: int = 2):
        inner = model.inner
        dim = model.hidden_size
        self.heads, self.head_size = model.num_heads, dim // model.num_heads
        self.inner = inner
        self.epsilon = inner.norms[0].epsilon
        if any(norm.epsilon != self.epsilon for norm in inner.norms):
            raise ValueError("coltran/pixel_step.py: the inner decoder's norms must share one epsilon.")
        embed = model.pixel_embed.embeddings
        embed = tf.concat([embed, tf.zeros([1, dim])], axis=0)  # [513, D]: row START is 0
        self.embed = embed
        self.layers = []
        for i, layer in enumerate(inner.inner_layers):
            att, mlp = layer.attention.layer, layer.mlp.layer
            qkv = tf.concat([att.q_proj.kernel, att.k_proj.kernel, att.v_proj.kernel], axis=1)  # [D, 3D]
            entry = {
                "att_norm": layer.attention.norm,
                "out": split_kernel(att.out_proj.kernel, parts),
                "mlp_norm": layer.mlp.norm,
                "inner": (split_kernel(mlp.inner.kernel, parts), mlp.inner.bias),
                "outer": (split_kernel(mlp.outer.kernel, parts), mlp.outer.bias),
            }
            if i == 0:
                entry["qkv_full"] = qkv
                entry["table"] = tf.matmul(embed, qkv)  # [513, 3D]
            else:
                entry["qkv"] = split_kernel(qkv, parts)
            self.layers.append(entry)
        head = model.final_norm
        self.head_norm = (head.gamma, head.beta, head.epsilon)
        self.final = (split_kernel(model.final_dense.kernel, parts), model.final_dense.bias)

    def row_projections(self, base: tf.Tensor) -> tf.Tensor:
        """base W_qkv for a row: base [BN, W, D] (the first layer's input minus the colour) -> [BN, W, 3D]."""
        return tf.einsum("bwd,de->bwe", base, self.layers[0]["qkv_full"])

    def step(
        self,
        prev: tf.Tensor,
        base: tf.Tensor,
        base_proj: tf.Tensor,
        pos_mods: list,
        ln_mods: list,
        attend: Callable,
    ) -> tf.Tensor:
        """Logits [BN, 512] of one pixel.

        prev: int32 [BN] the previous pixel's colour (START at column 0); base [BN, D]; base_proj [BN, 3D]
        its `row_projections` row; pos_mods: the pixel's cAtt / cMLP modulations per block (as
        `InnerDecoder.position_modulations`, parts [BN, D]); ln_mods: the cLN (scale, shift) per block,
        parts [BN, D] (per image, or per row in the authors' sampling context); attend(i, q, k, v) ->
        [BN, heads, d] reads and updates layer i's key/value cache (q, k, v [BN, heads, d]).
        """
        h = tf.gather(self.embed, prev) + base
        for i, layer in enumerate(self.layers):
            att_mod, mlp_mod = pos_mods[2 * i], pos_mods[2 * i + 1]
            if i == 0:
                qkv = tf.gather(layer["table"], prev) + base_proj
            else:
                qkv = split_dot(h, layer["qkv"])
            q, k, v = (
                tf.reshape(apply_modulation(t, att_mod.get(name)), [-1, self.heads, self.head_size])
                for name, t in zip("qkv", tf.split(qkv, 3, axis=-1), strict=True)
            )
            o = attend(i, q * (self.head_size**-0.5), k, v)
            h += split_dot(tf.reshape(o, [-1, self.heads * self.head_size]), layer["out"])
            h = apply_modulation(normalize(h, self.epsilon), norm_affine(layer["att_norm"], ln_mods[2 * i]))
            kernel, bias = layer["inner"]
            x = tf.nn.relu(split_dot(h, kernel) + bias)
            kernel, bias = layer["outer"]
            h += apply_modulation(split_dot(x, kernel) + bias, mlp_mod)
            h = apply_modulation(
                normalize(h, self.epsilon), norm_affine(layer["mlp_norm"], ln_mods[2 * i + 1])
            )
        gamma, beta, epsilon = self.head_norm
        kernel, bias = self.final
        return split_dot(normalize(h, epsilon) * gamma + beta, kernel) + bias
