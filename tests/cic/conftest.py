"""Shared by the CIC tests: one tiny work directory trained through common.train on the bundled photos
(made once per session; the trainer, export and `colorize` tests all read it), and the tiny config."""

from __future__ import annotations

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(REPO, "configs", "cic.py:tiny")


def tiny_config():
    from common.train import load_config

    return load_config(TINY)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """{"workdir": a tiny CIC run of configs/cic.py:tiny (20 steps, bundled photos, with a prior file made
    by cic.prior), "result": common.train's TrainResult, "prior": the prior file}."""
    import numpy as np

    from common.data.photos import bundled_photos
    from common.train import train
    from common.train.inputs import make_dataset_fn

    root = tmp_path_factory.mktemp("cic_run")
    photos = root / "photos"
    photos.mkdir()
    from PIL import Image

    for name, image in bundled_photos()[:3]:
        Image.fromarray(np.asarray(image)).save(photos / f"{name}.png")
    from cic.prior import main as prior_main

    assert prior_main([f"--data={photos}", f"--out={root / 'prior.npy'}", "--resolution=32"]) == 0
    config = tiny_config()
    config.model.prior_file = str(root / "prior.npy")
    split, batch_size = config.data.train_split, config.train.batch_size
    fn = make_dataset_fn(config, split=split, training=True, batch_size=batch_size)
    workdir = str(root / "workdir")
    result = train(config, workdir, dataset_fn=fn)
    return {"workdir": workdir, "result": result, "prior": str(root / "prior.npy"), "photos": str(photos)}
