"""The `colorize` loop, whatever the model: batches, resume, progress, summary, exit code.

For each input image NAME (common/colorize/inputs.py) it writes, under the output folder,
    NAME_sample0.png ... NAME_sample{N-1}.png   the colourings at the image's own size, its luminance kept
    NAME_sheet.png                              contact sheet: gray | samples | uncertainty (optional)
An image whose outputs all exist is skipped (so a second run resumes an interrupted one); every file is
written atomically (common/colorize/imageio.py). Images are read `batch_size` at a time, squashed to the
model's squares and handed to the model together; the full-resolution work (luminance, chroma resize,
join, encoding) is done one image and one sample at a time, in row strips, so memory is about 16 bytes
per pixel of the largest image plus the model's (which grows with batch_size, not with num_samples).
Between the two passes the luminance of images up to KEEP_PIXELS pixels is kept; larger ones are read
again. A bad input gets one line on stderr and the others go on; the exit code is 1 if any failed.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from typing import Any, TextIO

import numpy as np

from common.colorize import imageio
from common.colorize.inputs import Input
from common.colorize.protocol import MODELS, Colorizer, Job, image_seed

KEEP_PIXELS = 1 << 22  # 4 megapixels: 16 MB of luminance per image kept between the passes
SHEET_TILE = 192  # contact sheet tile height


def load_model(name: str, weights: str | None) -> Colorizer:
    """--model, --weights -> a Colorizer; the module's own error (one line) for weights it cannot load."""
    import importlib

    return importlib.import_module(MODELS[name]).load(weights)


