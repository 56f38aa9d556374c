"""Checkpoints: restore really restores, resume continues, fine-tuning loads only weights, every wrong
checkpoint is a loud error, and a NaN loss stops training with the last good checkpoint intact."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.train import (
    CheckpointError,
    ConfigError,
    DivergedError,
    build_state,
    evaluate,
    load_config,
    load_for_inference,
    load_model_weights,
    train,
)
from common.train.checkpoint import (
    checkpoint_contents,
    latest_checkpoint,
    named_variables,
    resolve_checkpoint,
    save_model_checkpoint,
)
from common.train.state import element_spec
from common.train.summaries import METRICS_FILE, read_metrics_log
from tests.common.test_train_loop import REPO, toy_config, toy_dataset_fn


def _values(variables) -> list[np.ndarray]:
    return [v.numpy() for v in variables]


def _assert_all_equal(a, b) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def _fresh_state(config):
    return build_state(
        config, tf.distribute.get_strategy(), element_spec(toy_dataset_fn(4), tf.distribute.get_strategy())
    )


def test_restore_brings_back_model_optimizer_and_ema(tmp_path):
    config = toy_config(num_steps=5, checkpoint_every=5)
    trained = train(config, str(tmp_path), dataset_fn=toy_dataset_fn(4)).state
    fresh = _fresh_state(config)
    assert not np.array_equal(_values(fresh.model.weights)[0], _values(trained.model.weights)[0])
    status = fresh.checkpoint.restore(latest_checkpoint(str(tmp_path)))
    status.assert_consumed()
    assert fresh.step == trained.step == 5
    _assert_all_equal(_values(fresh.model.weights), _values(trained.model.weights))
    _assert_all_equal(_values(fresh.optimizer.variables), _values(trained.optimizer.variables))
    _assert_all_equal(_values(fresh.ema.shadows), _values(trained.ema.shadows))


def test_resume_continues_like_an_uninterrupted_run(tmp_path):
    """8 steps in one go == 4 steps, then a new call that restores ckpt-4 and trains 4 more (same data)."""
    full = train(
        toy_config(num_steps=8, checkpoint_every=4), str(tmp_path / "full"), dataset_fn=toy_dataset_fn(4)
    )
    train(toy_config(num_steps=4, checkpoint_every=4), str(tmp_path / "split"), dataset_fn=toy_dataset_fn(4))
    resumed = train(
        toy_config(num_steps=8, checkpoint_every=4), str(tmp_path / "split"), dataset_fn=toy_dataset_fn(4)
    )
    la = [r["loss"] for r in read_metrics_log(str(tmp_path / "full" / METRICS_FILE))]
    lb = [r["loss"] for r in read_metrics_log(str(tmp_path / "split" / METRICS_FILE))]
    assert len(la) == len(lb) == 8
    np.testing.assert_allclose(la, lb, rtol=1e-6)
    for a, b in zip(_values(full.state.model.weights), _values(resumed.state.model.weights), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_fine_tuning_loads_weights_and_resets_optimizer(tmp_path):
    source = train(toy_config(num_steps=4), str(tmp_path / "source"), dataset_fn=toy_dataset_fn(4)).state
    tuned = train(
        toy_config(num_steps=0),
        str(tmp_path / "tuned"),
        dataset_fn=toy_dataset_fn(4),
        init_checkpoint=str(tmp_path / "source"),
    ).state
    assert tuned.step == 0
    _assert_all_equal(_values(tuned.model.weights), _values(source.model.weights))
    _assert_all_equal(
        _values(tuned.ema.shadows), _values(tuned.model.trainable_weights)
    )  # EMA restarts there
    assert all(not np.any(v) for v in _values(tuned.optimizer.variables)[1:])  # fresh moments


@pytest.mark.parametrize("where", ["missing_dir", "missing_prefix", "empty_dir"])
def test_fine_tuning_from_a_wrong_path_is_an_error(tmp_path, where):
    path = {"missing_dir": tmp_path / "nope", "missing_prefix": tmp_path / "ckpt-7", "empty_dir": tmp_path}[
        where
    ]
    with pytest.raises(CheckpointError, match=str(path)):
        train(
            toy_config(num_steps=2),
            str(tmp_path / "run"),
            dataset_fn=toy_dataset_fn(4),
            init_checkpoint=str(path),
        )
    assert latest_checkpoint(str(tmp_path / "run")) is None  # nothing trained from random weights


def test_fine_tuning_from_another_models_checkpoint_is_an_error(tmp_path):
    other = toy_config(num_steps=2)
    other.model.hidden_size = 4  # another architecture: different kernel shapes
    train(other, str(tmp_path / "other"), dataset_fn=toy_dataset_fn(4))
    with pytest.raises(CheckpointError, match="does not match this model"):
        train(
            toy_config(num_steps=2),
            str(tmp_path / "run"),
            dataset_fn=toy_dataset_fn(4),
            init_checkpoint=str(tmp_path / "other"),
        )
    deeper = toy_config(num_steps=2)
    deeper.model.num_layers = 2  # a layer the checkpoint does not have
    with pytest.raises(CheckpointError, match="does not match this model"):
        train(
            deeper,
            str(tmp_path / "run2"),
            dataset_fn=toy_dataset_fn(4),
            init_checkpoint=str(tmp_path / "other"),
        )


def test_resuming_a_workdir_with_another_model_is_an_error(tmp_path):
    train(toy_config(num_steps=2), str(tmp_path), dataset_fn=toy_dataset_fn(4))
    other = toy_config(num_steps=4)
    other.model.hidden_size = 4
    with pytest.raises(ConfigError, match="model.hidden_size"):
        train(other, str(tmp_path), dataset_fn=toy_dataset_fn(4))


def test_evaluating_without_a_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        evaluate(toy_config(), str(tmp_path), dataset_fn=toy_dataset_fn(4, repeat=False))
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(str(tmp_path / "ckpt-3"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    """The batch of step 7 has a NaN input: stop there, save nothing, keep ckpt-5 as it was."""
    config = toy_config(num_steps=12, checkpoint_every=5, steps_per_call=2)
    with pytest.raises(DivergedError, match=r"loss is nan at step 7.*ckpt-5"):
        train(config, str(tmp_path / "run"), dataset_fn=toy_dataset_fn(4, nan_at_step=7))
    assert latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-5")
    assert [r["step"] for r in read_metrics_log(str(tmp_path / "run" / METRICS_FILE))] == [1, 2, 3, 4, 5, 6]
    # ckpt-5 holds the weights of a clean run stopped at step 5 (before the NaN batch).
    clean = train(
        toy_config(num_steps=5, checkpoint_every=5, steps_per_call=2),
        str(tmp_path / "clean"),
        dataset_fn=toy_dataset_fn(4, nan_at_step=7),
    ).state
    restored = _fresh_state(config)
    restored.checkpoint.restore(latest_checkpoint(str(tmp_path / "run"))).assert_consumed()
    assert all(np.isfinite(w).all() for w in _values(restored.model.weights))
    _assert_all_equal(_values(restored.model.weights), _values(clean.model.weights))
    assert os.path.exists(tmp_path / "run" / "config.json")


def test_load_for_inference_gives_the_ema_or_raw_weights(tmp_path):
    config = toy_config(num_steps=4)
    trained = train(config, str(tmp_path), dataset_fn=toy_dataset_fn(4)).state
    averaged = load_for_inference(config, str(tmp_path))
    _assert_all_equal(_values(averaged.trainable_variables), _values(trained.ema.shadows))
    raw = load_for_inference(config, latest_checkpoint(str(tmp_path)), use_ema=False)
    _assert_all_equal(_values(raw.weights), _values(trained.model.weights))
    with pytest.raises(CheckpointError, match="nothing_here' does not exist"):
        load_for_inference(config, str(tmp_path / "checkpoints" / "nothing_here"))


# --- Checkpoints keyed by variable path --------------------------------------------------------------


class _Pair(keras.Model):
    """Two same-shape Dense layers, named `names`, created (and so ordered in .variables) in `order`."""

    def __init__(self, names=("first", "second"), reverse=False, **kwargs):
        super().__init__(**kwargs)
        order = list(reversed(names)) if reverse else list(names)
        self.made = {n: keras.layers.Dense(3, name=n) for n in order}

    def call(self, x):
        return sum(layer(x) for layer in self.made.values())


def _pair(names=("first", "second"), reverse=False, seed=0) -> _Pair:
    keras.utils.set_random_seed(seed)
    model = _Pair(names, reverse)
    model(tf.zeros([1, 3]))
    return model


def test_checkpoint_keys_are_variable_paths_for_model_and_ema(tmp_path):
    train(toy_config(num_steps=2), str(tmp_path), dataset_fn=toy_dataset_fn(4))
    contents = checkpoint_contents(latest_checkpoint(str(tmp_path)))
    want = {f"{layer}/{w}" for layer in ("conv0", "logits") for w in ("kernel", "bias")}
    assert set(contents["model"]) == set(contents["ema"]) == want
    assert contents["model"]["conv0/kernel"] == contents["ema"]["conv0/kernel"] == (3, 3, 1, 8)
    keys = [k for k, _ in tf.train.list_variables(latest_checkpoint(str(tmp_path)))]
    assert "model/conv0.Skernel/.ATTRIBUTES/VARIABLE_VALUE" in keys  # TF's own escaping of "/"


def test_reordered_same_shape_layers_restore_by_name(tmp_path):
    """Creation order swapped (so model.variables is swapped): each weight still goes to its name."""
    source, variant = _pair(seed=1), _pair(reverse=True, seed=2)
    assert variant.variables[0].path.endswith("second/kernel")
    assert source.variables[0].path.endswith("first/kernel")
    save_model_checkpoint(source, str(tmp_path), 3)
    load_model_weights(variant, str(tmp_path))
    for name in ("first", "second"):
        for a, b in zip(source.made[name].weights, variant.made[name].weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Position-keyed restoring would have put "first"'s kernel into "second" (same shapes, no error).
    assert not np.array_equal(variant.variables[0].numpy(), source.variables[0].numpy())


def test_renamed_same_shape_layers_fail_naming_them(tmp_path):
    save_model_checkpoint(_pair(), str(tmp_path), 3)
    renamed = _pair(names=("first", "third"))
    with pytest.raises(CheckpointError) as e:
        load_model_weights(renamed, str(tmp_path))
    message = str(e.value)
    assert "model: 2 missing: third/kernel, third/bias; 2 unexpected: second/bias, second/kernel" in message
    assert "\n" not in message


def test_another_models_checkpoint_lists_every_mismatch(tmp_path):
    """Shapes differ (hidden size) and layers are missing (depth): one error lists them, long lists cut."""
    other = toy_config(num_steps=1)
    other.model.hidden_size, other.model.num_layers = 4, 8
    train(other, str(tmp_path / "other"), dataset_fn=toy_dataset_fn(4))
    with pytest.raises(CheckpointError) as e:
        train(
            toy_config(num_steps=1),
            str(tmp_path / "run"),
            dataset_fn=toy_dataset_fn(4),
            init_checkpoint=str(tmp_path / "other"),
        )
    message = str(e.value)
    assert "does not match this model" in message
    assert "14 unexpected: conv1/bias, conv1/kernel, conv2/bias" in message and "... and 6 more" in message
    assert "3 mis-shaped: conv0/kernel (checkpoint [3, 3, 1, 4], model [3, 3, 1, 8])" in message
    assert "logits/kernel (checkpoint [1, 1, 4, 24], model [1, 1, 8, 24])" in message


def test_duplicate_variable_paths_are_an_error():
    class Twins(keras.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = keras.layers.Dense(2, name="same"), keras.layers.Dense(2, name="same")

        def call(self, x):
            return self.a(x) + self.b(x)

    model = Twins()
    model(tf.zeros([1, 2]))
    with pytest.raises(CheckpointError, match=r"share a path \(same/bias, same/kernel\)"):
        named_variables(model)


CONFIG_FILES = sorted(  # every configs/<model>.py (those defining get_config)
    f
    for f in os.listdir(os.path.join(REPO, "configs"))
    if f.endswith(".py") and "def get_config(" in open(os.path.join(REPO, "configs", f)).read()
)


@pytest.mark.parametrize("config_file", CONFIG_FILES)
def test_every_model_has_unique_paths_stable_across_builds(config_file):
    """Built twice in one process (so Keras numbers the second model's name, e.g. toy_colorizer_1), a
    model's variables get the same, unique paths, none starting with the model's own name."""
    config = load_config(os.path.join(REPO, "configs", f"{config_file}:tiny"))
    models = [build_state(config, tf.distribute.get_strategy(), with_optimizer=False).model for _ in range(2)]
    first, second = (list(named_variables(m)) for m in models)
    assert first == second and len(first) == len(set(first)) == len(models[0].variables) > 0
    assert models[0].name != models[1].name
    assert not any(n.startswith((models[0].name + "/", models[1].name + "/")) for n in first)


def test_coltran_lazily_built_projections_get_their_own_paths():
    """ColTran's conditioning projections are built lazily from their decoder (so Keras' `w.path` puts
    them under the decoder, where row and column attention collide); the layer tree tells them apart."""
    config = load_config(os.path.join(REPO, "configs/coltran_core.py:tiny"))
    names = list(_fresh_state_of(config).sections["model"])
    assert {"outer_decoder/row_att_0/cond_q/kernel", "outer_decoder/col_att_0/cond_q/kernel"} <= set(names)


def _fresh_state_of(config):
    return build_state(config, tf.distribute.get_strategy(), with_optimizer=False)


def test_weights_only_checkpoint_from_save_model_checkpoint(tmp_path):
    """The public writer: load_for_inference / evaluate read it (EMA or raw), resuming it is refused."""
    config = toy_config(num_steps=2)
    trained = train(config, str(tmp_path / "run"), dataset_fn=toy_dataset_fn(4)).state
    ema = {n: s.numpy() for n, s in trained.sections["ema"].items()}
    path = save_model_checkpoint(trained.model, str(tmp_path / "out"), 7, ema_values=ema, config=config)
    assert path.endswith("ckpt-7") and tf.io.gfile.exists(str(tmp_path / "out" / "config.json"))
    averaged = load_for_inference(config, str(tmp_path / "out"))
    _assert_all_equal(_values(averaged.trainable_variables), _values(trained.ema.shadows))
    raw = load_for_inference(config, str(tmp_path / "out"), use_ema=False)
    _assert_all_equal(_values(raw.weights), _values(trained.model.weights))
    assert evaluate(config, str(tmp_path / "out"), dataset_fn=toy_dataset_fn(4, repeat=False))["step"] == 7
    # Without EMA values the readers use the raw weights.
    save_model_checkpoint(trained.model, str(tmp_path / "plain"), 1)
    _assert_all_equal(
        _values(load_for_inference(config, str(tmp_path / "plain")).weights), _values(trained.model.weights)
    )
    with pytest.raises(CheckpointError, match="ema_values: 1 missing: logits/bias"):
        save_model_checkpoint(
            trained.model,
            str(tmp_path / "bad"),
            1,
            ema_values={k: v for k, v in ema.items() if k != "logits/bias"},
        )
    with pytest.raises(CheckpointError, match="no optimizer state.*--init_checkpoint"):
        train(toy_config(num_steps=4), str(tmp_path / "out"), dataset_fn=toy_dataset_fn(4))


def test_position_keyed_checkpoint_is_refused(tmp_path):
    model = _fresh_state(toy_config()).model
    prefix = tf.train.Checkpoint(model=tf.train.Checkpoint(variables=list(model.variables))).write(
        str(tmp_path / "ckpt-1")
    )
    with pytest.raises(CheckpointError, match="keys the model by position"):
        load_model_weights(model, prefix)
