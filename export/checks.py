"""In-graph request checks for exported signatures: a bad request fails with one clear message from the
signature itself (an InvalidArgumentError naming the input and what is wrong), not deep in a kernel.

Each function returns its input passed through `tf.identity` under the assert, so whatever reads it runs
only after the check. With `enabled=False` (TFLite, which drops asserts) they return the input as is.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

__all__ = ["check_image", "check_range", "check_scalar_at_least", "check_scalar_in"]


def _checked(x: tf.Tensor, conditions: Sequence[tuple[tf.Tensor, list]]) -> tf.Tensor:
    deps = []
    for condition, message in conditions:
        with tf.control_dependencies(deps):
            deps = [tf.debugging.Assert(condition, message, summarize=8)]
    with tf.control_dependencies(deps):
        return tf.identity(x)


def check_image(image: tf.Tensor, name: str, channels: Sequence[int], *, enabled: bool = True) -> tf.Tensor:
    """image [batch, height, width, C] with C in `channels` and no empty dimension; else an error
    "<name> must be <dtype> [batch, height, width, C]; got shape [...]"."""
    if not enabled:
        return tf.ensure_shape(image, [None, None, None, None])
    allowed = " or ".join(str(c) for c in channels)
    what = f"{name} must be {image.dtype.name} [batch, height, width, {allowed}]"
    rank_ok = tf.equal(tf.rank(image), 4)
    image = _checked(image, [(rank_ok, [f"{what} (rank 4); got shape", tf.shape(image)])])
    shape = tf.shape(image)
    channel_ok = tf.reduce_any(tf.equal(shape[3], tf.constant(list(channels), tf.int32)))
    nonempty = tf.reduce_all(shape[:3] > 0)
    image = _checked(
        image,
        [
            (channel_ok, [f"{what}; got channels", shape[3], "in shape", shape]),
            (nonempty, [f"{name} is empty: batch, height and width must be >= 1; got shape", shape]),
        ],
    )
    image.set_shape([None, None, None, None])  # rank checked above
    return image


def check_scalar_at_least(x: tf.Tensor, name: str, minimum: float, *, enabled: bool = True) -> tf.Tensor:
    """A scalar x >= minimum (and finite, for floats); else "<name> must be >= <minimum>; got <x>"."""
    if not enabled:
        return x
    ok = x >= tf.cast(minimum, x.dtype)
    if x.dtype.is_floating:
        ok = tf.logical_and(ok, tf.math.is_finite(x))
    return _checked(x, [(ok, [f"{name} must be a finite number >= {minimum}; got", x])])


def check_scalar_in(
    x: tf.Tensor, name: str, values: Sequence[int], hint: str, *, enabled: bool = True
) -> tf.Tensor:
    """A scalar x among `values`; else "<name> must be one of [...] (<hint>); got <x>"."""
    if not enabled:
        return x
    ok = tf.reduce_any(tf.equal(x, tf.constant(list(values), x.dtype)))
    return _checked(x, [(ok, [f"{name} must be one of {list(values)} ({hint}); got", x])])


def check_range(
    x: tf.Tensor, name: str, low: int, high: int, what: str, *, enabled: bool = True
) -> tf.Tensor:
    """Every value of x in [low, high]; else "<name> values must be in low..high (<what>); got min, max"."""
    if not enabled:
        return x
    lo, hi = tf.reduce_min(x), tf.reduce_max(x)
    ok = tf.logical_and(lo >= tf.cast(low, x.dtype), hi <= tf.cast(high, x.dtype))
    return _checked(x, [(ok, [f"{name} values must be in {low}..{high} ({what}); got min, max", lo, hi])])
