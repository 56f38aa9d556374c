"""colorize-export end to end: the three tiny stages trained for one step with common.train (real work
directories and checkpoints), exported through the command line; its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from coltran.export_spec import STAGES
from tests.export.conftest import REPO


def _export(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "export.export_main", *flags],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, str]:
    """stage -> work directory of a one-step tiny training run."""
    from common.train import inputs, load_config, train

    workdirs = {}
    for stage in STAGES:
        config = load_config(os.path.join(REPO, "configs", f"{stage}.py:tiny"))
        config.train.num_steps = 1
        config.train.steps_per_call = 1
        config.train.checkpoint_every = 1
        workdir = str(tmp_path_factory.mktemp(stage))
        fn = inputs.make_dataset_fn(
            config, split=config.data.train_split, training=True, batch_size=config.train.batch_size
        )
        assert train(config, workdir, dataset_fn=fn).step == 1
        workdirs[stage] = workdir
    return workdirs


def test_export_trained_runs_from_the_command_line(runs, tmp_path) -> None:
    from export.export import load_run

    flags = [f"--workdir={runs[s]}" for s in STAGES] + [f"--out={tmp_path}"]
    result = _export(*flags)
    assert result.returncode == 0, result.stderr[-3000:]
    path = os.path.join(tmp_path, "coltran", "1")  # version = the runs' checkpoint step
    assert f"SavedModel: {path}" in result.stdout
    loaded = tf.saved_model.load(path)
    core = load_run(runs["coltran_core"])[1]  # the run's (EMA) weights, as exported
    r = core.resolution
    gray = np.random.default_rng(9).integers(0, 256, [1, r, r, 1], dtype=np.uint8)
    out = loaded.signatures["core"](
        gray=tf.constant(gray),
        num_samples=tf.constant(1),
        seed=tf.constant(2),
        temperature=tf.constant(1.0),
        top_k=tf.constant(0),
    )
    ref = core.sample(gray / 255.0, num_samples=1, seed=2, temperature=1.0)
    np.testing.assert_array_equal(out["coarse"].numpy(), ref["coarse"].numpy())
    again = _export(*flags)  # the version folder exists: TF Serving may be serving it
    assert again.returncode != 0 and "already holds a SavedModel" in again.stderr


@pytest.mark.parametrize(
    "flags,words",
    [
        ([], "--workdir is required"),
        (["--workdir=/nonexistent", "--out=/tmp/x"], "no config.json"),
        (["--workdir=/tmp", "--out=/tmp/x", "--top_k=a"], "--top_k must be a comma list of integers"),
        (["--workdir=/tmp"], "--out is required"),
    ],
)
def test_bad_flags_give_one_line(flags, words) -> None:
    result = _export(*flags)
    assert result.returncode != 0 and words in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
