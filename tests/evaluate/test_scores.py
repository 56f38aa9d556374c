"""Each per-image metric of colorize-evaluate against an independent computation on a hand-made example
(skimage's Lab, numpy formulas), the bootstrap interval, and the two baselines."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import lab2rgb, rgb2lab

from common import cic
from common.colorize.protocol import Job
from common.evaluate import baselines, scores

E = 24


@pytest.fixture(scope="module")
def example():
    """A smooth ground truth and 3 samples: two equal, one with its channels rolled."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:E, 0:E] / (E - 1)
    gt = np.clip(np.stack([xx, yy, 1 - xx * yy], -1) * 220 + 20 + rng.normal(0, 6, (E, E, 3)), 0, 255)
    gt = gt.astype(np.uint8)
    a = np.clip(gt.astype(int) + [30, -20, 10], 0, 255).astype(np.uint8)
    samples = np.stack([a, a, np.roll(gt, 1, axis=-1)])
    return samples, gt


def _ab(rgb):
    return rgb2lab(rgb / 255.0)[..., 1:]


def _auc(pred_ab, true_ab, w=None):
    d = np.sqrt(((pred_ab - true_ab) ** 2).sum(-1)).ravel()
    w = np.ones_like(d) if w is None else w.ravel()
    curve = np.array([(w * (d <= t)).sum() / w.sum() for t in range(151)])
    return (curve[1:] + curve[:-1]).sum() / 2 / 150


def test_image_scores_against_numpy_and_skimage(example):
    samples, gt = example
    bin_weights = np.random.default_rng(1).uniform(0.5, 3.0, cic.NUM_BINS)
    got = scores.image_scores(samples, gt, bin_weights)
    true_ab = _ab(gt)
    bins = np.argmin(((true_ab[..., None, :] - cic.ab_bins()) ** 2).sum(-1), axis=-1)
    assert got["auc"] == pytest.approx(np.mean([_auc(_ab(s), true_ab) for s in samples]), abs=2e-3)
    expected_rebal = np.mean([_auc(_ab(s), true_ab, bin_weights[bins]) for s in samples])
    assert got["auc_rebalanced"] == pytest.approx(expected_rebal, abs=2e-3)
    x = samples.astype(np.float64)
    rg, yb = x[..., 0] - x[..., 1], (x[..., 0] + x[..., 1]) / 2 - x[..., 2]
    m = np.hypot(rg.std((1, 2)), yb.std((1, 2))) + 0.3 * np.hypot(rg.mean((1, 2)), yb.mean((1, 2)))
    assert got["colorfulness"] == pytest.approx(m.mean(), rel=1e-4)
    mse = ((x / 255 - gt / 255.0) ** 2).mean((1, 2, 3))
    assert got["psnr_best"] == pytest.approx(np.max(10 * np.log10(1 / mse)), rel=1e-4)
    edges = np.arange(-128, 129, 8)
    for k, key in enumerate(("hist_a", "hist_b")):
        h = np.histogram(np.clip(_ab(samples)[..., k], -128, 127.9), edges)[0]
        np.testing.assert_allclose(got[key], h / h.sum(), atol=2 / h.sum())  # a pixel on a bin edge may move
    # pairs (0, 1) identical -> 1; (0, 2) and (1, 2) equal: mean = (1 + 2 x) / 3
    x02 = tf.image.ssim_multiscale(
        samples[0:1] / 255.0, samples[2:3] / 255.0, 1.0, power_factors=(0.0448, 0.2856) / np.float64(0.3304)
    ).numpy()[0]
    assert got["diversity"] == pytest.approx((1 + 2 * x02) / 3, rel=1e-4)
    one = scores.image_scores(samples[:1], gt, None)
    assert "diversity" not in one and "auc_rebalanced" not in one


def test_histogram_intersection_of_pooled_histograms():
    a = np.array([[1.0, 0, 0], [0, 1, 0]])  # two images: pooled (0.5, 0.5, 0)
    t = np.array([[0, 0, 1.0], [0, 1, 0]])  # pooled (0, 0.5, 0.5)
    assert scores.hist_intersection(a, a, t, a) == pytest.approx((0.5 + 1.0) / 2)
    swapped = a[::-1]  # the same pooled histogram, no image's own histogram overlapping its pair's
    assert scores.hist_intersection(a, a, swapped, swapped) == pytest.approx(1.0)


