"""PixColor's refinement model: gray + low-resolution chroma -> full-resolution colour (§3.2, fig. 5).

Trained on the ground truth's 28 x 28 chroma (never on PixelCNN samples: §3.2 explains why) with an L1
loss on the full-resolution chroma (Table 1 of the paper: "CE + L1"; the L1 is this model's). At sampling
it refines each PixelCNN sample (PixColor.sample's "chroma_low") and joins the result with the input's
luminance. The network is pixcolor/refinement.py. Implements common/protocol.py.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from common.color import ycbcr_to_rgb
from common.protocol import InputSpec
from pixcolor import preprocessing
from pixcolor.constants import CB, CR, NUM_BINS, NUM_CHROMA, RESOLUTION, STRIDE
from pixcolor.refinement import RefinementNetwork

# log_prob's per-value density: a Laplace of scale one 8-bit level, the likelihood whose maximum is the
# L1 fit (a score to compare refinements by, not a calibrated density).
LAPLACE_SCALE = 1.0 / 255.0


def upsample(chroma_low: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """[B, h, w, 2] -> [B, H, W, 2] bilinear (the baseline of fig. 3 and the network's input)."""
    return tf.image.resize(tf.cast(tf.convert_to_tensor(chroma_low), tf.float32), size, "bilinear")


def to_rgb(gray: tf.Tensor, chroma: tf.Tensor) -> tf.Tensor:
    """gray [..., 1] and chroma [..., 2] (Cr, Cb) -> rgb [..., 3] in [0, 1]."""
    return ycbcr_to_rgb(tf.concat([gray, chroma[..., CB : CB + 1], chroma[..., CR : CR + 1]], axis=-1))


@keras.saving.register_keras_serializable(package="colorize")
class PixColorRefinement(keras.Model):
    """Refinement network with its preprocessing and loss; constructor arguments are the config.

    Args:
      resolution: gray side in training (224, the table); the chroma input is resolution / 8 (28).
      num_bins: the ground-truth chroma input is snapped to these bin centres (32, what PixelCNN samples
        are); 0 feeds it unquantized.
      width_divisor: every layer's width / this (1 = the table).
      residual, init_stddev, batch_norm_momentum, skips: see pixcolor/refinement.py (True, 0.1, 0.99,
        False).
    Batches (from `preprocess`): "gray" [B, R, R, 1], "chroma" [B, R, R, 2] the target, "chroma_low"
    [B, r, r, 2] the input; floats in [0, 1], chroma channels (Cr, Cb).
    """

    def __init__(
        self,
        resolution: int = RESOLUTION,
        num_bins: int = NUM_BINS,
        width_divisor: int = 1,
        residual: bool = True,
        init_stddev: float = 0.1,
        batch_norm_momentum: float = 0.99,
        skips: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if resolution < STRIDE or resolution % STRIDE:
            raise ValueError(
                f"pixcolor/refinement_model.py: resolution must be a multiple of {STRIDE}, got {resolution}"
            )
        self.resolution = int(resolution)
        self.num_bins = int(num_bins)
        self.width_divisor = int(width_divisor)
        self.residual = bool(residual)
        self.init_stddev = float(init_stddev)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.skips = bool(skips)
        self.network = RefinementNetwork(
            self.width_divisor,
            self.residual,
            self.init_stddev,
            self.batch_norm_momentum,
            skips=self.skips,
            name="refinement",
        )
        r = self.resolution // STRIDE
        self.refine(tf.zeros([1, resolution, resolution, 1]), tf.zeros([1, r, r, NUM_CHROMA]))

    def refine(self, gray: tf.Tensor, chroma_low: tf.Tensor, training: bool = False) -> tf.Tensor:
        """gray [B, H, W, 1], chroma_low [B, h, w, 2] -> chroma [B, H, W, 2] (Cr, Cb)."""
        gray = tf.cast(tf.convert_to_tensor(gray), tf.float32)
        if gray.shape.rank != 4 or gray.shape[-1] != 1:
            raise ValueError(f"pixcolor/refinement_model.py: gray must be [B, H, W, 1], got {gray.shape}")
        return self.network(gray, upsample(chroma_low, tf.shape(gray)[1:3]), training=training)

    def call(self, batch: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.refine(batch["gray"], batch["chroma_low"], training)

    # -- common/protocol.py ------------------------------------------------------------------------
    @classmethod
    def preprocessor(
        cls, resolution: int = RESOLUTION, num_bins: int = NUM_BINS, **_: Any
    ) -> Callable[[dict, bool], dict]:
        return functools.partial(
            preprocessing.refinement_example,
            resolution=resolution,
            low_resolution=resolution // STRIDE,
            num_bins=num_bins,
        )

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray", "chroma", "chroma_low"} (pixcolor/preprocessing.py)."""
        return self.preprocessor(self.resolution, self.num_bins)(example, training)

    def sample_spec(self) -> dict[str, InputSpec]:
        r, low = self.resolution, self.resolution // STRIDE
        return {
            "gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma Y in [0, 1]"),
            "chroma_low": InputSpec(
                "float32", (None, low, low, NUM_CHROMA), 0.0, 1.0, "low-resolution chroma (Cr, Cb) in [0, 1]"
            ),
        }

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, dict]:
        """Per-example mean absolute chroma error [B] (the loss); "l1_bilinear": bilinear upsampling's
        error on the same batch (the baseline it must beat)."""
        target = tf.convert_to_tensor(batch["chroma"], tf.float32)
        l1 = tf.reduce_mean(
            tf.abs(tf.cast(self(batch, training=training), tf.float32) - target), axis=[1, 2, 3]
        )
        bilinear = upsample(batch["chroma_low"], tf.shape(target)[1:3])
        return l1, {"l1": l1, "l1_bilinear": tf.reduce_mean(tf.abs(bilinear - target), axis=[1, 2, 3])}

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """Sum over pixels and channels of a Laplace(scale 1/255) log-density of the true chroma, nats [B]."""
        err = tf.abs(tf.cast(self(batch), tf.float32) - tf.convert_to_tensor(batch["chroma"], tf.float32))
        return tf.reduce_sum(-err / LAPLACE_SCALE - math.log(2.0 * LAPLACE_SCALE), axis=[1, 2, 3])

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int = 0,
        temperature: float = 0.0,
        top_k: int = 0,
        chroma_low: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """Refines low-resolution chroma under a full-resolution gray (deterministic: seed, temperature and
        top_k change nothing).

        Args:
          gray: [B, H, W, 1] in [0, 1] (any size).
          chroma_low: required; [B, h, w, 2] (repeated num_samples times) or [B, N, h, w, 2] (e.g. PixColor
            .sample's "chroma_low"; then N replaces num_samples), (Cr, Cb) in [0, 1].
        Returns:
          {"rgb": [B, N, H, W, 3] in [0, 1] (the gray as Y), "chroma": [B, N, H, W, 2] refined (Cr, Cb)}.
        """
        del seed, temperature, top_k
        if chroma_low is None:
            raise ValueError(
                "pixcolor/refinement_model.py: sample needs chroma_low (sample_spec()['chroma_low'])"
            )
        gray = tf.cast(tf.convert_to_tensor(gray), tf.float32)
        chroma_low = tf.cast(tf.convert_to_tensor(chroma_low), tf.float32)
        if chroma_low.shape.rank == 4:
            chroma_low = tf.repeat(chroma_low[:, None], num_samples, axis=1)
        if chroma_low.shape.rank != 5 or chroma_low.shape[-1] != NUM_CHROMA:
            raise ValueError(
                "pixcolor/refinement_model.py: chroma_low must be [B, h, w, 2] or [B, N, h, w, 2], got "
                f"{chroma_low.shape}"
            )
        n = chroma_low.shape[1]
        flat_gray = tf.repeat(gray, n, axis=0)
        flat_low = tf.reshape(chroma_low, [-1, *chroma_low.shape[2:]])
        chroma = tf.clip_by_value(self.refine(flat_gray, flat_low), 0.0, 1.0)
        lead = tf.concat([[-1, n], tf.shape(chroma)[1:3]], 0)
        rgb = to_rgb(flat_gray, chroma)
        return {
            "rgb": tf.reshape(rgb, tf.concat([lead, [3]], 0)),
            "chroma": tf.reshape(chroma, tf.concat([lead, [NUM_CHROMA]], 0)),
        }

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "num_bins": self.num_bins,
            "width_divisor": self.width_divisor,
            "residual": self.residual,
            "init_stddev": self.init_stddev,
            "batch_norm_momentum": self.batch_norm_momentum,
            "skips": self.skips,
        }
