"""The checks the CIC, PIC and PixColor export and `colorize` tests share, written once (as
tests/model_harness.py is for the models); each package's test file calls them with its own model,
signatures and expected values:

  export_models               the SavedModel (+ .tflite files) of in-process models, reloaded in Python
  run_cli_batch               `saved_model_cli run` commands through TensorFlow's C++ loader, one subprocess
  check_signatures            every signature's reload (and C++ loader) equals the in-process function
  check_bad_request           a bad request fails with a message naming the input
  tflite_runner               a .tflite file's signature runner, builtin ops only
  check_colorize_command      `colorize --model=...` as a user runs it: colourings with the photo's luma
  check_bits_per_dim          a Colorizer's bits/dim equal the model's on its evaluation preprocessing
  check_weights_errors        bad --weights give one-line errors
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = os.path.join(REPO, "tests", "export", "saved_model_cli_batch.py")
LUMA = np.array([0.299, 0.587, 0.114])  # BT.601


# -- export ----------------------------------------------------------------------------------------------
def export_models(
    models: dict[str, Any], step: int, base: str, tflite_signatures: Sequence[str] | None = None
) -> dict:
    """Exports `models` (registry name -> model) as version `step` under `base`: {"path", "spec", "fns",
    "tflite": the float32 .tflite paths (of `tflite_signatures`, default all), "loaded": the reload}."""
    from export.export import spec_for_models
    from export.saved_model import build_module, save
    from export.spec import ExportOptions
    from export.tflite import tflite_options, write_tflite

    spec = spec_for_models(models, version=step, options=ExportOptions())
    module, fns = build_module(spec)
    path = save(spec, base, built=(module, fns))
    tflite_spec = spec_for_models(models, version=step, options=tflite_options(ExportOptions()))
    tflite = write_tflite(tflite_spec, os.path.join(base, "tflite"), ["float32"], tflite_signatures)
    loaded = tf.saved_model.load(path)
    return {"path": path, "spec": spec, "fns": fns, "tflite": tflite, "loaded": loaded}


def cli_args(path: str, signature: str, inputs: dict, tmp: str) -> list[str]:
    """`saved_model_cli run` arguments for one request, its inputs saved as .npy files under `tmp`."""
    os.makedirs(tmp, exist_ok=True)
    files = []
    for name, value in inputs.items():
        np.save(os.path.join(tmp, f"{name}.npy"), np.asarray(value))
        files.append(f"{name}={os.path.join(tmp, name + '.npy')}")
    return ["run", "--dir", path, "--tag_set", "serve", "--signature_def", signature, "--inputs",
            ";".join(files), "--outdir", os.path.join(tmp, "out"), "--overwrite"]  # fmt: skip


def run_cli_batch(tmp_path: Path, commands: dict[str, list[str]]) -> dict[str, str | None]:
    """Runs {case: cli_args} in one subprocess (tests/export/saved_model_cli_batch.py) -> {case: error or
    None}; each case's outputs are in its folder's out/."""
    (tmp_path / "commands.json").write_text(json.dumps(commands))
    done = subprocess.run(
        [sys.executable, BATCH, str(tmp_path / "commands.json"), str(tmp_path / "results.json")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text())


def example(exported: dict, signature: str, **overrides) -> dict:
    """The spec's example request of `signature`, with some inputs replaced."""
    return {**exported["spec"].signature(signature).example, **overrides}


def tensors(inputs: dict) -> dict:
    return {k: tf.constant(v) for k, v in inputs.items()}


def assert_output_equal(got: np.ndarray, want: np.ndarray, message: str) -> None:
    """Colours and bins (uint8) exactly, probabilities up to round-off."""
    if want.dtype == np.uint8:
        np.testing.assert_array_equal(got, want, err_msg=message)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=message)


