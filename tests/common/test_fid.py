"""Frechet distance against scipy's sqrtm; the Inception plumbing with random weights (no download)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from common import fid


def _scipy_frechet(mu1, s1, mu2, s2):
    """The textbook formula with a general matrix square root (imaginary round-off dropped)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _random_stats(rng, n=60, d=6):
    feats = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    return fid.feature_statistics(feats)


def test_feature_statistics_are_mean_and_unbiased_covariance():
    x = np.random.default_rng(0).normal(size=(7, 3))
    mu, sigma = fid.feature_statistics(x)
    centred = x - x.sum(0) / 7
    np.testing.assert_allclose(mu, x.sum(0) / 7)
    np.testing.assert_allclose(sigma, centred.T @ centred / 6)
    with pytest.raises(ValueError, match="N>=2"):
        fid.feature_statistics(x[:1])


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    for _ in range(3):
        s1, s2 = _random_stats(rng), _random_stats(rng)
        expected = _scipy_frechet(s1[0], s1[1], s2[0], s2[1])
        assert fid.frechet_distance(*s1, *s2) == pytest.approx(expected, rel=1e-8)
        assert fid.frechet_distance(*s2, *s1) == pytest.approx(expected, rel=1e-8)  # symmetric


def test_frechet_distance_known_cases():
    rng = np.random.default_rng(2)
    mu, sigma = _random_stats(rng)
    assert fid.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    shift = rng.normal(size=mu.shape)
    assert fid.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(shift @ shift, rel=1e-8)
    # Diagonal covariances: sum over dimensions of (sqrt(a) - sqrt(b))^2.
    a, b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    zero = np.zeros(5)
    expected = ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert fid.frechet_distance(zero, np.diag(a), zero, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        fid.frechet_distance(zero, np.diag(a), zero[:4], np.diag(b))


def test_frechet_distance_singular_covariances_stay_real_and_close_to_scipy():
    rng = np.random.default_rng(3)
    s1 = fid.feature_statistics(rng.normal(size=(5, 12)))  # 5 samples in 12-d: rank 4
    s2 = fid.feature_statistics(rng.normal(size=(5, 12)) + 0.5)
    got = fid.frechet_distance(*s1, *s2)
    assert np.isfinite(got) and got > 0
    assert got == pytest.approx(_scipy_frechet(s1[0], s1[1], s2[0], s2[1]), rel=1e-5)


@pytest.mark.parametrize("n1, n2, d", [(5, 7, 12), (3, 40, 12), (30, 25, 12)])
def test_fid_from_features_equals_the_statistics_route(n1, n2, d):
    rng = np.random.default_rng(n1)
    f1 = rng.normal(size=(n1, d)) * rng.uniform(0.5, 2, d)
    f2 = rng.normal(size=(n2, d)) + 0.3
    expected = _scipy_frechet(*fid.feature_statistics(f1), *fid.feature_statistics(f2))
    assert fid.fid_from_features(f1, f2) == pytest.approx(expected, rel=1e-6)
    assert fid.fid_from_features(f1, f1) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="N1>=2"):
        fid.fid_from_features(f1, f2[:, :-1])


def test_preprocess_resizes_scales_and_repeats_gray():
    x = np.random.default_rng(4).uniform(0, 1, (2, 10, 12, 1)).astype(np.float32)
    out = fid.preprocess_for_inception(x).numpy()
    assert out.shape == (2, 299, 299, 3)
    assert out.min() >= -1 and out.max() <= 1
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    ref = tf.image.resize(x, [299, 299]).numpy()[..., 0] * 2 - 1
    np.testing.assert_allclose(out[..., 1], ref, atol=1e-6)
    u8 = (x * 255).round().astype(np.uint8)
    np.testing.assert_allclose(
        fid.preprocess_for_inception(u8).numpy(), fid.preprocess_for_inception(u8 / 255.0).numpy(), atol=1e-6
    )
    with pytest.raises(ValueError, match="images"):
        fid.preprocess_for_inception(x[0])


def test_build_inception_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights file"):
        fid.build_inception(str(tmp_path / "nope.h5"))


@pytest.fixture(scope="module")
def random_inception():
    keras.utils.set_random_seed(0)
    return fid.build_inception(None)  # random weights: plumbing only, nothing downloaded


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(5).uniform(0, 1, (3, 16, 16, 3)).astype(np.float32)


def test_inception_features_shape_and_batching(random_inception, images):
    feats = fid.inception_features(images, random_inception, batch_size=2)  # batches of 2 and 1
    assert feats.shape == (3, fid.FEATURE_DIM) and feats.dtype == np.float64
    assert np.isfinite(feats).all() and (feats >= 0).all()  # average of ReLU outputs
    assert not np.allclose(feats[0], feats[1])
    whole = fid.inception_features(images, random_inception, batch_size=3)
    np.testing.assert_allclose(feats, whole, rtol=1e-4, atol=1e-9)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(2)  # an iterable of batches works too
    np.testing.assert_allclose(fid.inception_features(dataset, random_inception), whole, rtol=1e-4, atol=1e-9)


def test_fid_of_a_set_with_itself_is_zero_and_of_another_positive(random_inception, images):
    assert fid.fid(images, images, random_inception) == pytest.approx(0.0, abs=1e-9)
    assert fid.fid(images, 1.0 - images, random_inception) > 0


def test_weights_load_from_a_local_file(random_inception, images, tmp_path):
    path = str(tmp_path / "inception_random.weights.h5")
    random_inception.save_weights(path)
    keras.utils.set_random_seed(1)  # a different initialisation, overwritten by the file
    loaded = fid.build_inception(path)
    np.testing.assert_array_equal(
        fid.inception_features(images, loaded), fid.inception_features(images, random_inception)
    )


@pytest.mark.parametrize("smallest", [1e-8, 1e-12, 1e-16])
def test_frechet_distance_near_singular_covariances_match_scipy(smallest):
    """Full-rank but ill-conditioned covariances (eigenvalues from 1 down to `smallest`), as pool
    features of few images give: the eigen route agrees with scipy's general sqrtm, and stays real."""
    rng = np.random.default_rng(7)
    d = 10

    def near_singular():
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        return (q * np.logspace(0, np.log10(smallest), d)) @ q.T

    s1, s2 = near_singular(), near_singular()
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = _scipy_frechet(mu1, s1, mu2, s2)
    got = fid.frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-7)
    assert fid.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-7)
