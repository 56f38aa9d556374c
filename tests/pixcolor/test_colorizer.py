"""`colorize --model=pixcolor` on the tiny work directories (tests/pixcolor/weights.py): the command as a user
runs it (one subprocess), the Colorizer's draws against the models' own sample -> refine with per-photo
seeds and independent of the batch, its bits/dim for colorize-evaluate, and --weights errors."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from common.colorize import imageio
from common.colorize.protocol import Job
from pixcolor import colorizer
from tests.colorize_cases import check_bits_per_dim, check_colorize_command, check_weights_errors
from tests.pixcolor.weights import tiny_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    return tiny_weights(str(tmp_path_factory.mktemp("pixcolor_weights")))


@pytest.fixture(scope="module")
def loaded(weights):
    return colorizer.load(weights)


def test_colorize_command_writes_colourings_at_the_photos_size_with_its_luminance(weights, tmp_path):
    check_colorize_command(tmp_path, "pixcolor", weights, batch_size=3)


def test_draws_are_sample_then_refine_with_the_photos_seed_whatever_the_batch(loaded):
    """Draw (j, 0) == PixColor.sample(photo j alone, seed=its seed) -> PixColorRefinement.sample -> joined
    with the gray (numpy join_rows); every draw the same with batch_size 1 and 4."""
    model, refinement = loaded.model, loaded.refinement
    r, big = model.resolution, refinement.resolution
    assert loaded.input_sizes == (r, big)
    rng = np.random.default_rng(1)
    jobs = [Job({n: rng.uniform(0, 1, [n, n]).astype(np.float32) for n in (r, big)}, s) for s in (11, 12, 13)]
    kwargs = {"num_samples": 2, "temperature": 1.0, "top_k": 0}
    draws = list(loaded.colorize(jobs, batch_size=4, **kwargs))
    assert [(d.job, d.sample) for d in draws] == [(j, n) for j in range(3) for n in range(2)]
    alone = list(loaded.colorize(jobs, batch_size=1, **kwargs))
    for d, e in zip(draws, alone, strict=True):
        np.testing.assert_array_equal(d.rgb, e.rgb)
    for j, job in enumerate(jobs):
        ref = model.sample(tf.constant(job.grays[r][None, ..., None]), num_samples=1, seed=job.seed)
        gray_big = tf.constant(job.grays[big][None, ..., None])
        chroma = refinement.sample(gray_big, chroma_low=ref["chroma_low"])["chroma"].numpy()[0, 0]
        want = imageio.join_rows(job.grays[big], chroma[..., ::-1])
        d = draws[2 * j]
        assert d.rgb.shape == (big, big, 3) and np.abs(d.rgb.astype(int) - want).max() <= 1
        np.testing.assert_allclose(d.uncertainty, ref["uncertainty"].numpy()[0, 0].min(-1), atol=1e-6)
        assert (draws[2 * j + 1].rgb != d.rgb).any()


def test_bits_per_dim_is_the_chroma_bin_likelihood(loaded):
    def want(model, batch):
        return -float(model.log_prob(batch)[0]) / (model.low_resolution**2 * 2 * np.log(2))

    check_bits_per_dim(loaded, "Cr and", want)


def test_weights_errors_are_one_line(weights, tmp_path, monkeypatch):
    half = tmp_path / "half"
    shutil.copytree(os.path.join(weights, "pixcolor"), half / "pixcolor")
    swapped = tmp_path / "swapped"
    shutil.copytree(os.path.join(weights, "pixcolor"), swapped / "pixcolor_refinement")
    shutil.copytree(os.path.join(weights, "pixcolor"), swapped / "pixcolor")
    cases = (
        (None, "no default PixColor models"),
        (str(tmp_path / "nowhere"), "no such folder"),
        (str(half), "no pixcolor_refinement/ work directory"),
        (str(swapped), "holds a 'pixcolor' model, not 'pixcolor_refinement'"),
    )
    check_weights_errors(colorizer, monkeypatch, tmp_path, cases)
