"""The .tflite files: builtin ops only (WHILE loops), run with ai_edge_litert; parity with the SavedModel
on the same seed (float32 exact up to round-off flips, measured; int8 agreement and bits/dim stated);
the phone demo runs with no TensorFlow import; export/photo.py agrees with common.color."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from common.color import rgb_to_gray_np, rgb_to_ycbcr
from export import photo
from tests.export.conftest import REPO


def _path(exported, name: str, q: str) -> str:
    path = os.path.join(exported["base"], "tflite", f"{name}.{q}.tflite")
    assert path in exported["tflite"]
    return path


def _runner(path: str):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    return interpreter, interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))


def _ops(interpreter) -> set[str]:
    return {op["op_name"] for op in interpreter._get_ops_details()}


def test_whole_pipeline_is_builtin_ops_with_while_loops(exported) -> None:
    for q in ("float32", "int8"):
        interpreter, _ = _runner(_path(exported, "colorize_square", q))
        ops = _ops(interpreter)
        assert "WHILE" in ops, ops
        assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def test_float32_pipeline_gives_the_saved_models_samples(exported, loaded) -> None:
    """Same seed, same samples: the hashed Gumbel noise is integer arithmetic, so only float round-off in
    the logits can flip a draw (then the rest of that image's raster order follows another path)."""
    _, run = _runner(_path(exported, "colorize_square", "float32"))
    big = exported["models"]["coltran_spatial_upsampler"].resolution
    gray = np.random.default_rng(5).integers(0, 256, [2, big, big, 1], dtype=np.uint8)
    args = {
        "num_samples": np.int32(3),
        "seed": np.int32(11),
        "temperature": np.float32(1.0),
        "top_k": np.int32(0),
    }
    ref = loaded.signatures["colorize_square"](
        gray=tf.constant(gray), **{k: tf.constant(v) for k, v in args.items()}
    )
    out = run(gray=gray, **args)
    rgb_agree = _agreement(out["rgb"], ref["rgb"].numpy())
    print(f"float32 .tflite vs SavedModel: rgb agreement {rgb_agree:.4f}")
    assert out["rgb"].shape == (2, 3, big, big, 3)
    assert rgb_agree > 0.9
    # The first pixel's probabilities (before any draw): XNNPACK's float32 kernels differ from TF's by
    # about 1e-3 relative at these near-uniform random-weight logits (measured: up to 0.3%).
    np.testing.assert_allclose(
        out["uncertainty"][:, 0, 0, 0], ref["uncertainty"].numpy()[:, 0, 0, 0], rtol=1e-2
    )


@pytest.mark.parametrize("top_k", [0, 3])
def test_float32_core_gives_the_saved_models_coarse_colours_at_each_top_k(exported, loaded, top_k) -> None:
    """The core's coarse colours from the float32 .tflite equal the SavedModel's at the same seed for each
    top_k the export allows (only round-off flips may differ), and top_k changes them: a .tflite that
    ignored top_k, or truncated to another k, fails here."""
    _, run = _runner(_path(exported, "core", "float32"))
    example = {**exported["spec"].signature("core").example, "seed": np.int32(7)}
    example["num_samples"] = np.int32(2)
    out = {k: run(**{**example, "top_k": np.int32(k)})["coarse"] for k in (0, top_k)}
    ref = loaded.signatures["core"](
        **{k: tf.constant(v) for k, v in {**example, "top_k": np.int32(top_k)}.items()}
    )
    agree = _agreement(out[top_k], ref["coarse"].numpy())
    print(f"core float32 .tflite vs SavedModel at top_k={top_k}: coarse agreement {agree:.4f}")
    assert agree > 0.97
    if top_k:
        assert _agreement(out[top_k], out[0]) < 0.9


def test_int8_stages_agree_and_are_smaller(exported) -> None:
    """Dynamic-range int8 weights: colour upsampler argmax agreement with float32 and the core's
    coarse-colour agreement at temperature 0 (argmax) are stated, not hidden."""
    r = exported["models"]["coltran_core"].resolution
    rng = np.random.default_rng(6)
    inputs = {
        "gray": rng.integers(0, 256, [2, r, r, 1], dtype=np.uint8),
        "coarse": rng.integers(0, 8, [2, r, r, 3], dtype=np.uint8),
    }
    outs = {
        q: _runner(_path(exported, "color_upsampler", q))[1](**inputs)["rgb"] for q in ("float32", "int8")
    }
    agree = _agreement(outs["float32"], outs["int8"])
    print(f"colour upsampler int8 vs float32 agreement {agree:.4f}")
    assert agree > 0.5
    for name in ("colorize_square", "color_upsampler"):
        assert os.path.getsize(_path(exported, name, "int8")) < os.path.getsize(
            _path(exported, name, "float32")
        )


def test_per_stage_files_equal_the_saved_model(exported, loaded) -> None:
    for name in ("core", "color_upsampler", "spatial_upsampler"):
        example = exported["spec"].signature(name).example
        out = _runner(_path(exported, name, "float32"))[1](**example)
        ref = loaded.signatures[name](**{k: tf.constant(v) for k, v in example.items()})
        for k in ref:
            assert out[k].shape == tuple(ref[k].shape)
            if ref[k].dtype == tf.uint8:
                assert _agreement(out[k], ref[k].numpy()) > 0.9, (name, k)


def test_photo_helpers_agree_with_common_color() -> None:
    rgb = np.random.default_rng(7).integers(0, 256, [9, 13, 3], dtype=np.uint8)
    np.testing.assert_allclose(photo.luminance(rgb), rgb_to_gray_np(rgb / 255.0)[..., 0], atol=1e-12)
    ycbcr = rgb_to_ycbcr(tf.constant(rgb / 255.0, tf.float32), clip=False).numpy()
    joined = photo.join_luminance(ycbcr[..., 0].astype(np.float64), rgb)  # same size: chroma unchanged
    np.testing.assert_allclose(joined.astype(int), rgb.astype(int), atol=1)


def test_colorize_tflite_runs_without_tensorflow(exported, tmp_path) -> None:
    model = _path(exported, "colorize_square", "int8")
    script = (
        "import sys\n"
        "from export import tflite_main\n"
        f"sys.argv = ['colorize-tflite', '--model={model}', '--input={REPO}/common/assets/photos/rocket.jpg',"
        f" '--output={tmp_path}', '--num_samples=2']\n"
        "try:\n    tflite_main.run()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "print('NO_TF_OK')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert result.returncode == 0 and "NO_TF_OK" in result.stdout, result.stderr[-2000:]
    from PIL import Image

    sheet = np.asarray(Image.open(tmp_path / "rocket_sheet.png"))
    sample = np.asarray(Image.open(tmp_path / "rocket_sample0.png"))
    rocket = photo.read_photo(os.path.join(REPO, "common/assets/photos/rocket.jpg"))
    assert sample.shape == rocket.shape and sheet.shape[1] > 4 * 100
    np.testing.assert_allclose(photo.luminance(sample) * 255, photo.luminance(rocket) * 255, atol=0.51 + 1e-9)


@pytest.mark.parametrize(
    "flags,words",
    [
        (["--model=/nonexistent.tflite", "--input=x.jpg"], "no such file"),
        (["--input=x.jpg"], "--model and --input are required"),
    ],
)
def test_colorize_tflite_bad_flags(flags, words) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "export.tflite_main", *flags],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode != 0 and words in result.stderr, result.stderr
