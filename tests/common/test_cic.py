"""common/cic.py: the 313 CIC bins, hard / soft encoding, prior, class rebalancing and decoding."""

import numpy as np
import pytest
import tensorflow as tf

from common import cic

BINS = cic.ab_bins()


def _interior_bin() -> int:
    """Index of a bin whose 4 grid neighbours (distance 10) are all bins."""
    present = {tuple(c) for c in BINS.astype(int)}
    for i, (a, b) in enumerate(BINS.astype(int)):
        if all((a + da, b + db) in present for da, db in ((10, 0), (-10, 0), (0, 10), (0, -10))):
            return i
    raise AssertionError("no interior bin")


def test_bin_table():
    assert BINS.shape == (313, 2) and BINS.dtype == np.float32
    assert len({tuple(c) for c in BINS}) == 313
    assert np.all(BINS % 10 == 0)
    assert BINS[:, 0].min() == -90 and BINS[:, 0].max() == 100
    assert BINS[:, 1].min() == -110 and BINS[:, 1].max() == 100
    np.testing.assert_array_equal(BINS[:2], [[-90, 50], [-90, 60]])  # the authors' order
    copy = cic.ab_bins()
    copy[0] = 999.0
    np.testing.assert_array_equal(cic.ab_bins()[0], [-90, 50])


def test_hard_encoding_of_every_bin_centre_is_its_index():
    np.testing.assert_array_equal(cic.encode_hard(BINS).numpy(), np.arange(313))
    np.testing.assert_array_equal(cic.nearest_bin_np(BINS), np.arange(313))


