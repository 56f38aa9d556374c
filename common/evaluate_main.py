"""colorize-evaluate: colourisation models side by side on distribution-level metrics, with plots.

  colorize-evaluate --data=PHOTOS_DIR|TFDS_NAME:SPLIT [--weights=A[,B,...]] --num_images=N --num_samples=S
                    --output=DIR [--inception_weights=classify_image_graph_def.pb] [--prior=prior.npy]

Writes DIR/report.md, DIR/report.json and PNG plots: every model of --weights (`model:path`, or a path any
registered model loads; default: the embedded default models), the gray and global-prior baselines and
the ground truth, on bits/dim, AuC (raw and class-rebalanced), ab-histogram intersection, colourfulness,
MS-SSIM diversity of sample pairs, PSNR of the best sample and FID, each with a 95% bootstrap interval.
Samples are cached in DIR/cache per model and photo: a rerun with more photos or models reuses them.
Distributed: --strategy=mirrored splits the photos over local devices (--num_cpu_devices on a CPU);
with TF_CONFIG each worker samples its share and worker 0 writes the report.
"""

from __future__ import annotations

from absl import flags

from common import cli

_DATA = flags.DEFINE_string("data", None, "A folder of photos, or a prepared TFDS 'name:split'.")
_DATA_DIR = flags.DEFINE_string("data_dir", "", "TFDS data_dir for a TFDS --data.")
_WEIGHTS = flags.DEFINE_string(
    "weights", None, "Comma list of model:path or path; default: the shipped models."
)
_OUTPUT = flags.DEFINE_string("output", "evaluation", "Folder for the report, plots and sample cache.")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 100, "Photos to evaluate on (the first N of --data).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 4, "Colourings per photo and model.")
_SIZE = flags.DEFINE_integer("size", 256, "Evaluation frame: central square resized to SIZE x SIZE.")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling and bootstrap seed.")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "Sampling temperature.")
_TOP_K = flags.DEFINE_integer("top_k", 0, "Sample among the k most likely coarse colours (0 = all).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Photos per model call.")
_PRIOR = flags.DEFINE_string("prior", "", ".npy of the 313 CIC ab-bin probabilities of the training photos.")
_PRIOR_DATA = flags.DEFINE_string("prior_data", "", "Folder of training photos to count the ab prior from.")
_INCEPTION = flags.DEFINE_string(
    "inception_weights",
    "",
    "classify_image_graph_def.pb (standard FID) or a Keras InceptionV3 .h5; none: no FID.",
)
_RESAMPLES = flags.DEFINE_integer("resamples", 1000, "Bootstrap resamples for the intervals.")
_FID_RESAMPLES = flags.DEFINE_integer("fid_resamples", 100, "Bootstrap resamples for FID's interval.")
_PLOTS = flags.DEFINE_bool("plots", True, "Draw the PNG plots (needs matplotlib: the eval extra).")
_STRATEGY = flags.DEFINE_enum(
    "strategy", "default", ["default", "mirrored", "multi_worker"], "Where sampling runs."
)
_NUM_CPU_DEVICES = flags.DEFINE_integer("num_cpu_devices", 0, "Split the CPU into this many devices (tests).")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        cli.fail(f"unexpected arguments {argv[1:]} (the photos are given by --data)", code=2)
    checks = [
        (_DATA.value, "--data is required: a folder of photos or a TFDS 'name:split'"),
        (_NUM_IMAGES.value >= 1, "--num_images must be >= 1"),
        (_NUM_SAMPLES.value >= 1, "--num_samples must be >= 1"),
        (_SIZE.value >= 16, "--size must be >= 16"),
        (_BATCH_SIZE.value >= 1, "--batch_size must be >= 1"),
        (
            _RESAMPLES.value >= 1 and _FID_RESAMPLES.value >= 0,
            "--resamples must be >= 1, --fid_resamples >= 0",
        ),
    ]
    for ok, message in checks:
        if not ok:
            cli.fail(message, code=2)
    from common.evaluate.run import Options, evaluate
    from common.train.strategy import make_strategy

    strategy = None
    if _STRATEGY.value != "default" or _NUM_CPU_DEVICES.value > 1:
        name = "mirrored" if _STRATEGY.value == "multi_worker" else _STRATEGY.value
        strategy = make_strategy(name, num_cpu_devices=_NUM_CPU_DEVICES.value)  # workers: TF_CONFIG shards
    opts = Options(
        data=_DATA.value, output=_OUTPUT.value, weights=_WEIGHTS.value, num_images=_NUM_IMAGES.value,
        num_samples=_NUM_SAMPLES.value, size=_SIZE.value, seed=_SEED.value, temperature=_TEMPERATURE.value,
        top_k=_TOP_K.value, batch_size=_BATCH_SIZE.value, data_dir=_DATA_DIR.value, prior=_PRIOR.value,
        prior_data=_PRIOR_DATA.value, inception_weights=_INCEPTION.value, resamples=_RESAMPLES.value,
        fid_resamples=_FID_RESAMPLES.value, plots=_PLOTS.value,
    )  # fmt: skip
    try:
        report = evaluate(opts, strategy=strategy)
    except (ValueError, FileNotFoundError) as e:
        cli.fail(str(e), code=2)
    if report is not None:
        print(f"{cli.prog_name()}: {report['num_images']} photos -> {opts.output}/report.md")
    return 1 if report and report["problems"] else 0


def run() -> None:
    """Console script colorize-evaluate (also `python -m common.evaluate_main`)."""
    cli.run(main, __name__)


if __name__ == "__main__":
    run()
