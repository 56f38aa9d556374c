"""Shared by the `colorize-evaluate` tests: tiny ColTran work directories (random weights; the colorize
tests' fixture), small photo folders, and a synthetic stand-in for the TF FID Inception GraphDef."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.colorize.conftest import photo, workdirs  # noqa: F401  (a session fixture, re-exported)

FEATURES = 8  # the synthetic graph's pool_3 width


def write_synthetic_inception(path: Path) -> Path:
    """A GraphDef with the tensor names the TF FID code uses: a uint8 image -> `ExpandDims` (float
    [1, H, W, 3] in 0..255) -> resize, scale, a random 3x3 conv + ReLU -> `pool_3` [N, 1, 1, FEATURES]."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.uint8, [None, None, 3], name="DecodeJpeg")
        e = tf.expand_dims(tf.cast(x, tf.float32), 0, name="ExpandDims")
        r = tf.compat.v1.image.resize_bilinear(e, [19, 19], name="ResizeBilinear")
        m = tf.multiply(tf.subtract(r, 128.0, name="Sub"), 1 / 128.0, name="Mul")
        k = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 3, FEATURES)).astype(np.float32))
        c = tf.nn.relu(tf.nn.conv2d(m, k, 1, "VALID"))
        tf.nn.avg_pool2d(c, 17, 1, "VALID", name="pool_3")
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


@pytest.fixture(scope="session")
def inception_pb(tmp_path_factory) -> Path:
    return write_synthetic_inception(tmp_path_factory.mktemp("fid") / "classify_image_graph_def.pb")


def write_photos(folder: Path, count: int, start: int = 0, size: tuple[int, int] = (40, 52)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        paths.append(folder / f"p{i:02d}.png")
        Image.fromarray(photo(*size, seed=i)).save(paths[-1])
    return paths
