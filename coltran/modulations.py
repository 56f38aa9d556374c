"""All the cAtt / cMLP modulations of a decoder from one matmul (for the fast sampler).

`OuterDecoder.position_modulations` and `InnerDecoder.position_modulations` call one small projection
per conditional layer (3 per attention layer, 1 per MLP). The fast sampler needs them for one row at a
time; on a CPU one [W, C] x [C, sum of widths] product is several times faster than the separate
products, and slicing one row out of precomputed full-image modulations costs more than computing that
row. The cAtt projections have no bias and the cMLP ones have one (the authors' layout): the fused
product adds the concatenated biases, so it is the same function.
"""

from __future__ import annotations

import tensorflow as tf

from coltran.attention import AxialAttention
from coltran.conditional import FeedForward


class FusedModulations:
    """The modulations of `layers` (AxialAttention / FeedForward, in order) from one matmul.

    `project(context [..., C])` -> [..., K]; `unpack(projected [..., K])` -> one modulation per layer, as
    each layer's `modulation(context)` would return it (a dict for attention, a tuple or None for MLPs).
    """

    def __init__(self, layers: list):
        self.layers = layers
        kernels, biases, self.sizes = [], [], []
        for layer in layers:
            if isinstance(layer, AxialAttention):
                dense = list(layer.cond_proj.values())
            elif isinstance(layer, FeedForward):
                dense = [] if layer.cond_proj is None else [layer.cond_proj]
            else:
                raise TypeError(f"coltran/modulations.py: no modulations for {type(layer).__name__}.")
            for d in dense:
                kernels.append(d.kernel)
                width = d.kernel.shape[-1]
                biases.append(d.bias if d.use_bias else tf.zeros([width]))
                self.sizes.append(width)
        self.kernel = tf.concat(kernels, axis=1) if kernels else None  # [C, K]
        self.bias = tf.concat(biases, axis=0) if biases else None  # [K]

    def project(self, context: tf.Tensor) -> tf.Tensor | None:
        if self.kernel is None:
            return None
        flat = tf.reshape(context, [-1, context.shape[-1]])
        out = tf.matmul(flat, self.kernel) + self.bias
        return tf.reshape(out, context.shape[:-1].as_list() + [sum(self.sizes)])

    def unpack(self, projected: tf.Tensor | None) -> list:
        parts = iter(tf.split(projected, self.sizes, axis=-1) if projected is not None else [])
        out = []
        for layer in self.layers:
            if isinstance(layer, AxialAttention):
                out.append({n: layer.split_modulation(next(parts)) for n in layer.cond_proj})
            elif layer.cond_proj is None:
                out.append(None)
            else:
                out.append(layer.split_modulation(next(parts)))
        return out
