"""Every configs/<model>.py, every variant: loads, keeps the configs/base.py schema, names a registered
model whose constructor takes its model.* values; the tiny variant's model is built from the registry
and honours the protocol (preprocess + compute_loss on one image)."""

from __future__ import annotations

import glob
import importlib.util
import inspect
import os

import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from common import registry
from common.train import load_config
from common.train.optim import OPTIMIZERS, SCHEDULES
from configs.base import base_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG_FILES = sorted(
    p
    for p in glob.glob(os.path.join(REPO, "configs", "*.py"))
    if "def get_config(" in open(p).read()  # model configs; base.py and shared helpers define none
)


def _variants(path: str) -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location("_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(getattr(module, "VARIANTS", ("", "tiny")))


CASES = [(os.path.relpath(p, REPO), v) for p in CONFIG_FILES for v in _variants(p)]


def _flat_keys(c: ml_collections.ConfigDict, prefix: str = "") -> dict[str, type]:
    out = {}
    for k, v in c.items():
        if isinstance(v, ml_collections.ConfigDict):
            out.update(_flat_keys(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = type(v)
    return out


def _module_exists(model_name: str) -> bool:
    module = registry.MODELS[model_name].split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_every_config_file_is_tested():
    assert "configs/toy.py" in {c[0] for c in CASES}
    assert {os.path.relpath(p, REPO) for p in CONFIG_FILES} == {c[0] for c in CASES}


@pytest.mark.parametrize("path,variant", CASES, ids=[f"{p}:{v}" for p, v in CASES])
def test_config_keeps_the_base_schema_and_sane_values(path, variant):
    c = load_config(os.path.join(REPO, f"{path}:{variant}"))
    assert isinstance(c, ml_collections.ConfigDict)
    base = _flat_keys(base_config())
    have = _flat_keys(c)
    assert set(base) <= set(have), f"{path}: missing base keys {sorted(set(base) - set(have))}"
    for key, kind in base.items():
        # ConfigDict keeps field types; an int default may hold a float only where base has a float.
        assert issubclass(have[key], kind) or (kind is float and have[key] is int), (key, have[key], kind)
    assert c.model.name in registry.MODELS
    t = c.train
    assert t.optimizer in OPTIMIZERS and t.lr_schedule in SCHEDULES
    assert t.batch_size > 0 and t.num_steps > 0 and t.checkpoint_every > 0 and t.log_every > 0
    assert t.learning_rate > 0 and 0 <= t.ema_decay < 1 and t.steps_per_call >= 1
    assert c.data.source in ("tfds", "folder", "bundled") and c.eval.batch_size > 0


@pytest.mark.parametrize("path", sorted({p for p, _ in CASES}))
def test_unknown_variant_is_a_clear_error(path):
    with pytest.raises(ValueError, match="nonsense"):
        load_config(os.path.join(REPO, f"{path}:nonsense"))


@pytest.mark.parametrize("path,variant", CASES, ids=[f"{p}:{v}" for p, v in CASES])
def test_model_builds_from_the_registry(path, variant):
    c = load_config(os.path.join(REPO, f"{path}:{variant}"))
    assert _module_exists(c.model.name), f"{registry.MODELS[c.model.name]} does not exist"
    cls = registry.model_class(c.model.name)
    for method in ("preprocess", "compute_loss", "log_prob", "sample"):
        assert callable(getattr(cls, method, None)), method
    kwargs = {k: v for k, v in c.model.to_dict().items() if k != "name"}
    inspect.signature(cls).bind(**kwargs)  # every model.* key is a constructor argument
    if variant != "tiny":
        return  # paper-size models can take many seconds to build on a CPU: the tiny variant is built
    model = registry.build_model(c)
    assert isinstance(model, cls)
    # The tiny variant runs: one random photo-sized image -> preprocess -> a batch of 1 -> loss + metrics.
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (90, 120, 3)), tf.uint8)
    example = model.preprocess(
        {"image": image, "name": tf.constant("x"), "seed": tf.constant([1, 2], tf.int64)}, False
    )
    batch = {k: v[None] for k, v in example.items()}
    loss, metrics = model.compute_loss(batch, training=False)
    assert loss.shape == (1,) and np.isfinite(loss.numpy()).all()
    assert all(v.shape == (1,) for v in metrics.values()), {k: v.shape for k, v in metrics.items()}