def test_hard_encoding_is_nearest_bin_on_random_colours_and_batches():
    ab = np.random.default_rng(0).uniform(-120, 120, size=(2, 8, 8, 2)).astype(np.float32)
    idx = cic.encode_hard(ab).numpy()
    assert idx.shape == (2, 8, 8) and idx.dtype == np.int32
    d2 = ((ab[..., None, :] - BINS) ** 2).sum(-1)
    chosen = np.take_along_axis(d2, idx[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(chosen, d2.min(-1), atol=1e-2)  # float32 expanded distances
    assert np.mean(idx == cic.nearest_bin_np(ab)) > 0.99


def test_soft_encoding_sums_to_one_and_favours_the_hard_bin():
    ab = np.concatenate([BINS, np.random.default_rng(1).uniform(-110, 110, size=(200, 2)).astype(np.float32)])
    soft = cic.encode_soft(ab).numpy()
    assert soft.shape == (513, 313)
    np.testing.assert_allclose(soft.sum(-1), 1.0, atol=1e-5)
    assert np.all((soft > 0).sum(-1) == 10)
    np.testing.assert_array_equal(soft.argmax(-1), cic.encode_hard(ab).numpy())
    # At a bin centre the neighbours are >= 10 away (weight <= e^-2): the own bin holds most of the mass.
    assert np.all(soft[np.arange(313), np.arange(313)] > 0.5)


def test_soft_encoding_weights_are_the_gaussian_kernel():
    i = _interior_bin()
    soft = cic.encode_soft(BINS[i], k=5, sigma=5.0).numpy()
    expected_self = 1.0 / (1.0 + 4.0 * np.exp(-2.0))  # 4 neighbours at distance 10: exp(-100 / 50)
    assert soft[i] == pytest.approx(expected_self, abs=1e-5)
    np.testing.assert_allclose(np.sort(soft[soft > 0])[:4], expected_self * np.exp(-2.0), atol=1e-5)
    ab = np.array([[13.7, -42.1], [-3.3, 71.9]], np.float32)
    soft = cic.encode_soft(ab, k=10, sigma=5.0).numpy()
    for row, point in zip(soft, ab.astype(np.float64), strict=True):
        d2 = ((BINS - point) ** 2).sum(-1)
        nearest = np.argsort(d2)[:10]
        w = np.exp(-d2[nearest] / 50.0)
        np.testing.assert_allclose(row[nearest], w / w.sum(), atol=1e-4)
    np.testing.assert_array_equal(
        cic.encode_soft(ab, k=1).numpy(), tf.one_hot(cic.encode_hard(ab), 313).numpy()
    )


def test_soft_encoding_far_from_every_bin_is_finite_and_batched_in_tf_data():
    far = cic.encode_soft(np.array([[500.0, 500.0]], np.float32)).numpy()
    assert np.all(np.isfinite(far)) and far.sum() == pytest.approx(1.0, abs=1e-5)
    images = np.random.default_rng(2).uniform(-80, 80, size=(3, 4, 5, 2)).astype(np.float32)
    eager = cic.encode_soft(images).numpy()
    assert eager.shape == (3, 4, 5, 313)
    ds = tf.data.Dataset.from_tensor_slices(images).map(lambda ab: (cic.encode_soft(ab), cic.encode_hard(ab)))
    unknown_shape = tf.function(cic.encode_soft, input_signature=[tf.TensorSpec([None, None, 2], tf.float32)])
    np.testing.assert_allclose(unknown_shape(images[0]).numpy(), eager[0], atol=1e-6)
    for i, (soft, hard) in enumerate(ds.as_numpy_iterator()):
        # float32: squared distances of ~1e4 carry ~1e-5 relative error into exp (seen 1.8e-5 on an AMD CPU)
        np.testing.assert_allclose(soft, eager[i], atol=1e-6, rtol=1e-4)
        np.testing.assert_array_equal(hard, eager[i].argmax(-1))


def _images_with_known_counts():
    """Three images of bin centres; returns the images and the expected counts per bin."""
    picks = [np.array([[0, 0], [5, 7]]), np.array([[5, 5], [5, 312]]), np.array([[7, 7], [7, 7]])]
    images = [BINS[p] + 1.0 for p in picks]  # 1 off the centre: still the same nearest bin
    counts = np.bincount(np.concatenate([p.ravel() for p in picks]), minlength=313)
    return images, counts


def test_empirical_prior_counts_hard_bins_from_arrays_and_datasets():
    images, counts = _images_with_known_counts()
    expected = counts / counts.sum()
    np.testing.assert_allclose(cic.empirical_prior(images), expected)
    np.testing.assert_allclose(
        cic.empirical_prior(tf.data.Dataset.from_tensor_slices(np.stack(images))), expected
    )
    ds = tf.data.Dataset.from_tensor_slices({"ab": np.stack(images)}).batch(2)
    np.testing.assert_allclose(cic.empirical_prior(ds, key="ab"), expected)
    np.testing.assert_allclose(cic.empirical_prior([tf.constant(x) for x in images]), expected)
    with pytest.raises(ValueError, match="no pixels"):
        cic.empirical_prior([])
    with pytest.raises(ValueError, match="key="):
        cic.empirical_prior(ds)


def test_smoothing_spreads_mass_to_neighbours_by_the_gaussian():
    i = _interior_bin()
    delta = np.zeros(313)
    delta[i] = 1.0
    smoothed = cic.smooth_prior(delta, sigma=5.0)
    assert smoothed.sum() == pytest.approx(1.0) and smoothed.argmax() == i
    neighbour = int(np.flatnonzero(np.all(BINS == BINS[i] + [10, 0], axis=-1))[0])
    assert smoothed[neighbour] / smoothed[i] == pytest.approx(np.exp(-2.0))
    np.testing.assert_allclose(cic.smooth_prior(delta, sigma=0.0), delta)


def test_rebalancing_weights_have_unit_expectation_and_favour_rare_bins():
    prior = np.random.default_rng(3).gamma(0.3, size=313)
    prior[:20] = 0.0  # unseen bins still get finite weights through the uniform mix
    prior /= prior.sum()
    w = cic.rebalancing_weights(prior, lam=0.5, sigma=5.0)
    smoothed = cic.smooth_prior(prior, sigma=5.0)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    assert np.sum(smoothed * w) == pytest.approx(1.0, abs=1e-9)
    order = np.argsort(smoothed, kind="stable")
    assert np.all(np.diff(w[order]) <= 1e-12)  # rarer (smoothed) bin -> larger weight
    assert w[np.argmin(smoothed)] > 1.0 > w[np.argmax(smoothed)]
    np.testing.assert_allclose(cic.rebalancing_weights(prior, lam=1.0), 1.0)
    # No smoothing and no mixing: w = 1 / (313 p), the exact inverse-frequency weights.
    positive = np.full(313, 1.0)
    positive[:100] = 3.0
    positive /= positive.sum()
    np.testing.assert_allclose(cic.rebalancing_weights(positive, lam=0.0, sigma=0.0), 1.0 / (313 * positive))
    with pytest.raises(ValueError, match="lam=0"):
        cic.rebalancing_weights(prior, lam=0.0, sigma=0.0)
    with pytest.raises(ValueError, match=r"rebalancing_weights\(lam\)"):
        cic.rebalancing_weights(prior, lam=1.5)
    with pytest.raises(ValueError, match=r"smooth_prior\(prior\) must be \[313\]"):
        cic.rebalancing_weights(np.ones(312))


def test_decode_one_hot_returns_the_bin_centre_for_every_bin():
    with np.errstate(divide="ignore"):
        log_one_hot = np.log(np.eye(313, dtype=np.float32))  # -inf off the diagonal
    for method in ("mode", "mean", "annealed_mean"):
        np.testing.assert_allclose(cic.decode(log_one_hot, method=method).numpy(), BINS, atol=1e-4)


def test_annealed_mean_interpolates_between_mode_and_mean():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(2, 3, 4, 313)).astype(np.float32)
    top = logits.argmax(-1)
    np.put_along_axis(logits, top[..., None], logits.max(-1, keepdims=True) + 1.0, axis=-1)  # a clear mode
    mode = cic.decode(logits, method="mode").numpy()
    mean = cic.decode(logits, method="mean").numpy()
    assert mode.shape == (2, 3, 4, 2)
    np.testing.assert_array_equal(mode, BINS[top])
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(mean, (probs / probs.sum(-1, keepdims=True)) @ BINS, atol=1e-3)
    np.testing.assert_allclose(cic.decode(logits, temperature=1.0).numpy(), mean, atol=1e-4)
    np.testing.assert_allclose(cic.decode(logits, temperature=0.01).numpy(), mode, atol=1e-2)
    np.testing.assert_array_equal(cic.decode(logits, temperature=0.0).numpy(), mode)
    # The default is T = 0.38 on log-probabilities: softmax(log p / T), then the expectation.
    annealed = probs ** (1 / 0.38)
    np.testing.assert_allclose(
        cic.decode(np.log(probs)).numpy(), (annealed / annealed.sum(-1, keepdims=True)) @ BINS, atol=1e-3
    )
    gaps = [np.abs(cic.decode(logits, temperature=t).numpy() - mode).max() for t in (1.0, 0.38, 0.1, 0.01)]
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3]
    with pytest.raises(ValueError, match=r"decode\(method\)"):
        cic.decode(logits, method="median")
    with pytest.raises(ValueError, match=r"decode\(logits\) expects shape \[\.\.\., 313\]"):
        cic.decode(np.zeros([2, 312], np.float32))
