"""What the three ColTran configs share (Kumar et al. 2021, §5.1), and how each shrinks to `tiny`.

Sources: "paper" = the ICLR 2021 paper; "ref" = the authors' code, google-research `coltran/configs/`.
"""

from __future__ import annotations

import ml_collections

from configs.base import base_config

# The paper trains on 16 TPUv2 chips = 32 cores (§5.1; ref README "4x4 TPUv2"); the ref configs give
# per-core batch sizes.
PAPER_CORES = 32
VARIANTS = ("", "tiny", "default")


def coltran_config(name: str, arg: str, *, per_core_batch: int, num_steps: int) -> ml_collections.ConfigDict:
    """The paper's shared values for the ColTran model `name`; `arg` is checked against VARIANTS."""
    if arg not in VARIANTS:
        raise ValueError(f"configs/{name}.py: unknown variant {arg!r}; use '' (paper), 'tiny' or 'default'")
    c = base_config()
    m = c.model
    m.name = name
    m.hidden_size = 512  # paper §5.1: hidden size 512 in every component; ref model.hidden_size
    m.ff_size = 512  # ref model.ff_size
    m.num_heads = 4  # paper §5.1: 4 heads; ref model.num_heads
    m.dropout = 0.0  # ref dropout 0.0

    t = c.train
    t.batch_size = per_core_batch * PAPER_CORES  # paper §5.1; ref batch_size is per core
    t.num_steps = num_steps
    t.optimizer = "rmsprop"  # paper §5.1; ref optimizer.type
    t.learning_rate = 3e-4  # paper §5.1: fixed learning rate; ref optimizer.learning_rate
    t.lr_schedule = "constant"  # paper §5.1: no schedule
    t.ema_decay = 0.999  # paper §5.1: Polyak averaging; ref polyak_decay

    c.eval.batch_size = 16  # ref eval_batch_size
    return c


def shrink_to_tiny(c: ml_collections.ConfigDict, *, num_steps: int) -> None:
    """Shrinks a paper config in place for tests and CPU runs: same architecture, 1/16 the width, one
    layer per stack, a few steps on the bundled photos. Each model also shrinks its resolution."""
    m = c.model
    m.hidden_size //= 16  # 32: small enough for a CPU test
    m.ff_size //= 16  # keeps ff_size / hidden_size of the paper
    m.num_heads //= 2  # 2 heads of 16 channels each
    m.num_encoder_layers = 1  # one row + one column attention block still mixes the whole image
    c.train.batch_size = 4  # a handful of images
    c.train.num_steps = num_steps  # enough for the loss of a handful of overfitted images to fall (tests)
    c.train.learning_rate *= 10  # 3e-3: a short run needs a larger step than hundreds of thousands do
    c.train.ema_decay = 0.0  # too few steps for an average to mean anything
    c.train.log_every = 10
    c.train.checkpoint_every = 30
    c.eval.batch_size = 4
    c.eval.num_batches = 1
    c.data.source = "bundled"  # no download: photos shipped by installed packages
    c.data.train_split = "train[:80%]"  # the paper's "last 10k held out" would leave nothing of a few photos
    c.data.eval_split = "train[80%:]"
    c.data.shuffle_buffer = 16


def shrink_to_default(
    c: ml_collections.ConfigDict, *, hidden_size: int, num_steps: int, batch_size: int
) -> None:
    """Shrinks a paper config in place to the embedded default models' size (README "Default models"):
    trained on this 2-core CPU in about two hours for all three, on the photos of common/data/default_photos
    (33 training photos, 8 held out), with random crops and flips. Each model also sets its resolution and
    depth. The width was chosen by measuring held-out bits/dim against training time (BENCHMARKS.md)."""
    m = c.model
    m.hidden_size = hidden_size
    m.ff_size = hidden_size  # ff_size / hidden_size of the paper (1)
    c.train.batch_size = batch_size
    c.train.num_steps = num_steps
    c.train.learning_rate = 1e-3  # a short run: larger than the paper's 3e-4 (RMSprop, as the paper)
    c.train.ema_decay = 0.995  # the paper's Polyak averaging, over the last ~200 steps of a short run
    c.train.log_every = 25
    c.train.checkpoint_every = 100
    c.train.image_summary_every = 0
    c.eval.batch_size = 8
    c.eval.num_batches = 0  # the whole held-out folder
    c.data.source = "folder"
    c.data.folder = "~/colorize_photos/train"  # python -m common.data.default_photos --out=~/colorize_photos
    c.data.train_split = "train"
    c.data.eval_split = "train"  # of --config.data.folder=~/colorize_photos/heldout at --mode=eval
    c.data.shuffle_buffer = 64
    c.data.crop_min_scale = 0.4
    c.data.random_flip = True
