"""ColTran core: naive vs fast sampling, seconds per image, and training steps per second (CPU).

    python benchmarks/coltran_sampling.py                       # paper + tiny configs, batch 1 and 8
    python benchmarks/coltran_sampling.py --configs=tiny --batch_sizes=1

Random weights (timings do not depend on them). For each config and batch size:
  * fast sampler (coltran/sampler.py), the full image, without and with XLA on its per-pixel loop
    (`--jit`), after an untimed one-row call that traces (and compiles);
  * naive sampler (the authors' scheme, compiled with tf.function like the fast one); at the paper
    config timed over 1 and `--naive_rows` rows and extrapolated linearly to all 64 rows (every row costs
    the same: one inner-decoder pass over the row per pixel, one outer-decoder pass over the canvas);
  * the rows both samplers produced are compared: they must be identical (same random draws).
Then `--train_steps` RMSprop steps of the paper config at each of `--train_batch_sizes`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from coltran.core import ColTranCore  # noqa: E402
from coltran.sampler import sample_symbols  # noqa: E402
from configs.coltran_core import get_config  # noqa: E402


def _timed(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
        best = min(best, time.perf_counter() - start)
    return best


def _model(variant: str) -> ColTranCore:
    tf.keras.utils.set_random_seed(0)
    kwargs = {k: v for k, v in get_config(variant).model.to_dict().items() if k != "name"}
    return ColTranCore(**kwargs)


def bench_sampling(variant: str, batch: int, naive_rows: int | None, jit: bool, repeats: int) -> dict:
    model = _model(variant)
    res = model.resolution
    gray8 = tf.constant(np.random.default_rng(batch).integers(0, 256, (batch, res, res)), tf.int32)
    row = {"config": variant or "paper", "batch": batch}

    def sample(method, use_jit=False, rows=None):
        return sample_symbols(model, gray8, seed=1, method=method, jit_compile=use_jit, num_rows=rows)

    # One trace per (method, XLA) serves every row count: warm up on one row.
    sample("fast", False, 1)
    row["fast_s"] = _timed(lambda: sample("fast"), repeats)
    fast_symbols = sample("fast")[0].numpy()
    if jit:
        start = time.perf_counter()
        sample("fast", True, 1)
        row["xla_compile_s"] = time.perf_counter() - start
        row["fast_xla_s"] = _timed(lambda: sample("fast", True), repeats)
        row["xla_identical"] = bool(np.array_equal(sample("fast", True)[0].numpy(), fast_symbols))

    sample("naive", False, 1)
    if naive_rows is None or naive_rows >= res:
        row["naive_s"] = _timed(lambda: sample("naive"), repeats)
        naive_symbols = sample("naive")[0].numpy()
        row["naive_rows_timed"], row["naive_extrapolated"] = res, False
    else:
        # Every row costs the same (one inner pass over the row per pixel, one outer pass over the canvas):
        # t(H) = t(1) + (t(k) - t(1)) * (H - 1) / (k - 1); the encoder and fixed costs are in t(1).
        t1 = _timed(lambda: sample("naive", False, 1), repeats)
        tk = _timed(lambda: sample("naive", False, naive_rows), repeats)
        row["naive_s"] = t1 + (tk - t1) * (res - 1) / (naive_rows - 1)
        row["naive_row_s"] = (tk - t1) / (naive_rows - 1)
        naive_symbols = sample("naive", False, naive_rows)[0].numpy()
        row["naive_rows_timed"], row["naive_extrapolated"] = naive_rows, True
    row["identical_rows"] = bool(np.array_equal(naive_symbols, fast_symbols[:, :, : naive_symbols.shape[2]]))
    for key in ("fast_s", "fast_xla_s", "naive_s"):
        if key in row:
            row[key.replace("_s", "_s_per_image")] = row[key] / batch
    row["speedup"] = row["naive_s"] / row["fast_s"]
    if jit:
        row["speedup_xla"] = row["naive_s"] / row["fast_xla_s"]
    return row


def bench_training(batch: int, steps: int) -> dict:
    model = _model("")
    rng = np.random.default_rng(0)
    rgb = tf.constant(rng.integers(0, 256, (batch, 64, 64, 3)) / 255.0, tf.float32)
    data = {"gray": tf.image.rgb_to_grayscale(rgb), "rgb": rgb}
    optimizer = tf.keras.optimizers.RMSprop(3e-4)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.compute_loss(data, training=True)[0])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    step()  # trace + first step
    start = time.perf_counter()
    for _ in range(steps):
        step().numpy()
    seconds = (time.perf_counter() - start) / steps
    return {"config": "paper", "batch": batch, "s_per_step": seconds, "steps_per_s": 1.0 / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default="paper,tiny", help="comma list of 'paper' and 'tiny'")
    parser.add_argument("--batch_sizes", default="1,8")
    parser.add_argument(
        "--naive_rows", type=int, default=2, help="rows of the naive sampler timed at paper size"
    )
    parser.add_argument("--jit", type=int, default=1, help="also time the fast sampler under XLA")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--train_batch_sizes", default="1", help="'' to skip the training benchmark")
    parser.add_argument("--train_steps", type=int, default=3)
    args = parser.parse_args()

    print(f"TF {tf.__version__}, {os.cpu_count()} CPUs", flush=True)
    rows = []
    for name in args.configs.split(","):
        variant = "" if name == "paper" else name
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            naive_rows = args.naive_rows if variant == "" else None
            row = bench_sampling(variant, batch, naive_rows, bool(args.jit), args.repeats)
            print(row, flush=True)
            rows.append(row)
    print(
        "\n| config | batch | naive s/image | fast s/image | speedup | fast+XLA s/image | speedup XLA "
        "| identical samples |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        naive = f"{r['naive_s_per_image']:.2f}" + (
            f" (extrapolated from {r['naive_rows_timed']} rows)" if r["naive_extrapolated"] else ""
        )
        xla = f"{r['fast_xla_s_per_image']:.3f} | {r['speedup_xla']:.0f}x" if "fast_xla_s" in r else "- | -"
        same = "yes" if r["identical_rows"] and r.get("xla_identical", True) else "NO"
        print(
            f"| {r['config']} | {r['batch']} | {naive} | {r['fast_s_per_image']:.3f} | {r['speedup']:.0f}x "
            f"| {xla} | {same} |"
        )
    if args.train_batch_sizes:
        print("\n| config | batch | s/step | steps/s |\n| --- | --- | --- | --- |")
        for batch in (int(b) for b in args.train_batch_sizes.split(",")):
            r = bench_training(batch, args.train_steps)
            print(
                f"| {r['config']} | {r['batch']} | {r['s_per_step']:.2f} | {r['steps_per_s']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
