"""What a person sees of a run: the per-step metrics log, the progress line and TensorBoard summaries.

<workdir>/metrics.jsonl  one JSON line per training step {"step", "time", "loss", <metrics>, "learning_rate"},
                         flushed at once; on resume, lines after the restored step are dropped, so the file
                         always reads like one uninterrupted run.
Both through `tf.io.gfile`: the workdir may be local, gs:// or ram://. (A bucket object cannot be appended
to in place: each flush uploads the whole file, so on a "scheme://" path the log is flushed at most every
`REMOTE_FLUSH_SECONDS` and whenever the trainer saves a checkpoint, not after every line.)
<workdir>/train/, eval/  TensorBoard event files (scalars every `log_every` steps, sample images every
                         `image_summary_every` steps).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

METRICS_FILE = "metrics.jsonl"
REMOTE_FLUSH_SECONDS = 60.0


def read_metrics_log(path: str) -> list[dict]:
    """Every complete line of a metrics log (a line cut short by a killed process is ignored)."""
    if not tf.io.gfile.exists(path):
        return []
    rows = []
    with tf.io.gfile.GFile(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


class MetricsLog:
    """Appends one JSON line per step to `path`; `keep_until_step` drops later lines first (resume)."""

    def __init__(self, path: str, keep_until_step: int) -> None:
        kept = [r for r in read_metrics_log(path) if r.get("step", 0) <= keep_until_step]
        with tf.io.gfile.GFile(path + ".tmp", "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in kept))
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
        self._file = tf.io.gfile.GFile(path, "a")
        self._remote = "://" in path
        self._flushed_at = time.monotonic()

    def write(self, step: int, values: Mapping[str, float]) -> None:
        row = {"step": int(step), "time": round(time.time(), 3)}
        row.update({k: float(v) for k, v in values.items()})
        self._file.write(json.dumps(row) + "\n")
        if not self._remote or time.monotonic() - self._flushed_at > REMOTE_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        self._flushed_at = time.monotonic()

    def close(self) -> None:
        self._file.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Formats "step 120/1000 (12.0%) | loss 3.2100 | bits_per_dim 3.2100 | 8.1 steps/s | ETA 0:01:48"."""

    def __init__(self, start_step: int, total_steps: int) -> None:
        self.total = total_steps
        self._last_step = start_step
        self._last_time = time.perf_counter()

    def line(self, step: int, values: Mapping[str, float]) -> tuple[str, float]:
        """The progress line for `step` and the speed in steps/s since the previous line."""
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_step, self._last_time = step, now
        parts = [f"step {step}/{self.total} ({100.0 * step / self.total:.1f}%)"]
        parts += [f"{k} {v:.4g}" if k == "learning_rate" else f"{k} {v:.4f}" for k, v in values.items()]
        parts += [f"{rate:.2f} steps/s", f"ETA {_duration((self.total - step) / max(rate, 1e-9))}"]
        return " | ".join(parts), rate


def _metadata(plugin: str, data_class: int) -> summary_pb2.SummaryMetadata:
    meta = summary_pb2.SummaryMetadata(data_class=data_class)
    meta.plugin_data.plugin_name = plugin
    return meta


# tf.summary.scalar / image live in the `tensorboard` package, which TensorFlow no longer installs; these
# write the same records with TensorFlow's core `tf.summary.write` (install tensorboard to view them).
_SCALAR = _metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
_IMAGE = _metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)


def write_scalars(writer: tf.summary.SummaryWriter, step: int, values: Mapping[str, float]) -> None:
    """One TensorBoard scalar per entry of `values` at `step`."""
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.write(name, tf.constant(value, tf.float32), metadata=_SCALAR)
    writer.flush()


def write_images(writer: tf.summary.SummaryWriter, step: int, name: str, images: np.ndarray) -> None:
    """Float images [N, H, W, 3] in [0, 1] as one TensorBoard image summary (PNG-encoded) at `step`."""
    pngs = [tf.io.encode_png(tf.image.convert_image_dtype(im, tf.uint8, saturate=True)) for im in images]
    height, width = images.shape[1:3]
    blob = tf.stack([tf.as_string(width), tf.as_string(height)] + pngs)
    with writer.as_default(step=step):
        tf.summary.write(name, blob, metadata=_IMAGE)
    writer.flush()


def sample_strip(gray: tf.Tensor, samples: tf.Tensor, truth: tf.Tensor | None = None) -> np.ndarray:
    """Rows of gray | sample 1 | ... | sample N | ground truth, as float32 [B, H, W * (N + 2), 3] in [0, 1].

    gray [B, H, W, 1]; samples [B, N, h, w, 3] (resized to H x W with nearest neighbours when smaller);
    truth [B, H', W', 3] or None.
    """
    gray = tf.convert_to_tensor(gray, tf.float32)
    size = gray.shape[1:3]
    tiles = [tf.image.grayscale_to_rgb(gray)]
    for i in range(samples.shape[1]):
        tiles.append(tf.image.resize(tf.cast(samples[:, i], tf.float32), size, method="nearest"))
    if truth is not None:
        tiles.append(tf.image.resize(tf.cast(truth, tf.float32), size, method="nearest"))
    return np.clip(tf.concat(tiles, axis=2).numpy(), 0.0, 1.0)
