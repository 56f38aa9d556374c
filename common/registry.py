"""The one place that maps a config's model name to its class.

Entries are "module:Class" strings imported on demand, so importing the registry loads no model code
and no model registers itself by a side-effect import.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

MODELS: dict[str, str] = {
    "toy": "common.toy_model:ToyColorizer",
    "coltran_core": "coltran.core:ColTranCore",
    "coltran_color_upsampler": "coltran.upsampler:ColorUpsampler",
    "coltran_spatial_upsampler": "coltran.upsampler:SpatialUpsampler",
    "pic": "pic.model:PICColorizer",
    "cic": "cic.model:CICColorizer",
    "pixcolor": "pixcolor.model:PixColor",
    "pixcolor_refinement": "pixcolor.refinement_model:PixColorRefinement",
}


def model_class(name: str) -> type:
    """Returns the model class registered under `name`; a clear error lists the known names."""
    try:
        target = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(sorted(MODELS))}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def _model_kwargs(config: Any) -> dict[str, Any]:
    return {k: v for k, v in config.model.to_dict().items() if k != "name"}


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to `name` ("" = leave it) within the block, restored after."""
    if not name:
        yield
        return
    import keras  # here: importing the registry stays light

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_model(config: Any) -> Any:
    """Builds the model named by `config.model.name` from the rest of `config.model`.

    Under `config.train.mixed_precision` ("mixed_bfloat16" / "mixed_float16") its layers are created
    with that Keras dtype policy (float32 variables, low-precision compute); the global policy is
    restored afterwards, so nothing else is affected.
    """
    from common.train.optim import mixed_precision_policy  # the config check lives with the optimiser

    policy = mixed_precision_policy(config.train) if "train" in config else ""
    with dtype_policy(policy):
        return model_class(config.model.name)(**_model_kwargs(config))


Preprocess = Callable[[dict, bool], dict]


def build_preprocess(config: Any) -> Preprocess:
    """The `preprocess(example, training) -> batch` of the model named by `config.model`, for tf.data.

    A model class that defines the classmethod `preprocessor(**model_kwargs)` gives it without any
    model being created (no layers, no weights); otherwise an unbuilt instance's bound `preprocess`.
    """
    cls = model_class(config.model.name)
    if callable(getattr(cls, "preprocessor", None)):
        return cls.preprocessor(**_model_kwargs(config))
    return build_model(config).preprocess
