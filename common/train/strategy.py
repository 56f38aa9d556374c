"""The distribution strategy: chosen here, and only here (models never see `tf.distribute`).

"default"       one device (TF's default strategy).
"mirrored"      synchronous data parallelism over every local GPU, or over the logical CPU devices made
                by `num_cpu_devices` (a way to test multi-replica code on a laptop).
"multi_worker"  `MultiWorkerMirroredStrategy` over the machines listed in the `TF_CONFIG` variable.
"tpu"           `TPUStrategy` on a Cloud TPU (`tpu`: "local" = the TPU VM this runs on, TF's resolver's
                name for it; or a TPU's name or grpc:// address, e.g. a TPU node seen from another VM).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
LOCAL_TPU = "local"  # TPUClusterResolver(tpu="local"): the TPU attached to this VM


def split_cpu(num_devices: int) -> None:
    """Splits the first physical CPU into `num_devices` logical devices /device:CPU:0..N-1.

    TensorFlow allows this only before it initialises its devices (before the first op or variable), so
    call it first thing in a process.
    """
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_devices
        )
    except RuntimeError as e:
        raise RuntimeError(
            f"cannot split the CPU into {num_devices} logical devices: TensorFlow already initialised its "
            "devices; split it before creating any tensor (e.g. pass --num_cpu_devices on the command line)"
        ) from e


def make_strategy(
    name: str = "default", *, tpu: str = LOCAL_TPU, num_cpu_devices: int = 0
) -> tf.distribute.Strategy:
    """The strategy called `name` (one of `STRATEGIES`); `num_cpu_devices` > 1 splits the CPU first."""
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r} is not one of {', '.join(STRATEGIES)}")
    if num_cpu_devices > 1:
        split_cpu(num_cpu_devices)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "--strategy=multi_worker needs the TF_CONFIG environment variable, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or LOCAL_TPU)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def task_info(strategy: tf.distribute.Strategy) -> tuple[str, int]:
    """(task type, task index) of this process; ("chief", 0) when the strategy has no cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "chief", 0
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the one process that writes checkpoints, logs and summaries (the chief or worker 0)."""
    task_type, task_id = task_info(strategy)
    if task_type == "chief":
        return True
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
        return task_type == "worker" and task_id == 0 and "chief" not in cluster
    return task_id == 0
