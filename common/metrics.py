"""Evaluation metrics shared by every model: likelihood, accuracy, diversity and colourfulness.

All functions are TensorFlow ops on batches (graph and tf.data safe) unless a name says otherwise; they
accept numpy arrays or tensors and return float32 tensors. Conventions:
  RGB images: float [..., H, W, 3] in [0, 1];  ab: float [..., 2], CIE Lab a and b (roughly [-128, 127]).

  bits_per_dim                      NLL in nats -> bits per dimension (PIC sec. 4, ColTran sec. 5).
  ab_accuracy_curve / cic_auc       CIC's AuC (Zhang et al. 2016, sec. 3.1), raw or weighted per pixel.
  cic_auc_rebalanced                the class-rebalanced AuC from a 313-bin weight vector.
  ab_histograms / histogram_intersection / ab_histogram_intersection
                                    colour-distribution match with ground truth (PixColor fig. 7).
  ms_ssim / pairwise_ms_ssim        sample diversity (PixColor fig. 8): MS-SSIM between samples.
  colorfulness / mean_saturation    vividness (PIC sec. 4.3): Hasler & Suesstrunk 2003; HSV saturation.
  psnr                              peak signal-to-noise ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

# Standard MS-SSIM exponents for 5 scales (Wang, Simoncelli & Bovik 2003), also TF's defaults.
MS_SSIM_POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
AUC_MAX_THRESHOLD = 150  # CIC sec. 3.1: thresholds 0..150 on the ab L2 distance


def bits_per_dim(nll_nats: tf.Tensor | np.ndarray | float, num_dims: int) -> tf.Tensor:
    """Negative log-likelihood in nats (any shape) -> bits per dimension, same shape.

    bpd = nll / (num_dims * ln 2). `num_dims` is the number of modelled values per example, e.g.
    H*W*2 for PIC's ab channels or H*W*3 for ColTran's coarse RGB (PIC sec. 4, ColTran sec. 5).
    """
    if int(num_dims) <= 0:
        raise ValueError(f"common/metrics.py bits_per_dim: num_dims must be > 0, got {num_dims}")
    nll = tf.convert_to_tensor(nll_nats, dtype=tf.float32)
    return nll / (float(num_dims) * math.log(2.0))


# ---------------------------------------------------------------------------------------------------
# CIC AuC
# ---------------------------------------------------------------------------------------------------


def _check_ab(name: str, **tensors: tf.Tensor) -> None:
    for arg, t in tensors.items():
        if t.shape.rank is not None and (t.shape.rank < 1 or t.shape[-1] != 2):
            raise ValueError(f"common/metrics.py {name}: {arg} must be [..., 2] (a, b), got {t.shape}")


def ab_accuracy_curve(
    ab_pred: tf.Tensor,
    ab_true: tf.Tensor,
    weights: tf.Tensor | None = None,
    max_threshold: int = AUC_MAX_THRESHOLD,
) -> tf.Tensor:
    """Fraction of pixels whose ab distance to ground truth is within each integer threshold.

    CIC (Zhang et al. 2016) sec. 3.1. curve[t] = sum_p w_p [ ||ab_pred_p - ab_true_p||_2 <= t ] / sum_p w_p
    for t = 0, 1, ..., max_threshold, pooled over ALL pixels of the batch (not averaged per image).

    Args:
      ab_pred, ab_true: float [..., 2] Lab (a, b), same shape.
      weights: optional float [...] non-negative per-pixel weights (the leading shape of ab); None = 1.
      max_threshold: last threshold (150 in CIC).
    Returns:
      float32 [max_threshold + 1] in [0, 1], non-decreasing.
    """
    ab_pred = tf.convert_to_tensor(ab_pred, tf.float32)
    ab_true = tf.convert_to_tensor(ab_true, tf.float32)
    _check_ab("ab_accuracy_curve", ab_pred=ab_pred, ab_true=ab_true)
    dist = tf.reshape(tf.norm(ab_pred - ab_true, axis=-1), [-1])
    if weights is None:
        w = tf.ones_like(dist)
    else:
        w = tf.convert_to_tensor(weights, tf.float32)
        if None not in (w.shape.rank, ab_true.shape.rank) and w.shape.rank != ab_true.shape.rank - 1:
            raise ValueError(
                f"common/metrics.py ab_accuracy_curve: weights must have the shape of ab without its last "
                f"axis ({ab_true.shape[:-1]}), got {w.shape}"
            )
        w = tf.reshape(w, [-1])
    # dist <= t for an integer t  <=>  ceil(dist) <= t, so one weighted histogram of ceil(dist) and a
    # cumulative sum give every threshold in O(pixels); bin max_threshold + 1 collects "beyond".
    first = tf.cast(tf.clip_by_value(tf.math.ceil(dist), 0.0, float(max_threshold + 1)), tf.int32)
    hist = tf.math.unsorted_segment_sum(w, first, num_segments=max_threshold + 2)
    return tf.math.cumsum(hist)[: max_threshold + 1] / tf.reduce_sum(w)


def cic_auc(
    ab_pred: tf.Tensor,
    ab_true: tf.Tensor,
    weights: tf.Tensor | None = None,
    max_threshold: int = AUC_MAX_THRESHOLD,
) -> tf.Tensor:
    """CIC's AuC: area under `ab_accuracy_curve` over thresholds [0, max_threshold], normalised to [0, 1].

    CIC (Zhang et al. 2016) sec. 3.1 "AuC". The area is the trapezoid rule over the integer thresholds
    divided by max_threshold, so identical images give 1 and a constant ab error of integer length d
    (0 < d <= 150) gives (150.5 - d) / 150. With per-pixel `weights` [...] this is the weighted
    (e.g. class-rebalanced) variant. Returns a float32 scalar in [0, 1].
    """
    curve = ab_accuracy_curve(ab_pred, ab_true, weights, max_threshold)
    area = tf.reduce_sum(curve) - 0.5 * (curve[0] + curve[-1])
    return area / float(max_threshold)


def cic_auc_rebalanced(
    ab_pred: tf.Tensor,
    ab_true: tf.Tensor,
    bin_weights: tf.Tensor | np.ndarray,
    max_threshold: int = AUC_MAX_THRESHOLD,
) -> tf.Tensor:
    """Class-rebalanced AuC: each pixel weighted by `bin_weights` of its ground-truth ab bin.

    CIC sec. 3.1 reports a rebalanced AuC where pixels are re-weighted inversely to the probability of
    their colour class; pass the weights you want per bin, e.g. `common.cic.rebalancing_weights(prior,
    lam=...)` (lam=0 is the pure inverse of the smoothed prior, lam=0.5 the training weights). The bin of
    each ground-truth pixel is `common.cic.encode_hard(ab_true)`.

    Args:
      ab_pred, ab_true: float [..., 2] Lab (a, b).
      bin_weights: float [313], non-negative.
    Returns: float32 scalar in [0, 1].
    """
    from common import cic  # imported here so the other metrics do not depend on the CIC bins

    bin_weights = tf.convert_to_tensor(bin_weights, tf.float32)
    if bin_weights.shape != (cic.NUM_BINS,):
        raise ValueError(
            f"common/metrics.py cic_auc_rebalanced: bin_weights must be [313], got {bin_weights.shape}"
        )
    pixel_weights = tf.gather(bin_weights, cic.encode_hard(tf.convert_to_tensor(ab_true, tf.float32)))
    return cic_auc(ab_pred, ab_true, pixel_weights, max_threshold)


# ---------------------------------------------------------------------------------------------------
# ab histograms
# ---------------------------------------------------------------------------------------------------


def _bin_index(values: tf.Tensor, num_bins: int, value_range: Sequence[float]) -> tf.Tensor:
    low, high = float(value_range[0]), float(value_range[1])
    if not high > low or num_bins < 1:
        raise ValueError(
            f"common/metrics.py: need num_bins >= 1 and value_range (low, high) with high > low, "
            f"got {num_bins}, {value_range}"
        )
    idx = tf.floor((values - low) * (num_bins / (high - low)))
    return tf.cast(tf.clip_by_value(idx, 0.0, num_bins - 1.0), tf.int32)  # out-of-range -> edge bins


def ab_histograms(
    ab: tf.Tensor,
    *,
    num_bins: int = 32,
    value_range: Sequence[float] = (-128.0, 128.0),
    joint: bool = False,
) -> tf.Tensor:
    """Normalised histograms of the ab values of all pixels of a set of images.

    Bins: `num_bins` equal bins over `value_range` (default 32 bins of width 8 over [-128, 128)); values
    outside the range are counted in the edge bins.
    Args:
      ab: float [..., 2] Lab (a, b); every leading position is one pixel of the set.
      joint: False -> the two marginal histograms of a and of b; True -> one 2-D histogram of (a, b).
    Returns:
      joint=False: float32 [2, num_bins], row 0 = a, row 1 = b, each row summing to 1.
      joint=True:  float32 [num_bins, num_bins] indexed [a_bin, b_bin], summing to 1.
    """
    ab = tf.convert_to_tensor(ab, tf.float32)
    _check_ab("ab_histograms", ab=ab)
    idx = _bin_index(tf.reshape(ab, [-1, 2]), num_bins, value_range)
    if joint:
        flat = idx[:, 0] * num_bins + idx[:, 1]
        counts = tf.math.bincount(flat, minlength=num_bins * num_bins, maxlength=num_bins * num_bins,
                                  dtype=tf.float32)
        counts = tf.reshape(counts, [num_bins, num_bins])
        return counts / tf.reduce_sum(counts)
    counts = tf.math.bincount(tf.transpose(idx), minlength=num_bins, maxlength=num_bins, dtype=tf.float32,
                              axis=-1)
    return counts / tf.reduce_sum(counts, axis=-1, keepdims=True)


def histogram_intersection(h1: tf.Tensor, h2: tf.Tensor, axis: int | Sequence[int] = -1) -> tf.Tensor:
    """sum(min(h1, h2)) over `axis` for normalised histograms: 1 = identical, 0 = disjoint support."""
    h1 = tf.convert_to_tensor(h1, tf.float32)
    h2 = tf.convert_to_tensor(h2, tf.float32)
    if h1.shape != h2.shape:
        raise ValueError(f"common/metrics.py histogram_intersection: shapes differ: {h1.shape} vs {h2.shape}")
    return tf.reduce_sum(tf.minimum(h1, h2), axis=axis)


def ab_histogram_intersection(
    ab_pred: tf.Tensor,
    ab_true: tf.Tensor,
    *,
    num_bins: int = 32,
    value_range: Sequence[float] = (-128.0, 128.0),
    joint: bool = False,
) -> tf.Tensor:
    """Histogram intersection between the ab distribution of generated and ground-truth image sets.

    PixColor (Guadarrama et al. 2017) fig. 7 compares the colour distributions of samples and ground
    truth. Here: histograms over ALL pixels of each set (`ab_histograms`, same bins for both), then
    sum of bin-wise minima. The two sets may hold different numbers of pixels.
    Returns:
      joint=False: float32 [2] = (intersection of the a histograms, intersection of the b histograms).
      joint=True:  float32 scalar, intersection of the joint (a, b) histograms.
    Each value is in [0, 1]: 1 for identical distributions, 0 for disjoint ones.
    """
    kw = dict(num_bins=num_bins, value_range=value_range, joint=joint)
    h_pred, h_true = ab_histograms(ab_pred, **kw), ab_histograms(ab_true, **kw)
    return histogram_intersection(h_pred, h_true, axis=[-2, -1] if joint else -1)


# ---------------------------------------------------------------------------------------------------
# MS-SSIM diversity
# ---------------------------------------------------------------------------------------------------


def ms_ssim_power_factors(height: int, width: int, filter_size: int = 11) -> tuple[float, ...]:
    """The standard MS-SSIM exponents, truncated to the scales a small image allows, renormalised.

    tf.image.ssim_multiscale halves the image (rounding up) once per extra scale and needs every scale
    at least `filter_size` pixels on each side. This keeps the first k of the 5 standard exponents, k as
    large as that allows, and rescales them to sum to 1 (as the 5 standard ones do). With filter 11:
    256x256 -> all 5 scales (the standard MS-SSIM); 64x64 -> 3 scales (64, 32, 16); 32x32 -> 2.
    """
    side = min(int(height), int(width))
    if side < filter_size:
        raise ValueError(
            f"common/metrics.py ms_ssim: {height}x{width} images are smaller than filter_size={filter_size}"
        )
    scales = 1
    while scales < len(MS_SSIM_POWER_FACTORS) and math.ceil(side / 2**scales) >= filter_size:
        scales += 1
    factors = MS_SSIM_POWER_FACTORS[:scales]
    return tuple(f / sum(factors) for f in factors)


def ms_ssim(
    x: tf.Tensor,
    y: tf.Tensor,
    *,
    max_val: float = 1.0,
    filter_size: int = 11,
    power_factors: Sequence[float] | None = None,
) -> tf.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) of image pairs, via tf.image.ssim_multiscale.

    Args:
      x, y: float [..., H, W, C] in [0, max_val], same shape (colour channels are averaged by TF).
      power_factors: per-scale exponents; None -> `ms_ssim_power_factors(H, W, filter_size)`, i.e. the
        standard 5 scales where the image is large enough (>= 176 px with filter 11), fewer otherwise
        (this needs H and W known statically).
    Returns: float32 [...] in [0, 1]; 1 for identical images.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    if x.shape.rank is not None and x.shape.rank < 3:
        raise ValueError(f"common/metrics.py ms_ssim: images must be [..., H, W, C], got {x.shape}")
    if power_factors is None:
        if x.shape.rank is None or None in (x.shape[-3], x.shape[-2]):
            raise ValueError("common/metrics.py ms_ssim: unknown H, W; pass power_factors explicitly")
        power_factors = ms_ssim_power_factors(x.shape[-3], x.shape[-2], filter_size)
    return tf.image.ssim_multiscale(
        x, y, max_val, power_factors=tuple(power_factors), filter_size=filter_size
    )


def pairwise_ms_ssim(samples: tf.Tensor, **ms_ssim_kwargs) -> tf.Tensor:
    """Mean MS-SSIM over all pairs of samples of the same grayscale: lower = more diverse.

    PixColor (Guadarrama et al. 2017) fig. 8 measures sample diversity this way.
    Args:
      samples: float [B, N, H, W, C] in [0, 1], N >= 2 samples per grayscale input.
      **ms_ssim_kwargs: passed to `ms_ssim` (max_val, filter_size, power_factors).
    Returns: float32 [B], the mean over the N(N-1)/2 unordered pairs.
    """
    samples = tf.convert_to_tensor(samples, tf.float32)
    if samples.shape.rank != 5 or samples.shape[1] is None or samples.shape[1] < 2:
        raise ValueError(
            f"common/metrics.py pairwise_ms_ssim: samples must be [B, N>=2, H, W, C], got {samples.shape}"
        )
    n = samples.shape[1]
    i, j = np.triu_indices(n, k=1)
    scores = ms_ssim(tf.gather(samples, i, axis=1), tf.gather(samples, j, axis=1), **ms_ssim_kwargs)
    return tf.reduce_mean(scores, axis=1)


# ---------------------------------------------------------------------------------------------------
# Colourfulness, saturation, PSNR
# ---------------------------------------------------------------------------------------------------


def _check_rgb(name: str, rgb: tf.Tensor) -> None:
    if rgb.shape.rank is not None and (rgb.shape.rank < 3 or rgb.shape[-1] != 3):
        raise ValueError(f"common/metrics.py {name}: images must be RGB [..., H, W, 3], got {rgb.shape}")


def colorfulness(rgb: tf.Tensor) -> tf.Tensor:
    """Hasler & Suesstrunk (2003) colourfulness M of each image (used by PIC sec. 4.3).

    On 8-bit-scaled values (rgb * 255, the paper's scale): rg = R - G, yb = (R + G) / 2 - B,
    M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2), statistics over the pixels
    of one image (population std). Their scale: 0 not colourful, ~33 moderately, ~59 quite, ~109 extremely.
    Args: rgb float [..., H, W, 3] in [0, 1]. Returns: float32 [...] >= 0; 0 for any gray image.
    """
    rgb = tf.convert_to_tensor(rgb, tf.float32) * 255.0
    _check_rgb("colorfulness", rgb)
    r, g, b = tf.unstack(rgb, axis=-1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    axes = [-2, -1]
    std = tf.sqrt(tf.math.reduce_variance(rg, axis=axes) + tf.math.reduce_variance(yb, axis=axes))
    mean = tf.sqrt(tf.reduce_mean(rg, axis=axes) ** 2 + tf.reduce_mean(yb, axis=axes) ** 2)
    return std + 0.3 * mean


def mean_saturation(rgb: tf.Tensor) -> tf.Tensor:
    """Mean HSV saturation of each image (PIC sec. 4.3): S = (max - min) / max per pixel, 0 where max = 0.

    Args: rgb float [..., H, W, 3] in [0, 1]. Returns: float32 [...] in [0, 1].
    """
    rgb = tf.convert_to_tensor(rgb, tf.float32)
    _check_rgb("mean_saturation", rgb)
    return tf.reduce_mean(tf.image.rgb_to_hsv(rgb)[..., 1], axis=[-2, -1])


def psnr(x: tf.Tensor, y: tf.Tensor, max_val: float = 1.0) -> tf.Tensor:
    """Peak signal-to-noise ratio per image: 10 log10(max_val^2 / MSE), MSE over H, W and C.

    Args: x, y float [..., H, W, C] in [0, max_val], same shape. Returns: float32 [...] in dB; +inf when
    x == y.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    if x.shape != y.shape or (x.shape.rank is not None and x.shape.rank < 3):
        raise ValueError(f"common/metrics.py psnr: need two [..., H, W, C] alike, got {x.shape}, {y.shape}")
    mse = tf.reduce_mean(tf.square(x - y), axis=[-3, -2, -1])
    return 10.0 * tf.math.log(max_val**2 / mse) / math.log(10.0)
