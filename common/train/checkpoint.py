"""Checkpoints: where they live, finding them, and restoring that fails loudly instead of silently.

Layout: <workdir>/checkpoints/ckpt-<step>{.index,.data-*} written by `tf.train.CheckpointManager`.
A run resumes from its own latest checkpoint; a fine-tuning run loads only the model weights of another
run's checkpoint. Every restore asserts that each of our variables got a value from the checkpoint and
that the checkpoint holds exactly as many model variables, so a wrong path or another model's checkpoint
is an error, never a run from random weights (ColTran users met exactly that silent failure:
google-research issue #1030).

The model is saved as the flat list `model.variables` (keys model/variables/<i>), not through its
attributes: Keras 3 layers kept in Python lists (`self.blocks = [...]`) are invisible to
tf.train.Checkpoint's object graph, so `tf.train.Checkpoint(model=model)` would silently skip them.
"""

from __future__ import annotations

import os

import tensorflow as tf

from common.train.errors import CheckpointError

CHECKPOINT_SUBDIR = "checkpoints"
MODEL_KEY = "model"


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
    if tf.io.gfile.isdir(path):
        for folder in (checkpoint_dir(path), path):
            found = tf.train.latest_checkpoint(folder)
            if found:
                return found
        raise CheckpointError(
            f"no checkpoint in {path!r} (looked for {os.path.join(path, CHECKPOINT_SUBDIR, 'checkpoint')}); "
            "pass a run's --workdir, its checkpoints/ folder or a prefix such as .../checkpoints/ckpt-1000"
        )
    if tf.io.gfile.exists(path + ".index"):
        return path
    raise CheckpointError(
        f"checkpoint {path!r} does not exist (no {path}.index); pass a run's --workdir or a prefix such as "
        ".../checkpoints/ckpt-1000"
    )


def model_trackable(model: tf.Module) -> tf.train.Checkpoint:
    """What a checkpoint stores of `model`: all its variables (weights, non-trainable state) in order."""
    return tf.train.Checkpoint(variables=list(model.variables))


def _num_model_variables(path: str) -> int:
    prefix = f"{MODEL_KEY}/variables/"
    return sum(1 for name, _ in tf.train.list_variables(path) if name.startswith(prefix))


def restore(
    checkpoint: tf.train.Checkpoint, path: str, *, num_model_variables: int, partial: bool = False
) -> None:
    """Restores `checkpoint` from the prefix `path`; every variable we hold must be found there.

    `num_model_variables`: how many the model has; the checkpoint must hold exactly that many.
    `partial`: the file may hold more objects (an optimiser we do not load). Raises CheckpointError.
    """
    try:
        found = _num_model_variables(path)
        if found != num_model_variables:
            raise ValueError(f"it holds {found} model variables, this model has {num_model_variables}")
        status = checkpoint.read(path)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint {path!r} does not match this model (another model or config?): {first[:300]}"
        ) from e


def load_model_weights(model: tf.Module, path: str) -> str:
    """Loads only `model`'s variables from a checkpoint (fine-tuning); returns the resolved prefix."""
    prefix = resolve_checkpoint(path)
    restore(
        tf.train.Checkpoint(**{MODEL_KEY: model_trackable(model)}),
        prefix,
        num_model_variables=len(model.variables),
        partial=True,
    )
    return prefix
