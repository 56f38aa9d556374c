"""`colorize --model=pic` on the tiny model of conftest `workdir` (the command as a user runs it, one
subprocess), the Colorizer's draws against the model's `sample` as a batch of one, its bits/dim, and
--weights errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage.color import rgb2lab

from common.colorize import imageio
from common.colorize.protocol import Job
from pic import colorizer
from tests.pic.conftest import REPO


@pytest.fixture(scope="module")
def loaded(workdir):
    return colorizer.load(workdir)


def test_colorize_command_writes_colourings_with_the_photos_luminance(workdir, tmp_path):
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
        [sys.executable, "-m", "common.colorize_main", str(folder), f"--output={out}", "--model=pic",
         f"--weights={workdir}", "--num_samples=2", "--batch_size=1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith("colorize: 2 done"), done.stderr[-500:]
    for name, y in photos.items():
        a, b = (np.asarray(Image.open(out / "scans" / f"{name}_sample{n}.png")) for n in (0, 1))
        assert a.shape == (*y.shape, 3)
        assert (a != b).any()  # two draws
        luma = a.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        assert np.abs(luma - y).max() <= 1.0  # the photo's own luminance, within 8-bit rounding
        assert np.ptp(a.astype(int), axis=-1).max() > 0  # coloured, not gray
        assert imageio.read_provenance(str(out / "scans" / f"{name}_sample0.png"))["model"] == "pic"
        assert (out / "scans" / f"{name}_sheet.png").is_file()


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
    assert "256 x 256 bins" in loaded.likelihood
    photos = np.random.default_rng(2).integers(0, 256, [3, 36, 28, 3]).astype(np.uint8)
    bpd = loaded.bits_per_dim(photos, batch_size=2)
    model = loaded.model
    for i, photo in enumerate(photos):
        batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
        np.testing.assert_allclose(bpd[i], model.compute_loss(batch)[1]["bits_per_dim"].numpy()[0], rtol=1e-5)


def test_weights_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(colorizer, "DEFAULT_WEIGHTS", str(tmp_path / "assets" / "default"))
    for weights, words in ((None, "no default PIC model"), (str(tmp_path / "nowhere"), "no such folder")):
        with pytest.raises(colorizer.WeightsError, match=words) as e:
            colorizer.load(weights)
        assert "\n" not in str(e.value)
    with pytest.raises(colorizer.WeightsError, match="config.json"):
        colorizer.load(str(tmp_path))
