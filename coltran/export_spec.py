"""ColTran's export spec (export/spec.py): the three stages as SavedModel / TFLite signatures.

Signatures (r = core resolution 64, R = spatial resolution 256; B dynamic; N = num_samples):
  serving_default   image uint8 [B, H, W, 1 or 3] (any H, W), num_samples, seed, temperature, top_k
                    -> colorizations uint8 [B, N, H, W, 3], uncertainty float32 [B, N, r, r]
                    coltran/pipeline.py's recipe in one graph: luminance, the whole frame area-resized to
                    r and R, core -> colour upsampler -> spatial upsampler (both argmax), chroma bilinear
                    to H x W joined with the input's luminance.
  log_prob          image uint8 [B, H, W, 3] -> bits_per_dim float32 [B]: the core's coarse-colour
                    likelihood of the image squashed to r x r (as the pipeline squashes it).
  log_prob_square   image uint8 [B, r, r, 3] -> bits_per_dim: the same without resizing (TFLite).
  core              gray uint8 [B, r, r, 1], num_samples, seed, temperature, top_k
                    -> coarse uint8 [B, N, r, r, 3] (3-bit levels), uncertainty float32 [B, N, r, r]
  color_upsampler   gray uint8 [B, r, r, 1], coarse uint8 [B, r, r, 3] -> rgb uint8 [B, r, r, 3]
  spatial_upsampler gray uint8 [B, R, R, 1], low_res uint8 [B, r, r, 3] -> rgb uint8 [B, R, R, 3]
  colorize_square   gray uint8 [B, R, R, 1], num_samples, seed, temperature, top_k
                    -> rgb uint8 [B, N, R, R, 3], uncertainty: the three stages in one graph on a square
                    gray (the core's input is its R/r average pooling); the whole-pipeline .tflite, since
                    area resizing and antialiased bilinear are not TFLite builtins (the phone demo resizes).

Sampling: sample n of every image is drawn with a batch of one (the fast sampler traces a static batch,
and num_samples is a request input) and the seed pair [seed, n]: sample 0 of image b equals
`ColTranCore.sample(image b alone, num_samples=1, seed=seed)` (and `coltran.pipeline.colorize` with one
sample); samples n >= 1 are draws of their own (the model's `sample` numbers its draws within one call,
which a loop of batch-one calls cannot reproduce). No sample depends on the other images of a request.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from coltran import sampler
from common.color import rgb_to_gray, rgb_to_gray_np, rgb_to_ycbcr, ycbcr_to_rgb
from common.quantize import from_8bit, symbol_to_coarse, to_8bit
from export import checks, spec
from export.spec import ExportOptions, ExportSpec, Signature, model_variables

STAGES = ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")


class _Graph:
    """The three stages as graph functions of tensors."""

    def __init__(self, core: Any, color_up: Any, spatial_up: Any, options: ExportOptions):
        self.core, self.color_up, self.spatial_up, self.options = core, color_up, spatial_up, options
        self.r, self.big = int(core.resolution), int(spatial_up.resolution)
        if int(color_up.resolution) != self.r or int(spatial_up.low_resolution) != self.r:
            raise ValueError(
                f"coltran/export_spec.py: stage resolutions disagree: core {self.r}, colour "
                f"upsampler {color_up.resolution}, spatial low_resolution {spatial_up.low_resolution}"
            )
        if self.big % self.r:
            raise ValueError(
                f"coltran/export_spec.py: spatial resolution {self.big} is not a multiple of {self.r}"
            )
        self.top_k_values = tuple(int(k) for k in options.top_k_values)
        self.runtime_top_k = options.runtime_top_k
        if self.runtime_top_k and options.xla:
            raise ValueError("coltran/export_spec.py: runtime_top_k needs xla=False (XLA needs a static k)")
        if self.runtime_top_k:
            self.samplers = {None: self._core_sampler(None)}
        else:
            self.samplers = {k: self._core_sampler(k) for k in self.top_k_values}

    def _core_sampler(self, static_top_k: int | None):
        """static_top_k None: the sampler reads top_k at run time (ExportOptions.runtime_top_k)."""
        core, xla = self.core, self.options.xla

        def run(gray8: tf.Tensor, seed: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor):
            return sampler._fast(
                core,
                gray8,
                seed,
                temperature,
                num_samples=1,
                top_k=top_k if static_top_k is None else static_top_k,
                num_rows=core.resolution,
                **({"xla": True} if xla else {}),
            )

        return tf.function(run, jit_compile=True, autograph=False) if xla else run

    # -- checks ----------------------------------------------------------------------------------------
    def scalars(self, num_samples, seed, temperature, top_k):
        on = self.options.checks
        hint = "the values this export was made with: colorize-export --top_k=..."
        return (
            checks.check_scalar_at_least(num_samples, "num_samples", 1, enabled=on),
            seed,
            checks.check_scalar_at_least(temperature, "temperature", 0.0, enabled=on),
            top_k
            if self.runtime_top_k
            else checks.check_scalar_in(top_k, "top_k", self.top_k_values, hint, enabled=on),
        )

    # -- stages ----------------------------------------------------------------------------------------
    def sample_core(self, gray8_1: tf.Tensor, n: tf.Tensor, seed, temperature, top_k):
        """One image int32 [1, r, r], sample n -> (symbols int32 [r, r], max probability [r, r])."""
        seed_pair = tf.stack([seed, n])
        branches = [lambda f=f: f(gray8_1, seed_pair, temperature, top_k) for f in self.samplers.values()]
        if len(branches) == 1:
            symbols, prob = branches[0]()
        else:
            index = tf.argmax(tf.cast(tf.equal(list(self.samplers), top_k), tf.int32), output_type=tf.int32)
            symbols, prob = tf.switch_case(index, branches)
        return tf.reshape(symbols, [self.r, self.r]), tf.reshape(prob, [self.r, self.r])

    def upsample_color(self, gray_small: tf.Tensor, coarse: tf.Tensor) -> tf.Tensor:
        """float [b, r, r, 1], coarse levels int [b, r, r, 3] -> 8-bit int32 [b, r, r, 3] (argmax)."""
        out = self.color_up.sample(
            gray_small, coarse=tf.cast(coarse, tf.int32), num_samples=1, temperature=0.0
        )
        return out["labels"][:, 0]

    def upsample_space(self, gray_big: tf.Tensor, low8: tf.Tensor) -> tf.Tensor:
        """float [b, R, R, 1], 8-bit int [b, r, r, 3] -> 8-bit int32 [b, R, R, 3] (argmax).

        `SpatialUpsampler.sample` at temperature 0, with its area upsampling of the low-resolution
        colours (ResizeArea, not a TFLite builtin) written as the pixel repetition it is for an integer
        factor; tests check both give the same labels.
        """
        factor = self.big // self.r
        up = tf.repeat(tf.repeat(tf.cast(low8, tf.int32), factor, axis=1), factor, axis=2)
        model = self.spatial_up
        gray_embed = model.gray_embedding(to_8bit(gray_big[..., 0]))
        channels = [
            tf.argmax(model.channel_logits(gray_embed, up[..., c], c), axis=-1, output_type=tf.int32)
            for c in range(3)
        ]
        return tf.stack(channels, axis=-1)

    def sample_loop(self, gray_small, gray_big, num_samples, seed, temperature, top_k):
        """Every (image, sample) pair in turn, batch 1 (memory: one 256x256 image at a time).

        gray_small float [B, r, r, 1]; gray_big float [B, R, R, 1] or None (core only).
        Returns {"coarse": int32 [B, N, r, r, 3], "uncertainty": [B, N, r, r], "rgb": int32 [B, N, R, R, 3]}.
        """
        r, big = self.r, self.big
        batch = tf.shape(gray_small)[0]
        total = batch * num_samples
        gray8 = self.core.gray_levels(gray_small)

        def body(i, coarse_ta, prob_ta, rgb_ta):
            b, n = i // num_samples, i % num_samples
            symbols, prob = self.sample_core(gray8[b][None], n, seed, temperature, top_k)
            coarse = symbol_to_coarse(symbols)[None]  # [1, r, r, 3]
            if gray_big is not None:
                low = self.upsample_color(gray_small[b][None], coarse)
                rgb_ta = rgb_ta.write(i, self.upsample_space(gray_big[b][None], low)[0])
            return i + 1, coarse_ta.write(i, coarse[0]), prob_ta.write(i, prob), rgb_ta

        arrays = (
            tf.TensorArray(tf.int32, total, element_shape=[r, r, 3]),
            tf.TensorArray(tf.float32, total, element_shape=[r, r]),
            tf.TensorArray(tf.int32, total if gray_big is not None else 0, element_shape=[big, big, 3]),
        )
        _, coarse_ta, prob_ta, rgb_ta = tf.while_loop(
            lambda i, *_: i < total, body, (tf.constant(0),) + arrays
        )

        def per_image(t: tf.Tensor) -> tf.Tensor:
            return tf.reshape(t, tf.concat([[batch, num_samples], tf.shape(t)[1:]], 0))

        out = {"coarse": per_image(coarse_ta.stack()), "uncertainty": per_image(prob_ta.stack())}
        if gray_big is not None:
            out["rgb"] = per_image(rgb_ta.stack())
        return out


def _luminance(image: tf.Tensor) -> tf.Tensor:
    """uint8 [B, H, W, 1 or 3] -> luma float32 [B, H, W, 1] in [0, 1], computed in float64 as
    coltran.pipeline.luminance does (BT.601), so both give the same 8-bit gray levels."""
    coefficients = tf.constant(rgb_to_gray_np(np.eye(3))[:, 0], tf.float64)  # BT.601 weights, [3]
    x = tf.cast(image, tf.float64) * (1.0 / 255.0)
    y = tf.cond(
        tf.shape(image)[-1] == 3,
        lambda: tf.reduce_sum(x * coefficients, axis=-1, keepdims=True),
        lambda: x[..., :1],
    )
    return tf.ensure_shape(tf.cast(tf.clip_by_value(y, 0.0, 1.0), tf.float32), [None, None, None, 1])


def _join_luminance(y: tf.Tensor, cbcr: tf.Tensor) -> tf.Tensor:
    """Y float [..., H, W, 1] + CbCr float [..., H, W, 2] -> uint8 RGB keeping Y: the chroma offset is
    scaled towards gray just enough to stay in the RGB gamut (coltran.pipeline.join_luminance_chroma)."""
    d = ycbcr_to_rgb(tf.concat([tf.zeros_like(y), cbcr], axis=-1), clip=False)
    big = tf.constant(np.inf, tf.float32)
    up = tf.where(d > 0, (1.0 - y) / tf.where(d > 0, d, 1.0), big)
    down = tf.where(d < 0, y / tf.where(d < 0, -d, 1.0), big)
    s = tf.clip_by_value(
        tf.minimum(tf.reduce_min(up, -1, keepdims=True), tf.reduce_min(down, -1, keepdims=True)), 0.0, 1.0
    )
    return tf.cast(tf.clip_by_value(tf.round((y + s * d) * 255.0), 0.0, 255.0), tf.uint8)


def export_spec(models: dict[str, Any], *, version: int, options: ExportOptions | None = None) -> ExportSpec:
    """ColTran's ExportSpec from its three stages keyed by registry name (see the module docstring)."""
    missing = [s for s in STAGES if s not in models]
    if missing:
        raise ValueError(
            f"coltran export needs a --workdir for each of {', '.join(STAGES)}; missing: {', '.join(missing)}"
        )
    options = options or ExportOptions()
    g = _Graph(*(models[s] for s in STAGES), options)
    r, big = g.r, g.big
    on = options.checks

    def serving_default(image, num_samples, seed, temperature, top_k):
        image = checks.check_image(image, "image", (1, 3), enabled=on)
        num_samples, seed, temperature, top_k = g.scalars(num_samples, seed, temperature, top_k)
        y = _luminance(image)  # [B, H, W, 1]
        size = tf.shape(image)[1:3]
        small = tf.image.resize(y, (r, r), method="area")
        out = g.sample_loop(
            small, tf.image.resize(y, (big, big), method="area"), num_samples, seed, temperature, top_k
        )
        rgb = tf.reshape(from_8bit(out["rgb"]), [-1, big, big, 3])
        cbcr = tf.image.resize(rgb_to_ycbcr(rgb)[..., 1:], size, method="bilinear", antialias=True)
        y_n = tf.repeat(y, num_samples, axis=0)
        joined = _join_luminance(y_n, cbcr)
        shape = tf.concat([tf.shape(image)[:1], [num_samples], size, [3]], 0)
        return {"colorizations": tf.reshape(joined, shape), "uncertainty": out["uncertainty"]}

    def bits_per_dim(rgb8: tf.Tensor) -> dict[str, tf.Tensor]:
        rgb = tf.ensure_shape(tf.clip_by_value(rgb8, 0.0, 255.0) / 255.0, [None, r, r, 3])
        nats = g.core.log_prob({"gray": rgb_to_gray(rgb), "rgb": rgb})
        return {"bits_per_dim": -nats / (r * r * 3 * math.log(2.0))}

    def log_prob(image):
        image = checks.check_image(image, "image", (3,), enabled=on)
        return bits_per_dim(tf.round(tf.image.resize(tf.cast(image, tf.float32), (r, r), method="area")))

    def log_prob_square(image):
        # core.log_prob's sparse cross-entropy is no TFLite builtin: the same sum from log_softmax.
        rgb = tf.cast(image, tf.float32) / 255.0
        symbols = g.core.symbols(rgb)
        logits = g.core.decode(g.core.encode(g.core.gray_levels(rgb_to_gray(rgb))), symbols)
        logp = tf.nn.log_softmax(logits) * tf.one_hot(symbols, logits.shape[-1])
        return {"bits_per_dim": -tf.reduce_sum(logp, axis=[1, 2, 3]) / (r * r * 3 * math.log(2.0))}

    def core(gray, num_samples, seed, temperature, top_k):
        num_samples, seed, temperature, top_k = g.scalars(num_samples, seed, temperature, top_k)
        out = g.sample_loop(from_8bit(gray), None, num_samples, seed, temperature, top_k)
        return {"coarse": tf.cast(out["coarse"], tf.uint8), "uncertainty": out["uncertainty"]}

    def color_upsampler(gray, coarse):
        coarse = checks.check_range(coarse, "coarse", 0, 7, "3-bit levels", enabled=on)
        return {"rgb": tf.cast(g.upsample_color(from_8bit(gray), coarse), tf.uint8)}

    def spatial_upsampler(gray, low_res):
        return {"rgb": tf.cast(g.upsample_space(from_8bit(gray), low_res), tf.uint8)}

    def colorize_square(gray, num_samples, seed, temperature, top_k):
        num_samples, seed, temperature, top_k = g.scalars(num_samples, seed, temperature, top_k)
        gray_big = from_8bit(gray)
        factor = big // r
        small = tf.nn.avg_pool2d(gray_big, factor, factor, "VALID") if factor > 1 else gray_big
        out = g.sample_loop(small, gray_big, num_samples, seed, temperature, top_k)
        return {"rgb": tf.cast(out["rgb"], tf.uint8), "uncertainty": out["uncertainty"]}

    rng = np.random.default_rng(0)
    u8 = tf.uint8
    sigs = spec.image_signatures(rng, r, serving_default, log_prob, log_prob_square)
    gray = rng.integers(0, 256, [1, r, r, 1], dtype=np.uint8)
    sigs.append(spec.gray_sampling_signature("core", core, gray))
    sigs += [
        Signature(
            "color_upsampler",
            color_upsampler,
            {"gray": tf.TensorSpec([None, r, r, 1], u8), "coarse": tf.TensorSpec([None, r, r, 3], u8)},
            {
                "gray": rng.integers(0, 256, [1, r, r, 1], dtype=np.uint8),
                "coarse": rng.integers(0, 8, [1, r, r, 3], dtype=np.uint8),
            },
            tflite=True,
        ),
        Signature(
            "spatial_upsampler",
            spatial_upsampler,
            {"gray": tf.TensorSpec([None, big, big, 1], u8), "low_res": tf.TensorSpec([None, r, r, 3], u8)},
            {
                "gray": rng.integers(0, 256, [1, big, big, 1], dtype=np.uint8),
                "low_res": rng.integers(0, 256, [1, r, r, 3], dtype=np.uint8),
            },
            tflite=True,
        ),
        spec.gray_sampling_signature(
            "colorize_square", colorize_square, rng.integers(0, 256, [1, big, big, 1], dtype=np.uint8)
        ),
    ]
    variables = model_variables(*(models[s] for s in STAGES))
    return ExportSpec(model_name="coltran", version=version, variables=variables, signatures=sigs)
