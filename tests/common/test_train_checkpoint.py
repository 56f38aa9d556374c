"""Checkpoints: restore really restores, resume continues, fine-tuning loads only weights, every wrong
checkpoint is a loud error, and a NaN loss stops training with the last good checkpoint intact."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from common.train import (
    CheckpointError,
    ConfigError,
    DivergedError,
    build_state,
    evaluate,
    load_for_inference,
    train,
)
from common.train.checkpoint import latest_checkpoint, resolve_checkpoint
from common.train.state import element_spec
from common.train.summaries import METRICS_FILE, read_metrics_log
from tests.common.test_train_loop import toy_config, toy_dataset_fn


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
