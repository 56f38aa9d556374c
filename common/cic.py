"""The 313 quantized Lab (a, b) bins of Zhang, Isola & Efros 2016, "Colorful Image Colorization" (CIC).

Encoding (§2.1): the ab plane is quantized on a grid of step 10 and only the Q = 313 in-gamut bins are
kept (the authors' released table, bundled as `common/assets/cic_ab_bins_313.txt`). A colour is encoded
hard (nearest bin) or soft (its k nearest bins weighted by a Gaussian kernel of sigma 5, normalised).
The paper says k = 5; the authors' code uses 10, our default.

Class rebalancing (§2.2): w ∝ ((1 - λ) p̃ + λ / Q)^-1 with p̃ the empirical bin prior smoothed by a
Gaussian (sigma 5) in ab space, λ = 0.5, normalised so that E_p̃[w] = Σ_q p̃_q w_q = 1.

Decoding (§2.3): mode (centre of the most probable bin), mean (expectation over bin centres) or annealed
mean: softmax(log p / T) then the expectation, T = 0.38 (T -> 0 gives the mode, T = 1 the mean).

encode_hard / encode_soft / decode are TensorFlow ops (any leading shape, e.g. [B, H, W, 2], usable in
`tf.data`); the prior and the weights are numpy.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

NUM_BINS = 313
_BINS_FILE = Path(__file__).resolve().parent / "assets" / "cic_ab_bins_313.txt"
_CHUNK = 1 << 16  # pixels per numpy nearest-bin batch (a [65536, 313] distance matrix, ~160 MB float64)


@functools.lru_cache(maxsize=1)
def _load_bins() -> np.ndarray:
    try:
        bins = np.loadtxt(_BINS_FILE, comments="#", dtype=np.float32, ndmin=2)
    except OSError as err:
        raise FileNotFoundError(
            f"common/cic.py: the bin table {_BINS_FILE} is missing from the package"
        ) from err
    if bins.shape != (NUM_BINS, 2):
        raise ValueError(
            f"common/cic.py: {_BINS_FILE} must hold {NUM_BINS} lines 'a b', got shape {bins.shape}"
        )
    bins.setflags(write=False)
    return bins


def ab_bins() -> np.ndarray:
    """The 313 bin centres, np.ndarray float32 [313, 2] of (a, b), in the authors' order (a copy)."""
    return _load_bins().copy()


def _as_ab(ab: tf.Tensor, name: str) -> tf.Tensor:
    ab = tf.cast(tf.convert_to_tensor(ab), tf.float32)
    if ab.shape.rank == 0 or (ab.shape.rank is not None and ab.shape[-1] is not None and ab.shape[-1] != 2):
        raise ValueError(f"common/cic.py: {name} expects Lab (a, b) of shape [..., 2], got {ab.shape}")
    return ab


def _squared_distances(ab: tf.Tensor) -> tf.Tensor:
    """ab [..., 2] -> squared distances to every bin centre [..., 313] (>= 0)."""
    centres = tf.constant(_load_bins())
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2 keeps memory at [..., 313] instead of [..., 313, 2].
    cross = tf.tensordot(ab, tf.transpose(centres), axes=[[-1], [0]])
    d2 = (
        tf.reduce_sum(ab * ab, axis=-1, keepdims=True)
        - 2.0 * cross
        + tf.reduce_sum(centres * centres, axis=-1)
    )
    return tf.maximum(d2, 0.0)


def encode_hard(ab: tf.Tensor) -> tf.Tensor:
    """Lab (a, b) [..., 2] -> int32 [...] index of the nearest of the 313 bins."""
    ab = _as_ab(ab, "encode_hard(ab)")
    return tf.argmin(_squared_distances(ab), axis=-1, output_type=tf.int32)


