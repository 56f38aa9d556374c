"""Frechet Inception Distance (Heusel et al. 2017), as reported by ColTran (sec. 5, Table 2).

FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between Gaussians fitted to Inception-v3 pool
features (2048-d, global average pool of the last mixed block) of two image sets.

  build_inception(weights)                     keras InceptionV3, include_top=False, pooling="avg".
  preprocess_for_inception(images)             [N, H, W, C] in [0, 1] -> [N, 299, 299, 3] in [-1, 1].
  inception_features(images, model, ...)       np.float64 [N, 2048], in batches.
  feature_statistics(features)                 (mean [D], covariance [D, D]).
  frechet_distance(mu1, sigma1, mu2, sigma2)   the distance between two Gaussians.
  fid_from_features(features1, features2)      feature sets -> FID (fast when N < D).
  fid(images1, images2, model, ...)            images -> FID.

Nothing downloads unless `weights="imagenet"` is asked for. For offline use, save Keras's
"inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" once and pass its path. Absolute values
depend on the exact Inception weights and resizing; compare FIDs only when computed the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf

INCEPTION_SIZE = 299
FEATURE_DIM = 2048

ImageBatches = np.ndarray | tf.Tensor | Iterable[np.ndarray | tf.Tensor]


def build_inception(weights: str | None) -> keras.Model:
    """Inception-v3 without its classifier, global-average pooled: [N, 299, 299, 3] -> [N, 2048].

    Args:
      weights: path to a local weights file for the no-top model (a Keras ".h5" /
        ".weights.h5" file), "imagenet" to let Keras download the ImageNet weights (needs network),
        or None for random weights (tests only: such features are meaningless for FID).
    """
    if weights is not None and weights != "imagenet" and not os.path.isfile(weights):
        raise FileNotFoundError(
            f"common/fid.py build_inception: weights file {weights!r} not found; pass a local path to the "
            "no-top InceptionV3 weights, 'imagenet' to download them, or None for random weights"
        )
    return keras.applications.InceptionV3(
        include_top=False, weights=weights, input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3), pooling="avg"
    )


def preprocess_for_inception(images: np.ndarray | tf.Tensor) -> tf.Tensor:
    """[N, H, W, C] images in [0, 1] (C = 3, or 1 for grayscale, repeated) or uint8 in [0, 255] ->
    float32 [N, 299, 299, 3] in [-1, 1] (bilinear resize, then the scaling keras' InceptionV3 expects)."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"common/fid.py: images must be [N, H, W, 1 or 3], got shape {images.shape}")
    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) / 255.0
    images = tf.cast(images, tf.float32)
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    images = tf.image.resize(images, [INCEPTION_SIZE, INCEPTION_SIZE], method="bilinear")
    return tf.clip_by_value(images, 0.0, 1.0) * 2.0 - 1.0


def _batches(images: ImageBatches, batch_size: int) -> Iterable[np.ndarray | tf.Tensor]:
    if isinstance(images, (np.ndarray, tf.Tensor)):
        for start in range(0, int(images.shape[0]), batch_size):
            yield images[start : start + batch_size]
    else:
        yield from images


def inception_features(images: ImageBatches, model: keras.Model, batch_size: int = 50) -> np.ndarray:
    """Pool features of every image, computed `batch_size` images at a time.

    Args:
      images: one array/tensor [N, H, W, C] (split into batches here), or an iterable of such batches
        (e.g. a tf.data.Dataset of image tensors), in [0, 1] or uint8; see `preprocess_for_inception`.
      model: from `build_inception`.
    Returns: np.float64 [N, 2048].
    """
    if batch_size < 1:
        raise ValueError(f"common/fid.py inception_features: batch_size must be >= 1, got {batch_size}")
    # predict_on_batch compiles the forward pass once and caches it on the model for later calls.
    feats = [
        np.asarray(model.predict_on_batch(preprocess_for_inception(batch)), np.float64)
        for batch in _batches(images, batch_size)
    ]
    if not feats:
        raise ValueError("common/fid.py inception_features: no images given")
    return np.concatenate(feats, axis=0)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """features [N, D] (N >= 2) -> (mean [D], unbiased covariance [D, D]), float64."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"common/fid.py feature_statistics: need features [N>=2, D], got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix; tiny negative eigenvalues (round-off) are set to 0."""
    eigval, eigvec = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigvec * np.sqrt(np.clip(eigval, 0.0, None))) @ eigvec.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)) for Gaussians N(mu1, S1), N(mu2, S2).

    S1 S2 is not symmetric, but it is similar to the PSD matrix S1^(1/2) S2 S1^(1/2), so the trace of its
    square root is the sum of the square roots of that matrix's (real, non-negative) eigenvalues. Two
    symmetric eigen-decompositions replace a general sqrtm: no complex parts, stable for singular
    covariances (fewer images than feature dimensions).
    Args: mu [D], sigma [D, D] symmetric PSD. Returns: a float >= 0 (up to round-off).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"common/fid.py frechet_distance: need mu [D] and sigma [D, D] for both, got "
            f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigval = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_covmean = np.sum(np.sqrt(np.clip(eigval, 0.0, None)))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets [N1, D] and [N2, D] (N1, N2 >= 2): Gaussians fitted, then compared.

    Equal to `frechet_distance(*feature_statistics(f1), *feature_statistics(f2))`. When a set has fewer
    samples than dimensions it avoids the D x D decompositions: with centred features A, B,
    S1 = A^T A / (N1 - 1), S2 = B^T B / (N2 - 1), and the non-zero eigenvalues of S1 S2 are the squared
    singular values of A B^T / sqrt((N1 - 1)(N2 - 1)), so Tr((S1 S2)^(1/2)) is that matrix's nuclear norm.
    """
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(len(f1), len(f2)) < 2:
        raise ValueError(
            f"common/fid.py fid_from_features: need [N1>=2, D] and [N2>=2, D], got {f1.shape}, {f2.shape}"
        )
    if min(len(f1), len(f2)) >= f1.shape[1]:
        return frechet_distance(*feature_statistics(f1), *feature_statistics(f2))
    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    a, b = f1 - mu1, f2 - mu2
    scale1, scale2 = 1.0 / (len(f1) - 1), 1.0 / (len(f2) - 1)
    tr_covmean = np.linalg.svd(a @ b.T, compute_uv=False).sum() * np.sqrt(scale1 * scale2)
    diff = mu1 - mu2
    return float(diff @ diff + scale1 * np.sum(a * a) + scale2 * np.sum(b * b) - 2.0 * tr_covmean)


def fid(images1: ImageBatches, images2: ImageBatches, model: keras.Model, batch_size: int = 50) -> float:
    """FID between two image sets ([N, H, W, C] in [0, 1] or uint8, or iterables of batches).

    ColTran's protocol: 5,000 samples vs 5,000 held-out real images (REFERENCES.md); FID is biased
    upward for small sets, so compare values computed on sets of the same size.
    """
    return fid_from_features(
        inception_features(images1, model, batch_size), inception_features(images2, model, batch_size)
    )
