"""Each metric against a small independent numpy computation or an exactly known value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from common import metrics

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------------------------- bpd


def test_bits_per_dim_converts_nats_per_example():
    nll = np.array([3.0, 0.5]) * math.log(2.0) * 100  # 3 and 0.5 bits per dim over 100 dims
    np.testing.assert_allclose(metrics.bits_per_dim(nll, 100).numpy(), [3.0, 0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="num_dims"):
        metrics.bits_per_dim(nll, 0)


# ----------------------------------------------------------------------------------------------- AuC


def _numpy_curve(pred, true, w=None):
    """Naive loop over the 151 thresholds (CIC sec. 3.1)."""
    d = np.sqrt(((pred.astype(np.float64) - true) ** 2).sum(-1)).ravel()
    w = np.ones_like(d) if w is None else np.asarray(w, np.float64).ravel()
    return np.array([(w * (d <= t)).sum() / w.sum() for t in range(151)])


def _numpy_auc(pred, true, w=None):
    curve = _numpy_curve(pred, true, w)
    return (curve[1:] + curve[:-1]).sum() / 2 / 150  # trapezoid rule over [0, 150], / 150


def _integer_ab(shape):
    return RNG.integers(-90, 90, size=(*shape, 2)).astype(np.float32)


def test_auc_identical_images_is_one():
    ab = RNG.uniform(-100, 100, (2, 5, 5, 2)).astype(np.float32)
    assert metrics.cic_auc(ab, ab).numpy() == pytest.approx(1.0, abs=1e-7)
    np.testing.assert_array_equal(metrics.ab_accuracy_curve(ab, ab).numpy(), np.ones(151))


@pytest.mark.parametrize("offset, distance", [((3.0, 4.0), 5), ((0.0, -40.0), 40), ((120.0, 160.0), 200)])
def test_auc_constant_offset_has_known_value(offset, distance):
    true = _integer_ab((2, 4, 4))
    pred = true + np.array(offset, np.float32)
    expected = max(150.5 - distance, 0.0) / 150  # curve 0 below d, 1 from d on: one half-step at d
    assert metrics.cic_auc(pred, true).numpy() == pytest.approx(expected, abs=1e-6)
    assert _numpy_auc(pred, true) == pytest.approx(expected, abs=1e-12)
    curve = metrics.ab_accuracy_curve(pred, true).numpy()
    np.testing.assert_array_equal(curve, (np.arange(151) >= distance).astype(np.float32))


def test_auc_matches_numpy_loop_on_random_errors_and_weights():
    true = RNG.uniform(-100, 100, (3, 6, 7, 2)).astype(np.float32)
    pred = true + RNG.normal(0, 40, true.shape).astype(np.float32)
    w = RNG.uniform(0, 2, true.shape[:-1]).astype(np.float32)
    curve = metrics.ab_accuracy_curve(pred, true).numpy()
    np.testing.assert_allclose(curve, _numpy_curve(pred, true), atol=1e-6)
    np.testing.assert_allclose(metrics.cic_auc(pred, true).numpy(), _numpy_auc(pred, true), atol=1e-6)
    np.testing.assert_allclose(metrics.cic_auc(pred, true, w).numpy(), _numpy_auc(pred, true, w), atol=1e-6)
    assert abs(metrics.cic_auc(pred, true, w).numpy() - metrics.cic_auc(pred, true).numpy()) > 1e-3


def test_auc_weights_shift_the_result_towards_the_heavy_pixels():
    true = _integer_ab((1, 4, 4))
    pred = true.copy()
    pred[0, :2] += np.array([0.0, 30.0], np.float32)  # 8 of 16 pixels off by 30: AuC 120.5 / 150 there
    bad = 120.5 / 150
    assert metrics.cic_auc(pred, true).numpy() == pytest.approx((1 + bad) / 2, abs=1e-6)
    w = np.ones((1, 4, 4), np.float32)
    w[0, :2] = 3.0  # the wrong pixels count 3 times
    assert metrics.cic_auc(pred, true, w).numpy() == pytest.approx((1 + 3 * bad) / 4, abs=1e-6)
    with pytest.raises(ValueError, match="weights"):
        metrics.cic_auc(pred, true, w[0])


def test_auc_runs_in_graph_mode():
    true = _integer_ab((2, 3, 3))
    fn = tf.function(lambda p, t: metrics.cic_auc(p, t))
    assert fn(true + np.float32([3, 4]), true).numpy() == pytest.approx(145.5 / 150, abs=1e-6)


def test_auc_rebalanced_weights_pixels_by_their_ground_truth_bin():
    from common import cic

    bins = cic.ab_bins()
    k_good, k_bad = 100, 200
    true = np.stack([np.tile(bins[k_good], (6, 1)), np.tile(bins[k_bad], (6, 1))])[None]  # [1, 2, 6, 2]
    pred = true.copy()
    pred[0, 1] += np.array([0.0, 50.0], np.float32)  # the pixels of bin k_bad are off by 50
    bad = 100.5 / 150
    bin_weights = np.ones(313, np.float32)
    bin_weights[k_bad] = 4.0
    assert metrics.cic_auc(pred, true).numpy() == pytest.approx((1 + bad) / 2, abs=1e-6)
    got = metrics.cic_auc_rebalanced(pred, true, bin_weights).numpy()
    assert got == pytest.approx((1 + 4 * bad) / 5, abs=1e-6)
    bin_weights[k_bad] = 0.0  # only the correct pixels count
    assert metrics.cic_auc_rebalanced(pred, true, bin_weights).numpy() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="313"):
        metrics.cic_auc_rebalanced(pred, true, bin_weights[:-1])


# ------------------------------------------------------------------------------------------ histograms


def test_ab_histograms_match_numpy_histogram():
    ab = RNG.uniform(-120, 120, (2, 9, 9, 2)).astype(np.float32)
    edges = np.linspace(-128, 128, 33)
    ha, _ = np.histogram(ab[..., 0], bins=edges)
    hb, _ = np.histogram(ab[..., 1], bins=edges)
    got = metrics.ab_histograms(ab).numpy()
    np.testing.assert_allclose(got, np.stack([ha, hb]) / ab[..., 0].size, atol=1e-7)
    hj, _, _ = np.histogram2d(ab[..., 0].ravel(), ab[..., 1].ravel(), bins=[edges, edges])
    np.testing.assert_allclose(metrics.ab_histograms(ab, joint=True).numpy(), hj / hj.sum(), atol=1e-7)


def test_ab_histograms_clip_out_of_range_values_to_edge_bins():
    ab = np.array([[-500.0, 500.0], [127.9, -128.0]], np.float32)
    h = metrics.ab_histograms(ab, num_bins=4).numpy()
    np.testing.assert_allclose(h, [[0.5, 0, 0, 0.5], [0.5, 0, 0, 0.5]])


def test_histogram_intersection_identical_disjoint_and_half():
    a = RNG.uniform(-100, 100, (3, 8, 8, 2)).astype(np.float32)
    b = a[::-1, :, ::-1]  # the same pixels in another order: identical distribution
    np.testing.assert_allclose(metrics.ab_histogram_intersection(a, b).numpy(), [1, 1], atol=1e-6)
    assert metrics.ab_histogram_intersection(a, b, joint=True).numpy() == pytest.approx(1.0, abs=1e-6)

    low = RNG.uniform(-100, -50, (40, 2)).astype(np.float32)
    high = RNG.uniform(50, 100, (30, 2)).astype(np.float32)
    np.testing.assert_array_equal(metrics.ab_histogram_intersection(low, high).numpy(), [0, 0])
    assert metrics.ab_histogram_intersection(low, high, joint=True).numpy() == 0.0

    true = np.full((10, 2), 5.0, np.float32)
    pred = np.concatenate([true[:5], np.full((5, 2), 60.0, np.float32)])  # half the mass moved
    np.testing.assert_allclose(metrics.ab_histogram_intersection(pred, true).numpy(), [0.5, 0.5], atol=1e-7)
    # Marginals can overlap while the joint does not: a and b swapped between two colours.
    p = np.array([[10.0, -60.0]], np.float32)
    q = np.array([[-60.0, 10.0]], np.float32)
    both = np.concatenate([p, q])
    np.testing.assert_allclose(metrics.ab_histogram_intersection(both, both[:, ::-1]).numpy(), [1, 1])
    assert metrics.ab_histogram_intersection(p, q, joint=True).numpy() == 0.0


# ---------------------------------------------------------------------------------------------- MS-SSIM


def test_ms_ssim_power_factors_fit_the_image_size():
    std = np.array(metrics.MS_SSIM_POWER_FACTORS)
    f256 = np.array(metrics.ms_ssim_power_factors(256, 256))
    f64 = np.array(metrics.ms_ssim_power_factors(64, 64))
    np.testing.assert_allclose(f256, std / std.sum())
    assert len(f64) == 3 and f64.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(f64 / f64[0], std[:3] / std[0])
    assert len(metrics.ms_ssim_power_factors(64, 64, filter_size=4)) == 5
    with pytest.raises(ValueError, match="filter_size"):
        metrics.ms_ssim_power_factors(8, 8)


def test_ms_ssim_small_images_work_where_tf_defaults_fail():
    x = RNG.uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.image.ssim_multiscale(x, x, 1.0)  # 5 scales need >= 176 px
    assert metrics.ms_ssim(x, x).numpy()[0] == pytest.approx(1.0, abs=1e-5)


def test_pairwise_ms_ssim_identical_samples_one_and_diverse_samples_lower():
    base = tf.image.resize(RNG.uniform(0, 1, (1, 8, 8, 3)), [64, 64]).numpy().astype(np.float32)
    same = np.repeat(base[:, None], 3, axis=1)  # [1, 3, 64, 64, 3]
    np.testing.assert_allclose(metrics.pairwise_ms_ssim(same).numpy(), [1.0], atol=1e-5)

    slight = np.clip(base + RNG.normal(0, 0.02, base.shape), 0, 1).astype(np.float32)
    strong = np.clip(base + RNG.normal(0, 0.3, base.shape), 0, 1).astype(np.float32)
    other = RNG.uniform(0, 1, base.shape).astype(np.float32)
    scores = [metrics.pairwise_ms_ssim(np.stack([base, s], 1)).numpy()[0] for s in (slight, strong, other)]
    assert 1.0 > scores[0] > scores[1] > scores[2]
    assert scores[2] < 0.2

    # Pairs: the mean over (0,1), (0,2), (1,2) of the individual MS-SSIMs, per grayscale.
    stack = np.stack([np.stack([base[0], slight[0], strong[0]]), np.stack([other[0], base[0], base[0]])])
    pair = lambda b, i, j: metrics.ms_ssim(stack[b, i], stack[b, j]).numpy()
    expected = [np.mean([pair(b, 0, 1), pair(b, 0, 2), pair(b, 1, 2)]) for b in range(2)]
    np.testing.assert_allclose(metrics.pairwise_ms_ssim(stack).numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="N>=2"):
        metrics.pairwise_ms_ssim(stack[:, :1])


# ----------------------------------------------------------------------------------- colour, PSNR


def _numpy_colorfulness(img):
    r, g, b = (img.astype(np.float64) * 255).transpose(2, 0, 1)
    rg, yb = r - g, 0.5 * (r + g) - b
    return np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())


def test_colorfulness_gray_zero_red_known_and_numpy_reference():
    gray = np.repeat(RNG.uniform(0, 1, (2, 6, 6, 1)), 3, axis=-1).astype(np.float32)
    np.testing.assert_allclose(metrics.colorfulness(gray).numpy(), [0, 0], atol=1e-4)
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1.0
    assert metrics.colorfulness(red).numpy() == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-6)
    imgs = RNG.uniform(0, 1, (3, 5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.colorfulness(imgs).numpy(), [_numpy_colorfulness(i) for i in imgs],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="RGB"):
        metrics.colorfulness(imgs[..., :2])


def test_mean_saturation_against_max_min_formula():
    imgs = RNG.uniform(0, 1, (3, 5, 7, 3)).astype(np.float32)
    mx, mn = imgs.max(-1), imgs.min(-1)
    expected = ((mx - mn) / mx).mean((1, 2))
    np.testing.assert_allclose(metrics.mean_saturation(imgs).numpy(), expected, rtol=1e-5)
    gray = np.full((4, 4, 3), 0.4, np.float32)
    assert metrics.mean_saturation(gray).numpy() == 0.0
    assert metrics.mean_saturation(np.float32([[[0.0, 0.5, 0.0]]])).numpy() == pytest.approx(1.0)


def test_psnr_against_numpy_formula():
    x = RNG.uniform(0, 1, (2, 6, 6, 3)).astype(np.float32)
    y = np.clip(x + RNG.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    mse = ((x.astype(np.float64) - y) ** 2).mean((1, 2, 3))
    np.testing.assert_allclose(metrics.psnr(x, y).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)
    np.testing.assert_allclose(metrics.psnr(x * 255, y * 255, 255.0).numpy(), 10 * np.log10(1 / mse),
                               rtol=1e-4)
    assert np.isinf(metrics.psnr(x, x).numpy()).all()
    with pytest.raises(ValueError, match="psnr"):
        metrics.psnr(x, y[:1])
