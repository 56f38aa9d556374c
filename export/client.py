"""A TF Serving client: an image file -> a Predict request -> the response -> image files.

REST (TF Serving's JSON API, https://www.tensorflow.org/tfx/serving/api_rest):
    POST http://HOST:8501/v1/models/<model>[/versions/<v>]:predict
    {"signature_name": "serving_default", "inputs": {"image": [[[[r, g, b], ...]]], "num_samples": 2, ...}}
    -> {"outputs": {"colorizations": [...], "uncertainty": [...]}}
gRPC (the official tensorflow-serving-api protos): PredictionService/Predict on HOST:8500.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import numpy as np

__all__ = [
    "decode_rest_response",
    "predict_grpc",
    "predict_rest",
    "request_inputs",
    "rest_payload",
    "save_outputs",
]


def request_inputs(
    image: np.ndarray, *, num_samples: int, seed: int, temperature: float, top_k: int
) -> dict[str, np.ndarray]:
    """The serving_default inputs for one image uint8 [H, W, 1 or 3] (a batch of one)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    return {
        "image": image[None].astype(np.uint8),
        "num_samples": np.int32(num_samples),
        "seed": np.int32(seed),
        "temperature": np.float32(temperature),
        "top_k": np.int32(top_k),
    }


def rest_payload(inputs: dict[str, np.ndarray], signature: str = "serving_default") -> dict[str, Any]:
    """The JSON body of a :predict request in TF Serving's columnar ("inputs") format."""
    return {"signature_name": signature, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}


def decode_rest_response(body: dict[str, Any]) -> dict[str, np.ndarray]:
    """{"outputs": {name: nested lists}} (or one unnamed output) -> {name: array}."""
    if "error" in body:
        raise RuntimeError(f"TF Serving error: {body['error']}")
    outputs = body.get("outputs")
    if outputs is None:
        raise ValueError(f"REST response has no 'outputs': keys {sorted(body)}")
    if not isinstance(outputs, dict):
        outputs = {"output": outputs}
    return {k: np.asarray(v) for k, v in outputs.items()}


def rest_url(server: str, model: str, version: int | None = None) -> str:
    """http://host:port + model (+ version) -> the :predict URL."""
    base = server if server.startswith(("http://", "https://")) else f"http://{server}"
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")
    return base.rstrip("/") + path + ":predict"


def predict_rest(
    server: str,
    model: str,
    inputs: dict[str, np.ndarray],
    *,
    signature: str = "serving_default",
    version: int | None = None,
    timeout: float = 600.0,
) -> dict[str, np.ndarray]:
    """One Predict call over REST; a server error is raised with the server's message."""
    data = json.dumps(rest_payload(inputs, signature)).encode()
    request = urllib.request.Request(
        rest_url(server, model, version), data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return decode_rest_response(json.loads(response.read()))
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"TF Serving REST {e.code}: {e.read().decode(errors='replace')}") from None


def predict_grpc(
    server: str,
    model: str,
    inputs: dict[str, np.ndarray],
    *,
    signature: str = "serving_default",
    version: int | None = None,
    timeout: float = 600.0,
) -> dict[str, np.ndarray]:
    """One Predict call over gRPC with tensorflow-serving-api's PredictionService."""
    import grpc
    import tensorflow as tf

    from export.warmup import serving_apis

    serving_apis()  # a clear ImportError when tensorflow-serving-api is missing
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    options = [("grpc.max_receive_message_length", 1 << 30), ("grpc.max_send_message_length", 1 << 30)]
    with grpc.insecure_channel(server, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            raise RuntimeError(f"TF Serving gRPC {e.code().name}: {e.details()}") from None
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def save_outputs(outputs: dict[str, np.ndarray], out_dir: str, stem: str) -> list[str]:
    """colorizations [1, N, H, W, 3] -> <stem>_sample<n>.png; uncertainty [1, N, r, r] ->
    <stem>_uncertainty<n>.png (max probability as gray). Returns the written paths."""
    from PIL import Image

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for n, image in enumerate(np.asarray(outputs["colorizations"])[0]):
        paths.append(os.path.join(out_dir, f"{stem}_sample{n}.png"))
        Image.fromarray(image.astype(np.uint8)).save(paths[-1])
    for n, u in enumerate(np.asarray(outputs.get("uncertainty", np.zeros([1, 0])))[0]):
        paths.append(os.path.join(out_dir, f"{stem}_uncertainty{n}.png"))
        Image.fromarray(np.clip(np.round(u * 255), 0, 255).astype(np.uint8)).save(paths[-1])
    return paths
