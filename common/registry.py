"""The one place that maps a config's model name to its class.

Entries are "module:Class" strings imported on demand, so importing the registry loads no model code
and no model registers itself by a side-effect import.
"""

from __future__ import annotations

import importlib
from typing import Any

MODELS: dict[str, str] = {
    "toy": "common.toy_model:ToyColorizer",
    "coltran_core": "coltran.core:ColTranCore",
    "coltran_color_upsampler": "coltran.upsampler:ColorUpsampler",
    "coltran_spatial_upsampler": "coltran.upsampler:SpatialUpsampler",
}


def model_class(name: str) -> type:
    """Returns the model class registered under `name`; a clear error lists the known names."""
    try:
        target = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(sorted(MODELS))}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_model(config: Any) -> Any:
    """Builds the model named by `config.model.name` from the rest of `config.model`."""
    cls = model_class(config.model.name)
    kwargs = {k: v for k, v in config.model.to_dict().items() if k != "name"}
    return cls(**kwargs)
