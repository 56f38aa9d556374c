"""ColTran spatial upsampler: blurry 64->256 RGB + 256x256 grayscale -> 8-bit 256x256 RGB (Kumar et al. 2021).

`get_config()` gives the paper's values (§4.3, §5.1); `get_config("tiny")` derives a small CPU variant
from them for tests and local runs. Sources: "paper" = the ICLR 2021 paper; "ref" = the authors' code,
google-research `coltran/configs/spatial_upsampler.py`. Shared values: configs/coltran_common.py.
"""

from __future__ import annotations

import ml_collections

from configs.coltran_common import VARIANTS, coltran_config, shrink_to_default, shrink_to_tiny

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper), "tiny" or "default" (the embedded default model)."""
    # paper §5.1: batch 32 = 1 per core; 300k steps (ref max_train_steps)
    c = coltran_config("coltran_spatial_upsampler", arg, per_core_batch=1, num_steps=300_000)
    m = c.model
    m.num_encoder_layers = 3  # ref model.num_encoder_layers (the paper's §5.1 says 4 blocks per component)
    m.resolution = 256  # paper §4.3: output 256x256; ref resolution
    m.low_resolution = 64  # paper §4.3: the colour upsampler's 64x64 output; ref downsample_res
    m.remat = True  # ours: gradient checkpointing: a 256x256 step in a few GB (see BENCHMARKS.md)
    m.num_chunks = 8  # ours: the encoder runs in strips of 32 rows / columns (exact; memory, BENCHMARKS.md)
    c.eval.batch_size = 1  # one 256x256 image at a time keeps evaluation within a few GB on a CPU

    if arg == "tiny":
        shrink_to_tiny(c, num_steps=100)
        m.resolution //= 8  # 32x32 output
        m.low_resolution //= 8  # 8x8 input: the paper's 4x upsampling factor is kept
        c.eval.batch_size = 4
    if arg == "default":
        # width 64 (as the colour upsampler): at 32 the loss stayed at ~7.95 bits/dim for 140 steps here,
        # while width 64 learns; batch 2 x 128 x 128 = the colour upsampler's 8 x 64 x 64 pixels per step
        shrink_to_default(c, hidden_size=64, num_steps=1443, batch_size=2)
        m.num_encoder_layers = 2
        m.resolution //= 2  # 128x128 output, 2x from 64: a 256x256 step of batch 4 took minutes and 8 GB
        # here; the output's luminance is the photo's own and only chroma comes from this stage
        m.remat = False  # a 256x256 step of this width fits in memory without recomputation
        m.num_chunks = 1
        c.eval.batch_size = 2
    return c
