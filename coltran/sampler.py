"""Samplers of the ColTran core: a naive reference and a fast cached one, with the same random draws.

Naive (what the authors' `autoregressive_sample` does): the encoder once; for every pixel the inner
decoder over the whole current row; after every row the outer decoder over the whole canvas. It is the
oracle of the tests and the baseline of `benchmarks/coltran_sampling.py`.

Fast: the encoder and every cLN modulation once per image; the cAtt / cMLP modulations once per row
(each position's once); the outer decoder advanced one row per step with the keys and values of its
masked column attention cached ([H, B, W, heads, d] per layer); the inner decoder advanced one pixel per
step with the keys and values of its masked row attention cached ([W, B, 1, heads, d] per layer); the
whole raster loop in one `tf.function` (optionally XLA), batched over B * num_samples.

Random draws: pixel (i, j) of sample n uses Gumbel noise from `common.sampling.hashed_uniform` with
step i * W + j and flat index n * 512 + symbol, shared by every image of the batch. Both samplers therefore
see the same noise, and an image's samples depend only on (image, seed, n), not on its batch neighbours.
The integer hash is also identical under XLA.
"""

from __future__ import annotations

import tensorflow as tf

from coltran.attention import AxialAttention
from common.sampling import hashed_uniform

NUM_SYMBOLS = 512


