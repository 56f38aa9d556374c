"""ColTran spatial upsampler: blurry 64->256 RGB + 256x256 grayscale -> 8-bit 256x256 RGB (Kumar et al. 2021).

`get_config()` gives the paper's values (§4.3, §5.1); `get_config("tiny")` derives a small CPU variant
from them for tests and local runs. Sources: "paper" = the ICLR 2021 paper; "ref" = the authors' code,
google-research `coltran/configs/spatial_upsampler.py`.
"""

from __future__ import annotations

import ml_collections

from configs.base import base_config

# The paper trains on 16 TPUv2 chips = 32 cores (§5.1; ref README "4x4 TPUv2"); the ref configs give
# per-core batch sizes.
_PAPER_CORES = 32


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper) or "tiny"."""
    if arg not in ("", "tiny"):
        raise ValueError(f"configs/coltran_spatial_upsampler.py: unknown variant {arg!r}; use '' or 'tiny'")
    c = base_config()

    m = c.model
    m.name = "coltran_spatial_upsampler"
    m.hidden_size = 512  # paper §5.1: hidden size 512 in every component; ref model.hidden_size
    m.ff_size = 512  # ref model.ff_size
    m.num_heads = 4  # paper §5.1: 4 heads; ref model.num_heads
    m.num_encoder_layers = 3  # ref model.num_encoder_layers (the paper's §5.1 says 4 blocks per component)
    m.dropout = 0.0  # ref: no dropout is set for the upsamplers
    m.resolution = 256  # paper §4.3: output 256x256; ref resolution
    m.low_resolution = 64  # paper §4.3: the colour upsampler's 64x64 output; ref downsample_res
    m.remat = True  # ours: gradient checkpointing: a 256x256 step in a few GB (see BENCHMARKS.md)
    m.num_chunks = 8  # ours: the encoder runs in strips of 32 rows / columns (exact; memory, BENCHMARKS.md)

    t = c.train
    t.batch_size = 1 * _PAPER_CORES  # paper §5.1: 32; ref batch_size 1 per core
    t.num_steps = 300_000  # paper §5.1; ref max_train_steps
    t.optimizer = "rmsprop"  # paper §5.1; ref optimizer.type
    t.learning_rate = 3e-4  # paper §5.1: fixed learning rate; ref optimizer.learning_rate
    t.lr_schedule = "constant"  # paper §5.1: no schedule
    t.ema_decay = 0.999  # paper §5.1: Polyak averaging; ref polyak_decay

    c.eval.batch_size = 1  # one 256x256 image at a time keeps evaluation within a few GB on a CPU

    if arg == "tiny":
        _make_tiny(c)
    return c


def _make_tiny(c: ml_collections.ConfigDict) -> None:
    """Shrinks the paper config in place: same architecture, 1/16 the width, 8 -> 32 px, few steps."""
    m = c.model
    m.hidden_size //= 16  # 32: small enough for a CPU test
    m.ff_size //= 16  # keeps ff_size / hidden_size of the paper
    m.num_heads //= 2  # 2 heads of 16 channels each
    m.num_encoder_layers = 1  # one row + one column attention block still mixes the whole image
    m.resolution //= 8  # 32x32 output
    m.low_resolution //= 8  # 8x8 input: the paper's 4x upsampling factor is kept
    c.train.batch_size = 4  # a handful of images
    c.train.num_steps = 100  # the loss of 4 overfitted images falls by a quarter or more (tests)
    c.train.learning_rate *= 10  # 3e-3: a short run needs a larger step than 300k steps do
    c.train.ema_decay = 0.0  # too few steps for an average to mean anything
    c.train.log_every = 10
    c.train.checkpoint_every = 30
    c.eval.batch_size = 4
    c.eval.num_batches = 1
    c.data.source = "bundled"  # no download: photos shipped by installed packages
    c.data.train_split = "train[:80%]"  # the paper's "last 10k held out" would leave nothing of a few photos
    c.data.eval_split = "train[80%:]"
    c.data.shuffle_buffer = 16
