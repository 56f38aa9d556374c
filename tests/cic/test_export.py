"""The CIC export of the tiny trained run: every signature through TensorFlow's C++ loader (`saved_model_cli
run`, one subprocess) and a Python reload equal to the in-process functions; serving_default is the
model's decode joined with the input's lightness; log_prob is the model's; bad requests fail with a
message naming the input; the .tflite files (builtin ops only) agree with the SavedModel."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import lab2rgb, rgb2lab

from tests.colorize_cases import check_bad_request, check_signatures, export_models, tensors, tflite_runner

SIGNATURES = ("serving_default", "log_prob", "log_prob_square", "colorize_square")
BAD = {  # case -> (signature, overrides of its example, words the error must contain)
    "num_samples 0": ("serving_default", {"num_samples": np.int32(0)}, "num_samples"),
    "top_k 400": ("colorize_square", {"top_k": np.int32(400)}, "top_k"),
    "negative temperature": ("serving_default", {"temperature": np.float32(-1.0)}, "temperature"),
    "rank 3 image": ("log_prob", {"image": np.zeros([8, 8, 3], np.uint8)}, "image must be uint8"),
}


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> dict:
    from export.export import load_run

    name, model, step = load_run(trained["workdir"])
    return {**export_models({name: model}, step, str(tmp_path_factory.mktemp("cic_exports"))), "model": model}


def test_signatures_through_cpp_loader_and_python_reload(exported, tmp_path):
    assert exported["path"].endswith(os.path.join("cic", "20"))
    check_signatures(exported, tmp_path, SIGNATURES, BAD)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_name_the_input(exported, case):
    check_bad_request(exported, BAD[case])


def test_serving_default_is_the_decode_joined_with_the_inputs_lightness(exported, trained):
    """A square photo at the model's size: colorizations == scikit-image lab2rgb(the photo's own L, the
    model's `sample` ab) within one 8-bit level; each photo of a batch of two as alone; N equal samples."""
    model = exported["model"]
    r = model.resolution
    rng = np.random.default_rng(2)
    photos = rng.integers(0, 256, [2, r // 8, r // 8, 3]).repeat(8, 1).repeat(8, 2).astype(np.uint8)
    args = {"num_samples": 3, "seed": 5, "temperature": 1.0, "top_k": 0}
    out = exported["loaded"].signatures["serving_default"](image=tf.constant(photos), **tensors(args))
    images = out["colorizations"].numpy()
    assert images.shape == (2, 3, r, r, 3) and images.dtype == np.uint8
    assert (images == images[:, :1]).all()
    gray = (photos / 255.0) @ np.array([0.299, 0.587, 0.114])
    ref = model.sample(tf.constant(gray[..., None], tf.float32), num_samples=1)
    lab = np.concatenate([rgb2lab(photos / 255.0)[..., :1], ref["ab"].numpy()[:, 0]], -1)
    want = np.round(lab2rgb(lab) * 255)
    assert np.abs(images[:, 0].astype(float) - want).max() <= 1
    np.testing.assert_allclose(out["uncertainty"].numpy()[:, 0], ref["uncertainty"].numpy()[:, 0], atol=1e-5)
    one = exported["loaded"].signatures["serving_default"](image=tf.constant(photos[1:]), **tensors(args))
    np.testing.assert_array_equal(one["colorizations"].numpy()[0], images[1])
    gray8 = np.round(gray[..., None] * 255).astype(np.uint8)  # a 1-channel photo keeps its lightness
    out_gray = exported["loaded"].signatures["serving_default"](image=tf.constant(gray8), **tensors(args))
    lightness = rgb2lab(out_gray["colorizations"].numpy()[:, 0] / 255.0)[..., 0]
    assert np.abs(lightness - rgb2lab(np.repeat(gray8 / 255.0, 3, -1))[..., 0]).mean() < 0.5


def test_log_prob_is_the_models_on_its_evaluation_crop(exported, trained):
    model = exported["model"]
    photo = np.random.default_rng(4).integers(0, 256, [30, 44, 3]).astype(np.uint8)
    got = exported["loaded"].signatures["log_prob"](image=tf.constant(photo[None]))["bits_per_dim"].numpy()
    batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
    want = -model.log_prob(batch).numpy() / (model.output_size**2 * np.log(2.0))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_tflite_float32_agrees_with_the_saved_model(exported):
    r = exported["model"].resolution
    paths = {os.path.basename(p).split(".")[0]: p for p in exported["tflite"]}
    assert sorted(paths) == ["colorize_square", "log_prob_square"]
    gray = np.random.default_rng(6).integers(0, 256, [2, r, r, 1], dtype=np.uint8)
    args = {
        "num_samples": np.int32(2),
        "seed": np.int32(0),
        "temperature": np.float32(1.0),
        "top_k": np.int32(7),
    }
    out = tflite_runner(paths["colorize_square"])(gray=gray, **args)
    ref = exported["loaded"].signatures["colorize_square"](gray=tf.constant(gray), **tensors(args))
    assert out["rgb"].shape == (2, 2, r, r, 3)
    assert np.abs(out["rgb"].astype(int) - ref["rgb"].numpy()).max() <= 1
    np.testing.assert_allclose(out["uncertainty"], ref["uncertainty"].numpy(), rtol=1e-3, atol=1e-5)
    photos = np.random.default_rng(7).integers(0, 256, [2, r, r, 3], dtype=np.uint8)
    bpd = tflite_runner(paths["log_prob_square"])(image=photos)["bits_per_dim"]
    want = exported["loaded"].signatures["log_prob_square"](image=tf.constant(photos))["bits_per_dim"]
    np.testing.assert_allclose(bpd, want.numpy(), rtol=1e-4)
