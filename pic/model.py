"""PIC: p(chroma | luminance) = prod_i p(ab_i | ab_<i, g(L)) (Royer, Kolesnikov, Lampert, BMVC 2017, §3).

g (pic/embedding.py) embeds the luminance; f (pic/pixelcnn_pp.py), a PixelCNN++ over the chroma canvas
at 1/d the resolution, biased in every block by the embedding, outputs per pixel a mixture of K
discretised logistics over (a, b) with b coupled to a and both to L (common/logistic_mixture.py). The
authors' code also reads the embedding's first 8K channels as an independent per-pixel mixture and adds
its bits/dim to the loss (`embedding_loss_weight`, 1 as theirs); `embedding_only` is the paper's §4.3
ablation: f removed, g alone trained on that loss, MAP decoding (temperature 0). Implements
common/protocol.py; layer and variable names are the authors' so their checkpoints import by name
(pic/import_authors.py).

Batches (pic/preprocessing.py): "gray" Lab L / 100 [B, R, R, 1], "rgb" [B, R, R, 3], floats in [0, 1].
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from common import logistic_mixture as lm
from common.color import lab_to_rgb, rgb_to_lab
from common.protocol import InputSpec
from pic import preprocessing
from pic.embedding import EmbeddingNetwork
from pic.pixelcnn_pp import PixelCNNPP, pad_ones
from pic.weightnorm import WeightNormConv2D


@keras.saving.register_keras_serializable(package="colorize")
class PICColorizer(keras.Model):
    """The PIC colorizer; constructor arguments are the config's `model` section (configs/pic.py).

    Args:
      resolution: R, side of the luminance (CIFAR 32, ILSVRC 128).
      downsample: d, chroma subsampling (CIFAR 2, ILSVRC 4); the chroma is R/d x R/d.
      embedding_channels, embedding_dilations, embedding_out_channels: g (Table 1; pic/embedding.py).
      channels, num_blocks, num_mixtures, dropout: f (160, 4, 10, 0.5).
      embedding_loss_weight: weight of the embedding's own bits/dim in the loss (the authors': 1).
      embedding_only: the §4.3 ablation (no f).
      jit_compile_sampler: XLA for the sampling loops (same samples).
    """

    def __init__(
        self,
        resolution: int = 128,
        downsample: int = 4,
        embedding_channels: int = 64,
        embedding_dilations: tuple[int, ...] | list[int] = (2, 4),
        embedding_out_channels: int = 160,
        channels: int = 160,
        num_blocks: int = 4,
        num_mixtures: int = 10,
        dropout: float = 0.5,
        embedding_loss_weight: float = 1.0,
        embedding_only: bool = False,
        jit_compile_sampler: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if resolution < 1 or resolution % downsample:
            raise ValueError(
                f"pic/model.py: resolution {resolution} is not a positive multiple of downsample {downsample}"
            )
        if embedding_out_channels < 8 * num_mixtures:
            raise ValueError(
                f"pic/model.py: embedding_out_channels {embedding_out_channels} < 8 * num_mixtures: the "
                "embedding's mixture head needs 8K channels"
            )
        self.resolution = int(resolution)
        self.downsample = int(downsample)
        self.embedding_channels = int(embedding_channels)
        self.embedding_dilations = tuple(int(d) for d in embedding_dilations)
        self.embedding_out_channels = int(embedding_out_channels)
        self.channels = int(channels)
        self.num_blocks = int(num_blocks)
        self.num_mixtures = int(num_mixtures)
        self.dropout = float(dropout)
        self.embedding_loss_weight = float(embedding_loss_weight)
        self.embedding_only = bool(embedding_only)
        self.jit_compile_sampler = bool(jit_compile_sampler)
        self.ab_offset = preprocessing.AB_OFFSET
        self.embedding = EmbeddingNetwork(
            embedding_channels, downsample, self.embedding_dilations, embedding_out_channels, name="embedding"
        )
        self.pixelcnn = None if embedding_only else PixelCNNPP(
            channels, num_blocks, num_mixtures, dropout, name="pcnn"
        )
        self._sample_fns: dict = {}
        r = self.resolution
        self.call({"gray": tf.zeros([1, r, r, 1]), "rgb": tf.zeros([1, r, r, 3])})  # creates every weight

    # -- the networks ----------------------------------------------------------------------------------
    @property
    def low_resolution(self) -> int:
        return self.resolution // self.downsample

    @staticmethod
    def embedding_input(gray: tf.Tensor) -> tf.Tensor:
        """gray (L / 100) [B, R, R, 1] -> g's input: (L - 50) / 50 and a ones channel, [B, R, R, 2]."""
        return pad_ones(tf.convert_to_tensor(gray, tf.float32) * 2.0 - 1.0)

    def low_res_luminance(self, gray: tf.Tensor) -> tf.Tensor:
        """gray [B, R, R, 1] -> the normalised L the mixture couples to, [B, r, r, 1]."""
        return preprocessing.subsample(tf.convert_to_tensor(gray, tf.float32), self.downsample) * 2.0 - 1.0

    def embedding_params(self, embedding: tf.Tensor) -> tf.Tensor:
        """The embedding's own mixture (its first 8K channels, as the authors'), [B, r, r, 8K]."""
        return embedding[..., : 8 * self.num_mixtures]

    def canvas_and_targets(self, rgb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """rgb [B, R, R, 3] -> (f's canvas: RGB in [-1, 1], [B, r, r, 3]; the targets (a, b) on the grid,
        [B, r, r, 2])."""
        low = preprocessing.subsample(tf.convert_to_tensor(rgb, tf.float32), self.downsample)
        return low * 2.0 - 1.0, preprocessing.lab_to_targets(rgb_to_lab(low))

    def networks(
        self, gray: tf.Tensor, canvas: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor | None, tf.Tensor]:
        """(f's params or None when embedding_only, the embedding's params), each [B, r, r, 8K]."""
        emb = self.embedding(self.embedding_input(gray), training=training)
        params = None if self.pixelcnn is None else self.pixelcnn(canvas, emb, training=training)
        return params, self.embedding_params(emb)

    def call(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(params, embedding params) [B, r, r, 8K] each; an embedding-only model gives the latter twice."""
        self._check(batch["gray"])
        canvas, _ = self.canvas_and_targets(batch["rgb"])
        params, emb_params = self.networks(batch["gray"], canvas, training)
        return (emb_params if params is None else params), emb_params

    def initialize(self, batch: dict[str, tf.Tensor]) -> None:
        """Data-dependent initialisation of every weight-normalised convolution (pic/weightnorm.py) from
        one batch, eagerly, before training (the authors' init pass on `init_batch_size` images). The
        trainer (common/train) calls it on a fresh run's first batch (common/protocol.py)."""
        layers = [la for la in self._flatten_layers() if isinstance(la, WeightNormConv2D)]
        for la in layers:
            la.init_pass = True
        try:
            self.call(batch, training=False)
        finally:
            for la in layers:
                la.init_pass = False

    def _check(self, gray: tf.Tensor) -> None:
        r = self.resolution
        gray = tf.convert_to_tensor(gray)
        if gray.shape.rank != 4 or gray.shape[-1] != 1 or tuple(gray.shape[1:3]) != (r, r):
            raise ValueError(f"pic/model.py: gray must be [B, {r}, {r}, 1] (Lab L / 100), got {gray.shape}")

    # -- common/protocol.py ----------------------------------------------------------------------------
    @classmethod
    def preprocessor(cls, resolution: int = 128, **_: Any) -> Callable[[dict, bool], dict]:
        """`preprocess` for a config's `model` section, without building the model."""
        return functools.partial(preprocessing.example, resolution=resolution)

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray": [R, R, 1], "rgb": [R, R, 3]} (pic/preprocessing.py)."""
        return preprocessing.example(example, training, resolution=self.resolution)

    def sample_spec(self) -> dict[str, InputSpec]:
        """The input of `sample`: the luminance only (`sample` also takes any other size)."""
        r = self.resolution
        return {"gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "Lab lightness L / 100")}

    def _log_probs(self, batch: dict[str, tf.Tensor], training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """(log p of f, log p of the embedding's head), nats per example [B]."""
        self._check(batch["gray"])
        canvas, ab = self.canvas_and_targets(batch["rgb"])
        lum = self.low_res_luminance(batch["gray"])
        params, emb_params = self.networks(batch["gray"], canvas, training)
        emb_lp = tf.reduce_sum(lm.log_prob(emb_params, ab, lum), axis=[1, 2])
        if params is None:
            return emb_lp, emb_lp
        return tf.reduce_sum(lm.log_prob(tf.cast(params, tf.float32), ab, lum), axis=[1, 2]), emb_lp

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """log p(a, b | L) of the chroma at r x r on the 256 x 256 bins, nats [B]."""
        return self._log_probs(batch, training=False)[0]

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, dict]:
        """Per-example loss [B]: bits/dim of f + embedding_loss_weight x bits/dim of the embedding's head
        (the authors' objective); dimensions are r * r * 2 (a and b)."""
        lp, emb_lp = self._log_probs(batch, training)
        to_bpd = -1.0 / (self.low_resolution**2 * 2 * math.log(2.0))
        bpd, emb_bpd = lp * to_bpd, emb_lp * to_bpd
        loss = emb_bpd if self.embedding_only else bpd + self.embedding_loss_weight * emb_bpd
        return loss, {"bits_per_dim": bpd, "embedding_bits_per_dim": emb_bpd}

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int | tf.Tensor = 0,
        method: str = "fast",
        jit_compile: bool | None = None,
    ) -> dict[str, tf.Tensor]:
        """Colourings of grayscale images of any size (the authors' demo): L resized to R x R, chroma drawn
        at r x r (pic/sampler.py), upsampled bilinearly to the input's size and joined with its own L.

        Args:
          gray: [B, H, W, 1] Lab L / 100 in [0, 1].
          num_samples, seed: N colourings per image; the same seed gives the same samples.
          temperature: scales the logistics (the authors' scale_var); 0 = mode decoding (MAP, §4.3).
          top_k: keep the k most probable mixture components (0 = all); an int32 tensor is read at run
            time (exports).
          method: "fast" (cached rows) or "naive" (the whole network per pixel).
        Returns:
          {"rgb": [B, N, H, W, 3] in [0, 1], "ab": [B, N, r, r, 2] the drawn chroma on the grid of [-1, 1],
           "uncertainty": [B, N, r, r] the largest mixture weight of each pixel}.
        """
        from pic.sampler import sample_chroma  # the sampler reads this model's parts

        gray = tf.convert_to_tensor(gray, tf.float32)
        if gray.shape.rank != 4 or gray.shape[-1] != 1:
            raise ValueError(f"pic/model.py: gray must be [B, H, W, 1] (Lab L / 100), got {gray.shape}")
        r = self.resolution
        small = gray if tuple(gray.shape[1:3]) == (r, r) else tf.image.resize(gray, [r, r], antialias=True)
        ab, params = sample_chroma(
            self,
            tf.clip_by_value(small, 0.0, 1.0),
            num_samples=num_samples,
            seed=seed,
            temperature=temperature,
            top_k=top_k,
            method=method,
            jit_compile=self.jit_compile_sampler if jit_compile is None else jit_compile,
        )
        size = tf.shape(gray)[1:3]
        lab_ab = ab * 127.5 + tf.constant(self.ab_offset, tf.float32)
        b, n = tf.shape(ab)[0], num_samples
        flat = tf.reshape(lab_ab, tf.concat([[b * n], tf.shape(ab)[2:]], 0))
        up = tf.image.resize(flat, size, method="bilinear")
        lightness = tf.repeat(gray, n, axis=0) * 100.0
        rgb = lab_to_rgb(tf.concat([lightness, up], axis=-1))
        weights = tf.nn.softmax(params[..., : self.num_mixtures], axis=-1)
        return {
            "rgb": tf.reshape(rgb, tf.concat([[b, n], tf.shape(rgb)[1:]], 0)),
            "ab": ab,
            "uncertainty": tf.reduce_max(weights, axis=-1),
        }

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "downsample": self.downsample,
            "embedding_channels": self.embedding_channels,
            "embedding_dilations": list(self.embedding_dilations),
            "embedding_out_channels": self.embedding_out_channels,
            "channels": self.channels,
            "num_blocks": self.num_blocks,
            "num_mixtures": self.num_mixtures,
            "dropout": self.dropout,
            "embedding_loss_weight": self.embedding_loss_weight,
            "embedding_only": self.embedding_only,
            "jit_compile_sampler": self.jit_compile_sampler,
        }
