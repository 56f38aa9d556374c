"""colorize-train end to end (`python -m common.train_main`) on the bundled photos with configs/toy.py:tiny:
train + eval, resume after SIGKILL with the same losses as an uninterrupted run, and loud failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common.train.checkpoint import checkpoint_step, checkpoint_values, latest_checkpoint
from common.train.summaries import METRICS_FILE, read_metrics_log

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_STEPS = 300
OVERRIDES = [
    "--config=configs/toy.py:tiny",
    f"--config.train.num_steps={NUM_STEPS}",
    "--config.train.checkpoint_every=25",
    "--config.train.log_every=25",
    "--config.train.steps_per_call=1",
    "--config.train.image_summary_every=100",
]
ENV = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _start(workdir, *args: str, log_name: str = "log.txt") -> tuple[subprocess.Popen, str]:
    log_path = os.path.join(os.path.dirname(str(workdir)), f"{os.path.basename(str(workdir))}_{log_name}")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "common.train_main", f"--workdir={workdir}", *args],
            cwd=REPO,
            env=ENV,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, log_path


def _run(workdir, *args: str, log_name: str = "log.txt") -> tuple[int, str]:
    proc, log_path = _start(workdir, *args, log_name=log_name)
    code = proc.wait(timeout=300)
    with open(log_path) as f:
        return code, f.read()


def _model_variables(prefix: str) -> list[np.ndarray]:
    values = checkpoint_values(prefix)
    assert values
    return list(values.values())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted training run (workdir, log text)."""
    workdir = tmp_path_factory.mktemp("cli") / "reference"
    code, log = _run(workdir, *OVERRIDES)
    assert code == 0, log[-3000:]
    return workdir, log


def test_train_writes_config_log_checkpoints_and_summaries(reference):
    workdir, log = reference
    with open(workdir / "config.json") as f:
        config = json.load(f)
    assert config["model"]["name"] == "toy" and config["train"]["num_steps"] == NUM_STEPS  # flags resolved
    assert [r["step"] for r in read_metrics_log(str(workdir / METRICS_FILE))] == list(range(1, NUM_STEPS + 1))
    assert checkpoint_step(latest_checkpoint(str(workdir))) == NUM_STEPS
    assert f"step {NUM_STEPS}/{NUM_STEPS} (100.0%) | loss" in log and "steps/s | ETA" in log
    tags = {}
    for event_file in tf.io.gfile.glob(str(workdir / "train" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    assert (
        tags["loss"] == list(range(25, NUM_STEPS + 1, 25))
        and "bits_per_dim" in tags
        and "learning_rate" in tags
    )
    assert tags["samples"] == [100, 200, 300]


def test_eval_reports_bits_per_dim_of_the_last_checkpoint(reference):
    workdir, _ = reference
    code, log = _run(workdir, "--config=configs/toy.py:tiny", "--mode=eval", log_name="eval.txt")
    assert code == 0, log[-3000:]
    [result_file] = [f for f in os.listdir(workdir / "eval") if f.endswith(".json")]
    with open(workdir / "eval" / result_file) as f:
        result = json.load(f)
    assert result["step"] == NUM_STEPS and result["ema"] is True and result["num_examples"] == 1
    assert 0.0 < result["bits_per_dim"] < 3.0  # below chance (3 bits per coarse channel) after training
    assert f"bits_per_dim={result['bits_per_dim']}" in log


def test_resume_after_sigkill_continues_with_the_same_losses(reference, tmp_path):
    ref_dir, _ = reference
    workdir = tmp_path / "killed"
    proc, _ = _start(workdir, *OVERRIDES)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            latest = latest_checkpoint(str(workdir)) if (workdir / "checkpoints").exists() else None
            logged = len(read_metrics_log(str(workdir / METRICS_FILE)))
            if latest and logged >= checkpoint_step(latest) + 3:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = time.time()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    saved = checkpoint_step(latest_checkpoint(str(workdir)))
    logged = [r["step"] for r in read_metrics_log(str(workdir / METRICS_FILE))]
    assert 25 <= saved < NUM_STEPS and logged[-1] > saved  # work after the checkpoint was lost

    code, log = _run(workdir, *OVERRIDES, log_name="resume.txt")
    assert code == 0, log[-3000:]
    assert f"Resumed from checkpoint {workdir}/checkpoints/ckpt-{saved} at step {saved}." in log
    rows = read_metrics_log(str(workdir / METRICS_FILE))
    assert [r["step"] for r in rows] == list(range(1, NUM_STEPS + 1))
    # Steps up to the checkpoint were logged before the kill, the rest by the resumed process.
    assert all((r["time"] < killed_at) == (r["step"] <= saved) for r in rows)
    want = read_metrics_log(str(ref_dir / METRICS_FILE))
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in want], rtol=1e-6, atol=1e-6)
    for a, b in zip(
        _model_variables(latest_checkpoint(str(workdir))),
        _model_variables(latest_checkpoint(str(ref_dir))),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_wrong_fine_tuning_checkpoint_fails_loudly(tmp_path):
    """Exit status 1 and one clear line, nothing trained (tests/common/test_train_checkpoint.py covers
    the other wrong checkpoints: another model's, an empty folder, eval without a checkpoint)."""
    code, log = _run(
        tmp_path / "tune", "--config=configs/toy.py:tiny", f"--init_checkpoint={tmp_path}/nowhere"
    )
    assert code == 1
    assert f"colorize-train: error: checkpoint '{tmp_path}/nowhere' does not exist" in log
    assert "Traceback" not in log
    assert not (tmp_path / "tune" / "checkpoints").exists()
