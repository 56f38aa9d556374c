"""PixColor's refinement network: gray + 28 x 28 chroma -> 224 x 224 chroma (Guadarrama et al. 2017, §3.2).

Trained independently of the PixelCNN, on the ground truth's low-resolution chroma (paper §3.2, table
caption). `get_config()` gives the appendix table's values; "tiny" and "default" are derived from them.
Shared training values: configs/pixcolor_common.py.
"""

from __future__ import annotations

import ml_collections

from configs.pixcolor_common import VARIANTS, pixcolor_config, shrink_to_default, shrink_to_tiny

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper), "tiny" or "default"."""
    c = pixcolor_config("pixcolor_refinement", arg)
    m = c.model
    m.width_divisor = 1  # table: the widths as listed (64 ... 1024 ... 32)
    m.residual = True  # ours: predicts a correction to the bilinear upsampling (pixcolor/refinement.py)
    m.skips = False  # ours: U-Net skips into the decoder (pixcolor/refinement.py); off = the table
    if arg == "tiny":
        shrink_to_tiny(c, num_steps=60)
        m.resolution = 64
        m.width_divisor = 16
    if arg == "default":
        shrink_to_default(c, num_steps=1500, batch_size=8)
        m.resolution = 128
        m.width_divisor = 4
        m.skips = True  # the gray's edges at strides 2 and 4 (BENCHMARKS.md, PixColor refinement)
    return c
