"""TF Serving warm-up requests: assets.extra/tf_serving_warmup_requests, a TFRecord of PredictionLog
protos (tensorflow-serving-api), replayed by the server at load time so the first user request does not
pay for graph set-up (https://www.tensorflow.org/tfx/serving/saved_model_warmup)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from export.spec import Signature

__all__ = ["read_warmup", "serving_apis", "write_warmup"]


def serving_apis():
    """`tensorflow_serving.apis`, or an ImportError that says how to install it."""
    try:
        from tensorflow_serving import apis
    except ImportError:
        raise ImportError(
            "tensorflow-serving-api is not installed: pip install --no-deps tensorflow-serving-api==2.21.0 "
            "(--no-deps: it requires plain `tensorflow`, a second TensorFlow beside tensorflow-cpu)"
        ) from None
    return apis


def write_warmup(path: str, model_name: str, signatures: Sequence[Signature]) -> None:
    """One Predict request per signature (its `example`) into the TFRecord file `path`."""
    serving_apis()
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for sig in signatures:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=sig.name)
            )
            for name, value in sig.example.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def read_warmup(path: str) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """The warm-up file back as [(model name, signature name, {input: array})]."""
    from tensorflow_serving.apis import prediction_log_pb2

    out = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        out.append((request.model_spec.name, request.model_spec.signature_name, inputs))
    return out