def library_version() -> str:
    for dist in ("probabilistic-colorization", "colorize"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


@dataclasses.dataclass(frozen=True)
class Options:
    output: str
    num_samples: int = 4
    seed: int = 0
    temperature: float = 1.0
    top_k: int = 0
    contact_sheet: bool = True
    format: str = "png"
    batch_size: int = 8
    max_pixels: int = 180_000_000
    overwrite: bool = False
    jpeg_quality: int = 95


@dataclasses.dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def output_paths(name: str, opts: Options) -> list[str]:
    """The files of one image: its samples, then its contact sheet."""
    base = os.path.join(opts.output, *name.split("/"))
    paths = [f"{base}_sample{n}.{opts.format}" for n in range(opts.num_samples)]
    return paths + ([f"{base}_sheet.png"] if opts.contact_sheet else [])


class Progress:
    """A bar over images with rate and ETA on stderr (one line per image when stderr is not a terminal)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.count, self.stream = total, 0, stream
        self.lock = threading.RLock()  # ticks may come from several threads (one per replica device)
        self.start = time.monotonic()
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def line(self, text: str) -> None:
        """A message line that the bar does not overwrite."""
        with self.lock:
            self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
            self.redraw()

    def tick(self, what: str) -> None:
        with self.lock:
            self.count += 1
            self.redraw(what)

    def redraw(self, what: str = "") -> None:
        if not self.total or (not self.tty and not what):
            return
        elapsed = time.monotonic() - self.start
        rate = self.count / elapsed * 60 if elapsed > 0 and self.count else 0.0
        left = (self.total - self.count) / (rate / 60) if rate else float("nan")
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if np.isfinite(left) else "--:--:--"
        filled = int(30 * self.count / self.total)
        bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} images"
        bar += f", {rate:.1f}/min, ETA {eta}"
        if self.tty:
            self.stream.write("\r\033[K" + bar + ("\n" if self.count == self.total else ""))
        else:
            self.stream.write(f"{bar}  {what}\n")
        self.stream.flush()


def _squares(y: np.ndarray, sizes: Sequence[int]) -> dict[int, np.ndarray]:
    return {s: imageio.squash(y, s) for s in sizes}


def run(
    model: Colorizer,
    inputs: Sequence[Input],
    problems: Sequence[str],
    opts: Options,
    *,
    prog: str = "colorize",
    stream: TextIO | None = None,
    replicas: Sequence[tuple[str | None, Colorizer]] = (),
) -> Summary:
    """Colours `inputs` (see the module docstring); `problems`: lines about arguments already found bad.
    `replicas`: (device, a copy of the model loaded on it) pairs; groups of images go to them in turn, in
    parallel (common/evaluate/distribute.py). An image's colourings do not depend on its device."""
    from common.evaluate.distribute import map_on_devices

    stream = stream or sys.stderr
    replicas = list(replicas) or [(None, model)]
    summary = Summary(failed=len(problems))
    for p in problems:
        stream.write(f"{prog}: {p}\n")
    todo = []
    for inp in inputs:
        if not opts.overwrite and all(os.path.exists(p) for p in output_paths(inp.name, opts)):
            summary.skipped += 1
        else:
            todo.append(inp)
    progress = Progress(len(todo), stream)
    base_provenance = {
        "model": model.name,
        "weights": model.weights,
        "seed": opts.seed,
        "temperature": opts.temperature,
        "top_k": opts.top_k,
        "num_samples": opts.num_samples,
        "library_version": library_version(),
    }

    lock = progress.lock  # the summary too is shared by the replicas' threads

    def fail(inp: Input, why: str) -> None:
        with lock:
            summary.failed += 1
            progress.line(f"{prog}: {why}")
            progress.tick(f"failed {inp.path}")

    def colour(start: int, d: int) -> None:
        model = replicas[d][1]
        group, jobs, kept = [], [], []
        for inp in todo[start : start + opts.batch_size]:
            try:
                y = imageio.read_luminance(inp.path, opts.max_pixels)
            except imageio.BadImage as e:
                fail(inp, str(e))
                continue
            group.append(inp)
            jobs.append(Job(_squares(y, model.input_sizes), image_seed(opts.seed, inp.name)))
            kept.append(y if y.size <= KEEP_PIXELS else None)
            del y
        if group:
            _colour_group(model, group, jobs, kept, opts, base_provenance, summary, progress, fail, lock)

    map_on_devices(colour, range(0, len(todo), opts.batch_size), [d for d, _ in replicas])
    progress.stream.write(
        f"{prog}: {summary.done} done, {summary.skipped} skipped (outputs exist), {summary.failed} failed"
        f" -> {opts.output}\n"
    )
    return summary


def _colour_group(
    model: Colorizer,
    group: list[Input],
    jobs: list[Job],
    kept: list[np.ndarray | None],
    opts: Options,
    base_provenance: dict[str, Any],
    summary: Summary,
    progress: Progress,
    fail: Any,
    lock: Any,
) -> None:
    """The model over one group of images; each image's files are written as its samples arrive."""
    current, y, tiles, probs = -1, None, [], []
    bad = set()
    finished = set()
    draws = model.colorize(
        jobs,
        num_samples=opts.num_samples,
        temperature=opts.temperature,
        top_k=opts.top_k,
        batch_size=opts.batch_size,
    )
    try:
        for draw in draws:
            inp = group[draw.job]
            if draw.job in bad:
                continue
            paths = output_paths(inp.name, opts)
            if draw.job != current:
                current, tiles, probs = draw.job, [], []
                y = kept[draw.job]
                kept[draw.job] = None
                if y is None:
                    try:
                        y = imageio.read_luminance(inp.path, opts.max_pixels)
                    except imageio.BadImage as e:  # changed since the first read
                        bad.add(draw.job)
                        fail(inp, str(e))
                        continue
            provenance = {
                **base_provenance,
                "input": inp.path,
                "name": inp.name,
                "image_seed": jobs[draw.job].seed,
                "sample": draw.sample,
            }
            image = imageio.unsquash(y, draw.rgb)
            imageio.write_image(image, paths[draw.sample], provenance, quality=opts.jpeg_quality)
            if opts.contact_sheet:
                tiles.append(imageio.thumbnail(image, SHEET_TILE))
                if draw.uncertainty is not None:
                    probs.append(np.clip(draw.uncertainty, 0.0, 1.0))
            del image
            if draw.sample == opts.num_samples - 1:
                if opts.contact_sheet:
                    _write_sheet(y, tiles, probs, paths[-1], {**provenance, "sample": None})
                y = None
                finished.add(draw.job)
                with lock:
                    summary.done += 1
                    progress.tick(paths[0])
    except Exception as e:  # the model failed: the group's unfinished images fail, the run goes on
        reason = f"{type(e).__name__}: {e}".replace("\n", " ")[:500]
        for j, inp in enumerate(group):
            if j not in finished and j not in bad:
                fail(inp, f"{inp.path}: the model failed: {reason}")


def _write_sheet(y: np.ndarray, tiles: list, probs: list, path: str, provenance: dict) -> None:
    from PIL import Image

    from common.contact_sheet import contact_sheet

    gray = imageio.thumbnail(y, SHEET_TILE)
    size = (gray.shape[1], gray.shape[0])  # the maps are of the squashed frame: shown at the photo's shape
    maps = [np.asarray(Image.fromarray(p.astype(np.float32)).resize(size, Image.NEAREST)) for p in probs]
    row = [gray, *tiles, *maps]
    labels = (
        ["gray"] + [f"sample {n}" for n in range(len(tiles))] + [f"max prob {n}" for n in range(len(probs))]
    )
    imageio.write_image(contact_sheet([row], labels, tile_height=SHEET_TILE), path, provenance)
