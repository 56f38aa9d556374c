"""CIC: grayscale -> 313 ab bins per pixel at 1/4 resolution, the deterministic baseline (Zhang et al. 2016).

`get_config()` gives the paper's values; `get_config("tiny")` derives a small CPU variant for tests and
`get_config("default")` a model trainable on a 2-core CPU in about 20 minutes. Sources: "paper" = the
ECCV 2016 paper (/work/shared/papers/cic_notes.txt); "ref" = the authors' Caffe files, richzhang/colorization
models/colorization_train_val_v2.prototxt ("prototxt") and train/solver.prototxt ("solver").
    python -m cic.prior --data=PHOTOS --out=prior.npy        # the class-rebalancing prior, once
    colorize-train --config=configs/cic.py --workdir=... --config.model.prior_file=prior.npy
    colorize-train --config=configs/cic.py:tiny --workdir=...   # seconds on a CPU
"""

from __future__ import annotations

import os

import ml_collections

from configs.base import base_config

VARIANTS = ("", "tiny", "default")
DEFAULT_PRIOR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common", "assets", "ab_prior_default.npy"
)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    """`arg`: "" (paper), "tiny" or "default" (the embedded default model)."""
    if arg not in VARIANTS:
        raise ValueError(f"configs/cic.py: unknown variant {arg!r}; use '' (paper), 'tiny' or 'default'")
    c = base_config()
    m = c.model
    m.name = "cic"
    # ref deploy net: 224x224 input, 56x56 output. The authors trained on random 176x176 crops of
    # 256x256 images (prototxt crop_size 176); the net is fully convolutional, we train at 224 too.
    m.resolution = 224
    m.base_width = 64  # paper Fig. 2 / prototxt: conv1 64 channels (128, 256, 512, ..., 256 after)
    m.soft_neighbors = 10  # ref NNEncLayer NN = 10 (paper §2.1 says 5)
    m.soft_sigma = 5.0  # paper §2.1, ref NNEncLayer sigma = 5
    m.prior_file = ""  # a .npy from `python -m cic.prior` ("" = no rebalancing); ref prior_probs.npy
    m.rebalance_lambda = 0.5  # paper §2.2 lambda = 0.5; ref PriorBoostLayer gamma = .5
    m.prior_sigma = 5.0  # paper §2.2: prior smoothed with a Gaussian of sigma 5
    m.annealed_temperature = 0.38  # paper §2.3 T = 0.38 (ref deploy: logits x 2.606)
    m.weight_decay = 1e-3  # paper §3 / solver weight_decay 0.001
    m.bn_epsilon = 1e-5  # Caffe BatchNorm default

    d = c.data
    d.random_flip = True  # prototxt mirror: true
    d.crop_min_scale = 0.6875  # prototxt: 176 crops of 256x256 images (176 / 256); ours vary in [0.69, 1]

    t = c.train
    t.batch_size = 40  # prototxt batch_size 40
    t.num_steps = 450_000  # paper §3: 450k iterations (solver max_iter 500k)
    t.optimizer = "adam"  # paper §3 / solver type Adam
    t.learning_rate = 3e-5  # paper §3 / solver base_lr; the paper drops it to 1e-5 at ~200k and 3e-6 at
    t.lr_schedule = "constant"  # ~375k, the solver x0.1 every 225k: neither is a schedule the trainer has
    t.beta1 = 0.9  # paper §3 / solver momentum
    t.beta2 = 0.99  # paper §3 / solver momentum2
    t.epsilon = 1e-8  # Caffe's Adam delta default
    t.ema_decay = 0.0  # no averaging in the paper
    t.checkpoint_every = 10_000
    t.log_every = 100
    c.eval.batch_size = 10  # prototxt TEST batch_size 10

    if arg == "tiny":
        m.resolution = 32  # 8x8 outputs
        m.base_width = 4  # 4 .. 32 channels: the whole architecture, 1/16 of the width
        m.weight_decay = 0.0  # a few steps: nothing to regularise
        c.data.source = "bundled"  # no download: photos shipped with the package
        c.data.train_split = "train[:3]"
        c.data.eval_split = "train[3:]"
        c.data.shuffle_buffer = 16
        c.data.crop_min_scale = 1.0
        t.batch_size = 4
        t.num_steps = 20
        t.learning_rate = 3e-3  # a short run needs a larger step
        t.checkpoint_every = 10
        t.log_every = 5
        c.eval.batch_size = 2
        c.eval.num_batches = 1
    if arg == "default":
        # The embedded default model (README "Default models"): trained on the folder that
        # `python -m common.data.default_photos --out=~/colorize_photos` writes (33 photos, 8 held out),
        # with the prior of those photos that ships with the package (common/assets/ab_prior_default.npy).
        m.resolution = 64  # 16x16 outputs
        m.base_width = 16  # 16 .. 128 channels
        m.prior_file = DEFAULT_PRIOR  # the same photos' prior, shipped (its .md says how it was made)
        c.data.source = "folder"
        c.data.folder = "~/colorize_photos/train"
        c.data.train_split = "train"
        c.data.eval_split = "train"  # of --config.data.folder=~/colorize_photos/heldout at --mode=eval
        c.data.shuffle_buffer = 64
        c.data.crop_min_scale = 0.4
        t.batch_size = 16
        t.num_steps = 3000
        t.learning_rate = 1e-3  # a short run: larger than the paper's 3e-5
        t.checkpoint_every = 500
        t.log_every = 50
        t.ema_decay = 0.99  # the last ~100 steps averaged
        c.eval.batch_size = 8
        c.eval.num_batches = 0
    return c
