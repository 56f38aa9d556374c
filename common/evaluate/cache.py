"""Per model and per image results of `colorize-evaluate`, on disk, so a rerun only does what is new.

Layout: OUTPUT/cache/<model key>/<image key>.<kind>.npz, one array "x" per file, written atomically (a
temporary file in the same folder renamed into place), so an interrupted run leaves whole files only.
  model key   "<name>-<12 hex>": a hash of everything a model's samples depend on (model name, weights
              and a fingerprint of their files, seed, temperature, top_k, frame size): a change of any of
              them gives a new key, never a stale hit.
  image key   the image's name made file-safe, plus a hash of its name and ground-truth pixels.
  kinds       "samples" (uint8 [S, size, size, 3]: a request for S' <= S samples reuses them),
              "bpd" (float64 [], bits/dim), "feat-<net>" (float32 [S, 2048], FID features of the samples).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from typing import Any

import numpy as np


def model_key(name: str, **settings: Any) -> str:
    """`name` + a hash of `settings` (JSON, keys sorted)."""
    blob = json.dumps({"name": name, **settings}, sort_keys=True, default=str)
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def weights_fingerprint(weights: str) -> str:
    """A hash of the files behind a Colorizer's `weights` text (its last ": "-separated part, when that is
    a path: names, sizes and modification times), so retrained weights at the same path get a new key."""
    path = weights.rsplit(": ", 1)[-1].strip()
    if not os.path.exists(path):
        return ""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path) if os.path.isdir(path) else [("", [], [path])]:
        dirnames.sort()
        for f in sorted(filenames):
            st = os.stat(os.path.join(dirpath, f))
            h.update(f"{os.path.join(dirpath, f)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def image_key(name: str, rgb: np.ndarray) -> str:
    h = hashlib.sha256(name.encode())
    h.update(np.ascontiguousarray(rgb).tobytes())
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[-80:]
    return f"{safe}-{h.hexdigest()[:10]}"


class SampleCache:
    """Reads and writes the files above under `root` (OUTPUT/cache)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, model: str, image: str, kind: str) -> str:
        return os.path.join(self.root, model, f"{image}.{kind}.npz")

    def load(self, model: str, image: str, kind: str) -> np.ndarray | None:
        """The stored array, or None when missing or unreadable (a damaged file is computed again)."""
        path = self.path(model, image, kind)
        if not os.path.isfile(path):
            return None
        try:
            with np.load(path) as f:
                return f["x"]
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def count(self, model: str, image: str, kind: str = "samples") -> int:
        """Length of the stored array's first axis (0 when missing or unreadable), read from the .npy
        header inside the .npz: nothing is decompressed beyond it."""
        import zipfile

        try:
            with zipfile.ZipFile(self.path(model, image, kind)) as z, z.open("x.npy") as f:
                major, _ = np.lib.format.read_magic(f)
                read = (
                    np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                )
                shape = read(f)[0]
            return int(shape[0]) if shape else 1
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return 0

    def load_samples(self, model: str, image: str, num_samples: int) -> np.ndarray | None:
        """uint8 [num_samples, size, size, 3] when at least that many are stored, else None."""
        x = self.load(model, image, "samples")
        return x[:num_samples] if x is not None and len(x) >= num_samples else None

    def save(self, model: str, image: str, kind: str, array: np.ndarray) -> None:
        path = self.path(model, image, kind)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, x=np.asarray(array))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
