"""One tiny ColTran export shared by the export tests: the three tiny stages with random weights,
exported to a SavedModel (export.saved_model.save) and .tflite files (export.tflite.write_tflite), plus the
in-process models and the spec's concrete functions. (tests/export/test_export_main.py exports trained
work directories through the command line.)"""

from __future__ import annotations

import os

import pytest

from coltran.export_spec import STAGES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOP_K = (0, 3)  # the export allows both; the tests also try a value it does not allow


def tiny_models(seed: int = 0) -> dict:
    """stage -> tiny model with random weights (seeded)."""
    import keras

    from common.registry import build_model
    from common.train import load_config

    keras.utils.set_random_seed(seed)
    return {s: build_model(load_config(os.path.join(REPO, "configs", f"{s}.py:tiny"))) for s in STAGES}


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> dict:
    """{"saved_model": path, "tflite": [paths], "spec": the in-process ExportSpec, "fns": its concrete
    functions, "models": stage -> in-process model, "base": export base}."""
    from export.export import spec_for_models
    from export.saved_model import build_module, save
    from export.spec import ExportOptions
    from export.tflite import tflite_options, write_tflite

    base = str(tmp_path_factory.mktemp("exports"))
    models = tiny_models()
    options = ExportOptions(top_k_values=TOP_K)
    spec = spec_for_models(models, version=1, options=options)
    module, fns = build_module(spec)
    path = save(spec, base, built=(module, fns))
    tflite_spec = spec_for_models(models, version=1, options=tflite_options(options))
    folder = os.path.join(base, "tflite")
    tflite = write_tflite(tflite_spec, folder, signatures=["colorize_square", "color_upsampler"])
    tflite += write_tflite(tflite_spec, folder, ["float32"], signatures=["core", "spatial_upsampler"])
    return {"saved_model": path, "tflite": tflite, "spec": spec, "fns": fns, "models": models, "base": base}


@pytest.fixture(scope="session")
def loaded(exported):
    """The exported SavedModel reloaded in Python (tf.saved_model.load), shared by the export tests."""
    import tensorflow as tf

    return tf.saved_model.load(exported["saved_model"])
