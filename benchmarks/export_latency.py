"""Latency of the exported ColTran pipeline on this CPU, side by side in one run, and the file sizes.

    python benchmarks/export_latency.py [--sizes=tiny,paper] [--repeats=3] [--files_only]

For each size (random weights: timing only): the whole-pipeline signature `colorize_square` (core ->
colour upsampler -> spatial upsampler, one sample of one image) through (a) the SavedModel reloaded in
Python, (b) TensorFlow's C++ loader (`saved_model_cli run`: one process per call, so load time included,
also shown alone as the time of a run of the cheap `log_prob_square` signature), (c) the float32 .tflite
and (d) the int8 (dynamic-range) .tflite with ai_edge_litert. Also: int8 vs float32 sample agreement
and bits/dim change (log_prob_square on the bundled photos). Prints a Markdown table.
--files_only: export and convert only, and print the file sizes (minutes at the paper size, not half an hour).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from coltran.export_spec import STAGES  # noqa: E402
from common.registry import build_model  # noqa: E402
from common.train import load_config  # noqa: E402
from export.export import spec_for_models  # noqa: E402
from export.saved_model import save  # noqa: E402
from export.spec import ExportOptions  # noqa: E402
from export.tflite import tflite_options, write_tflite  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _cli_time(path: str, signature: str, inputs: dict, tmp: str) -> float:
    files = []
    for name, value in inputs.items():
        np.save(os.path.join(tmp, f"{name}.npy"), np.asarray(value))
        files.append(f"{name}={os.path.join(tmp, name + '.npy')}")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    start = time.perf_counter()
    subprocess.run(
        [
            cli,
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
        ],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return time.perf_counter() - start


def _size_mb(path: str) -> float:
    if os.path.isfile(path):
        return os.path.getsize(path) / 2**20
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20


def _photos(r: int) -> np.ndarray:
    from PIL import Image

    folder = os.path.join(REPO, "common", "assets", "photos")
    names = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    return np.stack(
        [
            np.asarray(Image.open(os.path.join(folder, f)).convert("RGB").resize((r, r), Image.BOX))
            for f in names
        ]
    )


def bench(size: str, repeats: int, tmp: str, files_only: bool = False) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    arg = "tiny" if size == "tiny" else ""
    models = {s: build_model(load_config(os.path.join(REPO, "configs", f"{s}.py:{arg}"))) for s in STAGES}
    options = ExportOptions()
    t0 = time.perf_counter()
    path = save(spec_for_models(models, version=1, options=options), os.path.join(tmp, size))
    tfl_dir = os.path.join(tmp, size, "tflite")
    tfl_spec = spec_for_models(models, version=1, options=tflite_options(options))
    write_tflite(tfl_spec, tfl_dir, signatures=["colorize_square", "log_prob_square"])
    export_s = time.perf_counter() - t0
    if files_only:
        row = {"size": size, "saved_model_mb": _size_mb(os.path.join(path, "variables"))}
        for q in ("float32", "int8"):
            row[f"tflite_{q}_mb"] = _size_mb(os.path.join(tfl_dir, f"colorize_square.{q}.tflite"))
        print(row, flush=True)
        return row
    big, r = models["coltran_spatial_upsampler"].resolution, models["coltran_core"].resolution
    gray = np.random.default_rng(0).integers(0, 256, [1, big, big, 1], dtype=np.uint8)
    args = {
        "num_samples": np.int32(1),
        "seed": np.int32(0),
        "temperature": np.float32(1.0),
        "top_k": np.int32(0),
    }
    inputs = {"gray": gray, **args}
    loaded = tf.saved_model.load(path)
    sig = loaded.signatures["colorize_square"]
    row = {"size": size, "export_s": export_s}
    row["python_s"] = _median_time(lambda: sig(**{k: tf.constant(v) for k, v in inputs.items()}), repeats)
    row["cli_s"] = _cli_time(path, "colorize_square", inputs, tmp)
    row["cli_load_s"] = _cli_time(path, "log_prob_square", {"image": _photos(r)[:1]}, tmp)
    outs, bpd = {}, {}
    for q in ("float32", "int8"):
        interp = Interpreter(model_path=os.path.join(tfl_dir, f"colorize_square.{q}.tflite"))
        run = interp.get_signature_runner("colorize_square")
        row[f"tflite_{q}_s"] = _median_time(lambda run=run: run(**inputs), repeats)
        outs[q] = run(**{**inputs, "temperature": np.float32(0.0)})["rgb"]
        lp = Interpreter(model_path=os.path.join(tfl_dir, f"log_prob_square.{q}.tflite"))
        bpd[q] = lp.get_signature_runner("log_prob_square")(image=_photos(r))["bits_per_dim"]
        row[f"tflite_{q}_mb"] = _size_mb(os.path.join(tfl_dir, f"colorize_square.{q}.tflite"))
    row["saved_model_mb"] = _size_mb(os.path.join(path, "variables"))
    ref = loaded.signatures["colorize_square"](
        **{k: tf.constant(v) for k, v in {**inputs, "temperature": np.float32(0.0)}.items()}
    )["rgb"]
    row["f32_agree"] = float(np.mean(outs["float32"] == ref.numpy()))
    row["int8_agree"] = float(np.mean(outs["int8"] == outs["float32"]))
    row["bpd_f32"] = float(np.mean(bpd["float32"]))
    row["bpd_int8_change"] = float(np.mean(bpd["int8"] - bpd["float32"]))
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,paper")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files_only", action="store_true")
    flags = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in flags.sizes.split(","):
            rows.append(bench(size, flags.repeats if size == "tiny" else 1, tmp, flags.files_only))
    if flags.files_only:
        print("| size | SavedModel variables | .tflite float32 | .tflite int8 | int8 / float32 |")
        print("|" + " --- |" * 5)
        for w in rows:
            f32, i8 = w["tflite_float32_mb"], w["tflite_int8_mb"]
            sm = w["saved_model_mb"]
            print(f"| {w['size']} | {sm:.1f} MB | {f32:.1f} MB | {i8:.1f} MB | {i8 / f32:.3f} |")
        return
    print(
        "| size | SavedModel, Python | C++ loader (saved_model_cli: load + call / load + cheap call) | "
        "TFLite float32 | TFLite int8 | SavedModel variables | .tflite float32 | .tflite int8 | "
        "float32 .tflite = SavedModel (argmax) | int8 = float32 (argmax) | bits/dim float32 -> int8 |"
    )
    print("|" + " --- |" * 11)
    for w in rows:
        print(
            f"| {w['size']} | {w['python_s']:.2f} s | {w['cli_s']:.1f} s / {w['cli_load_s']:.1f} s | "
            f"{w['tflite_float32_s']:.2f} s | {w['tflite_int8_s']:.2f} s | {w['saved_model_mb']:.1f} MB | "
            f"{w['tflite_float32_mb']:.1f} MB | {w['tflite_int8_mb']:.1f} MB | {w['f32_agree']:.4f} | "
            f"{w['int8_agree']:.4f} | {w['bpd_f32']:.4f} {w['bpd_int8_change']:+.4f} |"
        )


if __name__ == "__main__":
    main()
