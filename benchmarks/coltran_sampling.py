"""ColTran core: naive vs fast sampling, seconds per image, and training steps per second (CPU).

    python benchmarks/coltran_sampling.py                       # paper + tiny configs, batch 1 and 8
    python benchmarks/coltran_sampling.py --configs=tiny --batch_sizes=1

Random weights (timings do not depend on them). For each config and batch size, in one process:
  * fast sampler (coltran/sampler.py), the full image, without XLA and with XLA on the whole loop
    (`--jit`), each timed after an untimed call that traces (and compiles: the XLA compile time is
    reported apart);
  * naive sampler (the authors' scheme, compiled with tf.function like the fast one, no XLA); at the
    paper config timed over 1 and `--naive_rows` rows and extrapolated linearly to all 64 rows (every
    row costs the same: one inner-decoder pass over the row per pixel, one outer-decoder pass over the
    canvas), or with `--naive_rows=64` timed over whole images (64 rows of one image: compare
    `--repeats=1`); with `--naive_xla` also the naive sampler under XLA, timed the same way;
  * the rows both samplers produced are compared: they must be identical (same random draws).
`--repeats` timings of each and the fastest kept. Then `--train_steps` RMSprop steps of the paper config
at each of `--train_batch_sizes`.
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


def _naive_seconds(sample, res: int, naive_rows: int | None, jit: bool, repeats: int) -> tuple:
    """(seconds per batch for all rows, rows timed, symbols of the rows timed)."""
    if naive_rows is None or naive_rows >= res:
        # One trace serves every row count without XLA: trace on one row, then time whole images; the
        # symbols of the last timed run are compared with the fast sampler's.
        sample("naive", jit, 1 if not jit else None)
        out = {}
        seconds = _timed(
            lambda: out.setdefault("s", []).append(sample("naive", jit, None)) or out["s"][-1], repeats
        )
        return seconds, res, out["s"][-1][0].numpy()
    # Every row costs the same (one inner pass over the row per pixel, one outer pass over the canvas):
    # t(H) = t(1) + (t(k) - t(1)) * (H - 1) / (k - 1); the encoder and fixed costs are in t(1).
    sample("naive", jit, 1)
    sample("naive", jit, naive_rows)
    t1 = _timed(lambda: sample("naive", jit, 1), repeats)
    tk = _timed(lambda: sample("naive", jit, naive_rows), repeats)
    symbols = sample("naive", jit, naive_rows)[0].numpy()
    return t1 + (tk - t1) * (res - 1) / (naive_rows - 1), naive_rows, symbols


def bench_sampling(
    variant: str, batch: int, naive_rows: int | None, jit: bool, naive_xla: bool, repeats: int
) -> dict:
    model = _model(variant)
    res = model.resolution
    gray8 = tf.constant(np.random.default_rng(batch).integers(0, 256, (batch, res, res)), tf.int32)
    row = {"config": variant or "paper", "batch": batch}

    def sample(method, use_jit=False, rows=None):
        return sample_symbols(model, gray8, seed=1, method=method, jit_compile=use_jit, num_rows=rows)

    sample("fast", False, 1)  # one trace serves every row count without XLA
    row["fast_s"] = _timed(lambda: sample("fast"), repeats)
    fast_symbols = sample("fast")[0].numpy()
    if jit:
        start = time.perf_counter()
        sample("fast", True)  # XLA: the row count is part of the trace; compile + one run
        row["xla_compile_s"] = time.perf_counter() - start
        row["fast_xla_s"] = _timed(lambda: sample("fast", True), repeats)
        row["xla_compile_s"] -= row["fast_xla_s"]
        row["xla_identical"] = bool(np.array_equal(sample("fast", True)[0].numpy(), fast_symbols))

    naive_s, row["naive_rows_timed"], naive_symbols = _naive_seconds(sample, res, naive_rows, False, repeats)
    row["naive_s"] = naive_s
    row["naive_extrapolated"] = row["naive_rows_timed"] < res
    row["identical_rows"] = bool(np.array_equal(naive_symbols, fast_symbols[:, :, : naive_symbols.shape[2]]))
    if naive_xla:
        row["naive_xla_s"], _, xla_symbols = _naive_seconds(sample, res, naive_rows, True, repeats)
        row["identical_rows"] &= bool(np.array_equal(xla_symbols, naive_symbols))
    for key in ("fast_s", "fast_xla_s", "naive_s", "naive_xla_s"):
        if key in row:
            row[key.replace("_s", "_s_per_image")] = row[key] / batch
    row["speedup"] = row["naive_s"] / row["fast_s"]
    if jit:
        row["speedup_xla"] = row["naive_s"] / row["fast_xla_s"]
        if naive_xla:
            row["speedup_xla_vs_naive_xla"] = row["naive_xla_s"] / row["fast_xla_s"]
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
        "--naive_rows", type=int, default=3, help="rows of the naive sampler timed at paper size"
    )
    parser.add_argument("--jit", type=int, default=1, help="also time the fast sampler under XLA")
    parser.add_argument("--naive_xla", type=int, default=0, help="also time the naive sampler under XLA")
    parser.add_argument("--repeats", type=int, default=2, help="timings of each; the fastest is kept")
    parser.add_argument("--train_batch_sizes", default="1", help="'' to skip the training benchmark")
    parser.add_argument("--train_steps", type=int, default=3)
    args = parser.parse_args()

    print(f"TF {tf.__version__}, {os.cpu_count()} CPUs", flush=True)
    rows = []
    for name in args.configs.split(","):
        variant = "" if name == "paper" else name
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            naive_rows = args.naive_rows if variant == "" else None
            jit, naive_xla = bool(args.jit), bool(args.naive_xla)
            row = bench_sampling(variant, batch, naive_rows, jit, naive_xla, args.repeats)
            print(row, flush=True)
            rows.append(row)
    print(
        "\n| config | batch | naive s/image | fast s/image | speedup | fast+XLA s/image | speedup XLA "
        "| XLA compile s | naive+XLA s/image | fast+XLA vs naive+XLA | identical samples |"
    )
    print("| --- " * 11 + "|")
    for r in rows:
        naive = f"{r['naive_s_per_image']:.3g}" + (
            f" (extrapolated from {r['naive_rows_timed']} rows)" if r["naive_extrapolated"] else ""
        )
        xla = "- | - | -"
        if "fast_xla_s" in r:
            xla = f"{r['fast_xla_s_per_image']:.3f} | {r['speedup_xla']:.1f}x | {r['xla_compile_s']:.1f}"
        naive_xla = "- | -"
        if "naive_xla_s" in r:
            naive_xla = f"{r['naive_xla_s_per_image']:.3g} | {r['speedup_xla_vs_naive_xla']:.1f}x"
        same = "yes" if r["identical_rows"] and r.get("xla_identical", True) else "NO"
        print(
            f"| {r['config']} | {r['batch']} | {naive} | {r['fast_s_per_image']:.3f} | {r['speedup']:.1f}x "
            f"| {xla} | {naive_xla} | {same} |"
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
