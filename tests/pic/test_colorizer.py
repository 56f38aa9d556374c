"""`colorize --model=pic` on the tiny model of conftest `workdir` (the command as a user runs it, one
subprocess), the Colorizer's draws against the model's `sample` as a batch of one, its bits/dim, and
--weights errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import rgb2lab

from common.colorize.protocol import Job
from pic import colorizer
from tests.colorize_cases import check_bits_per_dim, check_colorize_command, check_weights_errors


@pytest.fixture(scope="module")
def loaded(workdir):
    return colorizer.load(workdir)


def test_colorize_command_writes_colourings_with_the_photos_luminance(workdir, tmp_path):
    check_colorize_command(tmp_path, "pic", workdir, batch_size=1)


def test_draws_are_the_models_sample_as_a_batch_of_one(loaded):
    r = loaded.input_sizes[0]
    grays = np.random.default_rng(1).uniform(0, 1, [2, r, r]).astype(np.float32)
    jobs = [Job({r: g}, seed=100 + i) for i, g in enumerate(grays)]
    draws = list(loaded.colorize(jobs, num_samples=2, temperature=0.8, top_k=1, batch_size=4))
    assert [(d.job, d.sample) for d in draws] == [(j, n) for j in range(2) for n in range(2)]
    for d in draws:
        lightness = rgb2lab(np.repeat(grays[d.job][None, :, :, None], 3, -1).astype(np.float64))[..., :1]
        seed = tf.constant([100 + d.job, d.sample])
        gray = tf.constant(lightness / 100.0, tf.float32)
        ref = loaded.model.sample(gray, num_samples=1, seed=seed, temperature=0.8, top_k=1)
        assert d.rgb.dtype == np.uint8 and d.rgb.shape == (r, r, 3)
        assert np.abs(d.rgb.astype(float) - np.round(ref["rgb"].numpy()[0, 0] * 255)).max() <= 1
        np.testing.assert_allclose(d.uncertainty, ref["uncertainty"].numpy()[0, 0], atol=1e-5)
    assert (draws[0].rgb != draws[1].rgb).any()


def test_bits_per_dim_is_the_models(loaded):
    def want(model, batch):
        return model.compute_loss(batch)[1]["bits_per_dim"].numpy()[0]

    check_bits_per_dim(loaded, "256 x 256 bins", want)


def test_weights_errors_are_one_line(tmp_path, monkeypatch):
    cases = [(None, "no default PIC model"), (str(tmp_path / "nowhere"), "no such folder")]
    check_weights_errors(colorizer, monkeypatch, tmp_path, [*cases, (str(tmp_path), "config.json")])
