"""Quantizers: uniform per-channel bins (PixColor) and ColTran's coarse 3-bit RGB symbols.

PixColor (Guadarrama et al. 2017, §3.2) predicts Cb and Cr each as one of 32 bins:
`NeutralCenteredQuantizer(32)` (bins 8 levels wide centred on 0, 8, ..., 128, ..., 248, so neutral gray is a
centre); `UniformQuantizer(n)` splits any range into n equal bins.

ColTran (Kumar et al. 2021, §4 and appendix) models 8-bit RGB reduced to 3 bits per channel, i.e. one
of 512 symbols per pixel. These functions follow the authors' code (google-research `coltran/utils/
base_utils.py`): `convert_bits` drops low bits by truncating division (8 -> 3 bits: v // 32) and
maps back by multiplication (3 -> 8 bits: c * 32, the lower edge of the coarse bin, not its centre);
`labels_to_bins` orders the symbol with R most significant: symbol = R * 64 + G * 8 + B;
`bins_to_labels` inverts it. The colour and spatial upsamplers predict per-channel 8-bit labels in
[0, 256): `to_8bit` / `from_8bit` convert between those and float RGB in [0, 1].

All functions are TensorFlow ops (usable in `tf.data`, graphs and on any batch shape) and accept
numpy arrays or tensors.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class UniformQuantizer:
    """`num_bins` equal-width bins over [low, high], per element (each channel independently).

    encode(x [...]) -> int32 [...] in [0, num_bins): floor((x - low) / width), values outside
        [low, high] clipped into the first / last bin (so low -> 0 and high -> num_bins - 1).
    decode(idx [...]) -> float32 [...]: the bin centre low + (idx + 0.5) * width.
    centers: np.ndarray float32 [num_bins], strictly increasing; edges: float32 [num_bins + 1].
    PixColor §3.2: Cb and Cr each in `UniformQuantizer(32)` over [0, 1].
    """

    def __init__(self, num_bins: int, low: float = 0.0, high: float = 1.0) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
            raise ValueError(
                f"common/quantize.py: UniformQuantizer(num_bins) must be an int >= 1, got {num_bins!r}"
            )
        if not float(high) > float(low):
            raise ValueError(
                f"common/quantize.py: UniformQuantizer needs high > low, got low={low}, high={high}"
            )
        self.num_bins = int(num_bins)
        self.low = float(low)
        self.high = float(high)
        self.width = (self.high - self.low) / self.num_bins
        self.edges = np.linspace(self.low, self.high, self.num_bins + 1).astype(np.float32)
        self.centers = (self.low + (np.arange(self.num_bins) + 0.5) * self.width).astype(np.float32)

    def encode(self, x: tf.Tensor) -> tf.Tensor:
        """Values [...] (float) -> bin indices int32 [...] in [0, num_bins)."""
        x = tf.cast(x, tf.float32)
        idx = tf.floor((x - self.low) * (self.num_bins / (self.high - self.low)))
        return tf.cast(tf.clip_by_value(idx, 0.0, self.num_bins - 1.0), tf.int32)

    def decode(self, idx: tf.Tensor) -> tf.Tensor:
        """Bin indices [...] -> float32 bin centres [...]."""
        return self.low + (tf.cast(idx, tf.float32) + 0.5) * self.width

    def get_config(self) -> dict:
        return {"num_bins": self.num_bins, "low": self.low, "high": self.high}

    def __repr__(self) -> str:
        return f"UniformQuantizer(num_bins={self.num_bins}, low={self.low}, high={self.high})"


def _check_bits(bits: int, name: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise ValueError(f"common/quantize.py: {name}(bits) must be an int in [1, 8], got {bits!r}")
    return int(bits)


def _check_last_dim3(x: tf.Tensor, name: str) -> None:
    if x.shape.rank == 0 or (x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != 3):
        raise ValueError(f"common/quantize.py: {name} expects shape [..., 3], got {x.shape}")


def _no_nan(x: tf.Tensor, name: str) -> tf.Tensor:
    """`x` (as a tensor), with a check that it holds no NaN; cast to int32 a NaN would become -2**31.

    Integer inputs cannot hold NaN and pass unchecked. A float input gets `tf.debugging.Assert`, which
    raises InvalidArgumentError eagerly, in tf.function and in tf.data: one more read of `x`, 1.1-1.15x
    the time of the quantizer alone on float32 [64, 256, 256, 3] (benchmarks/quantize_nan_check.py).
    XLA (jit_compile) drops Assert ops, so there a NaN is not caught.
    """
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        return x
    ok = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(tf.math.is_nan(x))),
        [f"common/quantize.py: {name} got a NaN input (a NaN is not a colour: check what produced it)"],
    )
    with tf.control_dependencies([ok]):
        return tf.identity(x)


def to_coarse(x8: tf.Tensor, bits: int = 3) -> tf.Tensor:
    """8-bit values [..., 3] (int or float in [0, 255]) -> int32 coarse levels [..., 3] in [0, 2**bits).

    ColTran's `convert_bits(x, n_bits_in=8, n_bits_out=bits)`: truncating division by 2**(8 - bits).
    Values are clipped to [0, 255] first so a float 255.0 (or a stray 255.4) stays in range. A NaN is
    an error (InvalidArgumentError naming this function; see `_no_nan`), not a colour.
    """
    bits = _check_bits(bits, "to_coarse")
    x8 = _no_nan(x8, "to_coarse")
    x8 = tf.clip_by_value(tf.cast(x8, tf.float32), 0.0, 255.0)
    return tf.cast(tf.floor(x8 / float(2 ** (8 - bits))), tf.int32)


def coarse_to_8bit(c: tf.Tensor, bits: int = 3) -> tf.Tensor:
    """Coarse levels [..., 3] in [0, 2**bits) -> int32 8-bit representatives c * 2**(8 - bits).

    ColTran's `convert_bits(c, n_bits_in=bits, n_bits_out=8)`: the lower edge of each coarse bin
    (3 bits: 0, 32, ..., 224), which is what ColTran's upsamplers are conditioned on.
    """
    bits = _check_bits(bits, "coarse_to_8bit")
    return tf.cast(c, tf.int32) * (2 ** (8 - bits))


def coarse_to_symbol(c: tf.Tensor, bits: int = 3) -> tf.Tensor:
    """Coarse levels [..., 3] (R, G, B) -> one int32 symbol [...] in [0, 2**(3 * bits)).

    ColTran's `labels_to_bins`: symbol = (R * n + G) * n + B with n = 2**bits (R most significant).
    """
    bits = _check_bits(bits, "coarse_to_symbol")
    c = tf.cast(c, tf.int32)
    _check_last_dim3(c, "coarse_to_symbol(c)")
    n = 2**bits
    return (c[..., 0] * n + c[..., 1]) * n + c[..., 2]


def symbol_to_coarse(s: tf.Tensor, bits: int = 3) -> tf.Tensor:
    """Symbols [...] in [0, 2**(3 * bits)) -> int32 coarse levels [..., 3] (R, G, B); inverse of
    `coarse_to_symbol` (ColTran's `bins_to_labels`)."""
    bits = _check_bits(bits, "symbol_to_coarse")
    s = tf.cast(s, tf.int32)
    n = 2**bits
    return tf.stack([s // (n * n), (s // n) % n, s % n], axis=-1)


def to_8bit(x: tf.Tensor) -> tf.Tensor:
    """Float values in [0, 1] (any shape) -> int32 8-bit labels in [0, 256): round(x * 255), clipped.

    A NaN is an error (InvalidArgumentError naming this function; see `_no_nan`), not a colour.
    """
    x = tf.cast(_no_nan(x, "to_8bit"), tf.float32)
    return tf.cast(tf.clip_by_value(tf.round(x * 255.0), 0.0, 255.0), tf.int32)


def from_8bit(x8: tf.Tensor) -> tf.Tensor:
    """8-bit labels / values (any shape) -> float32 in [0, 1]: x8 / 255; inverse of `to_8bit`."""
    return tf.cast(x8, tf.float32) / 255.0


class NeutralCenteredQuantizer:
    """`num_bins` bins over 8-bit chroma ([0, 1] as value / 255) whose centres include neutral gray, 128.

    Bin k is centred on the 8-bit level k * w with w = 256 / num_bins (32 bins: 0, 8, ..., 128, ..., 248)
    and spans [k * w - w / 2, k * w + w / 2); values beyond the first / last centre fall into the first / last
    bin. A uniform split of [0, 1] into 32 bins has no centre at 128 / 255 (its nearest centres are 120 and
    136 over 255), so pure gray comes back tinted (128 -> RGB (133, 124, 134) through YCbCr); here it comes
    back exactly. PixColor §3.2: 32 bins each for Cb and Cr (the paper does not say where the bins lie).

    encode(x [...]) -> int32 [...] in [0, num_bins); decode(idx [...]) -> float32 [...] = idx * w / 255.
    """

    NEUTRAL_8BIT = 128

    def __init__(self, num_bins: int = 32) -> None:
        valid = isinstance(num_bins, (int, np.integer)) and not isinstance(num_bins, bool)
        if not valid or not 2 <= num_bins <= 256:
            raise ValueError(
                "common/quantize.py: NeutralCenteredQuantizer(num_bins) must be an int in [2, 256], "
                f"got {num_bins!r}"
            )
        if 256 % num_bins or self.NEUTRAL_8BIT % (256 // num_bins):
            raise ValueError(
                f"common/quantize.py: NeutralCenteredQuantizer({num_bins}): 128 is a bin centre only when "
                "num_bins is a power of two"
            )
        self.num_bins = int(num_bins)
        self.step = 256 // self.num_bins  # bin width in 8-bit levels
        self.centers = (np.arange(self.num_bins) * self.step / 255.0).astype(np.float32)
        self.neutral_bin = self.NEUTRAL_8BIT // self.step

    def encode(self, x: tf.Tensor) -> tf.Tensor:
        """Chroma [...] in [0, 1] (float) -> bin indices int32 [...]: the nearest centre (ties go up)."""
        level = tf.cast(x, tf.float32) * 255.0
        idx = tf.floor(level / self.step + 0.5)
        return tf.cast(tf.clip_by_value(idx, 0.0, self.num_bins - 1.0), tf.int32)

    def decode(self, idx: tf.Tensor) -> tf.Tensor:
        """Bin indices [...] -> float32 centres [...] in [0, 1]."""
        return tf.cast(idx, tf.float32) * (self.step / 255.0)

    def get_config(self) -> dict:
        return {"num_bins": self.num_bins}

    def __repr__(self) -> str:
        return f"NeutralCenteredQuantizer(num_bins={self.num_bins})"
