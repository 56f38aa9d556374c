"""The PIC export of the tiny model (conftest `workdir`): every signature through TensorFlow's C++ loader
(`saved_model_cli run`, one subprocess) and a Python reload equal to the in-process functions;
serving_default is the model's `sample` on the input's Lab lightness, joined with it; log_prob is the
model's bits/dim; bad requests fail naming the input; the float32 .tflite (builtin ops only) agrees with
the SavedModel."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import rgb2lab

from tests.colorize_cases import check_bad_request, check_signatures, export_models, tensors, tflite_runner
from tests.pic.conftest import STEPS

SIGNATURES = ("serving_default", "log_prob", "colorize_square")
BAD = {  # case -> (signature, overrides of its example, words the error must contain)
    "num_samples 0": ("serving_default", {"num_samples": np.int32(0)}, "num_samples"),
    "top_k 3": ("colorize_square", {"top_k": np.int32(3)}, "top_k"),  # tiny: K = 2
    "negative temperature": ("serving_default", {"temperature": np.float32(-1.0)}, "temperature"),
    "rank 3 image": ("log_prob", {"image": np.zeros([8, 8, 3], np.uint8)}, "image must be uint8"),
}


@pytest.fixture(scope="module")
def exported(workdir, tmp_path_factory) -> dict:
    from export.export import load_run

    name, model, step = load_run(workdir)
    return {**export_models({name: model}, step, str(tmp_path_factory.mktemp("pic_exports"))), "model": model}


def test_signatures_through_cpp_loader_and_python_reload(exported, tmp_path):
    assert exported["path"].endswith(os.path.join("pic", str(STEPS)))
    # one bad request (each command loads the SavedModel again)
    check_signatures(exported, tmp_path, SIGNATURES, {"top_k 3": BAD["top_k 3"]})


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_name_the_input(exported, case):
    check_bad_request(exported, BAD[case])


def test_serving_default_is_the_models_sample_on_the_inputs_lightness(exported):
    """A photo of another size: colorizations == the model's `sample` (N samples, the same seed) on the
    photo's Lab L (scikit-image), its L kept; a 1-channel photo keeps its lightness."""
    model = exported["model"]
    photo = np.random.default_rng(2).integers(0, 256, [1, 6, 5, 3]).repeat(4, 1).repeat(4, 2).astype(np.uint8)
    args = {"num_samples": 2, "seed": 5, "temperature": 1.0, "top_k": 0}
    out = exported["loaded"].signatures["serving_default"](image=tf.constant(photo), **tensors(args))
    images = out["colorizations"].numpy()
    assert images.shape == (1, 2, 24, 20, 3) and images.dtype == np.uint8
    assert (images[:, 0] != images[:, 1]).any()  # two different draws
    gray = rgb2lab(photo / 255.0)[..., :1] / 100.0
    ref = model.sample(tf.constant(gray, tf.float32), num_samples=2, seed=5)
    want = np.round(ref["rgb"].numpy() * 255)
    assert np.abs(images.astype(float) - want).max() <= 1
    np.testing.assert_allclose(out["uncertainty"].numpy(), ref["uncertainty"].numpy(), atol=1e-5)
    gray8 = np.round(rgb2lab(photo / 255.0)[..., :1] * 2.55).astype(np.uint8)
    out_gray = exported["loaded"].signatures["serving_default"](image=tf.constant(gray8), **tensors(args))
    colours = out_gray["colorizations"].numpy()[0]
    lightness = rgb2lab(colours / 255.0)[..., 0]
    want_l = np.broadcast_to(rgb2lab(np.repeat(gray8[0] / 255.0, 3, -1))[..., 0], lightness.shape)
    # Where no channel was clipped (an untrained model draws much out-of-gamut chroma), L is the input's.
    unclipped = ((colours > 0) & (colours < 255)).all(-1)
    assert unclipped.mean() > 0.1
    np.testing.assert_allclose(lightness[unclipped], want_l[unclipped], atol=0.7)


def test_log_prob_is_the_models_bits_per_dim(exported):
    model = exported["model"]
    photo = np.random.default_rng(4).integers(0, 256, [30, 44, 3]).astype(np.uint8)
    got = exported["loaded"].signatures["log_prob"](image=tf.constant(photo[None]))["bits_per_dim"].numpy()
    batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
    want = model.compute_loss(batch)[1]["bits_per_dim"].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("temperature, top_k", [(0.0, 0), (1.0, 1)])
def test_tflite_float32_agrees_with_the_saved_model(exported, temperature, top_k):
    r = exported["model"].resolution
    paths = {os.path.basename(p).split(".")[0]: p for p in exported["tflite"]}
    assert sorted(paths) == ["colorize_square"]
    gray = np.random.default_rng(6).integers(0, 256, [2, r, r, 1], dtype=np.uint8)
    args = {
        "num_samples": np.int32(2),
        "seed": np.int32(3),
        "temperature": np.float32(temperature),
        "top_k": np.int32(top_k),
    }
    out = tflite_runner(paths["colorize_square"])(gray=gray, **args)
    ref = exported["loaded"].signatures["colorize_square"](gray=tf.constant(gray), **tensors(args))
    assert out["rgb"].shape == (2, 2, r, r, 3)
    assert np.abs(out["rgb"].astype(int) - ref["rgb"].numpy()).max() <= 1
    np.testing.assert_allclose(out["uncertainty"], ref["uncertainty"].numpy(), rtol=1e-3, atol=1e-5)


def test_runtime_top_k_draws_as_the_static_one(exported):
    """The exports read top_k at run time (pic/sampler.py: one TopK of runtime k): the same draws."""
    from pic.sampler import sample_chroma

    model = exported["model"]
    gray = np.random.default_rng(8).uniform(0.2, 0.8, [1, model.resolution, model.resolution, 1])
    gray = tf.constant(gray, tf.float32)
    for k in (0, 1):
        want = sample_chroma(model, gray, num_samples=2, seed=4, top_k=k)
        got = sample_chroma(model, gray, num_samples=2, seed=4, top_k=tf.constant(k))
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    drawn = [sample_chroma(model, gray, num_samples=2, seed=4, top_k=k)[0].numpy() for k in (0, 1)]
    assert (drawn[0] != drawn[1]).any()  # truncation changes the draws
