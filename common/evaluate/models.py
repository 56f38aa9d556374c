"""`--weights=A[,B,...]` -> the models `colorize-evaluate` compares, named by the colorize MODELS registry.

An entry is `model:path` (model one of common/colorize/protocol.MODELS, e.g. `coltran:runs/exp1`) or a bare
path, which each registered model's `load` is offered in registry order until one accepts it. Without
`--weights`, every registered model's embedded default (`load(None)`); a model without one is listed as
skipped with its own reason. Nothing here knows any model by name.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable

from common.colorize.protocol import MODELS, Colorizer


@dataclasses.dataclass
class Row:
    """One row of the report: a display label and the loaded Colorizer."""

    label: str
    model: Colorizer
    deterministic: bool = False  # one colouring per photo whatever the seed (no diversity figure)
    reload: Callable[[], Colorizer] | None = None  # a fresh copy (one per replica device); None: share

    def replicas(self, devices: list[str | None]) -> list[Colorizer]:
        """One model per device, each loaded under `tf.device` so that its variables live there (an XLA
        sampler cannot read variables of another device); the loaded model itself on one device."""
        if len(devices) == 1 or self.reload is None:
            return [self.model] * len(devices)
        import tensorflow as tf

        out = []
        for d in devices:
            with tf.device(d):
                out.append(self.reload())
        return out


def _load(name: str, weights: str | None) -> Colorizer:
    return importlib.import_module(MODELS[name]).load(weights)


def _label(name: str, weights: str | None) -> str:
    if weights is None:
        return f"{name} (default)"
    return f"{name} ({os.path.basename(os.path.normpath(weights)) or weights})"


def load_models(spec: str | None) -> tuple[list[Row], list[str]]:
    """(rows, skipped lines). A bad --weights entry raises ValueError (one line naming it)."""
    rows: list[Row] = []
    skipped: list[str] = []
    if not spec:
        for name in MODELS:
            try:
                rows.append(Row(_label(name, None), _load(name, None), reload=lambda n=name: _load(n, None)))
            except (ValueError, FileNotFoundError) as e:
                skipped.append(f"{name}: no default model ({e})")
        return rows, skipped
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        name, sep, path = entry.partition(":")
        if sep and name in MODELS:
            try:
                rows.append(
                    Row(_label(name, path), _load(name, path), reload=lambda n=name, p=path: _load(n, p))
                )
            except (ValueError, FileNotFoundError) as e:
                raise ValueError(f"--weights entry {entry!r}: {e}") from None
            continue
        reasons = []
        for name in MODELS:
            try:
                model = _load(name, entry)
                rows.append(Row(_label(name, entry), model, reload=lambda n=name, p=entry: _load(n, p)))
                break
            except (ValueError, FileNotFoundError) as e:
                reasons.append(f"{name}: {e}")
        else:
            raise ValueError(f"--weights entry {entry!r}: no model loads it ({'; '.join(reasons)})")
    labels = [r.label for r in rows]
    for i, r in enumerate(rows):  # the same folder name twice: number them
        if labels.count(r.label) > 1:
            r.label = f"{r.label} #{labels[: i + 1].count(r.label)}"
    return rows, skipped
