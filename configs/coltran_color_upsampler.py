"""ColTran colour upsampler: coarse 3-bit 64x64 colours + grayscale -> 8-bit 64x64 RGB (Kumar et al. 2021).

`get_config()` gives the paper's values (§4.3, §5.1); `get_config("tiny")` derives a small CPU variant
from them for tests and local runs. Sources: "paper" = the ICLR 2021 paper; "ref" = the authors' code,
google-research `coltran/configs/color_upsampler.py`. Shared values: configs/coltran_common.py.
"""

from __future__ import annotations

import ml_collections

from configs.coltran_common import VARIANTS, coltran_config, shrink_to_default, shrink_to_tiny

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper), "tiny" or "default" (the embedded default model)."""
    # paper §5.1: batch 768 = 24 per core; 450k steps (ref max_train_steps: 300_000)
    c = coltran_config("coltran_color_upsampler", arg, per_core_batch=24, num_steps=450_000)
    m = c.model
    m.num_encoder_layers = 4  # paper §5.1: 4 axial attention blocks; ref model.num_encoder_layers
    m.resolution = 64  # paper §4.3: the colour upsampler works at the core's 64x64; ref model.resolution
    m.coarse_bits = 3  # paper §4.1: 3 bits per channel (512 coarse colours)
    m.remat = False  # ours: no gradient checkpointing needed at 64x64 (see BENCHMARKS.md)
    m.num_chunks = 1  # ours: the encoder runs on the whole 64x64 image at once

    if arg == "tiny":
        shrink_to_tiny(c, num_steps=100)
        m.resolution //= 8  # 8x8: a handful of pixels per row / column
    if arg == "default":
        shrink_to_default(c, hidden_size=64, num_steps=1154, batch_size=8)
        m.num_encoder_layers = 2
    return c
