"""CIC: the deterministic baseline, p(ab bin | L) per pixel (Zhang, Isola & Efros 2016, "Colorful Image
Colorization"; §2). Implements common/protocol.py.

luma -> lightness L (cic/preprocessing.py) -> CICNetwork (cic/network.py) -> 313 bin logits at 1/4 of
the input side. Training: cross-entropy against the soft-encoded true ab (§2.1), each pixel weighted by
the class-rebalancing weight of its nearest bin (§2.2, eq. 3-4); near-gray images are masked (the
authors' training net). Decoding: the annealed mean at T = 0.38 (§2.3), bilinearly upsampled x4 and
joined with the input's lightness.

The rebalancing weights: from `prior_file`, a .npy of the 313 empirical bin probabilities of the
training photos (`python -m cic.prior --data=FOLDER --out=prior.npy`), smoothed and mixed as §2.2
(common.cic.rebalancing_weights). With `prior_file=""` every weight is 1 (no rebalancing). The weights
are a (non-trainable) model variable saved in every checkpoint, so a trained model needs the file only
to train: loading it for sampling, evaluation or export on another machine does not read the file.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cic import preprocessing
from cic.network import MULTIPLE, CICNetwork
from common import cic
from common.protocol import InputSpec


def read_prior_weights(prior_file: str, lam: float, sigma: float) -> np.ndarray | None:
    """Rebalancing weights [313] float32 from a prior .npy (common.cic.rebalancing_weights); ones for "";
    None when the file does not exist. A malformed file is a one-line ValueError naming it."""
    if not prior_file:
        return np.ones([cic.NUM_BINS], np.float32)
    path = os.path.expanduser(prior_file)
    if not os.path.isfile(path):
        return None
    try:
        prior = np.load(path)
        return cic.rebalancing_weights(prior, lam=lam, sigma=sigma).astype(np.float32)
    except (OSError, ValueError) as e:
        raise ValueError(f"cic: prior_file={prior_file}: {e}") from None


@keras.saving.register_keras_serializable(package="colorize")
class CICColorizer(keras.Model):
    """The CIC colorizer; constructor arguments are the config's `model` section.

    Args:
      resolution: side R of the square inputs (a multiple of 8; the authors' deploy net: 224).
      base_width: channels of conv1 (64 in the paper; the other blocks are multiples, cic/network.py).
      soft_neighbors, soft_sigma: the soft encoding's k and Gaussian sigma (ref code 10 and 5; paper 5, 5).
      prior_file: .npy of the empirical bin prior ("" = no rebalancing), see the module docstring.
      rebalance_lambda: λ mixing the smoothed prior with the uniform one (0.5, §2.2).
      prior_sigma: the Gaussian smoothing of the prior in ab space (5, §2.2).
      annealed_temperature: T of the annealed mean (0.38, §2.3; the ref net scales logits by 2.606 = 1/T).
      weight_decay: L2 on every weight, Caffe's convention (1e-3, ref solver).
      bn_epsilon: the batch norms' epsilon (Caffe 1e-5).
    Batches (from `preprocess`, cic/preprocessing.py): "gray" [B, R, R, 1], "rgb" [B, R, R, 3], "ab"
    [B, R/4, R/4, 2], "targets" [B, R/4, R/4, 313], "mask" [B].
    """

    def __init__(
        self,
        resolution: int = 224,
        base_width: int = 64,
        soft_neighbors: int = 10,
        soft_sigma: float = 5.0,
        prior_file: str = "",
        rebalance_lambda: float = 0.5,
        prior_sigma: float = 5.0,
        annealed_temperature: float = 0.38,
        weight_decay: float = 1e-3,
        bn_epsilon: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if resolution < MULTIPLE or resolution % MULTIPLE:
            raise ValueError(f"cic/model.py: resolution must be a positive multiple of 8, got {resolution}")
        if not annealed_temperature > 0:
            raise ValueError(f"cic/model.py: annealed_temperature must be > 0, got {annealed_temperature}")
        self.resolution = int(resolution)
        self.base_width = int(base_width)
        self.soft_neighbors = int(soft_neighbors)
        self.soft_sigma = float(soft_sigma)
        self.prior_file = str(prior_file)
        self.rebalance_lambda = float(rebalance_lambda)
        self.prior_sigma = float(prior_sigma)
        self.annealed_temperature = float(annealed_temperature)
        self.weight_decay = float(weight_decay)
        self.bn_epsilon = float(bn_epsilon)
        self.network = CICNetwork(base_width, weight_decay, bn_epsilon, name="network")
        weights = read_prior_weights(self.prior_file, self.rebalance_lambda, self.prior_sigma)
        self._prior_missing = weights is None  # fine to sample / evaluate (checkpoints hold the weights)
        self.rebalance_weights = self.add_weight(
            shape=(cic.NUM_BINS,),
            initializer=keras.initializers.Constant(np.ones(cic.NUM_BINS) if weights is None else weights),
            trainable=False,
            name="rebalance_weights",
        )
        self.network(tf.zeros([1, self.resolution, self.resolution, 1]))  # every weight exists now

    # -- the model ---------------------------------------------------------------------------------
    @property
    def output_size(self) -> int:
        """Side of the bin logits, R / 4."""
        return self.resolution // preprocessing.STRIDE

    def _check_gray(self, gray: tf.Tensor) -> tf.Tensor:
        gray = tf.cast(gray, tf.float32)
        if gray.shape.rank != 4 or gray.shape[-1] != 1 or tuple(gray.shape[1:3]) != (self.resolution,) * 2:
            raise ValueError(
                f"cic/model.py: gray must be [B, {self.resolution}, {self.resolution}, 1] in [0, 1], "
                f"got {gray.shape}"
            )
        return gray

    def logits(self, gray: tf.Tensor, training: bool = False) -> tf.Tensor:
        """gray [B, R, R, 1] luma in [0, 1] -> bin logits [B, R/4, R/4, 313] float32. (Not through
        `__call__`, which would cast the gray to a mixed-precision policy's compute dtype first.)"""
        centred = preprocessing.lightness(self._check_gray(gray)) - preprocessing.L_CENTER
        return self.network(centred, training=training)

    def call(self, gray: tf.Tensor, training: bool = False) -> tf.Tensor:
        """`logits`."""
        return self.logits(gray, training=training)

    def decode(self, logits: tf.Tensor, temperature: Any = 1.0, top_k: Any = 0) -> tf.Tensor:
        """Bin logits [..., 313] -> ab [..., 2]: the annealed mean at T = annealed_temperature * temperature
        (temperature 1: the paper's T = 0.38; 0: the centre of the most probable bin, "mode"; 1 / 0.38:
        the plain mean), over the `top_k` most probable bins only (0: all). Scalars or scalar tensors."""
        logits = tf.convert_to_tensor(logits, tf.float32)
        if isinstance(top_k, int | np.integer) and not isinstance(top_k, bool) and top_k < 0:
            raise ValueError(f"cic/model.py: top_k must be >= 0, got {top_k}")
        if isinstance(temperature, int | float) and temperature < 0:
            raise ValueError(f"cic/model.py: temperature must be >= 0, got {temperature}")
        top_k = tf.convert_to_tensor(top_k, tf.int32)
        ranked = tf.math.top_k(logits, k=cic.NUM_BINS).values  # descending
        kth = tf.gather(ranked, tf.clip_by_value(top_k, 1, cic.NUM_BINS) - 1, axis=-1)[..., None]
        keep = tf.logical_or(top_k <= 0, logits >= kth)
        t = tf.cast(temperature, tf.float32) * self.annealed_temperature
        safe_t = tf.where(t > 0, t, 1.0)
        # Subtracting the max keeps the -inf-free masking finite: dropped bins get exactly zero weight.
        shifted = (logits - ranked[..., :1]) / safe_t
        annealed = tf.nn.softmax(tf.where(keep, shifted, -1e30), axis=-1)
        mode = tf.one_hot(tf.argmax(logits, axis=-1, output_type=tf.int32), cic.NUM_BINS)
        probs = tf.where(t > 0, annealed, mode)
        return tf.tensordot(probs, tf.constant(cic.ab_bins()), axes=[[-1], [0]])

    # -- common/protocol.py ------------------------------------------------------------------------
    @classmethod
    def preprocessor(
        cls, resolution: int = 224, soft_neighbors: int = 10, soft_sigma: float = 5.0, **_: Any
    ) -> Callable[[dict, bool], dict]:
        """`preprocess` for a config's `model` section, without building the model."""
        return functools.partial(
            preprocessing.example, resolution=resolution, soft_neighbors=soft_neighbors, soft_sigma=soft_sigma
        )

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> the class docstring's batch, unbatched (cic/preprocessing.py)."""
        return preprocessing.example(
            example,
            training,
            resolution=self.resolution,
            soft_neighbors=self.soft_neighbors,
            soft_sigma=self.soft_sigma,
        )

    def sample_spec(self) -> dict[str, InputSpec]:
        """The input of `sample`: the grayscale only (common/protocol.py)."""
        r = self.resolution
        return {"gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma in [0, 1] (BT.601)")}

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """log p(ab | gray) in nats, [B], over the 313-bin event space: the sum over the R/4 x R/4 output
        pixels of log p(the bin nearest to the pixel's true ab, batch["ab"]). Bits per dimension divide
        by (R/4)^2 ln 2. No mask and no rebalancing: a likelihood, not the training loss."""
        log_p = tf.nn.log_softmax(self.logits(batch["gray"]), axis=-1)
        hard = tf.one_hot(cic.encode_hard(batch["ab"]), cic.NUM_BINS)
        return tf.reduce_sum(log_p * hard, axis=[1, 2, 3])

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, dict]:
        """Per-example loss [B]: mask * mean over output pixels of w(nearest bin) * H(targets, p) in nats
        (CIC eq. 2-3; the weight is taken at the target's most probable bin, as the ref PriorBoostLayer).
        Metrics: "bits_per_dim" (-log_prob / ((R/4)^2 ln 2), unmasked) and "cross_entropy" (the soft
        cross-entropy without weights or mask, nats per pixel)."""
        if training and self._prior_missing:
            raise FileNotFoundError(
                f"cic: prior_file={self.prior_file} does not exist; make it with `python -m cic.prior "
                f"--data=<training photos> --out={self.prior_file}` or set model.prior_file=''"
            )
        targets = tf.cast(batch["targets"], tf.float32)
        log_p = tf.nn.log_softmax(self.logits(batch["gray"], training=training), axis=-1)
        cross_entropy = -tf.reduce_sum(targets * log_p, axis=-1)  # [B, h, w]
        weights = tf.gather(self.rebalance_weights, tf.argmax(targets, axis=-1, output_type=tf.int32))
        loss = tf.cast(batch["mask"], tf.float32) * tf.reduce_mean(weights * cross_entropy, axis=[1, 2])
        hard = tf.one_hot(cic.encode_hard(batch["ab"]), cic.NUM_BINS)
        nats = -tf.reduce_sum(log_p * hard, axis=[1, 2, 3])
        bpd = nats / (self.output_size**2 * math.log(2.0))
        return loss, {"bits_per_dim": bpd, "cross_entropy": tf.reduce_mean(cross_entropy, axis=[1, 2])}

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int = 0,
    ) -> dict[str, tf.Tensor]:
        """The CIC decode of each grayscale, `num_samples` times (CIC is deterministic: every sample is the
        same and `seed` is unused).

        Args:
          gray: [B, R, R, 1] luma in [0, 1].
          temperature: scales the paper's annealing temperature: 1 -> the annealed mean at T = 0.38 (the
            paper's decode), 0 -> the mode (centre of the most probable bin), 1/0.38 -> the mean.
          top_k: the expectation over the k most probable bins only (0, or k >= 313: all 313).
        Returns:
          {"rgb": [B, N, R, R, 3] in [0, 1]: the decoded ab upsampled x4 (bilinear) with the gray's
           lightness; "ab": [B, N, R, R, 2]; "uncertainty": [B, N, R/4, R/4] the largest bin probability
           of each output pixel (softmax at temperature 1; low = uncertain)}.
        """
        del seed
        gray = self._check_gray(gray)
        logits = self.logits(gray)
        ab = preprocessing.upsample(self.decode(logits, temperature, top_k))
        rgb = preprocessing.lab_rgb(gray, ab)
        confidence = tf.reduce_max(tf.nn.softmax(logits, axis=-1), axis=-1)

        def repeat(x: tf.Tensor) -> tf.Tensor:  # tile (a TFLite builtin), num_samples may be a tensor
            ones = tf.ones([x.shape.rank - 1], tf.int32)
            multiples = tf.concat([[1], tf.reshape(num_samples, [1]), ones], 0)
            return tf.tile(x[:, None], multiples)

        return {"rgb": repeat(rgb), "ab": repeat(ab), "uncertainty": repeat(confidence)}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "base_width": self.base_width,
            "soft_neighbors": self.soft_neighbors,
            "soft_sigma": self.soft_sigma,
            "prior_file": self.prior_file,
            "rebalance_lambda": self.rebalance_lambda,
            "prior_sigma": self.prior_sigma,
            "annealed_temperature": self.annealed_temperature,
            "weight_decay": self.weight_decay,
            "bn_epsilon": self.bn_epsilon,
        }
