"""PixColor's low-resolution colorizer: 224 x 224 gray -> 28 x 28 x 2 chroma bins (Guadarrama et al. 2017).

`get_config()` gives the appendix table's values; "tiny" (tests) and "default" (a small CPU model) are
derived from them. Shared training values: configs/pixcolor_common.py.
    colorize-train --config=configs/pixcolor.py --workdir=...        # the paper's run (8 GPUs)
    colorize-train --config=configs/pixcolor.py:tiny --workdir=...   # seconds on a CPU
"""

from __future__ import annotations

import ml_collections

from configs.pixcolor_common import VARIANTS, pixcolor_config, shrink_to_default, shrink_to_tiny

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper), "tiny" or "default"."""
    c = pixcolor_config("pixcolor", arg)
    m = c.model
    m.resnet_blocks = [3, 4, 23]  # table: 3, 4 and 23 bottleneck blocks (ResNet-101's first three stages)
    m.resnet_width = 64  # table: 64/256, 128/512, 256/1024 bottlenecks
    # table / fig. 4: the trunk is pre-trained on COCO segmentation (not reproducible here). A local Keras
    # ResNet101 weights file can stand in: --config.model.resnet_weights=/path/to/..._notop.h5
    m.resnet_weights = ""
    m.adaptation_channels = 64  # table: 3x conv 3x3 of 64
    m.adaptation_layers = 3  # table
    m.channels = 64  # table: PixelCNN feature maps 64
    m.first_size = 7  # table: masked conv 7x7
    m.num_blocks = 10  # table: 10 gated conv blocks
    m.block_size = 5  # table: 5x5
    m.head_channels = 1024  # table: masked conv 1x1 of 1024
    m.engage_step = 100_000  # table: gradient multiplier engaged at 100,000 steps
    m.gradient_multiplier = 1.0  # not in the paper: the engaged multiplier's value
    m.freeze_trunk_batch_norm = False  # not in the paper; True suits a loaded resnet_weights file
    m.jit_compile_sampler = False  # ours: XLA for the sampling loop

    if arg == "tiny":
        shrink_to_tiny(c, num_steps=60)
        m.resolution = 48  # 6 x 6 chroma: 72 autoregressive positions
        m.resnet_blocks = [1, 1, 1]
        m.resnet_width = 8
        m.adaptation_channels = 16
        m.channels = 16
        m.num_blocks = 2
        m.head_channels = 64
        m.engage_step = 0  # no pre-trained trunk to protect
    if arg == "default":
        shrink_to_default(c, num_steps=1500, batch_size=8)
        m.resolution = 96  # 12 x 12 chroma
        m.resnet_blocks = [1, 2, 2]
        m.resnet_width = 16
        m.adaptation_channels = 32
        m.channels = 32
        m.num_blocks = 4
        m.head_channels = 256
        m.engage_step = 0  # trained from scratch
    return c
