"""PIC's discretized mixture of logistics over the Lab chroma channels (a, b).

PIC (Royer et al. 2017, §3) models the chroma of each pixel with the discretized logistic mixture of
PixelCNN++ (Salimans et al. 2017, §2.1-2.2), conditioned on the luminance and with the b channel coupled
to a:  mu_a = m_a + c0 * L,   mu_b = m_b + c1 * L + c2 * a,
where L = (L_lab - 50) / 50 is the normalised luminance and a, b live on the 256-level grid of [-1, 1]
(level i <-> -1 + 2 i / 255, bin half-width 1/255).

Channel layout of the network output `params` [..., 8K] for K components (PIC's `nn.py`, lab branch):
  [0, K)        mixture logits
  [K, 4K)       coupling coefficients before tanh, coefficient-major: channel K + j K + k holds c_j of
                component k, j = 0 (a <- L), 1 (b <- L), 2 (b <- a)
  [4K, 5K)      means of a          [5K, 6K)  log-scales of a (clamped at -7)
  [6K, 7K)      means of b          [7K, 8K)  log-scales of b (clamped at -7)

Lab <-> grid helpers: a, b in [-128, 127] map to 8-bit levels by +128 (one map for both channels; PIC's
own code offsets a by -0.5 and b by +0.5 instead, which moves nothing by more than half a level).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from common.sampling import fold_seed

__all__ = [
    "MixtureParams",
    "ab_to_grid",
    "grid_to_ab",
    "log_prob",
    "luminance_to_input",
    "mode",
    "quantize_to_grid",
    "sample",
    "split_params",
]

_LOG_SCALE_MIN = -7.0  # PixelCNN++: keeps 1/scale finite
_HALF_BIN = 1.0 / 255.0  # half the width of one of the 256 levels on [-1, 1]
_EDGE = 0.999  # targets beyond +-0.999 are the extreme levels (-1 and 1)
_MIN_BIN_PROB = 1e-5  # below this the CDF difference is imprecise in float32: use the density instead
_NOISE_EPS = 1e-5  # uniform noise is kept in [eps, 1 - eps] so logit(u) and log(-log(u)) stay finite


class MixtureParams(NamedTuple):
    """Mixture parameters of one or more pixels, split from the network output.

    logits: [..., K] mixture logits;  coeffs: [..., 3, K] coupling coefficients in (-1, 1);
    means: [..., 2, K] (a, b) means before coupling;  log_scales: [..., 2, K], >= -7.
    """

    logits: tf.Tensor
    coeffs: tf.Tensor
    means: tf.Tensor
    log_scales: tf.Tensor


def _error(function: str, message: str) -> ValueError:
    return ValueError(f"common/logistic_mixture.py:{function}: {message}")


def split_params(params: tf.Tensor, num_mixtures: int | None = None) -> MixtureParams:
    """Splits the network output [..., 8K] into `MixtureParams` (layout in the module docstring)."""
    params = tf.convert_to_tensor(params)
    channels = params.shape[-1]
    if channels is None or channels % 8 != 0 or channels == 0:
        raise _error("split_params", f"`params` must have 8*K channels (K components), got {params.shape}.")
    k = channels // 8
    if num_mixtures is not None and num_mixtures != k:
        raise _error("split_params", f"`params` has {channels} = 8*{k} channels, not 8*{num_mixtures}.")
    lead = tf.shape(params)[:-1]
    coeffs = tf.tanh(tf.reshape(params[..., k : 4 * k], tf.concat([lead, [3, k]], 0)))
    # [..., channel a|b, mean|log-scale, K]
    chroma = tf.reshape(params[..., 4 * k :], tf.concat([lead, [2, 2, k]], 0))
    return MixtureParams(
        logits=params[..., :k],
        coeffs=coeffs,
        means=chroma[..., 0, :],
        log_scales=tf.maximum(chroma[..., 1, :], _LOG_SCALE_MIN),
    )


def _coupled_means(p: MixtureParams, luminance: tf.Tensor, a: tf.Tensor) -> tf.Tensor:
    """[..., 2, K] means after coupling; luminance and a are [..., 1] (broadcast over components)."""
    mu_a = p.means[..., 0, :] + p.coeffs[..., 0, :] * luminance
    mu_b = p.means[..., 1, :] + p.coeffs[..., 1, :] * luminance + p.coeffs[..., 2, :] * a
    return tf.stack([mu_a, mu_b], axis=-2)


def _check_pixels(params: tf.Tensor, luminance: tf.Tensor, function: str) -> tuple[tf.Tensor, tf.Tensor]:
    params = tf.convert_to_tensor(params, tf.float32)
    luminance = tf.convert_to_tensor(luminance, params.dtype)
    if luminance.shape.rank is not None and (luminance.shape.rank == 0 or luminance.shape[-1] != 1):
        raise _error(function, f"`luminance` must have shape [..., 1] (normalised L), got {luminance.shape}.")
    return params, luminance


def log_prob(params: tf.Tensor, ab: tf.Tensor, luminance: tf.Tensor) -> tf.Tensor:
    """Log-probability (nats) of the (a, b) bins of each pixel, a and b summed.

    Edge cases of PixelCNN++: the lowest level takes the whole mass below its upper edge, the highest the
    mass above its lower edge; where a bin's probability is below 1e-5 the log density at the bin centre
    minus log(127.5) (the log of the bin width) stands in for it.

    Args:
      params: float32 [..., 8K] network output.
      ab: float32 [..., 2] targets on the 256-level grid of [-1, 1] (see `ab_to_grid`).
      luminance: float32 [..., 1] normalised luminance (L - 50) / 50.
    Returns:
      float32 [...] log p(a, b | L) in nats.
    """
    params, luminance = _check_pixels(params, luminance, "log_prob")
    ab = tf.convert_to_tensor(ab, params.dtype)
    if ab.shape.rank is not None and (ab.shape.rank == 0 or ab.shape[-1] != 2):
        raise _error("log_prob", f"`ab` must have shape [..., 2], got {ab.shape}.")
    p = split_params(params)
    x = ab[..., :, None]  # [..., 2, 1]
    centred = x - _coupled_means(p, luminance, ab[..., :1])
    inv_scale = tf.exp(-p.log_scales)
    upper = inv_scale * (centred + _HALF_BIN)
    lower = inv_scale * (centred - _HALF_BIN)
    log_cdf_upper = upper - tf.nn.softplus(upper)  # log sigmoid(upper), for the lowest level
    log_sf_lower = -tf.nn.softplus(lower)  # log (1 - sigmoid(lower)), for the highest level
    bin_prob = tf.sigmoid(upper) - tf.sigmoid(lower)
    mid = inv_scale * centred
    log_density_mid = mid - p.log_scales - 2.0 * tf.nn.softplus(mid) - np.log(127.5)
    # Every branch is finite everywhere (the maximum guards the log), so tf.where keeps gradients finite.
    interior = tf.where(bin_prob > _MIN_BIN_PROB, tf.math.log(tf.maximum(bin_prob, 1e-12)), log_density_mid)
    per_channel = tf.where(x < -_EDGE, log_cdf_upper, tf.where(x > _EDGE, log_sf_lower, interior))
    per_component = tf.reduce_sum(per_channel, axis=-2) + tf.nn.log_softmax(p.logits, axis=-1)
    return tf.reduce_logsumexp(per_component, axis=-1)


def quantize_to_grid(x: tf.Tensor) -> tf.Tensor:
    """Rounds values in [-1, 1] to the nearest of the 256 levels -1 + 2 i / 255 (clipping first)."""
    level = tf.round((tf.clip_by_value(x, -1.0, 1.0) + 1.0) * 127.5)
    return level / 127.5 - 1.0


def _select(values: tf.Tensor, one_hot: tf.Tensor) -> tf.Tensor:
    """values [..., C, K] or [..., K], one_hot [..., K] -> the chosen component, [..., C] or [...]."""
    if values.shape.rank == one_hot.shape.rank:
        return tf.reduce_sum(values * one_hot, axis=-1)
    return tf.reduce_sum(values * one_hot[..., None, :], axis=-1)


def _couple_and_clip(
    p: MixtureParams, one_hot: tf.Tensor, offsets: tf.Tensor | float, luminance: tf.Tensor, quantize: bool
) -> tf.Tensor:
    """Chosen component's means + offsets ([..., 2] or 0), coupled a then b, clipped to [-1, 1]."""
    means = _select(p.means, one_hot) + offsets
    coeffs = _select(p.coeffs, one_hot)
    lum = luminance[..., 0]
    finish = quantize_to_grid if quantize else (lambda v: tf.clip_by_value(v, -1.0, 1.0))
    a = finish(means[..., 0] + coeffs[..., 0] * lum)
    b = finish(means[..., 1] + coeffs[..., 1] * lum + coeffs[..., 2] * a)
    return tf.stack([a, b], axis=-1)


