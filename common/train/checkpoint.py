"""Checkpoints keyed by variable path: where they live, finding them, writing and restoring them loudly.

Layout: <workdir>/checkpoints/ckpt-<step>{.index,.data-*} (any `tf.io.gfile` path: local, gs://, ram://).
A checkpoint holds three sections:

  model/<path>      every model variable under its path in the layer tree, e.g.
                    model/encoder/row_att_0/q/kernel (`tf.train.list_variables` shows "/" as ".S")
  ema/<path>        the EMA shadow of each trainable variable, under that variable's path
  optimizer         the Keras optimiser (its own layout; only a run resuming itself reads it)

A path is the chain of layer names from the model (its own, auto-numbered name left out) down to the
variable, the way Keras 3 writes `w.path` when each layer is built inside its parent: stable across
processes and independent of the order in which variables were created, so a refactor that reorders
layers still restores each weight into the variable of the same name, and one that renames them fails
loudly. (`w.path` itself is not used: it records where a layer happened to be built, so it can repeat,
e.g. two decoders' lazily built projections, and it starts with the model's auto-numbered name.)

Every restore compares the checkpoint's names and shapes with the model's first and raises one
`CheckpointError` listing what is missing, unexpected or mis-shaped, so a wrong path or another model's
checkpoint is an error, never a run from random weights (ColTran users met exactly that silent failure:
google-research issue #1030). Checkpoints of the older position-keyed layout (model/variables/<i>) are
not read.

Writing a work directory from weights held elsewhere (e.g. a converter from another codebase):
`save_model_checkpoint(model, workdir, step, ema_values=...)`; `load_for_inference` and
`--init_checkpoint` read it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.train.errors import CheckpointError

CHECKPOINT_SUBDIR = "checkpoints"
MODEL_KEY = "model"
EMA_KEY = "ema"
OPTIMIZER_KEY = "optimizer"
_MAX_LISTED = 8  # names listed per kind of mismatch before "... and N more"


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(workdir, CHECKPOINT_SUBDIR)


def latest_checkpoint(workdir: str) -> str | None:
    """The newest checkpoint prefix of the run in `workdir`, or None when it has none yet."""
    return tf.train.latest_checkpoint(checkpoint_dir(workdir))


def checkpoint_step(path: str) -> int:
    """The step a checkpoint was saved at, from its name `.../ckpt-<step>`."""
    try:
        return int(os.path.basename(path).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise CheckpointError(f"checkpoint {path!r} is not named ckpt-<step>") from None


def resolve_checkpoint(path: str) -> str:
    """A checkpoint prefix from `path`: a prefix (…/ckpt-1000), a run's workdir or its checkpoints folder.

    Raises CheckpointError naming the path when nothing usable is there.
    """
    if not path:
        raise CheckpointError("no checkpoint path given")
    if tf.io.gfile.exists(path + ".index"):  # first: ram:// calls any prefix of a file a directory
        return path
    if tf.io.gfile.isdir(path):
        for folder in (checkpoint_dir(path), path):
            found = tf.train.latest_checkpoint(folder)
            if found:
                return found
        raise CheckpointError(
            f"no checkpoint in {path!r} (looked for {os.path.join(path, CHECKPOINT_SUBDIR, 'checkpoint')}); "
            "pass a run's --workdir, its checkpoints/ folder or a prefix such as .../checkpoints/ckpt-1000"
        )
    raise CheckpointError(
        f"checkpoint {path!r} does not exist (no {path}.index); pass a run's --workdir or a prefix such as "
        ".../checkpoints/ckpt-1000"
    )


def _listing(items: list[str]) -> str:
    more = f", ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _layer_paths(layer: keras.Layer, prefix: str, seen: set[int]) -> list[tuple[str, Any]]:
    """(path, variable) for `layer`'s own variables, then its sublayers', in `layer.variables` order.

    Reads the lists Keras 3 builds `layer.variables` from (no public API gives a layer's own variables)."""
    out = []
    for v in layer._trainable_variables + layer._non_trainable_variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append((prefix + v.name, v))
    for i, generator in enumerate(layer._seed_generators):
        seen.add(id(generator.state))
        out.append((f"{prefix}seed_generator_{i}", generator.state))
    for sub in layer._layers:
        out += _layer_paths(sub, f"{prefix}{sub.name}/", seen)
    return out


def named_variables(model: keras.Layer) -> dict[str, Any]:
    """{path: variable} over `model.variables`, in that order (paths as the module docstring defines).

    Raises CheckpointError when two variables get the same path (two sibling layers of one name), since
    a checkpoint could not tell them apart.
    """
    pairs = _layer_paths(model, "", set())
    counts: dict[str, int] = {}
    for name, _ in pairs:
        counts[name] = counts.get(name, 0) + 1
    duplicates = sorted(n for n, c in counts.items() if c > 1)
    if duplicates:
        raise CheckpointError(
            f"{type(model).__name__} has variables that share a path ({_listing(duplicates)}): give its "
            "sibling layers distinct names so that checkpoints can key them by name"
        )
    if {id(v) for _, v in pairs} != {id(v) for v in model.variables}:
        raise CheckpointError(f"{type(model).__name__}: some variables are not reachable through its layers")
    return dict(pairs)


def ema_shadows_by_name(model: keras.Layer, shadows: list[tf.Variable]) -> dict[str, tf.Variable]:
    """{path of the trainable variable: its EMA shadow}; `shadows` in `model.trainable_variables` order."""
    names = {id(v): n for n, v in named_variables(model).items()}
    return {names[id(v)]: s for v, s in zip(model.trainable_variables, shadows, strict=True)}


def _reader(path: str) -> Any:
    """A reader of the checkpoint prefix `path` (not tf.train.load_checkpoint, which mistakes a ram://
    prefix for a directory)."""
    return tf.compat.v1.train.NewCheckpointReader(path)


def _unescape(name: str) -> str:
    """tf.train.Checkpoint's escaping of a dictionary key ("/" -> ".S", "." -> "..") undone."""
    return re.sub(r"\.(.)", lambda m: "/" if m.group(1) == "S" else m.group(1), name)


def checkpoint_contents(path: str) -> dict[str, dict[str, tuple[int, ...]]]:
    """{section: {variable path: shape}} of the checkpoint prefix `path` (sections model, ema, ...)."""
    contents: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, shape in sorted(_reader(path).get_variable_to_shape_map().items()):
        parts = key.split("/")
        if len(parts) == 4 and parts[2:] == [".ATTRIBUTES", "VARIABLE_VALUE"]:
            contents.setdefault(parts[0], {})[_unescape(parts[1])] = tuple(shape)
        else:
            contents.setdefault(parts[0], {})
    return contents


def checkpoint_values(path: str, section: str = MODEL_KEY) -> dict[str, np.ndarray]:
    """{variable path: value} of one section ("model", "ema") of the checkpoint prefix `path`."""
    reader = _reader(path)
    out = {}
    for key in reader.get_variable_to_shape_map():
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == section and parts[2:] == [".ATTRIBUTES", "VARIABLE_VALUE"]:
            out[_unescape(parts[1])] = reader.get_tensor(key)
    return dict(sorted(out.items()))


def _section_problems(section: str, want: Mapping[str, Any], found: Mapping[str, tuple[int, ...]]) -> str:
    """ "" when names and shapes agree, else one phrase listing what is missing / unexpected / mis-shaped."""
    missing = [n for n in want if n not in found]
    unexpected = [n for n in found if n not in want]
    shapes = {n: tuple(v.shape) for n, v in want.items()}
    misshaped = [
        f"{n} (checkpoint {list(found[n])}, model {list(shapes[n])})"
        for n in want
        if n in found and tuple(found[n]) != shapes[n]
    ]
    parts = [
        f"{len(items)} {kind}: {_listing(items)}"
        for kind, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped))
        if items
    ]
    return f"{section}: " + "; ".join(parts) if parts else ""


