"""A real 2-process MultiWorkerMirroredStrategy run on 127.0.0.1 (TF_CONFIG), one CPU replica per worker.

Both workers must exit 0 with identical weights, equal (up to float rounding) to a one-device run on
the same global batches; only the chief (worker 0) writes checkpoints and the metrics log.
Run as a script, this file is one worker: python tests/common/test_train_multiworker.py OUT_DIR.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUM_STEPS = 6


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _worker(out_dir: str) -> None:
    from common.train import make_strategy, train
    from tests.common.test_train_loop import toy_config, toy_dataset_fn

    strategy = make_strategy("multi_worker")
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    result = train(
        toy_config(num_steps=NUM_STEPS, steps_per_call=2, checkpoint_every=4, grad_clip_norm=0.5),
        os.path.join(out_dir, "run"),
        dataset_fn=toy_dataset_fn(4),
        strategy=strategy,
    )
    np.savez(
        os.path.join(out_dir, f"weights_{index}.npz"),
        *[w.numpy() for w in result.state.model.weights],
        *[v.numpy() for v in result.state.ema.shadows],
    )
    with open(os.path.join(out_dir, f"info_{index}.json"), "w") as f:
        json.dump(
            {
                "replicas": strategy.num_replicas_in_sync,
                "step": result.step,
                "strategy": type(strategy).__name__,
            },
            f,
        )


def test_two_workers_on_localhost_end_with_identical_weights(tmp_path):
    from common.train import train
    from common.train.summaries import read_metrics_log
    from tests.common.test_train_loop import toy_config, toy_dataset_fn

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": REPO,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
        }
        log = open(tmp_path / f"worker_{i}.log", "w")
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, __file__, str(tmp_path)],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                log,
            )
        )
    try:
        codes = [p.wait(timeout=240) for p, _ in procs]
    finally:
        for p, log in procs:
            if p.poll() is None:
                p.kill()
            log.close()
    logs = [open(tmp_path / f"worker_{i}.log").read()[-2000:] for i in range(2)]
    assert codes == [0, 0], logs
    for i in range(2):
        with open(tmp_path / f"info_{i}.json") as f:
            # (MultiWorkerMirroredStrategy is TF's CollectiveAllReduceStrategy)
            assert json.load(f) == {
                "replicas": 2,
                "step": NUM_STEPS,
                "strategy": "CollectiveAllReduceStrategy",
            }
    w0, w1 = np.load(tmp_path / "weights_0.npz"), np.load(tmp_path / "weights_1.npz")
    assert len(w0.files) == len(w1.files) > 0
    for k in w0.files:
        np.testing.assert_array_equal(w0[k], w1[k])
    # Only the chief wrote a checkpoint and the log; the other worker's scratch copy is gone.
    run = tmp_path / "run"
    assert sorted(os.listdir(run / "checkpoints")) == sorted(
        [
            "checkpoint",
            "ckpt-4.index",
            "ckpt-4.data-00000-of-00001",
            "ckpt-6.index",
            "ckpt-6.data-00000-of-00001",
        ]
    )
    assert not [d for d in os.listdir(run) if d.startswith("tmp_")]
    rows = read_metrics_log(str(run / "metrics.jsonl"))
    assert [r["step"] for r in rows] == list(range(1, NUM_STEPS + 1))
    # And the same training as one device on the same global batches.
    single = train(
        toy_config(num_steps=NUM_STEPS, steps_per_call=2, checkpoint_every=4, grad_clip_norm=0.5),
        str(tmp_path / "single"),
        dataset_fn=toy_dataset_fn(4),
    )
    want = [w.numpy() for w in single.state.model.weights] + [v.numpy() for v in single.state.ema.shadows]
    for k, w in zip(w0.files, want, strict=True):
        np.testing.assert_allclose(w0[k], w, rtol=1e-5, atol=1e-6)
    single_rows = read_metrics_log(str(tmp_path / "single" / "metrics.jsonl"))
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in single_rows], rtol=1e-5)


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    _worker(sys.argv[1])
