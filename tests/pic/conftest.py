"""Shared by the PIC trainer, export and `colorize` tests (each made once per session and worker):
`trained`, a tiny run of configs/pic.py:tiny through common.train on the bundled photos with the trainer's
calls of the model's data-dependent `initialize` recorded; `workdir`, a work directory of the same tiny
model initialised on the first batch and saved without training (what export and colorize read, for a
fraction of the CPU time)."""

from __future__ import annotations

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(REPO, "configs", "pic.py:tiny")
STEPS = 2


def tiny_config(num_steps: int = STEPS, *, embedding_only: bool = False):
    from common.train import load_config

    config = load_config(TINY)
    config.model.embedding_only = embedding_only
    config.train.num_steps = num_steps
    config.train.checkpoint_every = STEPS
    config.train.log_every = 1
    return config


def dataset_fn(config):
    from common.train.inputs import make_dataset_fn

    return make_dataset_fn(
        config, split=config.data.train_split, training=True, batch_size=config.train.batch_size
    )


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """{"workdir": a tiny PIC run (STEPS steps), "result": its TrainResult, "inits": [{"batch": the batch
    `initialize` got, "weights": {path: value} right after it}] (one per call), "config"}.

    The model is the embedding-only ablation (paper §4.3): its embedding network is weight-normalised as
    the whole model is, and without f the training step traces in a fraction of the time."""
    from common.train import named_variables, train
    from pic.model import PICColorizer

    inits = []
    original = PICColorizer.initialize

    def recording(self, batch):
        original(self, batch)
        values = {p: v.numpy().copy() for p, v in named_variables(self).items()}
        inits.append({"batch": {k: v.numpy() for k, v in batch.items()}, "weights": values})

    PICColorizer.initialize = recording
    try:
        config = tiny_config(embedding_only=True)
        workdir = str(tmp_path_factory.mktemp("pic_run") / "workdir")
        result = train(config, workdir, dataset_fn=dataset_fn(config))
    finally:
        PICColorizer.initialize = original
    return {"workdir": workdir, "result": result, "inits": inits, "config": config}


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> str:
    """A work directory (config.json + checkpoints/ckpt-STEPS) of the tiny model after `initialize` on the
    first training batch (random V, data-dependent g and b)."""
    import tensorflow as tf

    from common.train import build_state, save_model_checkpoint

    config = tiny_config()
    state = build_state(config, tf.distribute.get_strategy(), with_optimizer=False)
    state.model.initialize(next(iter(dataset_fn(config)(tf.distribute.InputContext()))))
    path = str(tmp_path_factory.mktemp("pic_saved") / "workdir")
    save_model_checkpoint(state.model, path, STEPS, config=config)
    return path
