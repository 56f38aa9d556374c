"""colorize-client: sends a photo to a TF Serving model and writes the colourings it returns.

  colorize-client --input=photo.jpg --output=out/ --server=localhost:8501 --protocol=rest
  colorize-client --input=photo.jpg --output=out/ --server=localhost:8500 --protocol=grpc --num_samples=4

Writes <output>/<photo>_sample<n>.png and <photo>_uncertainty<n>.png.
"""

from __future__ import annotations

import os

from absl import flags

from common import cli

_INPUT = flags.DEFINE_string("input", None, "Image file (jpg, png, ...); colour or gray.")
_OUTPUT = flags.DEFINE_string("output", "out", "Folder for the colourings.")
_SERVER = flags.DEFINE_string("server", "localhost:8501", "host:port (REST 8501, gRPC 8500 by default).")
_PROTOCOL = flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "REST (JSON) or gRPC.")
_MODEL = flags.DEFINE_string("model", "coltran", "The model name TF Serving serves.")
_VERSION = flags.DEFINE_integer("version", None, "A model version; default: the one TF Serving picks.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 2, "Colourings per photo.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "The same seed gives the same colourings.")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "Sampling temperature (0 = argmax).", lower_bound=0.0)
_TOP_K = flags.DEFINE_integer("top_k", 0, "Top-k sampling (0 = all); must be one the export allows.")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]} (flags are --name=value)")
    if not _INPUT.value:
        cli.fail("--input is required (an image file)")
    from common.data.sources import decode_image_file
    from export import client

    try:
        image = decode_image_file(_INPUT.value)
    except ValueError as e:
        cli.fail(f"--input: {e}")
    inputs = client.request_inputs(
        image,
        num_samples=_NUM_SAMPLES.value,
        seed=_SEED.value,
        temperature=_TEMPERATURE.value,
        top_k=_TOP_K.value,
    )
    predict = client.predict_rest if _PROTOCOL.value == "rest" else client.predict_grpc
    try:
        outputs = predict(_SERVER.value, _MODEL.value, inputs, version=_VERSION.value)
    except ImportError as e:
        cli.fail(str(e))
    except (RuntimeError, ValueError, OSError) as e:
        cli.fail(f"--server={_SERVER.value}: {e}")
    stem = os.path.splitext(os.path.basename(_INPUT.value))[0]
    for path in client.save_outputs(outputs, _OUTPUT.value, stem):
        print(path)
    return 0


def run() -> None:
    """Console script colorize-client (also `python -m export.client_main`)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
