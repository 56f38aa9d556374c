"""PIC's samplers: the chroma of each pixel drawn in raster order (Royer et al. 2017, §3).

Both samplers draw pixel p = i * w + j from the same mixture parameters with the same noise, so they give
the same samples (tests/pic/test_sampler.py):
  "naive"  the authors' scheme: the whole autoregressive network f on the whole canvas once per pixel
           (the embedding once per image, as their cached embedding).
  "fast"   Ramachandran et al. 2017 ("Fast generation for convolutional autoregressive models"): the u
           stream (rows above only) is computed a row at a time when the row above is complete; the ul
           stream a pixel at a time; every convolution reads a cache of its input's last three rows
           (two finished rows + the current one), so each pixel costs O(1) in the image size.
Draws (`draw`): component by Gumbel-max, then the logistic inverse CDF, a before b (b coupled to the
drawn a), on `common.sampling.hashed_uniform` noise of (seed, pixel index, flat index), so the graph has
no random ops and converts to TFLite; a is rounded to the 256-level grid before b's coupling (the
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


def draw(
    params: tf.Tensor,
    lum: tf.Tensor,
    *,
    seed: Any,
    step: Any,
    temperature: float | tf.Tensor = 1.0,
    top_k: int | tf.Tensor = 0,
) -> tf.Tensor:
    """(a, b) on the grid of [-1, 1] for pixels with mixture `params` [..., 8K] and luminance [..., 1].

    The noise is hashed_uniform([..., K + 2], seed, step): K uniforms for the component, 2 for a and b.
    """
    k = params.shape[-1] // 8
    params = _truncate_components(params, k, top_k)
    if isinstance(temperature, (int, float)) and temperature == 0:
        return lm.mode(params, lum)
    u = hashed_uniform(tf.concat([tf.shape(params)[:-1], [k + 2]], 0), seed=seed, step=step)
    drawn = lm.sample(
        params, lum, mixture_uniform=u[..., :k], logistic_uniform=u[..., k:], temperature=temperature
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
        ab = draw(params, lum_p, seed=seed, step=p, temperature=temperature, top_k=top_k)
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
def _kernel(conv) -> tuple[tf.Tensor, tf.Tensor]:
    """A ShiftedConv2D's kernel as a matrix [kh * kw * C_in, C_out] and its bias."""
    kernel = conv.kernel()
    return tf.reshape(kernel, [-1, kernel.shape[-1]]), tf.convert_to_tensor(conv.b)