def sample(
    params: tf.Tensor,
    luminance: tf.Tensor,
    *,
    seed: int | tf.Tensor | None = None,
    mixture_uniform: tf.Tensor | None = None,
    logistic_uniform: tf.Tensor | None = None,
    temperature: float | tf.Tensor = 1.0,
    quantize: bool = True,
) -> tf.Tensor:
    """Draws (a, b) per pixel: component by Gumbel-max, logistic by inverse CDF, coupling a then b.

    Give either `seed` (stateless TF random ops) or both noise tensors (e.g. from
    `common.sampling.hashed_uniform`, for TFLite graphs without random ops).

    Args:
      params: float32 [..., 8K] network output.
      luminance: float32 [..., 1] normalised luminance.
      seed: int or int tensor [2].
      mixture_uniform: float32 [..., K] uniforms in (0, 1) for the component choice.
      logistic_uniform: float32 [..., 2] uniforms in (0, 1) for the a and b draws.
      temperature: multiplies the logistic scales (PIC's `scale_var`); 0 gives the chosen component's mean.
      quantize: round a to the 256-level grid before it enters b's coupling, and b too, so samples follow
        exactly the distribution `log_prob` scores (bins above 1e-5). False: continuous, like PIC.
    Returns:
      float32 [..., 2], (a, b) in [-1, 1].
    """
    params, luminance = _check_pixels(params, luminance, "sample")
    given_noise = (mixture_uniform is not None, logistic_uniform is not None)
    if (seed is None and not all(given_noise)) or (seed is not None and any(given_noise)):
        raise _error("sample", "give either `seed` or both `mixture_uniform` and `logistic_uniform`.")
    if isinstance(temperature, (int, float)) and temperature < 0:
        raise _error("sample", f"`temperature` must be >= 0, got {temperature}.")
    p = split_params(params)
    if seed is not None:
        lead = tf.shape(params)[:-1]
        mixture_uniform = tf.random.stateless_uniform(
            tf.concat([lead, tf.shape(p.logits)[-1:]], 0), seed=fold_seed(seed, 0)
        )
        logistic_uniform = tf.random.stateless_uniform(tf.concat([lead, [2]], 0), seed=fold_seed(seed, 1))
    u_mix = tf.clip_by_value(tf.cast(mixture_uniform, params.dtype), _NOISE_EPS, 1.0 - _NOISE_EPS)
    u_log = tf.clip_by_value(tf.cast(logistic_uniform, params.dtype), _NOISE_EPS, 1.0 - _NOISE_EPS)
    num_mixtures = p.logits.shape[-1]
    choice = tf.argmax(p.logits - tf.math.log(-tf.math.log(u_mix)), axis=-1, output_type=tf.int32)
    one_hot = tf.one_hot(choice, num_mixtures, dtype=params.dtype)
    scales = tf.exp(_select(p.log_scales, one_hot))
    offsets = temperature * scales * (tf.math.log(u_log) - tf.math.log(1.0 - u_log))
    return _couple_and_clip(p, one_hot, offsets, luminance, quantize)


