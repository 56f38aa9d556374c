"""What the two PixColor configs share (Guadarrama et al. 2017, appendix table), and how each shrinks.

Sources: "table" = the paper's appendix hyperparameter table (Table 2 of the arXiv version; the
supplement's Table 1); "paper" = its text. The PixelCNN and the refinement network are trained
independently (table caption), each with these values.
"""

from __future__ import annotations

import ml_collections

from configs.base import base_config

VARIANTS = ("", "tiny", "default")


def pixcolor_config(name: str, arg: str) -> ml_collections.ConfigDict:
    """The table's training values for the PixColor model `name`; `arg` is checked against VARIANTS."""
    if arg not in VARIANTS:
        raise ValueError(f"configs/{name}.py: unknown variant {arg!r}; use '' (paper), 'tiny' or 'default'")
    c = base_config()
    c.model.name = name
    c.model.resolution = 224  # table: 224 x 224 inputs (conditioning and refinement networks)
    c.model.num_bins = 32  # paper §3.1: Cb and Cr discretised separately into 32 bins
    c.model.init_stddev = 0.1  # table: weights truncated normal (stddev 0.1), biases constant 0
    c.model.batch_norm_momentum = 0.99  # not in the paper (Keras' default), for 360k steps

    t = c.train
    t.optimizer = "adam"  # table: Adam (beta1 = 0.9, "momentum = 0.9")
    t.beta1 = 0.9  # table
    t.learning_rate = 3e-4  # table: learning rate 0.0003
    t.lr_schedule = "constant"  # table: no schedule given
    t.batch_size = 64  # table: 64 = 8 x 8 (8 GPUs, synchronous updates)
    t.num_steps = 360_000  # table: 360,000 iterations
    t.ema_decay = 0.0  # not in the paper

    d = c.data
    d.colorness_threshold = 0.05  # table: colorness threshold 0.05 (near-gray photos dropped)
    d.train_split = "train"  # paper §4: the 1.2M ILSVRC-CLS training images
    d.eval_split = "validation"  # paper §4: ctest10k (Larsson et al.), part of the validation set
    c.eval.batch_size = 16
    return c


def shrink_to_tiny(c: ml_collections.ConfigDict, *, num_steps: int) -> None:
    """For tests and CPU runs: a few steps on the bundled photos (the colorness filter drops the gray one)."""
    c.train.batch_size = 4
    c.train.num_steps = num_steps
    c.train.learning_rate *= 10  # 3e-3: a short run needs a larger step
    c.model.batch_norm_momentum = 0.9  # moving statistics that keep up with weights that still move
    c.train.log_every = 10
    c.train.checkpoint_every = 30
    c.eval.batch_size = 4
    c.eval.num_batches = 1
    c.data.source = "bundled"  # no download
    c.data.train_split = "train[:80%]"
    c.data.eval_split = "train[80%:]"
    c.data.shuffle_buffer = 16


def shrink_to_default(c: ml_collections.ConfigDict, *, num_steps: int, batch_size: int) -> None:
    """A small model meant to train on this 2-core CPU in about 20 minutes on the default photo folder
    (python -m common.data.default_photos --out=~/colorize_photos), with random crops and flips. Defined,
    not yet trained or measured."""
    c.train.batch_size = batch_size
    c.train.num_steps = num_steps
    c.train.learning_rate = 1e-3  # a short run: larger than the table's 3e-4
    c.model.batch_norm_momentum = 0.9  # moving statistics that keep up with weights that still move
    c.train.log_every = 25
    c.train.checkpoint_every = 100
    c.eval.batch_size = 8
    c.eval.num_batches = 0
    c.data.source = "folder"
    c.data.folder = "~/colorize_photos/train"
    c.data.train_split = "train"
    c.data.eval_split = "train"  # of --config.data.folder=~/colorize_photos/heldout at --mode=eval
    c.data.shuffle_buffer = 64
    c.data.crop_min_scale = 0.4
    c.data.random_flip = True
