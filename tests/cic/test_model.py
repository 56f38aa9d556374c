"""CICColorizer: the shared model checks, the layer table, the rebalanced soft cross-entropy, log_prob and
the annealed-mean decode against independent numpy computations (scikit-image's Lab, brute-force bins)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import lab2rgb, rgb2lab

from cic.model import CICColorizer
from cic.network import BLOCKS
from cic.preprocessing import is_colorful
from common.cic import ab_bins
from tests import model_harness as h

R = 16  # 4x4 outputs
BINS = ab_bins().astype(np.float64)


def make_model(seed: int = 0, **kwargs) -> CICColorizer:
    import keras

    keras.utils.set_random_seed(seed)
    args = dict(resolution=R, base_width=2, weight_decay=0.0)
    model = CICColorizer(**{**args, **kwargs})
    rng = np.random.default_rng(seed)  # random batch-norm statistics too, so no path hides
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, w.shape).astype(np.float32))
        elif "moving_mean" in w.path:
            w.assign(rng.normal(0, 0.5, w.shape).astype(np.float32))
    return model


def _photo(seed: int, size: int = R) -> np.ndarray:
    """uint8 [size, size, 3]: 4x4 blocks of random colours (so every output pixel's colour is known)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size // 4, size // 4, 3)).repeat(4, 0).repeat(4, 1).astype(np.uint8)


def _batch(model: CICColorizer | None, seed: int, n: int = 2) -> dict:
    preprocess = model.preprocess if model is not None else CICColorizer.preprocessor(resolution=R)
    examples = [preprocess({"image": tf.constant(_photo(seed + i))}, False) for i in range(n)]
    return {k: tf.stack([e[k] for e in examples]).numpy() for k in examples[0]}


CASE = h.ModelCase(
    name="cic",
    build=make_model,
    batch=lambda seed: _batch(None, seed),
    logits=lambda model, batch: model(batch["gray"]),
)


@pytest.fixture(scope="module")
def model() -> CICColorizer:
    return make_model()


def test_config_round_trip():
    h.check_config_round_trip(CASE)


def test_eager_graph_and_xla_agree():
    h.check_eager_graph_xla(CASE)


def test_preprocessor_and_sample_spec():
    image = np.random.default_rng(0).integers(0, 256, size=(20, 27, 3)).astype(np.uint8)
    h.check_protocol_parts(CASE, {"image": tf.constant(image), "seed": tf.constant([1, 2], tf.int64)})


def test_blocks_follow_the_prototxt_table(model):
    """Block names, conv counts, widths (x base_width), dilations, strides; 1/4 resolution output."""
    net = model.network
    assert [b.name for b in net.blocks] == [f"conv{i}" for i in range(1, 9)]
    assert net.model_out.name == "model_out"
    widths = [b.width for b in net.blocks]
    assert widths == [2 * m for m in (1, 2, 4, 8, 8, 8, 8, 4)]  # paper: 64, 128, 256, 512 x4, 256
    assert [b.num_convs for b in net.blocks] == [2, 2, 3, 3, 3, 3, 3, 3]
    assert [b.dilation for b in net.blocks] == [1, 1, 1, 1, 2, 2, 1, 1]
    assert [b.norm is not None for b in net.blocks] == [True] * 7 + [False]
    assert len(BLOCKS) == 8
    x = tf.zeros([1, R, R, 1])
    sides = []
    for block in net.blocks:
        x = block(x)
        sides.append(int(x.shape[1]))
    assert sides == [R // 2, R // 4, R // 8, R // 8, R // 8, R // 8, R // 8, R // 4]
    assert model(tf.zeros([3, R, R, 1])).shape == (3, R // 4, R // 4, 313)


def _lab_np(rgb8: np.ndarray) -> np.ndarray:
    return rgb2lab(rgb8.astype(np.float64) / 255.0)


def _soft_np(ab: np.ndarray, k: int = 10, sigma: float = 5.0) -> np.ndarray:
    """Brute force: the k nearest bins, Gaussian weights, normalised. ab [..., 2] -> [..., 313]."""
    d2 = ((ab[..., None, :] - BINS) ** 2).sum(-1)
    out = np.zeros(d2.shape)
    idx = np.argsort(d2, axis=-1)[..., :k]
    w = np.exp(-np.take_along_axis(d2, idx, -1) / (2 * sigma**2))
    np.put_along_axis(out, idx, w / w.sum(-1, keepdims=True), -1)
    return out


def _log_softmax_np(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_loss_is_the_rebalanced_soft_cross_entropy(tmp_path):
    """A hand-made prior (no smoothing, lambda 0.5): weights 1 / (0.5 p + 0.5 / 313) normalised to
    E_p[w] = 1, taken at each pixel's nearest bin; the targets are scikit-image Lab's ab at every 4th
    pixel, soft-encoded by brute force; the second image is gray (masked: loss 0, bits/dim not)."""
    rng = np.random.default_rng(3)
    prior = rng.uniform(0.0, 1.0, 313) ** 4
    prior /= prior.sum()
    np.save(tmp_path / "prior.npy", prior)
    model = make_model(prior_file=str(tmp_path / "prior.npy"), prior_sigma=0.0)
    photo, gray_photo = _photo(7), np.repeat(_photo(8)[..., :1], 3, axis=-1)
    examples = [model.preprocess({"image": tf.constant(p)}, False) for p in (photo, gray_photo)]
    batch = {k: tf.stack([e[k] for e in examples]) for k in examples[0]}
    loss, metrics = model.compute_loss(batch, training=False)  # (training: batch-norm batch statistics)

    w = 1.0 / (0.5 * prior + 0.5 / 313)
    w /= (prior * w).sum()
    ab = _lab_np(photo)[::4, ::4, 1:]
    targets = _soft_np(ab)
    # common/color.py's Lab is within 0.01 of scikit-image's: soft weights move by up to ~2e-3.
    np.testing.assert_allclose(batch["targets"][0], targets, atol=3e-3)
    np.testing.assert_array_equal(batch["targets"][0].numpy().argmax(-1), targets.argmax(-1))
    targets = batch["targets"][0].numpy().astype(np.float64)  # checked above; the loss on exactly these
    log_p = _log_softmax_np(model(batch["gray"]).numpy())
    ce = -(targets * log_p[0]).sum(-1)
    want = (w[targets.argmax(-1)] * ce).mean()
    np.testing.assert_allclose(loss.numpy(), [want, 0.0], rtol=1e-4)
    assert batch["mask"].numpy().tolist() == [1.0, 0.0]
    hard = ((ab[..., None, :] - BINS) ** 2).sum(-1).argmin(-1)
    nats = -np.take_along_axis(log_p[0], hard[..., None], -1).sum()
    np.testing.assert_allclose(model.log_prob(batch).numpy()[0], -nats, rtol=1e-5)
    np.testing.assert_allclose(metrics["bits_per_dim"].numpy()[0], nats / (16 * np.log(2)), rtol=1e-5)
    assert metrics["bits_per_dim"].numpy()[1] > 0  # the gray image still has a likelihood
    np.testing.assert_allclose(metrics["cross_entropy"].numpy()[0], ce.mean(), rtol=1e-5)


def test_empty_prior_file_means_no_rebalancing_and_a_missing_one_stops_training(model, tmp_path):
    np.testing.assert_array_equal(model.rebalance_weights.numpy(), np.ones(313))
    missing = make_model(prior_file=str(tmp_path / "nope.npy"))
    batch = _batch(missing, 0)
    missing.compute_loss(batch, training=False)  # evaluation and sampling do not need the file
    with pytest.raises(FileNotFoundError, match="nope.npy does not exist"):
        missing.compute_loss(batch, training=True)


def _upsample_np(x: np.ndarray, factor: int = 4) -> np.ndarray:
    """[B, h, w, C] -> [B, 4h, 4w, C], output pixel x reads input position x / 4 (clamped) bilinearly."""

    def weights(n: int) -> np.ndarray:
        m = np.zeros((n * factor, n))
        for i in range(n * factor):
            pos = i / factor
            lo = min(int(np.floor(pos)), n - 1)
            hi = min(lo + 1, n - 1)
            m[i, lo] += 1 - (pos - lo)
            m[i, hi] += pos - lo
        return m

    rows, cols = weights(x.shape[1]), weights(x.shape[2])
    return np.einsum("ih,jw,bhwc->bijc", rows, cols, x)


@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (0.0, 0), (2.0, 5)])
def test_sample_is_the_annealed_mean_upsampled_with_the_grays_lightness(model, temperature, top_k):
    batch = _batch(model, 11)
    logits = model(batch["gray"]).numpy().astype(np.float64) * 30.0  # spread, so T matters
    model.network.model_out.kernel.assign(model.network.model_out.kernel * 30.0)
    model.network.model_out.bias.assign(model.network.model_out.bias * 30.0)
    try:
        out = model.sample(tf.constant(batch["gray"]), num_samples=2, temperature=temperature, top_k=top_k)
    finally:
        model.network.model_out.kernel.assign(model.network.model_out.kernel / 30.0)
        model.network.model_out.bias.assign(model.network.model_out.bias / 30.0)
    if temperature == 0:
        ab = BINS[logits.argmax(-1)]
    else:
        z = logits / (0.38 * temperature)
        if top_k:
            kth = np.sort(logits, -1)[..., -top_k][..., None]
            z = np.where(logits >= kth, z, -np.inf)
        p = np.exp(z - z.max(-1, keepdims=True))
        ab = (p / p.sum(-1, keepdims=True)) @ BINS
    want_ab = _upsample_np(ab)
    np.testing.assert_allclose(out["ab"].numpy()[:, 0], want_ab, atol=2e-3)
    np.testing.assert_array_equal(out["ab"].numpy()[:, 1], out["ab"].numpy()[:, 0])  # deterministic
    gray = batch["gray"][..., 0].astype(np.float64)
    lightness = rgb2lab(np.stack([gray] * 3, -1))[..., 0]
    want_rgb = lab2rgb(np.concatenate([lightness[..., None], want_ab], -1))
    np.testing.assert_allclose(out["rgb"].numpy()[:, 1], want_rgb, atol=2e-3)
    probs = np.exp(_log_softmax_np(logits))
    np.testing.assert_allclose(out["uncertainty"].numpy()[:, 0], probs.max(-1), atol=1e-5)
    assert out["rgb"].shape == (2, 2, R, R, 3) and out["uncertainty"].shape == (2, 2, R // 4, R // 4)


def test_near_gray_mask_is_any_ab_component_beyond_5():
    """ref NonGrayMaskLayer: an image is masked unless some |a| or |b| of its output pixels exceeds 5."""
    ab = np.zeros([2, 4, 4, 2], np.float32)
    ab[0, 1, 2, 1] = 4.9
    ab[1, 3, 0, 0] = -5.1
    np.testing.assert_array_equal(is_colorful(tf.constant(ab)).numpy(), [0.0, 1.0])
    tinted = np.full([R, R, 3], 128, np.uint8)
    tinted[..., 2] = 133  # b about -3.5: a near-gray photo
    tinted[5, 9] = (128, 128, 160)  # one pixel between output pixels: not seen
    assert CICColorizer.preprocessor(resolution=R)({"image": tf.constant(tinted)}, False)["mask"] == 0.0


def test_mixed_precision_keeps_the_gray_and_the_loss_in_float32():
    """Keras casts a model's call inputs to the policy's compute dtype; the gray must reach the Lab
    conversion unrounded (this failed when `compute_loss` went through `__call__`)."""
    from common.registry import dtype_policy

    with dtype_policy("mixed_bfloat16"):
        model = CICColorizer(resolution=R, base_width=2, weight_decay=0.0)
    loss, metrics = model.compute_loss(_batch(None, 5), training=True)
    assert loss.dtype == tf.float32 and np.isfinite(loss.numpy()).all()
    assert model.sample(tf.constant(_batch(None, 5)["gray"]))["rgb"].dtype == tf.float32


def test_stride_two_convolutions_pad_both_sides_as_caffe():
    """Caffe's pad 1 on both sides: output row i of a 3x3 stride-2 conv reads input rows 2i-1..2i+1, so
    a change at row 2 after conv1_1 (rows 1..3) reaches conv1_2 rows 0, 1 and 2 (Keras "same", which pads
    only after, would reach rows 0 and 1)."""
    import keras

    from cic.network import ConvBlock

    keras.utils.set_random_seed(1)
    block = ConvBlock(1, 2, 8, stride_at=1, batch_norm=False, name="conv1")
    x = np.random.default_rng(0).normal(size=(1, 12, 12, 1)).astype(np.float32)
    moved = x.copy()
    moved[0, 2, 5, 0] += 10.0
    diff = np.abs(block(tf.constant(moved)).numpy() - block(tf.constant(x)).numpy()).max(axis=(0, 2, 3))
    assert block(tf.constant(x)).shape == (1, 6, 6, 8)
    assert np.flatnonzero(diff > 1e-6).tolist() == [0, 1, 2]
