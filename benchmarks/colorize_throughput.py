"""Images per minute of `colorize` (the command's own runner, in one process) at batch 1 and 8.

    python benchmarks/colorize_throughput.py --sizes=default,paper --batch_sizes=1,8 --num_images=8

Sizes: `default` = the embedded default models (coltran/assets/default); `paper` = the paper configs
(configs/coltran_*.py) with random weights (speed does not depend on their values), written once to a
temporary folder of the three work directories. Photos: the package's four bundled photos, repeated to
`--num_images` (each output name distinct, so none is skipped). Per size: one untimed run of the whole
list (tracing, XLA compiles), then `--repeats` rounds alternating the batch sizes, each a full run into
a fresh output folder (decode, model, writing the samples and the contact sheet); the fastest round of
each batch size is kept. Prints a Markdown table with the ratio batch 8 / batch 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from coltran.export_spec import STAGES  # noqa: E402
from common.colorize.inputs import Input  # noqa: E402
from common.colorize.runner import Options, load_model, run  # noqa: E402
from common.data.photos import BUNDLED_PHOTOS, PHOTOS_DIR  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _paper_weights(root: str) -> str:
    from common.registry import build_model
    from common.train import load_config, save_model_checkpoint
    from common.train.state import example_batch

    for stage in STAGES:
        config = load_config(os.path.join(REPO, "configs", f"{stage}.py"))
        model = build_model(config)
        model.compute_loss(example_batch(model), training=False)  # creates the variables
        save_model_checkpoint(model, os.path.join(root, stage), 0, config=config)
    return root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="default,paper")
    p.add_argument("--batch_sizes", default="1,8")
    p.add_argument("--num_images", type=int, default=8)
    p.add_argument("--num_samples", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    photos = [os.path.join(PHOTOS_DIR, f) for f in BUNDLED_PHOTOS]
    inputs = [Input(photos[i % len(photos)], f"img{i}") for i in range(a.num_images)]
    batches = [int(b) for b in a.batch_sizes.split(",")]
    tmp = tempfile.mkdtemp(prefix="colorize_bench_")
    rows = []
    try:
        for size in a.sizes.split(","):
            weights = None if size == "default" else _paper_weights(os.path.join(tmp, "paper"))
            model = load_model("coltran", weights)

            def once(batch: int, tag: str, size: str = size, model=model) -> float:
                out = os.path.join(tmp, f"out_{size}_{batch}_{tag}")
                opts = Options(output=out, num_samples=a.num_samples, batch_size=batch, seed=0)
                start = time.perf_counter()
                summary = run(model, inputs, [], opts, stream=open(os.devnull, "w"))
                took = time.perf_counter() - start
                assert summary.done == len(inputs), summary
                shutil.rmtree(out)
                return took

            for b in batches:
                print(f"{size}: warm-up batch {b}: {once(b, 'warm'):.1f} s", flush=True)
            best = {b: float("inf") for b in batches}
            for r in range(a.repeats):
                for b in batches:
                    best[b] = min(best[b], once(b, str(r)))
            for b in batches:
                ipm = 60.0 * len(inputs) / best[b]
                rows.append((size, b, best[b], ipm, best[batches[0]] / best[b]))
                print(f"{size} batch {b}: {best[b]:.1f} s for {len(inputs)} images = {ipm:.2f} images/min",
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n| model | batch | s for {a.num_images} images ({a.num_samples} sample each) | images/min "
          f"| speed vs batch {batches[0]} |\n| --- | --- | --- | --- | --- |")
    for size, b, s, ipm, ratio in rows:
        print(f"| {size} | {b} | {s:.1f} | {ipm:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
