"""PixColor's export spec (export/spec.py): the PixelCNN and the refinement network as one pipeline.

The whole pipeline needs both models, so the exporter takes two work directories, one of a "pixcolor"
run and one of a "pixcolor_refinement" run; with one alone it refuses, naming the one missing.

Signatures (R = the PixColor resolution, h = R / 8, S = the refinement's resolution; B dynamic;
N = num_samples; chroma channels (Cr, Cb)):
  serving_default   image uint8 [B, H, W, 1 or 3] (any H, W), num_samples, seed, temperature, top_k
                    -> colorizations uint8 [B, N, H, W, 3], uncertainty float32 [B, N, h, h]
                    luma (BT.601) of the whole frame area-resized to R and to S, PixelCNN draws
                    (pixcolor/pipeline.py: draw n of image b with the seed pair [seed, n], a batch of one),
                    each refined at S, the chroma resized (bilinear, antialiased) to H x W and joined with
                    the input's own luma (scaled towards gray just enough to stay in gamut).
  log_prob          image uint8 [B, H, W, 3] -> bits_per_dim float32 [B]: -log2 p(chroma bins | gray) per
                    chroma value (h * h * 2) of the central square crop, as `PixColor.preprocess` makes it.
  log_prob_square   image uint8 [B, R, R, 3] -> bits_per_dim: the same without cropping or resizing to R
                    (the chroma's area resize to h is an 8 x 8 average pool: a TFLite builtin).
  sample_chroma     gray uint8 [B, R, R, 1], num_samples, seed, temperature, top_k
                    -> bins uint8 [B, N, h, h, 2], uncertainty float32 [B, N, h, h] (the PixelCNN only)
  refine            gray uint8 [B, S, S, 1], bins uint8 [B, h, h, 2] -> rgb uint8 [B, S, S, 3]
  colorize_square   gray uint8 [B, S, S, 1], num_samples, seed, temperature, top_k
                    -> rgb uint8 [B, N, S, S, 3], uncertainty: the pipeline on a square gray; the PixelCNN
                    reads it bilinearly resized to R when R != S (area and antialiased resizes are not
                    TFLite builtins; the paper's R = S = 224 needs none).

`uncertainty` is the lower of the Cr and Cb maximum predicted probabilities of each chroma pixel.
`top_k` (0..num_bins, 0 = all) is read at run time by one TopK (any k, in SavedModel and TFLite alike), so
`ExportOptions.top_k_values` is not used; `ExportOptions.xla` is refused (XLA needs a static k).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from common.color import rgb_to_ycbcr
from export import checks, spec
from export.spec import ExportOptions, ExportSpec, Signature, model_variables
from pixcolor import pipeline
from pixcolor.constants import NUM_CHROMA, STRIDE
from pixcolor.preprocessing import cr_cb

NAME, REFINEMENT = "pixcolor", "pixcolor_refinement"


def export_spec(models: dict[str, Any], *, version: int, options: ExportOptions | None = None) -> ExportSpec:
    """PixColor's ExportSpec from {"pixcolor": model, "pixcolor_refinement": model} (module docstring)."""
    missing = [n for n in (NAME, REFINEMENT) if n not in models]
    if missing or set(models) != {NAME, REFINEMENT}:
        raise ValueError(
            f"pixcolor export needs two --workdir runs, a '{NAME}' and a '{REFINEMENT}' one (the pipeline "
            f"uses both); got {sorted(models)}, missing {missing}"
        )
    options = options or ExportOptions()
    if options.xla:
        raise ValueError("pixcolor export: --xla is not supported (the sampler reads top_k at run time)")
    model, refinement = models[NAME], models[REFINEMENT]
    on = options.checks
    r, h, big = model.resolution, model.low_resolution, refinement.resolution
    num_bins = model.num_bins
    if big % STRIDE:
        raise ValueError(f"pixcolor export: refinement resolution {big} is not a multiple of {STRIDE}")

    def scalars(num_samples, temperature, top_k):
        return (
            checks.check_scalar_at_least(num_samples, "num_samples", 1, enabled=on),
            checks.check_scalar_at_least(temperature, "temperature", 0.0, enabled=on),
            checks.check_range(top_k, "top_k", 0, num_bins, "0 = all bins", enabled=on),
        )

    def draws(gray_small, gray_big, num_samples, seed, temperature, top_k):
        """Every image's num_samples draws, image-major, with seed pairs [seed, n]."""
        batch = tf.shape(gray_small)[0]
        n = tf.tile(tf.range(num_samples), [batch])
        seeds = tf.stack([tf.fill(tf.shape(n), seed), n], axis=-1)
        small = tf.repeat(gray_small, num_samples, axis=0)
        large = None if gray_big is None else tf.repeat(gray_big, num_samples, axis=0)
        out = pipeline.draw_chroma(model, refinement, small, large, seeds, temperature, top_k)

        def per_image(t: tf.Tensor) -> tf.Tensor:
            return tf.reshape(t, tf.concat([[batch, num_samples], tf.shape(t)[1:]], 0))

        return out, per_image

    def serving_default(image, num_samples, seed, temperature, top_k):
        image = checks.check_image(image, "image", (1, 3), enabled=on)
        num_samples, temperature, top_k = scalars(num_samples, temperature, top_k)
        y = pipeline.luminance(image)  # [B, H, W, 1]
        size = tf.shape(image)[1:3]
        small = tf.clip_by_value(tf.image.resize(y, (r, r), method="area"), 0.0, 1.0)
        large = tf.clip_by_value(tf.image.resize(y, (big, big), method="area"), 0.0, 1.0)
        out, per_image = draws(small, large, num_samples, seed, temperature, top_k)
        chroma = tf.image.resize(out["chroma"], size, method="bilinear", antialias=True)
        rgb = pipeline.join_in_gamut(tf.repeat(y, num_samples, axis=0), chroma)
        return {
            "colorizations": per_image(pipeline.to_uint8(rgb)),
            "uncertainty": per_image(out["uncertainty"]),
        }

    def bits_per_dim(gray: tf.Tensor, rgb_low8: tf.Tensor) -> dict[str, tf.Tensor]:
        """gray [B, R, R, 1], 8-bit RGB float [B, h, h, 3] -> bits/dim (log_softmax * one_hot: builtins)."""
        bins = model.quantizer.encode(cr_cb(rgb_to_ycbcr(rgb_low8 / 255.0)))
        logits = tf.cast(model.logits(tf.ensure_shape(gray, [None, r, r, 1]), bins), tf.float32)
        log_p = tf.nn.log_softmax(logits, axis=-1) * tf.one_hot(bins, num_bins)
        nats = -tf.reduce_sum(log_p, axis=[1, 2, 3, 4])
        return {"bits_per_dim": nats / (h * h * NUM_CHROMA * math.log(2.0))}

    def log_prob(image):
        """As pixcolor.preprocessing.pixcolor_example: central square crop, area resizes of the 8-bit RGB."""
        image = checks.check_image(image, "image", (3,), enabled=on)
        shape = tf.shape(image)
        side = tf.minimum(shape[1], shape[2])
        top, left = (shape[1] - side) // 2, (shape[2] - side) // 2
        crop = tf.cast(image[:, top : top + side, left : left + side], tf.float32)
        rgb = tf.round(tf.image.resize(crop, (r, r), method="area")) / 255.0
        gray = rgb_to_ycbcr(rgb)[..., :1]
        return bits_per_dim(gray, tf.round(tf.image.resize(crop, (h, h), method="area")))

    def log_prob_square(image):
        rgb8 = tf.cast(image, tf.float32)
        gray = rgb_to_ycbcr(rgb8 / 255.0)[..., :1]
        return bits_per_dim(gray, tf.round(tf.nn.avg_pool2d(rgb8, STRIDE, STRIDE, "VALID")))

    def sample_chroma(gray, num_samples, seed, temperature, top_k):
        num_samples, temperature, top_k = scalars(num_samples, temperature, top_k)
        y = tf.cast(gray, tf.float32) / 255.0
        out, per_image = draws(y, None, num_samples, seed, temperature, top_k)
        bins = per_image(tf.cast(out["bins"], tf.uint8))
        return {"bins": bins, "uncertainty": per_image(out["uncertainty"])}

    def refine(gray, bins):
        bins = checks.check_range(bins, "bins", 0, num_bins - 1, "chroma bins", enabled=on)
        y = tf.cast(gray, tf.float32) / 255.0
        low = model.quantizer.decode(tf.cast(bins, tf.int32))
        chroma = tf.clip_by_value(refinement.refine(y, low), 0.0, 1.0)
        return {"rgb": pipeline.to_uint8(pipeline.join_in_gamut(y, chroma))}

    def colorize_square(gray, num_samples, seed, temperature, top_k):
        num_samples, temperature, top_k = scalars(num_samples, temperature, top_k)
        y = tf.cast(gray, tf.float32) / 255.0
        small = y if r == big else tf.image.resize(y, (r, r), method="bilinear")
        out, per_image = draws(small, y, num_samples, seed, temperature, top_k)
        rgb = pipeline.join_in_gamut(tf.repeat(y, num_samples, axis=0), out["chroma"])
        return {"rgb": per_image(pipeline.to_uint8(rgb)), "uncertainty": per_image(out["uncertainty"])}

    rng = np.random.default_rng(0)
    u8 = tf.uint8
    sigs = spec.image_signatures(rng, r, serving_default, log_prob, log_prob_square)
    gray_r = rng.integers(0, 256, [1, r, r, 1], dtype=np.uint8)
    gray_big = rng.integers(0, 256, [1, big, big, 1], dtype=np.uint8)
    sigs += [
        spec.gray_sampling_signature("sample_chroma", sample_chroma, gray_r),
        Signature(
            "refine",
            refine,
            {"gray": tf.TensorSpec([None, big, big, 1], u8), "bins": tf.TensorSpec([None, h, h, 2], u8)},
            {"gray": gray_big, "bins": rng.integers(0, num_bins, [1, h, h, 2], dtype=np.uint8)},
            tflite=True,
        ),
        spec.gray_sampling_signature("colorize_square", colorize_square, gray_big),
    ]
    variables = model_variables(model, refinement)
    return ExportSpec(model_name=NAME, version=version, variables=variables, signatures=sigs)