def restore(
    path: str,
    sections: Mapping[str, Mapping[str, Any]],
    *,
    optimizer: Any = None,
    optional: tuple[str, ...] = (),
) -> set[str]:
    """Assigns the variables of `sections` ({section: {path: variable}}) and `optimizer` from `path`.

    Names and shapes are checked first; sections in `optional` are skipped when the checkpoint has none
    (an EMA a weights-only checkpoint lacks). Returns the sections restored. Raises one CheckpointError
    listing every mismatch.
    """
    try:
        contents = checkpoint_contents(path)
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path!r} cannot be read: {str(e).strip()[:300]}") from e
    if MODEL_KEY in contents and not contents[MODEL_KEY]:  # keys model/variables/<i>
        raise CheckpointError(
            f"checkpoint {path!r} keys the model by position (an older version of this trainer); "
            "it cannot be read: retrain, or re-save the weights with save_model_checkpoint"
        )
    used = {k: v for k, v in sections.items() if k in contents or k not in optional}
    problems = [_section_problems(k, v, contents.get(k, {})) for k, v in used.items()]
    if optimizer is not None and OPTIMIZER_KEY not in contents:
        problems.append(
            "no optimizer state (a weights-only checkpoint): fine-tune from it with --init_checkpoint "
            "in a new --workdir"
        )
    problems = [p for p in problems if p]
    if problems:
        raise CheckpointError(
            f"checkpoint {path!r} does not match this model (another model or config?): "
            + " | ".join(problems)
        )
    tracked: dict[str, Any] = {k: dict(v) for k, v in used.items()}
    if optimizer is not None:
        tracked[OPTIMIZER_KEY] = optimizer
    try:
        status = tf.train.Checkpoint(**tracked).read(path)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path!r} does not match this model: {first[:300]}") from e
    return set(used)


