"""ColTran core: 64x64 grayscale -> 512 coarse colours per pixel, autoregressive (Kumar et al. 2021).

`get_config()` gives the paper's values (§4, §5.1, appendix H); `get_config("tiny")` derives a small CPU
variant from them for tests and local runs. Sources: "paper" = the ICLR 2021 paper; "ref" = the authors'
code, google-research `coltran/configs/colorizer.py`. Shared values: configs/coltran_common.py.
    colorize-train --config=configs/coltran_core.py --workdir=...        # the paper's run (TPU pod)
    colorize-train --config=configs/coltran_core.py:tiny --workdir=...   # seconds on a CPU
"""

from __future__ import annotations

import ml_collections

from configs.coltran_common import VARIANTS, coltran_config, shrink_to_default, shrink_to_tiny

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper), "tiny" or "default" (the embedded default model)."""
    # paper §5.1: batch 224 = 7 per core; 600k steps (ref max_train_steps: 450_000)
    c = coltran_config("coltran_core", arg, per_core_batch=7, num_steps=600_000)
    m = c.model
    m.resolution = 64  # paper §4: the core works at 64x64; ref model.resolution
    m.num_encoder_layers = 4  # paper §5.1 / appendix H: 4 encoder layers; ref num_encoder_layers
    m.num_outer_layers = 2  # paper appendix H: 2 outer decoder layers; ref num_outer_layers
    m.num_inner_layers = 2  # paper appendix H: 2 inner decoder layers; ref num_inner_layers
    m.cond_ln = "affine"  # paper Table 1: cLN with scale and shift; ref cond_ln=True, cond_ln_seq='sc'
    m.cond_ln_pool = "learnable"  # paper §4.1: learnable pooling, initialised as the mean; ref 'learnable'
    m.cond_mlp = "affine"  # paper Table 1: cMLP; ref cond_mlp='affine'
    m.cond_att = "affine"  # paper Table 1: cAtt scales and shifts; ref cond_att_scale=True
    m.cond_att_q = True  # ref cond_att_q
    m.cond_att_k = True  # ref cond_att_k
    m.cond_att_v = True  # ref cond_att_v
    m.decoder_loss_weight = 0.99  # paper §4.2 (1 - lambda); ref loss_factor
    m.encoder_loss_weight = 0.01  # paper §4.2: lambda = 0.01; ref encoder_loss_factor
    m.jit_compile_sampler = True  # ours: XLA for the sampling loop, same samples, faster (BENCHMARKS.md)
    # ref autoregressive_sample gives the inner decoder one row of z at sampling (training: all of z).
    # Off here: a model trained here samples the function it was trained as; colorize-import-coltran
    # turns it on for the authors' checkpoints (README "Fidelity").
    m.row_context_sampling = False

    if arg == "tiny":
        shrink_to_tiny(c, num_steps=60)
        m.resolution //= 8  # 8x8: 64 autoregressive steps
        m.num_outer_layers = 1
        m.num_inner_layers = 1
        m.jit_compile_sampler = False  # no XLA compile time in tests
    if arg == "default":
        shrink_to_default(c, hidden_size=64, num_steps=1259, batch_size=8)
        m.num_encoder_layers = 2
        m.num_outer_layers = 1
        m.num_inner_layers = 1
    return c