def test_bootstrap_percentile_interval():
    value, low, high = scores.bootstrap(lambda i: np.array([0.0, 1.0])[i].mean(), 2, resamples=400, seed=3)
    assert (value, low, high) == (0.5, 0.0, 1.0)  # resampled means 0, .5, 1 with probabilities 1/4, 1/2, 1/4
    x = np.random.default_rng(4).normal(10, 2, 400)
    v, lo, hi = scores.mean_ci(x, seed=0)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # the normal-theory half width
    assert v == pytest.approx(x.mean()) and (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    assert scores.mean_ci(x, seed=0) == (v, lo, hi)  # seeded
    assert scores.mean_ci(x[:1]) == (x[0], x[0], x[0])


def test_gray_baseline_is_the_luminance():
    y = np.random.default_rng(5).uniform(0, 1, (16, 16)).astype(np.float32)
    draws = list(
        baselines.GrayColorizer(16).colorize(
            [Job({16: y}, 1)], num_samples=2, temperature=1, top_k=0, batch_size=1
        )
    )
    assert [(d.job, d.sample) for d in draws] == [(0, 0), (0, 1)]
    for d in draws:
        np.testing.assert_array_equal(d.rgb, np.repeat(np.round(y * 255).astype(np.uint8)[..., None], 3, -1))


def _bin(a, b):
    return int(np.argmin(((cic.ab_bins() - [a, b]) ** 2).sum(-1)))


def test_prior_baseline_draws_bins_at_the_prior_frequencies_and_its_likelihood():
    prior = np.zeros(cic.NUM_BINS)
    q0, q1 = _bin(0, 0), _bin(10, 10)
    prior[q0], prior[q1] = 0.75, 0.25
    model = baselines.PriorColorizer(prior, 64, "test")
    job = Job({64: np.full((64, 64), 0.47, np.float32)}, 7)
    d0, d1 = list(model.colorize([job], num_samples=2, temperature=1, top_k=0, batch_size=1))
    drawn = np.argmin(((_ab(d0.rgb)[..., None, :] - cic.ab_bins()) ** 2).sum(-1), axis=-1)
    assert set(np.unique(drawn)) == {q0, q1}
    assert np.mean(drawn == q0) == pytest.approx(0.75, abs=0.03)
    assert not np.array_equal(d0.rgb, d1.rgb)  # sample n has its own draws
    again = next(iter(model.colorize([job], num_samples=1, temperature=1, top_k=0, batch_size=1)))
    np.testing.assert_array_equal(again.rgb, d0.rgb)  # ... from the seed pair [image seed, n]
    image = (lab2rgb(np.broadcast_to([50.0, 10.0, 10.0], (4, 4, 3))) * 255).round().astype(np.uint8)
    other = (lab2rgb(np.broadcast_to([50.0, -40.0, 30.0], (4, 4, 3))) * 255).round().astype(np.uint8)
    floor = baselines.PRIOR_FLOOR / cic.NUM_BINS
    np.testing.assert_allclose(
        model.bits_per_dim(np.stack([image, other])),
        [-np.log2((1 - baselines.PRIOR_FLOOR) * 0.25 + floor), -np.log2(floor)],
        rtol=1e-9,
    )


def test_load_prior_errors_and_sources(tmp_path):
    p = np.random.default_rng(6).uniform(0, 1, cic.NUM_BINS)
    np.save(tmp_path / "p.npy", p)
    got, source = baselines.load_prior(str(tmp_path / "p.npy"))
    np.testing.assert_allclose(got, p / p.sum()) and source.startswith("--prior=")
    np.save(tmp_path / "bad.npy", p[:10])
    with pytest.raises(ValueError, match="313"):
        baselines.load_prior(str(tmp_path / "bad.npy"))
    with pytest.raises(ValueError, match="cannot read"):
        baselines.load_prior(str(tmp_path / "missing.npy"))


def test_an_exact_match_counts_as_psnr_max(example):
    _, gt = example
    gray = np.repeat(gt[..., :1], 3, axis=-1)
    assert scores.image_scores(gray[None], gray, None)["psnr_best"] == scores.PSNR_MAX
