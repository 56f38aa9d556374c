"""PIC's export spec (export/spec.py): the authors' demo pipeline, its likelihood, a square TFLite variant.

Signatures (R = the model's resolution, r = R / d the chroma grid; B dynamic; N = num_samples):
  serving_default   image uint8 [B, H, W, 1 or 3] (any H, W), num_samples, seed, temperature, top_k
                    -> colorizations uint8 [B, N, H, W, 3], uncertainty float32 [B, N, r, r]
                    `PICColorizer.sample` on the input's Lab lightness (of the gray for a 1-channel
                    image): L resized to R x R, chroma drawn at r x r, upsampled to H x W and joined with
                    the input's own L (Royer et al. 2017 §3; the authors' demo). Uncertainty: the largest
                    mixture weight of each drawn pixel (low = uncertain).
  log_prob          image uint8 [B, H, W, 3] -> bits_per_dim float32 [B]: f's bits/dim of the chroma on the
                    256 x 256 bins at r x r (the model's evaluation preprocessing: central square crop, area
                    resize to R), as `compute_loss`'s "bits_per_dim".
  colorize_square   gray uint8 [B, R, R, 1], num_samples, seed, temperature, top_k -> rgb uint8
                    [B, N, R, R, 3], uncertainty: the same on a square gray (TFLite: the antialiased resize
                    is not a TFLite builtin, so a phone app resizes).

Sample n of image b is drawn as `sample(..., num_samples=N, seed=seed)` draws it (noise of the seed
pair [seed, 0] at row b * N + n). `top_k` (0..K mixture components, 0 = all) is read at run time by
one TopK of runtime k, in the SavedModel too (so `ExportOptions.top_k_values` is not used); XLA needs a
static k, so `ExportOptions.xla` is refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from common.color import rgb_to_lab
from export import checks, spec
from export.spec import ExportOptions, ExportSpec, model_variables

NAME = "pic"


def _to_uint8(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.clip_by_value(tf.round(x * 255.0), 0.0, 255.0), tf.uint8)


def lightness(image: tf.Tensor) -> tf.Tensor:
    """uint8 [B, H, W, 1 or 3] -> Lab L / 100 [B, H, W, 1] (a 1-channel image is a gray sRGB image)."""
    x = tf.cast(image, tf.float32) / 255.0
    gray_rgb = lambda: tf.tile(x[..., :1], [1, 1, 1, 3])  # noqa: E731
    if x.shape[-1] == 1:  # static (colorize_square): no branch in the graph
        rgb = gray_rgb()
    else:
        rgb = tf.cond(tf.shape(x)[-1] == 3, lambda: x[..., :3], gray_rgb)
    return rgb_to_lab(tf.ensure_shape(rgb, [None, None, None, 3]))[..., :1] / 100.0


def export_spec(models: dict[str, Any], *, version: int, options: ExportOptions | None = None) -> ExportSpec:
    """PIC's ExportSpec from {"pic": model} (see the module docstring)."""
    if set(models) != {NAME}:
        raise ValueError(f"pic export needs one --workdir holding a 'pic' model; got {sorted(models)}")
    model = models[NAME]
    options = options or ExportOptions()
    if options.xla:
        raise ValueError("pic export: --xla is not supported (XLA needs a static top_k; PIC reads it live)")
    on = options.checks
    r_big, r_small, k = model.resolution, model.low_resolution, model.num_mixtures

    def scalars(num_samples, seed, temperature, top_k):
        return (
            checks.check_scalar_at_least(num_samples, "num_samples", 1, enabled=on),
            seed,
            checks.check_scalar_at_least(temperature, "temperature", 0.0, enabled=on),
            checks.check_range(top_k, "top_k", 0, k, "mixture components, 0 = all", enabled=on),
        )

    def colorize(gray, num_samples, seed, temperature, top_k):
        """gray [B, H, W, 1] Lab L / 100 -> (rgb uint8 [B, N, H, W, 3], uncertainty [B, N, r, r])."""
        num_samples, seed, temperature, top_k = scalars(num_samples, seed, temperature, top_k)
        gray_n = tf.repeat(gray, num_samples, axis=0)  # row b * N + n, as sample(num_samples=N) draws
        out = model.sample(
            gray_n, num_samples=1, seed=tf.stack([seed, 0]), temperature=temperature, top_k=top_k
        )
        b = tf.shape(gray)[:1]
        rgb = tf.reshape(out["rgb"], tf.concat([b, [num_samples], tf.shape(gray)[1:3], [3]], 0))
        uncertainty = tf.reshape(out["uncertainty"], tf.concat([b, [num_samples, r_small, r_small]], 0))
        return {"rgb": _to_uint8(rgb), "uncertainty": uncertainty}

    def serving_default(image, num_samples, seed, temperature, top_k):
        image = checks.check_image(image, "image", (1, 3), enabled=on)
        out = colorize(lightness(image), num_samples, seed, temperature, top_k)
        return {"colorizations": out["rgb"], "uncertainty": out["uncertainty"]}

    def log_prob(image):
        image = checks.check_image(image, "image", (3,), enabled=on)
        batch = tf.map_fn(
            lambda x: model.preprocess({"image": x}, False),
            image,
            fn_output_signature={
                "gray": tf.TensorSpec([r_big, r_big, 1], tf.float32),
                "rgb": tf.TensorSpec([r_big, r_big, 3], tf.float32),
            },
        )
        nats = -model.log_prob(batch)
        return {"bits_per_dim": nats / (r_small * r_small * 2 * math.log(2.0))}

    def colorize_square(gray, num_samples, seed, temperature, top_k):
        return colorize(lightness(gray), num_samples, seed, temperature, top_k)

    rng = np.random.default_rng(0)
    sigs = spec.image_signatures(rng, r_big, serving_default, log_prob)
    gray = rng.integers(0, 256, [1, r_big, r_big, 1], dtype=np.uint8)
    sigs.append(spec.gray_sampling_signature("colorize_square", colorize_square, gray))
    return ExportSpec(model_name=NAME, version=version, variables=model_variables(model), signatures=sigs)
