"""The PixColor export of two tiny work directories (tests/pixcolor/weights.py): every signature through
TensorFlow's C++ loader (`saved_model_cli run`, one subprocess) and a Python reload equal to the in-process
functions; serving_default is the models' own sample -> refine, joined with the input's luma (numpy
reference: common/colorize/imageio.join_rows); log_prob is the model's; bad requests fail naming the input;
one work directory is refused; the colorize_square .tflite (builtin ops only) agrees with the SavedModel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from common.colorize.imageio import join_rows
from tests.pixcolor.weights import STEP, tiny_weights

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BATCH = os.path.join(REPO, "tests", "export", "saved_model_cli_batch.py")
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
    from export.export import load_run, spec_for_models
    from export.saved_model import build_module, save
    from export.spec import ExportOptions
    from export.tflite import tflite_options, write_tflite

    weights = tiny_weights(str(tmp_path_factory.mktemp("pixcolor_weights")))
    models = {}
    for stage in ("pixcolor", "pixcolor_refinement"):
        name, model, step = load_run(os.path.join(weights, stage))
        models[name] = model
    base = str(tmp_path_factory.mktemp("pixcolor_exports"))
    spec = spec_for_models(models, version=step, options=ExportOptions())
    module, fns = build_module(spec)
    path = save(spec, base, built=(module, fns))
    tflite_spec = spec_for_models(models, version=step, options=tflite_options(ExportOptions()))
    tflite = write_tflite(tflite_spec, os.path.join(base, "tflite"), ["float32"], ["colorize_square"])
    loaded = tf.saved_model.load(path)
    return {"path": path, "spec": spec, "fns": fns, "models": models, "tflite": tflite, "loaded": loaded}


def _cli_args(path: str, signature: str, inputs: dict, tmp: str) -> list[str]:
    os.makedirs(tmp, exist_ok=True)
    files = []
    for name, value in inputs.items():
        np.save(os.path.join(tmp, f"{name}.npy"), np.asarray(value))
        files.append(f"{name}={os.path.join(tmp, name + '.npy')}")
    return ["run", "--dir", path, "--tag_set", "serve", "--signature_def", signature, "--inputs",
            ";".join(files), "--outdir", os.path.join(tmp, "out"), "--overwrite"]  # fmt: skip


def _example(exported, signature: str, **overrides) -> dict:
    return {**exported["spec"].signature(signature).example, **overrides}


def _args(num_samples: int, seed: int, top_k: int, temperature: float = 1.0) -> dict:
    return {
        "num_samples": np.int32(num_samples),
        "seed": np.int32(seed),
        "temperature": np.float32(temperature),
        "top_k": np.int32(top_k),
    }


def _tensors(inputs: dict) -> dict:
    return {k: tf.constant(v) for k, v in inputs.items()}


def test_signatures_through_cpp_loader_and_python_reload(exported, tmp_path):
    """Every signature's reload equals the in-process function; serving_default and a bad request also
    through the C++ loader (each command loads the SavedModel afresh: seconds, so not every signature)."""
    assert exported["path"].endswith(os.path.join("pixcolor", str(STEP)))
    cases = {s: (s, _example(exported, s)) for s in SIGNATURES}
    sig, overrides, _ = BAD["num_samples 0"]
    cases["bad"] = (sig, _example(exported, sig, **overrides))
    cli = ("serving_default", "bad")
    folders = {c: str(tmp_path / c) for c in cli}
    commands = {c: _cli_args(exported["path"], *cases[c], folders[c]) for c in cli}
    (tmp_path / "commands.json").write_text(json.dumps(commands))
    done = subprocess.run(
        [sys.executable, BATCH, str(tmp_path / "commands.json"), str(tmp_path / "results.json")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    errors = json.loads((tmp_path / "results.json").read_text())
    assert errors.pop("bad") is not None, "num_samples 0 was accepted by the C++ loader"
    assert errors == {"serving_default": None}, errors
    for signature in SIGNATURES:
        inputs = _tensors(cases[signature][1])
        want = {k: v.numpy() for k, v in exported["fns"][signature](**inputs).items()}
        reloaded = exported["loaded"].signatures[signature](**inputs)
        for name, value in want.items():
            got = {"reload": reloaded[name].numpy()}
            if signature in cli:
                got["C++"] = np.load(os.path.join(folders[signature], "out", f"{name}.npy"))
            for where, array in got.items():
                message = f"{where} {signature} {name}"
                if value.dtype == np.uint8:  # colours and bins exactly, probabilities up to round-off
                    np.testing.assert_array_equal(array, value, err_msg=message)
                else:
                    np.testing.assert_allclose(array, value, rtol=1e-5, atol=1e-6, err_msg=message)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_name_the_input(exported, case):
    signature, overrides, words = BAD[case]
    with pytest.raises(tf.errors.InvalidArgumentError, match=words):
        exported["loaded"].signatures[signature](**_tensors(_example(exported, signature, **overrides)))


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
    out = serve(image=tf.constant(photos), **_tensors(args))
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
    one = serve(image=tf.constant(photos[1:]), **_tensors(args))["colorizations"].numpy()
    np.testing.assert_array_equal(one[0], images[1])
    gray8 = np.round(y * 255).astype(np.uint8)
    colours = serve(image=tf.constant(gray8), **_tensors(args))["colorizations"].numpy()[:, 0]
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


def _runner(path: str):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops
    return interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))


def test_tflite_float32_agrees_with_the_saved_model(exported):
    big = exported["models"]["pixcolor_refinement"].resolution
    (path,) = exported["tflite"]
    assert os.path.basename(path) == "colorize_square.float32.tflite"
    gray = np.random.default_rng(6).integers(0, 256, [2, big, big, 1], dtype=np.uint8)
    args = _args(2, 3, 5)
    out = _runner(path)(gray=gray, **args)
    ref = exported["loaded"].signatures["colorize_square"](gray=tf.constant(gray), **_tensors(args))
    assert out["rgb"].shape == (2, 2, big, big, 3)
    assert np.abs(out["rgb"].astype(int) - ref["rgb"].numpy()).max() <= 1
    np.testing.assert_allclose(out["uncertainty"], ref["uncertainty"].numpy(), rtol=1e-3, atol=1e-5)
