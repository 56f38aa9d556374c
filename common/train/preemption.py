"""Stopping on SIGTERM / SIGINT: every worker saves at the same step and returns; none waits forever.

With several workers (MultiWorkerMirroredStrategy) a signal reaches one process, and a worker that saved
and left on its own would leave its peers blocked in the next collective. TensorFlow's
`tf.distribute.experimental.PreemptionCheckpointHandler` solves that: the signalled worker publishes
"save after call k + 1" through the cluster's coordination service, every worker's watcher thread
acknowledges it, and all of them save at that call and stop. Here it runs with a `TerminationConfig`
whose watcher is our SIGTERM / SIGINT event (polled once a second), whose `save_fn` is the trainer's own
save (the chief writes the checkpoint, the others a scratch copy they delete), and whose `exit_fn`
returns control to the trainer instead of calling sys.exit. The same path serves one process (default
and mirrored strategies; "local mode"), where it stops one call after the signal is seen.

Where the handler does nothing (TF leaves Cloud TPU VMs and GCP CPU VMs to the platform, and TPUStrategy
is one process per host), the trainer stops after the current call by itself, as before.

A process keeps one handler for its lifetime under multi-worker (its coordination keys are cluster-wide);
`colorize-train` calls `train` once per process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import tensorflow as tf
from absl import logging

# Platforms on which TF 2.21's handler is a no-op (failure_handling_util.PlatformDevice values).
_NO_OP_PLATFORMS = ("GCE_CPU", "GCE_TPU")


class _Stop(Exception):
    """Raised by the handler's exit_fn, after the save, to leave `PreemptionCheckpointHandler.run`."""


class Preemption:
    """Runs training calls so that a stop signal to any worker makes every worker save and stop.

    Args:
      strategy: the training strategy (its `cluster_resolver`, if any, names this worker).
      manager: the run's CheckpointManager (only its directory is used, to name an empty one for TF).
      save: step -> checkpoint path (or None on workers that do not keep one); every worker calls it.
    Use `run(step, fn, *args)` for each training call; it returns None once the run saved and must stop.
    """

    def __init__(
        self,
        strategy: tf.distribute.Strategy,
        manager: tf.train.CheckpointManager,
        save: Callable[[int], str | None],
    ) -> None:
        self.event = threading.Event()  # set by SIGTERM / SIGINT
        self.stopped = False
        self.saved: str | None = None
        self._save, self._step = save, 0
        self._handler = None
        if isinstance(strategy, tf.distribute.TPUStrategy):
            return
        # grace_period=0: save and stop at once (on GCP GPU VMs TF would otherwise keep training for an hour).
        config = tf.distribute.experimental.TerminationConfig(
            termination_watcher_fn=self.event.is_set,
            exit_fn=self._exit,
            grace_period=0,
            save_fn=self._save_now,
        )
        # The handler wants a CheckpointManager to restore on creation and to add its run counter to; the
        # trainer restores its own state and saves through `save_fn`, so it gets an empty Checkpoint over
        # a folder that holds none (never created: nothing is written through this manager).
        probe = tf.train.CheckpointManager(
            tf.train.Checkpoint(), os.path.join(manager.directory, "unused"), max_to_keep=1
        )
        handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            getattr(strategy, "cluster_resolver", None), probe, termination_config=config
        )
        if getattr(handler, "_platform_device", None) is not None and handler._platform_device.name in (
            _NO_OP_PLATFORMS
        ):
            logging.warning("PreemptionCheckpointHandler is inactive here: a signal stops this worker only.")
            return
        self._handler = handler

    def _save_now(self, *args: Any, **kwargs: Any) -> None:
        self.saved = self._save(self._step)

    def _exit(self) -> None:
        raise _Stop()

    def run(self, step: int, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` (a training call starting at `step`), or None when every worker saved at `step`."""
        self._step = step
        if self._handler is None:
            if self.event.is_set():
                self._save_now()
                self.stopped = True
                return None
            return fn(*args)
        try:
            return self._handler.run(fn, *args)
        except _Stop:
            self.stopped = True
            return None

    def close(self) -> None:
        """Stops the handler's watcher threads (TF leaves that to __del__, which may never run). The signal
        poller ends by itself within its 1 s sleep, so it is told to stop but not waited for."""
        if self._handler is not None:
            poller_stop = getattr(self._handler, "_poll_termination_signal_thread_should_stop", None)
            if poller_stop is not None:
                poller_stop.set()
                self._handler._poll_termination_signal_thread = None  # so __del__ does not join it
            self._handler._stop_cluster_wise_termination_watcher_thread()
            self._handler = None


@contextlib.contextmanager
def watch(
    strategy: tf.distribute.Strategy,
    manager: tf.train.CheckpointManager,
    save: Callable[[int], str | None],
) -> Iterator[Preemption]:
    """A `Preemption` whose event SIGTERM / SIGINT set while the block runs (first signal only; a second
    one acts as usual). Signal handlers can only be installed from the main thread; elsewhere the event
    is never set by a signal."""
    guard = Preemption(strategy, manager, save)
    previous = {}

    def handler(signum, frame):
        logging.warning("Received signal %d: all workers save a checkpoint and stop.", signum)
        guard.event.set()
        signal.signal(signum, previous[signum])

    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield guard
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        guard.close()
