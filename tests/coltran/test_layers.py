"""Tests of coltran/layers.py, coltran/attention.py and coltran/conditional.py on tiny shapes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coltran.attention import AxialAttention
from coltran.conditional import ConditionalLayerNorm, FeedForward
from coltran.layers import AxialEncoder, PositionEmbedding2D, shift_down, shift_right

B, H, W, D, HEADS = 2, 3, 5, 8, 2


def _x(seed: int = 0, shape=(B, H, W, D)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _randomize(layer) -> None:
    """Gives every weight (including zero-initialised biases) random values so tests can see them."""
    rng = np.random.default_rng(1)
    for w in layer.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape).astype(np.float32))


def _reference_attention(att: AxialAttention, x: np.ndarray, ctx: np.ndarray | None) -> np.ndarray:
    """Independent numpy version of AxialAttention (row axis; transpose for columns)."""
    if att.axis == "column":
        x = x.transpose(0, 2, 1, 3)
        ctx = None if ctx is None else ctx.transpose(0, 2, 1, 3)
    n, d = att.num_heads, att.head_size
    proj = {}
    for name, layer in (("q", att.q_proj), ("k", att.k_proj), ("v", att.v_proj)):
        t = x @ layer.kernel.numpy()
        if name in att.cond_proj:
            c = ctx @ att.cond_proj[name].kernel.numpy()
            if att.cond_mode == "affine":  # per head (scale, shift), the authors' layout
                c = c.reshape(c.shape[:-1] + (n, 2 * d))
                t = (t.reshape(t.shape[:-1] + (n, d)) * c[..., :d] + c[..., d:]).reshape(t.shape)
            elif att.cond_mode == "scale":
                t = t * c
            else:
                t = t + c
        proj[name] = t.reshape(t.shape[:-1] + (n, d))
    length = x.shape[2]
    rel = att.rel_bias.numpy()
    out = np.zeros(x.shape[:3] + (n, d), np.float64)
    for b in range(x.shape[0]):
        for r in range(x.shape[1]):
            for h in range(n):
                for i in range(length):
                    keys = range(i + 1) if att.masked else range(length)
                    s = np.array(
                        [
                            proj["q"][b, r, i, h] @ proj["k"][b, r, j, h] / np.sqrt(d)
                            + rel[h, j - i + length - 1]
                            for j in keys
                        ]
                    )
                    p = np.exp(s - s.max())
                    p /= p.sum()
                    out[b, r, i, h] = sum(p[t] * proj["v"][b, r, j, h] for t, j in enumerate(keys))
    y = out.reshape(out.shape[:3] + (n * d,)) @ att.out_proj.kernel.numpy()
    return y.transpose(0, 2, 1, 3) if att.axis == "column" else y


@pytest.mark.parametrize(
    "axis,masked,cond_mode",
    [("row", False, "none"), ("row", True, "affine"), ("column", True, "shift"), ("column", False, "scale")],
)
def test_attention_matches_numpy_reference(axis, masked, cond_mode):
    att = AxialAttention(D, HEADS, axis=axis, masked=masked, cond_mode=cond_mode, cond_k=cond_mode != "shift")
    x, ctx = _x(0), _x(1, (B, H, W, 4))
    att(x, ctx if cond_mode != "none" else None)
    _randomize(att)
    got = att(x, ctx if cond_mode != "none" else None).numpy()
    np.testing.assert_allclose(got, _reference_attention(att, x, ctx), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("axis", ["row", "column"])
def test_attention_stays_on_its_axis_and_masks_the_future(axis):
    att = AxialAttention(D, HEADS, axis=axis, masked=True)
    x = _x(0)
    att(x)
    _randomize(att)
    base = att(x).numpy()
    i, j = 1, 2
    x2 = x.copy()
    x2[:, i, j] += 1.0
    changed = np.abs(att(x2).numpy() - base).max(axis=(0, 3)) > 0  # [H, W]
    expected = np.zeros((H, W), bool)
    if axis == "row":
        expected[i, j:] = True  # same row, at or after the change
    else:
        expected[i:, j] = True  # same column, at or below the change
    np.testing.assert_array_equal(changed, expected)


def test_axial_encoder_shapes_positions_and_config():
    enc = AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=2)
    x = _x(0)
    y = enc(x).numpy()
    assert y.shape == (B, H, W, D)
    # Every output position sees every input position (row then column attention).
    x2 = x.copy()
    x2[:, 0, 0] += 1.0
    assert np.all(np.abs(enc(x2).numpy() - y).max(axis=(0, 3)) > 0)
    # The position embeddings break translation symmetry: a constant input gives varying outputs.
    const = enc(np.ones((1, H, W, D), np.float32)).numpy()
    assert np.abs(const - const[:, :1, :1]).max() > 1e-3
    clone = AxialEncoder.from_config(enc.get_config())
    clone(x)
    assert [w.shape for w in clone.weights] == [w.shape for w in enc.weights]
    assert enc.get_config()["num_layers"] == 2 and enc.get_config()["ff_size"] == 16


def test_axial_encoder_rejects_wrong_width():
    with pytest.raises(ValueError, match="AxialEncoder"):
        AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=1)(_x(0, (1, 2, 2, D + 1)))


def _encoder_pair(**options) -> tuple[AxialEncoder, AxialEncoder]:
    """A plain encoder and one with `options`, both with the same random weights (2 layers)."""
    plain = AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=2)
    saver = AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=2, **options)
    for enc in (plain, saver):
        enc.build((None, H, W, D))
    _randomize(plain)
    saver.set_weights(plain.get_weights())
    return plain, saver


def test_axial_encoder_build_makes_every_weight_and_config_has_the_savers():
    built = AxialEncoder(D, 16, HEADS, 2, num_chunks=3, remat=True, name="encoder")
    built.build((None, H, W, D))
    called = AxialEncoder(D, 16, HEADS, 2, name="encoder")
    called(_x(0))
    assert [w.path for w in built.weights] == [w.path for w in called.weights]
    assert [w.shape for w in built.weights] == [w.shape for w in called.weights]
    config = built.get_config()
    assert (config["num_chunks"], config["remat"]) == (3, True)
    assert AxialEncoder.from_config(config).get_config() == config
    assert (called.num_chunks, called.remat) == (1, False)  # the core's encoder: no savers by default
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="AxialEncoder: num_chunks must be an int >= 1"):
            AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=1, num_chunks=bad)
    with pytest.raises(ValueError, match="AxialEncoder"):
        AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=1).build((None, H, W, D + 1))


@pytest.mark.parametrize("num_chunks", [2, 3, 7])  # uneven strips (3 rows: 2 + 1; 5 columns: 3 + 2); > H, W
def test_axial_encoder_strips_give_the_same_outputs(num_chunks, monkeypatch):
    plain, strips = _encoder_pair(num_chunks=num_chunks)
    seen = []
    original = AxialEncoder._branch

    def spy(self, fn, x, axis, *args, **kwargs):
        seen.append((axis, tuple(x.shape[1:3])))
        return original(self, lambda t: seen.append(tuple(t.shape[1:3])) or fn(t), x, axis, *args, **kwargs)

    monkeypatch.setattr(AxialEncoder, "_branch", spy)
    x = _x(3)
    np.testing.assert_allclose(strips(x).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)
    # The strip path really ran: every branch on min(num_chunks, length) strips of whole rows / columns.
    rows = [(len(p), W) for p in np.array_split(np.arange(H), min(num_chunks, H))]
    columns = [(H, len(p)) for p in np.array_split(np.arange(W), min(num_chunks, W))]
    per_layer = [(1, rows), (1, rows), (2, columns), (1, rows)]  # post-norm blocks, no final norm
    expected = []
    for axis, parts in 2 * per_layer:
        expected += [(axis, (H, W)), *parts]
    assert seen == expected
    # In training without remat the strips would save nothing: the plain pass runs.
    seen.clear()
    np.testing.assert_allclose(strips(x, training=True).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)
    assert seen == []


@pytest.mark.parametrize("num_chunks", [1, 2])
def test_axial_encoder_remat_gives_the_same_loss_and_gradients(num_chunks, monkeypatch):
    import coltran.layers as layers

    plain, remat = _encoder_pair(remat=True, num_chunks=num_chunks)
    calls = []
    original = layers._remat_strips
    monkeypatch.setattr(layers, "_remat_strips", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = tf.constant(_x(4))
    weights = tf.constant(_x(5))

    def loss_and_grads(enc):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(enc(x, training=True) * weights)
        return loss, [tf.convert_to_tensor(g) for g in tape.gradient(loss, [x, *enc.trainable_variables])]

    expected = loss_and_grads(plain)
    assert calls == []
    # Eagerly and inside a tf.function (where the recomputation must survive graph optimisations).
    for got in (loss_and_grads(remat), tf.function(loss_and_grads)(remat)):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
        assert len(got[1]) == len(expected[1]) == 1 + len(plain.trainable_variables)
        for g, e in zip(got[1], expected[1], strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    assert len(calls) == 2 * (2 * 2 * 2)  # 2 layers x 2 axes x (attention, MLP) blocks; twice
    # Not at inference, and not with dropout (a recomputed branch would draw a different mask).
    calls.clear()
    np.testing.assert_allclose(remat(x).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)
    dropout = AxialEncoder(hidden_size=D, ff_size=16, num_heads=HEADS, num_layers=2, dropout=0.1, remat=True)
    dropout(x, training=True)
    assert calls == []


def test_shifts_and_position_table():
    x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(1, 3, 2, 2)
    down, right = shift_down(x).numpy(), shift_right(x).numpy()
    np.testing.assert_array_equal(down[:, 1:], x[:, :-1])
    np.testing.assert_array_equal(down[:, 0], 0)
    np.testing.assert_array_equal(right[:, :, 1:], x[:, :, :-1])
    np.testing.assert_array_equal(right[:, :, 0], 0)
    pos = PositionEmbedding2D()
    out = pos(np.zeros((1, 3, 2, 2), np.float32)).numpy()
    np.testing.assert_allclose(out[0], pos.row.numpy() + pos.col.numpy())


def test_conditional_layer_norm_learnable_pool_starts_as_mean():
    x, ctx = _x(0), _x(1, (B, H, W, 4))
    learn, mean = ConditionalLayerNorm("affine", "learnable"), ConditionalLayerNorm("affine", "mean")
    learn(x, ctx)
    mean(x, ctx)
    mean.proj.set_weights(learn.proj.get_weights())
    np.testing.assert_allclose(learn(x, ctx).numpy(), mean(x, ctx).numpy(), rtol=1e-6)
    # Reference: normalise, then scale and shift from a linear map of the spatial mean of the context.
    kernel, bias = learn.proj.get_weights()
    mod = ctx.mean(axis=(1, 2), keepdims=True) @ kernel + bias
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)  # Keras's epsilon
    np.testing.assert_allclose(
        learn(x, ctx).numpy(), normed * mod[..., :D] + mod[..., D:], rtol=1e-4, atol=1e-5
    )
    # The spatial weights are trainable and do change the result.
    learn.spatial_weights.assign(np.random.default_rng(2).uniform(size=(1, H, W, 1)).astype(np.float32))
    assert np.abs(learn(x, ctx).numpy() - mean(x, ctx).numpy()).max() > 1e-3


@pytest.mark.parametrize("mode", ["none", "shift", "scale", "affine"])
def test_conditional_layer_norm_modes(mode):
    x, ctx = _x(0), _x(1, (B, H, W, 4))
    ln = ConditionalLayerNorm(mode)
    y = ln(x, ctx if mode != "none" else None).numpy()
    assert y.shape == x.shape
    names = {w.name for w in ln.trainable_weights}
    assert ("gamma" in names) == (mode == "none")
    if mode != "none":
        assert ln.proj.kernel.shape == (4, 2 * D if mode == "affine" else D)
        with pytest.raises(ValueError, match="conditional"):
            ln.modulation(None)


@pytest.mark.parametrize("mode", ["none", "shift", "scale", "affine"])
def test_feed_forward_conditioning(mode):
    """Against numpy from the weights: Dense-ReLU-Dense, then the context's projection (with its bias)
    split as (shift, scale) in "affine" (the authors' cMLP)."""
    x, ctx = _x(0), _x(1, (B, H, W, 4))
    ff = FeedForward(D, 16, cond_mode=mode)
    ff(x, ctx if mode != "none" else None)
    _randomize(ff)
    y = ff(x, ctx if mode != "none" else None).numpy()
    w1, b1, w2, b2 = (v.numpy() for v in (ff.inner.kernel, ff.inner.bias, ff.outer.kernel, ff.outer.bias))
    plain = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    if mode == "none":
        np.testing.assert_allclose(y, plain, rtol=1e-5, atol=1e-5)
        return
    c = ctx @ ff.cond_proj.kernel.numpy() + ff.cond_proj.bias.numpy()
    if mode == "shift":
        expected = plain + c
    elif mode == "scale":
        expected = plain * c
    else:
        expected = plain * c[..., D:] + c[..., :D]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_conditional_layer_norm_row_context_equals_the_authors_broadcast():
    """`row_modulation` (every row at once, from the row-averaged spatial weights) equals pooling one row
    with the [1, H, W, 1] weights broadcast over it, which is what the authors' sampler computes."""
    x, ctx = _x(0), _x(1, (B, H, W, 4))
    ln = ConditionalLayerNorm("affine", "learnable")
    ln(x, ctx)
    _randomize(ln)
    rows = ln.row_modulation(tf.constant(ctx))  # (scale, shift), each [B, H, 1, D]
    for r in range(H):
        one = ln.modulation(tf.constant(ctx[:, r : r + 1]))  # [B, 1, 1, D]: weights broadcast over the row
        for got, want in zip(rows, one, strict=True):
            np.testing.assert_allclose(got[:, r : r + 1].numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    full = ln.modulation(tf.constant(ctx))
    assert np.abs(full[0].numpy() - rows[0].numpy()).max() > 1e-3  # the two contexts differ


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_heads"):
        AxialAttention(10, 3)
    with pytest.raises(ValueError, match="axis"):
        AxialAttention(8, 2, axis="diagonal")
    with pytest.raises(ValueError, match="cond_mode"):
        AxialAttention(8, 2, cond_mode="bias")
    with pytest.raises(ValueError, match="cLN mode"):
        ConditionalLayerNorm("bias")
    with pytest.raises(ValueError, match="pool"):
        ConditionalLayerNorm("affine", "max")
