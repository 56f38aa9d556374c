"""PIC's samplers: the chroma of each pixel drawn in raster order (Royer et al. 2017, §3).

Both samplers draw pixel p = i * w + j from the same mixture parameters with the same noise, so they give
the same samples (tests/pic/test_harness.py):
  "naive"  the authors' scheme: the whole autoregressive network f on the whole canvas once per pixel
           (the embedding once per image, as their cached embedding).
  "fast"   Ramachandran et al. 2017 ("Fast generation for convolutional autoregressive models"): the u
           stream (rows above only) is computed a row at a time when the row above is complete; the ul
           stream's convolutions are split into their taps on the two finished rows above (one VALID
           convolution per layer for the whole row, from a cache of the layer's input on those rows) and
           their taps on the current row (per pixel, one matmul on the layer inputs of the row's last
           three pixels); the pixels of a row are unrolled (w is static), so each pixel costs O(1) in the
           image size and few ops (at batch 1 the sampler is bound by per-op overhead and by reading the
           current-row kernels, BENCHMARKS.md "PIC: naive vs fast sampling").
Draws (`draw`): component by Gumbel-max, then the logistic inverse CDF, a before b (b coupled to the
drawn a), on `common.sampling.hashed_uniform` noise of (seed, pixel index, flat index) (`pixel_noise`;
the fast sampler makes every pixel's at once, `steps_noise`), so the graph has no random ops and converts
to TFLite; a is rounded to the 256-level grid before b's coupling (the
distribution `log_prob` scores). `temperature` multiplies the logistic scales (the authors'
`scale_var`); 0 is mode decoding: the mean of the most probable component (deterministic; the authors'
scale 0 still draws the component at random). `top_k` keeps the k most probable components.
The drawn (L, a, b) of a pixel is converted to RGB and written to the canvas f reads (the authors' loop).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from common import logistic_mixture as lm
from common.color import lab_to_rgb
from common.sampling import hashed_uniform
from pic.layers import concat_elu
from pic.pixelcnn_pp import pad_ones

METHODS = ("naive", "fast")


# -- one pixel's draw -----------------------------------------------------------------------------------
def _truncate_components(params: tf.Tensor, num_mixtures: int, top_k: int | tf.Tensor) -> tf.Tensor:
    """top_k: a Python int (static k), or an int32 scalar tensor read at run time (exports: one TopK of
    runtime k, TFLite builtins); 0 or >= K keeps every component."""
    logits = params[..., :num_mixtures]
    if isinstance(top_k, tf.Tensor):
        k = tf.clip_by_value(top_k, 1, num_mixtures)
        kth = tf.reduce_min(tf.math.top_k(logits, k=k).values, axis=-1, keepdims=True)
        logits = tf.where((top_k > 0) & (logits < kth), tf.constant(-1e9, params.dtype), logits)
        return tf.concat([logits, params[..., num_mixtures:]], axis=-1)
    if top_k <= 0 or top_k >= num_mixtures:
        return params
    kth = tf.math.top_k(logits, k=top_k).values[..., top_k - 1 : top_k]
    logits = tf.where(logits < kth, tf.constant(-1e9, params.dtype), logits)
    return tf.concat([logits, params[..., num_mixtures:]], axis=-1)


def pixel_noise(lead: tf.Tensor, num_mixtures: int, seed: Any, step: Any) -> tf.Tensor:
    """The noise of the draws of raster step `step` (pixels of shape `lead`): hashed_uniform([*lead, K + 2],
    seed, step), K uniforms for the component, 2 for a and b."""
    return hashed_uniform(tf.concat([lead, [num_mixtures + 2]], 0), seed=seed, step=step)


def steps_noise(lead: tf.Tensor, num_mixtures: int, seed: Any, num_steps: int) -> tf.Tensor:
    """`pixel_noise` of the steps 0 .. num_steps - 1 at once (vectorised: the same bits, a handful of
    ops instead of ~100 per step), [num_steps, *lead, K + 2]."""
    return tf.vectorized_map(
        lambda step: pixel_noise(lead, num_mixtures, seed, step),
        tf.range(num_steps),
        fallback_to_while_loop=False,
    )


def draw(
    params: tf.Tensor,
    lum: tf.Tensor,
    noise: tf.Tensor | None,
    *,
    temperature: float | tf.Tensor = 1.0,
    top_k: int | tf.Tensor = 0,
) -> tf.Tensor:
    """(a, b) on the grid of [-1, 1] for pixels with mixture `params` [..., 8K] and luminance [..., 1].

    noise: the step's `pixel_noise` [..., K + 2] (None only at a static temperature 0: mode decoding).
    """
    k = params.shape[-1] // 8
    params = _truncate_components(params, k, top_k)
    if isinstance(temperature, (int, float)) and temperature == 0:
        return lm.mode(params, lum)
    drawn = lm.sample(
        params, lum, mixture_uniform=noise[..., :k], logistic_uniform=noise[..., k:], temperature=temperature
    )
    if isinstance(temperature, (int, float)):
        return drawn
    return tf.where(tf.cast(temperature, params.dtype) <= 0, lm.mode(params, lum), drawn)


def grid_to_canvas(ab: tf.Tensor, lum: tf.Tensor, ab_offset: tuple[float, float]) -> tf.Tensor:
    """Drawn (a, b) on the grid [..., 2] and normalised L [..., 1] -> the canvas value: RGB in [-1, 1]."""
    lab = tf.concat([lum * 50.0 + 50.0, ab * 127.5 + tf.constant(ab_offset, ab.dtype)], axis=-1)
    return lab_to_rgb(lab) * 2.0 - 1.0


# -- naive ----------------------------------------------------------------------------------------------
def _naive(model, emb, lum, seed, temperature, top_k, num_pixels):
    bn, h, w = tf.shape(lum)[0], lum.shape[1], lum.shape[2]
    canvas = tf.zeros([bn, h, w, 3])
    params_all = tf.zeros([bn, h, w, 8 * model.num_mixtures])
    ab_all = tf.zeros([bn, h, w, 2])
    positions = tf.reshape(tf.range(h * w), [1, h, w, 1])

    def body(p, canvas, ab_all, params_all):
        i, j = p // w, p % w
        params = model.pixelcnn(canvas, emb)[:, i, j]
        lum_p = lum[:, i, j]
        noise = pixel_noise(tf.shape(params)[:-1], model.num_mixtures, seed, p)
        ab = draw(params, lum_p, noise, temperature=temperature, top_k=top_k)
        here = tf.equal(positions, p)
        canvas = tf.where(here, grid_to_canvas(ab, lum_p, model.ab_offset)[:, None, None], canvas)
        ab_all = tf.where(here, ab[:, None, None], ab_all)
        params_all = tf.where(here, params[:, None, None], params_all)
        return p + 1, canvas, ab_all, params_all

    _, _, ab_all, params_all = tf.while_loop(
        lambda p, *_: p < num_pixels, body, [tf.constant(0), canvas, ab_all, params_all]
    )
    return ab_all, params_all


# -- fast -----------------------------------------------------------------------------------------------
def _bias(conv) -> tf.Tensor:
    return tf.convert_to_tensor(conv.b)


def _row_conv(rows: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """rows [BN, kh, w + kw - 1, C] -> one output row [BN, w, C_out] (a VALID convolution, no bias)."""
    return tf.nn.conv2d(rows, kernel, 1, "VALID")[:, 0]


def _current_taps(kernel: tf.Tensor) -> list[tf.Tensor]:
    """A 3x3 down-right kernel's taps on the current row (its last kernel row: columns j-2, j-1, j) as the
    matrices of the pixel windows that column j has: [C_in, C_out] at j = 0 (columns j-1, j-2 are the
    zero padding), [2 C_in, C_out] at j = 1, [3 C_in, C_out] from j = 2 on."""
    cur = kernel[-1]
    return [tf.reshape(cur[3 - n :], [-1, cur.shape[-1]]) for n in (1, 2, 3)]


def _window(history: list[tf.Tensor], j: int) -> tf.Tensor:
    """The current row's inputs of a 3x3 down-right convolution at column j: [BN, min(j + 1, 3) * C]."""
    return history[0] if j == 0 else tf.concat(history[max(j - 2, 0) : j + 1], axis=-1)


