"""`colorize --model=cic` on the tiny trained run (the command as a user runs it, one subprocess), the
Colorizer's draws against the model's `sample`, its bits/dim for colorize-evaluate, and --weights errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cic import colorizer
from common.colorize.protocol import Job
from tests.colorize_cases import check_bits_per_dim, check_colorize_command, check_weights_errors


@pytest.fixture(scope="module")
def loaded(trained):
    return colorizer.load(trained["workdir"])


def test_colorize_command_writes_colourings_with_the_photos_luminance(trained, tmp_path):
    check_colorize_command(tmp_path, "cic", trained["workdir"], batch_size=1, deterministic=True)


def test_draws_are_the_models_sample_and_batch_independent(loaded):
    r = loaded.input_sizes[0]
    grays = np.random.default_rng(1).uniform(0, 1, [3, r, r]).astype(np.float32)
    jobs = [Job({r: g}, seed=i) for i, g in enumerate(grays)]
    draws = list(loaded.colorize(jobs, num_samples=2, temperature=0.5, top_k=9, batch_size=2))
    assert [(d.job, d.sample) for d in draws] == [(j, n) for j in range(3) for n in range(2)]
    ref = loaded.model.sample(tf.constant(grays[..., None]), num_samples=1, temperature=0.5, top_k=9)
    want = np.round(ref["rgb"].numpy()[:, 0] * 255)
    for d in draws:
        assert d.rgb.dtype == np.uint8 and d.rgb.shape == (r, r, 3)
        assert np.abs(d.rgb.astype(float) - want[d.job]).max() <= 1
        np.testing.assert_allclose(d.uncertainty, ref["uncertainty"].numpy()[d.job, 0], atol=1e-6)


def test_bits_per_dim_is_the_313_bin_likelihood(loaded):
    def want(model, batch):
        return -float(model.log_prob(batch)[0]) / (model.output_size**2 * np.log(2))

    check_bits_per_dim(loaded, "313 ab bins", want)


def test_weights_errors_are_one_line(tmp_path, monkeypatch):
    cases = [(None, "no default CIC model"), (str(tmp_path / "nowhere"), "no such folder")]
    check_weights_errors(colorizer, monkeypatch, tmp_path, [*cases, (str(tmp_path), "config.json")])
