"""ColTran core: 64x64 grayscale -> 512 coarse colours per pixel, autoregressive (Kumar et al. 2021).

`get_config()` gives the paper's values (§4, §5.1, appendix H); `get_config("tiny")` derives a small CPU
variant from them for tests and local runs. Sources: "paper" = the ICLR 2021 paper; "ref" = the authors'
code, google-research `coltran/configs/colorizer.py`.
    colorize-train --config=configs/coltran_core.py --workdir=...        # the paper's run (TPU pod)
    colorize-train --config=configs/coltran_core.py:tiny --workdir=...   # seconds on a CPU
"""

from __future__ import annotations

import ml_collections

from configs.base import base_config

# The paper trains on 16 TPUv2 chips = 32 cores (§5.1); the ref config gives the per-core batch size.
_PAPER_CORES = 32


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper) or "tiny"."""
    if arg not in ("", "tiny"):
        raise ValueError(f"configs/coltran_core.py: unknown variant {arg!r}; use '' or 'tiny'")
    c = base_config()

    m = c.model
    m.name = "coltran_core"
    m.resolution = 64  # paper §4: the core works at 64x64; ref model.resolution
    m.hidden_size = 512  # paper §5.1: hidden size 512; ref model.hidden_size
    m.ff_size = 512  # ref encoder/decoder ff_size
    m.num_heads = 4  # paper §5.1: 4 heads; ref num_heads
    m.num_encoder_layers = 4  # paper §5.1 / appendix H: 4 encoder layers; ref num_encoder_layers
    m.num_outer_layers = 2  # paper appendix H: 2 outer decoder layers; ref num_outer_layers
    m.num_inner_layers = 2  # paper appendix H: 2 inner decoder layers; ref num_inner_layers
    m.dropout = 0.0  # ref dropout 0.0
    m.cond_ln = "affine"  # paper Table 1: cLN with scale and shift; ref cond_ln=True, cond_ln_seq='sc'
    m.cond_ln_pool = "learnable"  # paper §4.1: learnable pooling, initialised as the mean; ref 'learnable'
    m.cond_mlp = "affine"  # paper Table 1: cMLP; ref cond_mlp='affine'
    m.cond_att = "affine"  # paper Table 1: cAtt scales and shifts; ref cond_att_scale=True
    m.cond_att_q = True  # ref cond_att_q
    m.cond_att_k = True  # ref cond_att_k
    m.cond_att_v = True  # ref cond_att_v
    m.decoder_loss_weight = 0.99  # paper §4.2 (1 - lambda); ref loss_factor
    m.encoder_loss_weight = 0.01  # paper §4.2: lambda = 0.01; ref encoder_loss_factor
    m.jit_compile_sampler = True  # ours: XLA for the per-pixel loop, same samples, faster (benchmarks/)

    t = c.train
    t.batch_size = 7 * _PAPER_CORES  # paper §5.1: 224; ref batch_size 7 per core
    t.num_steps = 600_000  # paper §5.1 (ref max_train_steps: 450_000)
    t.optimizer = "rmsprop"  # paper §5.1; ref optimizer.type
    t.learning_rate = 3e-4  # paper §5.1: fixed learning rate; ref optimizer.learning_rate
    t.lr_schedule = "constant"  # paper §5.1: no schedule
    t.ema_decay = 0.999  # paper §5.1: Polyak averaging; ref polyak_decay

    c.eval.batch_size = 16  # ref eval_batch_size

    if arg == "tiny":
        _make_tiny(c)
    return c


def _make_tiny(c: ml_collections.ConfigDict) -> None:
    """Shrinks the paper config in place: same architecture, 1/16 the width, one layer each, 8x8 images."""
    m = c.model
    m.resolution //= 8  # 8x8: 64 autoregressive steps
    m.hidden_size //= 16  # 32: small enough for a CPU test
    m.ff_size //= 16  # keeps ff_size / hidden_size of the paper
    m.num_heads //= 2  # 2 heads of 16 channels each
    m.num_encoder_layers = 1  # one row + one column block still sees the whole image
    m.num_outer_layers = 1
    m.num_inner_layers = 1
    m.jit_compile_sampler = False  # no XLA compile time in tests
    c.train.batch_size = 4  # a handful of images
    c.train.num_steps = 60  # enough for the loss to fall visibly when overfitting
    c.train.learning_rate *= 10  # 3e-3: a short run needs a larger step than 600k steps do
    c.train.ema_decay = 0.0  # too few steps for an average to mean anything
    c.train.log_every = 10
    c.train.checkpoint_every = 30
    c.eval.batch_size = 4
    c.eval.num_batches = 1
    c.data.source = "bundled"  # no download: photos shipped by installed packages
    c.data.train_split = "train[:80%]"  # the paper's "last 10k held out" would leave nothing of a few photos
    c.data.eval_split = "train[80%:]"
    c.data.shuffle_buffer = 16
