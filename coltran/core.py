"""ColTran core: p(coarse colours | grayscale) at 64x64 (Kumar et al. 2021, §3, §4, appendix H).

grayscale (256 levels, embedded) -> AxialEncoder -> z. Colours are 3 bits per RGB channel, one of 512
symbols per pixel (common.quantize); their embeddings go through the outer decoder (rows above) and the
inner decoder (pixels to the left), both conditioned on z (§4.1), then the head LayerNorm -> Dense to
512-way logits per pixel (the authors' head: the inner decoder's last block ends in a cLN, then a plain
LN). An auxiliary parallel head predicts every pixel's colour from z alone (§4.2); the training loss is
0.99 * decoder NLL + 0.01 * head NLL, in bits per dimension. Implements common/protocol.py.

The function is the authors' (google-research coltran/models/colorizer.py), so their released
checkpoints import exactly (coltran/import_authors.py); README "Fidelity" lists what still differs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from coltran import preprocessing
from coltran.conditional import LN_EPSILON
from coltran.constants import NUM_COARSE_COLORS, NUM_LEVELS
from coltran.decoders import InnerDecoder, OuterDecoder
from coltran.layers import AxialEncoder
from common.protocol import InputSpec
from common.quantize import coarse_to_8bit, coarse_to_symbol, symbol_to_coarse, to_8bit, to_coarse


@keras.saving.register_keras_serializable(package="colorize")
class ColTranCore(keras.Model):
    """The autoregressive colorizer of ColTran; constructor arguments are the config's `model` section.

    Args:
      resolution: side of the square images (64 in the paper; smaller for tests).
      hidden_size, ff_size, num_heads: width, MLP width and heads of every block (512, 512, 4).
      num_encoder_layers, num_outer_layers, num_inner_layers: 4, 2, 2 in the paper.
      dropout: residual dropout (0).
      cond_ln, cond_mlp, cond_att: "affine" | "shift" | "scale" | "none" (Table 1 ablations).
      cond_ln_pool: "learnable" (initialised as the mean) | "mean".
      cond_att_q, cond_att_k, cond_att_v: which attention projections are conditioned.
      decoder_loss_weight, encoder_loss_weight: 0.99 and 0.01 (§4.2).
      jit_compile_sampler: XLA for the sampling loop (same samples; faster on a CPU).
      row_context_sampling: the authors' sampling context: at sampling, the inner decoder's cLNs pool
        only the current row of z (their `autoregressive_sample` passes `z_gray[:, row]`), while training
        and log_prob pool all of z. On for imported checkpoints (their samples and FID came from it), off
        for models trained here (then sampling computes the trained function).
    Batches (from `preprocess`): "gray" [B, R, R, 1] and "rgb" [B, R, R, 3], floats in [0, 1].
    """

    def __init__(
        self,
        resolution: int = 64,
        hidden_size: int = 512,
        ff_size: int = 512,
        num_heads: int = 4,
        num_encoder_layers: int = 4,
        num_outer_layers: int = 2,
        num_inner_layers: int = 2,
        dropout: float = 0.0,
        cond_ln: str = "affine",
        cond_ln_pool: str = "learnable",
        cond_mlp: str = "affine",
        cond_att: str = "affine",
        cond_att_q: bool = True,
        cond_att_k: bool = True,
        cond_att_v: bool = True,
        decoder_loss_weight: float = 0.99,
        encoder_loss_weight: float = 0.01,
        jit_compile_sampler: bool = False,
        row_context_sampling: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if resolution < 1:
            raise ValueError(f"coltran/core.py: resolution must be >= 1, got {resolution}.")
        self.resolution = resolution
        self.hidden_size = hidden_size
        self.ff_size = ff_size
        self.num_heads = num_heads
        self.num_encoder_layers = num_encoder_layers
        self.num_outer_layers = num_outer_layers
        self.num_inner_layers = num_inner_layers
        self.dropout = dropout
        self.cond = dict(
            cond_ln=cond_ln,
            cond_ln_pool=cond_ln_pool,
            cond_mlp=cond_mlp,
            cond_att=cond_att,
            cond_att_q=cond_att_q,
            cond_att_k=cond_att_k,
            cond_att_v=cond_att_v,
        )
        self.decoder_loss_weight = decoder_loss_weight
        self.encoder_loss_weight = encoder_loss_weight
        self.jit_compile_sampler = jit_compile_sampler
        self.row_context_sampling = bool(row_context_sampling)

        # One-hot over 256 levels through a dense layer == an embedding lookup (appendix H).
        self.gray_embed = keras.layers.Embedding(NUM_LEVELS, hidden_size, name="gray_embed")
        self.encoder = AxialEncoder(
            hidden_size, ff_size, num_heads, num_encoder_layers, dropout, name="encoder"
        )
        self.parallel_head = keras.layers.Dense(NUM_COARSE_COLORS, use_bias=False, name="parallel_logits")
        self.pixel_embed = keras.layers.Embedding(NUM_COARSE_COLORS, hidden_size, name="pixel_embed")
        dec_args = (hidden_size, ff_size, num_heads)
        self.outer = OuterDecoder(*dec_args, num_outer_layers, dropout, **self.cond, name="outer_decoder")
        self.inner = InnerDecoder(*dec_args, num_inner_layers, dropout, **self.cond, name="inner_decoder")
        self.final_norm = keras.layers.LayerNormalization(epsilon=LN_EPSILON, name="final_norm")
        self.final_dense = keras.layers.Dense(NUM_COARSE_COLORS, name="auto_logits")
        self._sample_fns: dict = {}
        self._build_weights()

    def _build_weights(self) -> None:
        """Creates every weight now (one forward pass on a blank image), so optimisers and checkpoints
        see them before the first training step."""
        zeros = tf.zeros([1, self.resolution, self.resolution], tf.int32)
        self.logits(zeros, zeros)

    # -- the model ---------------------------------------------------------------------------------
    def encode(self, gray8: tf.Tensor, training: bool = False) -> tf.Tensor:
        """gray8 int [B, R, R] in [0, 256) -> z [B, R, R, D]."""
        return self.encoder(self.gray_embed(gray8), training=training)

    def decode(
        self, z: tf.Tensor, symbols: tf.Tensor, training: bool = False, row_context: bool = False
    ) -> tf.Tensor:
        """Teacher-forced decoder logits [B, R, R, 512] from z and the true symbols int [B, R, R].

        row_context: the inner cLNs pool each row's own z (what the samplers compute with
        `row_context_sampling`); training uses all of z."""
        x_emb = self.pixel_embed(symbols)
        upper = self.outer(x_emb, z, training=training)
        return self.head(self.inner(x_emb, upper, z, training=training, row_context=row_context))

    def head(self, features: tf.Tensor) -> tf.Tensor:
        """Inner-decoder features [..., D] -> logits [..., 512] (LayerNorm, Dense)."""
        return self.final_dense(self.final_norm(features))

    def logits(
        self, gray8: tf.Tensor, symbols: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(decoder logits, parallel-head logits), each [B, R, R, 512]."""
        z = self.encode(gray8, training)
        return self.decode(z, symbols, training), self.parallel_head(z)

    def call(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        return self.logits(self.gray_levels(batch["gray"]), self.symbols(batch["rgb"]), training)

    # -- conversions -------------------------------------------------------------------------------
    def gray_levels(self, gray: tf.Tensor) -> tf.Tensor:
        """gray [B, R, R, 1] in [0, 1] -> int32 [B, R, R] 8-bit levels; checks the shape."""
        gray = tf.convert_to_tensor(gray, tf.float32)
        if gray.shape.rank != 4 or gray.shape[-1] != 1 or tuple(gray.shape[1:3]) != (self.resolution,) * 2:
            raise ValueError(
                f"coltran/core.py: gray must be [B, {self.resolution}, {self.resolution}, 1] "
                f"in [0, 1], got {gray.shape}."
            )
        return to_8bit(gray[..., 0])

    @staticmethod
    def symbols(rgb: tf.Tensor) -> tf.Tensor:
        """rgb [B, R, R, 3] in [0, 1] -> int32 symbols [B, R, R] in [0, 512)."""
        return coarse_to_symbol(to_coarse(to_8bit(rgb)))

    # -- common/protocol.py ------------------------------------------------------------------------
    @classmethod
    def preprocessor(cls, resolution: int = 64, **_: Any) -> Callable[[dict, bool], dict]:
        """`preprocess` for a config's `model` section, without building the model."""
        return functools.partial(preprocessing.core_example, resolution=resolution)

    def preprocess(self, example: dict[str, tf.Tensor], training: bool) -> dict[str, tf.Tensor]:
        """{"image": uint8 [H, W, 3]} -> {"gray": [R, R, 1], "rgb": [R, R, 3]} floats in [0, 1]
        (coltran/preprocessing.py)."""
        return preprocessing.core_example(example, training, resolution=self.resolution)

    def sample_spec(self) -> dict[str, InputSpec]:
        """The input of `sample`: the grayscale only (common/protocol.py)."""
        r = self.resolution
        return {
            "gray": InputSpec("float32", (None, r, r, 1), 0.0, 1.0, "luma in [0, 1] (read as 8-bit levels)")
        }

    def _nll_nats(self, logits: tf.Tensor, symbols: tf.Tensor) -> tf.Tensor:
        logits = tf.cast(logits, tf.float32)  # softmax and loss in float32 under mixed precision
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=symbols, logits=logits)
        return tf.reduce_sum(ce, axis=[1, 2])

    def log_prob(self, batch: dict[str, tf.Tensor]) -> tf.Tensor:
        """log p(coarse colours | gray) in nats, [B] (the autoregressive decoder)."""
        symbols = self.symbols(batch["rgb"])
        dec_logits = self.decode(self.encode(self.gray_levels(batch["gray"])), symbols)
        return -self._nll_nats(dec_logits, symbols)

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tuple[tf.Tensor, dict]:
        """Per-example loss [B] = 0.99 * decoder + 0.01 * parallel head, in bits per dimension.

        Dimensions are R * R * 3 (the three coarse channels); the authors' code reports bits per pixel
        (R * R), which is 3x larger and given here as "bits_per_pixel".
        """
        symbols = self.symbols(batch["rgb"])
        dec_logits, enc_logits = self.logits(self.gray_levels(batch["gray"]), symbols, training)
        to_bpd = 1.0 / (self.resolution**2 * 3 * math.log(2.0))
        dec_bpd = self._nll_nats(dec_logits, symbols) * to_bpd
        enc_bpd = self._nll_nats(enc_logits, symbols) * to_bpd
        loss = self.decoder_loss_weight * dec_bpd + self.encoder_loss_weight * enc_bpd
        return loss, {
            "bits_per_dim": dec_bpd,
            "bits_per_pixel": 3.0 * dec_bpd,
            "encoder_bits_per_dim": enc_bpd,
        }

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
        """Samples coarse colourings, one pixel at a time in raster order (§3).

        Args:
          gray: [B, R, R, 1] in [0, 1].
          num_samples: N colourings per image; seed: int. The Gumbel noise of a draw depends on (seed,
            the image's index in the batch, sample index, row, column): images of one call get
            independent noise (two copies of an image get different samples), and image b's samples do
            not depend on the other images of the batch nor on the batch size (same seed, same index,
            same samples).
          temperature: >= 0 (0 = argmax); top_k: 0 = no truncation.
          method: "fast" (cached keys/values, coltran/sampler.py) or "naive" (the authors' scheme).
          jit_compile: see `coltran.sampler.sample_symbols`; None uses `jit_compile_sampler`.
        Returns:
          {"rgb": [B, N, R, R, 3] float32 in [0, 1] (coarse_to_8bit / 255), "coarse": int32 [B, N, R, R, 3]
           3-bit levels, "symbols": int32 [B, N, R, R], "uncertainty": [B, N, R, R] the maximum predicted
           probability of each pixel (fig. 5)}.
        """
        from coltran.sampler import sample_symbols  # the sampler imports this module's constants

        gray8 = self.gray_levels(gray)
        jit = self.jit_compile_sampler if jit_compile is None else jit_compile
        symbols, max_prob = sample_symbols(
            self,
            gray8,
            num_samples=num_samples,
            seed=seed,
            temperature=temperature,
            top_k=top_k,
            method=method,
            jit_compile=jit,
        )
        coarse = symbol_to_coarse(symbols)
        rgb = tf.cast(coarse_to_8bit(coarse), tf.float32) / 255.0
        return {"rgb": rgb, "coarse": coarse, "symbols": symbols, "uncertainty": max_prob}

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "resolution": self.resolution,
            "hidden_size": self.hidden_size,
            "ff_size": self.ff_size,
            "num_heads": self.num_heads,
            "num_encoder_layers": self.num_encoder_layers,
            "num_outer_layers": self.num_outer_layers,
            "num_inner_layers": self.num_inner_layers,
            "dropout": self.dropout,
            **self.cond,
            "decoder_loss_weight": self.decoder_loss_weight,
            "encoder_loss_weight": self.encoder_loss_weight,
            "jit_compile_sampler": self.jit_compile_sampler,
            "row_context_sampling": self.row_context_sampling,
        }
