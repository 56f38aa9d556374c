"""common/registry.py: preprocess without a model, and models built under a config's mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import registry
from common.toy_model import ToyColorizer
from common.train.inputs import make_dataset_fn
from configs.toy import get_config


def test_dataset_fn_builds_no_model(monkeypatch):
    def no_model(self, *args, **kwargs):
        raise AssertionError("make_dataset_fn must not create a model")

    monkeypatch.setattr(ToyColorizer, "__init__", no_model)
    config = get_config("tiny")
    fn = make_dataset_fn(config, split=config.data.train_split, training=True, batch_size=4)
    batch = next(iter(fn(tf.distribute.InputContext())))
    assert batch["rgb"].shape == (4, 8, 8, 3) and batch["gray"].shape == (4, 8, 8, 1)


def test_preprocessor_equals_the_models_preprocess():
    config = get_config("tiny")
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (30, 41, 3)), tf.uint8)
    a = registry.build_preprocess(config)({"image": image}, True)
    b = registry.build_model(config).preprocess({"image": image}, True)
    for k in ("rgb", "gray"):
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())


class _NoPreprocessor:
    """A model class without the `preprocessor` classmethod: the registry falls back to an instance."""

    instances = 0

    def __init__(self, scale: float = 1.0) -> None:
        type(self).instances += 1
        self.scale = scale

    def preprocess(self, example, training):
        return {"x": example["x"] * self.scale}


def test_fallback_to_the_bound_preprocess(monkeypatch):
    monkeypatch.setitem(registry.MODELS, "plain", f"{__name__}:_NoPreprocessor")
    config = get_config("tiny")
    config.model = {"name": "plain", "scale": 3.0}
    fn = registry.build_preprocess(config)
    assert _NoPreprocessor.instances == 1
    assert float(fn({"x": tf.constant(2.0)}, False)["x"]) == 6.0


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_policy_is_scoped_to_the_model(policy):
    config = get_config("tiny")
    config.train.mixed_precision = policy
    before = keras.config.dtype_policy().name
    model = registry.build_model(config)
    assert keras.config.dtype_policy().name == before == "float32"  # restored
    assert model.head.dtype_policy.name == policy
    out = model(tf.zeros([1, 8, 8, 1]))
    assert out.dtype == tf.float32  # logits (and so softmax and loss) in float32
    assert {w.dtype for w in model.weights} == {"float32"}  # variables, hence EMA and checkpoints


def test_unknown_mixed_precision_is_a_config_error():
    config = get_config("tiny")
    config.train.mixed_precision = "float16"
    with pytest.raises(ValueError, match="train.mixed_precision='float16'"):
        registry.build_model(config)
