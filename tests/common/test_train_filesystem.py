"""The whole cycle with the work directory on TensorFlow's in-memory filesystem (ram://), which goes
through the same `tf.io.gfile` code path as gs://: train, crash, resume, SIGTERM, resume, evaluate.

ram:// lives in one process, so the interruptions happen in-process: a crash is an error raised by the
input pipeline at a given step (like SIGKILL, nothing is saved on the way out), a preemption is a real
SIGTERM that the input pipeline sends to this process. Nothing may appear on local disk under "ram:".
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import numpy as np
import pytest
import tensorflow as tf

from common.train import evaluate, train
from common.train.checkpoint import checkpoint_step, latest_checkpoint
from common.train.summaries import METRICS_FILE, read_metrics_log
from tests.common.test_train_loop import toy_config, toy_dataset_fn

NUM_STEPS = 30


def with_hook(dataset_fn, hook):
    """`dataset_fn` whose i-th element (0-based, this pipeline's) first runs the Python `hook(i)`."""

    def fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        def mapped(i, batch):
            done = tf.py_function(lambda j: hook(int(j)) or j, [i], tf.int64)
            with tf.control_dependencies([done]):
                return tf.nest.map_structure(tf.identity, batch)

        return dataset_fn(ctx).enumerate().map(mapped)

    return fn


def crash_at(element: int):
    def hook(i: int) -> None:
        if i == element:
            raise RuntimeError("simulated crash")

    return hook


def sigterm_at(element: int, delay: float = 0.2):
    """Sends SIGTERM to this process when `element` is produced; later elements come `delay` s apart so
    the run is still going when the trainer reacts (it polls once a second)."""

    def hook(i: int) -> None:
        if i == element:
            os.kill(os.getpid(), signal.SIGTERM)
        if i >= element:
            time.sleep(delay)

    return hook


def config():
    return toy_config(num_steps=NUM_STEPS, checkpoint_every=4, steps_per_call=1, log_every=5)


@pytest.mark.slow
def test_train_crash_sigterm_resume_evaluate_on_ram_filesystem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative "ram:/..." folder made by os.makedirs would land here
    workdir = f"ram://colorize_{uuid.uuid4().hex}/run"
    data = toy_dataset_fn(4)

    with pytest.raises(tf.errors.OpError, match="simulated crash"):
        train(config(), workdir, dataset_fn=with_hook(data, crash_at(6)))  # dies in step 7
    assert checkpoint_step(latest_checkpoint(workdir)) == 4
    assert [r["step"] for r in read_metrics_log(os.path.join(workdir, METRICS_FILE))] == list(range(1, 7))

    stopped = train(config(), workdir, dataset_fn=with_hook(data, sigterm_at(2)))  # resumes at 4
    assert 4 < stopped.step < NUM_STEPS, stopped.step
    assert checkpoint_step(latest_checkpoint(workdir)) == stopped.step  # saved on the way out
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the trainer's handler is gone

    finished = train(config(), workdir, dataset_fn=data)
    assert finished.step == NUM_STEPS
    result = evaluate(config(), workdir, dataset_fn=toy_dataset_fn(4, repeat=False))
    with tf.io.gfile.GFile(os.path.join(workdir, "eval", f"eval_step{NUM_STEPS}.json")) as f:
        assert json.load(f)["bits_per_dim"] == result["bits_per_dim"]
    listed = {name.rstrip("/") for name in tf.io.gfile.listdir(workdir)}
    assert {"config.json", "metrics.jsonl", "checkpoints", "train", "eval"} <= listed
    assert os.listdir(tmp_path) == []  # nothing local, no "ram:" folder

    # The same losses as one uninterrupted run (on local disk).
    train(config(), str(tmp_path / "local"), dataset_fn=data)
    want = [r["loss"] for r in read_metrics_log(str(tmp_path / "local" / METRICS_FILE))]
    got = read_metrics_log(os.path.join(workdir, METRICS_FILE))
    assert [r["step"] for r in got] == list(range(1, NUM_STEPS + 1))
    np.testing.assert_allclose([r["loss"] for r in got], want, rtol=1e-6)