def draw(
    logits: tf.Tensor,
    *,
    seed: tf.Tensor,
    step: tf.Tensor,
    num_samples: int,
    temperature: tf.Tensor,
    top_k: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """One symbol per row of logits [B * N, C] (rows ordered image-major), and its max probability.

    softmax(top_k(logits) / temperature) sampled by Gumbel-max on noise [N, C] from (seed, step); temperature
    0 gives the argmax. Returns (int32 [B * N], float32 [B * N] max of softmax(logits)).
    """
    max_prob = tf.reduce_max(tf.nn.softmax(logits, axis=-1), axis=-1)
    if top_k:
        kth = tf.math.top_k(logits, k=top_k).values[:, -1:]
        logits = tf.where(logits < kth, tf.constant(-1e30, logits.dtype), logits)
    u = hashed_uniform([num_samples, NUM_SYMBOLS], seed=seed, step=step)
    gumbel = tf.tile(-tf.math.log(-tf.math.log(u)), [tf.shape(logits)[0] // num_samples, 1])
    safe_t = tf.where(temperature > 0, temperature, 1.0)
    noisy = tf.where(temperature > 0, logits / safe_t + gumbel, logits)
    return tf.argmax(noisy, axis=-1, output_type=tf.int32), max_prob


def _prepare(model, gray8: tf.Tensor, num_samples: int) -> tf.Tensor:
    """Encoder once per image, then tiled to B * N rows (image-major)."""
    return tf.repeat(model.encode(gray8), num_samples, axis=0)


def _cached_attention(caches: list, position: tf.Tensor) -> callable:
    """An attention hook for `body`: writes this step's keys/values at `position` and attends the cache.

    x is [B, 1, X, D] (one row for the outer decoder's columns, X = W; one pixel for the inner decoder's
    row, X = 1); caches[i] = (k, v), each [L, B, X, heads, d], is replaced by the updated tensors.
    """

    def attend(i: int, att: AxialAttention, x: tf.Tensor, modulation: dict) -> tf.Tensor:
        q, k, v = att.project(x, modulation)  # [B, 1, X, heads, d]
        k_cache = tf.tensor_scatter_nd_update(caches[i][0], [[position]], k[None, :, 0])
        v_cache = tf.tensor_scatter_nd_update(caches[i][1], [[position]], v[None, :, 0])
        caches[i] = (k_cache, v_cache)
        return att.output(att.attend_cached(q[:, 0], k_cache, v_cache, position))[:, None]

    return attend


def _swap01(t: tf.Tensor) -> tf.Tensor:
    """Swaps the first two axes (TensorArray stacks are step-major)."""
    return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _slice_pixel(mods, col: tf.Tensor):
    """Per-position modulations [B, 1, W, D] -> the pixel's [B, 1, 1, D] (None and {} pass through)."""
    return tf.nest.map_structure(lambda t: tf.gather(t, [col], axis=2), mods)


def _fast(
    model,
    gray8: tf.Tensor,
    seed: tf.Tensor,
    temperature: tf.Tensor,
    *,
    num_samples: int,
    top_k: int,
    num_rows: int,
    record_logits: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    z = _prepare(model, gray8, num_samples)  # [BN, H, W, D]
    bn, height, width = tf.shape(z)[0], z.shape[1], z.shape[2]
    dim, heads = model.hidden_size, model.num_heads
    outer, inner = model.outer, model.inner
    outer_ln, inner_ln = outer.ln_modulations(z), inner.ln_modulations(z)
    outer_pos, inner_pos = outer.pos.table(), inner.pos.table()

    def zeros_cache(length, x):
        return tf.zeros([length, bn, x, heads, dim // heads])

    def row_step(r, upper, outer_caches, symbols, probs):
        z_row = tf.gather(z, [r], axis=1)  # [BN, 1, W, D]
        inner_mods = inner.position_modulations(tf.concat([z_row, upper], axis=-1))
        base = tf.gather(inner_pos, [r]) + z_row + upper  # inner decoder input minus the colour embedding

        def pixel_step(c, prev, inner_caches, row_symbols, row_probs):
            caches = list(inner_caches)
            h = inner.body(
                prev + tf.gather(base, [c], axis=2),
                inner_ln,
                _slice_pixel(inner_mods, c),
                row_attention=_cached_attention(caches, c),
            )
            logits = model.final_dense(h)[:, 0, 0]
            sym, prob = draw(
                logits,
                seed=seed,
                step=r * width + c,
                num_samples=num_samples,
                temperature=temperature,
                top_k=top_k,
            )
            return (
                c + 1,
                model.pixel_embed(sym)[:, None, None],
                tuple(caches),
                row_symbols.write(c, sym),
                row_probs.write(c, logits if record_logits else prob),
            )

        init = (
            tf.constant(0),
            tf.zeros([bn, 1, 1, dim]),
            tuple((zeros_cache(width, 1), zeros_cache(width, 1)) for _ in inner.groups),
            tf.TensorArray(tf.int32, width),
            tf.TensorArray(tf.float32, width),
        )
        _, _, _, row_symbols, row_probs = tf.while_loop(lambda c, *_: c < width, pixel_step, init)
        row_symbols = tf.ensure_shape(tf.transpose(row_symbols.stack()), [z.shape[0], width])  # [BN, W]

        # The finished row advances the outer decoder by one row; its output is row r + 1's context.
        caches = list(outer_caches)
        h = model.pixel_embed(row_symbols)[:, None] + tf.gather(outer_pos, [r]) + z_row
        upper = outer.body(
            h, outer_ln, outer.position_modulations(z_row), col_attention=_cached_attention(caches, r)
        )
        return (
            r + 1,
            upper,
            tuple(caches),
            symbols.write(r, row_symbols),
            probs.write(r, _swap01(row_probs.stack())),
        )

    init = (
        tf.constant(0),
        tf.zeros([bn, 1, width, dim]),
        tuple((zeros_cache(height, width), zeros_cache(height, width)) for _ in outer.groups),
        tf.TensorArray(tf.int32, num_rows),
        tf.TensorArray(tf.float32, num_rows),
    )
    _, _, _, symbols, probs = tf.while_loop(lambda r, *_: r < num_rows, row_step, init)
    return _swap01(symbols.stack()), _swap01(probs.stack())


def _naive(
    model,
    gray8: tf.Tensor,
    seed: tf.Tensor,
    temperature: tf.Tensor,
    *,
    num_samples: int,
    top_k: int,
    num_rows: int,
    record_logits: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    z = _prepare(model, gray8, num_samples)
    bn, height, width = tf.shape(z)[0], z.shape[1], z.shape[2]
    dim = model.hidden_size

    def row_step(r, canvas, upper, symbols, probs):
        upper_row = tf.gather(upper, [r], axis=1)

        def pixel_step(c, row_emb, row_symbols, row_probs):
            # The whole row through the inner decoder, as the authors' sampler does, for one pixel.
            row_logits = model.final_dense(model.inner(row_emb, upper_row, z, row=r))
            logits = tf.gather(row_logits, c, axis=2)[:, 0]
            sym, prob = draw(
                logits,
                seed=seed,
                step=r * width + c,
                num_samples=num_samples,
                temperature=temperature,
                top_k=top_k,
            )
            row_emb += model.pixel_embed(sym)[:, None, None] * tf.one_hot(c, width)[None, None, :, None]
            return (
                c + 1,
                row_emb,
                row_symbols.write(c, sym),
                row_probs.write(c, logits if record_logits else prob),
            )

        init = (
            tf.constant(0),
            tf.zeros([bn, 1, width, dim]),
            tf.TensorArray(tf.int32, width),
            tf.TensorArray(tf.float32, width),
        )
        _, row_emb, row_symbols, row_probs = tf.while_loop(lambda c, *_: c < width, pixel_step, init)
        canvas += row_emb * tf.one_hot(r, height)[None, :, None, None]
        upper = model.outer(canvas, z)  # the whole canvas again after every row
        return (
            r + 1,
            canvas,
            upper,
            symbols.write(r, tf.transpose(row_symbols.stack())),
            probs.write(r, _swap01(row_probs.stack())),
        )

    init = (
        tf.constant(0),
        tf.zeros([bn, height, width, dim]),
        tf.zeros([bn, height, width, dim]),
        tf.TensorArray(tf.int32, num_rows),
        tf.TensorArray(tf.float32, num_rows),
    )
    _, _, _, symbols, probs = tf.while_loop(lambda r, *_: r < num_rows, row_step, init)
    return _swap01(symbols.stack()), _swap01(probs.stack())


def sample_symbols(
    model,
    gray8: tf.Tensor,
    *,
    num_samples: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    method: str = "fast",
    jit_compile: bool = False,
    num_rows: int | None = None,
    return_logits: bool = False,
) -> tuple[tf.Tensor, ...]:
    """Samples symbols with `model` (a ColTranCore) from gray levels int [B, R, R].

    Args:
      num_samples, seed, temperature (0 = argmax), top_k (0 = all): see `ColTranCore.sample`.
      method: "fast" or "naive"; jit_compile: XLA for the whole loop.
      num_rows: generate only the first rows (benchmarks time a few rows of the naive sampler).
      return_logits: also return every step's logits (tests compare them with teacher forcing).
    Returns:
      (symbols int32 [B, N, rows, R], max probability float32 [B, N, rows, R]) and, with
      return_logits, the step logits float32 [B, N, rows, R, 512].
    """
    if method not in ("fast", "naive"):
        raise ValueError(f"coltran/sampler.py: method must be 'fast' or 'naive', got {method!r}.")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"coltran/sampler.py: num_samples must be an int >= 1, got {num_samples!r}.")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= NUM_SYMBOLS:
        raise ValueError(f"coltran/sampler.py: top_k must be an int in [0, {NUM_SYMBOLS}], got {top_k!r}.")
    if not temperature >= 0:
        raise ValueError(f"coltran/sampler.py: temperature must be >= 0, got {temperature}.")
    rows = model.resolution if num_rows is None else int(num_rows)
    if not 1 <= rows <= model.resolution:
        raise ValueError(f"coltran/sampler.py: num_rows must be in [1, {model.resolution}], got {num_rows}.")
    key = (method, num_samples, top_k, rows, bool(jit_compile), bool(return_logits))
    if key not in model._sample_fns:
        impl = _fast if method == "fast" else _naive

        def run(gray8, seed, temperature):
            return impl(
                model,
                gray8,
                seed,
                temperature,
                num_samples=num_samples,
                top_k=top_k,
                num_rows=rows,
                record_logits=return_logits,
            )

        model._sample_fns[key] = tf.function(run, jit_compile=bool(jit_compile), autograph=False)
    symbols, out = model._sample_fns[key](
        tf.convert_to_tensor(gray8, tf.int32),
        tf.constant([seed, 0], tf.int32),
        tf.constant(temperature, tf.float32),
    )
    batch = tf.shape(gray8)[0]
    shape = tf.concat([[batch, num_samples], tf.shape(symbols)[1:]], 0)
    symbols = tf.reshape(symbols, shape)
    if not return_logits:
        return symbols, tf.reshape(out, shape)
    logits = tf.reshape(out, tf.concat([shape, [NUM_SYMBOLS]], 0))
    return symbols, tf.reduce_max(tf.nn.softmax(logits, axis=-1), axis=-1), logits
