"""ColTran's two parallel upsamplers (Kumar et al. 2021, §4.3 and fig. 2, right).

ColorUpsampler:   coarse 3-bit RGB [B, 64, 64, 3] + grayscale [B, 64, 64, 1] -> 8-bit RGB at 64x64.
SpatialUpsampler: 8-bit RGB [B, 64, 64, 3], area-upsampled (blocky) to 256x256, + grayscale
                  [B, 256, 256, 1] -> 8-bit RGB at 256x256.

Both are the same network (`_ChannelUpsampler`): one colour channel at a time, the channel's conditioning
value (offset by the channel index, so the embedding also says which channel it is) is embedded and added
to an embedding of the 8-bit grayscale, an unmasked axial encoder (coltran.layers.AxialEncoder) mixes the
whole image, and a dense layer gives 256-way logits per pixel. Every pixel and channel is predicted in
parallel given the conditioning (no autoregression), so decoding is one forward pass per channel; the paper
decodes by argmax (temperature 0 here), and temperature > 0 samples each pixel independently.

Differences from the authors' code (google-research coltran/models/upsampler.py), all on purpose:
  * Their one-hot -> Dense(no bias) embeddings, concatenated and passed through a Dense, are a linear
    function of the two one-hots; a sum of two embedding lookups is the same family of functions without
    the [B, H, W, 2D] concatenation and its matmul (the 256x256 tensors dominate memory).
  * Channels are processed one after another and never stacked along the batch, and at evaluation and
    sampling only one channel's activations and logits are alive at a time (memory at 256x256).
  * Training on a random channel per example (ref `random_channel`) uses `batch["channel"]`, written by
    `preprocess`; without it (evaluation) all three channels are scored.
  * Memory (ref users run out of it at 256x256, their issues #838, #896): `num_chunks` runs the encoder
    in strips of whole rows / columns, and `remat` recomputes each residual branch, strip by strip, in
    backprop. Both are exact; see `_ChannelUpsampler._encode` and BENCHMARKS.md (ColTran upsamplers).

Constructor arguments (the config's `model` section minus `name`): hidden_size, ff_size, num_heads,
num_encoder_layers, dropout (the AxialEncoder's), resolution R, remat, num_chunks, plus coarse_bits
(ColorUpsampler) or low_resolution (SpatialUpsampler).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record  # tf.recompute_grad's own way to pause the tape (no public API)

from coltran.layers import AxialEncoder
from common import quantize
from common.color import rgb_to_gray
from common.data import preprocess as pp
from common.sampling import fold_seed, sample_categorical

NUM_SYMBOLS = 256  # 8-bit levels: the output of both upsamplers and the grayscale input's levels
NUM_CHANNELS = 3
_LN2 = math.log(2.0)


def area_upsample(low8: tf.Tensor, size: int) -> tf.Tensor:
    """8-bit RGB [B, h, w, 3] (int, or float in [0, 255]) -> int32 [B, size, size, 3] by area resize.

    Upsampling by an integer factor with area averaging repeats each pixel (ref datasets_utils
    `downsample_and_upsample`: the "blurry" spatial-upsampler input).
    """
    up = tf.image.resize(tf.cast(low8, tf.float32), (size, size), method="area")
    return tf.cast(tf.clip_by_value(tf.round(up), 0.0, 255.0), tf.int32)


def _square_8bit(
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


def _random_channel(seed: tf.Tensor | None) -> tf.Tensor:
    """int32 scalar in [0, 3): the channel trained on for this example (ref `random_channel_slice`)."""
    if seed is None:
        return tf.random.uniform([], 0, NUM_CHANNELS, dtype=tf.int32)
    return tf.random.stateless_uniform([], seed, 0, NUM_CHANNELS, dtype=tf.int32)


def _remat_strips(fn: Any, x: tf.Tensor, sizes: list[int], axis: int, residual: bool) -> tf.Tensor:
    """fn(x) (or x + fn(x) when `residual`) strip by strip along `axis`, with gradient checkpointing.

    The forward pass keeps nothing but `x` for backprop; the backward pass recomputes each strip's
    forward under its own tape, so only one strip's intermediates exist at any time. `fn` must act on
    each strip independently (the caller's strips respect the attention axis). Two details save memory
    over `tf.recompute_grad` per strip, which would keep a copy of the branch's weights per strip and,
    through the identity that `tf.custom_gradient` puts on its output, the branch output too: here the
    weights are recorded once per branch and the residual sum is formed inside, so the output kept is
    the next branch's input, which is kept anyway.
    """

    @tf.custom_gradient
    def run(t: tf.Tensor) -> tuple[tf.Tensor, Any]:
        with record.stop_recording():  # what tf.recompute_grad does: no intermediates on the outer tape
            y = tf.concat([fn(part) for part in tf.split(t, sizes, axis=axis)], axis=axis)
            if residual:
                y = t + y

        def grad(dy: tf.Tensor, variables: list[tf.Variable] | None = None) -> tuple[tf.Tensor, list]:
            variables = list(variables or [])
            dvars: list[tf.Tensor | None] = [None] * len(variables)
            dxs = []
            parts = zip(tf.split(t, sizes, axis=axis), tf.split(dy, sizes, axis=axis), strict=True)
            for part, dpart in parts:
                # In a graph, make the recomputation wait for the incoming gradient and the previous strip,
                # so that it is neither merged with the forward ops (common subexpression elimination
                # would keep every forward intermediate alive) nor run for all strips at once.
                with tf.control_dependencies([dpart, *dxs[-1:]]):
                    part = tf.identity(part)
                with tf.GradientTape() as tape:
                    tape.watch(part)
                    tape.watch(variables)
                    out = fn(part)
                g = tape.gradient(out, [part, *variables], output_gradients=dpart)
                dxs.append(g[0] + dpart if residual else g[0])
                for i, gv in enumerate(g[1:]):
                    if gv is not None:
                        gv = tf.convert_to_tensor(gv)
                        dvars[i] = gv if dvars[i] is None else dvars[i] + gv
            dvars = [tf.zeros_like(v) if d is None else d for v, d in zip(variables, dvars, strict=True)]
            return tf.concat(dxs, axis=axis), dvars

        return y, grad

    return run(x)


class _ChannelUpsampler(keras.Model):
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
        self.gray_embedding = keras.layers.Embedding(NUM_SYMBOLS, self.hidden_size, name="gray_embedding")
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
            name="encoder",
        )
        self.final_dense = keras.layers.Dense(NUM_SYMBOLS, name="final_dense")
        self.build(None)  # the shapes are fixed by the config: make the weights now (optimizer, EMA, restore)

    def build(self, input_shape: Any = None) -> None:
        r, d = self.resolution, self.hidden_size
        self.gray_embedding.build((None, r, r))
        self.channel_embedding.build((None, r, r))
        # A symbolic call builds the encoder's sublayers (its own `build` would not create their weights).
        self.encoder(keras.KerasTensor((1, r, r, d)))
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
        return self.final_dense(self._encode(h, training))

    def _encode(self, h: tf.Tensor, training: bool) -> tf.Tensor:
        """`self.encoder(h)` [B, R, R, D] -> [B, R, R, D], run so that large images fit in memory.

        The encoder's steps (coltran/layers.py AxialEncoder.call) are run here one residual branch at a
        time, with two memory savers; both give the same values and gradients as `self.encoder`
        (tests/coltran/test_upsampler.py):
          * strips (`num_chunks` > 1, inference and remat training): each branch runs on horizontal strips
            of whole rows (row attention, MLP, layer norms) or vertical strips of whole columns (column
            attention), which is exact because nothing mixes across them, so only one strip's attention
            weights and MLP activations exist at a time;
          * `remat` in training: every branch (each strip) is recomputed in backprop (gradient
            checkpointing), so only its input is kept for the backward pass, not its intermediates.
        Remat is skipped with dropout > 0, where a recomputed branch would draw a different mask.
        """
        enc = self.encoder
        remat = self.remat and training and self.dropout == 0.0
        if not remat and (training or self.num_chunks == 1):
            return enc(h, training=training)
        h = enc.pos(h)
        for att_norm, att, mlp_norm, mlp in enc.blocks:
            strips_axis = 1 if att.axis == "row" else 2  # keep whole rows / whole columns together
            h = self._branch(lambda x, n=att_norm, f=att: f(n(x)), h, strips_axis, remat, residual=True)
            h = self._branch(lambda x, n=mlp_norm, f=mlp: f(n(x)), h, 1, remat, residual=True)
        return self._branch(enc.final_norm, h, 1, remat, residual=False)

    def _branch(self, fn: Any, x: tf.Tensor, axis: int, remat: bool, residual: bool) -> tf.Tensor:
        """fn(x), or x + fn(x) if `residual`, strip by strip along `axis` (1 = rows, 2 = columns)."""
        size = x.shape[axis]
        sizes = [len(part) for part in np.array_split(np.arange(size), min(self.num_chunks, size))]
        if remat:
            return _remat_strips(fn, x, sizes, axis, residual)
        y = fn(x) if len(sizes) == 1 else tf.concat([fn(p) for p in tf.split(x, sizes, axis=axis)], axis=axis)
        return x + y if residual else y

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


class ColorUpsampler(_ChannelUpsampler):
    """Coarse 3-bit colours + grayscale -> 8-bit RGB, all at `resolution` (ColTran §4.3, "color upsampler").

    Batch (from `preprocess`): "gray" float [B, R, R, 1] in [0, 1]; "rgb" float [B, R, R, 3] in [0, 1]
    (target, 8-bit values / 255); "coarse" int32 [B, R, R, 3] in [0, 2**coarse_bits) (in training the
    ground truth's coarse colours, ref teacher forcing); "channel" int32 [B] in training.
    Paper config: hidden 512, ff 512, 4 heads, 4 encoder layers, R = 64, 3 bits; no remat, 1 strip.
    """

    cond_key = "coarse"

    def __init__(
        self,
        hidden_size: int = 512,
        ff_size: int = 512,
        num_heads: int = 4,
        num_encoder_layers: int = 4,
        dropout: float = 0.0,
        resolution: int = 64,
        coarse_bits: int = 3,
        remat: bool = False,
        num_chunks: int = 1,
        **kwargs: Any,
    ) -> None:
        self.coarse_bits = int(coarse_bits)
        levels = 2**self.coarse_bits
        super().__init__(
            hidden_size,
            ff_size,
            num_heads,
            num_encoder_layers,
            dropout,
            resolution,
            cond_levels=levels,
            remat=remat,
            num_chunks=num_chunks,
            **kwargs,
        )

    def get_config(self) -> dict[str, Any]:
        return {**self._base_config(), "coarse_bits": self.coarse_bits}

    def _conditioning(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.cast(batch["coarse"], tf.int32)

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray", "rgb", "coarse"(, "channel")} at `resolution`."""
        rgb8, chan_seed = _square_8bit(example, training, self.resolution)
        rgb = rgb8 / 255.0
        out = {"gray": rgb_to_gray(rgb), "rgb": rgb, "coarse": quantize.to_coarse(rgb8, self.coarse_bits)}
        if training:
            out["channel"] = _random_channel(chan_seed)
        return out

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int | tf.Tensor = 0,
        temperature: float = 0.0,
        top_k: int = 0,
        coarse: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """8-bit colourings of coarse colours.

        Args:
          gray: float [B, R, R, 1] in [0, 1].
          coarse: int [B, R, R, 3] coarse levels in [0, 2**coarse_bits) (ColTranCore.sample's "coarse").
            None conditions on the grayscale's own coarse levels (a colourless hint), so callers that
            only know the protocol (e.g. image summaries) still get an output.
          temperature: 0 (default, the paper's argmax) or > 0 to sample every pixel independently.
        Returns:
          {"rgb": float32 [B, N, R, R, 3] in [0, 1], "labels": int32 [B, N, R, R, 3] 8-bit values}.
        """
        gray = self._check_gray(gray, "sample")
        self._check_num_samples(num_samples)
        if coarse is None:
            coarse = quantize.to_coarse(tf.repeat(gray, NUM_CHANNELS, axis=-1) * 255.0, self.coarse_bits)
        coarse = tf.convert_to_tensor(coarse)
        if coarse.dtype.is_floating or tuple(coarse.shape) != tuple(gray.shape[:3]) + (NUM_CHANNELS,):
            raise ValueError(
                f"ColorUpsampler.sample: coarse must be int [B, {self.resolution}, {self.resolution}, 3] "
                f"levels in [0, {self.cond_levels}) matching gray {gray.shape}, "
                f"got {coarse.dtype.name} {coarse.shape}"
            )
        coarse = tf.clip_by_value(tf.cast(coarse, tf.int32), 0, self.cond_levels - 1)
        return self._sample(gray, coarse, num_samples, seed, temperature, top_k)


class SpatialUpsampler(_ChannelUpsampler):
    """Blurry area-upsampled 8-bit RGB + grayscale at `resolution` -> sharp 8-bit RGB (ColTran §4.3).

    Batch (from `preprocess`): "gray" float [B, R, R, 1] in [0, 1]; "rgb" float [B, R, R, 3] (target);
    "low_res" int32 [B, r, r, 3] 8-bit values at r = `low_resolution` (area-downsampled target; the model
    area-upsamples it to R itself, see `area_upsample`); "channel" int32 [B] in training.
    Paper config: hidden 512, ff 512, 4 heads, 3 encoder layers, 64 -> 256; remat, 8 strips (ours).
    """

    cond_key = "low_res"

    def __init__(
        self,
        hidden_size: int = 512,
        ff_size: int = 512,
        num_heads: int = 4,
        num_encoder_layers: int = 3,
        dropout: float = 0.0,
        resolution: int = 256,
        low_resolution: int = 64,
        remat: bool = True,
        num_chunks: int = 8,
        **kwargs: Any,
    ) -> None:
        self.low_resolution = int(low_resolution)
        if not 0 < self.low_resolution <= int(resolution):
            raise ValueError(
                f"SpatialUpsampler: low_resolution must be in (0, resolution={resolution}], "
                f"got {low_resolution}"
            )
        super().__init__(
            hidden_size,
            ff_size,
            num_heads,
            num_encoder_layers,
            dropout,
            resolution,
            cond_levels=NUM_SYMBOLS,
            remat=remat,
            num_chunks=num_chunks,
            **kwargs,
        )

    def get_config(self) -> dict[str, Any]:
        return {**self._base_config(), "low_resolution": self.low_resolution}

    def _conditioning(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        return area_upsample(batch["low_res"], self.resolution)

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray", "rgb" at `resolution`, "low_res" at `low_resolution`
        (, "channel")}."""
        rgb8, chan_seed = _square_8bit(example, training, self.resolution)
        rgb = rgb8 / 255.0
        low = tf.cast(tf.round(pp.resize_area(rgb8, self.low_resolution)), tf.int32)
        out = {"gray": rgb_to_gray(rgb), "rgb": rgb, "low_res": low}
        if training:
            out["channel"] = _random_channel(chan_seed)
        return out

    def sample(
        self,
        gray: tf.Tensor,
        *,
        num_samples: int = 1,
        seed: int | tf.Tensor = 0,
        temperature: float = 0.0,
        top_k: int = 0,
        low_res: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """Super-resolves low-resolution colours under a full-resolution grayscale.

        Args:
          gray: float [B, R, R, 1] in [0, 1].
          low_res: [B, r, r, 3] low-resolution RGB, int 8-bit values (ColorUpsampler.sample's "labels") or
            float in [0, 1]. None uses the grayscale's own area-downsampled levels (a colourless hint), so
            callers that only know the protocol still get an output.
          temperature: 0 (default, the paper's argmax) or > 0 to sample every pixel independently.
        Returns:
          {"rgb": float32 [B, N, R, R, 3] in [0, 1], "labels": int32 [B, N, R, R, 3] 8-bit values}.
        """
        gray = self._check_gray(gray, "sample")
        self._check_num_samples(num_samples)
        r = self.low_resolution
        if low_res is None:
            low_res = tf.image.resize(tf.repeat(gray, NUM_CHANNELS, axis=-1), (r, r), "area")
        low_res = tf.convert_to_tensor(low_res)
        if tuple(low_res.shape) != (gray.shape[0], r, r, NUM_CHANNELS):
            raise ValueError(
                f"SpatialUpsampler.sample: low_res must be [B, {r}, {r}, 3] matching gray {gray.shape}, "
                f"got {low_res.shape}"
            )
        if low_res.dtype.is_floating:
            low8 = quantize.to_8bit(low_res)
        else:
            low8 = tf.clip_by_value(tf.cast(low_res, tf.int32), 0, 255)
        return self._sample(gray, area_upsample(low8, self.resolution), num_samples, seed, temperature, top_k)
