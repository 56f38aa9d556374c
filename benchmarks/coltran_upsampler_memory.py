"""Peak memory (and time) of ColTran's upsamplers with the paper configs, batch 1, on this machine's CPU.

Each case runs in a fresh subprocess so its peak resident set size (`ru_maxrss`) is its own:
  spatial_sample: SpatialUpsampler 64 -> 256, argmax decoding of all three channels (what colorize runs);
  spatial_train:  one RMSprop training step at 256x256 (one random channel, as in training);
  color_sample / color_train: the same for the ColorUpsampler at 64x64;
  spatial_train_graph / color_train_graph: the training step inside one tf.function (as a trainer runs
    it), timed on its second call; the first call (tracing) counts towards the peak;
  pipeline: coltran.pipeline.colorize of a 400x600 photo (scikit-image's coffee), 2 samples, with both
    paper-size upsamplers and a ColTranCore of the tiny config's width at the paper's 64x64 (the core's
    own cost is measured by its benchmark, not here).
Random weights; the figures do not depend on them. `key=value` arguments override the paper config's
`model` section (e.g. to see what the strips and rematerialisation save).

    python benchmarks/coltran_upsampler_memory.py                                  # every case
    python benchmarks/coltran_upsampler_memory.py spatial_sample                   # one case
    python benchmarks/coltran_upsampler_memory.py spatial_sample num_chunks=1      # without strips
    python benchmarks/coltran_upsampler_memory.py spatial_train resolution=128 low_resolution=32 remat=False

Printed per case: peak_rss_mb (the whole process: Python, TensorFlow, weights, activations),
tf_peak_mb (TensorFlow's CPU allocator alone, from tf.config.experimental.get_memory_info), seconds of
the measured call (first call: includes tracing).
"""

from __future__ import annotations

import ast
import json
import os
import resource
import subprocess
import sys
import time

CASES = ("spatial_sample", "spatial_train", "color_sample", "color_train")
CASES += ("spatial_train_graph", "color_train_graph", "pipeline")


def _rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _run_pipeline() -> dict:
    import numpy as np

    from coltran.pipeline import colorize
    from common.data.sources import bundled_photos
    from common.registry import build_model
    from configs import coltran_color_upsampler, coltran_core, coltran_spatial_upsampler

    core_config = coltran_core.get_config("tiny")
    core_config.model.resolution = 64
    models = [build_model(c) for c in (core_config, coltran_color_upsampler.get_config(),
                                       coltran_spatial_upsampler.get_config())]
    image = dict(bundled_photos())["coffee.jpg"]
    start = time.perf_counter()
    out = colorize(image, *models, num_samples=2, seed=0, temperature=1.0)
    seconds = time.perf_counter() - start
    assert out.images.shape == (2, *image.shape) and np.isfinite(out.uncertainty).all()
    return {
        "case": "pipeline",
        "image": list(image.shape),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "seconds": round(seconds, 1),
    }


def _run_case(case: str, overrides: dict) -> dict:
    if case == "pipeline":
        return _run_pipeline()
    import keras
    import numpy as np
    import tensorflow as tf

    from common.registry import build_model
    from configs import coltran_color_upsampler, coltran_spatial_upsampler

    spatial = case.startswith("spatial")
    config = (coltran_spatial_upsampler if spatial else coltran_color_upsampler).get_config()
    config.model.update(overrides)
    model = build_model(config)
    r = model.resolution
    rng = np.random.default_rng(0)
    rgb = tf.constant(rng.integers(0, 256, (1, r, r, 3)) / 255.0, tf.float32)
    gray = tf.image.rgb_to_grayscale(rgb)
    if spatial:
        low = tf.constant(rng.integers(0, 256, (1, model.low_resolution, model.low_resolution, 3)), tf.int32)
        batch = {"gray": gray, "rgb": rgb, "low_res": low, "channel": tf.constant([1])}
    else:
        coarse = tf.constant(rng.integers(0, 8, (1, r, r, 3)), tf.int32)
        batch = {"gray": gray, "rgb": rgb, "coarse": coarse, "channel": tf.constant([1])}
    rss_built = _rss_mb()
    tf.config.experimental.reset_memory_stats("CPU:0")
    start = time.perf_counter()
    if case.endswith("sample"):
        cond = {"low_res": batch["low_res"]} if spatial else {"coarse": batch["coarse"]}
        out = model.sample(gray, num_samples=1, temperature=0.0, **cond)
        out["labels"].numpy()
    else:
        optimizer = keras.optimizers.RMSprop(config.train.learning_rate)

        def step(batch: dict) -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        if case.endswith("graph"):
            step = tf.function(step)
            float(step(batch))  # trace and run once
            start = time.perf_counter()
        float(step(batch))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] / 2**20
    return {
        "case": case,
        **overrides,
        "resolution": r,
        "params_m": round(model.count_params() / 1e6, 2),
        "rss_after_build_mb": round(rss_built),
        "peak_rss_mb": round(peak),
        "tf_peak_mb": round(tf_peak),
        "seconds": round(seconds, 1),
    }


def _parse_overrides(args: list[str]) -> dict:
    overrides = {}
    for arg in args:
        key, _, value = arg.partition("=")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[1] == "--child":
        print(json.dumps(_run_case(argv[2], _parse_overrides(argv[3:]))))
        return
    cases = [a for a in argv[1:] if "=" not in a] or list(CASES)
    settings = [a for a in argv[1:] if "=" in a]
    for case in cases:
        if case not in CASES:
            raise SystemExit(f"benchmarks/coltran_upsampler_memory.py: unknown case {case!r}; known: {CASES}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", case, *settings],
            env=env, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            print(f"{case}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        print(proc.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main(sys.argv)