def _roll(past: tf.Tensor, row: tf.Tensor) -> tf.Tensor:
    """The cache of rows (i-2, i-1) [BN, 2, W', C] -> rows (i-1, i), row i [BN, W', C]."""
    return tf.concat([past[:, 1:], row[:, None]], axis=1)


def _fast(model, emb, lum, seed, temperature, top_k, num_pixels):
    """Row by row; in a row, the pixels one after another (unrolled: w is static).

    A layer's output at (i, j) is split into the taps on the finished rows i-2, i-1 (with the bias and
    the embedding's conv_aux: one VALID convolution for the whole row i before its pixels, from caches of
    each layer's input on the last two rows) and the taps on the current row, columns j-2..j (one small
    matmul per pixel on the layer inputs just computed for this row's earlier pixels). The u stream
    (rows above only) is computed a whole row at a time.
    """
    f = model.pixelcnn
    bn, h, w = tf.shape(lum)[0], lum.shape[1], lum.shape[2]
    c, nb, k8 = f.channels, f.num_blocks, 8 * f.num_mixtures
    full = lambda conv: (conv.kernel(), _bias(conv))
    emb_elu = concat_elu(emb)
    # conv_aux of the u blocks sees the embedding only: all rows at once.
    u_aux = [blk.conv_aux(emb_elu) for blk in f.u_blocks]
    # Every kernel g * V / ||V|| once, outside the loops.
    conv_down = full(f.conv_down)
    u_mats = [(full(blk.conv1), full(blk.conv2), full(f.ul_blocks[kk].conv_aux)) for kk, blk in
              enumerate(f.u_blocks)]
    ul_k = [(blk.conv1.kernel(), blk.conv2.kernel()) for blk in f.ul_blocks]
    ul_past = [(k1[:2], k2[:2]) for k1, k2 in ul_k]  # taps on rows i-2, i-1
    ul_cur = [(_current_taps(k1), _current_taps(k2)) for k1, k2 in ul_k]
    ul_b = [(_bias(blk.conv1), _bias(blk.conv2)) for blk in f.ul_blocks]
    down2 = full(f.conv_down_2)
    down_right = f.conv_down_right.kernel()  # [2, 1, 4, C]: row i-1, row i (both at column j - 1)
    dr_past, dr_cur, dr_b = down_right[:1], down_right[1, 0], _bias(f.conv_down_right)
    last = (f.conv_last.kernel()[0, 0], _bias(f.conv_last))
    # right_shift: column 0 of ul's first map gets nothing from conv_down_right (its bias included).
    not_first = tf.constant([0.0] + [1.0] * (w - 1), tf.float32)[None, :, None]
    row_index = tf.reshape(tf.range(h), [1, h, 1, 1])
    noise = None  # a static temperature 0 draws no noise (mode decoding)
    if not (isinstance(temperature, (int, float)) and temperature == 0):
        noise = tf.reshape(steps_noise(tf.shape(lum)[:1], f.num_mixtures, seed, h * w), [h, w, bn, -1])

    # Caches, each its layer's input on rows i-2, i-1, with the zero padding of the layer's causal shift
    # in the columns ("down": 1 left, 1 right; "down_right": 2 left; both are w + 2 wide).
    def past(ch):
        return tf.zeros([bn, 2, w + 2, ch])

    def run_row(i, x_past, ua_past, ub_past, la_past, lb_past, ab_all, params_all):
        above = tf.cast(i > 0, tf.float32)
        # u stream for row i: it reads the finished rows above only (x_past: rows i-2, i-1).
        u = (_row_conv(x_past, conv_down[0]) + conv_down[1]) * above
        ua_cur, ub_cur, ul_aux = [], [], []
        for kk, blk in enumerate(f.u_blocks):
            conv1, conv2, ul_conv_aux = u_mats[kk]
            a_cur = tf.pad(concat_elu(u), [[0, 0], [1, 1], [0, 0]])
            c1 = _row_conv(tf.concat([ua_past[kk], a_cur[:, None]], 1), conv1[0]) + conv1[1] + u_aux[kk][:, i]
            b_cur = tf.pad(concat_elu(c1), [[0, 0], [1, 1], [0, 0]])
            u = u + blk.gate(_row_conv(tf.concat([ub_past[kk], b_cur[:, None]], 1), conv2[0]) + conv2[1])
            ua_cur.append(a_cur)
            ub_cur.append(b_cur)
            # The ul block's conv_aux reads [u, embedding] of its own pixel: a whole row at once.
            aux_in = concat_elu(tf.concat([u, emb[:, i]], axis=-1))
            ul_aux.append(_row_conv(aux_in[:, None], ul_conv_aux[0]) + ul_conv_aux[1])

        # ul stream, the finished rows' part of every layer at every column of row i. ul_0: the row above
        # (1x3, down-shifted) and the row above's pixel to the left (2x1, right-shifted).
        ul0 = (_row_conv(x_past[:, 1:2], down2[0]) + down2[1]) * above
        ul0 = ul0 + (_row_conv(x_past[:, 1:, :w], dr_past) + dr_b) * not_first
        ul0 = tf.unstack(ul0, num=w, axis=1)
        rows1 = [
            tf.unstack(_row_conv(la_past[kk], ul_past[kk][0]) + ul_b[kk][0] + ul_aux[kk], num=w, axis=1)
            for kk in range(nb)
        ]
        rows2 = [
            tf.unstack(_row_conv(lb_past[kk], ul_past[kk][1]) + ul_b[kk][1], num=w, axis=1)
            for kk in range(nb)
        ]
        lum_row = tf.unstack(lum[:, i], num=w, axis=1)
        noise_row = [None] * w if noise is None else tf.unstack(noise[i], num=w, axis=0)

        # The pixels of row i, each adding the current row's taps (columns j-2..j) to those parts.
        xs, las, lbs, abs_, pars = [], [[] for _ in range(nb)], [[] for _ in range(nb)], [], []
        for j in range(w):
            ul = ul0[j] if j == 0 else ul0[j] + tf.matmul(xs[j - 1], dr_cur)
            for kk in range(nb):
                las[kk].append(concat_elu(ul))
                c1 = rows1[kk][j] + tf.matmul(_window(las[kk], j), ul_cur[kk][0][min(j, 2)])
                lbs[kk].append(concat_elu(c1))
                c2 = rows2[kk][j] + tf.matmul(_window(lbs[kk], j), ul_cur[kk][1][min(j, 2)])
                ul = ul + f.ul_blocks[kk].gate(c2)
            params = tf.matmul(tf.nn.elu(ul), last[0]) + last[1]
            ab = draw(params, lum_row[j], noise_row[j], temperature=temperature, top_k=top_k)
            xs.append(pad_ones(grid_to_canvas(ab, lum_row[j], model.ab_offset)))
            abs_.append(ab)
            pars.append(params)

        row = lambda values, left, right: tf.pad(tf.stack(values, axis=1), [[0, 0], [left, right], [0, 0]])
        here = tf.equal(row_index, i)

        def write_row(image: tf.Tensor, values: list[tf.Tensor]) -> tf.Tensor:  # no TensorArray: TFLite
            out = tf.where(here, tf.stack(values, axis=1)[:, None], image)
            out.set_shape(image.shape)  # the loop keeps a static batch size
            return out

        return (
            i + 1,
            _roll(x_past, row(xs, 1, 1)),
            [_roll(p, q) for p, q in zip(ua_past, ua_cur, strict=True)],
            [_roll(p, q) for p, q in zip(ub_past, ub_cur, strict=True)],
            [_roll(p, row(q, 2, 0)) for p, q in zip(la_past, las, strict=True)],
            [_roll(p, row(q, 2, 0)) for p, q in zip(lb_past, lbs, strict=True)],
            write_row(ab_all, abs_),
            write_row(params_all, pars),
        )

    state = [
        tf.constant(0),
        past(4),
        [past(2 * c) for _ in range(nb)],
        [past(2 * c) for _ in range(nb)],
        [past(2 * c) for _ in range(nb)],
        [past(2 * c) for _ in range(nb)],
        tf.zeros([bn, h, w, 2]),
        tf.zeros([bn, h, w, k8]),
    ]
    num_rows = (num_pixels + w - 1) // w  # whole rows: at least the first num_pixels pixels
    out = tf.while_loop(lambda i, *_: i < num_rows, run_row, state)
    return out[6], out[7]  # rows not drawn (num_pixels < h * w) are zeros


