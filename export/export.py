"""Trained runs -> SavedModel (TF Serving layout) and .tflite files: the library behind colorize-export.

    paths = export_runs(["runs/coltran_core", "runs/coltran_color_upsampler",
                         "runs/coltran_spatial_upsampler"], "exports", tflite_dir="exports/tflite")

Each work directory's `config.json` names its model (common.registry); the models are loaded with their
EMA weights (common.train.load_for_inference) and handed, keyed by name, to the `export_spec` of the
package that defines them (export/spec.py).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import Any

import ml_collections
import tensorflow as tf

from export.saved_model import save
from export.spec import ExportOptions, ExportSpec, find_spec_builder
from export.tflite import tflite_options, write_tflite

__all__ = ["checkpoint_step", "export_runs", "load_run", "spec_for_models"]


def load_run(workdir: str, *, use_ema: bool = True) -> tuple[str, Any, int]:
    """(registry name, model with the latest checkpoint's weights, checkpoint step) of a work directory."""
    from common.train import load_for_inference, resolve_checkpoint
    from common.train.config_io import CONFIG_FILE

    path = os.path.join(workdir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"--workdir={workdir}: no {CONFIG_FILE} (not a colorize-train work directory)"
        )
    with tf.io.gfile.GFile(path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    checkpoint = resolve_checkpoint(workdir)
    model = load_for_inference(config, checkpoint, use_ema=use_ema)
    return config.model.name, model, checkpoint_step(checkpoint)


def checkpoint_step(checkpoint: str) -> int:
    """The step of a checkpoint prefix ".../ckpt-<step>"."""
    match = re.search(r"ckpt-(\d+)$", checkpoint)
    if not match:
        raise ValueError(
            f"export: cannot read a step from checkpoint {checkpoint!r} (expected .../ckpt-<step>)"
        )
    return int(match.group(1))


def spec_for_models(models: dict[str, Any], *, version: int, options: ExportOptions) -> ExportSpec:
    """The ExportSpec of models keyed by registry name, from their package's export_spec."""
    builders = {find_spec_builder(m) for m in models.values()}
    if len(builders) != 1:
        raise ValueError(f"export: the work directories hold models of different packages: {sorted(models)}")
    return builders.pop()(models, version=version, options=options)


def export_runs(
    workdirs: Sequence[str],
    out: str,
    *,
    version: int | None = None,
    options: ExportOptions | None = None,
    tflite_dir: str | None = None,
    use_ema: bool = True,
) -> dict[str, Any]:
    """Exports the models of `workdirs` as one SavedModel under `out`; returns {"saved_model": path,
    "tflite": [paths]}. version None: the largest checkpoint step among the runs."""
    models, steps = {}, []
    for workdir in workdirs:
        name, model, step = load_run(workdir, use_ema=use_ema)
        if name in models:
            raise ValueError(f"export: two work directories hold a {name!r} model; give each stage once")
        models[name] = model
        steps.append(step)
    options = options or ExportOptions()
    spec = spec_for_models(models, version=max(steps) if version is None else version, options=options)
    path = save(spec, out)
    paths = []
    if tflite_dir:
        paths = write_tflite(
            spec_for_models(models, version=spec.version, options=tflite_options(options)), tflite_dir
        )
    return {"saved_model": path, "tflite": paths}
