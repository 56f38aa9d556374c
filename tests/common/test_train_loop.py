"""The training loop on the toy model: default strategy in-process, MirroredStrategy in a subprocess.

Also holds `toy_config` / `toy_dataset_fn`, the deterministic synthetic data the other trainer tests use:
its global batch k is the same 4 examples whatever the number of replicas or workers, so runs under
different strategies must give the same losses and weights up to float rounding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from common.train import evaluate, train
from common.train.summaries import METRICS_FILE, read_metrics_log
from configs.toy import get_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_EXAMPLES = 24


def toy_config(**train_overrides):
    """configs/toy.py:tiny with 8x8 images, EMA on, and `train_overrides`."""
    c = get_config("tiny")
    c.train.ema_decay = 0.9
    c.train.learning_rate = 0.01
    for k, v in train_overrides.items():
        c.train[k] = v
    return c


def toy_examples() -> dict[str, np.ndarray]:
    """NUM_EXAMPLES random 8x8 colour images made of 4x4 blocks, and their luma."""
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (NUM_EXAMPLES, 2, 2, 3)).repeat(4, axis=1).repeat(4, axis=2).astype(np.float32)
    gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
    return {"gray": gray, "rgb": rgb}


def toy_dataset_fn(global_batch: int, nan_at_step: int = 0, repeat: bool = True):
    """input_context -> per-replica batches; global batch k = examples 4k..4k+3 (mod NUM_EXAMPLES).

    `nan_at_step` > 0: the gray input of that step's batch is NaN (so is the loss).
    """
    examples = toy_examples()

    def poison(i, b):
        bad = tf.fill(tf.shape(b["gray"]), np.float32(np.nan))
        return {"gray": tf.where(i == nan_at_step - 1, bad, b["gray"]), "rgb": b["rgb"]}

    def fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        per = ctx.get_per_replica_batch_size(global_batch)
        local = per * (ctx.num_replicas_in_sync // ctx.num_input_pipelines)  # this pipeline's share
        start = ctx.input_pipeline_id * local
        ds = tf.data.Dataset.from_tensor_slices(examples)
        ds = ds.repeat() if repeat else ds
        ds = ds.batch(global_batch, drop_remainder=repeat).enumerate().map(poison)
        return ds.map(lambda b: {k: v[start : start + local] for k, v in b.items()}).unbatch().batch(per)

    return fn


def weights(result) -> list[np.ndarray]:
    return [v.numpy() for v in result.state.model.weights]


def test_loss_decreases_and_metrics_log_has_every_step(tmp_path):
    config = toy_config(num_steps=40, steps_per_call=4, checkpoint_every=20, log_every=10)
    result = train(config, str(tmp_path), dataset_fn=toy_dataset_fn(4))
    rows = read_metrics_log(str(tmp_path / METRICS_FILE))
    assert [r["step"] for r in rows] == list(range(1, 41))
    assert result.step == 40 and result.checkpoint.endswith("ckpt-40")
    assert sorted(
        os.path.basename(p) for p in tf.io.gfile.glob(str(tmp_path / "checkpoints/ckpt-*.index"))
    ) == ["ckpt-20.index", "ckpt-40.index"]
    first, last = np.mean([r["loss"] for r in rows[:4]]), np.mean([r["loss"] for r in rows[-4:]])
    assert last < first - 0.05, (first, last)  # 3 bits/dim is chance level (8 levels); it must learn
    assert all(
        r["bits_per_dim"] == pytest.approx(r["loss"]) and r["learning_rate"] == pytest.approx(0.01)
        for r in rows
    )
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["train"]["num_steps"] == 40


def test_steps_per_call_does_not_change_training(tmp_path):
    a = train(toy_config(num_steps=6, steps_per_call=1), str(tmp_path / "a"), dataset_fn=toy_dataset_fn(4))
    b = train(toy_config(num_steps=6, steps_per_call=3), str(tmp_path / "b"), dataset_fn=toy_dataset_fn(4))
    la = [r["loss"] for r in read_metrics_log(str(tmp_path / "a" / METRICS_FILE))]
    lb = [r["loss"] for r in read_metrics_log(str(tmp_path / "b" / METRICS_FILE))]
    np.testing.assert_allclose(la, lb, rtol=1e-6)
    for wa, wb in zip(weights(a), weights(b), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_first_step_equals_hand_computed_clipped_adam_and_ema(tmp_path):
    """One step by hand: mean-loss gradient, clipped to half its global norm, one Adam step, one EMA step."""
    config = toy_config(num_steps=1, epsilon=1e-3)
    init = train(toy_config(num_steps=0), str(tmp_path / "init"), dataset_fn=toy_dataset_fn(4)).state.model
    batch = {k: tf.constant(v[:4]) for k, v in toy_examples().items()}
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(init.compute_loss(batch, training=True)[0])
    grads = [g.numpy() for g in tape.gradient(loss, init.trainable_variables)]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    config.train.grad_clip_norm = float(norm / 2)
    result = train(config, str(tmp_path / "run"), dataset_fn=toy_dataset_fn(4))
    lr, b2, eps = config.train.learning_rate, config.train.beta2, config.train.epsilon
    for w0, g, w1, shadow in zip(
        [w.numpy() for w in init.trainable_variables],
        grads,
        [w.numpy() for w in result.state.model.trainable_variables],
        [v.numpy() for v in result.state.ema.shadows],
        strict=True,
    ):
        g = g * 0.5  # clipped to half the norm
        # Keras Adam, t = 1: m = (1 - b1) g, v = (1 - b2) g^2,
        # step = lr sqrt(1 - b2) / (1 - b1) m / (sqrt(v) + eps)
        want = w0 - lr * np.sqrt(1 - b2) * g / (np.sqrt(1 - b2) * np.abs(g) + eps)
        np.testing.assert_allclose(w1, want, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(shadow, 0.9 * w0 + 0.1 * w1, rtol=1e-5, atol=1e-7)


def test_evaluate_uses_ema_weights(tmp_path):
    config = toy_config(num_steps=8)
    result = train(config, str(tmp_path), dataset_fn=toy_dataset_fn(4))
    eval_fn = toy_dataset_fn(5, repeat=False)  # 24 examples: 4 batches of 5 and one of 4
    got = evaluate(config, str(tmp_path), dataset_fn=eval_fn)
    with open(tmp_path / "eval" / "eval_step8.json") as f:
        written = json.load(f)
    raw = evaluate(config, str(tmp_path), dataset_fn=eval_fn, use_ema=False)
    model, ema = result.state.model, result.state.ema
    batch = {k: tf.constant(v) for k, v in toy_examples().items()}
    want_raw = float(tf.reduce_mean(model.compute_loss(batch)[0]))
    with ema.averaged():
        want_ema = float(tf.reduce_mean(model.compute_loss(batch)[0]))
    assert got["num_examples"] == NUM_EXAMPLES and got["step"] == 8
    assert got["bits_per_dim"] == pytest.approx(want_ema, rel=1e-5)
    assert raw["bits_per_dim"] == pytest.approx(want_raw, rel=1e-5)
    assert abs(want_ema - want_raw) > 1e-4  # the two weight sets really differ
    assert written["bits_per_dim"] == got["bits_per_dim"] and written["ema"] is True


_MIRRORED_SCRIPT = """
import json, sys
import numpy as np
from common.train import evaluate, make_strategy, train
strategy = make_strategy("mirrored", num_cpu_devices=2)
from tests.common.test_train_loop import toy_config, toy_dataset_fn
out = {}
for name, s in (("default", None), ("mirrored", strategy)):
    r = train(toy_config(num_steps=6, steps_per_call=2, grad_clip_norm=0.5), sys.argv[1] + "/" + name,
              dataset_fn=toy_dataset_fn(4), strategy=s)
    out[name] = {"replicas": (s or __import__("tensorflow").distribute.get_strategy()).num_replicas_in_sync,
                 "weights": [w.numpy().tolist() for w in r.state.model.weights],
                 "ema": [v.numpy().tolist() for v in r.state.ema.shadows],
                 # 24 examples in per-replica batches of 5: the last step gives one replica 4, the other 0
                 "eval": evaluate(toy_config(), sys.argv[1] + "/" + name, strategy=s,
                                  dataset_fn=toy_dataset_fn(10, repeat=False))}
