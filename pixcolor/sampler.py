"""Samplers of the PixColor PixelCNN: a naive reference and a fast cached one, with the same random draws.

Order: raster over the h x w chroma pixels, inside a pixel Cr then Cb (§3.1): position
p = (i * w + j) * 2 + channel, 2 * h * w positions (1,568 at 28 x 28). The conditioning network and the
adaptation network run once per image (they do not depend on the chroma).

Naive (what a straightforward implementation does): the whole PixelCNN over the whole h x w canvas for
every position, then one logit vector read from it. The oracle of the tests and the baseline of
benchmarks/pixcolor_sampling.py.

Fast (Ramachandran et al. 2017, "Fast generation for convolutional autoregressive models"): every layer
keeps the recent rows (vertical stack, first layer) or columns (horizontal stack) its kernel reads; the
vertical stack advances once per row, the horizontal stack once per pixel, all with the layers' own masked
kernels (`MaskedConv2D.masked_kernel`). A pixel takes two passes through its column of layers: the first
with its own chroma unknown gives the Cr logits (Cr features never see the pixel's own chroma), the second
with Cr filled in gives the Cb logits and the features later pixels read (no feature sees its own pixel's
Cb). Everything runs in one `tf.function` (`jit_compile` for XLA), batched over B * num_samples.

Random draws: position p of draw n of image b uses Gumbel-max on `common.sampling.sample_categorical_hashed`
with step p and flat index (b * N + n) * K + bin, so both samplers see the same noise, images of one call
get independent noise, and image b's samples depend on (its image, seed, b, n) only, not on the other
images nor on the batch size. Temperature 0 is the argmax; top_k 0 keeps every bin. The uncertainty of a
position is its maximum predicted probability (untempered softmax).
"""

from __future__ import annotations

import tensorflow as tf

from common.quantize import NeutralCenteredQuantizer
from common.sampling import sample_categorical_hashed
from pixcolor.constants import CB, CR, NUM_CHROMA
from pixcolor.pixelcnn import GatedPixelCNN, gate

METHODS = ("fast", "naive")


