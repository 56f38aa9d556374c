"""Strategy choice, configs in workdirs, the metrics log and the progress line (common/train/*)."""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf

from common.train import ConfigError, is_chief, load_config, make_strategy, write_config
from common.train.config_io import check_workdir_config
from common.train.summaries import MetricsLog, Progress, read_metrics_log, sample_strip

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_strategy_errors_and_default(monkeypatch):
    with pytest.raises(
        ValueError, match="--strategy='gpu' is not one of default, mirrored, multi_worker, tpu"
    ):
        make_strategy("gpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    strategy = make_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and is_chief(strategy)


def test_load_config_with_variant_and_errors():
    tiny = load_config(os.path.join(REPO, "configs/toy.py:tiny"))
    full = load_config(os.path.join(REPO, "configs/toy.py"))
    assert tiny.model.name == full.model.name == "toy" and tiny.model.resolution < full.model.resolution
    with pytest.raises(ConfigError, match="config file 'nowhere.py' does not exist"):
        load_config("nowhere.py:tiny")


def test_workdir_config_is_written_and_guards_the_model(tmp_path):
    config = load_config(os.path.join(REPO, "configs/toy.py:tiny"))
    write_config(str(tmp_path), config)
    with open(tmp_path / "config.json") as f:
        assert json.load(f) == json.loads(config.to_json_best_effort())
    config.train.num_steps = 99  # more training in the same workdir is fine
    check_workdir_config(str(tmp_path), config)
    config.model.bits = 2
    with pytest.raises(ConfigError, match=r"model\.bits differ"):
        check_workdir_config(str(tmp_path), config)


def test_metrics_log_drops_steps_after_the_restored_one_and_torn_lines(tmp_path):
    path = str(tmp_path / "metrics.jsonl")
    log = MetricsLog(path, 0)
    for step in range(1, 6):
        log.write(step, {"loss": step / 10})
    log.close()
    with open(path, "a") as f:
        f.write('{"step": 6, "lo')  # a line cut by SIGKILL
    assert [r["step"] for r in read_metrics_log(path)] == [1, 2, 3, 4, 5]
    MetricsLog(path, 3).close()  # resumed from step 3
    assert [(r["step"], r["loss"]) for r in read_metrics_log(path)] == [(1, 0.1), (2, 0.2), (3, 0.3)]


def test_progress_line_and_sample_strip():
    line, rate = Progress(0, 200).line(50, {"loss": 1.23456, "learning_rate": 3e-4})
    assert line.startswith("step 50/200 (25.0%) | loss 1.2346 | learning_rate 0.0003 | ")
    assert "steps/s | ETA " in line and rate > 0
    gray = tf.fill([2, 4, 4, 1], 0.5)
    samples = tf.ones([2, 3, 2, 2, 3])  # smaller samples are scaled up to the gray size
    strip = sample_strip(gray, samples, tf.zeros([2, 4, 4, 3]))
    assert strip.shape == (2, 4, 4 * 5, 3)
    assert (strip[:, :, :4] == 0.5).all() and (strip[:, :, 4:16] == 1).all() and (strip[:, :, 16:] == 0).all()


def test_tpu_default_is_the_local_tpu_vm_as_tf_names_it(monkeypatch):
    """TPUClusterResolver wants tpu="local" for the TPU attached to this VM ("" would look up a TPU by
    the VM's metadata); both make_strategy and the --tpu flag default to it."""
    from common import train_main

    seen = []

    class Resolver:
        def __init__(self, tpu):
            seen.append(tpu)
            raise RuntimeError("no TPU here")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
    for kwargs in ({}, {"tpu": ""}, {"tpu": "my-tpu"}):
        with pytest.raises(RuntimeError, match="no TPU here"):
            make_strategy("tpu", **kwargs)
    assert seen == ["local", "local", "my-tpu"]
    assert train_main._TPU.default == "local"
