"""export/client.py against servers started here on 127.0.0.1: a gRPC server implementing the official
PredictionService (tensorflow-serving-api) on the exported SavedModel, and an HTTP server speaking TF
Serving's REST :predict format; REST payloads checked against the documented format."""

from __future__ import annotations

import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from export import client


def _call(model, signature: str, inputs: dict) -> dict:
    fn = model.signatures[signature]
    specs = fn.structured_input_signature[1]
    return {
        k: v.numpy()
        for k, v in fn(**{k: tf.constant(np.asarray(v), specs[k].dtype) for k, v in inputs.items()}).items()
    }


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model):
        self.model = model

    def Predict(self, request, context):  # noqa: N802 (the proto's name)
        if request.model_spec.name != "coltran":
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request.model_spec.name}"
            )
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        try:
            outputs = _call(self.model, request.model_spec.signature_name or "serving_default", inputs)
        except tf.errors.InvalidArgumentError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for k, v in outputs.items():
            response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
        return response


@pytest.fixture(scope="module")
def model(loaded):
    return loaded  # the exported SavedModel, reloaded (tests/export/conftest.py)


@pytest.fixture(scope="module")
def grpc_server(model):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Servicer(model), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="module")
def rest_server(model):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            try:
                outputs = _call(model, body.get("signature_name", "serving_default"), body["inputs"])
                status, reply = 200, {"outputs": {k: v.tolist() for k, v in outputs.items()}}
            except tf.errors.InvalidArgumentError as e:
                status, reply = 400, {"error": e.message}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


@pytest.fixture(scope="module")
def request_and_expected(model):
    image = np.random.default_rng(8).integers(0, 256, [10, 14, 3], dtype=np.uint8)
    inputs = client.request_inputs(image, num_samples=2, seed=5, temperature=1.0, top_k=0)
    return inputs, _call(model, "serving_default", inputs)


def test_grpc_round_trip(grpc_server, request_and_expected) -> None:
    inputs, expected = request_and_expected
    out = client.predict_grpc(grpc_server, "coltran", inputs)
    np.testing.assert_array_equal(out["colorizations"], expected["colorizations"])
    np.testing.assert_array_equal(out["uncertainty"], expected["uncertainty"])
    assert out["colorizations"].shape == (1, 2, 10, 14, 3)


def test_grpc_bad_request_carries_the_signatures_message(grpc_server, request_and_expected) -> None:
    inputs = {**request_and_expected[0], "temperature": np.float32(-1)}
    with pytest.raises(RuntimeError, match="(?s)INVALID_ARGUMENT.*temperature must be a finite number >= 0"):
        client.predict_grpc(grpc_server, "coltran", inputs)


def test_rest_payload_is_tf_servings_columnar_format(request_and_expected) -> None:
    inputs, _ = request_and_expected
    payload = client.rest_payload(inputs)
    assert set(payload) == {"signature_name", "inputs"} and payload["signature_name"] == "serving_default"
    decoded = json.loads(json.dumps(payload))  # plain JSON: numbers and nested lists only
    assert set(decoded["inputs"]) == {"image", "num_samples", "seed", "temperature", "top_k"}
    assert np.asarray(decoded["inputs"]["image"]).shape == (1, 10, 14, 3)
    assert decoded["inputs"]["num_samples"] == 2 and decoded["inputs"]["temperature"] == 1.0
    assert client.rest_url("localhost:8501", "coltran") == "http://localhost:8501/v1/models/coltran:predict"
    assert client.rest_url("http://h:1", "m", 7) == "http://h:1/v1/models/m/versions/7:predict"
    # The documented response shapes: named outputs, or one unnamed output; and an error body.
    assert client.decode_rest_response({"outputs": {"a": [[1, 2]]}})["a"].shape == (1, 2)
    assert client.decode_rest_response({"outputs": [[1.5]]})["output"].shape == (1, 1)
    with pytest.raises(RuntimeError, match="bad"):
        client.decode_rest_response({"error": "bad"})


def test_rest_round_trip_and_error(rest_server, request_and_expected, tmp_path) -> None:
    address, seen = rest_server
    inputs, expected = request_and_expected
    out = client.predict_rest(address, "coltran", inputs)
    assert seen[-1][0] == "/v1/models/coltran:predict"
    np.testing.assert_array_equal(out["colorizations"], expected["colorizations"])
    np.testing.assert_allclose(out["uncertainty"], expected["uncertainty"], rtol=1e-6)
    paths = client.save_outputs(out, str(tmp_path), "photo")
    assert [p.split("/")[-1] for p in paths] == [
        "photo_sample0.png",
        "photo_sample1.png",
        "photo_uncertainty0.png",
        "photo_uncertainty1.png",
    ]
    np.testing.assert_array_equal(np.asarray(Image.open(paths[1])), expected["colorizations"][0, 1])
    with pytest.raises(RuntimeError, match="400.*num_samples must be"):
        client.predict_rest(address, "coltran", {**inputs, "num_samples": np.int32(0)})
