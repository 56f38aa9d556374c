"""`colorize-evaluate` as a library call: photos, models, baselines -> samples (cached) -> figures.

    evaluate(Options(data="photos/", output="eval/", num_images=100, num_samples=4))

returns the report dict (report.py writes it as report.json, report.md and plots). Rows: every model of
`weights` (models.py), the gray and global-prior baselines (baselines.py) and the ground truth. Figures
and their bootstrap intervals: scores.py; FID: ColTran's protocol (REFERENCES.md: one sample per photo of
the first N photos against the next N real photos), with the network of fid_net.py.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any, TextIO

import numpy as np

from common.evaluate import baselines, distribute, figures, scores
from common.evaluate.cache import SampleCache, image_key, model_key, weights_fingerprint
from common.evaluate.data import take
from common.evaluate.models import Row, load_models
from common.evaluate.sampling import SampleSettings, missing, sample_model


@dataclasses.dataclass(frozen=True)
class Options:
    data: str
    output: str
    weights: str | None = None
    num_images: int = 100
    num_samples: int = 4
    size: int = 256  # the evaluation frame E x E (ColTran's output resolution)
    seed: int = 0
    temperature: float = 1.0
    top_k: int = 0
    batch_size: int = 8
    data_dir: str = ""
    prior: str = ""
    prior_data: str = ""
    inception_weights: str = ""
    resamples: int = scores.RESAMPLES
    fid_resamples: int = 100
    max_pixels: int = 180_000_000
    plots: bool = True
    wait_s: float = 3600.0  # how long worker 0 waits for the other workers' samples


def _prior_hash(model: Any) -> str:
    """The global-prior baseline's samples depend on its prior vector, whatever file it came from."""
    import hashlib

    prior = getattr(model, "prior", None)
    return (
        hashlib.sha256(np.asarray(prior, np.float64).tobytes()).hexdigest()[:16] if prior is not None else ""
    )


def _progress(total: int, stream: TextIO) -> Any:
    from common.colorize.runner import Progress

    return Progress(total, stream)


def evaluate(opts: Options, *, strategy: Any = None, stream: TextIO | None = None) -> dict[str, Any] | None:
    """Runs the evaluation; returns the report dict on worker 0, None on the other workers."""
    stream = stream or sys.stderr
    index, count = distribute.worker_shard()
    images, held_out, problems = take(
        opts.data,
        opts.num_images,
        opts.size,
        reference=opts.num_images if opts.inception_weights else 0,  # FID's held-out real photos
        data_dir=opts.data_dir,
        max_pixels=opts.max_pixels,
    )
    if not images:
        raise ValueError(f"--data={opts.data}: no readable photos")
    rows, skipped_models = load_models(opts.weights)
    prior, prior_source = baselines.load_prior(opts.prior, opts.prior_data, opts.size)
    rows.append(Row("gray", baselines.GrayColorizer(opts.size), deterministic=True))
    if prior is not None:
        rows.append(Row("global prior", baselines.PriorColorizer(prior, opts.size, prior_source)))
    for p in problems:
        stream.write(f"colorize-evaluate: {p}\n")
    cache = SampleCache(f"{opts.output}/cache")
    settings = SampleSettings(opts.num_samples, opts.seed, opts.temperature, opts.top_k, opts.batch_size)
    keys = {
        r.label: model_key(
            r.model.name,
            weights=r.model.weights,
            files=weights_fingerprint(r.model.weights),
            prior=_prior_hash(r.model),
            seed=opts.seed,
            size=opts.size,
            temperature=opts.temperature,
            top_k=opts.top_k,
        )
        for r in rows
    }
    mine = distribute.shard(images, index, count)
    todo = {r.label: missing(keys[r.label], mine, cache, opts.num_samples) for r in rows}
    progress = _progress(sum(len(t) for t in todo.values()), stream)
    devices = distribute.replica_devices(strategy)
    for r in rows:
        sample_model(
            r.replicas(devices) if todo[r.label] else [r.model],
            keys[r.label],
            mine,
            todo[r.label],
            cache,
            settings,
            devices=devices,
            tick=lambda name, r=r: progress.tick(f"{r.label}: {name}"),
            problem=lambda line: (problems.append(line), progress.line(f"colorize-evaluate: {line}")),
        )
    if index != 0:
        return None
    _wait_for_workers(rows, keys, images, cache, opts, stream, count)
    result = figures.compute(
        rows, keys, images, held_out, cache, opts, prior, prior_source, problems, skipped_models
    )
    _write(result, rows, keys, images, cache, opts, stream)
    return result


def _write(result, rows, keys, images, cache, opts, stream) -> None:
    """report.json, report.md and (with matplotlib) the plots, into opts.output."""
    from common.evaluate import plots, report

    reason = plots.available() if opts.plots else "--noplots"
    if reason is None:
        by_label = {r.label: keys[r.label] for r in rows}

        def samples(label: str, i: int) -> np.ndarray | None:
            return cache.load_samples(
                by_label[label], image_key(images[i].name, images[i].rgb), opts.num_samples
            )

        result["plots"] = plots.draw(result, opts.output, samples, [x.rgb for x in images])
    else:
        result["plots_skipped"] = reason
        stream.write(f"colorize-evaluate: plots skipped: {reason}\n")
    report.write(result, opts.output)


def _wait_for_workers(rows, keys, images, cache, opts, stream, count) -> None:
    if count == 1:
        return
    deadline = time.monotonic() + opts.wait_s
    while time.monotonic() < deadline:
        if not any(missing(keys[r.label], images, cache, opts.num_samples) for r in rows):
            return
        time.sleep(1.0)
    stream.write(
        f"colorize-evaluate: other workers did not finish in {opts.wait_s:.0f} s; reporting what is there\n"
    )
