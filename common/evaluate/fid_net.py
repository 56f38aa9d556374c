"""The Inception network behind `colorize-evaluate`'s FID, from a local file (nothing downloads).

Published colourisation FIDs (ColTran Table 2: 19.37; ColTran sec. 5) come from the TF FID code
(bioinf-jku/TTUR fid.py) and its network: the `inception-2015-12-05` graph, file
`classify_image_graph_def.pb`. That code imports the GraphDef, feeds float images [N, H, W, 3] in [0, 255]
to the tensor `ExpandDims:0` (the graph resizes to 299 and scales them itself) and reads `pool_3:0`
([N, 1, 1, 2048]). `StandardInception` does the same in TF2: the GraphDef imported inside a
tf.compat.v1.wrap_function with `ExpandDims:0` mapped to a batch input, pruned to `pool_3:0`.
A Keras InceptionV3 weights file (.h5, common/fid.py) also works, but its FIDs are NOT comparable to
published ones (different weights and resizing); `load_network` says which network produced the figure.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

INPUT_TENSOR = "ExpandDims:0"  # TTUR fid.py feeds its images here (float, 0..255, any H x W)
POOL_TENSOR = "pool_3:0"  # [N, 1, 1, 2048]
STANDARD = "standard TF FID Inception (inception-2015-12-05, pool_3): comparable to published FIDs"
KERAS = "Keras InceptionV3 (avg pool): NOT comparable to published FIDs"


class StandardInception:
    """classify_image_graph_def.pb -> features: uint8 [N, H, W, 3] -> float64 [N, 2048]."""

    label = STANDARD

    def __init__(self, path: str) -> None:
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(path, "rb") as f:
                graph_def.ParseFromString(f.read())
        except Exception as e:  # a protobuf DecodeError or OSError: the file is not a GraphDef
            raise ValueError(
                f"--inception_weights={path}: not a TensorFlow GraphDef ({type(e).__name__})"
            ) from None
        names = {n.name for n in graph_def.node}
        missing = [t for t in (INPUT_TENSOR, POOL_TENSOR) if t.split(":")[0] not in names]
        if missing:
            raise ValueError(
                f"--inception_weights={path}: the graph has no {missing} (not the TF FID Inception)"
            )

        def imported(images: Any) -> Any:
            tf.compat.v1.import_graph_def(graph_def, input_map={INPUT_TENSOR: images}, name="fid")

        wrapped = tf.compat.v1.wrap_function(imported, [tf.TensorSpec([None, None, None, 3], tf.float32)])
        inputs = wrapped.graph.inputs[0]
        self._fn = wrapped.prune(inputs, wrapped.graph.get_tensor_by_name("fid/" + POOL_TENSOR))

    def __call__(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        import tensorflow as tf

        out = [
            np.asarray(self._fn(tf.constant(images[s : s + batch_size], tf.float32)), np.float64)
            for s in range(0, len(images), batch_size)
        ]
        return np.concatenate(out).reshape(len(images), -1)


class KerasInception:
    """A Keras InceptionV3 no-top weights file (common/fid.py): uint8 [N, H, W, 3] -> float64 [N, 2048]."""

    label = KERAS

    def __init__(self, path: str) -> None:
        from common import fid

        self.model = fid.build_inception(path)

    def __call__(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        from common import fid

        return fid.inception_features(np.asarray(images, np.uint8), self.model, batch_size)


def load_network(path: str) -> StandardInception | KerasInception:
    """A `.pb` GraphDef -> StandardInception; a Keras `.h5` -> KerasInception. ValueError (one line)."""
    if not os.path.isfile(path):
        raise ValueError(
            f"--inception_weights={path}: no such file (classify_image_graph_def.pb from the TF FID "
            "code's inception-2015-12-05.tgz, or a Keras InceptionV3 no-top .h5)"
        )
    if path.endswith(".h5"):
        return KerasInception(path)
    return StandardInception(path)
