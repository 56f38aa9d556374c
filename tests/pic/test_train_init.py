"""The trainer runs PIC's data-dependent initialisation (common/protocol.py `initialize`) once on a fresh
run's first batch, and never on resume or when fine-tuning."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf

from tests.pic.conftest import STEPS, dataset_fn, tiny_config


def _weight_norm_paths(weights: dict) -> list[str]:
    return sorted(p for p in weights if p.endswith("/g") or p.endswith("/b"))


def test_a_fresh_run_starts_from_the_data_dependent_init(trained):
    assert len(trained["inits"]) == 1
    init = trained["inits"][0]
    config = trained["config"]
    first = next(iter(dataset_fn(config)(tf.distribute.InputContext())))  # the first step's batch
    for key in ("gray", "rgb"):
        np.testing.assert_array_equal(init["batch"][key], first[key].numpy())
    # The first convolution, normalised on that batch (independently: numpy moments of conv(x, V/||V||)).
    v = init["weights"]["embedding/conv_leak/V"]
    x = np.concatenate([first["gray"].numpy() * 2.0 - 1.0, np.ones_like(first["gray"].numpy())], -1)
    t = tf.nn.conv2d(x, v / np.sqrt((v**2).sum(axis=(0, 1, 2))), 1, "SAME").numpy()
    g = init["weights"]["embedding/conv_leak/g"]
    np.testing.assert_allclose(g, 1.0 / np.sqrt(t.var(axis=(0, 1, 2)) + 1e-8), rtol=1e-3)
    np.testing.assert_allclose(init["weights"]["embedding/conv_leak/b"], -t.mean(axis=(0, 1, 2)) * g,
                               rtol=1e-3, atol=1e-5)  # fmt: skip
    # Training went on from there: each Adam step moves a weight by at most ~lr.
    trained_weights = {p: v.numpy() for p, v in _named(trained["result"].state.model).items()}
    paths = _weight_norm_paths(trained_weights)
    assert len(paths) > 10
    lr = config.train.learning_rate
    moved_by_init = max(
        np.abs(init["weights"][p] - (1.0 if p.endswith("/g") else 0.0)).max() for p in paths
    )
    assert moved_by_init > 50 * lr
    for p in paths:
        assert np.abs(trained_weights[p] - init["weights"][p]).max() <= STEPS * lr * 1.05, p


def _named(model):
    from common.train import named_variables

    return named_variables(model)


def _count_inits(monkeypatch) -> list[int]:
    from pic.model import PICColorizer

    calls = []
    original = PICColorizer.initialize
    monkeypatch.setattr(PICColorizer, "initialize", lambda self, b: calls.append(1) or original(self, b))
    return calls


@pytest.mark.parametrize("how", ["resume", "fine-tune"])
def test_no_init_on_resume_or_fine_tuning(trained, tmp_path, monkeypatch, how):
    from common.train import train

    calls = _count_inits(monkeypatch)
    # num_steps already reached: `train` restores (or loads) the weights and returns without a step (the
    # initialisation would come before that), so the check costs no training.
    if how == "resume":
        config = tiny_config(num_steps=STEPS, embedding_only=True)
        workdir = str(tmp_path / "resumed")
        shutil.copytree(trained["workdir"], workdir)
        result = train(config, workdir, dataset_fn=dataset_fn(config))
        assert result.step == STEPS
    else:
        config = tiny_config(num_steps=0, embedding_only=True)
        result = train(config, str(tmp_path / "tuned"), dataset_fn=dataset_fn(config),
                       init_checkpoint=trained["workdir"])  # fmt: skip
        assert result.step == 0
    weights = {p: v.numpy() for p, v in _named(result.state.model).items()}
    final = {p: v.numpy() for p, v in _named(trained["result"].state.model).items()}
    for p in _weight_norm_paths(final):
        np.testing.assert_array_equal(weights[p], final[p], err_msg=p)  # the checkpoint's, untouched
    assert calls == []
