"""PIC: naive vs fast sampling at the paper configs, training step time, peak memory (CPU).

    python benchmarks/pic_sampling.py                          # cifar and imagenet, one table
    python benchmarks/pic_sampling.py --configs=cifar --naive_pixels=16

Random weights (timings do not depend on them), batch `--batch` of one sample each (the authors'
README samples test batches of 16 or 25). Each measurement
runs in its own process (so each peak RSS is its own):
  * fast (pic/sampler.py, cached rows): the whole chroma image, timed after an untimed traced call;
    with `--xla` also under XLA (the first call's extra time is mostly the compile);
    every sampling time is the median of `--repeats` calls (the machine is shared: each call's time is in
    "all_seconds", the 1-minute load average at the end in "load");
  * naive (the authors' scheme, the whole f per pixel, in a tf.while_loop like the fast one): the first
    `--naive_pixels` pixels, timed after an untimed traced call, extrapolated linearly to all pixels
    (every naive step costs the same: one pass of f over the whole canvas); then, in the same process, the
    fast sampler on the same model: the pixels both drew must be identical (same noise, same parameters;
    the largest difference of their mixture parameters is reported), so this process's peak memory is the
    larger of the two;
  * training: `--train_steps` Adam steps of compute_loss (f and the embedding head) at `--train_batch`,
    timed after one untimed step;
peak memory: the process's maximum resident set size (ru_maxrss), TensorFlow's allocations included.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model(config_name: str):
    import tensorflow as tf

    from configs.pic import get_config
    from pic.model import PICColorizer

    tf.keras.utils.set_random_seed(0)
    kwargs = {k: v for k, v in get_config(config_name).model.to_dict().items() if k != "name"}
    kwargs["dropout"] = 0.0
    return PICColorizer(**kwargs)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(what: str, config_name: str, args: argparse.Namespace) -> dict:
    import numpy as np
    import tensorflow as tf

    from pic.sampler import sample_chroma

    model = _model(config_name)
    res, low = model.resolution, model.low_resolution
    gray = np.random.default_rng(0).uniform(0.2, 0.8, (args.batch, res, res, 1)).astype(np.float32)
    out: dict = {"config": config_name, "what": what, "chroma": f"{low}x{low}", "batch": args.batch}
    if what in ("fast", "fast_xla", "naive"):
        pixels = low * low if what != "naive" else min(args.naive_pixels, low * low)
        method, jit = what.split("_")[0], what.endswith("xla")
        run = lambda: [
            t.numpy()
            for t in sample_chroma(model, gray, seed=1, method=method, num_pixels=pixels, jit_compile=jit)
        ]
        start = time.perf_counter()
        run()
        out["first_call_s"] = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ab, params = run()
            times.append(time.perf_counter() - start)
        seconds = float(np.median(times))
        out.update(pixels_timed=pixels, seconds=seconds, seconds_per_batch=seconds * low * low / pixels)
        out["all_seconds"] = [round(t, 4) for t in times]
        if what == "naive":  # the fast sampler on the same model in this process: the same draws?
            fast_ab, fast_params = sample_chroma(model, gray, seed=1, method="fast")
            first = lambda a: np.asarray(a).reshape(args.batch, low * low, -1)[:, :pixels]
            level = lambda a: np.round((first(a) + 1.0) * 127.5)
            out["same_samples"] = bool(np.array_equal(level(fast_ab), level(ab)))
            out["max_param_diff"] = float(np.abs(first(fast_params) - first(params)).max())
    else:
        opt = tf.keras.optimizers.Adam(1e-4, beta_1=0.95, beta_2=0.9995, epsilon=1e-6)
        rgb = np.random.default_rng(1).uniform(size=(args.train_batch, res, res, 3)).astype(np.float32)
        batch = {"gray": tf.constant(gray[:1].repeat(args.train_batch, 0)), "rgb": tf.constant(rgb)}

        @tf.function(autograph=False)
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model.compute_loss(batch, training=True)[0])
            variables = model.trainable_variables
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            return loss

        step().numpy()
        start = time.perf_counter()
        for _ in range(args.train_steps):
            step().numpy()
        seconds = (time.perf_counter() - start) / args.train_steps
        out.update(train_batch=args.train_batch, seconds_per_step=seconds)
    out["peak_rss_mib"] = _peak_mib()
    out["load"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default="cifar,imagenet")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--naive_pixels", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="timed sampling calls (the median is kept)")
    parser.add_argument("--train_batch", type=int, default=4)
    parser.add_argument("--train_steps", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="also time the fast sampler under XLA")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)  # "what:config": a child process
    args = parser.parse_args()
    if args.one:
        what, config_name = args.one.split(":")
        print(json.dumps(measure(what, config_name, args)))
        return

    rows = []
    for config_name in args.configs.split(","):
        for what in ("fast", "naive", "train") + (("fast_xla",) if args.xla else ()):
            cmd = [sys.executable, __file__, f"--one={what}:{config_name}"] + [
                a for a in sys.argv[1:] if not a.startswith("--one")
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
        f, nv, t = rows[-4:-1] if args.xla else rows[-3:]
        fx = rows[-1] if args.xla else None
        n, same = nv["pixels_timed"], nv["same_samples"]
        print(
            f"| {config_name} | {f['chroma']} | fast {f['seconds_per_batch']:.2f} s/batch "
            f"({f['peak_rss_mib']:.0f} MiB) | naive {nv['seconds_per_batch']:.1f} "
            f"s/batch extrapolated from {n} px ({nv['peak_rss_mib']:.0f} MiB) | speed-up "
            f"{nv['seconds_per_batch'] / f['seconds_per_batch']:.0f}x | same samples on {n} px: {same} "
            f"| train step (batch {t['train_batch']}) {t['seconds_per_step']:.2f} s "
            f"({t['peak_rss_mib']:.0f} MiB) | load {f['load']:.1f} / {nv['load']:.1f} |",
            flush=True,
        )
        if fx:
            xla_s, first_s = fx["seconds_per_batch"], fx["first_call_s"]
            print(f"  fast under XLA: {xla_s:.2f} s/batch, first call {first_s:.0f} s", flush=True)


if __name__ == "__main__":
    main()
