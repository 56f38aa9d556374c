"""The standard TF FID Inception route on a synthetic GraphDef with the real file's tensor names (the real
`classify_image_graph_def.pb` cannot be downloaded here): batched TF2 features equal a TF1 session feeding
`ExpandDims:0` one image at a time, as the TF FID code does; bad files are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.evaluate import fid_net
from tests.evaluate.conftest import FEATURES


def test_features_equal_the_tf1_session_route(inception_pb):
    images = np.random.default_rng(0).integers(0, 256, (3, 20, 24, 3)).astype(np.uint8)
    net = fid_net.load_network(str(inception_pb))
    assert net.label == fid_net.STANDARD
    got = net(images, batch_size=2)  # batches of 2 and 1
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(inception_pb.read_bytes())
    with tf.Graph().as_default() as g:
        tf.compat.v1.import_graph_def(graph_def, name="FID_Inception_Net")
        with tf.compat.v1.Session(graph=g) as sess:
            pool = g.get_tensor_by_name("FID_Inception_Net/pool_3:0")
            expected = [
                sess.run(pool, {"FID_Inception_Net/ExpandDims:0": x[None].astype(np.float32)}).reshape(-1)
                for x in images
            ]
    assert got.shape == (3, FEATURES) and got.dtype == np.float64
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-5, atol=1e-6)
    assert not np.allclose(got[0], got[1])


def test_bad_inception_files_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        fid_net.load_network(str(tmp_path / "missing.pb"))
    (tmp_path / "junk.pb").write_bytes(b"\xff\x00 not a protobuf")
    with pytest.raises(ValueError, match="not a TensorFlow GraphDef|has no"):
        fid_net.load_network(str(tmp_path / "junk.pb"))
    g = tf.Graph()
    with g.as_default():
        tf.constant(1.0, name="pool_3")
    (tmp_path / "other.pb").write_bytes(g.as_graph_def().SerializeToString())
    with pytest.raises(ValueError, match="ExpandDims"):
        fid_net.load_network(str(tmp_path / "other.pb"))
