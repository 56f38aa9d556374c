"""Peak memory (and time) of ColTran's upsamplers with the paper configs, batch 1, on this machine's CPU.

Each case runs in a fresh subprocess so its peak resident set size (`ru_maxrss`) is its own:
  spatial_sample: SpatialUpsampler 64 -> 256, argmax decoding of all three channels (what colorize runs);
  spatial_train:  one RMSprop training step at 256x256 (one random channel, as in training);
  color_sample / color_train: the same for the ColorUpsampler at 64x64.
Random weights; the figures do not depend on them.

    python benchmarks/coltran_upsampler_memory.py                 # every case
    python benchmarks/coltran_upsampler_memory.py spatial_sample  # one case
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

CASES = ("spatial_sample", "spatial_train", "color_sample", "color_train")


def _rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _run_case(case: str) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from common.registry import build_model
    from configs import coltran_color_upsampler, coltran_spatial_upsampler

    spatial = case.startswith("spatial")
    config = (coltran_spatial_upsampler if spatial else coltran_color_upsampler).get_config()
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
    start = time.perf_counter()
    if case.endswith("sample"):
        cond = {"low_res": batch["low_res"]} if spatial else {"coarse": batch["coarse"]}
        out = model.sample(gray, num_samples=1, temperature=0.0, **cond)
        out["labels"].numpy()
    else:
        optimizer = keras.optimizers.RMSprop(config.train.learning_rate)
        with tf.GradientTape() as tape:
            loss, _ = model.compute_loss(batch, training=True)
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        float(loss)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    return {
        "case": case,
        "resolution": r,
        "params_m": round(model.count_params() / 1e6, 2),
        "rss_after_build_mb": round(rss_built),
        "peak_rss_mb": round(peak),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "--child":
        print(json.dumps(_run_case(argv[2])))
        return
    cases = argv[1:] or list(CASES)
    for case in cases:
        if case not in CASES:
            raise SystemExit(f"benchmarks/coltran_upsampler_memory.py: unknown case {case!r}; known: {CASES}")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", case],
            env=env, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            print(f"{case}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        print(proc.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main(sys.argv)