def load_model_weights(model: keras.Layer, path: str) -> str:
    """Loads only `model`'s variables (raw, not EMA) from a checkpoint (fine-tuning); returns the prefix."""
    prefix = resolve_checkpoint(path)
    restore(prefix, {MODEL_KEY: named_variables(model)})
    return prefix


def save_model_checkpoint(
    model: keras.Layer,
    workdir: str,
    step: int,
    *,
    ema_values: Mapping[str, Any] | None = None,
    config: Any = None,
) -> str:
    """Writes `model`'s weights as <workdir>/checkpoints/ckpt-<step>, a checkpoint this trainer reads.

    For weights obtained elsewhere (a converted checkpoint of another codebase): assign them to a built
    model of this codebase, then call this. `load_for_inference(config, workdir)`, `evaluate` and
    `--init_checkpoint=<workdir>` read the result; resuming training from it is refused (no optimizer).

    Args:
      model: a built model (variables created).
      step: the training step the weights stand for (names the checkpoint).
      ema_values: {path: array} for every trainable variable (paths as `named_variables(model)` gives);
        None writes no EMA, and the readers then use the raw weights.
      config: if given, also written as <workdir>/config.json (the run's resolved config).
    Returns:
      The checkpoint prefix.
    """
    named = named_variables(model)
    if not named:
        raise CheckpointError(
            f"save_model_checkpoint: {type(model).__name__} has no variables yet; build it first"
        )
    tracked: dict[str, Any] = {MODEL_KEY: named}
    if ema_values is not None:
        trainable = {n: v for n, v in named.items() if v.trainable}
        problem = _section_problems(
            "ema_values", trainable, {n: tuple(np.shape(a)) for n, a in ema_values.items()}
        )
        if problem:
            raise CheckpointError(f"save_model_checkpoint: {problem}")
        tracked[EMA_KEY] = {
            n: tf.Variable(tf.cast(ema_values[n], trainable[n].dtype), trainable=False) for n in trainable
        }
    if config is not None:
        from common.train.config_io import write_config

        write_config(workdir, config)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(**tracked), checkpoint_dir(workdir), max_to_keep=None
    )
    return manager.save(checkpoint_number=step)
