"""The network shared by ColTran's two parallel upsamplers (Kumar et al. 2021, §4.3 and fig. 2, right).

`ChannelUpsampler` predicts one colour channel at a time: the channel's conditioning value (offset by the
channel index, so the embedding also says which channel it is) is embedded and added to an embedding of
the 8-bit grayscale, an unmasked axial encoder (coltran.layers.AxialEncoder, with its memory savers
`num_chunks` and `remat`) mixes the whole image, and a dense layer gives 256-way logits per pixel. It also
implements the model protocol (compute_loss, log_prob, the shared part of sample). The two concrete
models, ColorUpsampler and SpatialUpsampler, are in coltran/upsampler.py, which also lists the
differences from the authors' code.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

from coltran.constants import NUM_CHANNELS, NUM_LEVELS
from coltran.layers import AxialEncoder
from common import quantize
from common.data import preprocess as pp
from common.sampling import fold_seed, sample_categorical

_LN2 = math.log(2.0)


def square_8bit(
    example: dict[str, tf.Tensor], training: bool, size: int
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """{"image": uint8 [H, W, 3]} -> (float32 8-bit values [size, size, 3], seed for the channel draw).

    ColTran's data pipeline: a random square crop in training, the centre one at evaluation, then an
    antialiased area resize, rounded to 8 bits.
    """
    image = example["image"]
    seed = example.get("seed")
    crop_seed = chan_seed = None
    if seed is not None:
        crop_seed, chan_seed = tf.unstack(pp.split_seed(seed, 2))
    image = pp.random_square_crop(image, crop_seed) if training else pp.central_square_crop(image)
    return tf.round(pp.resize_area(image, size)), chan_seed


def random_channel(seed: tf.Tensor | None) -> tf.Tensor:
    """int32 scalar in [0, 3): the channel trained on for this example (ref `random_channel_slice`)."""
    if seed is None:
        return tf.random.uniform([], 0, NUM_CHANNELS, dtype=tf.int32)
    return tf.random.stateless_uniform([], seed, 0, NUM_CHANNELS, dtype=tf.int32)


class ChannelUpsampler(keras.Model):
    """Per-channel parallel upsampler body shared by ColorUpsampler and SpatialUpsampler.

    Subclasses give `cond_levels` (values per channel of the conditioning: 8 for 3-bit, 256 for 8-bit)
    and `_conditioning(batch)` -> int32 [B, R, R, 3] at the output resolution R = `resolution`.
    """

    cond_key = ""  # the batch key holding the colour conditioning (set by subclasses)

    def __init__(
        self,
        hidden_size: int,
        ff_size: int,
        num_heads: int,
        num_encoder_layers: int,
        dropout: float,
        resolution: int,
        cond_levels: int,
        remat: bool,
        num_chunks: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.ff_size = int(ff_size)
        self.num_heads = int(num_heads)
        self.num_encoder_layers = int(num_encoder_layers)
        self.dropout = float(dropout)
        self.resolution = int(resolution)
        self.cond_levels = int(cond_levels)
        self.remat = bool(remat)
        self.num_chunks = int(num_chunks)
        if self.num_chunks < 1:
            raise ValueError(f"{type(self).__name__}: num_chunks must be >= 1, got {num_chunks}")
        self.gray_embedding = keras.layers.Embedding(NUM_LEVELS, self.hidden_size, name="gray_embedding")
        # One table for all channels: id = value + cond_levels * channel (ref: one-hot over 3 * levels).
        self.channel_embedding = keras.layers.Embedding(
            NUM_CHANNELS * self.cond_levels, self.hidden_size, name="channel_embedding"
        )
        self.encoder = AxialEncoder(
            self.hidden_size,
            self.ff_size,
            self.num_heads,
            self.num_encoder_layers,
            dropout=self.dropout,
            num_chunks=self.num_chunks,
            remat=self.remat,
            name="encoder",
        )
        self.final_dense = keras.layers.Dense(NUM_LEVELS, name="final_dense")
        self.build(None)  # the shapes are fixed by the config: make the weights now (optimizer, EMA, restore)

    def build(self, input_shape: Any = None) -> None:
        r, d = self.resolution, self.hidden_size
        self.gray_embedding.build((None, r, r))
        self.channel_embedding.build((None, r, r))
        self.encoder.build((None, r, r, d))
        self.final_dense.build((None, r, r, d))
        self.built = True

    # ------------------------------------------------------------------------------------------ network
    def _gray_ids(self, gray: tf.Tensor) -> tf.Tensor:
        """float [B, R, R, 1] in [0, 1] -> int32 8-bit levels [B, R, R]."""
        return quantize.to_8bit(gray[..., 0])

    def channel_logits(
        self, gray_embed: tf.Tensor, cond: tf.Tensor, channel: int | tf.Tensor, training: bool = False
    ) -> tf.Tensor:
        """Logits of one channel.

        Args:
          gray_embed: float32 [B, R, R, D], `gray_embedding` of the 8-bit grayscale.
          cond: int32 [B, R, R] in [0, cond_levels), this channel's conditioning values.
          channel: 0, 1, 2 (R, G, B) for the whole batch, or int32 [B] (one channel per example).
          training: enables dropout.
        Returns:
          float32 [B, R, R, 256] logits over the channel's 8-bit value.
        """
        channel = tf.cast(channel, tf.int32)
        if channel.shape.rank == 1:
            channel = channel[:, None, None]
        h = self.channel_embedding(cond + self.cond_levels * channel) + gray_embed
        # float32 logits (softmax and loss) also under mixed precision
        return tf.cast(self.final_dense(self.encoder(h, training=training)), tf.float32)

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """{"gray": [B, R, R, 1], cond_key: conditioning} -> logits [B, R, R, 3, 256] (all channels)."""
        gray_embed = self.gray_embedding(self._gray_ids(inputs["gray"]))
        cond = self._conditioning(inputs)
        return tf.stack(
            [self.channel_logits(gray_embed, cond[..., c], c, training) for c in range(NUM_CHANNELS)], axis=-2
        )

    def _conditioning(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        raise NotImplementedError

    # --------------------------------------------------------------------------------------- protocol
    def _channel_nats(self, batch: dict[str, tf.Tensor], training: bool) -> tuple[tf.Tensor, int]:
        """Sum over pixels of -log p(8-bit value) [B] and how many channels it covers (1 or 3)."""
        gray_embed = self.gray_embedding(self._gray_ids(batch["gray"]))
        cond = self._conditioning(batch)
        labels = quantize.to_8bit(batch["rgb"])  # [B, R, R, 3]
        if training and "channel" in batch:
            channel = tf.cast(tf.reshape(batch["channel"], [-1]), tf.int32)
            cond_c = tf.gather(cond, channel, axis=3, batch_dims=1)
            labels_c = tf.gather(labels, channel, axis=3, batch_dims=1)
            logits = self.channel_logits(gray_embed, cond_c, channel, training)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels_c, logits=logits)
            return tf.reduce_sum(ce, axis=[1, 2]), 1
        total = 0.0
        for c in range(NUM_CHANNELS):  # one channel's logits alive at a time
            logits = self.channel_logits(gray_embed, cond[..., c], c, training)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[..., c], logits=logits)
            total += tf.reduce_sum(ce, axis=[1, 2])
        return total, NUM_CHANNELS

    def compute_loss(
        self, batch: dict[str, tf.Tensor], training: bool = False
    ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Per-example bits per dimension [B] (the loss) and {"bits_per_dim": [B]}.

        In training with `batch["channel"]` only that channel of each example is scored (its R * R
        dimensions); otherwise all three channels (3 * R * R dimensions).
        """
        nats, num_channels = self._channel_nats(batch, training)
        bpd = nats / (_LN2 * num_channels * self.resolution * self.resolution)
        return bpd, {"bits_per_dim": bpd}

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """log p(8-bit RGB | conditioning, grayscale) in nats [B], all channels and pixels."""
        nats, _ = self._channel_nats(batch, training=False)
        return -nats

    def _sample(
        self,
        gray: tf.Tensor,
        cond: tf.Tensor,
        num_samples: int,
        seed: int | tf.Tensor,
        temperature: float,
        top_k: int,
    ) -> dict[str, tf.Tensor]:
        gray_embed = self.gray_embedding(self._gray_ids(gray))
        channels = []
        for c in range(NUM_CHANNELS):
            logits = self.channel_logits(gray_embed, cond[..., c], c, training=False)
            if isinstance(temperature, (int, float)) and temperature == 0:
                drawn = tf.argmax(logits, axis=-1, output_type=tf.int32)
                channels.append(tf.repeat(drawn[:, None], num_samples, axis=1))
                continue
            draws = [
                sample_categorical(
                    logits, seed=fold_seed(seed, NUM_CHANNELS * n + c), temperature=temperature, top_k=top_k
                )
                for n in range(num_samples)
            ]
            channels.append(tf.stack(draws, axis=1))
        labels = tf.stack(channels, axis=-1)  # [B, N, R, R, 3]
        return {"rgb": quantize.from_8bit(labels), "labels": labels}

    def _check_gray(self, gray: tf.Tensor, where: str) -> tf.Tensor:
        gray = tf.convert_to_tensor(gray)
        r = self.resolution
        if gray.shape.rank != 4 or tuple(gray.shape[1:]) != (r, r, 1) or not gray.dtype.is_floating:
            raise ValueError(
                f"{type(self).__name__}.{where}: gray must be float [B, {r}, {r}, 1] in [0, 1], "
                f"got {gray.dtype.name} {gray.shape}"
            )
        return tf.cast(gray, tf.float32)

    def _check_num_samples(self, num_samples: int) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(
                f"{type(self).__name__}.sample: num_samples must be an int >= 1, got {num_samples!r}"
            )

    def _base_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hidden_size": self.hidden_size,
            "ff_size": self.ff_size,
            "num_heads": self.num_heads,
            "num_encoder_layers": self.num_encoder_layers,
            "dropout": self.dropout,
            "resolution": self.resolution,
            "remat": self.remat,
            "num_chunks": self.num_chunks,
        }
