"""Conditional layers of ColTran (Kumar et al. 2021, §4.1, Table 1): cLN and cMLP.

Each is switchable for the paper's ablations: mode "none" (the plain layer), "shift", "scale" or
"affine" (scale and shift). Scales and shifts come from linear projections of a context tensor with an
identity activation, as in the authors' configs (`cond_*_act='identity'`). Layouts follow the authors'
code (google-research coltran/models), so their checkpoints map onto these weights without permutation:
the cLN projection has a bias and gives (scale, shift); the cMLP projection has a bias and gives
(shift, scale); LayerNorm epsilon is Keras's default 1e-3.

Every conditional layer splits into `modulation(context)` (what depends on the context only) and the
application to its input, so a sampler can compute the modulations once per image (or once per row)
and reuse them at every step.
"""

from __future__ import annotations

import keras
import tensorflow as tf

COND_MODES = ("none", "shift", "scale", "affine")
POOL_MODES = ("learnable", "mean")
LN_EPSILON = 1e-3  # the authors' LayerNormalization default (Keras), in every norm of the three stages


def affine_modulation(
    projected: tf.Tensor, mode: str, shift_first: bool = False
) -> tuple[tf.Tensor | None, tf.Tensor | None]:
    """Splits a context projection into (scale, shift); absent parts are None.

    projected: [..., 2D] for "affine" (first half scale, second half shift; the reverse with
    `shift_first`, the authors' cMLP layout), [..., D] otherwise.
    """
    if mode == "affine":
        first, second = tf.split(projected, 2, axis=-1)
        return (second, first) if shift_first else (first, second)
    if mode == "scale":
        return projected, None
    if mode == "shift":
        return None, projected
    raise ValueError(
        f"coltran/conditional.py: unknown conditioning mode {mode!r}; expected one of {COND_MODES}."
    )


def apply_modulation(x: tf.Tensor, modulation: tuple | None) -> tf.Tensor:
    """x * scale + shift, skipping whichever is None; modulation None returns x."""
    if modulation is None:
        return x
    scale, shift = modulation
    if scale is not None:
        x = x * scale
    if shift is not None:
        x = x + shift
    return x


