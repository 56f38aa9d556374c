"""Training-step time of candidate sizes for an embedded default model, side by side (one process).

    python benchmarks/default_model_size.py --config=configs/coltran_core.py:default --hidden_sizes=64,128,192

Every candidate is the config with `model.hidden_size = model.ff_size = H` (nothing else changes), trained
by the trainer's own step function (common/train/loop.py `_steps_function`: forward, backward, RMSprop,
EMA) on a fixed random batch of the config's batch size. Each is traced and run untimed once; then
`--repeats` rounds alternate the candidates, `--steps` steps per call; the fastest round of each is kept,
and the step-time ratios to the first candidate printed. With held-out bits/dim of runs trained for equal
time (README "Default models", BENCHMARKS.md) this is how the default size was chosen.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.train_step_precision import _trainer  # noqa: E402  (the trainer's step on a fixed batch)
from common.registry import build_preprocess  # noqa: E402
from common.train import load_config  # noqa: E402


def _batch(config, batch: int) -> dict[str, tf.Tensor]:
    """A batch of the model's own preprocessing of random photos-sized noise images."""
    rng = np.random.default_rng(0)
    preprocess = build_preprocess(config)
    examples = [
        preprocess({"image": tf.constant(rng.integers(0, 256, (300, 400, 3), np.uint8))}, True)
        for _ in range(batch)
    ]
    return {k: tf.stack([e[k] for e in examples]) for k in examples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/coltran_core.py:default")
    parser.add_argument("--hidden_sizes", default="64,128,192")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    runs = {}
    for h in [int(v) for v in args.hidden_sizes.split(",")]:
        config = load_config(args.config)
        config.model.hidden_size = config.model.ff_size = h
        start = time.perf_counter()
        run, state = _trainer(config, _batch(config, config.train.batch_size))
        params = sum(int(np.prod(w.shape)) for w in state.model.trainable_weights)
        run(1)
        took = time.perf_counter() - start
        print(f"H={h}: {params / 1e6:.2f} M parameters, build + trace + 1 step {took:.1f} s", flush=True)
        runs[h] = run
    best = {h: float("inf") for h in runs}
    for _ in range(args.repeats):
        for h, run in runs.items():
            start = time.perf_counter()
            run(args.steps)
            best[h] = min(best[h], (time.perf_counter() - start) / args.steps)
    first = next(iter(best))
    for h, seconds in best.items():
        ratio = seconds / best[first]
        print(f"H={h}: {seconds:.3f} s/step at batch {config.train.batch_size}, {ratio:.2f}x H={first}")


if __name__ == "__main__":
    main()