def _apply(window: tf.Tensor, kernel: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
    """window [BN, kh, kw, C] -> [BN, C_out]."""
    return tf.matmul(tf.reshape(window, [tf.shape(window)[0], -1]), kernel[0]) + kernel[1]


def _row_conv(rows: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """rows [BN, kh, w + kw - 1, C] -> one output row [BN, w, C_out] (a VALID convolution)."""
    return tf.nn.conv2d(rows, kernel, 1, "VALID")[:, 0] + bias


def _columns(x: tf.Tensor, j: tf.Tensor, width: int) -> tf.Tensor:
    """Columns [j, j + width) of x [BN, rows, W', C] (a slice of static size, as XLA needs)."""
    return tf.slice(x, tf.stack([0, 0, j, 0]), [-1, -1, width, -1])


def _window(past: tf.Tensor, current: tf.Tensor, j: tf.Tensor, width: int) -> tf.Tensor:
    """Columns [j, j + width) of the cached rows: past [BN, 2, W', C] and current [BN, W', C] ->
    [BN, 3, width, C]."""
    return tf.concat([_columns(past, j, width), _columns(current[:, None], j, width)], axis=1)


def _put(row: tf.Tensor, column: tf.Tensor, value: tf.Tensor) -> tf.Tensor:
    """row [BN, W', C] with `value` [BN, C] at `column` (an exact select, no arithmetic)."""
    here = tf.equal(tf.range(tf.shape(row)[1]), column)[None, :, None]
    return tf.where(here, value[:, None], row)


def _fast(model, emb, lum, seed, temperature, top_k, num_pixels):
    f = model.pixelcnn
    bn, h, w = tf.shape(lum)[0], lum.shape[1], lum.shape[2]
    c, nb, k8 = f.channels, f.num_blocks, 8 * f.num_mixtures
    full = lambda conv: (conv.kernel(), tf.convert_to_tensor(conv.b))
    emb_elu = concat_elu(emb)
    # conv_aux of the u blocks sees the embedding only: all rows at once.
    u_aux = [blk.conv_aux(emb_elu) for blk in f.u_blocks]
    # Every kernel g * V / ||V|| once, outside the loops.
    conv_down = full(f.conv_down)
    u_mats = [(full(blk.conv1), full(blk.conv2), full(f.ul_blocks[kk].conv_aux)) for kk, blk in
              enumerate(f.u_blocks)]
    mats = [(_kernel(blk.conv1), _kernel(blk.conv2)) for blk in f.ul_blocks]
    down2, down_right, last = _kernel(f.conv_down_2), _kernel(f.conv_down_right), _kernel(f.conv_last)

    # Caches, each its layer's input: `past` rows i-2, i-1 (below, `_cur`: the current row i), with the
    # zero padding of the layer's causal shift in the columns ("down": 1 left, 1 right; "down_right": 2
    # left; both are w + 2 wide).
    def past(ch):
        return tf.zeros([bn, 2, w + 2, ch])

    row_index = tf.reshape(tf.range(h), [1, h, 1, 1])

    def run_row(i, x_past, ua_past, ub_past, la_past, lb_past, ab_all, params_all):
        x_row = pad_ones(tf.zeros([bn, w, 3]))
        x_cur = tf.pad(x_row, [[0, 0], [1, 1], [0, 0]])
        # u stream for row i: it reads the finished rows above only (x_past: rows i-2, i-1).
        u = _row_conv(x_past, *conv_down) * tf.cast(i > 0, tf.float32)
        ua_cur, ub_cur, ul_aux = [], [], []
        for kk, blk in enumerate(f.u_blocks):
            conv1, conv2, ul_conv_aux = u_mats[kk]
            a_cur = tf.pad(concat_elu(u), [[0, 0], [1, 1], [0, 0]])
            c1 = _row_conv(tf.concat([ua_past[kk], a_cur[:, None]], 1), *conv1) + u_aux[kk][:, i]
            b_cur = tf.pad(concat_elu(c1), [[0, 0], [1, 1], [0, 0]])
            u = u + blk.gate(_row_conv(tf.concat([ub_past[kk], b_cur[:, None]], 1), *conv2))
            ua_cur.append(a_cur)
            ub_cur.append(b_cur)
            # The ul block's conv_aux reads [u, embedding] of its own pixel: a whole row at once.
            aux_in = concat_elu(tf.concat([u, emb[:, i]], axis=-1))
            ul_aux.append(_row_conv(aux_in[:, None], *ul_conv_aux))

        def pixel(j, x_cur, la_cur, lb_cur, ab_row, par_row):
            # ul_0: the row above (1x3, down-shifted) + the pixel to the left (2x1 over rows i-1, i).
            ul = _apply(_columns(x_past[:, 1:2], j, 3), down2) * tf.cast(i > 0, tf.float32)
            left = _window(x_past[:, 1:], x_cur, j, 1)  # rows i-1, i at column j-1
            ul = ul + _apply(left, down_right) * tf.cast(j > 0, tf.float32)
            la_new, lb_new = [], []
            for kk in range(nb):
                la = _put(la_cur[kk], j + 2, concat_elu(ul))
                c1 = _apply(_window(la_past[kk], la, j, 3), mats[kk][0]) + ul_aux[kk][:, j]
                lb = _put(lb_cur[kk], j + 2, concat_elu(c1))
                ul = ul + f.ul_blocks[kk].gate(_apply(_window(lb_past[kk], lb, j, 3), mats[kk][1]))
                la_new.append(la)
                lb_new.append(lb)
            params = tf.matmul(tf.nn.elu(ul), last[0]) + last[1]
            lum_p = lum[:, i, j]
            ab = draw(params, lum_p, seed=seed, step=i * w + j, temperature=temperature, top_k=top_k)
            x_cur = _put(x_cur, j + 1, pad_ones(grid_to_canvas(ab, lum_p, model.ab_offset)))
            return j + 1, x_cur, la_new, lb_new, _put(ab_row, j, ab), _put(par_row, j, params)

        la_cur = [tf.zeros([bn, w + 2, 2 * c]) for _ in range(nb)]
        lb_cur = [tf.zeros([bn, w + 2, 2 * c]) for _ in range(nb)]
        _, x_cur, la_cur, lb_cur, ab_row, par_row = tf.while_loop(
            lambda j, *_: j < w,
            pixel,
            [tf.constant(0), x_cur, la_cur, lb_cur, tf.zeros([bn, w, 2]), tf.zeros([bn, w, k8])],
        )
        roll = lambda past, cur: tf.concat([past[:, 1:], cur[:, None]], axis=1)
        here = tf.equal(row_index, i)

        def write_row(image: tf.Tensor, row: tf.Tensor) -> tf.Tensor:  # no TensorArray: TFLite builtins
            out = tf.where(here, row[:, None], image)
            out.set_shape(image.shape)  # the loop keeps a static batch size
            return out

        return (
            i + 1,
            roll(x_past, x_cur),
            [roll(p, q) for p, q in zip(ua_past, ua_cur, strict=True)],
            [roll(p, q) for p, q in zip(ub_past, ub_cur, strict=True)],
            [roll(p, q) for p, q in zip(la_past, la_cur, strict=True)],
            [roll(p, q) for p, q in zip(lb_past, lb_cur, strict=True)],
            write_row(ab_all, ab_row),
            write_row(params_all, par_row),
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
            return draw(params, lum, seed=seed, step=0, temperature=temperature, top_k=top_k), params
        return (_naive if method == "naive" else _fast)(model, emb, lum, seed, temperature, top_k, num_pixels)

    return run
