"""The inner decoder one pixel at a time: the fast sampler's inner loop, arranged for a CPU.

`PixelDecoder.step` computes what `InnerDecoder.body` followed by the final dense layer computes at one
pixel (tests: step logits == teacher-forced logits, samples == the naive sampler's), on flat [BN, D]
rows. At batch 1 a step is a chain of matrix-vector products that reads every weight matrix of the inner
decoder once: the step is bound by memory bandwidth, not arithmetic. Two arrangements cut its time:

* Split products: every product x W is computed as P partial products over blocks of W's rows, one
  batched matmul, then summed; XLA's CPU backend runs the blocks of a batched dot on different cores, so
  both cores stream weights at once (a plain [1, D] x [D, D] product runs on one core).
* No first-layer projections: the first layer's queries, keys and values are linear in its normalised
  input h = e[s] + base (s the previous pixel's colour, base the position, z and outer context), and the
  cLN scale gamma is a per-image constant, so with G = diag(gamma) W_qkv:
      LN(h) W_qkv = ((h - mean(h)) G) / std(h) + beta W_qkv,   (h - mean) G = T[s] + base G - mean * 1G,
  where T = E G (E the 512 colour embeddings plus a zero row for "no previous pixel") is a per-image
  table and base G is computed for a whole row at once (`row_projections`). The step gathers one row of
  T instead of reading three D x D matrices. Equal to the plain computation up to float round-off.
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
    """The inner decoder and final dense layer of a ColTranCore, one pixel per `step`.

    Built once per sampling call (inside the traced function) from the model and the inner decoder's cLN
    modulations `ln_mods` (as `InnerDecoder.ln_modulations`, each part [BN, D]).
    """

    def __init__(self, model, ln_mods: list, parts: int = 2):
        inner = model.inner
        dim = model.hidden_size
        self.heads, self.head_size = model.num_heads, dim // model.num_heads
        self.inner = inner
        self.epsilon = inner.final_norm.epsilon
        if any(norm.epsilon != self.epsilon for norm in inner.norms):
            raise ValueError("coltran/pixel_step.py: the inner decoder's norms must share one epsilon.")
        embed = model.pixel_embed.embeddings
        self.embed = tf.concat([embed, tf.zeros([1, dim])], axis=0)  # [513, D]: row START is 0
        self.layers = []
        for i, (att_norm, att, mlp_norm, mlp) in enumerate(inner.groups):
            qkv = tf.concat([att.q_proj.kernel, att.k_proj.kernel, att.v_proj.kernel], axis=1)  # [D, 3D]
            layer = {
                "att_norm": norm_affine(att_norm, ln_mods[2 * i]),
                "out": split_kernel(att.out_proj.kernel, parts),
                "mlp_norm": norm_affine(mlp_norm, ln_mods[2 * i + 1]),
                "inner": (split_kernel(mlp.inner.kernel, parts), mlp.inner.bias),
                "outer": (split_kernel(mlp.outer.kernel, parts), mlp.outer.bias),
            }
            if i == 0:
                layer.update(self._first_layer_tables(qkv, layer["att_norm"]))
            else:
                layer["qkv"] = split_kernel(qkv, parts)
            self.layers.append(layer)
        self.final_norm = norm_affine(inner.final_norm, ln_mods[-1])
        self.final = (split_kernel(model.final_dense.kernel, parts), model.final_dense.bias)

    def _first_layer_tables(self, qkv: tf.Tensor, gamma_beta: tuple | None) -> dict:
        gamma, beta = gamma_beta if gamma_beta is not None else (None, None)
        if gamma is None:
            gram = qkv[None]  # [1, D, 3D]
        else:
            gram = tf.reshape(gamma, [-1, qkv.shape[0], 1]) * qkv  # diag(gamma) W: [BN or 1, D, 3D]
        return {
            "gram": gram,
            "table": tf.matmul(self.embed[None], gram),  # [BN or 1, 513, 3D]
            "col_sums": tf.reduce_sum(gram, axis=1),  # 1 G: [BN or 1, 3D]
            "beta_qkv": None if beta is None else tf.matmul(tf.reshape(beta, [-1, qkv.shape[0]]), qkv),
        }

    def row_projections(self, base: tf.Tensor) -> tf.Tensor:
        """base G for a row: base [BN, W, D] (the first layer's input minus the colour) -> [BN, W, 3D]."""
        gram = self.layers[0]["gram"]
        if gram.shape[0] == 1:
            return tf.einsum("bwd,de->bwe", base, gram[0])
        return tf.matmul(base, gram)

    def step(
        self,
        prev: tf.Tensor,
        base: tf.Tensor,
        base_proj: tf.Tensor,
        pos_mods: list,
        attend: Callable,
    ) -> tf.Tensor:
        """Logits [BN, 512] of one pixel.

        prev: int32 [BN] the previous pixel's colour (START at column 0); base [BN, D]; base_proj [BN, 3D]
        its `row_projections` row; pos_mods: the pixel's cAtt / cMLP modulations per layer (as
        `InnerDecoder.position_modulations`, each part [BN, D]); attend(i, att, q, k, v) -> [BN, heads, d]
        reads and updates layer i's key/value cache (q, k, v [BN, heads, d]).
        """
        h = tf.gather(self.embed, prev) + base
        for i, ((_, att, _, _), layer) in enumerate(zip(self.inner.groups, self.layers, strict=True)):
            att_mod, mlp_mod = pos_mods[i]
            if i == 0:
                mean, var = tf.nn.moments(h, axes=[-1], keepdims=True)
                table = layer["table"]  # [1 or BN, 513, 3D]
                if table.shape[0] == 1:
                    rows = tf.gather(table[0], prev)
                else:
                    rows = tf.gather(table, prev, batch_dims=1)
                qkv = (rows + base_proj - mean * layer["col_sums"]) * tf.math.rsqrt(var + self.epsilon)
                if layer["beta_qkv"] is not None:
                    qkv += layer["beta_qkv"]
            else:
                qkv = split_dot(apply_modulation(normalize(h, self.epsilon), layer["att_norm"]), layer["qkv"])
            q, k, v = (
                tf.reshape(apply_modulation(t, att_mod.get(name)), [-1, self.heads, self.head_size])
                for name, t in zip("qkv", tf.split(qkv, 3, axis=-1), strict=True)
            )
            o = attend(i, att, q * (self.head_size**-0.5), k, v)
            h += split_dot(tf.reshape(o, [-1, self.heads * self.head_size]), layer["out"])
            x = apply_modulation(normalize(h, self.epsilon), layer["mlp_norm"])
            kernel, bias = layer["inner"]
            x = tf.nn.relu(split_dot(x, kernel) + bias)
            kernel, bias = layer["outer"]
            h += apply_modulation(split_dot(x, kernel) + bias, mlp_mod)
        kernel, bias = self.final
        return split_dot(apply_modulation(normalize(h, self.epsilon), self.final_norm), kernel) + bias
