"""CIC's export spec (export/spec.py): the whole pipeline, its likelihood, and square TFLite variants.

Signatures (R = the model's resolution, h = R/4; B dynamic; N = num_samples):
  serving_default   image uint8 [B, H, W, 1 or 3] (any H, W), num_samples, seed, temperature, top_k
                    -> colorizations uint8 [B, N, H, W, 3], uncertainty float32 [B, N, h, h]
                    luma (BT.601) of the whole frame area-resized to R x R -> the network -> the decode of
                    `CICColorizer.sample` (ab upsampled x4 to R), ab resized (bilinear, antialiased) to
                    H x W and joined with the input's own lightness: Lab L of an RGB input, of the gray for
                    a 1-channel one (the authors' demo keeps the photo's L the same way).
  log_prob          image uint8 [B, H, W, 3] -> bits_per_dim float32 [B]: the 313-bin likelihood of the
                    central square crop area-resized to R (the model's evaluation preprocessing).
  log_prob_square   image uint8 [B, R, R, 3] -> bits_per_dim: the same without resizing (TFLite).
  colorize_square   gray uint8 [B, R, R, 1], num_samples, seed, temperature, top_k
                    -> rgb uint8 [B, N, R, R, 3], uncertainty: `sample` on a square gray (TFLite; area and
                    antialiased resizes are not TFLite builtins, so a phone app resizes).

CIC is deterministic: `seed` is accepted (every model's signatures take it) and unused; the N
colourings are equal. `temperature` scales the paper's T = 0.38 (0 = mode), `top_k` in 0..313 keeps the
k most probable bins (0 = all): both are request inputs, no branch per value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from cic import preprocessing
from common import cic
from common.color import lab_to_rgb, rgb_to_gray, rgb_to_gray_np, rgb_to_lab
from export import checks, spec
from export.spec import ExportOptions, ExportSpec, model_variables

NAME = "cic"


def _to_uint8(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.clip_by_value(tf.round(x * 255.0), 0.0, 255.0), tf.uint8)


def export_spec(models: dict[str, Any], *, version: int, options: ExportOptions | None = None) -> ExportSpec:
    """CIC's ExportSpec from {"cic": model} (see the module docstring)."""
    if set(models) != {NAME}:
        raise ValueError(f"cic export needs one --workdir holding a 'cic' model; got {sorted(models)}")
    model = models[NAME]
    options = options or ExportOptions()
    on = options.checks
    r, h = model.resolution, model.output_size
    luma = tf.constant(rgb_to_gray_np(np.eye(3))[:, 0], tf.float32)  # BT.601 weights [3]

    def scalars(num_samples, temperature, top_k):
        return (
            checks.check_scalar_at_least(num_samples, "num_samples", 1, enabled=on),
            checks.check_scalar_at_least(temperature, "temperature", 0.0, enabled=on),
            checks.check_range(top_k, "top_k", 0, cic.NUM_BINS, "0 = all bins", enabled=on),
        )

    def decode(gray, num_samples, temperature, top_k):
        """gray [B, R, R, 1] -> (ab [B, R, R, 2], uncertainty [B, N, h, h]), as `model.sample`."""
        out = model.sample(gray, num_samples=num_samples, temperature=temperature, top_k=top_k)
        return out["ab"][:, 0], out["uncertainty"], out["rgb"]

    def serving_default(image, num_samples, seed, temperature, top_k):
        del seed  # deterministic
        image = checks.check_image(image, "image", (1, 3), enabled=on)
        num_samples, temperature, top_k = scalars(num_samples, temperature, top_k)
        x = tf.cast(image, tf.float32) / 255.0
        size = tf.shape(image)[1:3]
        rgb_in = tf.cond(
            tf.shape(image)[-1] == 3, lambda: x[..., :3], lambda: tf.tile(x[..., :1], [1, 1, 1, 3])
        )
        rgb_in = tf.ensure_shape(rgb_in, [None, None, None, 3])
        y = tf.reduce_sum(rgb_in * luma, axis=-1, keepdims=True)  # [B, H, W, 1]
        gray = tf.clip_by_value(tf.image.resize(y, (r, r), method="area"), 0.0, 1.0)
        ab, uncertainty, _ = decode(gray, num_samples, temperature, top_k)
        ab_full = tf.image.resize(ab, size, method="bilinear", antialias=True)
        lab = tf.concat([rgb_to_lab(rgb_in)[..., :1], ab_full], axis=-1)
        joined = _to_uint8(lab_to_rgb(lab))  # [B, H, W, 3]
        shape = tf.concat([tf.shape(image)[:1], [num_samples], size, [3]], 0)
        colorizations = tf.reshape(tf.tile(joined[:, None], tf.stack([1, num_samples, 1, 1, 1])), shape)
        return {"colorizations": colorizations, "uncertainty": uncertainty}

    def bits_per_dim(rgb8: tf.Tensor) -> dict[str, tf.Tensor]:
        """8-bit RGB float [B, R, R, 3] -> bits/dim over the 313 bins (log_softmax * one_hot: builtins)."""
        rgb = tf.ensure_shape(rgb8 / 255.0, [None, r, r, 3])
        ab = preprocessing.subsample(rgb_to_lab(rgb)[..., 1:])
        log_p = tf.nn.log_softmax(model.logits(rgb_to_gray(rgb)), axis=-1)
        nats = -tf.reduce_sum(log_p * tf.one_hot(cic.encode_hard(ab), cic.NUM_BINS), axis=[1, 2, 3])
        return {"bits_per_dim": nats / (h * h * math.log(2.0))}

    def log_prob(image):
        image = checks.check_image(image, "image", (3,), enabled=on)
        shape = tf.shape(image)
        side = tf.minimum(shape[1], shape[2])
        top, left = (shape[1] - side) // 2, (shape[2] - side) // 2
        crop = tf.cast(image[:, top : top + side, left : left + side], tf.float32)
        return bits_per_dim(tf.round(tf.image.resize(crop, (r, r), method="area")))

    def log_prob_square(image):
        return bits_per_dim(tf.cast(image, tf.float32))

    def colorize_square(gray, num_samples, seed, temperature, top_k):
        del seed
        num_samples, temperature, top_k = scalars(num_samples, temperature, top_k)
        _, uncertainty, rgb = decode(tf.cast(gray, tf.float32) / 255.0, num_samples, temperature, top_k)
        return {"rgb": _to_uint8(rgb), "uncertainty": uncertainty}

    rng = np.random.default_rng(0)
    sigs = spec.image_signatures(rng, r, serving_default, log_prob, log_prob_square)
    gray = rng.integers(0, 256, [1, r, r, 1], dtype=np.uint8)
    sigs.append(spec.gray_sampling_signature("colorize_square", colorize_square, gray))
    return ExportSpec(model_name=NAME, version=version, variables=model_variables(model), signatures=sigs)
