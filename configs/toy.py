"""The toy per-pixel colorizer (common/toy_model.py): a trainer test bed, not a paper model.

Values are chosen for a quick CPU run on the bundled photos, not taken from any paper.
    colorize-train --config=configs/toy.py --workdir=/tmp/toy            # a few minutes on a CPU
    colorize-train --config=configs/toy.py:tiny --workdir=/tmp/toy_tiny  # seconds (tests)
"""

from __future__ import annotations

import ml_collections

from configs.base import base_config

VARIANTS = ("", "tiny")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    if arg not in VARIANTS:
        raise ValueError(f"configs/toy.py: unknown variant {arg!r}; choose one of {VARIANTS}")
    c = base_config()
    c.model.name = "toy"
    c.model.resolution = 32  # toy: 32x32 crops of the photos
    c.model.hidden_size = 64  # toy
    c.model.num_layers = 3  # toy
    c.model.bits = 3  # ColTran's coarse colours: 3 bits per channel

    c.data.source = "bundled"  # the package's four colour photos: the same on every machine
    c.data.train_split = "train[:3]"  # 3 photos to train on, the 4th held out
    c.data.eval_split = "train[3:]"
    c.data.shuffle_buffer = 16

    c.train.batch_size = 8
    c.train.num_steps = 2000
    c.train.steps_per_call = 10
    c.train.optimizer = "adam"
    c.train.learning_rate = 1e-3
    c.train.ema_decay = 0.99  # toy: short runs need a short average
    c.train.checkpoint_every = 500
    c.train.log_every = 100
    c.train.image_summary_every = 500

    c.eval.batch_size = 4
    if arg == "tiny":
        c.model.resolution = 8
        c.model.hidden_size = 8
        c.model.num_layers = 1
        c.train.batch_size = 4
        c.train.num_steps = 12
        c.train.steps_per_call = 2
        c.train.checkpoint_every = 4
        c.train.log_every = 4
        c.train.image_summary_every = 0
        c.eval.batch_size = 2
    return c
