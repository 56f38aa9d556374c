"""colorize-tflite: colourise a photo with an exported .tflite, as a phone would (no TensorFlow).

  colorize-tflite --model=exports/tflite/colorize_square.int8.tflite --input=photo.jpg --output=out/

Writes <output>/<photo>_sample<n>.png and a contact sheet <output>/<photo>_sheet.png
(gray | samples | uncertainty).
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from common import cli

_MODEL = flags.DEFINE_string("model", None, "A whole-pipeline .tflite (colorize_square.*.tflite).")
_INPUT = flags.DEFINE_string("input", None, "Image file (jpg, png, ...).")
_OUTPUT = flags.DEFINE_string("output", "out", "Folder for the colourings and the contact sheet.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 2, "Colourings per photo.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "The same seed gives the same colourings.")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "Sampling temperature (0 = argmax).", lower_bound=0.0)
_TOP_K = flags.DEFINE_integer("top_k", 0, "Top-k (0 = all; any k, read at run time).", lower_bound=0)
_THREADS = flags.DEFINE_integer("num_threads", None, "CPU threads for the interpreter.")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]} (flags are --name=value)")
    if not _MODEL.value or not _INPUT.value:
        cli.fail("--model and --input are required")
    from PIL import Image

    from common.contact_sheet import contact_sheet, write_png_atomic
    from export.tflite_demo import TFLiteColorizer

    try:
        model = TFLiteColorizer(_MODEL.value, num_threads=_THREADS.value)
        result = model.colorize(
            _INPUT.value,
            num_samples=_NUM_SAMPLES.value,
            seed=_SEED.value,
            temperature=_TEMPERATURE.value,
            top_k=_TOP_K.value,
        )
    except (ValueError, RuntimeError) as e:
        cli.fail(str(e))
    os.makedirs(_OUTPUT.value, exist_ok=True)
    stem = os.path.splitext(os.path.basename(_INPUT.value))[0]
    for n, image in enumerate(result.images):
        path = os.path.join(_OUTPUT.value, f"{stem}_sample{n}.png")
        Image.fromarray(image).save(path)
        print(path)
    row = [result.gray, *result.images]
    labels = ["gray"] + [f"sample {n}" for n in range(len(result.images))]
    if result.uncertainty is not None:
        row += list(np.clip(result.uncertainty, 0.0, 1.0))
        labels += [f"max prob {n}" for n in range(len(result.uncertainty))]
    sheet = os.path.join(_OUTPUT.value, f"{stem}_sheet.png")
    write_png_atomic(contact_sheet([row], labels), sheet)
    print(sheet)
    return 0


def run() -> None:
    """Console script colorize-tflite (also `python -m export.tflite_main`)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
