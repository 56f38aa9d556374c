"""Where `colorize-evaluate`'s sampling runs: images sharded over workers, groups over local replicas.

Workers: the cluster of the `TF_CONFIG` variable (as the trainer's multi_worker strategy,
common/train/strategy.py): worker w of W samples the images i with i % W == w and writes them to the
shared cache; worker 0 (or the chief) then waits for every image and writes the report.
Replicas: the local devices of a tf.distribute strategy (`strategy.extended.worker_devices`: each GPU, or
the logical CPU devices of --num_cpu_devices); groups of images are handed to the devices in turn, one
thread per device, each under `tf.device`. Sampling needs no cross-replica communication, so the models
never see the strategy. An image's samples depend only on its own seed (common/colorize/protocol.
image_seed), so no sharding changes them.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def worker_shard(environ: dict[str, str] | None = None) -> tuple[int, int]:
    """(this worker's index, number of workers) from TF_CONFIG; (0, 1) without one. A "chief" task counts
    as worker 0 and the workers follow it."""
    raw = (environ if environ is not None else os.environ).get("TF_CONFIG", "")
    if not raw:
        return 0, 1
    try:
        config = json.loads(raw)
        cluster, task = config.get("cluster", {}), config.get("task", {})
        chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not a cluster description ({e})") from None
    if kind not in ("chief", "worker") or chiefs + workers == 0:
        raise ValueError(f"TF_CONFIG: task type {kind!r} cannot sample (need chief or worker tasks)")
    return (index if kind == "chief" else chiefs + index), chiefs + workers


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """items index, index + count, ... (this worker's share)."""
    return list(items[index::count])


def replica_devices(strategy: Any | None) -> list[str | None]:
    """The local devices of `strategy` (one None = TF's default placement)."""
    devices = list(getattr(getattr(strategy, "extended", None), "worker_devices", ()) or ())
    return devices if len(devices) > 1 else [None]


def map_on_devices(fn: Callable[[T, int], Any], groups: Sequence[T], devices: Sequence[str | None]) -> None:
    """fn(group, d) for every group, group k on device d = k % len(devices), the devices in parallel (one
    thread each, groups in order on each). The first exception is raised after the others finish."""
    import tensorflow as tf

    def on_device(d: int) -> None:
        for group in groups[d :: len(devices)]:
            if devices[d] is None:
                fn(group, d)
            else:
                with tf.device(devices[d]):
                    fn(group, d)

    if len(devices) == 1:
        on_device(0)
        return
    with concurrent.futures.ThreadPoolExecutor(len(devices)) as pool:
        for future in [pool.submit(on_device, d) for d in range(len(devices))]:
            future.result()
