"""PixColor: naive vs fast sampling of the 28 x 28 x 2 chroma, a training step, and peak memory (CPU).

    python benchmarks/pixcolor_sampling.py                          # the paper config (appendix table)
    python benchmarks/pixcolor_sampling.py --config=tiny --naive_positions=0

Random weights (timings do not depend on them), batch `--batch` grays of 224 x 224, one sample each:
  * fast sampler (pixcolor/sampler.py, cached rows and columns), the whole 1,568 positions, timed after an
    untimed call that traces it (with `--jit`, also under XLA; the compile time is reported apart);
  * naive sampler (the whole PixelCNN per position), timed over its first `--naive_positions` positions
    after an untimed call that traces it, and extrapolated linearly to all positions (every position costs
    the same: one pass of the network over the 28 x 28 canvas); `--naive_positions=0` times it whole;
  * the positions both produced are compared: they must be identical (same random draws);
  * `--train_steps` Adam steps (the table's optimiser) at each of `--train_batches`, the first untimed;
  * peak resident memory of the process (ru_maxrss) after each phase (it only grows, so each line bounds
    that phase and the ones before it).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.pixcolor import get_config  # noqa: E402
from pixcolor.model import PixColor  # noqa: E402
from pixcolor.sampler import sample_bins  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = tf.nest.map_structure(lambda t: t.numpy(), fn())
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="", help="configs/pixcolor.py variant: '' (paper) or 'tiny'")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--naive_positions", type=int, default=16, help="0 = the whole image")
    parser.add_argument("--jit", action="store_true", help="also time the fast sampler under XLA")
    parser.add_argument("--train_steps", type=int, default=3)
    parser.add_argument("--train_batches", default="2,8")
    args = parser.parse_args()

    config = get_config(args.config)
    kwargs = {k: v for k, v in config.model.to_dict().items() if k != "name"}
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    model = PixColor(**kwargs)
    params = sum(int(np.prod(w.shape)) for w in model.weights) / 1e6
    built = time.perf_counter() - start
    print(
        f"config {args.config or 'paper'}: built in {built:.1f} s, {params:.1f} M parameters; "
        f"peak RSS {_peak_mb():.0f} MB"
    )
    res, low = model.resolution, model.low_resolution
    positions = low * low * 2
    gray = tf.constant(np.random.default_rng(0).uniform(size=(args.batch, res, res, 1)), tf.float32)

    def fast(jit: bool):
        return sample_bins(model, gray, seed=1, method="fast", jit_compile=jit)[0]

    rows = []
    for jit in [False] + ([True] if args.jit else []):
        first, _ = _timed(lambda jit=jit: fast(jit))
        seconds, fast_bins = _timed(lambda jit=jit: fast(jit))
        rows.append((f"fast{' (XLA)' if jit else ''}", seconds, first - seconds, "whole image"))
        flat_fast = fast_bins.reshape(args.batch, -1)
    print(f"peak RSS after the fast sampler: {_peak_mb():.0f} MB")

    n = args.naive_positions if 0 < args.naive_positions < positions else None

    def naive():
        return sample_bins(model, gray, seed=1, method="naive", num_positions=n)[0]

    first, _ = _timed(naive)
    seconds, naive_bins = _timed(naive)
    timed = n or positions
    rows.append(
        (
            "naive",
            seconds * positions / timed,
            first - seconds,
            f"{timed} positions timed, x {positions / timed:.1f}" if n else "whole image",
        )
    )
    same = np.array_equal(naive_bins.reshape(args.batch, -1)[:, :timed], flat_fast[:, :timed])
    print(f"peak RSS after the naive sampler: {_peak_mb():.0f} MB")

    print(f"\nsampling {low} x {low} x 2 chroma ({positions} positions), batch {args.batch}, 1 sample each:")
    print("| sampler | s per batch | s per image | trace / compile s | timed |")
    print("| --- | --- | --- | --- | --- |")
    for name, secs, trace, how in rows:
        print(f"| {name} | {secs:.2f} | {secs / args.batch:.2f} | {trace:.1f} | {how} |")
    print(
        f"naive / fast: {rows[-1][1] / rows[0][1]:.0f}x; same bins on the {timed} positions both drew: {same}"
    )

    optimizer = keras.optimizers.Adam(config.train.learning_rate, beta_1=config.train.beta1)
    optimizer.build(model.trainable_variables)
    model.bind_training_step(optimizer.iterations)  # as the trainer does; past the engage step below
    optimizer.iterations.assign(model.engage_step)  # the whole network trains (the costlier case)

    print("\n| training batch | s per step | peak RSS MB |")
    print("| --- | --- | --- |")
    for batch_size in [int(b) for b in args.train_batches.split(",") if b]:
        rng = np.random.default_rng(batch_size)
        batch = {
            "gray": tf.constant(rng.uniform(size=(batch_size, res, res, 1)), tf.float32),
            "chroma": tf.constant(rng.integers(0, model.num_bins, size=(batch_size, low, low, 2)), tf.int32),
        }

        @tf.function(autograph=False)
        def step(batch):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        step(batch).numpy()  # trace
        start = time.perf_counter()
        for _ in range(args.train_steps):
            step(batch).numpy()
        per_step = (time.perf_counter() - start) / max(1, args.train_steps)
        print(f"| {batch_size} | {per_step:.2f} | {_peak_mb():.0f} |")


if __name__ == "__main__":
    main()
