"""Gradient accumulation and the one all-reduce per step (common/train/loop.py `_steps_function`).

k micro-batches of b examples per optimiser step must equal one step on a batch of k * b (weights, EMA,
losses), with clipping applied to the accumulated gradient, on one device and on 2 mirrored CPU replicas.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.toy_model import ToyColorizer
from common.train import ConfigError, train
from common.train.summaries import METRICS_FILE, read_metrics_log
from tests.common.test_train_loop import run_json_script, toy_config, toy_dataset_fn


def _run(tmp_path, name, strategy=None, **overrides):
    config = toy_config(num_steps=6, steps_per_call=2, batch_size=8, grad_clip_norm=0.5, **overrides)
    result = train(config, str(tmp_path / name), dataset_fn=toy_dataset_fn(8), strategy=strategy)
    losses = [r["loss"] for r in read_metrics_log(str(tmp_path / name / METRICS_FILE))]
    return result, losses


def test_four_micro_batches_of_two_equal_one_batch_of_eight(tmp_path, monkeypatch):
    seen = []  # the batch sizes the model is called on, recorded when each call runs
    call = ToyColorizer.call

    def recording_call(self, gray, training=False):
        size = tf.numpy_function(lambda n: seen.append(int(n)) or np.int64(n), [tf.shape(gray)[0]], tf.int64)
        with tf.control_dependencies([size]):
            return call(self, tf.identity(gray), training)

    monkeypatch.setattr(ToyColorizer, "call", recording_call)
    accumulated, la = _run(tmp_path, "accum", grad_accum_steps=4)
    assert set(seen[-24:]) == {2}, seen[-24:]  # 6 steps x 4 micro-batches of 2
    seen.clear()
    whole, lb = _run(tmp_path, "whole", grad_accum_steps=1)
    assert set(seen[-6:]) == {8}
    assert accumulated.step == whole.step == 6 and len(la) == len(lb) == 6
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    for key in ("model", "ema"):
        a = accumulated.state.model.weights if key == "model" else accumulated.state.ema.shadows
        b = whole.state.model.weights if key == "model" else whole.state.ema.shadows
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-5, atol=1e-6)
    assert accumulated.state.optimizer.iterations.numpy() == 6  # optimiser steps, not micro-batches


def test_resume_counts_optimiser_steps(tmp_path):
    """Checkpoints and resume are in optimiser steps: 4 + 4 resumed == 8 in one go, with accumulation."""

    def run(name, num_steps):
        config = toy_config(num_steps=num_steps, checkpoint_every=4, batch_size=8, grad_accum_steps=2)
        return train(config, str(tmp_path / name), dataset_fn=toy_dataset_fn(8))

    whole = run("whole", 8)
    assert run("split", 4).checkpoint.endswith("ckpt-4")
    resumed = run("split", 8)
    assert resumed.step == 8 and resumed.state.optimizer.iterations.numpy() == 8
    la = [r["loss"] for r in read_metrics_log(str(tmp_path / "whole" / METRICS_FILE))]
    lb = [r["loss"] for r in read_metrics_log(str(tmp_path / "split" / METRICS_FILE))]
    assert [r["step"] for r in read_metrics_log(str(tmp_path / "split" / METRICS_FILE))] == list(range(1, 9))
    np.testing.assert_allclose(lb, la, rtol=1e-6)
    for a, b in zip(whole.state.model.weights, resumed.state.model.weights, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


def test_batch_not_divisible_by_micro_batches_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="grad_accum_steps=3"):
        _run(tmp_path, "bad", grad_accum_steps=3)


_MIRRORED_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
from common.train import make_strategy, train
strategy = make_strategy("mirrored", num_cpu_devices=2)
from tests.common.test_train_loop import toy_config, toy_dataset_fn
calls = []
all_reduce = tf.distribute.ReplicaContext.all_reduce
def counting(self, *args, **kwargs):
    calls.append(1)
    return all_reduce(self, *args, **kwargs)
tf.distribute.ReplicaContext.all_reduce = counting
out = {}
for name, s, k in (("whole", None, 1), ("mirrored_accum", strategy, 4)):
    calls.clear()
    r = train(toy_config(num_steps=6, steps_per_call=2, batch_size=8, grad_clip_norm=0.5, grad_accum_steps=k),
              sys.argv[1] + "/" + name, dataset_fn=toy_dataset_fn(8), strategy=s)
    out[name] = {"replicas": (s or tf.distribute.get_strategy()).num_replicas_in_sync,
                 "all_reduce_calls": len(calls),
                 "weights": [w.numpy().tolist() for w in r.state.model.weights],
                 "ema": [v.numpy().tolist() for v in r.state.ema.shadows]}
json.dump(out, open(sys.argv[1] + "/out.json", "w"))
"""


def test_accumulation_under_two_mirrored_replicas_equals_one_big_batch(tmp_path):
    """2 replicas x 4 micro-batches of 1 == one device, one batch of 8; one all-reduce per step."""
    out = run_json_script(_MIRRORED_SCRIPT, tmp_path)
    assert out["mirrored_accum"]["replicas"] == 2
    # The step function is traced once; each replica's trace all-reduces once (gradients), with clipping on.
    assert out["mirrored_accum"]["all_reduce_calls"] == 2, out["mirrored_accum"]["all_reduce_calls"]
    for key in ("weights", "ema"):
        for a, b in zip(out["whole"][key], out["mirrored_accum"][key], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    la = [r["loss"] for r in read_metrics_log(str(tmp_path / "whole" / METRICS_FILE))]
    lb = [r["loss"] for r in read_metrics_log(str(tmp_path / "mirrored_accum" / METRICS_FILE))]
    assert len(la) == 6
    np.testing.assert_allclose(la, lb, rtol=1e-5)