# -- entry point ----------------------------------------------------------------------------------------
def sample_chroma(
    model,
    gray: tf.Tensor,
    *,
    num_samples: int = 1,
    seed: int | tf.Tensor = 0,
    temperature: float | tf.Tensor = 1.0,
    top_k: int | tf.Tensor = 0,
    method: str = "fast",
    jit_compile: bool = False,
    num_pixels: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Draws the chroma of `num_samples` colourings per image.

    Args:
      model: a PICColorizer; gray: [B, R, R, 1] Lab L / 100 at the model's resolution.
      top_k: an int, or an int32 scalar tensor read at run time (no XLA: XLA needs a static k).
      method: "naive" or "fast" (same samples); ignored by an embedding-only model (pixels independent).
      num_pixels: draw only the first pixels in raster order (benchmarks; "fast" draws whole rows), the
        rest left 0; None = all.
    Returns:
      (ab [B, N, r, r, 2] on the grid of [-1, 1], params [B, N, r, r, 8K] the mixture each draw used).
    """
    if method not in METHODS:
        raise ValueError(f"pic/sampler.py: method must be one of {METHODS}, got {method!r}")
    if isinstance(top_k, tf.Tensor):
        top_k = tf.cast(top_k, tf.int32)  # read at run time (exports)
    elif isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ValueError(f"pic/sampler.py: top_k must be an int >= 0 or an int32 tensor, got {top_k!r}")
    gray = tf.convert_to_tensor(gray, tf.float32)
    b = tf.shape(gray)[0]
    static_temperature = temperature if isinstance(temperature, (int, float)) else None
    static_top_k = None if isinstance(top_k, tf.Tensor) else int(top_k)
    key = (num_samples, method, jit_compile, static_top_k, static_temperature)
    fn = model._sample_fns.get(key)
    if fn is None:
        fn = model._sample_fns[key] = tf.function(
            _sampling_graph(model, num_samples, method, static_top_k),
            jit_compile=jit_compile,
            autograph=False,
        )
    seed_pair = tf.constant([int(seed), 0], tf.int32) if isinstance(seed, (int, np.integer)) else seed
    if static_temperature is None:
        temperature = tf.convert_to_tensor(temperature, tf.float32)
    r = model.low_resolution
    pixels = tf.constant(r * r if num_pixels is None else min(int(num_pixels), r * r), tf.int32)
    runtime_top_k = top_k if static_top_k is None else tf.constant(0, tf.int32)
    ab, params = fn(gray, seed_pair, temperature, pixels, runtime_top_k)
    split = lambda t: tf.reshape(t, tf.concat([[b, num_samples], tf.shape(t)[1:]], 0))
    return split(ab), split(params)


def _sampling_graph(model, num_samples: int, method: str, static_top_k: int | None):
    def run(gray, seed, temperature, num_pixels, runtime_top_k):
        top_k = runtime_top_k if static_top_k is None else static_top_k
        gray_n = tf.repeat(gray, num_samples, axis=0)  # [B * N, R, R, 1], sample n of image b at b * N + n
        lum = model.low_res_luminance(gray_n)
        emb = model.embedding(model.embedding_input(gray), training=False)
        emb = tf.repeat(emb, num_samples, axis=0)
        if model.embedding_only:
            params = model.embedding_params(emb)
            noise = pixel_noise(tf.shape(params)[:-1], model.num_mixtures, seed, 0)
            return draw(params, lum, noise, temperature=temperature, top_k=top_k), params
        return (_naive if method == "naive" else _fast)(model, emb, lum, seed, temperature, top_k, num_pixels)

    return run
