"""SIGTERM to one process of a run: every worker saves at the same step and exits 0 (no worker left
waiting in a collective), and the restarted run continues with the losses of an uninterrupted one.

Two MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG), and one process under MirroredStrategy
over 2 logical CPUs. Run as a script, this file is one training process:
python tests/common/test_train_preemption.py OUT_DIR STRATEGY SLOW (SLOW=1: 0.1 s per input element,
so that the run is still going when the signal arrives).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_STEPS = 40
SIGNAL_WAIT_S = 90  # bound on the time from SIGTERM to both processes' exit


def _config():
    from tests.common.test_train_loop import toy_config

    return toy_config(num_steps=NUM_STEPS, steps_per_call=1, checkpoint_every=5, log_every=5)


def _worker(out_dir: str, strategy_name: str, slow: bool) -> None:
    from common.train import make_strategy, train
    from tests.common.test_train_filesystem import with_hook
    from tests.common.test_train_loop import toy_dataset_fn

    strategy = make_strategy(strategy_name, num_cpu_devices=2 if strategy_name == "mirrored" else 0)
    data = toy_dataset_fn(4)
    if slow:
        data = with_hook(data, lambda i: time.sleep(0.1))
    result = train(_config(), os.path.join(out_dir, "run"), dataset_fn=data, strategy=strategy)
    index = json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"]
    with open(os.path.join(out_dir, f"info_{index}.json"), "w") as f:
        json.dump({"step": result.step}, f)


def _start(out_dir, strategy: str, slow: bool, num_workers: int) -> list[subprocess.Popen]:
    from tests.common.test_train_multiworker import _free_ports

    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(num_workers)]}
    procs = []
    for i in range(num_workers):
        env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if strategy == "multi_worker":
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        with open(os.path.join(out_dir, f"worker_{i}_{'slow' if slow else 'resume'}.log"), "w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, str(out_dir), strategy, str(int(slow))],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return procs


def _wait(procs: list[subprocess.Popen], timeout: float) -> list[int | None]:
    deadline = time.time() + timeout
    try:
        for p in procs:
            try:
                p.wait(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        return [p.poll() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def _logs(out_dir) -> str:
    names = sorted(n for n in os.listdir(out_dir) if n.endswith(".log"))
    return "\n".join(open(os.path.join(out_dir, n)).read()[-1500:] for n in names)


@pytest.mark.slow
@pytest.mark.parametrize("strategy,num_workers", [("multi_worker", 2), ("mirrored", 1)])
def test_sigterm_to_one_worker_saves_everywhere_and_resumes_exactly(tmp_path, strategy, num_workers):
    from common.train import train
    from common.train.checkpoint import checkpoint_step, latest_checkpoint
    from common.train.summaries import read_metrics_log
    from tests.common.test_train_loop import toy_dataset_fn

    run = str(tmp_path / "run")
    procs = _start(tmp_path, strategy, True, num_workers)
    deadline = time.time() + 240
    while time.time() < deadline and not os.path.exists(os.path.join(run, "checkpoints", "ckpt-5.index")):
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.1)
    target = procs[-1]  # worker 1 (not the chief) under multi_worker
    assert target.poll() is None, _logs(tmp_path)
    target.send_signal(signal.SIGTERM)
    signalled = time.time()
    codes = _wait(procs, SIGNAL_WAIT_S)
    assert codes == [0] * num_workers, (codes, time.time() - signalled, _logs(tmp_path))
    steps = []
    for i in range(num_workers):
        with open(tmp_path / f"info_{i}.json") as f:
            steps.append(json.load(f)["step"])
    assert len(set(steps)) == 1 and 5 <= steps[0] < NUM_STEPS, steps  # all stopped at the same step
    assert checkpoint_step(latest_checkpoint(run)) == steps[0]  # and saved it
    assert not [d for d in os.listdir(run) if d.startswith("tmp_")]

    codes = _wait(_start(tmp_path, strategy, False, num_workers), 240)
    assert codes == [0] * num_workers, _logs(tmp_path)
    rows = read_metrics_log(os.path.join(run, "metrics.jsonl"))
    assert [r["step"] for r in rows] == list(range(1, NUM_STEPS + 1))
    single = train(_config(), str(tmp_path / "single"), dataset_fn=toy_dataset_fn(4))
    assert single.step == NUM_STEPS
    want = read_metrics_log(str(tmp_path / "single" / "metrics.jsonl"))
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in want], rtol=1e-5)


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    _worker(sys.argv[1], sys.argv[2], sys.argv[3] == "1")


def test_ctrl_c_in_one_process_saves_and_stops(tmp_path):
    """SIGINT (Ctrl-C) under the default strategy: the run returns at a saved step, the handler is gone."""
    from common.train import train
    from common.train.checkpoint import checkpoint_step, latest_checkpoint
    from tests.common.test_train_filesystem import with_hook
    from tests.common.test_train_loop import toy_dataset_fn

    def hook(i: int) -> None:
        if i == 3:
            os.kill(os.getpid(), signal.SIGINT)
        if i >= 3:
            time.sleep(0.2)

    before = signal.getsignal(signal.SIGINT)
    result = train(_config(), str(tmp_path), dataset_fn=with_hook(toy_dataset_fn(4), hook))
    assert 3 <= result.step < NUM_STEPS
    assert (
        checkpoint_step(latest_checkpoint(str(tmp_path))) == result.step == checkpoint_step(result.checkpoint)
    )
    assert signal.getsignal(signal.SIGINT) is before
