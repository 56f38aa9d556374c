"""Configs: loading `configs/<model>.py[:variant]` and recording the resolved config in a run's workdir.

The workdir is read and written through `tf.io.gfile`, so it may be local, gs://, s3:// (with the plugin)
or ram:// alike.
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import Any

import ml_collections
import tensorflow as tf

from common.train.errors import ConfigError

CONFIG_FILE = "config.json"


def load_config(spec: str) -> ml_collections.ConfigDict:
    """`"configs/toy.py:tiny"` -> get_config("tiny") of that file (no ":" -> get_config("")).

    The same syntax as `--config` of the command line (ml_collections.config_flags).
    """
    path, _, arg = spec.partition(":")
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist")
    module_spec = importlib.util.spec_from_file_location(f"_colorize_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path!r} defines no get_config(arg)")
    return module.get_config(arg)


def config_to_dict(config: Any) -> dict:
    """A JSON-safe plain dict of a ConfigDict."""
    return json.loads(config.to_json_best_effort(sort_keys=True))


def write_config(workdir: str, config: Any) -> str:
    """Writes the resolved config to <workdir>/config.json (write, then rename); returns the path."""
    tf.io.gfile.makedirs(workdir)
    path = os.path.join(workdir, CONFIG_FILE)
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        f.write(json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n")
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
    return path


def check_workdir_config(workdir: str, config: Any) -> None:
    """A workdir belongs to one model: resuming it with another model section is a ConfigError."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return
    with tf.io.gfile.GFile(path) as f:
        saved = json.load(f).get("model", {})
    current = config_to_dict(config)["model"]
    if saved != current:
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        raise ConfigError(
            f"--workdir {workdir!r} holds a run of another model config (model.{', model.'.join(changed)} "
            f"differ from {path}); use a new --workdir, or --init_checkpoint={workdir} to fine-tune from it"
        )
