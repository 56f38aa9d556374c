"""The NaN check in common/quantize.py (`to_8bit`, `to_coarse`): cost against the same ops unchecked.

    python benchmarks/quantize_nan_check.py            # float32 [64, 256, 256, 3], tf.function

Both variants run side by side in one process, alternating, `--repeats` rounds of `--calls` calls each;
the fastest round of each is kept. "unchecked" is the quantizer's arithmetic without `_no_nan`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import quantize  # noqa: E402


def _unchecked_8bit(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.clip_by_value(tf.round(tf.cast(x, tf.float32) * 255.0), 0.0, 255.0), tf.int32)


def _unchecked_coarse(x8: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.floor(tf.clip_by_value(tf.cast(x8, tf.float32), 0.0, 255.0) / 32.0), tf.int32)


def _time(fn, x: tf.Tensor, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(x).numpy()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="64,256,256,3")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    shape = [int(s) for s in args.shape.split(",")]
    x = tf.random.uniform(shape, seed=0)
    pairs = {
        "to_8bit": (tf.function(quantize.to_8bit), tf.function(_unchecked_8bit), x),
        "to_coarse": (tf.function(quantize.to_coarse), tf.function(_unchecked_coarse), x * 255.0),
    }
    for name, (checked, unchecked, inp) in pairs.items():
        checked(inp), unchecked(inp)  # trace
        best = {"checked": float("inf"), "unchecked": float("inf")}
        for _ in range(args.repeats):
            best["unchecked"] = min(best["unchecked"], _time(unchecked, inp, args.calls))
            best["checked"] = min(best["checked"], _time(checked, inp, args.calls))
        ms = {k: f"{v * 1e3:.1f} ms" for k, v in best.items()}
        ratio = best["checked"] / best["unchecked"]
        print(f"{name} {shape}: unchecked {ms['unchecked']}, checked {ms['checked']}, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