def draw(
    logits: tf.Tensor, seed: tf.Tensor, position: tf.Tensor, temperature: tf.Tensor, top_k: int | tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """logits [BN, K] of one position -> (bins int32 [BN], max probability float32 [BN]).

    top_k: a Python int (static k), or an int32 scalar tensor read at run time (pixcolor/export_spec.py:
    one TopK of runtime k, which TFLite runs as a builtin); the same draws either way (ties kept)."""
    logits = tf.cast(logits, tf.float32)
    kept = logits
    if isinstance(top_k, tf.Tensor):
        k = tf.clip_by_value(top_k, 1, logits.shape[-1])
        kth = tf.math.top_k(logits, k=k).values[:, -1:]
        kept = tf.where((top_k > 0) & (logits < kth), tf.constant(-float("inf")), logits)
        top_k = 0
    bins = sample_categorical_hashed(kept, seed=seed, step=position, temperature=temperature, top_k=top_k)
    return bins, tf.reduce_max(tf.nn.softmax(logits, axis=-1), axis=-1)


def _values(bins: tf.Tensor, num_bins: int) -> tf.Tensor:
    """Bins -> the PixelCNN's input numbers in [-1, 1] (bin centre * 2 - 1)."""
    return NeutralCenteredQuantizer(num_bins).decode(bins) * 2.0 - 1.0


def _naive(
    net: GatedPixelCNN,
    s: tf.Tensor,
    seed: tf.Tensor,
    temperature: tf.Tensor,
    top_k: int,
    record_logits: bool,
    num_positions: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    height, width = s.shape[1], s.shape[2]
    bn = tf.shape(s)[0]
    steps = height * width * NUM_CHROMA  # positions; the canvas is kept flat in that order
    drawn = steps if num_positions is None else num_positions

    def step(p, canvas, bins, out):
        i, rest = tf.math.floordiv(p, width * NUM_CHROMA), tf.math.floormod(p, width * NUM_CHROMA)
        j, c = tf.math.floordiv(rest, NUM_CHROMA), tf.math.floormod(rest, NUM_CHROMA)
        logits = net(tf.reshape(canvas, [-1, height, width, NUM_CHROMA]), s)  # the whole network again
        logits = tf.cast(logits[:, i, j, c], tf.float32)  # [BN, K]: the one position drawn now
        b, prob = draw(logits, seed, p, temperature, top_k)
        canvas += _values(b, net.num_bins)[:, None] * tf.one_hot(p, steps)[None]
        return p + 1, canvas, bins.write(p, b), out.write(p, logits if record_logits else prob)

    init = (
        tf.constant(0),
        tf.zeros([bn, steps]),
        tf.TensorArray(tf.int32, drawn, element_shape=[None]),
        tf.TensorArray(tf.float32, drawn, element_shape=[None, net.num_bins] if record_logits else [None]),
    )
    _, _, bins, out = tf.while_loop(lambda p, *_: p < drawn, step, init)
    if drawn < steps:  # the first positions only (benchmarks): [BN, P(, K)]
        return _swap01(bins.stack()), _swap01(out.stack())
    return _positions_to_image(bins.stack(), height, width), _positions_to_image(out.stack(), height, width)


def _swap01(t: tf.Tensor) -> tf.Tensor:
    return tf.transpose(t, [1, 0] + list(range(2, t.shape.rank)))


def _positions_to_image(stacked: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """[positions, BN, ...] -> [BN, h, w, 2, ...]."""
    t = tf.transpose(stacked, [1, 0] + list(range(2, stacked.shape.rank)))
    return tf.reshape(t, tf.concat([[-1, height, width, NUM_CHROMA], tf.shape(t)[2:]], 0))


def _pad_cols(x: tf.Tensor, pad: int) -> tf.Tensor:
    """[BN, rows, w, C] -> [BN, rows, w + 2 pad, C] with zero columns on both sides."""
    return tf.pad(x, [[0, 0], [0, 0], [pad, pad], [0, 0]])


def _fast(
    net: GatedPixelCNN, s: tf.Tensor, seed: tf.Tensor, temperature: tf.Tensor, top_k: int, record_logits: bool
) -> tuple[tf.Tensor, tf.Tensor]:
    height, width = s.shape[1], s.shape[2]
    bn = tf.shape(s)[0]
    static_bn = s.shape[0]  # None unless known at trace time; a static one lets TFLite lower the arrays
    p, half, half0 = net.channels, net.block_size // 2, net.first_size // 2
    logit_dims = [net.num_bins] if record_logits else []
    # The first layer: rows above (a convolution per row) and the current row's h0 + 1 taps (one matmul).
    first = net.first.masked_kernel()
    first_above, first_row = first[:half0], tf.reshape(first[half0, : half0 + 1], [-1, p])
    # Per block: vertical kernel, horizontal taps as one matmul, link, residual; conditioning of all pixels.
    blocks = []
    for blk in net.blocks:
        blocks.append(
            dict(
                vertical=blk.vertical.masked_kernel(),
                v_bias=blk.vertical.bias,
                horizontal=tf.reshape(blk.horizontal.masked_kernel(), [-1, 2 * p]),
                h_bias=blk.horizontal.bias,
                link=blk.link.masked_kernel()[0, 0],
                link_bias=blk.link.bias,
                residual=blk.residual.masked_kernel()[0, 0],
                res_bias=blk.residual.bias,
                cond_v=tf.cast(blk.cond_v(s), tf.float32) if blk.vertical_output else None,  # [BN, h, w, 2p]
                cond_h=tf.cast(blk.cond_h(s), tf.float32),
            )
        )
    hidden, hidden_bias = net.head_hidden.masked_kernel()[0, 0], net.head_hidden.bias
    out_k, out_bias = net.head_out.masked_kernel()[0, 0], net.head_out.bias

    def head(h):
        z = tf.nn.relu(tf.matmul(tf.nn.relu(h), hidden) + hidden_bias)
        return tf.reshape(tf.matmul(z, out_k) + out_bias, [-1, NUM_CHROMA, net.num_bins])

    def row_step(r, in_rows, v_rows, links, bins, out):
        x0_above = tf.nn.conv2d(in_rows, first_above, 1, "VALID")[:, 0] + net.first.bias  # [BN, w, p]
        cond_h = [tf.gather(b["cond_h"], r, axis=1) for b in blocks]  # [BN, w, 2p] each

        def column(c, in_win, cur, h_wins):
            """One pass up the column of layers at pixel c with the pixel's chroma `cur` [BN, 2]."""
            win = tf.concat([in_win[:, 1:], cur[:, None]], axis=1)  # columns c - half0 .. c
            x0 = tf.gather(x0_above, c, axis=1) + tf.matmul(tf.reshape(win, [bn, -1]), first_row)
            h, new_wins = x0, []
            for b, hw_old, link, ch in zip(blocks, h_wins, links, cond_h, strict=True):
                hw = tf.concat([hw_old[:, 1:], h[:, None]], axis=1)  # h of columns c - half .. c
                feat = tf.matmul(tf.reshape(hw, [bn, -1]), b["horizontal"]) + b["h_bias"]
                feat += tf.gather(link, c, axis=1) + tf.gather(ch, c, axis=1)
                h = h + tf.matmul(gate(feat), b["residual"]) + b["res_bias"]
                new_wins.append(hw)
            return head(h), x0, win, new_wins

        def pixel_step(c, in_win, h_wins, row_x0, row_bins, row_out):
            position = (r * width + c) * NUM_CHROMA
            logits_cr = column(c, in_win, tf.zeros([bn, NUM_CHROMA]), h_wins)[0][:, CR]
            cr, prob_cr = draw(logits_cr, seed, position + CR, temperature, top_k)
            cr_value = _values(cr, net.num_bins)
            logits, x0, _, new_wins = column(c, in_win, tf.stack([cr_value, tf.zeros([bn])], -1), h_wins)
            cb, prob_cb = draw(logits[:, CB], seed, position + CB, temperature, top_k)
            full = tf.stack([cr_value, _values(cb, net.num_bins)], -1)
            win = tf.concat([in_win[:, 1:], full[:, None]], axis=1)
            step_out = (
                tf.stack([logits_cr, logits[:, CB]], 1) if record_logits else tf.stack([prob_cr, prob_cb], 1)
            )
            return (
                c + 1,
                win,
                tuple(new_wins),
                row_x0.write(c, x0),
                row_bins.write(c, tf.stack([cr, cb], -1)),
                row_out.write(c, step_out),
            )

        init = (
            tf.constant(0),
            tf.zeros([bn, half0 + 1, NUM_CHROMA]),
            tuple(tf.zeros([bn, half + 1, p]) for _ in blocks),
            tf.TensorArray(tf.float32, width, element_shape=[static_bn, p]),
            tf.TensorArray(tf.int32, width, element_shape=[static_bn, NUM_CHROMA]),
            tf.TensorArray(tf.float32, width, element_shape=[static_bn, NUM_CHROMA, *logit_dims]),
        )
        _, _, _, row_x0, row_bins, row_out = tf.while_loop(lambda c, *_: c < width, pixel_step, init)
        row_bins = tf.transpose(row_bins.stack(), [1, 0, 2])  # [BN, w, 2]
        # The finished row enters the first layer's rows above and advances the vertical stack one row.
        row_values = _values(row_bins, net.num_bins)[:, None]
        in_rows = tf.concat([in_rows[:, 1:], _pad_cols(row_values, half0)], axis=1)
        v = tf.transpose(row_x0.stack(), [1, 0, 2])  # the first layer's row r = the vertical stack's input
        new_v_rows, new_links = [], []
        for b, rows in zip(blocks, v_rows, strict=True):
            rows = tf.concat([rows[:, 1:], _pad_cols(v[:, None], half)], axis=1)
            v_feat = tf.nn.conv2d(rows, b["vertical"], 1, "VALID")[:, 0] + b["v_bias"]  # [BN, w, 2p]
            new_links.append(tf.matmul(v_feat, b["link"]) + b["link_bias"])  # row r + 1's link
            if b["cond_v"] is not None:  # the last block has no vertical output
                v = gate(v_feat + tf.gather(b["cond_v"], r, axis=1))
            new_v_rows.append(rows)
        return (
            r + 1,
            in_rows,
            tuple(new_v_rows),
            tuple(new_links),
            bins.write(r, row_bins),
            out.write(r, tf.transpose(row_out.stack(), [1, 0, 2, 3] if record_logits else [1, 0, 2])),
        )

    links0 = tuple(tf.zeros([bn, width, 2 * p]) + b["link_bias"] for b in blocks)  # shift_down: zeros
    init = (
        tf.constant(0),
        tf.zeros([bn, half0, width + 2 * half0, NUM_CHROMA]),
        tuple(tf.zeros([bn, half + 1, width + 2 * half, p]) for _ in blocks),
        links0,
        tf.TensorArray(tf.int32, height, element_shape=[static_bn, width, NUM_CHROMA]),
        tf.TensorArray(tf.float32, height, element_shape=[static_bn, width, NUM_CHROMA, *logit_dims]),
    )
    _, _, _, _, bins, out = tf.while_loop(lambda r, *_: r < height, row_step, init)
    return _swap01(bins.stack()), _swap01(out.stack())


def sample_bins(
    model,
    gray: tf.Tensor,
    *,
    num_samples: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    method: str = "fast",
    jit_compile: bool = False,
    return_logits: bool = False,
    num_positions: int | None = None,
) -> tuple[tf.Tensor, ...]:
    """Samples chroma bins with `model` (a PixColor) for gray [B, H, W, 1] (H, W multiples of 8).

    Returns (bins int32 [B, N, h, w, 2], max probability float32 [B, N, h, w, 2]) and, with
    return_logits, the step logits float32 [B, N, h, w, 2, K]; h, w = H / 8, W / 8; channels (Cr, Cb).
    num_positions (naive only; benchmarks time a few): draw only the first P positions; then the outputs
    are [B, N, P(, K)] in generation order.
    """
    if num_positions is not None and method != "naive":
        raise ValueError("pixcolor/sampler.py: num_positions is for the naive sampler only.")
    if method not in METHODS:
        raise ValueError(f"pixcolor/sampler.py: method must be one of {METHODS}, got {method!r}.")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"pixcolor/sampler.py: num_samples must be an int >= 1, got {num_samples!r}.")
    num_bins = model.pixelcnn.num_bins
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= num_bins:
        raise ValueError(f"pixcolor/sampler.py: top_k must be an int in [0, {num_bins}], got {top_k!r}.")
    if not temperature >= 0:
        raise ValueError(f"pixcolor/sampler.py: temperature must be >= 0, got {temperature}.")
    key = (method, num_samples, top_k, bool(jit_compile), bool(return_logits), num_positions)
    if key not in model._sample_fns:
        impl = _fast if method == "fast" else _naive

        def run(gray, seed, temperature):
            s = tf.repeat(model.condition(gray), num_samples, axis=0)  # [B * N, h, w, C], image-major
            extra = {} if num_positions is None else {"num_positions": int(num_positions)}
            return impl(model.pixelcnn, s, seed, temperature, top_k, return_logits, **extra)

        model._sample_fns[key] = tf.function(run, jit_compile=bool(jit_compile), autograph=False)
    bins, out = model._sample_fns[key](
        tf.convert_to_tensor(gray, tf.float32),
        tf.constant([seed, 0], tf.int32),
        tf.constant(temperature, tf.float32),
    )
    lead = tf.concat([[tf.shape(gray)[0], num_samples], tf.shape(bins)[1:]], 0)
    bins = tf.reshape(bins, lead)
    if not return_logits:
        return bins, tf.reshape(out, lead)
    max_prob = tf.reshape(tf.reduce_max(tf.nn.softmax(tf.reshape(out, [-1, num_bins])), axis=-1), lead)
    return bins, max_prob, tf.reshape(out, tf.concat([lead, [num_bins]], 0))
