"""Imports the PIC authors' TF1 checkpoints (github ameroyer/PIC: cifar_model.tar.gz, imagenet_model.tar.gz)
into work directories of ours.

Their `main.py` saves every variable of `tf.make_template("picolor_template", ...)` by its TF1 name,
"picolor_template/<scope>/<V|g|b>", plus "<name>/ExponentialMovingAverage" (Polyak 0.999, what their
sampling and evaluation use), Adam's "<name>/Adam", "<name>/Adam_1", "beta1_power", "beta2_power" and
their tensorboard variable "bpd_rec". Our layers carry their scope names (pic/model.py), so the mapping is
by name: "picolor_template/<scope>" -> "embedding/<scope>" for the embedding network's scopes
(conv_leak, down_leak_*, downscale_leak_*), "pcnn/<scope>" for the rest; no reshape is needed (both
store V as [kh, kw, C_in, C_out]). The variant and sizes are read from the variables: "downscale_leak_5"
exists only in their ILSVRC embedding (two stride-2 convolutions, dilations 2 and 4; else CIFAR: one,
dilation 2). Anything missing, left over or mis-shaped is an error naming it. The raw weights go to the
model section, the averages to the EMA section (`load_for_inference` uses those), through
`common.train.save_model_checkpoint`, with config.json.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import tensorflow as tf

SCOPE = "picolor_template/"
EMA_SUFFIX = "/ExponentialMovingAverage"
_IGNORED = re.compile(r"(/Adam(_1)?$|^beta[12]_power$|^bpd_rec$|^global_step$)")
_EMBEDDING_SCOPES = ("conv_leak", "down_leak_", "downscale_leak_")
VARIANTS = {"cifar": dict(resolution=32, downsample=2), "imagenet": dict(resolution=128, downsample=4)}


class AuthorsCheckpointError(ValueError):
    """The authors' checkpoint does not match our model (the message names what is wrong)."""


def _error(message: str) -> AuthorsCheckpointError:
    return AuthorsCheckpointError(f"pic/import_authors.py: {message}")


def our_path(name: str) -> str:
    """Their "picolor_template/<scope>/<var>" -> our variable path (common/train/checkpoint.py)."""
    rest = name[len(SCOPE) :]
    return ("embedding/" if rest.startswith(_EMBEDDING_SCOPES) else "pcnn/") + rest


def read_authors_checkpoint(path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(raw weights, their averages) by our paths, from a checkpoint prefix (.../model.ckpt) or folder."""
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.NotFoundError, ValueError) as e:
        raise _error(f"no TF checkpoint at {path!r} (give the model.ckpt prefix or its folder): {e}") from e
    names = reader.get_variable_to_shape_map()
    raw, ema, unknown = {}, {}, []
    for name in sorted(names):
        if _IGNORED.search(name):
            continue
        if not name.startswith(SCOPE):
            unknown.append(name)
        elif name.endswith(EMA_SUFFIX):
            ema[our_path(name[: -len(EMA_SUFFIX)])] = reader.get_tensor(name)
        else:
            raw[our_path(name)] = reader.get_tensor(name)
    if unknown:
        raise _error(f"{path}: variables outside {SCOPE!r} that no PIC model has: {unknown[:8]}")
    if not raw:
        raise _error(f"{path}: no PIC variables ({SCOPE}...): not a PIC checkpoint")
    return raw, ema


def infer_model_kwargs(raw: dict[str, np.ndarray]) -> dict[str, Any]:
    """The model section's sizes read from their variables (variant by "downscale_leak_5")."""
    try:
        imagenet = "embedding/downscale_leak_5/V" in raw
        last = "embedding/downscale_leak_5/V" if imagenet else "embedding/downscale_leak_4/V"
        blocks = {int(m.group(1)) for p in raw if (m := re.match(r"pcnn/shortrange_down_(\d+)/", p))}
        return {
            **VARIANTS["imagenet" if imagenet else "cifar"],
            "embedding_channels": int(raw["embedding/conv_leak/V"].shape[-1]),
            "embedding_dilations": [2, 4] if imagenet else [2],
            "embedding_out_channels": int(raw[last].shape[-1]),
            "channels": int(raw["pcnn/conv_down/V"].shape[-1]),
            "num_blocks": len(blocks),
            "num_mixtures": int(raw["pcnn/conv_last/V"].shape[-1]) // 8,
        }
    except KeyError as e:
        raise _error(f"the checkpoint lacks {e.args[0]!r}, which every PIC model has") from None


def convert(raw: dict[str, np.ndarray], model: Any) -> dict[str, np.ndarray]:
    """Checks names and shapes against `model`; returns {our path: value} for every trainable variable
    (the others are the dropout layers' seed states, which their checkpoint has no counterpart of)."""
    from common.train import named_variables

    named = {p: v for p, v in named_variables(model).items() if v.trainable}
    missing = sorted(set(named) - set(raw))
    extra = sorted(set(raw) - set(named))
    wrong = sorted(p for p in set(raw) & set(named) if tuple(raw[p].shape) != tuple(named[p].shape))
    if missing or extra or wrong:
        shapes = [f"{p}: theirs {raw[p].shape}, ours {tuple(named[p].shape)}" for p in wrong[:8]]
        raise _error(f"the checkpoint does not match the model: missing {missing[:8]}, unexpected "
                     f"{extra[:8]}, mis-shaped {shapes}")
    return {p: raw[p] for p in named}


def build_imported(
    path: str, *, resolution: int | None = None
) -> tuple[Any, Any, dict[str, np.ndarray] | None]:
    """(model holding their raw weights, its config, their averages by our path or None)."""
    from common import registry
    from configs.pic import get_config

    raw, ema = read_authors_checkpoint(path)
    kwargs = infer_model_kwargs(raw)
    config = get_config("imagenet" if kwargs["downsample"] == 4 else "cifar")
    config.model.update(kwargs)
    if resolution is not None:
        config.model.resolution = resolution
    model = registry.build_model(config)
    values = convert(raw, model)
    from common.train import named_variables

    named = named_variables(model)
    for p, value in values.items():
        named[p].assign(value)
    if ema and set(ema) != set(values):
        raise _error(f"averages for some variables only: missing {sorted(set(values) - set(ema))[:8]}")
    return model, config, (ema or None)


def import_checkpoint(path: str, workdir: str, *, resolution: int | None = None) -> str:
    """Their checkpoint -> `workdir` (config.json + checkpoints/ckpt-0); returns the prefix written."""
    from common.train import save_model_checkpoint

    model, config, ema = build_imported(path, resolution=resolution)
    return save_model_checkpoint(model, workdir, 0, ema_values=ema, config=config)
