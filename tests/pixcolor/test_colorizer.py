"""`colorize --model=pixcolor` on the tiny work directories (tests/pixcolor/weights.py): the command as a user
runs it (one subprocess), the Colorizer's draws against the models' own sample -> refine with per-photo
seeds and independent of the batch, its bits/dim for colorize-evaluate, and --weights errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.colorize import imageio
from common.colorize.protocol import Job
from pixcolor import colorizer
from tests.pixcolor.weights import tiny_weights

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    return tiny_weights(str(tmp_path_factory.mktemp("pixcolor_weights")))


@pytest.fixture(scope="module")
def loaded(weights):
    return colorizer.load(weights)


def test_colorize_command_writes_colourings_at_the_photos_size_with_its_luminance(weights, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    rng = np.random.default_rng(0)
    photos = {}
    for name, shape in (("wide", (40, 70)), ("tall", (50, 30))):
        y = np.clip(rng.normal(128, 40, shape), 0, 255).astype(np.uint8)
        Image.fromarray(y).save(folder / f"{name}.png")
        photos[name] = y
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "common.colorize_main", str(folder), f"--output={out}", "--model=pixcolor",
         f"--weights={weights}", "--num_samples=2", "--batch_size=3"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith("colorize: 2 done"), done.stderr[-500:]
    for name, y in photos.items():
        a, b = (np.asarray(Image.open(out / "scans" / f"{name}_sample{n}.png")) for n in (0, 1))
        assert a.shape == (*y.shape, 3)
        assert (a != b).any()  # two draws
        assert np.abs(a.astype(np.float64) @ LUMA - y).max() <= 1.0  # the photo's luminance
        assert np.ptp(a.astype(int), axis=-1).max() > 0  # coloured, not gray
        assert imageio.read_provenance(str(out / "scans" / f"{name}_sample0.png"))["model"] == "pixcolor"
        assert (out / "scans" / f"{name}_sheet.png").is_file()


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
    assert "Cr and" in loaded.likelihood
    photos = np.random.default_rng(2).integers(0, 256, [3, 36, 28, 3]).astype(np.uint8)
    bpd = loaded.bits_per_dim(photos, batch_size=2)
    model = loaded.model
    for i, photo in enumerate(photos):
        batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
        nats = -float(model.log_prob(batch)[0])
        np.testing.assert_allclose(bpd[i], nats / (model.low_resolution**2 * 2 * np.log(2)), rtol=1e-5)


def test_weights_errors_are_one_line(weights, tmp_path, monkeypatch):
    monkeypatch.setattr(colorizer, "DEFAULT_WEIGHTS", str(tmp_path / "assets" / "default"))
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
    for where, words in cases:
        with pytest.raises(colorizer.WeightsError, match=words) as e:
            colorizer.load(where)
        assert "\n" not in str(e.value)
