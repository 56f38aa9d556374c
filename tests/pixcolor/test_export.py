"""The PixColor export of two tiny work directories (tests/pixcolor/weights.py): every signature through
TensorFlow's C++ loader (`saved_model_cli run`, one subprocess) and a Python reload equal to the in-process
functions; serving_default is the models' own sample -> refine, joined with the input's luma (numpy
reference: common/colorize/imageio.join_rows); log_prob is the model's; bad requests fail naming the input;
one work directory is refused; the colorize_square .tflite (builtin ops only) agrees with the SavedModel."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from common.colorize.imageio import join_rows
from tests.colorize_cases import check_bad_request, check_signatures, export_models, tensors, tflite_runner
from tests.pixcolor.weights import STEP, tiny_weights

SIGNATURES = ("serving_default", "log_prob", "log_prob_square", "sample_chroma", "refine", "colorize_square")
BAD = {  # case -> (signature, overrides of its example, words the error must contain)
    "num_samples 0": ("serving_default", {"num_samples": np.int32(0)}, "num_samples"),
    "top_k 33": ("colorize_square", {"top_k": np.int32(33)}, "top_k"),
    "negative temperature": ("sample_chroma", {"temperature": np.float32(-1.0)}, "temperature"),
    "rank 3 image": ("log_prob", {"image": np.zeros([8, 8, 3], np.uint8)}, "image must be uint8"),
    "bin 32": ("refine", {"bins": np.full([1, 4, 4, 2], 32, np.uint8)}, "bins"),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    from export.export import load_run

    weights = tiny_weights(str(tmp_path_factory.mktemp("pixcolor_weights")))
    models = {}
    for stage in ("pixcolor", "pixcolor_refinement"):
        name, model, step = load_run(os.path.join(weights, stage))
        models[name] = model
    base = str(tmp_path_factory.mktemp("pixcolor_exports"))
    return {**export_models(models, step, base, ["colorize_square"]), "models": models}


def _args(num_samples: int, seed: int, top_k: int, temperature: float = 1.0) -> dict:
    return {
        "num_samples": np.int32(num_samples),
        "seed": np.int32(seed),
        "temperature": np.float32(temperature),
        "top_k": np.int32(top_k),
    }


def test_signatures_through_cpp_loader_and_python_reload(exported, tmp_path):
    """Every signature's reload equals the in-process function; serving_default and a bad request also
    through the C++ loader (each command loads the SavedModel afresh: seconds, so not every signature)."""
    assert exported["path"].endswith(os.path.join("pixcolor", str(STEP)))
    bad = {"num_samples 0": BAD["num_samples 0"]}
    check_signatures(exported, tmp_path, SIGNATURES, bad, cli=["serving_default"])


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_name_the_input(exported, case):
    check_bad_request(exported, BAD[case])


def test_one_work_directory_is_refused(exported):
    from export.export import spec_for_models
    from export.spec import ExportOptions

    with pytest.raises(ValueError, match="missing \\['pixcolor_refinement'\\]"):
        spec_for_models({"pixcolor": exported["models"]["pixcolor"]}, version=1, options=ExportOptions())


def _area(y: np.ndarray, size: int) -> np.ndarray:
    return tf.image.resize(y, (size, size), method="area").numpy()


def test_serving_default_is_sample_then_refine_with_the_inputs_luma(exported):
    """Photo b, sample 0 == PixColor.sample(photo b alone, seed) -> PixColorRefinement.sample -> chroma
    resized to the photo -> joined with the photo's own Y (numpy join_rows), within one 8-bit level; the
    photos of a batch as alone; the samples differ; a 1-channel photo keeps its gray as luma."""
    model, refinement = exported["models"]["pixcolor"], exported["models"]["pixcolor_refinement"]
    r, big = model.resolution, refinement.resolution
    photos = np.random.default_rng(2).integers(0, 256, [2, 20, 36, 3]).astype(np.uint8)
    args = _args(3, 5, 9)
    serve = exported["loaded"].signatures["serving_default"]
    out = serve(image=tf.constant(photos), **tensors(args))
    images, prob = out["colorizations"].numpy(), out["uncertainty"].numpy()
    assert images.shape == (2, 3, 20, 36, 3) and prob.shape == (2, 3, 4, 4)
    y = (photos / 255.0 @ np.array([0.299, 0.587, 0.114]))[..., None].astype(np.float32)
    for b in range(2):
        ref = model.sample(tf.constant(_area(y[b : b + 1], r)), num_samples=1, seed=5, top_k=9)
        refined = refinement.sample(tf.constant(_area(y[b : b + 1], big)), chroma_low=ref["chroma_low"])
        chroma = tf.image.resize(refined["chroma"][0], (20, 36), method="bilinear", antialias=True).numpy()
        want = join_rows(y[b, ..., 0], chroma[0][..., ::-1])  # (Cr, Cb) -> CbCr
        assert np.abs(images[b, 0].astype(int) - want).max() <= 1
        np.testing.assert_allclose(prob[b, 0], ref["uncertainty"].numpy()[0, 0].min(-1), atol=1e-6)
        assert (images[b, 1] != images[b, 0]).any() and (images[b, 2] != images[b, 1]).any()
    one = serve(image=tf.constant(photos[1:]), **tensors(args))["colorizations"].numpy()
    np.testing.assert_array_equal(one[0], images[1])
    gray8 = np.round(y * 255).astype(np.uint8)
    colours = serve(image=tf.constant(gray8), **tensors(args))["colorizations"].numpy()[:, 0]
    assert np.abs(colours / 255.0 @ np.array([0.299, 0.587, 0.114]) - gray8[..., 0] / 255.0).max() < 1.5 / 255


def test_log_prob_is_the_models_on_its_evaluation_crop(exported):
    model = exported["models"]["pixcolor"]
    r = model.resolution
    photos = np.random.default_rng(4).integers(0, 256, [2, 36, 44, 3]).astype(np.uint8)
    got = exported["loaded"].signatures["log_prob"](image=tf.constant(photos))["bits_per_dim"].numpy()
    square = photos[:, :r, :r]
    for b, photo in enumerate(list(photos) + list(square)):
        batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
        want = -model.log_prob(batch).numpy()[0] / (model.low_resolution**2 * 2 * np.log(2.0))
        if b < 2:
            np.testing.assert_allclose(got[b], want, rtol=1e-5)
        else:
            fn = exported["loaded"].signatures["log_prob_square"]
            bpd = fn(image=tf.constant(photo[None]))["bits_per_dim"].numpy()[0]
            np.testing.assert_allclose(bpd, want, rtol=1e-5)


def test_tflite_float32_agrees_with_the_saved_model(exported):
    big = exported["models"]["pixcolor_refinement"].resolution
    (path,) = exported["tflite"]
    assert os.path.basename(path) == "colorize_square.float32.tflite"
    gray = np.random.default_rng(6).integers(0, 256, [2, big, big, 1], dtype=np.uint8)
    args = _args(2, 3, 5)
    out = tflite_runner(path)(gray=gray, **args)
    ref = exported["loaded"].signatures["colorize_square"](gray=tf.constant(gray), **tensors(args))
    assert out["rgb"].shape == (2, 2, big, big, 3)
    assert np.abs(out["rgb"].astype(int) - ref["rgb"].numpy()).max() <= 1
    np.testing.assert_allclose(out["uncertainty"], ref["uncertainty"].numpy(), rtol=1e-3, atol=1e-5)
