"""Categorical sampling with temperature and top-k, reproducible from a seed.

Two samplers with the same arguments and the same distribution, softmax(top_k(logits) / temperature):

* `sample_categorical`: TensorFlow's stateless ops (`tf.random.stateless_categorical`). Use it in training,
  evaluation and SavedModel export. In a `tf.while_loop`, derive one seed per step with `fold_seed`.
* `sample_categorical_hashed`: Gumbel-max where the noise comes from a counter-based integer hash of
  (seed, step, element index), written with int32 ops that TFLite runs as builtins (multiply with
  wraparound, add, bitwise_xor, right_shift, cast). Stateless random ops need Flex ops on TFLite; this one
  does not. Use it in graphs meant for TFLite export.

Temperature and top-k follow ColTran (Kumar et al. 2021), appendix E: logits are divided by the
temperature; top-k keeps the k largest logits (ties with the k-th are kept too); temperature 0 is argmax.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = [
    "fold_seed",
    "hashed_uniform",
    "sample_categorical",
    "sample_categorical_hashed",
]

# Multipliers of Wellons' "lowbias32" integer hash (github.com/skeeto/hash-prospector), as int32 bit
# patterns: multiplication modulo 2**32 does not care about signedness.
_MUL1 = np.int32(0x7FEB352D)
_MUL2 = np.int32(0x846CA68B - (1 << 32))
_GOLDEN = np.int32(0x9E3779B9 - (1 << 32))  # 2**32 / golden ratio: decorrelates the hashed words.


def _seed_pair(seed: int | tf.Tensor, dtype: tf.DType, where: str) -> tf.Tensor:
    """Returns the seed as a [2] tensor of `dtype`: an int becomes [seed, 0]."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer, tf.Tensor, tf.Variable, np.ndarray)):
        raise TypeError(f"common/sampling.py:{where}: `seed` must be an int or an int tensor of shape [2], "
                        f"got {type(seed).__name__}.")
    if isinstance(seed, (int, np.integer)):
        if not -(2**31) <= int(seed) < 2**31:
            raise ValueError(f"common/sampling.py:{where}: `seed` must fit in int32, got {seed}.")
        return tf.constant([int(seed), 0], dtype)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"common/sampling.py:{where}: `seed` tensor must be int32 or int64, "
                        f"got {seed.dtype.name}.")
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros_like(seed)])
    elif seed.shape.rank != 1 or seed.shape[0] not in (2, None):
        raise ValueError(f"common/sampling.py:{where}: `seed` tensor must have shape [2] (or be a scalar), "
                         f"got {seed.shape}.")
    return tf.cast(seed, dtype)


def _check_args(logits: tf.Tensor, temperature, top_k: int, where: str) -> tf.Tensor:
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise TypeError(f"common/sampling.py:{where}: `logits` must be floating point, "
                        f"got {logits.dtype.name}.")
    if logits.shape.rank is not None and logits.shape.rank == 0:
        raise ValueError(f"common/sampling.py:{where}: `logits` must have shape [..., C], got a scalar.")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ValueError(f"common/sampling.py:{where}: `top_k` must be an int >= 0 (0 = no truncation), "
                         f"got {top_k!r}.")
    if isinstance(temperature, (int, float, np.number)) and temperature < 0:
        raise ValueError(f"common/sampling.py:{where}: `temperature` must be >= 0 (0 = argmax), "
                         f"got {temperature}.")
    return logits


def _truncate_top_k(logits: tf.Tensor, top_k: int) -> tf.Tensor:
    """Sets every logit below the k-th largest of its row to -inf; top_k 0 or >= C changes nothing."""
    num_classes = logits.shape[-1]
    if top_k == 0 or (num_classes is not None and top_k >= num_classes):
        return logits
    kth = tf.math.top_k(logits, k=top_k, sorted=True).values[..., top_k - 1 : top_k]
    return tf.where(logits < kth, tf.constant(-np.inf, logits.dtype), logits)


