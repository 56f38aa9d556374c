"""Resume through common.train.inputs.make_dataset_fn: the data position is restored without
preprocessing (or decoding) what the earlier steps consumed, and the losses equal an uninterrupted run's."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from common.toy_model import ToyColorizer
from common.train import train
from common.train.inputs import make_dataset_fn
from common.train.summaries import METRICS_FILE, read_metrics_log
from configs.toy import get_config

RESUME_AT = 60  # steps before the restart; re-preprocessing them would take 240 calls


def _config(num_steps: int):
    c = get_config("tiny")  # bundled photos, batch 4
    c.train.num_steps = num_steps
    c.train.checkpoint_every = RESUME_AT
    c.train.steps_per_call = 4
    c.train.log_every = 4
    return c


def _counting_preprocessor(monkeypatch) -> list[int]:
    """Makes ToyColorizer's preprocessor count its calls (when tf.data runs it, not when traced)."""
    calls = []
    original = ToyColorizer.preprocessor.__func__

    def preprocessor(cls, **kwargs):
        inner = original(cls, **kwargs)

        def counted(example, training):
            out = inner(example, training)
            tick = tf.numpy_function(lambda: calls.append(1) or np.float32(0), [], tf.float32)
            return {**out, "rgb": out["rgb"] + tf.ensure_shape(tick, [])}

        return counted

    monkeypatch.setattr(ToyColorizer, "preprocessor", classmethod(preprocessor))
    return calls


def _losses(workdir) -> list[float]:
    return [r["loss"] for r in read_metrics_log(str(workdir / METRICS_FILE))]


def _train(config, workdir):
    fn = functools.partial(make_dataset_fn, config, split=config.data.train_split, training=True)
    return train(config, str(workdir), dataset_fn=fn(batch_size=config.train.batch_size))


def test_resume_preprocesses_only_the_new_steps_data_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    whole = _train(_config(RESUME_AT + 4), tmp_path / "whole")
    _train(_config(RESUME_AT), tmp_path / "split")
    calls = _counting_preprocessor(monkeypatch)
    resumed = _train(_config(RESUME_AT + 4), tmp_path / "split")
    assert resumed.step == RESUME_AT + 4
    # 4 new steps of 4 examples, plus what prefetching reads ahead; skipping by re-preprocessing would
    # add RESUME_AT * 4 = 240 calls.
    assert 16 <= len(calls) < 100, len(calls)
    la, lb = _losses(tmp_path / "whole"), _losses(tmp_path / "split")
    assert len(la) == len(lb) == RESUME_AT + 4
    np.testing.assert_allclose(lb, la, rtol=1e-6)
    for a, b in zip(whole.state.model.weights, resumed.state.model.weights, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


def test_dataset_fn_starting_at_equals_skipping_its_batches():
    config = _config(8)
    fn = make_dataset_fn(config, split=config.data.train_split, training=True, batch_size=4)
    context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=2)
    full = list(fn(context).take(9).as_numpy_iterator())  # per-replica batches of 2, 2 per step
    resumed = list(fn.starting_at(3)(context).take(3).as_numpy_iterator())
    for want, got in zip(full[6:], resumed, strict=True):
        np.testing.assert_array_equal(got["rgb"], want["rgb"])