def mode(params: tf.Tensor, luminance: tf.Tensor, *, quantize: bool = True) -> tf.Tensor:
    """The mean (with coupling, clipped) of the component of highest weight: deterministic decoding.

    Args as `sample`. Returns float32 [..., 2], (a, b) in [-1, 1].
    """
    params, luminance = _check_pixels(params, luminance, "mode")
    p = split_params(params)
    one_hot = tf.one_hot(tf.argmax(p.logits, axis=-1), p.logits.shape[-1], dtype=params.dtype)
    return _couple_and_clip(p, one_hot, 0.0, luminance, quantize)


def ab_to_grid(ab: tf.Tensor) -> tf.Tensor:
    """Lab (a, b) floats, roughly [-128, 127], to the nearest of the 256 levels of [-1, 1] (clipped)."""
    level = tf.clip_by_value(tf.round(tf.convert_to_tensor(ab, tf.float32) + 128.0), 0.0, 255.0)
    return level / 127.5 - 1.0


def grid_to_ab(x: tf.Tensor) -> tf.Tensor:
    """Inverse of `ab_to_grid`: [-1, 1] to Lab a or b in [-128, 127]."""
    return (tf.convert_to_tensor(x, tf.float32) + 1.0) * 127.5 - 128.0


def luminance_to_input(lightness: tf.Tensor) -> tf.Tensor:
    """Lab L in [0, 100] to the network's normalised luminance (L - 50) / 50 in [-1, 1]."""
    return (tf.convert_to_tensor(lightness, tf.float32) - 50.0) / 50.0