def _argmax(logits: tf.Tensor) -> tf.Tensor:
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def _tempered(logits: tf.Tensor, temperature) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Returns (logits / temperature, is_greedy); is_greedy is None when temperature is a Python number."""
    if isinstance(temperature, (int, float, np.number)):
        return logits / tf.cast(temperature, logits.dtype), None
    temperature = tf.cast(temperature, logits.dtype)
    # A tensor temperature may be 0 at run time: divide by something safe and select argmax there.
    safe = tf.where(temperature > 0, temperature, tf.ones_like(temperature))
    return logits / safe, temperature <= 0


def fold_seed(seed: int | tf.Tensor, step: int | tf.Tensor) -> tf.Tensor:
    """Derives a new stateless seed from `seed` and a step counter (e.g. the autoregressive step).

    Args:
      seed: int, or int32/int64 tensor of shape [2] (or scalar).
      step: int or int scalar tensor.
    Returns:
      int64 tensor [2], usable as `seed` of `sample_categorical` or any `tf.random.stateless_*` op.
    """
    seed = _seed_pair(seed, tf.int64, "fold_seed")
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(step, tf.int64))


def sample_categorical(
    logits: tf.Tensor,
    *,
    seed: int | tf.Tensor,
    temperature: float | tf.Tensor = 1.0,
    top_k: int = 0,
) -> tf.Tensor:
    """Draws one class per row from softmax(top_k(logits) / temperature) with stateless TF ops.

    Args:
      logits: float [..., C], any leading dims (C static when top_k > 0).
      seed: int, or int32/int64 tensor of shape [2]; the same seed gives the same samples.
      temperature: >= 0; 0 returns the argmax. A scalar tensor is allowed (<= 0 at run time: argmax).
      top_k: keep only the k largest logits per row; 0 keeps all.
    Returns:
      int32 [...], class indices in [0, C).
    """
    logits = _check_args(logits, temperature, top_k, "sample_categorical")
    seed = _seed_pair(seed, tf.int64, "sample_categorical")
    if isinstance(temperature, (int, float, np.number)) and temperature == 0:
        return _argmax(logits)
    logits = _truncate_top_k(logits, top_k)
    scaled, is_greedy = _tempered(logits, temperature)
    flat = tf.reshape(scaled, [-1, tf.shape(scaled)[-1]])
    drawn = tf.random.stateless_categorical(flat, 1, seed=seed, dtype=tf.int32)
    drawn = tf.reshape(drawn, tf.shape(logits)[:-1])
    if is_greedy is None:
        return drawn
    return tf.where(is_greedy, _argmax(logits), drawn)


def _logical_right_shift(x: tf.Tensor, bits: int) -> tf.Tensor:
    """x >>> bits on int32 bit patterns, built from an arithmetic shift (TFLite has no bitwise_and)."""
    shifted = tf.bitwise.right_shift(x, tf.constant(bits, tf.int32))
    # For negative x the arithmetic shift fills the top `bits` bits with ones; (x >> 31) * 2**(32 - bits)
    # is exactly that mask (0 for x >= 0), so xor clears it.
    sign = tf.bitwise.right_shift(x, tf.constant(31, tf.int32))
    return tf.bitwise.bitwise_xor(shifted, sign * tf.constant(1 << (32 - bits), tf.int32))


def _mix32(x: tf.Tensor) -> tf.Tensor:
    """Wellons' lowbias32 hash: a bijection of 32-bit words with good avalanche."""
    x = tf.bitwise.bitwise_xor(x, _logical_right_shift(x, 16))
    x = x * _MUL1
    x = tf.bitwise.bitwise_xor(x, _logical_right_shift(x, 15))
    x = x * _MUL2
    return tf.bitwise.bitwise_xor(x, _logical_right_shift(x, 16))


def _hash_bits(shape: tf.Tensor, seed: int | tf.Tensor, step: int | tf.Tensor, where: str) -> tf.Tensor:
    """int32 hash words of shape `shape`, one per flat index, from (seed, step, index)."""
    seed = _seed_pair(seed, tf.int32, where)
    step = tf.cast(step, tf.int32)
    key = _mix32(seed[0] + _GOLDEN)
    key = _mix32(tf.bitwise.bitwise_xor(key, seed[1]) + _GOLDEN)
    key = _mix32(tf.bitwise.bitwise_xor(key, step))
    index = tf.range(tf.reduce_prod(shape), dtype=tf.int32)
    # Two rounds: a bijection in the index for a fixed key, and well mixed across keys.
    bits = _mix32(tf.bitwise.bitwise_xor(_mix32(index * _GOLDEN + key), key))
    return tf.reshape(bits, shape)


def hashed_uniform(
    shape: tf.Tensor | list[int], *, seed: int | tf.Tensor, step: int | tf.Tensor = 0
) -> tf.Tensor:
    """Uniform float32 noise strictly inside (0, 1) from a counter-based hash; TFLite builtin ops only.

    Args:
      shape: output shape (list of ints or int32 tensor).
      seed: int, or int32/int64 tensor of shape [2] (int64 is truncated to its low 32 bits).
      step: int32 scalar (e.g. the autoregressive step of a while loop).
    Returns:
      float32 `shape`, values (2 j + 1) / 2**24 for j in [0, 2**23): never 0 or 1, exact in float32.
    """
    shape = tf.cast(tf.convert_to_tensor(shape), tf.int32)
    bits = _hash_bits(shape, seed, step, "hashed_uniform")
    top23 = _logical_right_shift(bits, 9)
    return (tf.cast(top23, tf.float32) * 2.0 + 1.0) * (1.0 / (1 << 24))


def sample_categorical_hashed(
    logits: tf.Tensor,
    *,
    seed: int | tf.Tensor,
    step: int | tf.Tensor,
    temperature: float | tf.Tensor = 1.0,
    top_k: int = 0,
) -> tf.Tensor:
    """Like `sample_categorical`, by Gumbel-max on hashed noise; converts to TFLite with builtin ops only.

    The Gumbel noise of element i (flat position in `logits`) is -log(-log(u)) with u = hashed_uniform of
    (seed, step, i); argmax(logits / temperature + noise) is then a draw from softmax(logits / temperature).

    Args:
      logits: float [..., C], any leading dims.
      seed: int, or int32/int64 tensor of shape [2].
      step: int32 scalar tensor (or int): the autoregressive step, so a loop body draws fresh noise.
      temperature: >= 0; 0 returns the argmax. A scalar tensor is allowed (<= 0 at run time: argmax).
      top_k: keep only the k largest logits per row; 0 keeps all.
    Returns:
      int32 [...], class indices in [0, C).
    """
    logits = _check_args(logits, temperature, top_k, "sample_categorical_hashed")
    if isinstance(temperature, (int, float, np.number)) and temperature == 0:
        return _argmax(logits)
    logits = _truncate_top_k(logits, top_k)
    scaled, is_greedy = _tempered(logits, temperature)
    u = hashed_uniform(tf.shape(logits), seed=seed, step=step)
    gumbel = -tf.math.log(-tf.math.log(u))
    drawn = _argmax(scaled + tf.cast(gumbel, scaled.dtype))
    if is_greedy is None:
        return drawn
    return tf.where(is_greedy, _argmax(logits), drawn)