class ConditionalLayerNorm(keras.layers.Layer):
    """Layer norm whose scale and shift are a function of a spatial context (cLN, ColTran §4.1).

    The context [B, H, W, C] is pooled to one vector per image with a learnable spatial weighting
    initialised to the plain mean ("learnable"; or the fixed mean, "mean"), then projected linearly to
    the scale and/or shift applied after normalisation. mode "none" is an ordinary LayerNorm with learned
    gain and bias (the "no cLN" ablation).

    Args:
      mode: "none" | "shift" | "scale" | "affine".
      pool: "learnable" | "mean".
      epsilon: variance epsilon of the normalisation.
    Call:
      x [B, h, w, D], context [B, H, W, C] -> [B, h, w, D] (x may be a row or a pixel of the image whose
      whole context is given, or `modulation` may be passed instead of the context). A context of one
      row [B, 1, W, C] is pooled with the spatial weights broadcast over the rows, as the authors'
      sampler does (`row_modulation` gives that for every row at once).
    """

    def __init__(self, mode: str = "affine", pool: str = "learnable", epsilon: float = LN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        if mode not in COND_MODES:
            raise ValueError(f"coltran/conditional.py: cLN mode must be one of {COND_MODES}, got {mode!r}.")
        if pool not in POOL_MODES:
            raise ValueError(f"coltran/conditional.py: cLN pool must be one of {POOL_MODES}, got {pool!r}.")
        self.mode = mode
        self.pool = pool
        self.epsilon = epsilon
        self.norm = keras.layers.LayerNormalization(
            epsilon=epsilon, center=mode == "none", scale=mode == "none", name="normalize"
        )
        self.proj = None

    def build(self, x_shape, context_shape=None):
        self.norm.build(tuple(x_shape))
        if self.mode == "none":
            return
        if context_shape is None:
            raise ValueError("coltran/conditional.py: a conditional LayerNorm needs context_shape to build.")
        height, width, channels = context_shape[1:]
        features = x_shape[-1]
        if self.pool == "learnable":
            self.spatial_weights = self.add_weight(
                name="spatial_weights", shape=(1, height, width, 1), initializer="ones"
            )
        self.proj = keras.layers.Dense(2 * features if self.mode == "affine" else features, name="proj")
        self.proj.build((None, channels))

    def modulation(self, context: tf.Tensor | None) -> tuple | None:
        """context [B, H, W, C] -> (scale, shift), each [B, 1, 1, D] or None; None when unconditional."""
        if self.mode == "none":
            return None
        if context is None:
            raise ValueError(
                f"coltran/conditional.py:{self.name}: this LayerNorm is conditional; pass `context`."
            )
        if self.pool == "learnable":
            context = context * self.spatial_weights
        pooled = tf.reduce_mean(context, axis=(1, 2), keepdims=True)
        return affine_modulation(self.proj(pooled), self.mode)

    def row_weights(self) -> tf.Tensor | None:
        """[W] the weights that pool one row under the authors' sampling context: the spatial weights
        averaged over the rows (mean(w[h, j] * z[r, j]) over h, j == mean_j(mean_h(w[h, j]) z[r, j]));
        None for the plain mean."""
        if self.pool != "learnable":
            return None
        return tf.reduce_mean(self.spatial_weights, axis=(0, 1, 3))

    def row_modulation(self, context: tf.Tensor) -> tuple | None:
        """The authors' sampling context for every row at once: context [B, H, W, C] -> (scale, shift),
        each [B, H, 1, D], row r pooled from row r of the context alone (see `row_weights`)."""
        if self.mode == "none":
            return None
        weights = self.row_weights()
        if weights is not None:
            context = context * weights[:, None]
        pooled = tf.reduce_mean(context, axis=2, keepdims=True)
        return affine_modulation(self.proj(pooled), self.mode)

    def call(
        self, x: tf.Tensor, context: tf.Tensor | None = None, modulation: tuple | None = None
    ) -> tf.Tensor:
        if modulation is None:
            modulation = self.modulation(context)
        return apply_modulation(self.norm(x), modulation)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(mode=self.mode, pool=self.pool, epsilon=self.epsilon)
        return config


class FeedForward(keras.layers.Layer):
    """Position-wise MLP (Dense-ReLU-Dense), optionally conditional (cMLP, ColTran §4.1).

    The conditional MLP scales and/or shifts the MLP output by a 1x1 projection (with bias) of the
    context; "affine" splits it as (shift, scale), the authors' layout.

    Args:
      hidden_size: D (input and output width); ff_size: the inner width.
      cond_mode: "none" | "shift" | "scale" | "affine".
    Call:
      x [..., D], context [..., C] (same leading dims, when conditional) -> [..., D].
    """

    def __init__(self, hidden_size: int, ff_size: int, cond_mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        if cond_mode not in COND_MODES:
            raise ValueError(
                f"coltran/conditional.py: cMLP mode must be one of {COND_MODES}, got {cond_mode!r}."
            )
        self.hidden_size = hidden_size
        self.ff_size = ff_size
        self.cond_mode = cond_mode
        self.inner = keras.layers.Dense(ff_size, activation="relu", name="inner")
        self.outer = keras.layers.Dense(hidden_size, name="outer")
        self.cond_proj = None
        if cond_mode != "none":
            width = 2 * hidden_size if cond_mode == "affine" else hidden_size
            self.cond_proj = keras.layers.Dense(width, name="cond")

    def split_modulation(self, projected: tf.Tensor) -> tuple:
        """A projection of the context (with its bias) [..., K] -> (scale, shift)."""
        return affine_modulation(projected, self.cond_mode, shift_first=True)

    def modulation(self, context: tf.Tensor | None) -> tuple | None:
        if self.cond_proj is None:
            return None
        if context is None:
            raise ValueError(f"coltran/conditional.py:{self.name}: this MLP is conditional; pass `context`.")
        return self.split_modulation(self.cond_proj(context))

    def call(
        self, x: tf.Tensor, context: tf.Tensor | None = None, modulation: tuple | None = None
    ) -> tf.Tensor:
        if modulation is None:
            modulation = self.modulation(context)
        return apply_modulation(self.outer(self.inner(x)), modulation)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, ff_size=self.ff_size, cond_mode=self.cond_mode)
        return config