json.dump(out, open(sys.argv[1] + "/out.json", "w"))
"""


def run_json_script(script: str, tmp_path, timeout: int = 300) -> dict:
    """Runs `script` (argv[1] = tmp_path) in a fresh Python process (logical CPU devices must be made before
    TensorFlow starts) and returns the JSON it wrote to tmp_path/out.json."""
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "out.json") as f:
        return json.load(f)


def test_mirrored_two_cpu_replicas_match_default(tmp_path):
    """Same losses, weights (EMA too, clipping on) and eval on 1 device and on 2 mirrored CPU replicas."""
    out = run_json_script(_MIRRORED_SCRIPT, tmp_path)
    assert out["default"]["replicas"] == 1 and out["mirrored"]["replicas"] == 2
    assert out["default"]["eval"]["num_examples"] == out["mirrored"]["eval"]["num_examples"] == NUM_EXAMPLES
    assert out["mirrored"]["eval"]["loss"] == pytest.approx(out["default"]["eval"]["loss"], rel=1e-5)
    for key in ("weights", "ema"):
        for a, b in zip(out["default"][key], out["mirrored"][key], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    la = [r["loss"] for r in read_metrics_log(str(tmp_path / "default" / METRICS_FILE))]
    lb = [r["loss"] for r in read_metrics_log(str(tmp_path / "mirrored" / METRICS_FILE))]
    assert len(la) == 6
    np.testing.assert_allclose(la, lb, rtol=1e-5)
