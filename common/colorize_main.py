"""colorize: several colourings of each black-and-white photo, at its own size, with its own luminance.

  colorize INPUT... [--output=DIR] [--num_samples=4] [--weights=...]
  colorize old_photos/ scan.tif 'more/**/*.jpg' --output=colorized/

INPUT: files, folders (every image below them) and globs (quoted). For each image NAME it writes
DIR/NAME_sample0.png ... and DIR/NAME_sheet.png (gray | samples | the model's uncertainty). Colour photos
are treated as grayscale: only their luminance is read and kept, their colour is dropped.
--weights: a folder of the three ColTran work directories, an exported SavedModel, or the authors'
checkpoint folder (imported once into ~/.cache/colorize); without it, the models shipped with the package.
Resumable: images whose outputs exist are skipped; files are written atomically; each records its
provenance (model, weights, seeds, temperature, top_k, sample, version) in PNG text / JPEG EXIF.
Seeds: an image's colourings depend on --seed and its output name only (not its batch or --batch_size).
Memory: about 16 bytes per pixel of the largest photo (full-resolution work one sample at a time, in row
strips) plus the model's, which grows with --batch_size (draws per core call), never with --num_samples.
Several devices: --strategy=mirrored colours groups of photos on every local GPU at once (on a CPU,
--num_cpu_devices=N splits it); with TF_CONFIG each worker colours its share of the photos.
Exit code: 0 all done or skipped, 1 some input failed (one line each on stderr), 2 usage error.
"""

from __future__ import annotations

from absl import flags

from common import cli
from common.colorize.protocol import MODELS

_OUTPUT = flags.DEFINE_string("output", "colorized", "Folder for the colourings (made if missing).")
_MODEL = flags.DEFINE_enum(
    "model", "coltran", sorted(MODELS), "Which model colours (ColTran; others as they land)."
)
_WEIGHTS = flags.DEFINE_string(
    "weights",
    None,
    "Work directories folder, exported SavedModel, or the authors' checkpoints; default: the shipped models.",
)
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 4, "Colourings per photo.")
_SEED = flags.DEFINE_integer("seed", 0, "The same seed gives the same colourings of a photo.")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "Sampling temperature; 0 = the most likely colours.")
_TOP_K = flags.DEFINE_integer("top_k", 0, "Sample among the k most likely coarse colours (0 = all).")
_CONTACT_SHEET = flags.DEFINE_bool(
    "contact_sheet", True, "Also write NAME_sheet.png (gray | samples | uncertainty)."
)
_FORMAT = flags.DEFINE_enum("format", "png", ["png", "jpg"], "File format of the colourings.")
_JPEG_QUALITY = flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality (1-100) with --format=jpg.")
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", 8, "Photos read together and (photo, sample) draws per model call; memory grows with it."
)
_MAX_PIXELS = flags.DEFINE_integer(
    "max_pixels", 180_000_000, "Refuse images with more pixels (read from the header: decompression bombs)."
)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Colour again images whose outputs exist (default: skip).")
_STRATEGY = flags.DEFINE_enum(
    "strategy",
    "default",
    ["default", "mirrored"],
    "mirrored: photos spread over every local GPU (or CPU device).",
)
_NUM_CPU_DEVICES = flags.DEFINE_integer("num_cpu_devices", 0, "Split the CPU into this many devices (tests).")


def _check_flags(inputs: list[str]) -> None:
    if not inputs:
        cli.fail("no INPUT given: colorize PHOTO_OR_FOLDER... --output=DIR (see --help)", code=2)
    checks = [
        (_NUM_SAMPLES.value >= 1, "--num_samples must be >= 1"),
        (_BATCH_SIZE.value >= 1, "--batch_size must be >= 1"),
        (_TEMPERATURE.value >= 0, "--temperature must be >= 0"),
        (0 <= _TOP_K.value <= 512, "--top_k must be in [0, 512] (0 = all)"),
        (_MAX_PIXELS.value >= 1, "--max_pixels must be >= 1"),
        (1 <= _JPEG_QUALITY.value <= 100, "--jpeg_quality must be in [1, 100]"),
        (-(2**31) <= _SEED.value < 2**31, "--seed must fit in 32 bits"),
    ]
    for ok, message in checks:
        if not ok:
            cli.fail(message, code=2)


def main(argv: list[str]) -> int:
    _check_flags(argv[1:])
    import tensorflow as tf
    from PIL import Image

    from common.colorize import inputs, runner
    from common.evaluate import distribute

    opts = runner.Options(
        output=_OUTPUT.value,
        num_samples=_NUM_SAMPLES.value,
        seed=_SEED.value,
        temperature=_TEMPERATURE.value,
        top_k=_TOP_K.value,
        contact_sheet=_CONTACT_SHEET.value,
        format=_FORMAT.value,
        batch_size=_BATCH_SIZE.value,
        max_pixels=_MAX_PIXELS.value,
        overwrite=_OVERWRITE.value,
        jpeg_quality=_JPEG_QUALITY.value,
    )
    Image.MAX_IMAGE_PIXELS = opts.max_pixels  # Pillow's own bomb check follows --max_pixels
    found, problems = inputs.collect(argv[1:])
    found = distribute.shard(found, *distribute.worker_shard())  # TF_CONFIG: this worker's share
    devices: list = [None]
    if _STRATEGY.value != "default" or _NUM_CPU_DEVICES.value > 1:
        from common.train.strategy import make_strategy

        devices = distribute.replica_devices(
            make_strategy(_STRATEGY.value, num_cpu_devices=_NUM_CPU_DEVICES.value)
        )
    try:
        replicas = []
        for d in devices:  # a copy per device, its variables there (common/evaluate/models.Row.replicas)
            with tf.device(d):
                replicas.append((d, runner.load_model(_MODEL.value, _WEIGHTS.value)))
    except ValueError as e:  # the model module's WeightsError: what --weights should be
        cli.fail(str(e), code=2)
    summary = runner.run(replicas[0][1], found, problems, opts, prog=cli.prog_name(), replicas=replicas)
    return summary.exit_code


def run() -> None:
    """Console script colorize (also `python -m common.colorize_main`)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
