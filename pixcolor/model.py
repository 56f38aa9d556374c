"""PixColor's low-resolution colorizer: p(28 x 28 chroma bins | gray) (Guadarrama et al. 2017, §3.1, fig. 4).

gray [B, 224, 224, 1] -> replicated to 3 channels (Keras ResNet's caffe input) -> ResNet-101 trunk
(pixcolor/conditioning.py) -> gradient multiplier -> adaptation network (pixcolor/adaptation.py) ->
conditioning signal [B, 28, 28, 64] -> gated conditional PixelCNN over the chroma bins (pixcolor/pixelcnn.py),
Cr before Cb inside a pixel, 32 bins per channel with neutral gray a bin centre (common.quantize.
NeutralCenteredQuantizer). Trained jointly by cross-entropy with teacher forcing (§3.1). Implements
common/protocol.py; its `sample` joins the sampled chroma, bilinearly upsampled, with the input's own
luminance (fig. 3; the refinement network, pixcolor/refinement_model.py, is the paper's better way).

Gradient multiplier (table: "engaged at 100,000 steps"): before `engage_step` optimiser steps the gradient
into the trunk is multiplied by 0, after by `gradient_multiplier`. The trainer binds its optimiser's step
counter with `bind_training_step` (common/train/state.py); unbound (own loops, tests) it is engaged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from common.color import ycbcr_to_rgb
from common.protocol import InputSpec
from common.quantize import NeutralCenteredQuantizer
from pixcolor import preprocessing
from pixcolor.adaptation import AdaptationNetwork
from pixcolor.conditioning import ResNetTrunk, load_keras_resnet_weights, scale_gradient
from pixcolor.constants import CAFFE_BGR_MEAN, CB, CR, NUM_BINS, NUM_CHROMA, RESOLUTION, STRIDE
from pixcolor.pixelcnn import GatedPixelCNN


def check_gray(gray: tf.Tensor, where: str) -> tf.Tensor:
    """gray [B, H, W, 1] float in [0, 1], H and W static multiples of 8 -> float32 tensor."""
    gray = tf.cast(tf.convert_to_tensor(gray), tf.float32)
    hw = tuple(gray.shape[1:3]) if gray.shape.rank == 4 else ()
    if gray.shape.rank != 4 or gray.shape[-1] != 1 or None in hw or any(d % STRIDE for d in hw):
        raise ValueError(
            f"pixcolor/{where}: gray must be [B, H, W, 1] in [0, 1] with H and W multiples of {STRIDE}, got "
            f"{gray.shape} (pixcolor.preprocessing.sampling_size gives such a size for any photo)"
        )
    return gray


def join_luminance(gray: tf.Tensor, chroma: tf.Tensor) -> tf.Tensor:
    """gray [B, H, W, 1] and chroma [B, N, h, w, 2] (Cr, Cb) -> rgb [B, N, H, W, 3] in [0, 1]: the chroma
    bilinearly resized to H x W, joined with the gray as Y (fig. 3)."""
    b, n = tf.shape(chroma)[0], chroma.shape[1]
    size = tf.shape(gray)[1:3]
    up = tf.image.resize(tf.reshape(chroma, tf.concat([[-1], tf.shape(chroma)[2:]], 0)), size, "bilinear")
    y = tf.repeat(gray, n, axis=0)
    ycbcr = tf.concat([y, up[..., CB : CB + 1], up[..., CR : CR + 1]], axis=-1)
    return tf.reshape(ycbcr_to_rgb(ycbcr), tf.concat([[b, n], tf.shape(ycbcr)[1:]], 0))


@keras.saving.register_keras_serializable(package="colorize")
class PixColor(keras.Model):
    """The conditioning network, adaptation network and PixelCNN; constructor arguments are the config.

    Args (appendix table values):
      resolution: gray side in training (224); the chroma is resolution / 8 (28).
      num_bins: bins per chroma channel (32).
      resnet_blocks, resnet_width, resnet_weights: trunk depth per stage ([3, 4, 23]), first-stage width
        (64), and an optional local Keras ResNet101 weights file loaded at construction ("" = none).
      adaptation_channels, adaptation_layers: 64, 3.
      channels, first_size, num_blocks, block_size, head_channels: the PixelCNN's 64, 7, 10, 5, 1024.
      init_stddev: truncated-normal stddev of every layer but the trunk's (0.1); biases 0.
      engage_step, gradient_multiplier: the gradient into the trunk is 0 before `engage_step` (100,000)
        optimiser steps and `gradient_multiplier` (1) after.
      freeze_trunk_batch_norm: the trunk's batch norms always use their moving statistics (and never
        update them), as when fine-tuning a loaded backbone at small batches; False (default) trains them,
        which a trunk trained from scratch needs. (Batch statistics are not gradients: the multiplier
        alone would let them change a loaded trunk during the first `engage_step` steps.)
      batch_norm_momentum: of the trunk's moving statistics (Keras' 0.99; short runs need less).
      jit_compile_sampler: XLA for the sampling loop.
    Batches (from `preprocess`): "gray" float32 [B, R, R, 1] in [0, 1]; "chroma" int32 [B, r, r, 2] bins.
    """

    def __init__(
        self,
        resolution: int = RESOLUTION,
        num_bins: int = NUM_BINS,
        resnet_blocks: Sequence[int] = (3, 4, 23),
        resnet_width: int = 64,
        resnet_weights: str = "",
        adaptation_channels: int = 64,
        adaptation_layers: int = 3,
        channels: int = 64,
        first_size: int = 7,
        num_blocks: int = 10,
        block_size: int = 5,
        head_channels: int = 1024,
        init_stddev: float = 0.1,
        engage_step: int = 100_000,
        gradient_multiplier: float = 1.0,
        freeze_trunk_batch_norm: bool = False,
        batch_norm_momentum: float = 0.99,
        jit_compile_sampler: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if resolution < STRIDE or resolution % STRIDE:
            raise ValueError(
                f"pixcolor/model.py: resolution must be a multiple of {STRIDE}, got {resolution}"
            )
        self.resolution = int(resolution)
        self.num_bins = int(num_bins)
        self.resnet_blocks = [int(b) for b in resnet_blocks]
        self.resnet_width = int(resnet_width)
        self.resnet_weights = str(resnet_weights)
        self.adaptation_channels = int(adaptation_channels)
        self.adaptation_layers = int(adaptation_layers)
        self.pixelcnn_args = dict(
            channels=int(channels),
            first_size=int(first_size),
            num_blocks=int(num_blocks),
            block_size=int(block_size),
            head_channels=int(head_channels),
        )
        self.init_stddev = float(init_stddev)
        self.engage_step = int(engage_step)
        self.gradient_multiplier = float(gradient_multiplier)
        self.freeze_trunk_batch_norm = bool(freeze_trunk_batch_norm)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.jit_compile_sampler = bool(jit_compile_sampler)
        self.quantizer = NeutralCenteredQuantizer(self.num_bins)

        self.trunk = ResNetTrunk(
            self.resnet_blocks, self.resnet_width, (2, 2, 1), self.batch_norm_momentum, name="conditioning"
        )
        self.adaptation = AdaptationNetwork(
            self.adaptation_channels, self.adaptation_layers, self.init_stddev, name="adaptation"
        )
        self.pixelcnn = GatedPixelCNN(
            **self.pixelcnn_args, num_bins=self.num_bins, init_stddev=self.init_stddev, name="pixelcnn"
        )
        self._step_fn: Callable[[], tf.Tensor] | None = None
        self._sample_fns: dict = {}
        r = self.low_resolution
        self.logits(
            tf.zeros([1, self.resolution, self.resolution, 1]), tf.zeros([1, r, r, NUM_CHROMA], tf.int32)
        )
        if self.resnet_weights:
            load_keras_resnet_weights(self.trunk, self.resnet_weights)

    @property
    def low_resolution(self) -> int:
        return self.resolution // STRIDE

    # -- the gradient multiplier ------------------------------------------------------------------
    def bind_training_step(self, step: tf.Variable) -> None:
        """Reads the optimiser step counter (e.g. `optimizer.iterations`) for the gradient multiplier.
        Kept behind a function, so the variable is not tracked as one of the model's weights."""
        self._step_fn = lambda: step

    def trunk_gradient_scale(self) -> tf.Tensor:
        """float32 scalar: 0 before `engage_step`, `gradient_multiplier` after (engaged when unbound)."""
        engaged = tf.constant(self.gradient_multiplier, tf.float32)
        if self._step_fn is None or self.engage_step <= 0:
            return engaged
        step = tf.cast(tf.convert_to_tensor(self._step_fn()), tf.int64)
        return tf.where(step >= self.engage_step, engaged, 0.0)

    # -- the model ---------------------------------------------------------------------------------
    def condition(self, gray: tf.Tensor, training: bool = False) -> tf.Tensor:
        """gray [B, H, W, 1] in [0, 1] -> conditioning signal [B, H/8, W/8, adaptation_channels]."""
        x = tf.repeat(tf.cast(tf.convert_to_tensor(gray), tf.float32) * 255.0, 3, axis=-1) - tf.constant(
            CAFFE_BGR_MEAN
        )
        trunk_training = bool(training) and not self.freeze_trunk_batch_norm
        features = scale_gradient(self.trunk(x, training=trunk_training), self.trunk_gradient_scale())
        return self.adaptation(features)

    def chroma_input(self, bins: tf.Tensor) -> tf.Tensor:
        """bins int [..., 2] -> the PixelCNN's input numbers in [-1, 1] (bin centre * 2 - 1)."""
        return self.quantizer.decode(bins) * 2.0 - 1.0

    def logits(self, gray: tf.Tensor, bins: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Teacher-forced logits [B, h, w, 2, K] of chroma bins int [B, h, w, 2] given gray [B, H, W, 1]."""
        s = self.condition(check_gray(gray, "model.py"), training)
        return self.pixelcnn(self.chroma_input(bins), s)

    def call(self, batch: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.logits(batch["gray"], batch["chroma"], training)

    # -- common/protocol.py ------------------------------------------------------------------------
    @classmethod
    def preprocessor(
        cls, resolution: int = RESOLUTION, num_bins: int = NUM_BINS, **_: Any
    ) -> Callable[[dict, bool], dict]:
        """`preprocess` for a config's `model` section, without building the model."""
        return functools.partial(
            preprocessing.pixcolor_example,
            resolution=resolution,
            low_resolution=resolution // STRIDE,
            num_bins=num_bins,
        )

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray": [R, R, 1], "chroma": int32 [r, r, 2]} (preprocessing.py)."""
        return self.preprocessor(self.resolution, self.num_bins)(example, training)

    def sample_spec(self) -> dict[str, InputSpec]:
        """The input of `sample`: the grayscale only (common/protocol.py); any H, W multiple of 8 works."""
        r = self.resolution
        return {"gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma Y in [0, 1]")}

    def _nll_nats(self, batch: dict[str, tf.Tensor], training: bool) -> tf.Tensor:
        logits = tf.cast(self.logits(batch["gray"], batch["chroma"], training), tf.float32)
        labels = tf.cast(batch["chroma"], tf.int32)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_sum(ce, axis=[1, 2, 3])

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """log p(chroma bins | gray) in nats, [B]."""
        return -self._nll_nats(batch, False)

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, dict]:
        """Per-example cross-entropy [B] in bits per dimension (dimensions: h * w * 2 chroma values)."""
        dims = tf.cast(tf.reduce_prod(tf.shape(batch["chroma"])[1:]), tf.float32)
        bpd = self._nll_nats(batch, training) / (dims * math.log(2.0))
        return bpd, {"bits_per_dim": bpd}

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int = 0,
        method: str = "fast",
        jit_compile: bool | None = None,
    ) -> dict[str, tf.Tensor]:
        """Samples low-resolution chroma, Cr then Cb per pixel in raster order (§3.1; pixcolor/sampler.py).

        Args:
          gray: [B, H, W, 1] in [0, 1], H and W multiples of 8 (224 x 224 in training; any size works,
            e.g. pixcolor.preprocessing.sampling_size of a photo).
          num_samples: N per image; seed: int (noise per image, sample and position: independent across the
            batch, not dependent on the batch size); temperature >= 0 (0 = argmax); top_k (0 = all bins).
          method: "fast" (cached, Ramachandran et al. 2017) or "naive"; the same samples.
          jit_compile: XLA for the sampling loop; None uses `jit_compile_sampler`.
        Returns:
          {"rgb": [B, N, H, W, 3] in [0, 1] (the chroma bilinearly upsampled, the input's luminance kept),
           "chroma_low": [B, N, h, w, 2] (Cr, Cb) bin centres in [0, 1], "bins": int32 [B, N, h, w, 2],
           "uncertainty": [B, N, h, w, 2] the maximum predicted probability of each pixel and channel};
          h, w = H / 8, W / 8.
        """
        from pixcolor.sampler import sample_bins  # the sampler imports the PixelCNN only

        gray = check_gray(gray, "model.py: sample")
        jit = self.jit_compile_sampler if jit_compile is None else bool(jit_compile)
        bins, max_prob = sample_bins(
            self,
            gray,
            num_samples=num_samples,
            seed=seed,
            temperature=temperature,
            top_k=top_k,
            method=method,
            jit_compile=jit,
        )
        chroma = self.quantizer.decode(bins)
        return {
            "rgb": join_luminance(gray, chroma),
            "chroma_low": chroma,
            "bins": bins,
            "uncertainty": max_prob,
        }

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "num_bins": self.num_bins,
            "resnet_blocks": self.resnet_blocks,
            "resnet_width": self.resnet_width,
            "resnet_weights": self.resnet_weights,
            "adaptation_channels": self.adaptation_channels,
            "adaptation_layers": self.adaptation_layers,
            **self.pixelcnn_args,
            "init_stddev": self.init_stddev,
            "engage_step": self.engage_step,
            "gradient_multiplier": self.gradient_multiplier,
            "freeze_trunk_batch_norm": self.freeze_trunk_batch_norm,
            "batch_norm_momentum": self.batch_norm_momentum,
            "jit_compile_sampler": self.jit_compile_sampler,
        }
