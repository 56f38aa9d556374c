"""colorize-export: trained runs -> a SavedModel that TF Serving serves (and .tflite files for phones).

  colorize-export --workdir=runs/coltran_core --workdir=runs/coltran_color_upsampler \
      --workdir=runs/coltran_spatial_upsampler --out=exports [--tflite_dir=exports/tflite]

Writes TF Serving's layout, <out>/<model name>/<version>/ (version: the largest checkpoint step of the
runs, or --version), with EMA weights, every signature of the model's export spec and warm-up requests
in assets.extra/. With --tflite_dir, also <signature>.float32.tflite and <signature>.int8.tflite.
"""

from __future__ import annotations

from absl import flags

from common import cli

_WORKDIR = flags.DEFINE_multi_string(
    "workdir", [], "A colorize-train work directory (repeat for each stage)."
)
_OUT = flags.DEFINE_string("out", None, "Export base folder: writes <out>/<model name>/<version>/.")
_VERSION = flags.DEFINE_integer("version", None, "Version folder; default: the largest checkpoint step.")
_XLA = flags.DEFINE_bool(
    "xla",
    False,
    "Compile the sampling loops with XLA (needs a TF Serving built with XLA; stock binaries: leave off).",
)
_TOP_K = flags.DEFINE_list("top_k", ["0"], "Values the top_k input may take at serving time (0 = all).")
_TFLITE_DIR = flags.DEFINE_string("tflite_dir", "", "Also write .tflite files (float32 and int8) here.")
_EMA = flags.DEFINE_bool("ema", True, "Export the EMA weights (when the run keeps them).")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]} (flags are --name=value)")
    if not _WORKDIR.value:
        cli.fail("--workdir is required (once per trained stage)")
    if not _OUT.value:
        cli.fail("--out is required (the export base folder)")
    try:
        top_k = tuple(int(k) for k in _TOP_K.value)
    except ValueError:
        cli.fail(f"--top_k must be a comma list of integers, got {','.join(_TOP_K.value)!r}")
    if not top_k or min(top_k) < 0:
        cli.fail(f"--top_k values must be >= 0, got {list(top_k)}")
    if _VERSION.value is not None and _VERSION.value < 0:
        cli.fail(f"--version must be >= 0, got {_VERSION.value}")
    from tensorflow.lite.python.convert_phase import ConverterError

    from common.train import TrainError
    from export.export import export_runs
    from export.spec import ExportOptions

    try:
        paths = export_runs(
            _WORKDIR.value,
            _OUT.value,
            version=_VERSION.value,
            use_ema=_EMA.value,
            options=ExportOptions(xla=_XLA.value, top_k_values=top_k),
            tflite_dir=_TFLITE_DIR.value or None,
        )
    except (TrainError, FileNotFoundError, FileExistsError, ValueError, ConverterError, ImportError) as e:
        cli.fail(str(e))
    print(f"SavedModel: {paths['saved_model']}")
    for path in paths["tflite"]:
        print(f"TFLite: {path}")
    return 0


def run() -> None:
    """Console script colorize-export (also `python -m export.export_main`)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