def encode_soft(ab: tf.Tensor, k: int = 10, sigma: float = 5.0) -> tf.Tensor:
    """Lab (a, b) [..., 2] -> float32 [..., 313]: the k nearest bins weighted by exp(-d^2 / (2 sigma^2)).

    Each distribution sums to 1 and has exactly k non-zero entries, the largest on the hard bin.
    CIC §2.1 (k = 5 in the paper, 10 in the authors' code; sigma = 5).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= NUM_BINS:
        raise ValueError(f"common/cic.py: encode_soft(k) must be an int in [1, {NUM_BINS}], got {k!r}")
    if not sigma > 0:
        raise ValueError(f"common/cic.py: encode_soft(sigma) must be > 0, got {sigma!r}")
    ab = _as_ab(ab, "encode_soft(ab)")
    neg_d2, idx = tf.math.top_k(-_squared_distances(ab), k=int(k))
    # Shift by the nearest distance so colours far from every bin do not underflow to 0 / 0.
    logits = (neg_d2 - neg_d2[..., :1]) / (2.0 * float(sigma) ** 2)
    weights = tf.nn.softmax(logits, axis=-1)
    lead_shape = tf.shape(ab)[:-1]
    flat_idx = tf.reshape(idx, [-1, int(k)])
    rows = tf.broadcast_to(tf.range(tf.shape(flat_idx)[0])[:, None], tf.shape(flat_idx))
    dense = tf.scatter_nd(
        tf.stack([rows, flat_idx], axis=-1),
        tf.reshape(weights, [-1, int(k)]),
        tf.stack([tf.shape(flat_idx)[0], NUM_BINS]),
    )
    return tf.reshape(dense, tf.concat([lead_shape, [NUM_BINS]], axis=0))


def decode(logits: tf.Tensor, method: str = "annealed_mean", temperature: float = 0.38) -> tf.Tensor:
    """Bin scores [..., 313] (logits or log-probabilities) -> Lab (a, b) [..., 2] float32.

    method: "mode" (centre of the argmax bin), "mean" (expectation of the bin centres under
    softmax(logits)) or "annealed_mean" (expectation under softmax(logits / temperature), CIC §2.3,
    T = 0.38; temperature 0 gives the mode, 1 the mean). -inf logits (zero probability) are allowed.
    """
    logits = tf.cast(tf.convert_to_tensor(logits), tf.float32)
    last = logits.shape[-1] if logits.shape.rank else None
    if logits.shape.rank == 0 or (last is not None and last != NUM_BINS):
        raise ValueError(f"common/cic.py: decode(logits) expects shape [..., {NUM_BINS}], got {logits.shape}")
    centres = tf.constant(_load_bins())
    if method == "annealed_mean" and isinstance(temperature, (int, float)):
        if temperature < 0:
            raise ValueError(f"common/cic.py: decode(temperature) must be >= 0, got {temperature}")
        if temperature == 0:
            method = "mode"
    if method == "mode":
        return tf.gather(centres, tf.argmax(logits, axis=-1, output_type=tf.int32))
    if method == "mean":
        probs = tf.nn.softmax(logits, axis=-1)
    elif method == "annealed_mean":
        probs = tf.nn.softmax(logits / tf.cast(temperature, tf.float32), axis=-1)
    else:
        raise ValueError(
            f"common/cic.py: decode(method) must be 'mode', 'mean' or 'annealed_mean', got {method!r}"
        )
    return tf.tensordot(probs, centres, axes=[[-1], [0]])


# ---------------------------------------------------------------------------------------------------
# Prior and class rebalancing (numpy)
# ---------------------------------------------------------------------------------------------------


def nearest_bin_np(ab: np.ndarray) -> np.ndarray:
    """numpy twin of `encode_hard` (float64 distances, chunked): ab [..., 2] -> int64 [...]."""
    ab = np.asarray(ab, dtype=np.float64)
    if ab.ndim == 0 or ab.shape[-1] != 2:
        raise ValueError(f"common/cic.py: nearest_bin_np(ab) expects shape [..., 2], got {ab.shape}")
    flat = ab.reshape(-1, 2)
    centres = _load_bins().astype(np.float64)
    out = np.empty(flat.shape[0], dtype=np.int64)
    for start in range(0, flat.shape[0], _CHUNK):
        chunk = flat[start : start + _CHUNK]
        d2 = ((chunk[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
        out[start : start + _CHUNK] = d2.argmin(axis=-1)
    return out.reshape(ab.shape[:-1])


def _to_numpy(element: Any, key: str | None) -> np.ndarray:
    if key is not None:
        if not isinstance(element, dict) or key not in element:
            raise ValueError(f"common/cic.py: empirical_prior(key={key!r}) but an element has no such key")
        element = element[key]
    elif isinstance(element, dict):
        raise ValueError("common/cic.py: empirical_prior got dict elements; pass key= naming the ab entry")
    return element.numpy() if hasattr(element, "numpy") else np.asarray(element)


def empirical_prior(data: Iterable[Any] | tf.data.Dataset, key: str | None = None) -> np.ndarray:
    """Empirical probability of each hard bin over all pixels: np.float64 [313], sums to 1.

    data: an iterable of Lab ab arrays / tensors of any shape [..., 2] (images [H, W, 2] or batches), or a
    tf.data.Dataset of them; with `key`, elements are dicts and `element[key]` holds the ab values.
    Unsmoothed: `rebalancing_weights` smooths it (CIC §2.2).
    """
    counts = np.zeros(NUM_BINS, dtype=np.int64)
    if isinstance(data, tf.data.Dataset):
        data = data.as_numpy_iterator()
    for element in data:
        counts += np.bincount(nearest_bin_np(_to_numpy(element, key)).ravel(), minlength=NUM_BINS)
    total = counts.sum()
    if total == 0:
        raise ValueError("common/cic.py: empirical_prior got no pixels (empty data)")
    return counts / total


def _check_prior(prior: np.ndarray, name: str) -> np.ndarray:
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (NUM_BINS,) or not np.all(np.isfinite(prior)) or np.any(prior < 0) or prior.sum() <= 0:
        raise ValueError(
            f"common/cic.py: {name}(prior) must be [{NUM_BINS}] non-negative with a positive sum, "
            f"got shape {prior.shape}"
        )
    return prior / prior.sum()


def smooth_prior(prior: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """Gaussian smoothing of a bin prior in ab space: np.float64 [313], sums to 1 (sigma 0: unchanged).

    Each bin's mass is spread over the 313 bins in proportion to exp(-|c_i - c_j|^2 / (2 sigma^2)), so
    no mass leaves the gamut (with sigma 5 a grid neighbour 10 away gets e^-2 of the bin's own share).
    """
    prior = _check_prior(prior, "smooth_prior")
    if sigma < 0:
        raise ValueError(f"common/cic.py: smooth_prior(sigma) must be >= 0, got {sigma}")
    if sigma == 0:
        return prior
    centres = _load_bins().astype(np.float64)
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    kernel = np.exp(-d2 / (2.0 * sigma**2))
    kernel /= kernel.sum(axis=0, keepdims=True)  # column j: where bin j's mass goes
    smoothed = kernel @ prior
    return smoothed / smoothed.sum()


def rebalancing_weights(prior: np.ndarray, lam: float = 0.5, sigma: float = 5.0) -> np.ndarray:
    """Class-rebalancing weights w [313] (np.float64) from an (unsmoothed) bin prior; CIC §2.2 eq. 4.

    w ∝ ((1 - lam) * p̃ + lam / 313)^-1 with p̃ = smooth_prior(prior, sigma), normalised so that
    Σ_q p̃_q w_q = 1. Rarer bins get larger weights; lam = 1 gives all ones.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"common/cic.py: rebalancing_weights(lam) must be in [0, 1], got {lam}")
    smoothed = smooth_prior(prior, sigma)
    mix = (1.0 - lam) * smoothed + lam / NUM_BINS
    if np.any(mix <= 0):
        raise ValueError("common/cic.py: rebalancing_weights with lam=0 needs every bin to have prior > 0")
    weights = 1.0 / mix
    return weights / np.sum(smoothed * weights)
