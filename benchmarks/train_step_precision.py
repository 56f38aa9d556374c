"""Trainer step of a paper-config model in float32 and in mixed_bfloat16, side by side (one process).

    python benchmarks/train_step_precision.py                       # ColTran core, 64x64, batch 1
    python benchmarks/train_step_precision.py --batch=2 --steps=3 --repeats=3
    python benchmarks/train_step_precision.py --config=configs/coltran_core.py:tiny   # a quick check

Both models come from the same config (paper values) except `train.mixed_precision`, with the same
initial weights, and are trained by the trainer's own step function (common/train/loop.py
`_steps_function`: forward, backward, one all-reduce, RMSprop, and EMA when the config has one) on a
fixed random batch. Each is traced and run for `--warmup` steps untimed; then `--repeats` rounds
alternate float32 and bfloat16, `--steps` steps per call in one tf.function call; the fastest round of
each is kept and their ratio printed. The loss of the first step is printed for both (same weights,
same batch): their difference is bfloat16's rounding.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.train import build_state, load_config  # noqa: E402
from common.train.loop import _steps_function  # noqa: E402


def _batch(resolution: int, batch: int) -> dict[str, tf.Tensor]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (batch, resolution, resolution, 3)).astype(np.float32) / 255.0
    gray = rgb @ np.array([[0.299], [0.587], [0.114]], np.float32)
    return {"gray": tf.constant(gray), "rgb": tf.constant(rgb)}


def _trainer(config, batch: dict[str, tf.Tensor]):
    """(train_steps(n) -> losses [n], state) for `config` on an endless repeat of `batch`."""
    strategy = tf.distribute.get_strategy()
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), batch)
    state = build_state(config, strategy, spec)
    steps = _steps_function(state, strategy, config)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    return (lambda n: steps(iterator, tf.constant(n)).numpy()[:, 0]), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/coltran_core.py")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round (one call)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    runs = {}
    for policy in ("", "mixed_bfloat16"):
        config = load_config(args.config)
        config.train.batch_size = args.batch
        config.train.mixed_precision = policy
        batch = _batch(config.model.resolution, args.batch)
        start = time.perf_counter()
        run, state = _trainer(config, batch)
        first = float(run(1)[0])  # traces and runs the first step
        run(args.warmup)
        name = policy or "float32"
        print(
            f"{name}: first-step loss {first:.5f}, build + trace + {1 + args.warmup} steps "
            f"{time.perf_counter() - start:.1f} s",
            flush=True,
        )
        runs[name] = (run, state)
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):
        for name, (run, _) in runs.items():
            start = time.perf_counter()
            run(args.steps)
            best[name] = min(best[name], (time.perf_counter() - start) / args.steps)
    for name, seconds in best.items():
        print(f"{name}: {seconds:.3f} s/step (fastest of {args.repeats} rounds of {args.steps} steps)")
    print(f"float32 / mixed_bfloat16 step time: {best['float32'] / best['mixed_bfloat16']:.2f}x")


if __name__ == "__main__":
    main()
