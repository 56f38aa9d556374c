"""The embedded default models every `colorize --model=...` falls back to: each ships (setup.py
package_data names its files), loads through its colorizer's `load(None)`, and was trained with the
`default` variant of its config (the shipped config.json's model section equals the config file's)."""

from __future__ import annotations

import glob
import importlib
import json
import os

import pytest

from common.colorize.protocol import MODELS
from common.train import load_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# --model -> the work directories under <package>/assets/default/ ("" = the folder itself) and their config
SHIPPED = {
    "coltran": {s: f"configs/{s}.py:default" for s in (
        "coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")},
    "cic": {"": "configs/cic.py:default"},
    "pixcolor": {"pixcolor": "configs/pixcolor.py:default",
                 "pixcolor_refinement": "configs/pixcolor_refinement.py:default"},
    "pic": {"": "configs/pic.py:default"},
}  # fmt: skip


def test_every_colorize_model_ships_a_default():
    assert set(SHIPPED) == set(MODELS)


def _model_section(config: dict) -> dict:
    return {k: v for k, v in config["model"].items() if k != "prior_file"}  # CIC's prior: a local path


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_default_matches_its_config_and_is_package_data(name):
    with open(os.path.join(REPO, "setup.py")) as f:
        setup_py = f.read()
    for sub, config_path in SHIPPED[name].items():
        workdir = os.path.join(REPO, name, "assets", "default", sub)
        with open(os.path.join(workdir, "config.json")) as f:
            shipped = json.load(f)
        wanted = load_config(os.path.join(REPO, config_path)).to_dict()
        assert _model_section(shipped) == _model_section(wanted), (name, sub)
        files = glob.glob(os.path.join(workdir, "checkpoints", "*"))
        assert any(f.endswith(".index") for f in files), workdir
        pattern = "assets/default/*/checkpoints/*" if sub else "assets/default/checkpoints/*"
        assert f'"{name}": [' in setup_py and pattern in setup_py.split(f'"{name}": [')[1].split("]")[0]


@pytest.mark.parametrize("name", ["pic", "pixcolor"])
def test_the_default_loads_through_colorize(name):
    loaded = importlib.import_module(MODELS[name]).load(None)
    assert loaded.weights.startswith("default: ")
