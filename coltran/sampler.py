"""Samplers of the ColTran core: a naive reference and a fast cached one, with the same random draws.

Naive (what the authors' `autoregressive_sample` does): the encoder once; for every pixel the inner
decoder over the whole current row; after every row the outer decoder over the whole canvas. It is the
oracle of the tests and the baseline of `benchmarks/coltran_sampling.py`.

Fast: the encoder, every cLN modulation (all spatial poolings in one matmul) and the outer decoder's
cAtt / cMLP modulations (functions of z only, one matmul, `coltran/modulations.py`) once per image; the
inner decoder's cAtt / cMLP modulations (functions of z and the outer context) once per row; the outer
decoder advanced one row per step with the keys and values of its masked column attention cached
([B * W * heads, H, d] per layer); the inner decoder advanced one pixel per step
(`coltran/pixel_step.py`: flat [BN, D] rows, split products, no first-layer projections) with the keys
and values of its masked row attention cached ([B * heads, W, d] per layer). Under XLA the caches are
written in place; without it they are rolling buffers (drop the oldest slot, append the new one), since
outside XLA a scatter copies the whole cache. The whole raster loop runs in one `tf.function` (under XLA
with `jit_compile=True`), batched over B * num_samples.

Random draws: pixel (i, j) of sample n of image b uses the Gumbel noise of
`common.sampling.hashed_uniform` with step i and flat index ((b * N + n) * W + j) * 512 + symbol. Both
samplers therefore see the same noise; images of one call get independent noise; image b's samples depend
on (its image, seed, b, n) only, not on the other images nor on the batch size; the integer hash is
identical under XLA.

Sampling context: with the model's `row_context_sampling` (imported checkpoints) the inner decoder's cLNs
pool only the current row of z, as the authors' sampler does; both samplers implement it (the naive one
as the authors do, by passing the row; the fast one from per-row poolings computed once per image).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from coltran.attention import MASK_BIAS, AxialAttention
from coltran.conditional import affine_modulation
from coltran.constants import NUM_COARSE_COLORS
from coltran.modulations import FusedModulations
from coltran.pixel_step import START, PixelDecoder
from common.sampling import hashed_uniform


def row_gumbel(seed: tf.Tensor, row: tf.Tensor, width: int, rows: tf.Tensor | int) -> tf.Tensor:
    """Gumbel noise [BN, W, 512] for one image row: pixel j of draw b * N + n gets [b * N + n, j] (hashed,
    stateless; a draw's noise does not depend on how many draws follow it)."""
    u = hashed_uniform(tf.stack([rows, width, NUM_COARSE_COLORS]), seed=seed, step=row)
    return -tf.math.log(-tf.math.log(u))


def draw(
    logits: tf.Tensor, gumbel: tf.Tensor, temperature: tf.Tensor, top_k: int | tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """One symbol per row of logits [B * N, C] (rows image-major) given each row's noise [B * N, C].

    Gumbel-max draw from softmax(top_k(logits) / temperature); temperature 0 gives the argmax.
    top_k: a Python int (static k, what XLA needs), or an int32 scalar tensor read at run time (one
    TopK of runtime k: TFLite's TOPK_V2; values above C act as C, 0 and below as no truncation).
    Returns (int32 [B * N], float32 [B * N] the max of softmax(logits)).
    """
    max_prob = tf.reduce_max(tf.nn.softmax(logits, axis=-1), axis=-1)
    if isinstance(top_k, tf.Tensor):
        k = tf.clip_by_value(top_k, 1, logits.shape[-1])
        kth = tf.math.top_k(logits, k=k).values[:, -1:]
        logits = tf.where((top_k > 0) & (logits < kth), tf.constant(-1e30, logits.dtype), logits)
    elif top_k:
        kth = tf.math.top_k(logits, k=top_k).values[:, -1:]
        logits = tf.where(logits < kth, tf.constant(-1e30, logits.dtype), logits)
    safe_t = tf.where(temperature > 0, temperature, 1.0)
    noisy = tf.where(temperature > 0, logits / safe_t + gumbel, logits)
    return tf.argmax(noisy, axis=-1, output_type=tf.int32), max_prob


class _PixelSlicer:
    """Packs per-position tensors [B, 1, W, k_i] (a nested structure with None leaves) into one [W, B, K]
    tensor once per row, so each pixel step takes its [B, k_i] slices with one gather and one split."""

    def __init__(self, structure):
        self.structure = structure
        self.flat = tf.nest.flatten(structure)
        self.index = [i for i, t in enumerate(self.flat) if t is not None]
        tensors = [self.flat[i] for i in self.index]
        self.sizes = [t.shape[-1] for t in tensors]
        self.packed = tf.transpose(tf.concat(tensors, axis=-1)[:, 0], [1, 0, 2])  # [W, B, K]

    def __call__(self, col: tf.Tensor):
        parts = tf.split(tf.gather(self.packed, col), self.sizes, axis=-1)
        flat = list(self.flat)
        for i, part in zip(self.index, parts, strict=True):
            flat[i] = part
        return tf.nest.pack_sequence_as(self.structure, flat)


def _prepare(model, gray8: tf.Tensor, num_samples: int) -> tf.Tensor:
    """Encoder once per image, then tiled to B * N rows (image-major)."""
    return tf.repeat(model.encode(gray8), num_samples, axis=0)


def _cached_step(
    caches: list, i: int, table: tf.Tensor, position: tf.Tensor, qkv: tuple, in_place: bool
) -> tf.Tensor:
    """One step of ColTran's masked attention on layer i's key/value cache.

    qkv: this step's q (already scaled), k, v, each [..., heads, d], one position per leading index:
    [BN, heads, d] (inner decoder, one pixel) or [BN, 1, W, heads, d] (outer decoder, one row).
    caches[i] = (k, v), each [prod(leading) * heads, L, d], is replaced by the updated caches. table:
    layer i's `_step_tables(att, in_place)`. Returns the attention output, shaped like q.

    in_place (under XLA): this step's keys/values are written into slot `position`, in place. Otherwise a
    rolling buffer: drop the oldest slot, append this step (plain copies: outside XLA a scatter copies the
    whole cache, and both tensor_scatter_nd_update and a broadcast select cost several ms per step at
    batch 8). Batched matmuls over (image, column, head) with the attended axis second: far faster than
    broadcast elementwise products on a CPU, the same values up to round-off.
    """
    q, k, v = qkv
    lead = [-1] + q.shape[1:-1].as_list()
    q, k, v = (tf.reshape(t, [-1, 1, t.shape[-1]]) for t in (q, k, v))
    if in_place:
        rows = k.shape[0]
        index = tf.stack([tf.range(rows), tf.fill([rows], position)], axis=1)
        k_cache = tf.tensor_scatter_nd_update(caches[i][0], index, k[:, 0])
        v_cache = tf.tensor_scatter_nd_update(caches[i][1], index, v[:, 0])
    else:
        k_cache = tf.concat([caches[i][0][:, 1:], k], axis=1)
        v_cache = tf.concat([caches[i][1][:, 1:], v], axis=1)
    caches[i] = (k_cache, v_cache)
    bias = tf.gather(table, position)  # [heads, L]
    logits = tf.matmul(q, k_cache, transpose_b=True)  # [X, 1, L]
    logits = tf.reshape(logits, [-1, bias.shape[0], logits.shape[-1]]) + bias
    weights = tf.reshape(tf.nn.softmax(logits, axis=-1), [-1, 1, logits.shape[-1]])
    return tf.reshape(tf.matmul(weights, v_cache), lead + [q.shape[-1]])


def _cached_attention(caches: list, tables: list, position: tf.Tensor, in_place: bool) -> Callable:
    """An attention hook for `OuterDecoder.body` (x [BN, 1, W, D], one row): projects x and attends layer
    i's cache (`_cached_step`); tables[i] is layer i's `_step_tables`."""

    def attend(i: int, att: AxialAttention, x: tf.Tensor, modulation: dict) -> tf.Tensor:
        qkv = att.project(x, modulation)
        return att.output(_cached_step(caches, i, tables[i], position, qkv, in_place))

    return attend


def _step_tables(att: AxialAttention, in_place: bool) -> tf.Tensor:
    """`att.step_bias()` [L, L, 1, 1, heads] in the caches' slot order: [L (query), heads, L (slot)].

    In place, slot s holds position s. In a rolling buffer, at query p slot s holds position p - L + 1 + s;
    slots before position 0 (never written) get -1e9, like the masked future in `step_bias` (exp
    underflows to exactly 0 either way)."""
    bias = att.step_bias()[:, :, 0, 0]  # [q, k, heads]
    if not in_place:
        length = att.length
        pos = np.arange(length)
        key = pos[:, None] - length + 1 + pos[None, :]  # [query, slot] -> key position
        bias = tf.gather(bias, np.maximum(key, 0), axis=1, batch_dims=1)  # [q, s, heads]
        bias = tf.where(tf.constant(key >= 0)[..., None], bias, tf.constant(MASK_BIAS, tf.float32))
    return tf.transpose(bias, [0, 2, 1])


def _ln_modulations(decoder, z: tf.Tensor) -> list:
    """`decoder.ln_modulations(z)` with every learnable spatial pooling in one matmul.

    TF's reduce_mean over the two middle axes of [B, H, W, D] is slow on a CPU (about 0.1 s per norm and
    image at the paper size); the weighted sums of all norms at once are one [n, H*W] x [B, H*W, D] matmul.
    Same values up to round-off.
    """
    for norm in decoder.norms:
        if not norm.built:  # as in `ln_modulations`: normalised features and z both have width D
            norm.build(z.shape, z.shape)
    height, width = z.shape[1], z.shape[2]
    flat = tf.reshape(z, [-1, height * width, z.shape[-1]])
    learnable = [n for n in decoder.norms if n.mode != "none" and n.pool == "learnable"]
    pooled = {}
    if learnable:
        weights = tf.concat([tf.reshape(n.spatial_weights, [1, -1]) for n in learnable], 0)  # [n, H*W]
        sums = tf.matmul(weights, flat) / float(height * width)  # [B, n, D]
        pooled = {id(n): sums[:, k, None, None] for k, n in enumerate(learnable)}
    mean = None
    mods = []
    for norm in decoder.norms:
        if norm.mode == "none":
            mods.append(None)
            continue
        if id(norm) not in pooled:
            mean = tf.reduce_mean(flat, axis=1)[:, None, None] if mean is None else mean
        mods.append(affine_modulation(norm.proj(pooled.get(id(norm), mean)), norm.mode))
    return mods


def _row_ln_modulations(decoder, z: tf.Tensor) -> list:
    """`decoder.row_ln_modulations(z)` (the authors' sampling context) as [BN, H, D] parts, every
    learnable row pooling in one einsum. Same values up to round-off."""
    for norm in decoder.norms:
        if not norm.built:
            norm.build(z.shape, z.shape)
    learnable = [n for n in decoder.norms if n.mode != "none" and n.pool == "learnable"]
    pooled = {}
    if learnable:
        weights = tf.stack([n.row_weights() for n in learnable])  # [n, W]
        sums = tf.einsum("kw,bhwd->kbhd", weights, z) / float(z.shape[2])  # [n, BN, H, D]
        pooled = {id(n): sums[k] for k, n in enumerate(learnable)}
    mean = None
    mods = []
    for norm in decoder.norms:
        if norm.mode == "none":
            mods.append(None)
            continue
        if id(norm) not in pooled:
            mean = tf.reduce_mean(z, axis=2) if mean is None else mean
        mods.append(affine_modulation(norm.proj(pooled.get(id(norm), mean)), norm.mode))
    return mods


def _swap01(t: tf.Tensor) -> tf.Tensor:
    """Swaps the first two axes (TensorArray stacks are step-major)."""
    return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _fast(
    model,
    gray8: tf.Tensor,
    seed: tf.Tensor,
    temperature: tf.Tensor,
    *,
    num_samples: int,
    top_k: int | tf.Tensor,
    num_rows: tf.Tensor,
    record_logits: bool = False,
    xla: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    z = _prepare(model, gray8, num_samples)  # [BN, H, W, D]
    in_place = xla  # in-place cache writes: only XLA does them without copying the cache
    # A static batch (traced per batch size) makes every reshape of a step static: no shape ops.
    bn, height, width = z.shape[0] or tf.shape(z)[0], z.shape[1], z.shape[2]
    dim, heads = model.hidden_size, model.num_heads
    outer, inner = model.outer, model.inner
    outer_ln = _ln_modulations(outer, z)
    # cAtt / cMLP modulations, each decoder's from one matmul. The outer decoder's depend on z only: all
    # rows at once (one large matmul), then one gather per row.
    outer_fused = FusedModulations([block.layer for block in outer.blocks])
    outer_proj = outer_fused.project(z)  # [BN, H, W, K] or None
    inner_fused = FusedModulations([block.layer for block in inner.blocks])
    # The pixel steps work on [BN, D] rows: flat tensors keep each step's op count low. The inner cLN
    # modulations: one per image (all of z), or one per row (the authors' context, [BN, H, D] parts).
    row_context = bool(getattr(model, "row_context_sampling", False))
    if row_context:
        inner_ln_all = _row_ln_modulations(inner, z)
    else:
        inner_ln_all = tf.nest.map_structure(
            lambda t: None if t is None else tf.reshape(t, [-1, dim]), _ln_modulations(inner, z)
        )
    # Split products pay under XLA (it runs a batched dot's blocks on both cores); outside XLA the
    # extra ops cost more than they save.
    pixels = PixelDecoder(model, parts=2 if xla else 1)
    outer_tables = [_step_tables(layer.column_attention.layer, in_place) for layer in outer.axial_layers]
    inner_tables = [_step_tables(layer.attention.layer, in_place) for layer in inner.inner_layers]

    def zeros_cache(length, x):
        return tf.zeros([bn * x * heads, length, dim // heads])

    def row_step(r, upper, outer_caches, symbols, probs):
        z_row = tf.gather(z, [r], axis=1)  # [BN, 1, W, D]
        base = inner.pos.table([r]) + z_row + upper  # inner decoder input minus the colour embedding
        # Everything a pixel step needs from the row, packed so the step slices it with one gather.
        pixel_inputs = _PixelSlicer(
            (
                base,
                pixels.row_projections(base[:, 0])[:, None],
                inner_fused.project(tf.concat([z_row, upper], axis=-1)),
            )
        )
        noise = row_gumbel(seed, r, width, bn)  # [BN, W, 512]
        if row_context:
            inner_ln = tf.nest.map_structure(
                lambda t: None if t is None else tf.gather(t, r, axis=1), inner_ln_all
            )
        else:
            inner_ln = inner_ln_all

        def pixel_step(c, prev, inner_caches, row_symbols, row_probs):
            caches = list(inner_caches)
            base_c, proj_c, mods_c = pixel_inputs(c)
            mods_c = inner_fused.unpack(mods_c)

            def attend(i, q, k, v):
                return _cached_step(caches, i, inner_tables[i], c, (q, k, v), in_place)

            logits = pixels.step(prev, base_c, proj_c, mods_c, inner_ln, attend)
            sym, prob = draw(logits, tf.gather(noise, c, axis=1), temperature, top_k)
            return (
                c + 1,
                sym,
                tuple(caches),
                row_symbols.write(c, sym),
                row_probs.write(c, logits if record_logits else prob),
            )

        init = (
            tf.constant(0),
            tf.fill([bn], START),
            tuple((zeros_cache(width, 1), zeros_cache(width, 1)) for _ in inner.inner_layers),
            tf.TensorArray(tf.int32, width),
            tf.TensorArray(tf.float32, width),
        )
        _, _, _, row_symbols, row_probs = tf.while_loop(lambda c, *_: c < width, pixel_step, init)
        row_symbols = tf.ensure_shape(tf.transpose(row_symbols.stack()), [z.shape[0], width])  # [BN, W]
        row_probs = row_probs.stack()

        # The finished row advances the outer decoder by one row; its output is row r + 1's context.
        caches = list(outer_caches)
        h = model.pixel_embed(row_symbols)[:, None] + outer.pos.table([r]) + z_row
        row_proj = None if outer_proj is None else tf.gather(outer_proj, [r], axis=1)
        upper = outer.body(
            h,
            outer_ln,
            outer_fused.unpack(row_proj),
            col_attention=_cached_attention(caches, outer_tables, r, in_place),
        )
        return (
            r + 1,
            upper,
            tuple(caches),
            symbols.write(r, row_symbols),
            probs.write(r, _swap01(row_probs)),
        )

    init = (
        tf.constant(0),
        tf.zeros([bn, 1, width, dim]),
        tuple((zeros_cache(height, width), zeros_cache(height, width)) for _ in outer.axial_layers),
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
    num_rows: tf.Tensor,
    record_logits: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    z = _prepare(model, gray8, num_samples)
    bn, height, width = tf.shape(z)[0], z.shape[1], z.shape[2]
    dim = model.hidden_size

    def row_step(r, canvas, upper, symbols, probs):
        upper_row = tf.gather(upper, [r], axis=1)
        noise = row_gumbel(seed, r, width, bn)

        def pixel_step(c, row_emb, row_symbols, row_probs):
            # The whole row through the inner decoder, as the authors' sampler does, for one pixel.
            features = model.inner(row_emb, upper_row, z, row=r, row_context=model.row_context_sampling)
            logits = tf.gather(model.head(features), c, axis=2)[:, 0]
            sym, prob = draw(logits, tf.gather(noise, c, axis=1), temperature, top_k)
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
        row_emb = tf.ensure_shape(row_emb, [z.shape[0], 1, width, dim])
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
      method: "fast" or "naive".
      jit_compile: XLA for the whole sampling loop (same samples; on a CPU the fast sampler is about 1.4x
        faster with it, BENCHMARKS.md; its key/value caches are then updated in place). The first call
        per (batch size, rows) compiles.
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
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= NUM_COARSE_COLORS:
        raise ValueError(
            f"coltran/sampler.py: top_k must be an int in [0, {NUM_COARSE_COLORS}], got {top_k!r}."
        )
    if not temperature >= 0:
        raise ValueError(f"coltran/sampler.py: temperature must be >= 0, got {temperature}.")
    rows = model.resolution if num_rows is None else int(num_rows)
    if not 1 <= rows <= model.resolution:
        raise ValueError(f"coltran/sampler.py: num_rows must be in [1, {model.resolution}], got {num_rows}.")
    if jit_compile not in (False, True):
        raise ValueError(f"coltran/sampler.py: jit_compile must be False or True, got {jit_compile!r}.")
    jit = bool(jit_compile)
    # XLA needs static TensorArray sizes: under XLA the row count is part of the trace.
    key = (method, num_samples, top_k, jit, bool(return_logits), rows if jit else None)
    if key not in model._sample_fns:
        impl = _fast if method == "fast" else _naive

        def run(gray8, seed, temperature, num_rows_t):
            return impl(
                model,
                gray8,
                seed,
                temperature,
                num_samples=num_samples,
                top_k=top_k,
                num_rows=rows if jit else num_rows_t,  # a tensor: one trace serves every row count
                record_logits=return_logits,
                **({"xla": True} if jit and method == "fast" else {}),
            )

        model._sample_fns[key] = tf.function(run, jit_compile=jit, autograph=False)
    symbols, out = model._sample_fns[key](
        tf.convert_to_tensor(gray8, tf.int32),
        tf.constant([seed, 0], tf.int32),
        tf.constant(temperature, tf.float32),
        tf.constant(rows, tf.int32),
    )
    batch = tf.shape(gray8)[0]
    shape = tf.concat([[batch, num_samples], tf.shape(symbols)[1:]], 0)
    symbols = tf.reshape(symbols, shape)
    if not return_logits:
        return symbols, tf.reshape(out, shape)
    logits = tf.reshape(out, tf.concat([shape, [NUM_COARSE_COLORS]], 0))
    return symbols, tf.reduce_max(tf.nn.softmax(logits, axis=-1), axis=-1), logits
