"""One folder of tiny PixColor work directories (pixcolor/ + pixcolor_refinement/, random weights written with
common.train.save_model_checkpoint and the resolved config), made once per session and shared by
tests/pixcolor/test_export.py and test_colorizer.py. The PixColor is tests/pixcolor/conftest.py's TINY
(32 x 32 gray, 4 x 4 chroma); the refinement reads 48 x 48, so the two input sizes differ."""

from __future__ import annotations

import os

import numpy as np

from tests.pixcolor.conftest import TINY, TINY_REFINEMENT, randomize

REFINEMENT_RESOLUTION = 48
STEP = 7
_FOLDERS: dict = {}


def tiny_weights(root: str) -> str:
    """Writes (once per session) and returns the --weights folder under `root`."""
    if "path" in _FOLDERS:
        return _FOLDERS["path"]
    import keras

    from common.registry import build_model
    from common.train import load_config, save_model_checkpoint

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    overrides = {
        "pixcolor": dict(TINY),
        "pixcolor_refinement": {**TINY_REFINEMENT, "resolution": REFINEMENT_RESOLUTION},
    }
    for seed, (name, model_args) in enumerate(overrides.items()):
        config = load_config(os.path.join(repo, "configs", f"{name}.py:tiny"))
        config.model.update(model_args)
        keras.utils.set_random_seed(seed)
        model = randomize(build_model(config), seed)
        if name == "pixcolor_refinement":  # its output layer starts at 0 (bilinear): random, to show it
            out = model.network.out.kernel
            out.assign(np.random.default_rng(seed).normal(scale=0.1, size=out.shape).astype(np.float32))
        save_model_checkpoint(model, os.path.join(root, name), STEP, config=config)
    _FOLDERS["path"] = root
    return root
