"""The CIC export of the tiny trained run: every signature through TensorFlow's C++ loader (`saved_model_cli
run`, one subprocess) and a Python reload equal to the in-process functions; serving_default is the
model's decode joined with the input's lightness; log_prob is the model's; bad requests fail with a
message naming the input; the .tflite files (builtin ops only) agree with the SavedModel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from skimage.color import lab2rgb, rgb2lab

from tests.cic.conftest import REPO

BATCH = os.path.join(REPO, "tests", "export", "saved_model_cli_batch.py")
SIGNATURES = ("serving_default", "log_prob", "log_prob_square", "colorize_square")
BAD = {  # case -> (signature, overrides of its example, words the error must contain)
    "num_samples 0": ("serving_default", {"num_samples": np.int32(0)}, "num_samples"),
    "top_k 400": ("colorize_square", {"top_k": np.int32(400)}, "top_k"),
    "negative temperature": ("serving_default", {"temperature": np.float32(-1.0)}, "temperature"),
    "rank 3 image": ("log_prob", {"image": np.zeros([8, 8, 3], np.uint8)}, "image must be uint8"),
}


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> dict:
    from export.export import load_run, spec_for_models
    from export.saved_model import build_module, save
    from export.spec import ExportOptions
    from export.tflite import tflite_options, write_tflite

    name, model, step = load_run(trained["workdir"])
    base = str(tmp_path_factory.mktemp("cic_exports"))
    spec = spec_for_models({name: model}, version=step, options=ExportOptions())
    module, fns = build_module(spec)
    path = save(spec, base, built=(module, fns))
    tflite_spec = spec_for_models({name: model}, version=step, options=tflite_options(ExportOptions()))
    tflite = write_tflite(tflite_spec, os.path.join(base, "tflite"), ["float32"])
    loaded = tf.saved_model.load(path)
    return {"path": path, "spec": spec, "fns": fns, "model": model, "tflite": tflite, "loaded": loaded}


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


def _tensors(inputs: dict) -> dict:
    return {k: tf.constant(v) for k, v in inputs.items()}


def test_signatures_through_cpp_loader_and_python_reload(exported, tmp_path):
    assert exported["path"].endswith(os.path.join("cic", "20"))
    cases = {s: (s, _example(exported, s)) for s in SIGNATURES}
    cases.update({f"bad: {k}": (sig, _example(exported, sig, **o)) for k, (sig, o, _) in BAD.items()})
    folders = {c: str(tmp_path / str(i)) for i, c in enumerate(cases)}
    commands = {c: _cli_args(exported["path"], s, x, folders[c]) for c, (s, x) in cases.items()}
    (tmp_path / "commands.json").write_text(json.dumps(commands))
    done = subprocess.run(
        [sys.executable, BATCH, str(tmp_path / "commands.json"), str(tmp_path / "results.json")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    errors = json.loads((tmp_path / "results.json").read_text())
    for case, (signature, inputs) in cases.items():
        if case.startswith("bad: "):
            assert errors[case] is not None, f"{case} was accepted by the C++ loader"
            continue
        assert errors[case] is None, errors[case]
        want = {k: v.numpy() for k, v in exported["fns"][signature](**_tensors(inputs)).items()}
        reloaded = exported["loaded"].signatures[signature](**_tensors(inputs))
        for name, value in want.items():
            cpp = np.load(os.path.join(folders[case], "out", f"{name}.npy"))
            if value.dtype == np.uint8:  # colours exactly, probabilities up to round-off
                np.testing.assert_array_equal(cpp, value, err_msg=f"C++ {signature} {name}")
                np.testing.assert_array_equal(reloaded[name].numpy(), value, err_msg=f"reload {name}")
            else:
                np.testing.assert_allclose(cpp, value, rtol=1e-5, atol=1e-6, err_msg=f"C++ {signature}")
                np.testing.assert_allclose(reloaded[name].numpy(), value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_name_the_input(exported, case):
    signature, overrides, words = BAD[case]
    with pytest.raises(tf.errors.InvalidArgumentError, match=words):
        exported["loaded"].signatures[signature](**_tensors(_example(exported, signature, **overrides)))


def test_serving_default_is_the_decode_joined_with_the_inputs_lightness(exported, trained):
    """A square photo at the model's size: colorizations == scikit-image lab2rgb(the photo's own L, the
    model's `sample` ab) within one 8-bit level; each photo of a batch of two as alone; N equal samples."""
    model = exported["model"]
    r = model.resolution
    rng = np.random.default_rng(2)
    photos = rng.integers(0, 256, [2, r // 8, r // 8, 3]).repeat(8, 1).repeat(8, 2).astype(np.uint8)
    args = {"num_samples": 3, "seed": 5, "temperature": 1.0, "top_k": 0}
    out = exported["loaded"].signatures["serving_default"](image=tf.constant(photos), **_tensors(args))
    images = out["colorizations"].numpy()
    assert images.shape == (2, 3, r, r, 3) and images.dtype == np.uint8
    assert (images == images[:, :1]).all()
    gray = (photos / 255.0) @ np.array([0.299, 0.587, 0.114])
    ref = model.sample(tf.constant(gray[..., None], tf.float32), num_samples=1)
    lab = np.concatenate([rgb2lab(photos / 255.0)[..., :1], ref["ab"].numpy()[:, 0]], -1)
    want = np.round(lab2rgb(lab) * 255)
    assert np.abs(images[:, 0].astype(float) - want).max() <= 1
    np.testing.assert_allclose(out["uncertainty"].numpy()[:, 0], ref["uncertainty"].numpy()[:, 0], atol=1e-5)
    one = exported["loaded"].signatures["serving_default"](image=tf.constant(photos[1:]), **_tensors(args))
    np.testing.assert_array_equal(one["colorizations"].numpy()[0], images[1])
    gray8 = np.round(gray[..., None] * 255).astype(np.uint8)  # a 1-channel photo keeps its lightness
    out_gray = exported["loaded"].signatures["serving_default"](image=tf.constant(gray8), **_tensors(args))
    lightness = rgb2lab(out_gray["colorizations"].numpy()[:, 0] / 255.0)[..., 0]
    assert np.abs(lightness - rgb2lab(np.repeat(gray8 / 255.0, 3, -1))[..., 0]).mean() < 0.5


def test_log_prob_is_the_models_on_its_evaluation_crop(exported, trained):
    model = exported["model"]
    photo = np.random.default_rng(4).integers(0, 256, [30, 44, 3]).astype(np.uint8)
    got = exported["loaded"].signatures["log_prob"](image=tf.constant(photo[None]))["bits_per_dim"].numpy()
    batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
    want = -model.log_prob(batch).numpy() / (model.output_size**2 * np.log(2.0))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def _runner(path: str):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops
    return interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))


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
    out = _runner(paths["colorize_square"])(gray=gray, **args)
    ref = exported["loaded"].signatures["colorize_square"](gray=tf.constant(gray), **_tensors(args))
    assert out["rgb"].shape == (2, 2, r, r, 3)
    assert np.abs(out["rgb"].astype(int) - ref["rgb"].numpy()).max() <= 1
    np.testing.assert_allclose(out["uncertainty"], ref["uncertainty"].numpy(), rtol=1e-3, atol=1e-5)
    photos = np.random.default_rng(7).integers(0, 256, [2, r, r, 3], dtype=np.uint8)
    bpd = _runner(paths["log_prob_square"])(image=photos)["bits_per_dim"]
    want = exported["loaded"].signatures["log_prob_square"](image=tf.constant(photos))["bits_per_dim"]
    np.testing.assert_allclose(bpd, want.numpy(), rtol=1e-4)