def check_signatures(
    exported: dict,
    tmp_path: Path,
    signatures: Sequence[str],
    bad: dict[str, tuple],
    cli: Sequence[str] | None = None,
) -> None:
    """Each signature's example request: the Python reload's outputs equal the in-process function's; the
    `cli` ones (default all; each command loads the SavedModel afresh: seconds) also through TensorFlow's
    C++ loader (`saved_model_cli run`, one subprocess), as does every `bad` request {case: (signature,
    overrides of its example, _)}, which the C++ loader must refuse."""
    cli = list(signatures) if cli is None else list(cli)
    cases = {s: (s, example(exported, s)) for s in signatures}
    cases.update({f"bad: {k}": (sig, example(exported, sig, **o)) for k, (sig, o, _) in bad.items()})
    through_cpp = [c for c in cases if c in cli or c.startswith("bad: ")]
    folders = {c: str(tmp_path / str(i)) for i, c in enumerate(through_cpp)}
    errors = run_cli_batch(
        tmp_path, {c: cli_args(exported["path"], *cases[c], folders[c]) for c in through_cpp}
    )
    assert sorted(errors) == sorted(through_cpp), errors
    for case, (signature, inputs) in cases.items():
        if case.startswith("bad: "):
            assert errors[case] is not None, f"{case} was accepted by the C++ loader"
            continue
        want = {k: v.numpy() for k, v in exported["fns"][signature](**tensors(inputs)).items()}
        reloaded = exported["loaded"].signatures[signature](**tensors(inputs))
        got = {"reload": {k: v.numpy() for k, v in reloaded.items()}}
        if case in folders:
            assert errors[case] is None, errors[case]
            got["C++"] = {k: np.load(os.path.join(folders[case], "out", f"{k}.npy")) for k in want}
        for where, outputs in got.items():
            for name, value in want.items():
                assert_output_equal(outputs[name], value, f"{where} {signature} {name}")


def check_bad_request(exported: dict, bad: tuple[str, dict, str]) -> None:
    """bad = (signature, overrides of its example, words the error must contain)."""
    signature, overrides, words = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match=words):
        exported["loaded"].signatures[signature](**tensors(example(exported, signature, **overrides)))


def tflite_runner(path: str):
    """The signature runner of a one-signature .tflite file, after checking it uses builtin ops only."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops
    return interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))


# -- colorize --------------------------------------------------------------------------------------------
def check_colorize_command(
    tmp_path: Path, model: str, weights: str, *, batch_size: int, deterministic: bool = False
) -> None:
    """`colorize --model=model --weights=weights --num_samples=2` on two gray photos (one subprocess):
    each photo's two colourings at its size, equal (deterministic) or two draws, with the photo's own
    luminance within 8-bit rounding, coloured, with provenance naming the model, and a contact sheet."""
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
        [sys.executable, "-m", "common.colorize_main", str(folder), f"--output={out}", f"--model={model}",
         f"--weights={weights}", "--num_samples=2", f"--batch_size={batch_size}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith("colorize: 2 done"), done.stderr[-500:]
    from common.colorize import imageio

    for name, y in photos.items():
        a, b = (np.asarray(Image.open(out / "scans" / f"{name}_sample{n}.png")) for n in (0, 1))
        assert a.shape == (*y.shape, 3)
        if deterministic:
            np.testing.assert_array_equal(a, b)
        else:
            assert (a != b).any()  # two draws
        assert np.abs(a.astype(np.float64) @ LUMA - y).max() <= 1.0  # the photo's own luminance
        assert np.ptp(a.astype(int), axis=-1).max() > 0  # coloured, not gray
        assert imageio.read_provenance(str(out / "scans" / f"{name}_sample0.png"))["model"] == model
        assert (out / "scans" / f"{name}_sheet.png").is_file()


def check_bits_per_dim(loaded: Any, words: str, want: Callable[[Any, dict], float]) -> None:
    """The Colorizer's likelihood text contains `words`; its bits/dim of three photos (batches of two)
    equal want(model, the model's evaluation batch of each photo alone)."""
    assert words in loaded.likelihood
    photos = np.random.default_rng(2).integers(0, 256, [3, 36, 28, 3]).astype(np.uint8)
    bpd = loaded.bits_per_dim(photos, batch_size=2)
    model = loaded.model
    for i, photo in enumerate(photos):
        batch = {k: v[None] for k, v in model.preprocess({"image": tf.constant(photo)}, False).items()}
        np.testing.assert_allclose(bpd[i], want(model, batch), rtol=1e-5)


def check_weights_errors(
    colorizer: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cases: Sequence[tuple[str | None, str]]
) -> None:
    """With a colorizer module's DEFAULT_WEIGHTS missing (tmp_path/assets/default), colorizer.load(weights)
    raises its WeightsError, with a one-line message matching words, for each (weights, words)."""
    monkeypatch.setattr(colorizer, "DEFAULT_WEIGHTS", str(tmp_path / "assets" / "default"))
    for weights, words in cases:
        with pytest.raises(colorizer.WeightsError, match=words) as e:
            colorizer.load(weights)
        assert "\n" not in str(e.value)
