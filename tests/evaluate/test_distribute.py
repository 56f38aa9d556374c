"""Sampling spread over 2 logical CPU devices and over 2 loopback workers (TF_CONFIG) gives the samples
of one device, for colorize-evaluate and for the colorize runner; each worker samples only its share and
worker 0 writes the report. The model is a stub with a variable read in XLA (tests/evaluate/stub_model.py).
Run as a script, this file is one process of those tests: python test_distribute.py MODE DATA OUT."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_worker_shard_from_tf_config():
    from common.evaluate.distribute import shard, worker_shard

    assert worker_shard({}) == (0, 1)
    cluster = {"chief": ["h:1"], "worker": ["h:2", "h:3"]}
    for task, expected in ((("chief", 0), (0, 3)), (("worker", 0), (1, 3)), (("worker", 1), (2, 3))):
        env = {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task[0], "index": task[1]}})}
        assert worker_shard(env) == expected
    with pytest.raises(ValueError, match="TF_CONFIG"):
        worker_shard({"TF_CONFIG": "{not json"})
    assert shard(list(range(7)), 1, 3) == [1, 4]


def _options(data: str, out: str):
    from common.evaluate.run import Options

    return Options(data=data, output=out, weights="stub:x", num_images=4, num_samples=2, size=16,
                   batch_size=1, resamples=10, wait_s=120, plots=False)  # fmt: skip


def _samples(out: str) -> dict[str, np.ndarray]:
    root = os.path.join(out, "cache")
    stub = [d for d in os.listdir(root) if d.startswith("stub-")][0]
    return {
        f: np.load(os.path.join(root, stub, f))["x"] for f in sorted(os.listdir(os.path.join(root, stub)))
    }


def _child(mode: str, data: str, out: str) -> None:
    from common.colorize import protocol

    protocol.MODELS["stub"] = "tests.evaluate.stub_model"
    if mode == "replicas":
        from common.evaluate.run import evaluate
        from common.train.strategy import make_strategy
        from tests.evaluate import stub_model

        strategy = make_strategy("mirrored", num_cpu_devices=2)
        report = evaluate(_options(data, out), strategy=strategy)
        with open(os.path.join(out, "devices.json"), "w") as f:
            json.dump({"devices": sorted(set(stub_model.DEVICES)), "images": report["num_images"]}, f)
        _colorize(data, os.path.join(out, "colorize"), strategy)
    else:
        from common.evaluate.run import evaluate

        report = evaluate(_options(data, out))
        with open(
            os.path.join(out, f"worker{json.loads(os.environ['TF_CONFIG'])['task']['index']}.json"), "w"
        ) as f:
            json.dump({"report": report is not None}, f)


def _colorize(data: str, out: str, strategy=None) -> None:
    """The `colorize` runner over the photos with the stub, on each replica device of `strategy` (a copy
    loaded under each device, as colorize_main does) or on one device."""
    import tensorflow as tf

    from common.colorize import inputs, runner
    from common.evaluate.distribute import replica_devices
    from tests.evaluate import stub_model

    replicas = []
    for d in replica_devices(strategy):
        with tf.device(d):
            replicas.append((d, stub_model.load("x")))
    found, _ = inputs.collect([data])
    opts = runner.Options(output=out, num_samples=2, contact_sheet=False, batch_size=1)
    summary = runner.run(replicas[0][1], found, [], opts, stream=io.StringIO(), replicas=replicas)
    assert summary.exit_code == 0 and summary.done == len(found)


def _pngs(folder: str) -> dict[str, np.ndarray]:
    from PIL import Image

    return {
        os.path.relpath(os.path.join(d, f), folder): np.asarray(Image.open(os.path.join(d, f)))
        for d, _, fs in os.walk(folder)
        for f in fs
    }


@pytest.fixture(scope="module")
def photos_and_reference(tmp_path_factory):
    """4 photos and the one-device, one-worker samples of them (in this process)."""
    from common.colorize import protocol
    from common.evaluate.run import evaluate
    from tests.evaluate.conftest import write_photos

    root = tmp_path_factory.mktemp("dist")
    write_photos(root / "photos", 4)
    saved = dict(protocol.MODELS)
    protocol.MODELS["stub"] = "tests.evaluate.stub_model"
    try:
        evaluate(_options(str(root / "photos"), str(root / "one")), stream=io.StringIO())
        _colorize(str(root / "photos"), str(root / "one" / "colorize"))
    finally:
        protocol.MODELS.clear()
        protocol.MODELS.update(saved)
    return root, _samples(str(root / "one"))


def _run(mode: str, data, out, **env) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": REPO, **env}
    return subprocess.Popen([sys.executable, __file__, mode, str(data), str(out)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_two_logical_cpu_devices_give_the_one_device_samples(photos_and_reference):
    root, expected = photos_and_reference
    proc = _run("replicas", root / "photos", root / "two")
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    info = json.loads((root / "two" / "devices.json").read_text())
    assert info["images"] == 4
    assert [d.rsplit("/", 1)[-1] for d in info["devices"]] == ["device:CPU:0", "device:CPU:1"], info
    got = _samples(str(root / "two"))
    assert got.keys() == expected.keys() and len(got) == 4
    for k in got:
        np.testing.assert_array_equal(got[k], expected[k])
    one, two = _pngs(str(root / "one" / "colorize")), _pngs(str(root / "two" / "colorize"))
    assert sorted(two) == sorted(one) and len(one) == 8  # colorize: 4 photos x 2 samples
    for name, pixels in one.items():
        np.testing.assert_array_equal(two[name], pixels)


def test_two_loopback_workers_share_the_photos_and_worker0_reports(photos_and_reference):
    root, expected = photos_and_reference
    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]}
    for s in socks:
        s.close()
    log = root / "seeds.log"
    procs = [
        _run("workers", root / "photos", root / "multi", STUB_LOG=str(log),
             TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        for i in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert json.loads((root / "multi" / "worker0.json").read_text()) == {"report": True}
    assert json.loads((root / "multi" / "worker1.json").read_text()) == {"report": False}
    lines = [line.split() for line in log.read_text().splitlines()]
    by_worker = {w: {s for ww, s in lines if ww == w} for w in ("0", "1")}
    assert len(by_worker["0"]) == len(by_worker["1"]) == 2 and not by_worker["0"] & by_worker["1"]
    got = _samples(str(root / "multi"))
    assert got.keys() == expected.keys()
    for k in got:
        np.testing.assert_array_equal(got[k], expected[k])
    assert (root / "multi" / "report.md").is_file()


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    _child(*sys.argv[1:4])
