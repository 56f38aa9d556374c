"""A trained work directory -> a slim one for shipping or sharing: the resolved config and one checkpoint
holding only the model's weights (the EMA averages when the run kept them), no optimizer state and no
EMA shadow copy, so about a third of a training checkpoint (RMSprop: weights + one slot + EMA).

    python -m common.train.slim --workdir=runs/default/coltran_core --out=coltran/assets/default/coltran_core

The result loads wherever a work directory does (`load_for_inference`, `colorize --weights`,
`colorize-export`, `--init_checkpoint`); resuming training from it is refused (no optimizer state). This
is how the embedded default models in coltran/assets/default/ were written (README "Default models").
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import ml_collections
import tensorflow as tf

from common.train.checkpoint import checkpoint_step, resolve_checkpoint, save_model_checkpoint
from common.train.config_io import CONFIG_FILE
from common.train.state import load_for_inference


def slim_workdir(workdir: str, out: str) -> str:
    """Writes OUT/config.json and OUT/checkpoints/ckpt-<step> (weights = the EMA weights); returns the
    checkpoint prefix."""
    with tf.io.gfile.GFile(os.path.join(workdir, CONFIG_FILE)) as f:
        config = ml_collections.ConfigDict(json.load(f))
    checkpoint = resolve_checkpoint(workdir)
    step = checkpoint_step(checkpoint)
    model = load_for_inference(config, checkpoint, use_ema=True)
    config.train.ema_decay = 0.0  # the shipped weights ARE the averages; no EMA section is written
    config.train.num_steps = step  # what the weights were trained for (a run stopped early says so)
    return save_model_checkpoint(model, out, step, config=config)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m common.train.slim", description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    print(slim_workdir(os.path.expanduser(a.workdir), os.path.expanduser(a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
