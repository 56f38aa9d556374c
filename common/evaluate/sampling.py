"""Samples, bits/dim and FID features of one model over the evaluation photos, through the cache.

A photo's samples: its E x E ground-truth frame's luminance Y, squashed to each of the model's input
squares (common/colorize/imageio.squash, as `colorize` does), coloured by the model with the photo's own
seed (image_seed(seed, name)), and un-squashed back to E x E keeping Y (imageio.unsquash). So every
model, at whatever resolution it works, is scored on the same E x E pixels with the true luminance.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from common.colorize import imageio
from common.colorize.protocol import Colorizer, Job, image_seed
from common.evaluate.cache import SampleCache, image_key
from common.evaluate.data import EvalImage
from common.evaluate.distribute import map_on_devices


@dataclasses.dataclass(frozen=True)
class SampleSettings:
    num_samples: int = 4
    seed: int = 0
    temperature: float = 1.0
    top_k: int = 0
    batch_size: int = 8


def luminance(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> Y float32 [H, W] in [0, 1] (BT.601, as `colorize` reads photos)."""
    from common.color import rgb_to_gray_np

    return rgb_to_gray_np(np.asarray(rgb, np.float32) / 255.0)[..., 0]


def colour_images(model: Colorizer, images: Sequence[EvalImage], s: SampleSettings) -> list[np.ndarray]:
    """uint8 [S, E, E, 3] per image (no cache)."""
    ys = [luminance(x.rgb) for x in images]
    jobs = [
        Job({r: imageio.squash(y, r) for r in model.input_sizes}, image_seed(s.seed, x.name))
        for x, y in zip(images, ys, strict=True)
    ]
    out = [np.zeros((s.num_samples, *x.rgb.shape), np.uint8) for x in images]
    for d in model.colorize(
        jobs, num_samples=s.num_samples, temperature=s.temperature, top_k=s.top_k, batch_size=s.batch_size
    ):
        out[d.job][d.sample] = imageio.unsquash(ys[d.job], d.rgb)
    return out


def missing(key: str, images: Sequence[EvalImage], cache: SampleCache, num_samples: int) -> list[EvalImage]:
    """The photos whose samples (num_samples of them) are not in the cache yet."""
    return [x for x in images if cache.count(key, image_key(x.name, x.rgb)) < num_samples]


def sample_model(
    models: Sequence[Colorizer],
    key: str,
    images: Sequence[EvalImage],
    todo: Sequence[EvalImage],
    cache: SampleCache,
    s: SampleSettings,
    *,
    devices: Sequence[str | None] = (None,),
    tick: Callable[[str], None] = lambda what: None,
    problem: Callable[[str], None] = lambda line: None,
) -> None:
    """Fills the cache with the model's samples of `todo` (from `missing`) and, when it has a
    likelihood, the bits/dim of those of `images` that lack one. Groups of batch_size photos go to the
    devices in turn, models[d] (a copy whose variables are on devices[d]) sampling on device d. A failing
    group is reported via `problem` (one line) and its photos stay missing; the others go on."""
    from common.colorize.protocol import likelihood_of

    model = models[0]
    with_bpd = likelihood_of(model) is not None
    lock = threading.Lock()

    def run(group: list[EvalImage], d: int) -> None:
        try:
            samples = colour_images(models[d], group, s)
        except Exception as e:  # the model failed on this group: report, go on
            with lock:
                problem(f"{model.name}: {', '.join(x.name for x in group)}: {type(e).__name__}: {e}"[:500])
            return
        for x, smp in zip(group, samples, strict=True):
            cache.save(key, image_key(x.name, x.rgb), "samples", smp)
            with lock:
                tick(x.name)

    groups = [todo[i : i + s.batch_size] for i in range(0, len(todo), s.batch_size)]
    map_on_devices(run, groups, devices)
    lacking = [x for x in images if with_bpd and not cache.count(key, image_key(x.name, x.rgb), "bpd")]
    for start in range(0, len(lacking), s.batch_size):
        chunk = lacking[start : start + s.batch_size]
        try:
            bpd = model.bits_per_dim(np.stack([x.rgb for x in chunk]))
        except Exception as e:  # the likelihood failed on this group: report, go on
            problem(
                f"{model.name} bits/dim: {', '.join(x.name for x in chunk)}: {type(e).__name__}: {e}"[:500]
            )
            continue
        for x, b in zip(chunk, bpd, strict=True):
            cache.save(key, image_key(x.name, x.rgb), "bpd", np.asarray(b, np.float64))


def features(
    net: Any,
    net_key: str,
    key: str,
    images: Sequence[EvalImage],
    cache: SampleCache,
    frames: Callable[[EvalImage], np.ndarray],
    batch_size: int = 50,
) -> np.ndarray:
    """FID features float64 [N, 2048] of one frame per image (`frames(image)` uint8 [E, E, 3]), cached
    under (key, image, "feat-<net_key>"); the missing ones computed `batch_size` images at a time."""
    kind = f"feat-{net_key}"
    found = [cache.load(key, image_key(x.name, x.rgb), kind) for x in images]
    missing = [i for i, f in enumerate(found) if f is None]
    for start in range(0, len(missing), batch_size):
        idx = missing[start : start + batch_size]
        feats = net(np.stack([frames(images[i]) for i in idx]))
        for i, f in zip(idx, feats, strict=True):
            found[i] = f.astype(np.float32)
            cache.save(key, image_key(images[i].name, images[i].rgb), kind, found[i])
    return np.stack([np.asarray(f, np.float64) for f in found]) if found else np.zeros((0, 2048))
