"""The exported SavedModel: TF Serving's layout, every signature through TensorFlow's C++ loader
(`saved_model_cli run`, as TF Serving loads it) and a Python reload, equal to the in-process model on the
same seed; ColTran's public entry points as the reference; every bad request; the warm-up file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from coltran.pipeline import colorize
from common.color import rgb_to_gray
from export.warmup import read_warmup
from tests.export.conftest import TOP_K

SIGNATURES = (
    "serving_default",
    "log_prob",
    "log_prob_square",
    "core",
    "color_upsampler",
    "spatial_upsampler",
    "colorize_square",
)


def _as_tensors(inputs: dict) -> dict:
    return {k: tf.constant(v) for k, v in inputs.items()}


BATCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "saved_model_cli_batch.py")
CPP_BAD = ("rank 3 image", "num_samples 0")  # bad requests also sent through the C++ loader


def _cli_args(path: str, signature: str, inputs: dict, tmp: str) -> list[str]:
    """`saved_model_cli run` arguments (C++ SavedModel loader) with each input as a .npy file in tmp;
    outputs to tmp/out."""
    os.makedirs(tmp, exist_ok=True)
    files = []
    for name, value in inputs.items():
        np.save(os.path.join(tmp, f"{name}.npy"), np.asarray(value))
        files.append(f"{name}={os.path.join(tmp, name + '.npy')}")
    return [
        "run",
        "--dir",
        path,
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        "--inputs",
        ";".join(files),
        "--outdir",
        os.path.join(tmp, "out"),
        "--overwrite",
    ]


def _close(actual: np.ndarray, desired: np.ndarray, err_msg: str) -> None:
    np.testing.assert_allclose(actual, desired, rtol=1e-5, atol=1e-7, err_msg=err_msg)


@pytest.fixture(scope="module")
def cli_runs(exported, tmp_path_factory) -> dict[str, tuple[str | None, str]]:
    """case -> (None, or the error the command ended with; its output folder): every signature's example
    (case = the signature's name) and each CPP_BAD request (case = "bad: <name>") through `saved_model_cli
    run`, all in one process (saved_model_cli_batch.py: one TensorFlow import, a fresh Session and
    SavedModel load per command, as the console script does)."""
    tmp = str(tmp_path_factory.mktemp("saved_model_cli"))
    cases = {s: (s, exported["spec"].signature(s).example) for s in SIGNATURES}
    for case in CPP_BAD:
        signature, overrides, _ = BAD[case]
        cases[f"bad: {case}"] = (signature, {**exported["spec"].signature(signature).example, **overrides})
    folders = {case: os.path.join(tmp, str(i)) for i, case in enumerate(cases)}
    commands = {
        case: _cli_args(exported["saved_model"], signature, inputs, folders[case])
        for case, (signature, inputs) in cases.items()
    }
    with open(os.path.join(tmp, "commands.json"), "w") as f:
        json.dump(commands, f)
    results = os.path.join(tmp, "results.json")
    done = subprocess.run(
        [sys.executable, BATCH, os.path.join(tmp, "commands.json"), results],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(results) as f:
        errors = json.load(f)
    assert sorted(errors) == sorted(cases), errors
    return {case: (errors[case], os.path.join(folders[case], "out")) for case in cases}


def test_tf_serving_layout(exported) -> None:
    path = exported["saved_model"]
    assert os.path.dirname(path) == os.path.join(exported["base"], "coltran")
    assert os.path.basename(path) == "1"
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isfile(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))


@pytest.mark.parametrize("signature", SIGNATURES)
def test_every_signature_through_cpp_loader_and_python_reload(exported, loaded, cli_runs, signature) -> None:
    example = exported["spec"].signature(signature).example
    expected = {k: v.numpy() for k, v in exported["fns"][signature](**_as_tensors(example)).items()}
    reloaded = loaded.signatures[signature](**_as_tensors(example))
    error, out = cli_runs[signature]
    assert error is None, error[-3000:]
    for name, value in expected.items():
        # Integer outputs (samples) exactly; floats (probabilities) up to the C++ runtime's round-off.
        check = np.testing.assert_array_equal if value.dtype == np.uint8 else _close
        check(reloaded[name].numpy(), value, err_msg=f"python reload {name}")
        check(np.load(os.path.join(out, f"{name}.npy")), value, err_msg=f"C++ {name}")


def test_serving_default_is_the_pipeline_and_batches(exported, loaded) -> None:
    """Sample 0 equals coltran.pipeline.colorize (the in-process recipe) with one sample and the same
    seed; a batch of two photos gives what each gives alone; the luminance is the input's."""
    core, color_up, spatial_up = (
        exported["models"][s]
        for s in ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")
    )
    rng = np.random.default_rng(1)
    photos = rng.integers(0, 256, [2, 20, 28, 3], dtype=np.uint8)
    args = {
        "num_samples": tf.constant(2),
        "seed": tf.constant(7),
        "temperature": tf.constant(1.0),
        "top_k": tf.constant(0),
    }
    both = loaded.signatures["serving_default"](image=tf.constant(photos), **args)
    images = both["colorizations"].numpy()
    assert images.shape == (2, 2, 20, 28, 3) and images.dtype == np.uint8
    for b in range(2):
        alone = loaded.signatures["serving_default"](image=tf.constant(photos[b : b + 1]), **args)
        np.testing.assert_array_equal(alone["colorizations"].numpy()[0], images[b])
        ref = colorize(photos[b], core, color_up, spatial_up, num_samples=1, seed=7, temperature=1.0)
        np.testing.assert_array_equal(images[b, 0], ref.images[0])
        np.testing.assert_allclose(
            both["uncertainty"].numpy()[b, 0], ref.uncertainty[0], rtol=1e-5, atol=1e-6
        )
    assert not np.array_equal(images[:, 0], images[:, 1])  # two samples differ
    gray = np.repeat(photos[:1, ..., :1], 3, axis=-1)  # a gray photo, 1 channel, keeps its luminance
    out = loaded.signatures["serving_default"](image=tf.constant(photos[:1, ..., :1]), **args)
    y_out = rgb_to_gray(out["colorizations"].numpy()[0] / 255.0).numpy()[..., 0] * 255
    np.testing.assert_allclose(y_out, np.broadcast_to(gray[0, ..., 0], y_out.shape), atol=0.51)


def test_stage_signatures_equal_the_models_public_sampling(exported, loaded) -> None:
    models = exported["models"]
    core, color_up, spatial_up = (
        models[s] for s in ("coltran_core", "coltran_color_upsampler", "coltran_spatial_upsampler")
    )
    r, big = core.resolution, spatial_up.resolution
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, [2, r, r, 1], dtype=np.uint8)
    for top_k in TOP_K:  # sample 0 of image b = the model's one sample of image b alone, same seed
        out = loaded.signatures["core"](
            gray=tf.constant(gray),
            num_samples=tf.constant(2),
            seed=tf.constant(4),
            temperature=tf.constant(0.8),
            top_k=tf.constant(top_k),
        )
        for b in range(2):
            ref = core.sample(gray[b : b + 1] / 255.0, num_samples=1, seed=4, temperature=0.8, top_k=top_k)
            np.testing.assert_array_equal(out["coarse"].numpy()[b : b + 1, :1], ref["coarse"].numpy())
            np.testing.assert_allclose(
                out["uncertainty"].numpy()[b : b + 1, :1], ref["uncertainty"].numpy(), rtol=1e-5
            )
    coarse = rng.integers(0, 8, [2, r, r, 3], dtype=np.uint8)
    out = loaded.signatures["color_upsampler"](gray=tf.constant(gray), coarse=tf.constant(coarse))
    ref = color_up.sample(gray / 255.0, coarse=coarse.astype(np.int32), num_samples=1, temperature=0.0)
    np.testing.assert_array_equal(out["rgb"].numpy(), ref["labels"].numpy()[:, 0])
    gray_big = rng.integers(0, 256, [2, big, big, 1], dtype=np.uint8)
    low = rng.integers(0, 256, [2, r, r, 3], dtype=np.uint8)
    out = loaded.signatures["spatial_upsampler"](gray=tf.constant(gray_big), low_res=tf.constant(low))
    ref = spatial_up.sample(gray_big / 255.0, low_res=low.astype(np.int32), num_samples=1, temperature=0.0)
    np.testing.assert_array_equal(out["rgb"].numpy(), ref["labels"].numpy()[:, 0])


def test_log_prob_is_the_cores_bits_per_dim(exported, loaded) -> None:
    core = exported["models"]["coltran_core"]
    r = core.resolution
    rgb8 = np.random.default_rng(3).integers(0, 256, [2, r, r, 3], dtype=np.uint8)  # already r x r
    out = loaded.signatures["log_prob"](image=tf.constant(rgb8))["bits_per_dim"].numpy()
    rgb = rgb8 / 255.0
    batch = {"gray": rgb_to_gray(rgb), "rgb": tf.constant(rgb, tf.float32)}
    _, metrics = core.compute_loss(batch)
    np.testing.assert_allclose(out, metrics["bits_per_dim"].numpy(), rtol=1e-5)
    square = loaded.signatures["log_prob_square"](image=tf.constant(rgb8))["bits_per_dim"].numpy()
    np.testing.assert_allclose(square, metrics["bits_per_dim"].numpy(), rtol=1e-5)


BAD = {  # name -> (signature, input overrides, expected words of the message)
    "rank 3 image": ("serving_default", {"image": np.zeros([8, 8, 3], np.uint8)}, "rank 4"),
    "2 channels": ("serving_default", {"image": np.zeros([1, 8, 8, 2], np.uint8)}, "got channels"),
    "empty image": ("serving_default", {"image": np.zeros([1, 0, 8, 3], np.uint8)}, "image is empty"),
    "num_samples 0": ("serving_default", {"num_samples": np.int32(0)}, "num_samples must be"),
    "temperature < 0": ("serving_default", {"temperature": np.float32(-0.5)}, "temperature must be"),
    "temperature nan": ("core", {"temperature": np.float32("nan")}, "temperature must be"),
    "top_k not exported": ("serving_default", {"top_k": np.int32(5)}, "top_k must be one of [0, 3]"),
    "gray log_prob image": ("log_prob", {"image": np.zeros([1, 8, 8, 1], np.uint8)}, "got channels"),
    "coarse beyond 3 bits": (
        "color_upsampler",
        {"coarse": np.full([1, 8, 8, 3], 9, np.uint8)},
        "coarse values",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_fail_with_a_clear_message(exported, loaded, case) -> None:
    signature, overrides, words = BAD[case]
    inputs = {**exported["spec"].signature(signature).example, **overrides}
    with pytest.raises(tf.errors.InvalidArgumentError, match=words.replace("[", r"\[").replace("]", r"\]")):
        loaded.signatures[signature](**_as_tensors(inputs))


@pytest.mark.parametrize("case", CPP_BAD)
def test_bad_requests_through_cpp_loader(cli_runs, case) -> None:
    """Through TensorFlow's C++ loader (as TF Serving runs it), the same messages. (A wrong dtype cannot
    be sent this way: saved_model_cli converts .npy inputs to the signature's dtype.)"""
    error, _ = cli_runs[f"bad: {case}"]
    words = BAD[case][2]
    assert error is not None and words in error, error


def test_wrong_dtype_is_refused_by_the_signature(exported, loaded) -> None:
    example = exported["spec"].signature("serving_default").example
    inputs = {**_as_tensors(example), "image": tf.constant(example["image"], tf.float32)}
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError), match="uint8"):
        loaded.signatures["serving_default"](**inputs)


def test_warmup_requests_read_back_and_replayed(exported, loaded) -> None:
    path = os.path.join(exported["saved_model"], "assets.extra", "tf_serving_warmup_requests")
    records = read_warmup(path)
    assert [r[1] for r in records] == [s.name for s in exported["spec"].signatures]
    for model_name, signature, inputs in records:
        assert model_name == "coltran"
        example = exported["spec"].signature(signature).example
        assert sorted(inputs) == sorted(example)
        for k in inputs:
            np.testing.assert_array_equal(inputs[k], example[k])
            assert inputs[k].dtype == example[k].dtype
        replay = loaded.signatures[signature](**_as_tensors(inputs))
        expected = exported["fns"][signature](**_as_tensors(example))
        for k, v in expected.items():
            np.testing.assert_array_equal(replay[k].numpy(), v.numpy())
